//! # metamesh-trie
//!
//! Ethereum's Merkle Patricia Trie, generic over its hash so one implementation serves the
//! `sm` suite (SM3) and the `eth` suite (Keccak-256), with EIP-1186-shaped proofs.
//!
//! ```text
//! insert/remove ──▶ nodes in memory ──commit()──▶ TrieCommit { root, nodes, removed }
//!       ▲                                                 │ the owner stores `nodes`
//!       └──── NodeStore::get(hash) ◀── MemoryStore | db::TrieDb (redb) ◀┘
//! prove(key) ──▶ [RLP node, …] ──▶ verify_proof(root, key, proof) ──▶ value | absent
//! ```
//!
//! * [`Trie`] — get, insert, remove, ordered iteration from a start key, batched commit.
//! * [`SecureTrie`] — the same over hashed keys (world state).
//! * [`verify_proof`] — a light client's check against a root alone.
//! * [`NodeStore`] — the seam to storage; [`MemoryStore`] for tests and tools.
//!
//! Layout (Yellow Paper appendix D): hex-prefix nibble paths, RLP leaf/extension/branch nodes,
//! nodes whose encoding is shorter than 32 bytes inlined in their parent, root = hash of the
//! root node's RLP, empty root = hash of RLP(""). The code is pure: no clock, I/O or
//! randomness; storage comes in through [`NodeStore`].
//!
//! Errors: [`TrieError`] (a missing or malformed stored node, a store failure, proving with
//! uncommitted changes) and [`ProofError`].
//!
//! ```
//! use metamesh_trie::{Keccak256, MemoryStore, Trie, verify_proof};
//! let store = MemoryStore::new();
//! let mut trie = Trie::<Keccak256, _>::new(&store);
//! trie.insert(b"doe", b"reindeer").unwrap();
//! trie.insert(b"dog", b"puppy").unwrap();
//! let commit = trie.commit();
//! store.apply(&commit);
//! let proof = trie.prove(b"dog").unwrap();
//! assert_eq!(verify_proof::<Keccak256>(&commit.root, b"dog", &proof).unwrap(), Some(b"puppy".to_vec()));
//! assert_eq!(verify_proof::<Keccak256>(&commit.root, b"cat", &proof).unwrap(), None);
//! ```

mod hasher;
mod iter;
pub mod nibbles;
mod node;
mod proof;
mod secure;
mod store;
mod trie;

pub use hasher::{H256, Keccak256, Sm3, TrieHasher};
pub use iter::TrieIter;
pub use proof::{ProofError, verify_proof, verify_proof_value};
pub use secure::{SecureTrie, secure_key, verify_secure_proof};
pub use store::{MemoryStore, NodeStore, StoreError};
pub use trie::{Trie, TrieCommit};

/// What can go wrong reading or changing a trie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrieError {
    #[error("trie node 0x{} is not in the store", hex::encode(.0))]
    MissingNode(H256),
    #[error("malformed trie node: {0}")]
    Decode(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the trie has uncommitted changes; commit before proving")]
    Uncommitted,
}
