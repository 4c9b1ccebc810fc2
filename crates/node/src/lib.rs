//! # metamesh-node
//!
//! Wiring of one node. Today the [`Chain`]: import with full validation (Clique header rules,
//! transactions root, execution through the state transition, state and receipts roots), one
//! atomic write of block, state, receipts and indexes, fork choice and reorgs; and block
//! building for a signer. It takes the time as an argument; the service loop, transaction pool
//! and RPC that drive it come next.
//!
//! ```text
//! Block ──import(now)──▶ verify header ─▶ tx root ─▶ apply_block ─▶ state/receipts roots
//!                                                        │
//!                     ChainDb::insert_block (one txn) ◀──┘ ─▶ fork choice: head or side
//! ```

mod chain;
mod pool;
mod service;

pub use chain::{Built, Chain, ImportError, Imported};
pub use pool::{PoolConfig, PoolError, TxPool};
pub use service::{NodeService, SealPlan, SubmitError, unix_now};
