//! A block's run: `apply_block(state, env, txs)`, pure and deterministic, and the
//! [`BlockExecutor`] it is made of, which a block builder drives one candidate at a time.
//!
//! ```text
//! begin:  pending parameters take effect ─▶ header gas limit checked ─▶ domains' begin hooks
//! push:   per transaction: validity (else the block is invalid) ─▶ run ─▶ receipt
//! finish: domains' end hooks (the sealing reward) ─▶ the system receipt ─▶ collection roots
//! ```

use metamesh_crypto::Address;
use metamesh_primitives::Hash;
use metamesh_trie::NodeStore;

use crate::{
    Event, Exec, Fail, Meter, Outcome, Params, Receipt, Rejection, State, StateError, StateKey,
    VerifiedTx, domains, tx,
};

/// The block a transition runs in: everything it may know beyond the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    pub chain_id: u64,
    pub number: u64,
    pub timestamp: u64,
    pub parent_hash: Hash,
    pub sealer: Address,
    /// The header's gas limit (it must be the `blockGasLimit` parameter).
    pub gas_limit: u64,
    /// The randomness of storage challenges: the suite hash of the seals of the last
    /// ⌊N/2⌋+1 blocks, which Clique makes come from distinct signers (docs/FORMATS.md says
    /// what that does and does not stop).
    pub randomness: Hash,
}

/// Why a block cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("the header's gas limit {header} is not the blockGasLimit parameter {params}")]
    GasLimit { header: u64, params: u64 },
    #[error("transaction {index} is invalid: {rejection}")]
    Invalid { index: usize, rejection: Rejection },
}

/// Why one transaction could not be added to a block being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxError {
    /// It cannot be in this block; nothing changed.
    Invalid(Rejection),
    State(StateError),
}

impl From<StateError> for TxError {
    fn from(e: StateError) -> Self {
        TxError::State(e)
    }
}

/// What a block did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One per transaction, then the system receipt (block-level events) last.
    pub receipts: Vec<Receipt>,
    /// Gas its transactions used (the header's `gasUsed`).
    pub gas_used: u64,
}

impl BlockOutcome {
    /// The block-level events.
    pub fn system_events(&self) -> &[Event] {
        self.receipts.last().map_or(&[], |r| &r.events)
    }

    /// The transactions' receipts (the system receipt left out).
    pub fn tx_receipts(&self) -> &[Receipt] {
        &self.receipts[..self.receipts.len().saturating_sub(1)]
    }
}

/// The parameters block `number` runs with: the stored ones, or a pending change due by then.
pub fn params_at<S: NodeStore + Clone>(
    state: &State<S>,
    number: u64,
) -> Result<Params, StateError> {
    if let Some(pending) = state.load::<domains::params::Pending>(&())?
        && pending.block <= number
    {
        return Ok(pending.params);
    }
    state.load::<Params>(&())?.ok_or_else(|| {
        State::<S>::corrupt("parameters", &StateKey::Params, "the record is missing")
    })
}

/// Runs a block hook with no gas limit and applies what it wrote.
fn hook<S: NodeStore + Clone, T>(
    state: &mut State<S>,
    env: &BlockEnv,
    params: &Params,
    events: &mut Vec<Event>,
    f: impl FnOnce(&mut Exec<'_, S>) -> Outcome<T>,
) -> Result<T, StateError> {
    let (result, finished) = {
        let mut ex = Exec::new(state, env, params, Meter::unlimited());
        let result = f(&mut ex);
        (result, ex.finish())
    };
    let value = match result {
        Ok(v) => v,
        Err(Fail::State(e)) => return Err(e),
        // The chain's own bookkeeping refused itself: a broken invariant, not a user's fault.
        Err(Fail::Reject(r)) => {
            return Err(State::<S>::corrupt(
                "block hook",
                &StateKey::Params,
                r.message(),
            ));
        }
    };
    state.apply(finished.writes)?;
    events.extend(finished.events);
    Ok(value)
}

/// A block being run (see the module docs).
pub struct BlockExecutor<'s, S: NodeStore + Clone> {
    state: &'s mut State<S>,
    env: &'s BlockEnv,
    params: Params,
    receipts: Vec<Receipt>,
    system: Vec<Event>,
    gas_used: u64,
    verdicts: domains::zk::Verdicts,
}

