//! The values stored in the state trie, each an RLP list.
//!
//! ```text
//! Account      [nonce, balance]
//! DataRecord   [owner, block, time, size, cid, title, licence, metadata]
//! Attestation  [owner, block, time, kind, metadata]
//! ```

use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use metamesh_crypto::Address;
use metamesh_primitives::{Amount, WorkKind};

fn list(payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    RlpHeader {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

fn open(bytes: &[u8]) -> alloy_rlp::Result<&[u8]> {
    let mut buf = bytes;
    let header = RlpHeader::decode(&mut buf)?;
    if !header.list || header.payload_length != buf.len() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    Ok(buf)
}

fn bytes(buf: &mut &[u8]) -> alloy_rlp::Result<Vec<u8>> {
    Ok(RlpHeader::decode_bytes(buf, false)?.to_vec())
}

fn text(buf: &mut &[u8]) -> alloy_rlp::Result<String> {
    String::from_utf8(bytes(buf)?).map_err(|_| alloy_rlp::Error::Custom("text is not UTF-8"))
}

fn done(buf: &[u8]) -> alloy_rlp::Result<()> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(alloy_rlp::Error::Custom("extra fields"))
    }
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
