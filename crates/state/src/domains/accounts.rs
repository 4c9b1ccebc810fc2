//! Accounts and MMT: balances, transfers, the five genesis pools and the per-epoch budget of
//! each purpose they pay for,
//! module accounts (where a domain holds escrows and stakes), and the sealer's reward.
//!
//! Nothing is minted after genesis: every payout moves MMT out of a pool, within the pool's
//! budget for the current reward epoch, so the sum of all balances is the supply at every block.

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    AccountAction, Amount,
    rlp::{finish_list as done, list},
};
use metamesh_trie::NodeStore;

use super::{TxContext, open};
use crate::{
    Code, Event, Exec, Outcome, Pool, Record, StateKey,
    events::{DomainEvent, UNKNOWN, address, amount},
    exec::reject,
};

/// A balance holder: `[nonce, balance]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub nonce: u64,
    pub balance: Amount,
}

impl Record for Account {
    const WHAT: &'static str = "account";
    type Id = Address;

    fn key(id: &Address) -> StateKey {
        StateKey::Account(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.nonce.encode(&mut p);
        self.balance.0.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let account = Account {
            nonce: u64::decode(&mut p)?,
            balance: Amount(u128::decode(&mut p)?),
        };
        done(p)?;
        Ok(account)
    }
}

/// What a pool pays for. Each purpose has a budget of its own per reward epoch, so one kind of
/// work cannot spend what another is owed (a storage farmer cannot starve the sealers). A
/// domain that pays from a pool adds a purpose here and a budget parameter beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Payout {
    /// Block sealing rewards (`sealingReward`, within `sealingBudget`).
    Sealing,
    /// Storage rewards for passed challenges (`storageReward`, within `storageBudget`).
    Storage,
    /// Computing rewards for verified work (`computeReward` per million fuel, within
    /// `computeBudget`).
    Compute,
}

impl Payout {
    pub const ALL: [Payout; 3] = [Payout::Sealing, Payout::Storage, Payout::Compute];

    /// Its byte in state keys.
    pub const fn byte(self) -> u8 {
        match self {
            Payout::Sealing => 0,
            Payout::Storage => 1,
            Payout::Compute => 2,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.byte() == b)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Payout::Sealing => "sealing",
            Payout::Storage => "storage",
            Payout::Compute => "compute",
        }
    }

    /// The pool it pays from.
    pub const fn pool(self) -> Pool {
        match self {
            Payout::Sealing | Payout::Storage | Payout::Compute => Pool::Community,
        }
    }

    /// The most it pays in one reward epoch.
    pub fn budget(self, params: &crate::Params) -> Amount {
        match self {
            Payout::Sealing => params.sealing_budget,
            Payout::Storage => params.storage_budget,
            Payout::Compute => params.compute_budget,
        }
    }
}

/// What one purpose has been paid in its current period of `rewardEpoch` blocks:
/// `[start, spent]`, the period starting at block `start`. Kept by start block rather than
/// epoch number, so a change of `rewardEpoch` cannot open a fresh budget mid-period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    pub start: u64,
    pub spent: Amount,
}

impl Record for Budget {
    const WHAT: &'static str = "payout budget";
    type Id = Payout;

    fn key(id: &Payout) -> StateKey {
        StateKey::Budget(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.start.encode(&mut p);
        self.spent.0.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let b = Budget {
            start: u64::decode(&mut p)?,
            spent: Amount(u128::decode(&mut p)?),
        };
        done(p)?;
        Ok(b)
    }
}

/// A domain's account for what it holds on others' behalf (escrows, stakes): the last 20
/// bytes of `H("metamesh/module/<name>")`. No key exists for it.
pub fn module_address(suite: Suite, name: &str) -> Address {
    Address::from_digest(&suite.hash(format!("metamesh/module/{name}").as_bytes()))
}

/// The names of every module account. A transfer into one is refused: its balance is what its
/// domain's records say it holds, and the invariants check exactly that.
pub const MODULES: &[&str] = &["storage", "compute"];

pub fn is_module(suite: Suite, address: &Address) -> bool {
    MODULES.iter().any(|m| module_address(suite, m) == *address)
}

/// Moves MMT to an account a user named (a transfer's recipient, later a job's payee): never
/// into a module account (`module-account`). Domains moving their own escrows use
/// `Exec::transfer`.
pub fn transfer_to_user<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Outcome {
    if is_module(ex.suite(), to) {
        return reject(Code::ModuleAccount, &[]);
    }
    ex.transfer(from, to, amount)
}

/// The accounts domain's events (types 0x00–0x0f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountEvent {
    /// `0x00 [from, to, amount]`
    Transfer {
        from: Address,
        to: Address,
        amount: Amount,
    },
    /// `0x01 [from, sealer, amount]`: gas paid to a block's sealer — a transaction's (from its
    /// sender), or a storage deal's boundary work (from the deal's reserve, `from` its owner).
    Fee {
        from: Address,
        sealer: Address,
        amount: Amount,
    },
    /// `0x02 [sealer, amount]`: a block's sealing reward from the community pool.
    SealReward { sealer: Address, amount: Amount },
}

