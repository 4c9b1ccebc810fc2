//! # metamesh-db
//!
//! The node's embedded database (redb). Today it holds the state trie's nodes; headers,
//! bodies, receipts and content blocks join it as the chain grows. Tables, no logic: what a
//! value means is decided by the crates that write it.
//!
//! ```text
//! Trie::commit() ─▶ TrieCommit ─▶ TrieDb::commit(version, …) ─▶ one redb write transaction:
//!                                   nodes + reference counts + journal + root, then pruning
//! Trie::get/prove ─▶ NodeStore::get ─▶ LRU cache ─▶ redb read transaction
//! ```
//!
//! * [`ChainDb`] — the node's database: headers, bodies, receipts, canonical index, transaction
//!   locations, Clique snapshots and the state trie, one write transaction per block; the
//!   canonical index follows reorgs; state of losing forks and of old canonical blocks is
//!   pruned by reference counts.
//! * [`TrieDb`] — trie nodes keyed by hash with a bounded cache; commits are atomic and
//!   durable (redb fsyncs before `commit` returns), so a crash leaves the last committed root
//!   whole; roots older than the pruning depth are pruned by reference counts.
//!
//! Errors: [`DbError`].

mod chain_db;
mod memory;
mod node_cache;
mod node_journal;
mod trie_db;

pub use chain_db::{BlockInfo, ChainDb, ChainDbConfig, HeadChange, StoredBlock};
pub use memory::MemoryBackend;
pub use trie_db::{TrieDb, TrieDbConfig};

/// What can go wrong in the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Redb(#[from] redb::Error),
    #[error("version {got} cannot follow version {latest}: commits are numbered consecutively")]
    VersionOutOfOrder { latest: u64, got: u64 },
    #[error(
        "the commit starts from root 0x{} but version {latest} has root 0x{}: commits must build on the newest version",
        hex::encode(.parent), hex::encode(.latest_root)
    )]
    NotOnLatest {
        latest: u64,
        latest_root: [u8; 32],
        parent: [u8; 32],
    },
    #[error("parent block 0x{} is not stored", hex::encode(.0))]
    UnknownParent([u8; 32]),
    #[error("database is damaged: {0}")]
    Corrupt(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for DbError {
            fn from(e: $t) -> Self {
                DbError::Redb(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
