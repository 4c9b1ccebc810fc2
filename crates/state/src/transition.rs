//! The state transition: `apply_block(state, env, txs) -> receipts`, pure and deterministic.
//!
//! A transaction that fails a check (chain id, signature, nonce, fee, balance, a digest already
//! registered) changes nothing and gets a receipt naming the reason. An accepted one bumps the
//! sender's nonce, pays its fee to the sealer and does its action. After the transactions, the
//! sealer's reward comes out of the community pool; nothing is ever minted.

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Action, Amount, Hash, SignedTransaction, WorkKind};
use metamesh_trie::NodeStore;

use crate::{Account, Attestation, DataRecord, Params, Pool, State, StateError};

/// A transaction whose signature has been checked once (on entry to the pool, or at import).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    pub tx: SignedTransaction,
    pub hash: Hash,
    /// `None` when the signature does not verify.
    pub sender: Option<Address>,
}

impl VerifiedTx {
    pub fn new(tx: SignedTransaction, suite: Suite) -> Self {
        VerifiedTx {
            hash: tx.hash(suite),
            sender: tx.sender().ok(),
            tx,
        }
    }
}

/// The block a transition runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    pub chain_id: u64,
    pub number: u64,
    pub timestamp: u64,
    /// The parent block's hash: the randomness of storage challenges.
    pub parent_hash: Hash,
    pub sealer: Address,
    pub params: Params,
}

/// Something agents and indexers react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Transfer {
        from: Address,
        to: Address,
        amount: Amount,
    },
    Fee {
        from: Address,
        sealer: Address,
        amount: Amount,
    },
    DataRegistered {
        digest: Hash,
        owner: Address,
    },
    Attested {
        digest: Hash,
        owner: Address,
        kind: WorkKind,
    },
    SealReward {
        sealer: Address,
        amount: Amount,
    },
    KeyShared {
        granter: Address,
        recipient: Address,
    },
    StorageOffered {
        provider: Address,
    },
    DealOpened {
        deal: Hash,
        owner: Address,
        escrow: Amount,
    },
    DealAccepted {
        deal: Hash,
        provider: Address,
    },
    StorageProved {
        deal: Hash,
        provider: Address,
        epoch: u64,
        paid: Amount,
        reward: Amount,
    },
    ChallengeMissed {
        deal: Hash,
        provider: Address,
        epoch: u64,
    },
    DealEnded {
        deal: Hash,
        refund: Amount,
    },
}

/// What happened to one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub tx_hash: Hash,
    /// `Ok` or the reason it was rejected.
    pub outcome: Result<(), String>,
    pub events: Vec<Event>,
}

/// What a block did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    pub receipts: Vec<Receipt>,
    /// Block-level events (the sealing reward).
    pub events: Vec<Event>,
}

/// Applies a block's transactions and reward. A `StateError` means the store failed: discard
/// the state and reopen it at the parent's root.
pub fn apply_block<S: NodeStore>(
    state: &mut State<S>,
    env: &BlockEnv,
    txs: &[VerifiedTx],
) -> Result<BlockOutcome, StateError> {
    let mut outcome = BlockOutcome {
        events: crate::storage::epoch_boundary(state, env)?,
        ..BlockOutcome::default()
    };
    for tx in txs {
        let receipt = match precheck(state, env, tx)? {
            Err(reason) => Receipt {
                tx_hash: tx.hash,
                outcome: Err(reason),
                events: Vec::new(),
            },
            Ok(sender) => Receipt {
                tx_hash: tx.hash,
                outcome: Ok(()),
                events: execute(state, env, &tx.tx, sender)?,
            },
        };
        outcome.receipts.push(receipt);
    }
    let pool = Pool::Community.address(state.suite());
    let mut community = state.account(&pool)?;
    let reward = env.params.sealing_reward.min(community.balance);
    if reward > Amount::ZERO {
        community.balance = community
            .balance
            .checked_sub(reward)
            .expect("min of balance");
        state.set_account(&pool, &community)?;
        credit(state, &env.sealer, reward)?;
        outcome.events.push(Event::SealReward {
            sealer: env.sealer,
            amount: reward,
        });
    }
    Ok(outcome)
}

