//! Transactions: a signed envelope around one domain action, paying for its gas.
//!
//! ```text
//! unsigned  = rlp([chain_id, nonce, gas_price, gas_limit, action])      signing hash = H(unsigned)
//! signed    = rlp([chain_id, nonce, gas_price, gas_limit, action, signature])   tx hash = H(signed)
//! ```
//! The sender pays `gas used × gas_price` (at most `gas_limit × gas_price`) to the sealer.
//! Actions and their type bytes: [`crate::action`].

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{SecretKey, Signature};

use crate::{
    Action, Amount, Hash, Suite,
    rlp::{
        CodecError, decode_bytes as bytes, decode_list as open_list, encode_list as list,
        finish_list as finish,
    },
};

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub chain_id: u64,
    pub nonce: u64,
    /// MMT (in 10⁻¹⁸ units) per unit of gas, paid to the block's sealer.
    pub gas_price: Amount,
    /// The most gas the transaction may use; its sender must hold `gas_limit × gas_price`.
    pub gas_limit: u64,
    pub action: Action,
}

impl Transaction {
    fn fields(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.chain_id.encode(&mut p);
        self.nonce.encode(&mut p);
        self.gas_price.0.encode(&mut p);
        self.gas_limit.encode(&mut p);
        self.action.encode(&mut p);
        p
    }

    /// The hash the sender signs: `H(rlp([chain_id, nonce, gas_price, gas_limit, action]))`.
    pub fn signing_hash(&self, suite: Suite) -> Hash {
        let mut out = Vec::new();
        list(&self.fields(), &mut out);
        suite.hash(&out)
    }

    /// The most the sender can pay: `gas_limit × gas_price`, `None` on overflow.
    pub fn max_fee(&self) -> Option<Amount> {
        self.gas_price
            .0
            .checked_mul(u128::from(self.gas_limit))
            .map(Amount)
    }

    pub fn sign(self, key: &SecretKey) -> Result<SignedTransaction, metamesh_crypto::CryptoError> {
        let signature = key.sign_hash(&self.signing_hash(key.suite()))?;
        Ok(SignedTransaction {
            tx: self,
            signature,
        })
    }
}

/// A transaction with its signature in the chain's suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signature: Signature,
}

impl SignedTransaction {
    pub fn to_rlp(&self) -> Vec<u8> {
        let mut p = self.tx.fields();
        self.signature.as_bytes().encode(&mut p);
        let mut out = Vec::new();
        list(&p, &mut out);
        out
    }

    /// Decodes one transaction spanning all of `raw`, with a signature of `suite`.
    pub fn decode(raw: &[u8], suite: Suite) -> Result<Self, CodecError> {
        let mut buf = raw;
        let mut p = open_list(&mut buf)?;
        let tx = Transaction {
            chain_id: u64::decode(&mut p)?,
            nonce: u64::decode(&mut p)?,
            gas_price: Amount(u128::decode(&mut p)?),
            gas_limit: u64::decode(&mut p)?,
            action: Action::decode(&mut p)?,
        };
        let signature = Signature::from_bytes(suite, &bytes(&mut p)?)
            .map_err(|_| CodecError::Rlp(alloy_rlp::Error::Custom("malformed signature")))?;
        finish(p)?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()));
        }
        Ok(SignedTransaction { tx, signature })
    }

    /// `H(rlp(signed transaction))`.
    pub fn hash(&self, suite: Suite) -> Hash {
        suite.hash(&self.to_rlp())
    }

    /// Who signed: checks the signature over the signing hash.
    pub fn sender(&self) -> Result<crate::Address, metamesh_crypto::CryptoError> {
        let suite = self.signature.suite();
        self.signature
            .recover_hash_signer(&self.tx.signing_hash(suite))
            .map(|k| k.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::strategy::action;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn signed_transactions_round_trip(eth in any::<bool>(), chain_id in any::<u64>(), nonce in any::<u64>(), price in any::<u128>(), limit in any::<u64>(), action in action()) {
            let suite = if eth { Suite::Eth } else { Suite::Sm };
            let key = SecretKey::from_bytes(suite, &[5; 32]).unwrap();
            let signed = Transaction { chain_id, nonce, gas_price: Amount(price), gas_limit: limit, action }.sign(&key).unwrap();
            let raw = signed.to_rlp();
            let back = SignedTransaction::decode(&raw, suite).unwrap();
            prop_assert_eq!(&back, &signed);
            prop_assert_eq!(back.sender().unwrap(), key.public_key().address());
        }

        #[test]
        fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = SignedTransaction::decode(&raw, Suite::Sm);
        }
    }

    #[test]
    fn unknown_action_types_are_named() {
        for ty in [0x01u8, 0x11, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x70, 0xff] {
            let mut p = Vec::new();
            ty.encode(&mut p);
            let mut raw = Vec::new();
            list(&p, &mut raw);
            assert_eq!(
                Action::decode(&mut raw.as_slice()),
                Err(alloy_rlp::Error::Custom("unknown action type")),
                "type {ty:#x}"
            );
        }
    }

    #[test]
    fn max_fee_is_the_product_or_none() {
        let tx = |price, limit| Transaction {
            chain_id: 1,
            nonce: 0,
            gas_price: Amount(price),
            gas_limit: limit,
            action: crate::AccountAction::Transfer {
                to: crate::Address([1; 20]),
                amount: Amount(1),
            }
            .into(),
        };
        assert_eq!(tx(3, 7).max_fee(), Some(Amount(21)));
        assert_eq!(tx(u128::MAX, 2).max_fee(), None);
    }
}
