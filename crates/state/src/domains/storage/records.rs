//! The storage market's records.
//!
//! ```text
//! StorageNode  [capacity, price, committed, stake, bonded, passes, misses]
//! Deal         [owner, cid, size, replicas, price, epoch, start, end, escrow, fee, reserve,
//!               next_due, proof_bytes, rewarded, [replica, …]]
//! replica      [provider, bond, passes, misses, [] | [epoch, offset, deadline]]
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash,
    rlp::{self as prlp, decode_bytes, decode_list, finish_list as done, list},
};

use crate::{Record, StateKey, domains::open};

/// A storage node's offer and record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageNode {
    /// Bytes offered.
    pub capacity: u64,
    /// MMT per GiB (rounded up) per epoch it asks of a deal.
    pub price: Amount,
    /// Bytes held under running deals.
    pub committed: u64,
    /// MMT it keeps locked in the storage module's account…
    pub stake: Amount,
    /// …of which this much is bonded to the replicas it holds.
    pub bonded: Amount,
    /// Challenges answered.
    pub passes: u64,
    /// Challenges missed: its quality score is passes / (passes + misses).
    pub misses: u64,
}

impl Record for StorageNode {
    const WHAT: &'static str = "storage node";
    type Id = Address;

    fn key(id: &Address) -> StateKey {
        StateKey::StorageNode(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.capacity.encode(&mut p);
        self.price.0.encode(&mut p);
        self.committed.encode(&mut p);
        self.stake.0.encode(&mut p);
        self.bonded.0.encode(&mut p);
        self.passes.encode(&mut p);
        self.misses.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let v = StorageNode {
            capacity: u64::decode(&mut p)?,
            price: Amount(u128::decode(&mut p)?),
            committed: u64::decode(&mut p)?,
            stake: Amount(u128::decode(&mut p)?),
            bonded: Amount(u128::decode(&mut p)?),
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
    /// The provider's stake bonded to this copy (slashed in part by each miss).
    pub bond: Amount,
    pub passes: u64,
    pub misses: u64,
    pub challenge: Option<Challenge>,
}

/// A storage deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deal {
    pub owner: Address,
    /// Binary CID of the file.
    pub cid: Vec<u8>,
    /// The file's size as its root block states it (checked when the deal opened).
    pub size: u64,
    pub replicas: u64,
    /// Per replica per challenge passed.
    pub price: Amount,
    /// Blocks between its boundaries: `storageEpoch` when it opened (a deal's terms do not
    /// change under it).
    pub epoch: u64,
    pub start: u64,
    /// The block of the last boundary: the last challenge is judged and the deal ends.
    pub end: u64,
    /// What is still held (in the storage module's account) for payments.
    pub escrow: Amount,
    /// Paid to the sealer of each block that runs one of the deal's boundaries (the chain's
    /// own work for it: `gasDealEpoch` × replicas at the opening transaction's gas price)…
    pub fee: Amount,
    /// …out of this reserve, set aside when the deal opened (also in the module's account).
    pub reserve: Amount,
    /// The block of the next boundary (0 once the deal has ended). Until a first holder takes
    /// it, only the last boundary is scheduled.
    pub next_due: u64,
    /// The largest proof shown for it so far (path and leaf bytes; 0 before the first): what
    /// a challenge to it asks of block space.
    pub proof_bytes: u64,
    /// Whether passed challenges still earn the storage reward: false once two proofs showed
    /// one block at two offsets (the DAG holds fewer bytes than its size).
    pub rewarded: bool,
    pub holders: Vec<Replica>,
}

impl Deal {
    pub fn ended(&self) -> bool {
        self.next_due == 0
    }
}

fn encode_replica(r: &Replica, out: &mut Vec<u8>) {
    let mut p = Vec::new();
    r.provider.0.encode(&mut p);
    r.bond.0.encode(&mut p);
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
    let bond = Amount(u128::decode(&mut p)?);
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
        bond,
        passes,
        misses,
        challenge,
    })
}

impl Record for Deal {
    const WHAT: &'static str = "storage deal";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Deal(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.cid.as_slice().encode(&mut p);
        self.size.encode(&mut p);
        self.replicas.encode(&mut p);
        self.price.0.encode(&mut p);
        self.epoch.encode(&mut p);
        self.start.encode(&mut p);
        self.end.encode(&mut p);
        self.escrow.0.encode(&mut p);
        self.fee.0.encode(&mut p);
        self.reserve.0.encode(&mut p);
        self.next_due.encode(&mut p);
        self.proof_bytes.encode(&mut p);
        self.rewarded.encode(&mut p);
        let mut h = Vec::new();
        for r in &self.holders {
            encode_replica(r, &mut h);
        }
        prlp::encode_list(&h, &mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let owner = Address(Decodable::decode(&mut p)?);
        let cid = decode_bytes(&mut p)?;
        let size = u64::decode(&mut p)?;
        let replicas = u64::decode(&mut p)?;
        let price = Amount(u128::decode(&mut p)?);
        let epoch = u64::decode(&mut p)?;
        let start = u64::decode(&mut p)?;
        let end = u64::decode(&mut p)?;
        let escrow = Amount(u128::decode(&mut p)?);
        let fee = Amount(u128::decode(&mut p)?);
        let reserve = Amount(u128::decode(&mut p)?);
        let next_due = u64::decode(&mut p)?;
        let proof_bytes = u64::decode(&mut p)?;
        let rewarded = bool::decode(&mut p)?;
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
            epoch,
            start,
            end,
            escrow,
            fee,
            reserve,
            next_due,
            proof_bytes,
            rewarded,
            holders,
        })
    }
}
