//! The transaction pool: signatures checked once on entry, per-sender nonce order, replacement
//! only for a gas price at least 10 % higher, global and per-sender limits, and re-injection
//! after a reorg.
//!
//! ```text
//! add(tx, account) ─▶ decode/verify once ─▶ checks ─▶ by sender, by nonce
//! pending(accounts) ─▶ each sender's run of consecutive nonces from its account nonce, the
//!                      runs merged highest gas price first
//! prune(accounts, head, params) ─▶ drop what the chain has passed, what no longer meets the
//!                      rules or the sender's balance, and queued transactions (behind a nonce
//!                      gap) older than QUEUED_BLOCKS; remove(hash) ─▶ what a block refused
//! reinject(retracted) ─▶ add again
//! ```
//!
//! Room is priced: a sender's waiting transactions together must not cost more gas than its
//! balance holds (at entry and at every head); at most `max_queued` of others' wait behind
//! nonce gaps (they run nowhere, so they pay nothing); a full pool makes room for a runnable
//! newcomer by dropping a queued transaction, else the cheapest sender's last one if the
//! newcomer pays more, and for a queued newcomer only a cheaper queued one. The node's own
//! transactions (its signer's) enter a full pool and are never dropped for room, so a flood
//! cannot keep its storage proofs out.

mod room;

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, Hash, SignedTransaction};
use metamesh_state::{Account, Params, VerifiedTx, check_alone};
use room::{Mark, Room};

/// Blocks a transaction may wait behind a nonce gap before the pool lets it go.
pub const QUEUED_BLOCKS: u64 = 600;

/// One pooled transaction and the head it arrived at.
#[derive(Debug)]
struct Entry {
    tx: VerifiedTx,
    arrived: u64,
}

/// One sender's waiting transactions by nonce, its account nonce when last seen, and what the
/// pool's [`Room`] counted for it.
#[derive(Debug, Default)]
struct Queue {
    base: u64,
    txs: BTreeMap<u64, Entry>,
    mark: Mark,
}

impl Queue {
    /// The first nonce after the run from `base`: what could go into blocks now ends there.
    fn run_end(&self, base: u64) -> u64 {
        let mut n = base;
        while self.txs.contains_key(&n) {
            n += 1;
        }
        n
    }

    /// The gas all but `nonce` could cost, or `None` past `u128`.
    fn owed_without(&self, nonce: u64) -> Option<u128> {
        self.txs
            .iter()
            .filter(|(n, _)| **n != nonce)
            .try_fold(0u128, |sum, (_, e)| {
                sum.checked_add(e.tx.tx.tx.max_fee()?.0)
            })
    }
}

/// Limits of the pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    pub max_transactions: usize,
    pub max_per_sender: usize,
    /// How far past the account's nonce a transaction may wait.
    pub max_nonce_gap: u64,
    /// Transactions waiting behind nonce gaps, over all senders.
    pub max_queued: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_transactions: 20_000,
            max_per_sender: 256,
            max_nonce_gap: 256,
            max_queued: 2_500,
        }
    }
}

/// Why a transaction was not accepted into the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("already in the pool")]
    AlreadyKnown,
    #[error("bad signature")]
    BadSignature,
    #[error("wrong chain id: expected {expected}, got {got}")]
    WrongChain { expected: u64, got: u64 },
    #[error("stale nonce: account is at {account}, got {got}")]
    StaleNonce { account: u64, got: u64 },
    #[error("nonce {got} is too far ahead of the account's {account}")]
    NonceGap { account: u64, got: u64 },
    #[error("gas price {price}wei is below the chain's minimum {min}wei")]
    GasPriceTooLow { price: u128, min: u128 },
    #[error(
        "a transaction with this nonce is pending; a replacement must offer a gas price of at least {0}wei (10 % more)"
    )]
    ReplacementUnderpriced(u128),
    #[error("the sender has {0} transactions pending, the most allowed")]
    SenderFull(usize),
    #[error("the pool is full")]
    PoolFull,
    #[error("{0} transactions already wait behind nonce gaps, the most allowed")]
    QueueFull(usize),
    #[error(
        "the sender cannot pay the gas limits ({fee} in all; balance {balance}) of its waiting transactions"
    )]
    CannotPay { balance: Amount, fee: Amount },
}

