//! The storage market's records, each an RLP list.
//!
//! ```text
//! Provider   [capacity, price, committed, passes, misses]
//! Deal       [owner, cid, size, replicas, price, start, end, escrow, [replica, …]]
//! replica    [provider, passes, misses, [] | [epoch, offset, deadline]]
//! KeyGrants  [[granter, block, recipient, wrapped], …]
//! DealIndex  [deal id, …]
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash,
    rlp::{
        self as prlp, decode_bytes as bytes, decode_list, decode_text as text, finish_list as done,
    },
};

use crate::records::{list, open};

/// A value stored in the state trie.
pub trait Record: Sized {
    const WHAT: &'static str;
    fn encode(&self) -> Vec<u8>;
    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self>;
}

/// A storage node's offer and record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provider {
    /// Bytes offered.
    pub capacity: u64,
    /// MMT per GiB (rounded up) per epoch it asks of a deal.
    pub price: Amount,
    /// Bytes held under running deals.
    pub committed: u64,
    /// Challenges answered.
    pub passes: u64,
    /// Challenges missed: its quality score is passes / (passes + misses).
    pub misses: u64,
}

impl Record for Provider {
    const WHAT: &'static str = "storage provider";

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.capacity.encode(&mut p);
        self.price.0.encode(&mut p);
        self.committed.encode(&mut p);
        self.passes.encode(&mut p);
        self.misses.encode(&mut p);
        list(p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let v = Provider {
            capacity: u64::decode(&mut p)?,
            price: Amount(u128::decode(&mut p)?),
            committed: u64::decode(&mut p)?,
            passes: u64::decode(&mut p)?,
            misses: u64::decode(&mut p)?,
        };
        done(p)?;
        Ok(v)
    }
}

/// An open challenge: the byte of the file whose leaf must be shown by `deadline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub epoch: u64,
    pub offset: u64,
    pub deadline: u64,
}

/// One storage node's copy under a deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub provider: Address,
    pub passes: u64,
    pub misses: u64,
    pub challenge: Option<Challenge>,
}

/// A storage deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deal {
    pub owner: Address,
    pub cid: String,
    /// Stored bytes of the file (the ciphertext's, when encrypted).
    pub size: u64,
    pub replicas: u64,
    /// Per replica per epoch.
    pub price: Amount,
    pub start: u64,
    /// The deal ends at the first epoch boundary at or after this block.
    pub end: u64,
    /// What is still held for payments; the rest goes back to the owner at the end.
    pub escrow: Amount,
    pub holders: Vec<Replica>,
}

fn encode_replica(r: &Replica, out: &mut Vec<u8>) {
    let mut p = Vec::new();
    r.provider.0.encode(&mut p);
    r.passes.encode(&mut p);
    r.misses.encode(&mut p);
    let mut c = Vec::new();
    if let Some(ch) = r.challenge {
        ch.epoch.encode(&mut c);
        ch.offset.encode(&mut c);
        ch.deadline.encode(&mut c);
    }
    prlp::encode_list(&c, &mut p);
    prlp::encode_list(&p, out);
}

fn decode_replica(buf: &mut &[u8]) -> alloy_rlp::Result<Replica> {
    let mut p = decode_list(buf)?;
    let provider = Address(Decodable::decode(&mut p)?);
    let passes = u64::decode(&mut p)?;
    let misses = u64::decode(&mut p)?;
    let mut c = decode_list(&mut p)?;
    let challenge = if c.is_empty() {
        None
    } else {
        let ch = Challenge {
            epoch: u64::decode(&mut c)?,
            offset: u64::decode(&mut c)?,
            deadline: u64::decode(&mut c)?,
        };
        done(c)?;
        Some(ch)
    };
    done(p)?;
    Ok(Replica {
        provider,
        passes,
        misses,
        challenge,
    })
}

impl Record for Deal {
    const WHAT: &'static str = "storage deal";

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.cid.as_bytes().encode(&mut p);
        self.size.encode(&mut p);
        self.replicas.encode(&mut p);
        self.price.0.encode(&mut p);
        self.start.encode(&mut p);
        self.end.encode(&mut p);
        self.escrow.0.encode(&mut p);
        let mut h = Vec::new();
        for r in &self.holders {
            encode_replica(r, &mut h);
        }
        prlp::encode_list(&h, &mut p);
        list(p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let owner = Address(Decodable::decode(&mut p)?);
        let cid = text(&mut p)?;
        let size = u64::decode(&mut p)?;
        let replicas = u64::decode(&mut p)?;
        let price = Amount(u128::decode(&mut p)?);
        let start = u64::decode(&mut p)?;
        let end = u64::decode(&mut p)?;
        let escrow = Amount(u128::decode(&mut p)?);
        let mut h = decode_list(&mut p)?;
        let mut holders = Vec::new();
        while !h.is_empty() {
            holders.push(decode_replica(&mut h)?);
        }
        done(p)?;
        Ok(Deal {
            owner,
            cid,
            size,
            replicas,
            price,
            start,
            end,
            escrow,
            holders,
        })
    }
}

/// A data key wrapped for one recipient by one granter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub granter: Address,
    pub block: u64,
    pub recipient: Vec<u8>,
    pub wrapped: Vec<u8>,
}

/// The grants for one (CID, recipient): at most [`KeyGrants::MAX`], one per granter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyGrants(pub Vec<KeyGrant>);

impl KeyGrants {
    pub const MAX: usize = 16;
}

impl Record for KeyGrants {
    const WHAT: &'static str = "key grants";

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        for g in &self.0 {
            let mut e = Vec::new();
            g.granter.0.encode(&mut e);
            g.block.encode(&mut e);
            g.recipient.as_slice().encode(&mut e);
            g.wrapped.as_slice().encode(&mut e);
            prlp::encode_list(&e, &mut p);
        }
        list(p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let mut out = Vec::new();
        while !p.is_empty() {
            let mut e = decode_list(&mut p)?;
            out.push(KeyGrant {
                granter: Address(Decodable::decode(&mut e)?),
                block: u64::decode(&mut e)?,
                recipient: bytes(&mut e)?,
                wrapped: bytes(&mut e)?,
            });
            done(e)?;
        }
        Ok(KeyGrants(out))
    }
}

/// The ids of running deals, in creation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DealIndex(pub Vec<Hash>);

impl DealIndex {
    /// Bounds the work of an epoch boundary.
    pub const MAX: usize = 1024;
}

impl Record for DealIndex {
    const WHAT: &'static str = "deal index";

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        for id in &self.0 {
            id.encode(&mut p);
        }
        list(p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let mut out = Vec::new();
        while !p.is_empty() {
            out.push(Hash::decode(&mut p)?);
        }
        Ok(DealIndex(out))
    }
}
