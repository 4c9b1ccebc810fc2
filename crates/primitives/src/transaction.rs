//! Transactions: a signed envelope around an extensible action, and receipts with typed events.
//!
//! ```text
//! unsigned  = rlp([chain_id, nonce, fee, action])        signing hash = H(unsigned)
//! signed    = rlp([chain_id, nonce, fee, action, signature])   tx hash = H(signed)
//! action    = rlp([type, …fields])   0 Transfer [to, amount]
//!                                    1 RegisterData [digest, size, cid, title, licence, metadata]
//!                                    2 Attest [digest, kind, metadata]
//! ```
//! New domains add action types; an unknown type is a decoding error that names it.

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{SecretKey, Signature};

use crate::{
    Address, Amount, Hash, Suite,
    rlp::{
        CodecError, decode_bytes as bytes, decode_list as open_list, decode_text as text,
        encode_list as list, finish_list as finish,
    },
};

/// What kind of work an attestation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkKind {
    Paper = 0,
    Patent = 1,
    Result = 2,
    Dataset = 3,
    Program = 4,
}

impl WorkKind {
    pub const ALL: [WorkKind; 5] = [
        WorkKind::Paper,
        WorkKind::Patent,
        WorkKind::Result,
        WorkKind::Dataset,
        WorkKind::Program,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            WorkKind::Paper => "paper",
            WorkKind::Patent => "patent",
            WorkKind::Result => "result",
            WorkKind::Dataset => "dataset",
            WorkKind::Program => "program",
        }
    }

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }
}

impl std::str::FromStr for WorkKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown kind `{s}` (paper, patent, result, dataset or program)")
            })
    }
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Transfer {
        to: Address,
        amount: Amount,
    },
    /// Registers a dataset by the digest of its content (first registration wins).
    RegisterData {
        digest: Hash,
        size: u64,
        /// IPFS CID, empty when the data is not (yet) in the content store.
        cid: String,
        title: String,
        licence: String,
        metadata: Vec<u8>,
    },
    /// Attests a work (paper, patent, result, dataset, program) by its digest.
    Attest {
        digest: Hash,
        kind: WorkKind,
        metadata: Vec<u8>,
    },
}

impl Action {
    pub const TRANSFER: u8 = 0;
    pub const REGISTER_DATA: u8 = 1;
    pub const ATTEST: u8 = 2;

    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::new();
        match self {
            Action::Transfer { to, amount } => {
                Self::TRANSFER.encode(&mut p);
                to.0.encode(&mut p);
                amount.0.encode(&mut p);
            }
            Action::RegisterData {
                digest,
                size,
                cid,
                title,
                licence,
                metadata,
            } => {
                Self::REGISTER_DATA.encode(&mut p);
                digest.encode(&mut p);
                size.encode(&mut p);
                cid.as_bytes().encode(&mut p);
                title.as_bytes().encode(&mut p);
                licence.as_bytes().encode(&mut p);
                metadata.as_slice().encode(&mut p);
            }
            Action::Attest {
                digest,
                kind,
                metadata,
            } => {
                Self::ATTEST.encode(&mut p);
                digest.encode(&mut p);
                (*kind as u8).encode(&mut p);
                metadata.as_slice().encode(&mut p);
            }
        }
        p
    }
}

impl Encodable for Action {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        list(&self.payload(), out);
    }
}

impl Decodable for Action {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open_list(buf)?;
        let action = match u8::decode(&mut p)? {
            Self::TRANSFER => Action::Transfer {
                to: Address(Decodable::decode(&mut p)?),
                amount: Amount(u128::decode(&mut p)?),
            },
            Self::REGISTER_DATA => Action::RegisterData {
                digest: Decodable::decode(&mut p)?,
                size: u64::decode(&mut p)?,
                cid: text(&mut p)?,
                title: text(&mut p)?,
                licence: text(&mut p)?,
                metadata: bytes(&mut p)?,
            },
            Self::ATTEST => Action::Attest {
                digest: Decodable::decode(&mut p)?,
                kind: WorkKind::from_u8(u8::decode(&mut p)?)
                    .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
                metadata: bytes(&mut p)?,
            },
            _ => return Err(alloy_rlp::Error::Custom("unknown action type")),
        };
        finish(p)?;
        Ok(action)
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub chain_id: u64,
    pub nonce: u64,
    /// Paid to the block's sealer.
    pub fee: Amount,
    pub action: Action,
}

impl Transaction {
    fn fields(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.chain_id.encode(&mut p);
        self.nonce.encode(&mut p);
        self.fee.0.encode(&mut p);
        self.action.encode(&mut p);
        p
    }

    /// The hash the sender signs: `H(rlp([chain_id, nonce, fee, action]))`.
    pub fn signing_hash(&self, suite: Suite) -> Hash {
        let mut out = Vec::new();
        list(&self.fields(), &mut out);
        suite.hash(&out)
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
            fee: Amount(u128::decode(&mut p)?),
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
    pub fn sender(&self) -> Result<Address, metamesh_crypto::CryptoError> {
        let suite = self.signature.suite();
        self.signature
            .recover_hash_signer(&self.tx.signing_hash(suite))
            .map(|k| k.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (any::<[u8; 20]>(), any::<u128>()).prop_map(|(to, a)| Action::Transfer {
                to: Address(to),
                amount: Amount(a)
            }),
            (
                any::<[u8; 32]>(),
                any::<u64>(),
                ".{0,20}",
                ".{0,20}",
                ".{0,8}",
                prop::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(digest, size, cid, title, licence, metadata)| {
                    Action::RegisterData {
                        digest,
                        size,
                        cid,
                        title,
                        licence,
                        metadata,
                    }
                }),
            (
                any::<[u8; 32]>(),
                0u8..5,
                prop::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(digest, k, metadata)| {
                    Action::Attest {
                        digest,
                        kind: WorkKind::from_u8(k).unwrap(),
                        metadata,
                    }
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn signed_transactions_round_trip(eth in any::<bool>(), chain_id in any::<u64>(), nonce in any::<u64>(), fee in any::<u128>(), action in action()) {
            let suite = if eth { Suite::Eth } else { Suite::Sm };
            let key = SecretKey::from_bytes(suite, &[5; 32]).unwrap();
            let signed = Transaction { chain_id, nonce, fee: Amount(fee), action }.sign(&key).unwrap();
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
        let mut p = Vec::new();
        9u8.encode(&mut p);
        let mut raw = Vec::new();
        list(&p, &mut raw);
        assert_eq!(
            Action::decode(&mut raw.as_slice()),
            Err(alloy_rlp::Error::Custom("unknown action type"))
        );
    }
}
