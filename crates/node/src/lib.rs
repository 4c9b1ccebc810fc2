//! # metamesh-node
//!
//! Wiring of one node.
//!
//! * [`Chain`] — import with full validation (Clique header rules, transactions root,
//!   execution through the state transition, state and receipts roots), one atomic write of
//!   block, state, receipts and indexes, fork choice and reorgs; block building for a signer.
//!   Synchronous, and the time is an argument.
//! * [`TxPool`] — pending transactions, verified once.
//! * [`NodeService`] — chain, pool and proposals together; the sealing loop (the clock and the
//!   out-of-turn randomness enter here); what the RPC server calls.
//!
//! ```text
//! Block ──import(now)──▶ verify header ─▶ tx root ─▶ apply_block ─▶ state/receipts roots
//!                                                        │
//!                     ChainDb::insert_block (one txn) ◀──┘ ─▶ fork choice: head or side
//! ```

mod chain;
mod content;
pub mod events;
mod handler;
mod p2p;
mod pool;
pub mod protocol;
mod service;
mod storage_agent;

pub use chain::{Built, Chain, ImportError, Imported, MAX_BLOCK_BODY_BYTES, Tip};
pub use content::{
    Content, Fetched, MAX_ANSWER, MAX_WANT, decode_blocks, decode_want, encode_blocks, encode_want,
};
pub use events::{
    BlockEvent, ChainView, Cursor, Delivered, EventFollower, MAX_BLOCKS_PER_POLL, block_events,
};
pub use handler::{Action, Handler, HandlerConfig, Verdict};
pub use p2p::{run_network, topic_names};
pub use pool::{PoolConfig, PoolError, QUEUED_BLOCKS, TxPool};
pub use service::{
    Announcement, MAX_RAW_TRANSACTION_BYTES, NetControl, NetView, NodeService, OwnTx, PeerView,
    SealPlan, SubmitError, unix_now,
};
pub use storage_agent::run_storage_agent;
