//! # metamesh-primitives
//!
//! The chain's data types and their encodings, with no I/O: today the RLP codec that every
//! header, transaction, receipt and trie node will use, and the suite-independent names for
//! hashes and addresses. Blocks, transactions and receipts join as the chain is built.
//!
//! * [`rlp`] — alloy-rlp re-exported, strict exact decoding, and [`rlp::RlpItem`], a schema-free
//!   RLP tree for tools and tests.
//! * [`Header`] — the block header with Clique's fields, its hash and seal hash.
//! * [`Address`], [`Suite`], [`Hash`] — re-exported from `metamesh-crypto`, so chain code
//!   names them from here.
//!
//! ```
//! use metamesh_primitives::rlp::RlpItem;
//! let item = RlpItem::List(vec![RlpItem::Bytes(b"cat".to_vec()), RlpItem::Bytes(b"dog".to_vec())]);
//! let bytes = item.to_rlp();
//! assert_eq!(hex::encode(&bytes), "c88363617483646f67");
//! assert_eq!(RlpItem::decode_exact(&bytes).unwrap(), item);
//! ```

pub mod action;
pub mod amount;
pub mod block;
pub mod header;
pub mod rlp;
pub mod transaction;

pub use action::{
    AccountAction, Action, CircuitSpec, ComputeAction, DataAction, KnowledgeAction, ParamsAction,
    StorageAction, WorkKind, ZkAction,
};
pub use action::{compute, knowledge};
pub use amount::{Amount, TOTAL_SUPPLY};
pub use block::Block;
pub use header::Header;
pub use transaction::{SignedTransaction, Transaction};

pub use metamesh_crypto::{Address, Suite};

/// A 32-byte suite hash (SM3 or Keccak-256).
pub type Hash = metamesh_crypto::Digest32;
