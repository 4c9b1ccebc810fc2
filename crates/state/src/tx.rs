//! One transaction: the checks that decide whether it may enter a block at all, and its run —
//! the gas limit's worth of MMT reserved, the nonce bumped, the action run in a layer of its
//! own, the unused gas refunded and the fee paid to the sealer.
//!
//! An *invalid* transaction (wrong chain, bad signature, wrong nonce, too little to pay its gas
//! limit, over the block's gas) cannot be in a block: a block holding one is invalid. A valid
//! one that *fails* (out of gas, a rule of its domain) is included, pays for the gas it used,
//! and changes nothing else, so a refused action is never free block space.

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, Hash, SignedTransaction};
use metamesh_trie::NodeStore;

use crate::{
    Account, BlockEnv, Code, Event, Exec, Fail, Meter, Params, Receipt, Rejection, State,
    StateError,
    domains::{self, TxContext, accounts::AccountEvent},
    exec::Finished,
};

/// A transaction whose signature has been checked once (on entry to the pool, or at import).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    pub tx: SignedTransaction,
    pub hash: Hash,
    /// `None` when the signature does not verify.
    pub sender: Option<Address>,
    /// Bytes of the signed transaction.
    pub size: usize,
}

impl VerifiedTx {
    pub fn new(tx: SignedTransaction, suite: Suite) -> Self {
        let raw = tx.to_rlp();
        VerifiedTx {
            hash: suite.hash(&raw),
            size: raw.len(),
            sender: tx.sender().ok(),
            tx,
        }
    }

    /// [`Self::new`] with the sender already known (the pool's check).
    pub fn with_sender(tx: SignedTransaction, suite: Suite, sender: Address) -> Self {
        let raw = tx.to_rlp();
        VerifiedTx {
            hash: suite.hash(&raw),
            size: raw.len(),
            sender: Some(sender),
            tx,
        }
    }
}

/// Gas a transaction uses before its action runs: the base, its bytes, its signature.
pub fn intrinsic_gas(params: &Params, size: usize) -> u64 {
    params
        .gas_tx_base
        .saturating_add(params.gas_signature)
        .saturating_add(params.gas_tx_byte.saturating_mul(size as u64))
}

/// A valid transaction, ready to run.
pub(crate) struct Admitted {
    pub sender: Address,
    pub intrinsic: u64,
    pub max_fee: Amount,
}

/// The rules a transaction meets on its own, whatever the state and the block: chain, suite,
/// size, signature, gas price and intrinsic gas, under `params`. Its sender when it meets them.
/// A pool re-checks them at every head, since a parameter change can break them.
pub fn check_alone(
    params: &Params,
    chain_id: u64,
    suite: Suite,
    vtx: &VerifiedTx,
) -> Result<Address, Rejection> {
    let t = &vtx.tx.tx;
    let refuse = |code, args: &[u128]| Err(Rejection::with(code, args));
    if t.chain_id != chain_id {
        return refuse(
            Code::WrongChain,
            &[u128::from(chain_id), u128::from(t.chain_id)],
        );
    }
    if vtx.tx.signature.suite() != suite {
        return refuse(Code::WrongSuite, &[]);
    }
    let limit = domains::max_tx_bytes(params, &t.action);
    if vtx.size as u64 > limit {
        return refuse(Code::TooLarge, &[vtx.size as u128, u128::from(limit)]);
    }
    let Some(sender) = vtx.sender else {
        return refuse(Code::BadSignature, &[]);
    };
    if t.gas_price < params.min_gas_price {
        return refuse(
            Code::GasPriceTooLow,
            &[t.gas_price.0, params.min_gas_price.0],
        );
    }
    let intrinsic = intrinsic_gas(params, vtx.size);
    if t.gas_limit < intrinsic {
        return refuse(
            Code::IntrinsicGas,
            &[u128::from(t.gas_limit), u128::from(intrinsic)],
        );
    }
    Ok(sender)
}

