//! A block: its header and its transactions.
//!
//! ```text
//! body  = rlp([signed_tx, …])
//! block = rlp([header, body])
//! ```

use alloy_rlp::Decodable;

use crate::{
    Hash, Header, SignedTransaction, Suite,
    rlp::{CodecError, encode_list},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    pub transactions: Vec<SignedTransaction>,
}

fn open_list<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], CodecError> {
    Ok(crate::rlp::decode_list(buf)?)
}

impl Block {
    pub fn hash(&self, suite: Suite) -> Hash {
        self.header.hash(suite)
    }

    /// The body: the RLP list of the signed transactions.
    pub fn body_rlp(&self) -> Vec<u8> {
        let payload: Vec<u8> = self.transactions.iter().flat_map(|t| t.to_rlp()).collect();
        crate::rlp::list(&payload)
    }

    /// Reads a body back into transactions.
    pub fn decode_body(raw: &[u8], suite: Suite) -> Result<Vec<SignedTransaction>, CodecError> {
        let mut buf = raw;
        let mut payload = open_list(&mut buf)?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()));
        }
        let mut txs = Vec::new();
        while !payload.is_empty() {
            let start = payload;
            open_list(&mut payload)?;
            let item = &start[..start.len() - payload.len()];
            txs.push(SignedTransaction::decode(item, suite)?);
        }
        Ok(txs)
    }

    pub fn to_rlp(&self) -> Vec<u8> {
        let mut payload = self.header.to_rlp();
        payload.extend(self.body_rlp());
        let mut out = Vec::new();
        encode_list(&payload, &mut out);
        out
    }

    pub fn decode(raw: &[u8], suite: Suite) -> Result<Self, CodecError> {
        let mut buf = raw;
        let mut payload = open_list(&mut buf)?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()));
        }
        let header = Header::decode(&mut payload)?;
        let transactions = Self::decode_body(payload, suite)?;
        Ok(Block {
            header,
            transactions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountAction, Address, Amount, Transaction};
    use metamesh_crypto::SecretKey;

    #[test]
    fn blocks_round_trip_and_refuse_garbage() {
        let key = SecretKey::from_bytes(Suite::Sm, &[3; 32]).unwrap();
        let tx = |nonce| {
            Transaction {
                chain_id: 1,
                nonce,
                gas_price: Amount(1),
                gas_limit: 30_000,
                action: AccountAction::Transfer {
                    to: Address([1; 20]),
                    amount: Amount(2),
                }
                .into(),
            }
            .sign(&key)
            .unwrap()
        };
        let block = Block {
            header: Header {
                number: 4,
                extra: vec![1; 40],
                ..Header::default()
            },
            transactions: vec![tx(0), tx(1)],
        };
        let raw = block.to_rlp();
        assert_eq!(Block::decode(&raw, Suite::Sm).unwrap(), block);
        assert_eq!(
            Block::decode_body(&block.body_rlp(), Suite::Sm).unwrap(),
            block.transactions
        );
        assert!(Block::decode(&raw[..raw.len() - 1], Suite::Sm).is_err());
        assert!(Block::decode(&[0xc0], Suite::Sm).is_err());
        let empty = Block {
            header: Header::default(),
            transactions: vec![],
        };
        assert_eq!(Block::decode(&empty.to_rlp(), Suite::Eth).unwrap(), empty);
    }
}
