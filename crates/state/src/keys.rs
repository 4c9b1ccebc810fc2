//! Where each kind of record lives in the state trie, and the tie between a record's type and
//! its key.
//!
//! A record key is a one-byte tag followed by the record's id; the trie stores it under the
//! secure path `H(key)`. Tags follow the domains' ranges (0x0_ chain, 0x1_ accounts, 0x2_ data,
//! 0x3_ storage, 0x4_ compute, 0x5_ zk, 0x6_ knowledge). Every domain record sits under the one state root, so a header alone proves
//! any of them.

use metamesh_crypto::Address;
use metamesh_primitives::Hash;

use crate::Payout;

/// An ordered collection in state: a plain (unhashed) trie of its own, whose root is the
/// record [`StateKey::Collection`], so entries iterate in key order and prove under the state
/// root. Entry keys are the collection's own (see each variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollectionId {
    /// Registered storage nodes: address (20) → `01`.
    StorageNodes,
    /// Running deals: deal id (32) → `01`.
    RunningDeals,
    /// Deal boundaries to process: due block (8, big-endian) ‖ deal id (32) → `01`.
    DealSchedule,
    /// Blocks storage proofs have shown, per file across all its deals: `H(root CID)` (32) ‖
    /// binary block CID → the offset where the block starts (8, big-endian); and `H(root CID)`
    /// alone → `01` once a proof showed a block at a second offset (no deal on the file earns
    /// storage rewards after that).
    FileBlocks,
    /// Registered computing providers: address (20) → `01`.
    Providers,
    /// Tasks waiting for a placement, oldest first: block queued (8) ‖ job (32) ‖ task (8) → `01`.
    ComputeQueue,
    /// Tasks with a replica deadline or review window: due block (8) ‖ job (32) ‖ task (8) → `01`.
    ComputeDue,
    /// Registered circuits: circuit id (32) → `01`.
    Circuits,
    /// Registered BMCI algorithms: algorithm id (32) → `01`.
    Algorithms,
    /// Registered knowledge bases: id (32) → kind (1).
    KnowledgeBases,
}

impl CollectionId {
    pub const ALL: [CollectionId; 10] = [
        CollectionId::StorageNodes,
        CollectionId::RunningDeals,
        CollectionId::DealSchedule,
        CollectionId::FileBlocks,
        CollectionId::Providers,
        CollectionId::ComputeQueue,
        CollectionId::ComputeDue,
        CollectionId::Circuits,
        CollectionId::Algorithms,
        CollectionId::KnowledgeBases,
    ];

    pub fn byte(self) -> u8 {
        match self {
            CollectionId::StorageNodes => 0x30,
            CollectionId::RunningDeals => 0x31,
            CollectionId::DealSchedule => 0x32,
            CollectionId::FileBlocks => 0x33,
            CollectionId::Providers => 0x40,
            CollectionId::ComputeQueue => 0x41,
            CollectionId::ComputeDue => 0x42,
            CollectionId::Circuits => 0x50,
            CollectionId::Algorithms => 0x60,
            CollectionId::KnowledgeBases => 0x61,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.byte() == b)
    }

    pub fn name(self) -> &'static str {
        match self {
            CollectionId::StorageNodes => "storageNodes",
            CollectionId::RunningDeals => "runningDeals",
            CollectionId::DealSchedule => "dealSchedule",
            CollectionId::FileBlocks => "fileBlocks",
            CollectionId::Providers => "providers",
            CollectionId::ComputeQueue => "computeQueue",
            CollectionId::ComputeDue => "computeDue",
            CollectionId::Circuits => "circuits",
            CollectionId::Algorithms => "algorithms",
            CollectionId::KnowledgeBases => "knowledgeBases",
        }
    }
}