/// Every reason to reject a transaction, checked before anything is written: `Ok(Ok(sender))`
/// if it would apply now, `Ok(Err(reason))` if not. Pools use it to refuse what cannot apply.
pub fn precheck<S: NodeStore>(
    state: &State<S>,
    env: &BlockEnv,
    tx: &VerifiedTx,
) -> Result<Result<Address, String>, StateError> {
    let t = &tx.tx.tx;
    if t.chain_id != env.chain_id {
        return Ok(Err(format!(
            "wrong chain id: expected {}, got {}",
            env.chain_id, t.chain_id
        )));
    }
    if tx.tx.signature.suite() != state.suite() {
        return Ok(Err(format!(
            "signature is not of the chain's {} suite",
            state.suite()
        )));
    }
    let Some(sender) = tx.sender else {
        return Ok(Err("bad signature".into()));
    };
    let account = state.account(&sender)?;
    if t.nonce < account.nonce {
        return Ok(Err(format!(
            "stale nonce: account is at {}, got {}",
            account.nonce, t.nonce
        )));
    }
    if t.nonce > account.nonce {
        return Ok(Err(format!(
            "nonce too high: account is at {}, got {}",
            account.nonce, t.nonce
        )));
    }
    if t.fee < env.params.min_fee {
        return Ok(Err(format!(
            "fee {} below the minimum {}",
            t.fee, env.params.min_fee
        )));
    }
    let amount = match &t.action {
        Action::Transfer { amount, .. } => *amount,
        other => match crate::storage::cost(env, other) {
            Ok(a) => a,
            Err(reason) => return Ok(Err(reason)),
        },
    };
    let cost = t.fee.checked_add(amount);
    if cost.is_none_or(|c| c > account.balance) {
        return Ok(Err(format!(
            "insufficient balance: has {}, needs {} plus fee {}",
            account.balance, amount, t.fee
        )));
    }
    match &t.action {
        Action::RegisterData {
            digest,
            cid,
            profile,
            ..
        } => {
            if let Err(reason) = crate::storage::check_registration(cid, profile) {
                return Ok(Err(reason));
            }
            if let Some(existing) = state.data(digest)? {
                return Ok(Err(format!(
                    "digest already registered by {} at block {}",
                    existing.owner, existing.block
                )));
            }
        }
        Action::Attest { digest, .. } => {
            if let Some(existing) = state.attestation(digest)? {
                return Ok(Err(format!(
                    "digest already attested by {} at block {}",
                    existing.owner, existing.block
                )));
            }
        }
        Action::Transfer { .. } => {}
        storage => {
            if let Err(reason) = crate::storage::check(state, env, &sender, storage)? {
                return Ok(Err(reason));
            }
        }
    }
    Ok(Ok(sender))
}

fn credit<S: NodeStore>(
    state: &mut State<S>,
    to: &Address,
    amount: Amount,
) -> Result<(), StateError> {
    let mut account = state.account(to)?;
    account.balance = account
        .balance
        .checked_add(amount)
        .expect("no balance exceeds the fixed supply");
    state.set_account(to, &account)
}

fn execute<S: NodeStore>(
    state: &mut State<S>,
    env: &BlockEnv,
    tx: &metamesh_primitives::SignedTransaction,
    sender: Address,
) -> Result<Vec<Event>, StateError> {
    let t = &tx.tx;
    let mut account: Account = state.account(&sender)?;
    account.nonce += 1;
    account.balance = account.balance.checked_sub(t.fee).expect("checked");
    let mut events = vec![Event::Fee {
        from: sender,
        sealer: env.sealer,
        amount: t.fee,
    }];
    match &t.action {
        Action::Transfer { to, amount } => {
            account.balance = account.balance.checked_sub(*amount).expect("checked");
            state.set_account(&sender, &account)?;
            credit(state, to, *amount)?;
            events.push(Event::Transfer {
                from: sender,
                to: *to,
                amount: *amount,
            });
        }
        Action::RegisterData {
            digest,
            size,
            cid,
            encrypted,
            profile,
            title,
            licence,
            metadata,
        } => {
            state.set_account(&sender, &account)?;
            let record = DataRecord {
                owner: sender,
                block: env.number,
                time: env.timestamp,
                size: *size,
                cid: cid.clone(),
                encrypted: *encrypted,
                profile: profile.clone(),
                title: title.clone(),
                licence: licence.clone(),
                metadata: metadata.clone(),
            };
            state.set_data(digest, &record)?;
            events.push(Event::DataRegistered {
                digest: *digest,
                owner: sender,
            });
        }
        Action::Attest {
            digest,
            kind,
            metadata,
        } => {
            state.set_account(&sender, &account)?;
            let record = Attestation {
                owner: sender,
                block: env.number,
                time: env.timestamp,
                kind: *kind,
                metadata: metadata.clone(),
            };
            state.set_attestation(digest, &record)?;
            events.push(Event::Attested {
                digest: *digest,
                owner: sender,
                kind: *kind,
            });
        }
        storage => {
            state.set_account(&sender, &account)?;
            events.extend(crate::storage::apply(state, env, sender, t.nonce, storage)?);
        }
    }
    credit(state, &env.sealer, t.fee)?;
    Ok(events)
}