/// Pending transactions.
#[derive(Debug)]
pub struct TxPool {
    config: PoolConfig,
    chain_id: u64,
    suite: Suite,
    by_sender: BTreeMap<Address, Queue>,
    by_hash: HashMap<Hash, (Address, u64)>,
    /// The head number new transactions arrive at (set by `prune`).
    head: u64,
    /// This node's signer: its transactions are never dropped for room.
    local: Option<Address>,
    room: Room,
}

impl TxPool {
    pub fn new(config: PoolConfig, chain_id: u64, suite: Suite) -> Self {
        TxPool {
            config,
            chain_id,
            suite,
            by_sender: BTreeMap::new(),
            by_hash: HashMap::new(),
            head: 0,
            local: None,
            room: Room::default(),
        }
    }

    /// The head new transactions arrive at, until the next [`Self::prune`] (a node sets it
    /// when it starts, so queued transactions do not look 600 blocks old).
    pub fn set_head(&mut self, head: u64) {
        self.head = head;
    }

    /// Marks `signer`'s transactions as this node's own.
    pub fn set_local(&mut self, signer: Address) {
        self.local = Some(signer);
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The first nonce of `sender` neither in the state (`account_nonce`) nor pending here.
    pub fn next_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        let mut next = account_nonce;
        if let Some(queue) = self.by_sender.get(sender) {
            next = queue.run_end(next);
        }
        next
    }