/// A key of the state trie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKey {
    /// `0x00` → [`crate::Params`].
    Params,
    /// `0x01` → [`crate::domains::params::Pending`], a change waiting for its block.
    PendingParams,
    /// `0x02 ‖ payout (1)` → [`crate::domains::accounts::Budget`], what one purpose (sealing,
    /// storage) has been paid this reward epoch.
    Budget(Payout),
    /// `0x03 ‖ collection (1)` → the collection's 32-byte root.
    Collection(CollectionId),
    /// `0x10 ‖ address (20)` → [`crate::Account`].
    Account(Address),
    /// `0x20 ‖ content digest (32)` → [`crate::DataRecord`].
    Data(Hash),
    /// `0x21 ‖ work digest (32)` → [`crate::Attestation`].
    Attestation(Hash),
    /// `0x22 ‖ H(cid ‖ recipient address)` → [`crate::KeyGrants`].
    KeyGrants(Hash),
    /// `0x23 ‖ H(cid)` → the digest registered with that CID.
    DataByCid(Hash),
    /// `0x30 ‖ address (20)` → [`crate::StorageNode`].
    StorageNode(Address),
    /// `0x31 ‖ deal id (32)` → [`crate::Deal`].
    Deal(Hash),
    /// `0x04` → [`crate::domains::compute::ComputeCounts`].
    ComputeCounts,
    /// `0x40 ‖ address (20)` → [`crate::Provider`].
    Provider(Address),
    /// `0x41 ‖ job id (32)` → [`crate::Job`].
    Job(Hash),
    /// `0x42 ‖ job id (32) ‖ task index (8)` → [`crate::Task`].
    Task(Hash, u64),
    /// `0x43 ‖ job id (32) ‖ task index (8)` → [`crate::ComputeResult`].
    ComputeResult(Hash, u64),
    /// `0x50 ‖ circuit id (32)` → [`crate::domains::zk::Circuit`].
    Circuit(Hash),
    /// `0x51 ‖ H(circuit ‖ inputs) (32)` → [`crate::domains::zk::Statement`].
    Statement(Hash),
    /// `0x60 ‖ address (20)` → [`crate::domains::knowledge::Roles`].
    Roles(Address),
    /// `0x61 ‖ algorithm id (32)` → [`crate::domains::knowledge::Algorithm`].
    Algorithm(Hash),
    /// `0x62 ‖ knowledge base id (32)` → [`crate::domains::knowledge::KnowledgeBase`].
    KnowledgeBase(Hash),
}

impl StateKey {
    pub const PARAMS: u8 = 0x00;
    pub const PENDING_PARAMS: u8 = 0x01;
    pub const BUDGET: u8 = 0x02;
    pub const COLLECTION: u8 = 0x03;
    pub const COMPUTE_COUNTS: u8 = 0x04;
    pub const ACCOUNT: u8 = 0x10;
    pub const DATA: u8 = 0x20;
    pub const ATTESTATION: u8 = 0x21;
    pub const KEY_GRANTS: u8 = 0x22;
    pub const DATA_BY_CID: u8 = 0x23;
    pub const STORAGE_NODE: u8 = 0x30;
    pub const DEAL: u8 = 0x31;
    pub const PROVIDER: u8 = 0x40;
    pub const JOB: u8 = 0x41;
    pub const TASK: u8 = 0x42;
    pub const COMPUTE_RESULT: u8 = 0x43;
    pub const CIRCUIT: u8 = 0x50;
    pub const STATEMENT: u8 = 0x51;
    pub const ROLES: u8 = 0x60;
    pub const ALGORITHM: u8 = 0x61;
    pub const KNOWLEDGE_BASE: u8 = 0x62;

    pub fn to_bytes(&self) -> Vec<u8> {
        let (tag, id): (u8, Vec<u8>) = match self {
            StateKey::Params => (Self::PARAMS, vec![]),
            StateKey::PendingParams => (Self::PENDING_PARAMS, vec![]),
            StateKey::Budget(p) => (Self::BUDGET, vec![p.byte()]),
            StateKey::Collection(c) => (Self::COLLECTION, vec![c.byte()]),
            StateKey::ComputeCounts => (Self::COMPUTE_COUNTS, vec![]),
            StateKey::Account(a) => (Self::ACCOUNT, a.0.to_vec()),
            StateKey::Data(d) => (Self::DATA, d.to_vec()),
            StateKey::Attestation(d) => (Self::ATTESTATION, d.to_vec()),
            StateKey::KeyGrants(h) => (Self::KEY_GRANTS, h.to_vec()),
            StateKey::DataByCid(h) => (Self::DATA_BY_CID, h.to_vec()),
            StateKey::StorageNode(a) => (Self::STORAGE_NODE, a.0.to_vec()),
            StateKey::Deal(h) => (Self::DEAL, h.to_vec()),
            StateKey::Provider(a) => (Self::PROVIDER, a.0.to_vec()),
            StateKey::Job(h) => (Self::JOB, h.to_vec()),
            StateKey::Task(h, i) => (Self::TASK, [&h[..], &i.to_be_bytes()].concat()),
            StateKey::ComputeResult(h, i) => {
                (Self::COMPUTE_RESULT, [&h[..], &i.to_be_bytes()].concat())
            }
            StateKey::Circuit(h) => (Self::CIRCUIT, h.to_vec()),
            StateKey::Statement(h) => (Self::STATEMENT, h.to_vec()),
            StateKey::Roles(a) => (Self::ROLES, a.0.to_vec()),
            StateKey::Algorithm(h) => (Self::ALGORITHM, h.to_vec()),
            StateKey::KnowledgeBase(h) => (Self::KNOWLEDGE_BASE, h.to_vec()),
        };
        let mut out = Vec::with_capacity(1 + id.len());
        out.push(tag);
        out.extend_from_slice(&id);
        out
    }

