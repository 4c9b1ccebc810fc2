//! The block header: Clique's fields in MetaMesh's own RLP layout.
//!
//! ```text
//! rlp([parent_hash, coinbase, state_root, transactions_root, receipts_root,
//!      number, gas_limit, gas_used, timestamp, extra, difficulty, nonce])
//! extra = vanity (32) ‖ signers (20 × N, checkpoint blocks only) ‖ seal (97 sm | 65 eth)
//! seal  = suite signature over seal_hash = H(rlp(header with the seal cut from extra))
//! hash  = H(rlp(header))
//! ```

use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};

use crate::{Address, Hash, Suite, rlp::CodecError};

/// Bytes of free-form vanity at the start of `extra`.
pub const EXTRA_VANITY: usize = 32;

/// A Clique vote to add the coinbase; the all-zero nonce votes to drop it.
pub const NONCE_AUTH: [u8; 8] = [0xff; 8];
pub const NONCE_DROP: [u8; 8] = [0; 8];

/// In-turn and out-of-turn difficulties.
pub const DIFF_IN_TURN: u64 = 2;
pub const DIFF_NO_TURN: u64 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub parent_hash: Hash,
    /// Clique: the address voted on (zero when not voting).
    pub coinbase: Address,
    pub state_root: Hash,
    pub transactions_root: Hash,
    pub receipts_root: Hash,
    pub number: u64,
    /// The most gas the block's transactions may use: the chain parameter `blockGasLimit`.
    pub gas_limit: u64,
    /// The gas its transactions used.
    pub gas_used: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    pub extra: Vec<u8>,
    pub difficulty: u64,
    /// Clique: the vote (`NONCE_AUTH` or `NONCE_DROP`).
    pub nonce: [u8; 8],
}

impl Header {
    fn fields_length(&self, extra: &[u8]) -> usize {
        self.parent_hash.length()
            + self.coinbase.0.length()
            + self.state_root.length()
            + self.transactions_root.length()
            + self.receipts_root.length()
            + self.number.length()
            + self.gas_limit.length()
            + self.gas_used.length()
            + self.timestamp.length()
            + extra.length()
            + self.difficulty.length()
            + self.nonce.length()
    }

    fn encode_with_extra(&self, extra: &[u8], out: &mut dyn alloy_rlp::BufMut) {
        RlpHeader {
            list: true,
            payload_length: self.fields_length(extra),
        }
        .encode(out);
        self.parent_hash.encode(out);
        self.coinbase.0.encode(out);
        self.state_root.encode(out);
        self.transactions_root.encode(out);
        self.receipts_root.encode(out);
        self.number.encode(out);
        self.gas_limit.encode(out);
        self.gas_used.encode(out);
        self.timestamp.encode(out);
        extra.encode(out);
        self.difficulty.encode(out);
        self.nonce.encode(out);
    }

    /// The RLP of the whole header.
    pub fn to_rlp(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    /// Decodes a header that must span all of `bytes`.
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut buf = bytes;
        let header = Header::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()));
        }
        Ok(header)
    }

    /// The block hash: the suite hash of the full RLP.
    pub fn hash(&self, suite: Suite) -> Hash {
        suite.hash(&self.to_rlp())
    }

    /// The hash a Clique signer signs: the header's RLP with the seal cut from `extra`.
    /// `None` when `extra` is too short to hold a seal.
    pub fn seal_hash(&self, suite: Suite) -> Option<Hash> {
        let cut = self.extra.len().checked_sub(suite.signature_len())?;
        let mut out = Vec::with_capacity(self.length());
        self.encode_with_extra(&self.extra[..cut], &mut out);
        Some(suite.hash(&out))
    }

    /// The seal at the end of `extra`, if it is long enough.
    pub fn seal(&self, suite: Suite) -> Option<&[u8]> {
        let cut = self.extra.len().checked_sub(suite.signature_len())?;
        Some(&self.extra[cut..])
    }
}

impl Encodable for Header {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.encode_with_extra(&self.extra, out);
    }

    fn length(&self) -> usize {
        let payload = self.fields_length(&self.extra);
        alloy_rlp::length_of_length(payload) + payload
    }
}

impl Decodable for Header {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = RlpHeader::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        if buf.len() < header.payload_length {
            return Err(alloy_rlp::Error::InputTooShort);
        }
        let (mut payload, rest) = buf.split_at(header.payload_length);
        let decoded = Header {
            parent_hash: Decodable::decode(&mut payload)?,
            coinbase: Address(Decodable::decode(&mut payload)?),
            state_root: Decodable::decode(&mut payload)?,
            transactions_root: Decodable::decode(&mut payload)?,
            receipts_root: Decodable::decode(&mut payload)?,
            number: Decodable::decode(&mut payload)?,
            gas_limit: Decodable::decode(&mut payload)?,
            gas_used: Decodable::decode(&mut payload)?,
            timestamp: Decodable::decode(&mut payload)?,
            extra: RlpHeader::decode_bytes(&mut payload, false)?.to_vec(),
            difficulty: Decodable::decode(&mut payload)?,
            nonce: Decodable::decode(&mut payload)?,
        };
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("a header has 12 fields"));
        }
        *buf = rest;
        Ok(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header_strategy() -> impl Strategy<Value = Header> {
        (
            any::<[u8; 32]>(),
            any::<[u8; 20]>(),
            any::<u64>(),
            any::<u64>(),
            prop::collection::vec(any::<u8>(), 0..200),
            any::<u64>(),
            any::<[u8; 8]>(),
            any::<(u64, u64)>(),
        )
            .prop_map(
                |(
                    parent,
                    coinbase,
                    number,
                    timestamp,
                    extra,
                    difficulty,
                    nonce,
                    (gas_limit, gas_used),
                )| Header {
                    parent_hash: parent,
                    coinbase: Address(coinbase),
                    state_root: [1; 32],
                    transactions_root: [2; 32],
                    receipts_root: [3; 32],
                    number,
                    gas_limit,
                    gas_used,
                    timestamp,
                    extra,
                    difficulty,
                    nonce,
                },
            )
    }

    proptest! {
        #[test]
        fn headers_round_trip(h in header_strategy()) {
            prop_assert_eq!(Header::decode_exact(&h.to_rlp()).unwrap(), h);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Header::decode_exact(&bytes);
        }
    }

    #[test]
    fn seal_hash_ignores_the_seal_only() {
        let mut h = Header {
            extra: vec![7; EXTRA_VANITY + 65],
            ..Header::default()
        };
        let before = h.seal_hash(Suite::Eth).unwrap();
        let last = h.extra.len() - 1;
        h.extra[last] = 0;
        assert_eq!(h.seal_hash(Suite::Eth).unwrap(), before);
        assert_ne!(h.hash(Suite::Eth), before);
        h.extra[0] = 0;
        assert_ne!(h.seal_hash(Suite::Eth).unwrap(), before);
        assert_eq!(Header::default().seal_hash(Suite::Sm), None);
    }

    #[test]
    fn trailing_and_truncated_bytes_are_refused() {
        let mut bytes = Header::default().to_rlp();
        bytes.push(0);
        assert!(Header::decode_exact(&bytes).is_err());
        bytes.truncate(bytes.len() - 3);
        assert!(Header::decode_exact(&bytes).is_err());
    }
}
