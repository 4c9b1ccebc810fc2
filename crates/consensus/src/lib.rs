//! # metamesh-consensus
//!
//! Clique (EIP-225) Proof-of-Authority as a pure state machine: header rules, signer snapshots
//! and voting, the sealing side, and fork choice with EIP-3436's tie breaks. Hardened where
//! Clique is known to fail: an empty signer set is never created, proposals can be withdrawn,
//! and equal-difficulty heads always resolve the same way.
//!
//! ```text
//! header ──verify_standalone──▶ verify_header ──snapshot(parent)──▶ verify_seal
//!                                    │                 ▲
//!                                    │   Snapshot::apply(headers)  (votes, recents, signers)
//!                                    ▼                 │
//!                              ChainReader      SnapshotStore (every 1024 blocks)
//! sealing: Proposals::choose ──▶ Clique::prepare ──▶ Clique::seal ──▶ out_of_turn_wait
//! ```
//!
//! No clock, I/O or randomness inside: headers and stored snapshots come through the
//! [`ChainReader`] and [`SnapshotStore`] traits, the time and random numbers are arguments.
//! Errors are [`CliqueError`], named as geth names them.

mod engine;
mod error;
mod fork_choice;
pub mod memory;
mod proposals;
pub mod replay;
mod snapshot;

pub use engine::{
    CHECKPOINT_INTERVAL, ChainReader, Clique, CliqueConfig, SnapshotStore, checkpoint_extra,
    checkpoint_signers, out_of_turn_wait,
};
pub use error::CliqueError;
pub use fork_choice::{ForkCandidate, compare};
pub use proposals::Proposals;
pub use snapshot::{Snapshot, Tally, Vote, recover_signer};