/// Every rule a transaction must meet to be in a block, given the gas the block has left.
pub(crate) fn validate<S: NodeStore + Clone>(
    state: &State<S>,
    env: &BlockEnv,
    params: &Params,
    vtx: &VerifiedTx,
    gas_left: u64,
) -> Result<Result<Admitted, Rejection>, StateError> {
    let t = &vtx.tx.tx;
    let refuse = |code, args: &[u128]| Ok(Err(Rejection::with(code, args)));
    // What the transaction is on its own comes before the account's nonce, so a pool that
    // keeps a later nonce waiting has seen every rule but the state's.
    let sender = match check_alone(params, env.chain_id, state.suite(), vtx) {
        Ok(sender) => sender,
        Err(r) => return Ok(Err(r)),
    };
    if t.gas_limit > gas_left {
        return refuse(
            Code::BlockGasExceeded,
            &[u128::from(t.gas_limit), u128::from(gas_left)],
        );
    }
    let account = state.account(&sender)?;
    if t.nonce != account.nonce {
        let code = if t.nonce < account.nonce {
            Code::StaleNonce
        } else {
            Code::NonceTooHigh
        };
        return refuse(code, &[u128::from(account.nonce), u128::from(t.nonce)]);
    }
    match t.max_fee() {
        Some(max_fee) if max_fee <= account.balance => Ok(Ok(Admitted {
            sender,
            intrinsic: intrinsic_gas(params, vtx.size),
            max_fee,
        })),
        max_fee => refuse(
            Code::CannotPayGas,
            &[account.balance.0, max_fee.map_or(u128::MAX, |f| f.0)],
        ),
    }
}

fn adjust<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    who: &Address,
    f: impl FnOnce(&mut Account),
) -> Result<(), StateError> {
    let mut account = ex.load_free::<Account>(who)?.unwrap_or_default();
    f(&mut account);
    ex.save_free(who, &account);
    Ok(())
}

/// Runs an admitted transaction; returns its writes (to apply, or to drop in a dry run) and
/// its receipt.
pub(crate) fn run<S: NodeStore + Clone>(
    state: &State<S>,
    env: &BlockEnv,
    params: &Params,
    vtx: &VerifiedTx,
    admitted: &Admitted,
    verdicts: &crate::domains::zk::Verdicts,
) -> Result<(Finished, Receipt), StateError> {
    let t = &vtx.tx.tx;
    let sender = admitted.sender;
    let meter = Meter {
        limit: t.gas_limit,
        used: admitted.intrinsic,
    };
    let mut ex = Exec::new(state, env, params, meter).with_verdicts(verdicts);
    adjust(&mut ex, &sender, |a| {
        a.nonce += 1;
        a.balance = a.balance.checked_sub(admitted.max_fee).expect("validated");
    })?;
    let ctx = TxContext {
        sender,
        nonce: t.nonce,
        hash: vtx.hash,
        gas_price: t.gas_price,
    };
    let outcome = match ex.layer(|ex| domains::apply(ex, &ctx, &t.action)) {
        Ok(()) => Ok(()),
        Err(Fail::Reject(r)) => Err(r),
        Err(Fail::State(e)) => return Err(e),
    };
    let gas_used = ex.gas_used();
    let fee = Amount(t.gas_price.0 * u128::from(gas_used));
    let refund = admitted.max_fee.checked_sub(fee).expect("gas used ≤ limit");
    adjust(&mut ex, &sender, |a| {
        a.balance = a
            .balance
            .checked_add(refund)
            .expect("returns what was reserved");
    })?;
    adjust(&mut ex, &env.sealer, |a| {
        a.balance = a.balance.checked_add(fee).expect("bounded by the supply");
    })?;
    let mut finished = ex.finish();
    let mut events = vec![Event::Accounts(AccountEvent::Fee {
        from: sender,
        sealer: env.sealer,
        amount: fee,
    })];
    events.append(&mut finished.events);
    let receipt = Receipt {
        tx_hash: vtx.hash,
        outcome,
        gas_used,
        events,
    };
    Ok((finished, receipt))
}

