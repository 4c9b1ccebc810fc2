//! The values stored in the state trie, each an RLP list.
//!
//! ```text
//! Account      [nonce, balance]
//! DataRecord   [owner, block, time, size, cid, encrypted, profile, title, licence, metadata]
//! Attestation  [owner, block, time, kind, metadata]
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, WorkKind,
    rlp::{self, decode_bytes as bytes, decode_text as text, finish_list as done},
};

pub(crate) fn list(payload: Vec<u8>) -> Vec<u8> {
    rlp::list(&payload)
}

/// The payload of a value that must be exactly one list.
pub(crate) fn open(raw: &[u8]) -> alloy_rlp::Result<&[u8]> {
    let mut buf = raw;
    let payload = rlp::decode_list(&mut buf)?;
    if !buf.is_empty() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    Ok(payload)
}

/// A balance holder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub nonce: u64,
    pub balance: Amount,
}

impl Account {
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.nonce.encode(&mut p);
        self.balance.0.encode(&mut p);
        list(p)
    }

    pub fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let account = Account {
            nonce: u64::decode(&mut p)?,
            balance: Amount(u128::decode(&mut p)?),
        };
        done(p)?;
        Ok(account)
    }
}

/// A registered dataset: who registered its digest first, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRecord {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub size: u64,
    pub cid: String,
    pub encrypted: bool,
    pub profile: String,
    pub title: String,
    pub licence: String,
    pub metadata: Vec<u8>,
}

impl DataRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.size.encode(&mut p);
        self.cid.as_bytes().encode(&mut p);
        self.encrypted.encode(&mut p);
        self.profile.as_bytes().encode(&mut p);
        self.title.as_bytes().encode(&mut p);
        self.licence.as_bytes().encode(&mut p);
        self.metadata.as_slice().encode(&mut p);
        list(p)
    }

    pub fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = DataRecord {
            owner: Address(Decodable::decode(&mut p)?),
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            size: u64::decode(&mut p)?,
            cid: text(&mut p)?,
            encrypted: bool::decode(&mut p)?,
            profile: text(&mut p)?,
            title: text(&mut p)?,
            licence: text(&mut p)?,
            metadata: bytes(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// An attested work: the proof of priority for a paper, patent, result, dataset or program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub kind: WorkKind,
    pub metadata: Vec<u8>,
}

impl Attestation {
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        (self.kind as u8).encode(&mut p);
        self.metadata.as_slice().encode(&mut p);
        list(p)
    }

    pub fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Attestation {
            owner: Address(Decodable::decode(&mut p)?),
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            kind: WorkKind::from_u8(u8::decode(&mut p)?)
                .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
            metadata: bytes(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}