impl<'s, S: NodeStore + Clone> BlockExecutor<'s, S> {
    /// Settles the block's parameters and runs the domains' begin hooks.
    pub fn begin(state: &'s mut State<S>, env: &'s BlockEnv) -> Result<Self, BlockError> {
        let stored = state.load::<Params>(&())?.ok_or_else(|| {
            State::<S>::corrupt("parameters", &StateKey::Params, "the record is missing")
        })?;
        let mut system = Vec::new();
        let changed = hook(
            state,
            env,
            &stored,
            &mut system,
            domains::params::begin_block,
        )?;
        let params = changed.unwrap_or(stored);
        if env.gas_limit != params.block_gas_limit {
            return Err(BlockError::GasLimit {
                header: env.gas_limit,
                params: params.block_gas_limit,
            });
        }
        hook(state, env, &params, &mut system, domains::begin_block)?;
        Ok(BlockExecutor {
            state,
            env,
            params,
            receipts: Vec::new(),
            system,
            gas_used: 0,
            verdicts: Default::default(),
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn gas_left(&self) -> u64 {
        self.params.block_gas_limit.saturating_sub(self.gas_used)
    }

    /// Adds one transaction: its receipt, or why it cannot be in this block (then nothing
    /// changed, and a builder simply leaves it out).
    pub fn push(&mut self, vtx: &VerifiedTx) -> Result<&Receipt, TxError> {
        let admitted = match tx::validate(self.state, self.env, &self.params, vtx, self.gas_left())?
        {
            Ok(a) => a,
            Err(r) => return Err(TxError::Invalid(r)),
        };
        let (finished, receipt) = tx::run(
            self.state,
            self.env,
            &self.params,
            vtx,
            &admitted,
            &self.verdicts,
        )?;
        self.state.apply(finished.writes)?;
        self.gas_used += receipt.gas_used;
        self.receipts.push(receipt);
        Ok(self.receipts.last().expect("just pushed"))
    }

    /// Verifies the proofs among `txs` together, one batch per circuit, for the transactions
    /// pushed after this (a builder may call it with its candidates; verdicts on proofs that
    /// never come are unused). The outcome of every transaction is the same with or without it.
    pub fn prepare(&mut self, txs: &[VerifiedTx]) -> Result<(), StateError> {
        self.verdicts = domains::zk::prepare(self.state, &self.params, txs)?;
        Ok(())
    }

    /// Runs the end hooks and closes the block.
    pub fn finish(mut self) -> Result<BlockOutcome, StateError> {
        hook(
            self.state,
            self.env,
            &self.params,
            &mut self.system,
            domains::end_block,
        )?;
        self.receipts.push(Receipt::system(self.system));
        self.state.root()?;
        Ok(BlockOutcome {
            receipts: self.receipts,
            gas_used: self.gas_used,
        })
    }
}

/// Applies a block: every transaction must be valid in turn (else the block is invalid).
/// A `BlockError::State` means the store failed: discard the state and reopen it at the
/// parent's root.
pub fn apply_block<S: NodeStore + Clone>(
    state: &mut State<S>,
    env: &BlockEnv,
    txs: &[VerifiedTx],
) -> Result<BlockOutcome, BlockError> {
    let mut block = BlockExecutor::begin(state, env)?;
    block.prepare(txs)?;
    for (index, vtx) in txs.iter().enumerate() {
        match block.push(vtx) {
            Ok(_) => {}
            Err(TxError::Invalid(rejection)) => {
                return Err(BlockError::Invalid { index, rejection });
            }
            Err(TxError::State(e)) => return Err(e.into()),
        }
    }
    Ok(block.finish()?)
}