/// What a transaction would do on top of `state` in the block `env` describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It cannot be in that block (a later nonce may still become valid).
    Invalid(Rejection),
    /// It would be included and apply, using this much gas.
    Applies { gas_used: u64 },
    /// It would be included, pay for this much gas, and fail.
    Fails { rejection: Rejection, gas_used: u64 },
}

/// A dry run of `tx` on top of `state` as the next block would run it (nothing is written):
/// what the pool checks on entry and `mm_estimateGas` answers. Deal boundaries due at that
/// block are not run first.
pub fn check_tx<S: NodeStore + Clone>(
    state: &State<S>,
    env: &BlockEnv,
    tx: &VerifiedTx,
) -> Result<Verdict, StateError> {
    let params = crate::params_at(state, env.number)?;
    check_tx_with(state, env, &params, tx)
}

/// [`check_tx`] under `params`, which must be the parameters of the block `env` describes
/// (`params_at(state, env.number)`): the pool checks every transaction against the same block,
/// so it reads them once.
pub fn check_tx_with<S: NodeStore + Clone>(
    state: &State<S>,
    env: &BlockEnv,
    params: &Params,
    tx: &VerifiedTx,
) -> Result<Verdict, StateError> {
    let admitted = match validate(state, env, params, tx, params.block_gas_limit)? {
        Ok(a) => a,
        Err(r) => return Ok(Verdict::Invalid(r)),
    };
    let (_, receipt) = run(state, env, params, tx, &admitted, &Default::default())?;
    Ok(match receipt.outcome {
        Ok(()) => Verdict::Applies {
            gas_used: receipt.gas_used,
        },
        Err(rejection) => Verdict::Fails {
            rejection,
            gas_used: receipt.gas_used,
        },
    })
}

/// `tx` with a placeholder signature of the suite's length (only its size matters: the sender
/// is given).
fn unsigned(suite: Suite, tx: metamesh_primitives::Transaction, from: Address) -> VerifiedTx {
    let signature = match suite {
        Suite::Sm => metamesh_crypto::Signature::Sm([0x02; 97]),
        Suite::Eth => metamesh_crypto::Signature::Eth([0x01; 65]),
    };
    VerifiedTx::with_sender(SignedTransaction { tx, signature }, suite, from)
}

/// The gas limit a client gives a transaction that used `used` in a dry run.
pub fn padded_gas(used: u64, block_limit: u64) -> u64 {
    used.saturating_add(used / 4)
        .saturating_add(5_000)
        .min(block_limit)
}

/// The gas `tx` from `from` would use in the next block, whatever gas limit it names, and
/// whether it would apply: a dry run (its signature is not checked). First with nothing
/// reserved, to find the gas; then as a client sends it, with [`padded_gas`] as its limit and
/// that much MMT reserved. `mm_estimateGas` answers with it.
pub fn estimate_gas<S: NodeStore + Clone>(
    state: &State<S>,
    env: &BlockEnv,
    tx: &metamesh_primitives::Transaction,
    from: Address,
) -> Result<Verdict, StateError> {
    let suite = state.suite();
    let params = crate::params_at(state, env.number)?;
    let mut probe = tx.clone();
    probe.gas_limit = params.block_gas_limit;
    let probe = unsigned(suite, probe, from);
    match validate(state, env, &params, &probe, params.block_gas_limit)? {
        Err(r) if r.code != Code::CannotPayGas => return Ok(Verdict::Invalid(r)),
        _ => {}
    }
    let mut free = probe.clone();
    free.tx.tx.gas_price = Amount::ZERO;
    let admitted = Admitted {
        sender: from,
        intrinsic: intrinsic_gas(&params, probe.size),
        max_fee: Amount::ZERO,
    };
    let (_, first) = run(state, env, &params, &free, &admitted, &Default::default())?;
    let mut real = tx.clone();
    real.gas_limit = padded_gas(first.gas_used, params.block_gas_limit);
    check_tx(state, env, &unsigned(suite, real, from))
}