    pub fn get(&self, hash: &Hash) -> Option<&VerifiedTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.txs.get(nonce).map(|e| &e.tx)
    }

    /// Drops one transaction (a block builder found it invalid whatever the block).
    pub fn remove(&mut self, hash: &Hash) -> bool {
        let Some((sender, nonce)) = self.by_hash.remove(hash) else {
            return false;
        };
        if let Some(queue) = self.by_sender.get_mut(&sender) {
            queue.txs.remove(&nonce);
        }
        self.recount(&sender);
        true
    }

    /// Brings [`Room`] up to date with `sender`'s queue after a change, and drops the queue
    /// once empty.
    fn recount(&mut self, sender: &Address) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        self.room.forget(&mut queue.mark);
        if queue.txs.is_empty() {
            self.by_sender.remove(sender);
        } else {
            queue.mark = self.room.note(*sender, queue);
        }
    }

    /// Adds a transaction; `account` is the sender's state, looked up by the caller once the
    /// sender is known (hence a function); `min_gas_price` the chain's parameter at the head.
    pub fn add(
        &mut self,
        tx: SignedTransaction,
        min_gas_price: Amount,
        account: impl FnOnce(&Address) -> Account,
    ) -> Result<Hash, PoolError> {
        self.add_verified(VerifiedTx::new(tx, self.suite), min_gas_price, account)
    }

    /// [`Self::add`] for a transaction whose signature was already checked (off the pool's
    /// lock, on another core).
    pub fn add_verified(
        &mut self,
        verified: VerifiedTx,
        min_gas_price: Amount,
        account: impl FnOnce(&Address) -> Account,
    ) -> Result<Hash, PoolError> {
        let mut base = None;
        let sender = self.admit(&verified, min_gas_price, |a| {
            let account = account(a);
            base = Some(account.nonce);
            account
        })?;
        let (hash, nonce) = (verified.hash, verified.tx.tx.nonce);
        let replaces = self
            .by_sender
            .get(&sender)
            .is_some_and(|q| q.txs.contains_key(&nonce));
        if !replaces {
            let queued = nonce > self.next_nonce(&sender, base.expect("admit read the account"));
            let local = self.local == Some(sender);
            let over_queue = queued && !local && self.queued() >= self.config.max_queued;
            if (over_queue || self.by_hash.len() >= self.config.max_transactions)
                && let Some(victim) = self.victim(&sender, verified.tx.tx.gas_price, queued)
            {
                self.evict_last(&victim);
            }
        }
        let entry = Entry {
            tx: verified,
            arrived: self.head,
        };
        let queue = self.by_sender.entry(sender).or_default();
        queue.base = base.expect("admit read the account");
        if let Some(old) = queue.txs.insert(nonce, entry) {
            self.by_hash.remove(&old.tx.hash);
        }
        self.by_hash.insert(hash, (sender, nonce));
        self.recount(&sender);
        Ok(hash)
    }

    /// Every entry rule, without changing the pool: the sender if `verified` may enter.
    pub fn admit(
        &self,
        verified: &VerifiedTx,
        min_gas_price: Amount,
        account: impl FnOnce(&Address) -> Account,
    ) -> Result<Address, PoolError> {
        if self.by_hash.contains_key(&verified.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let t = &verified.tx.tx;
        if t.chain_id != self.chain_id {
            return Err(PoolError::WrongChain {
                expected: self.chain_id,
                got: t.chain_id,
            });
        }
        let sender = verified.sender.ok_or(PoolError::BadSignature)?;
        if t.gas_price < min_gas_price {
            return Err(PoolError::GasPriceTooLow {
                price: t.gas_price.0,
                min: min_gas_price.0,
            });
        }
        let account = account(&sender);
        if t.nonce < account.nonce {
            return Err(PoolError::StaleNonce {
                account: account.nonce,
                got: t.nonce,
            });
        }
        if t.nonce - account.nonce > self.config.max_nonce_gap {
            return Err(PoolError::NonceGap {
                account: account.nonce,
                got: t.nonce,
            });
        }
        // Everything a sender has waiting must be payable at once, or fresh keys could fill
        // the pool with transactions that never run (and one balance would back many keys).
        let queue = self.by_sender.get(&sender);
        let total = queue
            .map_or(Some(0), |q| q.owed_without(t.nonce))
            .zip(t.max_fee())
            .and_then(|(o, f)| o.checked_add(f.0))
            .unwrap_or(u128::MAX);
        if account.balance.0 < total {
            return Err(PoolError::CannotPay {
                balance: account.balance,
                fee: Amount(total),
            });
        }
        match queue.and_then(|q| q.txs.get(&t.nonce)) {
            // A bump of at least a tenth, so replacing costs something and the gossip of
            // replacements cannot run for free.
            Some(existing) if t.gas_price < replacement_price(existing.tx.tx.tx.gas_price) => Err(
                PoolError::ReplacementUnderpriced(replacement_price(existing.tx.tx.tx.gas_price).0),
            ),
            Some(_) => Ok(sender),
            None if queue.map_or(0, |q| q.txs.len()) >= self.config.max_per_sender => {
                Err(PoolError::SenderFull(queue.map_or(0, |q| q.txs.len())))
            }
            None => {
                let local = self.local == Some(sender);
                let queued = t.nonce > self.next_nonce(&sender, account.nonce);
                let full = self.by_hash.len() >= self.config.max_transactions;
                let victim = || self.victim(&sender, t.gas_price, queued);
                if queued && !local && self.queued() >= self.config.max_queued && victim().is_none()
                {
                    Err(PoolError::QueueFull(self.config.max_queued))
                } else if full && !local && victim().is_none() {
                    Err(PoolError::PoolFull)
                } else {
                    Ok(sender)
                }
            }
        }
    }

    /// What can go into the next block, at most `max`: per sender, the consecutive nonces
    /// from its account nonce; across senders, the next transaction of the highest gas price
    /// first (ties by sender address, so every node orders alike).
    pub fn pending(
        &self,
        mut account: impl FnMut(&Address) -> Account,
        max: usize,
    ) -> Vec<VerifiedTx> {
        // (price, reversed sender for address order among equals, sender, nonce)
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let next = account(sender).nonce;
            if let Some(e) = queue.txs.get(&next) {
                heap.push((e.tx.tx.tx.gas_price, std::cmp::Reverse(*sender), next));
            }
        }
        let mut out = Vec::new();
        while let Some((_, std::cmp::Reverse(sender), nonce)) = heap.pop() {
            if out.len() >= max {
                break;
            }
            let queue = &self.by_sender[&sender].txs;
            out.push(queue[&nonce].tx.clone());
            if let Some(e) = queue.get(&(nonce + 1)) {
                heap.push((e.tx.tx.tx.gas_price, std::cmp::Reverse(sender), nonce + 1));
            }
        }
        out
    }

    /// Transactions waiting behind nonce gaps, over all senders.
    fn queued(&self) -> usize {
        self.room.queued()
    }

    /// Whose last transaction goes to make room for one from `newcomer` at `price` (`queued`:
    /// behind a nonce gap). A runnable newcomer displaces a queued one first — they run
    /// nowhere — whatever it pays, else the cheapest runnable last transaction if it pays more;
    /// a queued newcomer displaces only a cheaper queued one. Never the node's own, nor the
    /// newcomer's (that would open a gap before it); for the node's own newcomer, the cheapest
    /// of anyone else's.
    fn victim(&self, newcomer: &Address, price: Amount, queued: bool) -> Option<Address> {
        let skip = |s: &Address| Some(*s) == self.local || s == newcomer;
        let cheapest_queued = self.room.cheapest(true, skip);
        let cheapest_runnable = self.room.cheapest(false, skip);
        let dearer = |t: &room::Tail| t.0 < price;
        let chosen = if self.local == Some(*newcomer) {
            cheapest_queued.or(cheapest_runnable)
        } else if !queued {
            cheapest_queued.or(cheapest_runnable.filter(dearer))
        } else {
            cheapest_queued.filter(dearer)
        };
        chosen.map(|(_, std::cmp::Reverse(sender))| sender)
    }

    /// Drops `sender`'s last transaction (its earlier ones keep their order).
    fn evict_last(&mut self, sender: &Address) {
        if let Some(queue) = self.by_sender.get_mut(sender)
            && let Some((_, e)) = queue.txs.pop_last()
        {
            self.by_hash.remove(&e.tx.hash);
            self.recount(sender);
        }
    }

    /// At a new head `head`, whose next block runs under `params`: drops transactions the
    /// chain has passed (nonce below the account's); from the first one that no longer meets
    /// the rules on its own (a raised gas price, a lowered limit) or that the sender's balance
    /// no longer covers together with those before it, that one and every later one; and those
    /// waiting behind a nonce gap for over [`QUEUED_BLOCKS`].
    pub fn prune(
        &mut self,
        mut account: impl FnMut(&Address) -> Account,
        head: u64,
        params: &Params,
    ) {
        self.head = head;
        let (chain_id, suite) = (self.chain_id, self.suite);
        let by_hash = &mut self.by_hash;
        self.by_sender.retain(|sender, queue| {
            let Account { nonce, balance } = account(sender);
            queue.base = nonce;
            let mut next = nonce;
            let mut owed = 0u128;
            let mut broken = false;
            queue.txs.retain(|n, e| {
                let t = &e.tx.tx.tx;
                let passed = *n < nonce;
                if !passed {
                    owed = t
                        .max_fee()
                        .and_then(|f| owed.checked_add(f.0))
                        .unwrap_or(u128::MAX);
                    broken = broken
                        || owed > balance.0
                        || t.gas_limit > params.block_gas_limit
                        || check_alone(params, chain_id, suite, &e.tx).is_err();
                }
                let runs = !passed && *n == next;
                if runs {
                    next += 1;
                }
                let keep =
                    !passed && !broken && (runs || head.saturating_sub(e.arrived) <= QUEUED_BLOCKS);
                if !keep {
                    by_hash.remove(&e.tx.hash);
                }
                keep
            });
            !queue.txs.is_empty()
        });
        self.room = Room::default();
        for (sender, queue) in &mut self.by_sender {
            queue.mark = self.room.note(*sender, queue);
        }
    }

    /// Puts the transactions of retracted blocks back; those no longer valid are dropped.
    pub fn reinject(
        &mut self,
        txs: impl IntoIterator<Item = SignedTransaction>,
        min_gas_price: Amount,
        mut account: impl FnMut(&Address) -> Account,
    ) -> usize {
        txs.into_iter()
            .filter(|tx| self.add(tx.clone(), min_gas_price, &mut account).is_ok())
            .count()
    }
}

/// The least gas price that replaces a pending transaction offering `price`.
fn replacement_price(price: Amount) -> Amount {
    Amount(price.0.saturating_add(price.0.div_ceil(10)))
}

#[cfg(test)]
mod tests;
