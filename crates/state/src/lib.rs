//! # metamesh-state
//!
//! The world state and the state transition: accounts, data registrations and attestations in
//! one secure Merkle Patricia Trie (SM3 or Keccak-256, by the genesis suite), the genesis that
//! creates the whole MMT supply in five pools, and `apply_block`, a pure function from state,
//! block environment and transactions to receipts and events.
//!
//! ```text
//! Genesis::apply ──▶ State (trie) ◀── apply_block(env, [VerifiedTx]) ──▶ BlockOutcome
//!                        │                                             receipts · events
//!                        └── commit() → TrieCommit (stored by the db) · prove(key)
//! ```
//!
//! No clock, I/O or randomness: the block's time and sealer come in `BlockEnv`, storage through
//! the trie's `NodeStore`. A rejected transaction changes nothing and gets a receipt with its
//! reason; `StateError` is reserved for store failures and a bad genesis.

mod encoding;
mod genesis;
mod keys;
mod records;
mod state;
mod storage;
mod storage_records;
mod transition;

pub use encoding::{receipts_root, transactions_root};
pub use genesis::{CliqueParams, Genesis, Grant, Params, Pool};
pub use keys::StateKey;
pub use records::{Account, Attestation, DataRecord};
pub use state::{State, StateError};
pub use storage::{deal_id, escrow_for, grants_key};
pub use storage_records::{
    Challenge, Deal, DealIndex, KeyGrant, KeyGrants, Provider, Record, Replica,
};
pub use transition::{BlockEnv, BlockOutcome, Event, Receipt, VerifiedTx, apply_block, precheck};
