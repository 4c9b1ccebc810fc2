//! # metamesh-state
//!
//! The world state and the state transition: one secure Merkle Patricia Trie (SM3 or
//! Keccak-256, by the genesis suite) holding every record of every domain, the parameters
//! record, ordered collections beneath it, and `apply_block`, a pure function from state, block
//! environment and verified transactions to receipts (with typed rejection codes and gas) and
//! events.
//!
//! ```text
//! Genesis::apply ──▶ State ◀── apply_block(env, [VerifiedTx]) ──▶ BlockOutcome { receipts, gas }
//!                      │            └─ BlockExecutor: begin · push(tx)… · finish
//!                      │                 └─ domains::{accounts, params, data, storage} through Exec
//!                      └── commit() → TrieCommit (stored by the db) · prove(key)
//! ```
//!
//! No clock, I/O or randomness: the block's time, sealer and randomness come in [`BlockEnv`],
//! storage through the trie's `NodeStore`. Nothing is minted after genesis: rewards come out of
//! pools within their budgets. [`StateError`] is reserved for store failures and a bad
//! genesis; a transaction's faults are [`Rejection`]s with a [`Code`].

mod block;
mod codes;
pub mod domains;
mod events;
mod exec;
mod genesis;
mod keys;
mod params;
mod receipts;
mod state;
mod tx;

pub use block::{
    BlockEnv, BlockError, BlockExecutor, BlockOutcome, TxError, apply_block, params_at,
};
pub use codes::{Code, Rejection};
pub use domains::{
    TxContext,
    accounts::{Account, AccountEvent, Budget, Payout, module_address, pay_from_pool},
    compute::{
        ComputeCounts, ComputeEvent, ComputeResult, Explained, Job, Provider, Task, commitment,
        compute_account, job_id, result_digest,
    },
    data::{Attestation, CidIndex, DataEvent, DataRecord, KeyGrant, KeyGrants, grants_id},
    knowledge::{Algorithm, KnowledgeBase, KnowledgeEvent, Roles, algorithm_id, knowledge_base_id},
    params::{ParamsEvent, Pending},
    storage::{
        Challenge, Deal, Replica, StorageEvent, StorageNode, challenges, deal_id, escrow_account,
        escrow_for,
    },
    zk::{Circuit, Statement, Verdicts, ZkEvent, statement_id},
};
pub use events::Event;
pub use exec::{Exec, Fail, Meter, Outcome};
pub use genesis::{CliqueParams, Genesis, Grant, Pool};
pub use keys::{CollectionId, Record, StateKey};
pub use params::{MAX_BLOCK_BYTES, ParamValue, Params, Weights};
pub use receipts::{Receipt, receipts_root, transactions_root};
pub use state::{State, StateError};
pub use tx::{
    Verdict, VerifiedTx, check_alone, check_tx, check_tx_with, estimate_gas, intrinsic_gas,
    padded_gas,
};