    /// Reads a key: a 20-byte value is an account address, otherwise tag ‖ id.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let address = |b: &[u8]| Address(b.try_into().expect("20 bytes"));
        let hash = |b: &[u8]| -> Hash { b.try_into().expect("32 bytes") };
        let index = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
        if bytes.len() == 20 {
            return Ok(StateKey::Account(address(bytes)));
        }
        let Some((&tag, id)) = bytes.split_first() else {
            return Err("an empty state key".into());
        };
        let key = match (tag, id.len()) {
            (Self::PARAMS, 0) => Some(StateKey::Params),
            (Self::PENDING_PARAMS, 0) => Some(StateKey::PendingParams),
            (Self::BUDGET, 1) => Payout::from_byte(id[0]).map(StateKey::Budget),
            (Self::COLLECTION, 1) => CollectionId::from_byte(id[0]).map(StateKey::Collection),
            (Self::COMPUTE_COUNTS, 0) => Some(StateKey::ComputeCounts),
            (Self::ACCOUNT, 20) => Some(StateKey::Account(address(id))),
            (Self::DATA, 32) => Some(StateKey::Data(hash(id))),
            (Self::ATTESTATION, 32) => Some(StateKey::Attestation(hash(id))),
            (Self::KEY_GRANTS, 32) => Some(StateKey::KeyGrants(hash(id))),
            (Self::DATA_BY_CID, 32) => Some(StateKey::DataByCid(hash(id))),
            (Self::STORAGE_NODE, 20) => Some(StateKey::StorageNode(address(id))),
            (Self::DEAL, 32) => Some(StateKey::Deal(hash(id))),
            (Self::PROVIDER, 20) => Some(StateKey::Provider(address(id))),
            (Self::JOB, 32) => Some(StateKey::Job(hash(id))),
            (Self::TASK, 40) => Some(StateKey::Task(hash(&id[..32]), index(&id[32..]))),
            (Self::COMPUTE_RESULT, 40) => {
                Some(StateKey::ComputeResult(hash(&id[..32]), index(&id[32..])))
            }
            (Self::CIRCUIT, 32) => Some(StateKey::Circuit(hash(id))),
            (Self::STATEMENT, 32) => Some(StateKey::Statement(hash(id))),
            (Self::ROLES, 20) => Some(StateKey::Roles(address(id))),
            (Self::ALGORITHM, 32) => Some(StateKey::Algorithm(hash(id))),
            (Self::KNOWLEDGE_BASE, 32) => Some(StateKey::KnowledgeBase(hash(id))),
            _ => None,
        };
        key.ok_or_else(|| {
            format!(
                "not a state key: expected an address (20 bytes) or tag ‖ id (see docs/FORMATS.md \"State\"), got {} bytes starting 0x{tag:02x}",
                bytes.len()
            )
        })
    }
}

/// A value stored in the state trie, tied to the one kind of key it lives under.
pub trait Record: Sized {
    /// What it is, for error messages.
    const WHAT: &'static str;
    /// What names one record of this type (an address, a digest, `()` for singletons).
    type Id;
    fn key(id: &Self::Id) -> StateKey;
    fn encode(&self) -> Vec<u8>;
    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back() {
        let keys = [
            StateKey::Params,
            StateKey::PendingParams,
            StateKey::Budget(Payout::Storage),
            StateKey::Collection(CollectionId::DealSchedule),
            StateKey::Account(Address([1; 20])),
            StateKey::Data([2; 32]),
            StateKey::Attestation([3; 32]),
            StateKey::KeyGrants([4; 32]),
            StateKey::DataByCid([5; 32]),
            StateKey::StorageNode(Address([6; 20])),
            StateKey::Deal([7; 32]),
            StateKey::ComputeCounts,
            StateKey::Provider(Address([8; 20])),
            StateKey::Job([9; 32]),
            StateKey::Task([10; 32], 3),
            StateKey::ComputeResult([11; 32], 4),
            StateKey::Roles(Address([12; 20])),
            StateKey::Algorithm([13; 32]),
            StateKey::KnowledgeBase([14; 32]),
        ];
        for k in keys {
            assert_eq!(StateKey::from_bytes(&k.to_bytes()), Ok(k));
        }
        assert_eq!(
            StateKey::from_bytes(&[1; 20]),
            Ok(StateKey::Account(Address([1; 20])))
        );
        assert!(StateKey::from_bytes(&[]).is_err());
        assert!(StateKey::from_bytes(&[0x03, 0x99]).is_err());
        assert!(StateKey::from_bytes(&[0x31, 1, 2]).is_err());
    }
}
