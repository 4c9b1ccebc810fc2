//! Accounts and MMT: balances, transfers, the five genesis pools with their per-epoch budgets,
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
use crate::{Event, Exec, Outcome, Pool, Record, StateKey};

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

/// What a pool has paid in the current reward epoch: `[epoch, spent]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    pub epoch: u64,
    pub spent: Amount,
}

impl Record for Budget {
    const WHAT: &'static str = "pool budget";
    type Id = Pool;

    fn key(id: &Pool) -> StateKey {
        StateKey::Budget(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.epoch.encode(&mut p);
        self.spent.0.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let b = Budget {
            epoch: u64::decode(&mut p)?,
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

/// The accounts domain's events (types 0x00–0x0f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountEvent {
    /// `0x00 [from, to, amount]`
    Transfer {
        from: Address,
        to: Address,
        amount: Amount,
    },
    /// `0x01 [from, sealer, amount]`: the gas a transaction paid.
    Fee {
        from: Address,
        sealer: Address,
        amount: Amount,
    },
    /// `0x02 [sealer, amount]`: a block's sealing reward from the community pool.
    SealReward { sealer: Address, amount: Amount },
}

/// Pays up to `amount` from `pool` to `to`, within the pool's budget for this reward epoch
/// and its balance; returns what was paid.
pub fn pay_from_pool<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    pool: Pool,
    to: &Address,
    amount: Amount,
) -> Outcome<Amount> {
    let budget_per_epoch = match pool {
        Pool::Community => ex.params.community_budget,
        // The other pools pay out through vesting and grants, which arrive with the economy.
        Pool::Founders | Pool::Ecosystem | Pool::Airdrops | Pool::PrivatePlacement => Amount::ZERO,
    };
    let epoch = ex.env.number / ex.params.reward_epoch;
    let mut budget = ex.load::<Budget>(&pool)?.unwrap_or_default();
    if budget.epoch != epoch {
        budget = Budget {
            epoch,
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
    ex.save(&pool, &budget)?;
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
            ex.transfer(&tx.sender, to, *amount)?;
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
    let sealer = ex.env.sealer;
    let paid = pay_from_pool(ex, Pool::Community, &sealer, ex.params.sealing_reward)?;
    if paid > Amount::ZERO {
        ex.emit(Event::Accounts(AccountEvent::SealReward {
            sealer,
            amount: paid,
        }))?;
    }
    Ok(())
}