impl DomainEvent for AccountEvent {
    const KINDS: &'static [(u8, &'static str)] =
        &[(0x00, "transfer"), (0x01, "fee"), (0x02, "sealReward")];

    fn type_byte(&self) -> u8 {
        match self {
            AccountEvent::Transfer { .. } => 0x00,
            AccountEvent::Fee { .. } => 0x01,
            AccountEvent::SealReward { .. } => 0x02,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            AccountEvent::Transfer { from, to, .. } => vec![*from, *to],
            AccountEvent::Fee { from, sealer, .. } => vec![*from, *sealer],
            AccountEvent::SealReward { sealer, .. } => vec![*sealer],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            AccountEvent::Transfer { from, to, amount } => {
                from.0.encode(p);
                to.0.encode(p);
                amount.0.encode(p);
            }
            AccountEvent::Fee {
                from,
                sealer,
                amount,
            } => {
                from.0.encode(p);
                sealer.0.encode(p);
                amount.0.encode(p);
            }
            AccountEvent::SealReward { sealer, amount } => {
                sealer.0.encode(p);
                amount.0.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            0x00 => AccountEvent::Transfer {
                from: address(p)?,
                to: address(p)?,
                amount: amount(p)?,
            },
            0x01 => AccountEvent::Fee {
                from: address(p)?,
                sealer: address(p)?,
                amount: amount(p)?,
            },
            0x02 => AccountEvent::SealReward {
                sealer: address(p)?,
                amount: amount(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}

/// Pays up to `amount` for `payout` from its pool to `to`, within the purpose's budget for
/// this reward epoch and the pool's balance; returns what was paid.
pub fn pay_from_pool<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    payout: Payout,
    to: &Address,
    amount: Amount,
) -> Outcome<Amount> {
    let budget_per_epoch = payout.budget(ex.params());
    let pool = payout.pool();
    let number = ex.env().number;
    let mut budget = ex.load::<Budget>(&payout)?.unwrap_or_default();
    if number >= budget.start.saturating_add(ex.params().reward_epoch) {
        // Periods follow each other on the grid of the old start, however long the gap.
        let behind = number - budget.start;
        budget = Budget {
            start: number - behind % ex.params().reward_epoch,
            spent: Amount::ZERO,
        };
    }
    let address = pool.address(ex.suite());
    let left = budget_per_epoch
        .checked_sub(budget.spent)
        .unwrap_or_default();
    let paid = amount.min(left).min(ex.account(&address)?.balance);
    if paid == Amount::ZERO {
        return Ok(paid);
    }
    budget.spent = budget.spent.checked_add(paid).expect("within the budget");
    ex.save(&payout, &budget)?;
    ex.transfer(&address, to, paid)?;
    Ok(paid)
}

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &AccountAction,
) -> Outcome {
    match action {
        AccountAction::Transfer { to, amount } => {
            transfer_to_user(ex, &tx.sender, to, *amount)?;
            ex.emit(Event::Accounts(AccountEvent::Transfer {
                from: tx.sender,
                to: *to,
                amount: *amount,
            }))
        }
    }
}

/// The end of every block: the sealer's reward, while the pool and its budget last.
pub(crate) fn end_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    let sealer = ex.env().sealer;
    let paid = pay_from_pool(ex, Payout::Sealing, &sealer, ex.params().sealing_reward)?;
    if paid > Amount::ZERO {
        ex.emit(Event::Accounts(AccountEvent::SealReward {
            sealer,
            amount: paid,
        }))?;
    }
    Ok(())
}
