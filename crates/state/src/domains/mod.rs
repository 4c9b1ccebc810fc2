//! The domains of the state transition, each one module behind the same shape:
//!
//! * `apply(ex, tx, action)` — the rules of one of its actions, reading and writing through
//!   [`Exec`] (every read, write, hash and event metered; everything dropped if it fails);
//! * `begin_block(ex)` / `end_block(ex)` — its work at block boundaries, if any;
//! * its records (each a [`crate::Record`] tied to its key), its events and their type bytes.
//!
//! Matches over actions and events are exhaustive, so a new action cannot compile without its
//! rules. `crates/state/README.md` lists the steps to add a domain.

pub mod accounts;
pub mod compute;
pub mod data;
pub mod knowledge;
pub mod params;
pub mod storage;
pub mod zk;

use metamesh_crypto::Address;
use metamesh_primitives::{Action, Amount, Hash};
use metamesh_trie::NodeStore;

use crate::{Exec, Outcome, Params};

/// The transaction an action runs in.
#[derive(Clone, Copy, Debug)]
pub struct TxContext {
    pub sender: Address,
    pub nonce: u64,
    pub hash: Hash,
    pub gas_price: Amount,
}

/// The payload of a value that must be exactly one RLP list.
pub(crate) fn open(raw: &[u8]) -> alloy_rlp::Result<&[u8]> {
    let mut buf = raw;
    let payload = metamesh_primitives::rlp::decode_list(&mut buf)?;
    if !buf.is_empty() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    Ok(payload)
}

/// Runs one action under its domain's rules.
pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &Action,
) -> Outcome {
    match action {
        Action::Accounts(a) => accounts::apply(ex, tx, a),
        Action::Params(a) => params::apply(ex, tx, a),
        Action::Data(a) => data::apply(ex, tx, a),
        Action::Storage(a) => storage::apply(ex, tx, a),
        Action::Compute(a) => compute::apply(ex, tx, a),
        Action::Zk(a) => zk::apply(ex, tx, a),
        Action::Knowledge(a) => knowledge::apply(ex, tx, a),
    }
}

/// The largest signed transaction the action may travel in.
pub(crate) fn max_tx_bytes(params: &Params, action: &Action) -> u64 {
    match action {
        Action::Storage(metamesh_primitives::StorageAction::Prove { .. }) => {
            params.max_proof_tx_bytes
        }
        Action::Accounts(_)
        | Action::Params(_)
        | Action::Data(_)
        | Action::Storage(_)
        | Action::Compute(_)
        | Action::Zk(_)
        | Action::Knowledge(_) => params.max_tx_bytes,
    }
}

/// Every domain's work at the start of a block, after the parameters are settled.
pub(crate) fn begin_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    storage::begin_block(ex)
}

/// Every domain's work at the end of a block.
pub(crate) fn end_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    compute::end_block(ex)?;
    accounts::end_block(ex)
}
