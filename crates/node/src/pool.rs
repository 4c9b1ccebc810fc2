//! The transaction pool: signatures checked once on entry, per-sender nonce order, replacement
//! only for a gas price at least 10 % higher, global and per-sender limits (a full pool makes
//! room by dropping the cheapest sender's last transaction), and re-injection after a reorg.
//!
//! ```text
//! add(tx, account) ─▶ decode/verify once ─▶ checks ─▶ by sender, by nonce
//! pending(accounts) ─▶ each sender's run of consecutive nonces from its account nonce, the
//!                      runs merged highest gas price first
//! prune(accounts, head) ─▶ drop what the chain has passed, and queued transactions (behind a
//!                      nonce gap) older than QUEUED_BLOCKS; remove(hash) ─▶ what a block refused
//! reinject(retracted) ─▶ add again
//! ```

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, Hash, SignedTransaction};
use metamesh_state::{Account, VerifiedTx};

/// Blocks a transaction may wait behind a nonce gap before the pool lets it go.
pub const QUEUED_BLOCKS: u64 = 600;

/// One pooled transaction and the head it arrived at.
#[derive(Debug)]
struct Entry {
    tx: VerifiedTx,
    arrived: u64,
}

/// Limits of the pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    pub max_transactions: usize,
    pub max_per_sender: usize,
    /// How far past the account's nonce a transaction may wait.
    pub max_nonce_gap: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_transactions: 20_000,
            max_per_sender: 256,
            max_nonce_gap: 256,
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
    #[error(
        "the sender cannot pay the gas limits ({fee} in all; balance {balance}) of its queued transactions"
    )]
    CannotPay { balance: Amount, fee: Amount },
}

/// Pending transactions.
#[derive(Debug)]
pub struct TxPool {
    config: PoolConfig,
    chain_id: u64,
    suite: Suite,
    by_sender: BTreeMap<Address, BTreeMap<u64, Entry>>,
    by_hash: HashMap<Hash, (Address, u64)>,
    /// The head number new transactions arrive at (set by `prune`).
    head: u64,
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
        }
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
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    pub fn get(&self, hash: &Hash) -> Option<&VerifiedTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|e| &e.tx)
    }

    /// Drops one transaction (a block builder found it invalid whatever the block).
    pub fn remove(&mut self, hash: &Hash) -> bool {
        let Some((sender, nonce)) = self.by_hash.remove(hash) else {
            return false;
        };
        if let Some(queue) = self.by_sender.get_mut(&sender) {
            queue.remove(&nonce);
            if queue.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
        true
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
        let sender = self.admit(&verified, min_gas_price, account)?;
        let (hash, nonce) = (verified.hash, verified.tx.tx.nonce);
        let replaces = self
            .by_sender
            .get(&sender)
            .is_some_and(|q| q.contains_key(&nonce));
        if !replaces && self.by_hash.len() >= self.config.max_transactions {
            self.evict_cheapest();
        }
        let entry = Entry {
            tx: verified,
            arrived: self.head,
        };
        let queue = self.by_sender.entry(sender).or_default();
        if let Some(old) = queue.insert(nonce, entry) {
            self.by_hash.remove(&old.tx.hash);
        }
        self.by_hash.insert(hash, (sender, nonce));
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
        // A later nonce waits only if its sender could pay for it and for everything else it
        // has waiting; otherwise fresh keys could fill the pool with transactions that never
        // run. (The next nonce meets the full checks of the state transition on entry.)
        let queue = self.by_sender.get(&sender);
        if t.nonce > account.nonce {
            let others = queue.map_or(Some(0u128), |q| {
                q.iter()
                    .filter(|(n, _)| **n != t.nonce)
                    .try_fold(0u128, |sum, (_, e)| {
                        sum.checked_add(e.tx.tx.tx.max_fee()?.0)
                    })
            });
            let total = others
                .zip(t.max_fee())
                .and_then(|(o, f)| o.checked_add(f.0))
                .unwrap_or(u128::MAX);
            if account.balance.0 < total {
                return Err(PoolError::CannotPay {
                    balance: account.balance,
                    fee: Amount(total),
                });
            }
        }
        match queue.and_then(|q| q.get(&t.nonce)) {
            // A bump of at least a tenth, so replacing costs something and the gossip of
            // replacements cannot run for free.
            Some(existing) if t.gas_price < replacement_price(existing.tx.tx.tx.gas_price) => Err(
                PoolError::ReplacementUnderpriced(replacement_price(existing.tx.tx.tx.gas_price).0),
            ),
            Some(_) => Ok(sender),
            None if queue.map_or(0, BTreeMap::len) >= self.config.max_per_sender => {
                Err(PoolError::SenderFull(queue.map_or(0, BTreeMap::len)))
            }
            None if self.by_hash.len() >= self.config.max_transactions
                && self
                    .cheapest_tail()
                    .is_none_or(|(_, price)| t.gas_price <= price) =>
            {
                Err(PoolError::PoolFull)
            }
            None => Ok(sender),
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
            if let Some(e) = queue.get(&next) {
                heap.push((e.tx.tx.tx.gas_price, std::cmp::Reverse(*sender), next));
            }
        }
        let mut out = Vec::new();
        while let Some((_, std::cmp::Reverse(sender), nonce)) = heap.pop() {
            if out.len() >= max {
                break;
            }
            let queue = &self.by_sender[&sender];
            out.push(queue[&nonce].tx.clone());
            if let Some(e) = queue.get(&(nonce + 1)) {
                heap.push((e.tx.tx.tx.gas_price, std::cmp::Reverse(sender), nonce + 1));
            }
        }
        out
    }

    /// The sender whose last transaction offers the least, and that price.
    fn cheapest_tail(&self) -> Option<(Address, Amount)> {
        self.by_sender
            .iter()
            .filter_map(|(s, q)| q.values().next_back().map(|e| (*s, e.tx.tx.tx.gas_price)))
            .min_by_key(|(s, price)| (*price, std::cmp::Reverse(*s)))
    }

    /// Makes room: the cheapest sender's last transaction goes (its earlier ones keep their
    /// order).
    fn evict_cheapest(&mut self) {
        let Some((sender, _)) = self.cheapest_tail() else {
            return;
        };
        if let Some(queue) = self.by_sender.get_mut(&sender)
            && let Some((_, e)) = queue.pop_last()
        {
            self.by_hash.remove(&e.tx.hash);
            if queue.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
    }

    /// At a new head `head`: drops transactions the chain has passed (nonce below the
    /// account's), and those waiting behind a nonce gap for over [`QUEUED_BLOCKS`].
    pub fn prune(&mut self, mut account: impl FnMut(&Address) -> Account, head: u64) {
        self.head = head;
        let by_hash = &mut self.by_hash;
        self.by_sender.retain(|sender, queue| {
            let nonce = account(sender).nonce;
            let mut next = nonce;
            queue.retain(|n, e| {
                let passed = *n < nonce;
                let runs = !passed && *n == next;
                if runs {
                    next += 1;
                }
                let keep = !passed && (runs || head.saturating_sub(e.arrived) <= QUEUED_BLOCKS);
                if !keep {
                    by_hash.remove(&e.tx.hash);
                }
                keep
            });
            !queue.is_empty()
        });
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
mod tests {
    use super::*;
    use metamesh_crypto::SecretKey;
    use metamesh_primitives::{AccountAction, Transaction};

    /// The least gas price these tests' pool takes.
    const MIN: Amount = Amount(1_000_000_000);

    fn tx(key: &SecretKey, nonce: u64, price_gwei: u128) -> SignedTransaction {
        Transaction {
            chain_id: 1,
            nonce,
            gas_price: Amount(price_gwei * 1_000_000_000),
            gas_limit: 30_000,
            action: AccountAction::Transfer {
                to: Address([7; 20]),
                amount: Amount(1),
            }
            .into(),
        }
        .sign(key)
        .unwrap()
    }

    fn pool() -> TxPool {
        let config = PoolConfig {
            max_transactions: 5,
            max_per_sender: 3,
            max_nonce_gap: 4,
        };
        TxPool::new(config, 1, Suite::Sm)
    }

    /// A funded account at nonce 0.
    const FRESH: fn(&Address) -> Account = |_| Account {
        nonce: 0,
        balance: Amount::from_mmt(1_000),
    };
    const EMPTY: fn(&Address) -> Account = |_| Account::default();

    #[test]
    fn a_queued_nonce_needs_a_sender_that_can_pay() {
        let key = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
        let mut p = pool();
        assert!(matches!(
            p.add(tx(&key, 1, 1), MIN, EMPTY),
            Err(PoolError::CannotPay { .. })
        ));
        assert!(p.add(tx(&key, 1, 1), MIN, FRESH).is_ok());
    }

    #[test]
    fn entry_checks_name_their_reason() {
        let key = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
        let mut p = pool();
        let first = tx(&key, 0, 1);
        p.add(first.clone(), MIN, FRESH).unwrap();
        assert_eq!(p.add(first, MIN, FRESH), Err(PoolError::AlreadyKnown));
        let moved_on = |_: &Address| Account {
            nonce: 1,
            ..Account::default()
        };
        assert_eq!(
            p.add(tx(&key, 0, 2), MIN, moved_on),
            Err(PoolError::StaleNonce { account: 1, got: 0 })
        );
        assert_eq!(
            p.add(tx(&key, 3, 0), MIN, FRESH),
            Err(PoolError::GasPriceTooLow {
                price: 0,
                min: MIN.0
            })
        );
        assert!(matches!(
            p.add(tx(&key, 9, 1), MIN, FRESH),
            Err(PoolError::NonceGap { .. })
        ));
        let mut wrong_chain = tx(&key, 1, 1);
        wrong_chain.tx.chain_id = 2;
        assert!(matches!(
            p.add(wrong_chain, MIN, FRESH),
            Err(PoolError::WrongChain { .. })
        ));
        let mut forged = tx(&key, 1, 1);
        forged.tx.nonce = 2; // the signature no longer covers it
        assert_eq!(p.add(forged, MIN, FRESH), Err(PoolError::BadSignature));
    }

    #[test]
    fn replacement_needs_a_higher_fee() {
        let key = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
        let mut p = pool();
        p.add(tx(&key, 0, 2), MIN, FRESH).unwrap();
        assert_eq!(
            p.add(tx(&key, 0, 2), MIN, FRESH),
            Err(PoolError::AlreadyKnown)
        );
        let mut same_fee = tx(&key, 0, 2);
        same_fee.tx.action = AccountAction::Transfer {
            to: Address([8; 20]),
            amount: Amount(1),
        }
        .into();
        let same_fee = same_fee.tx.sign(&key).unwrap();
        assert!(matches!(
            p.add(same_fee, MIN, FRESH),
            Err(PoolError::ReplacementUnderpriced(_))
        ));
        // 2 gwei → 2.1 gwei at least: 2.05 is not enough.
        let mut small_bump = tx(&key, 0, 2);
        small_bump.tx.gas_price = Amount(2_050_000_000);
        let small_bump = small_bump.tx.sign(&key).unwrap();
        assert_eq!(
            p.add(small_bump, MIN, FRESH),
            Err(PoolError::ReplacementUnderpriced(2_200_000_000))
        );
        let better = tx(&key, 0, 3);
        let hash = p.add(better, MIN, FRESH).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p.pending(FRESH, 10)[0].hash, hash);
    }

    #[test]
    fn pending_runs_prune_and_limits() {
        let a = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
        let b = SecretKey::from_bytes(Suite::Sm, &[2; 32]).unwrap();
        let mut p = pool();
        for n in [0, 1, 3] {
            p.add(tx(&a, n, 1), MIN, FRESH).unwrap();
        }
        assert!(matches!(
            p.add(tx(&a, 2, 1), MIN, FRESH),
            Err(PoolError::SenderFull(3))
        ));
        p.add(tx(&b, 0, 1), MIN, FRESH).unwrap();
        p.add(tx(&b, 1, 1), MIN, FRESH).unwrap();
        assert_eq!(p.add(tx(&b, 2, 1), MIN, FRESH), Err(PoolError::PoolFull));
        // a: 0, 1 (gap before 3); b: 0, 1.
        assert_eq!(p.pending(FRESH, 10).len(), 4);
        assert_eq!(p.pending(FRESH, 3).len(), 3);
        let a_addr = a.public_key().address();
        p.prune(
            |s| Account {
                nonce: if *s == a_addr { 2 } else { 0 },
                ..Account::default()
            },
            1,
        );
        assert_eq!(p.len(), 3);
        let reinjected = p.reinject([tx(&a, 0, 1), tx(&a, 2, 1)], MIN, |s| Account {
            nonce: if *s == a_addr { 2 } else { 0 },
            ..Account::default()
        });
        assert_eq!(reinjected, 1, "the stale one is dropped, the other fits");
    }

    #[test]
    fn pending_puts_the_higher_price_first_and_keeps_each_senders_nonce_order() {
        let a = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
        let b = SecretKey::from_bytes(Suite::Sm, &[2; 32]).unwrap();
        let mut p = TxPool::new(PoolConfig::default(), 1, Suite::Sm);
        // a: 1 gwei then 9 gwei; b: 5 gwei then 2 gwei.
        p.add(tx(&a, 0, 1), MIN, FRESH).unwrap();
        p.add(tx(&a, 1, 9), MIN, FRESH).unwrap();
        p.add(tx(&b, 0, 5), MIN, FRESH).unwrap();
        p.add(tx(&b, 1, 2), MIN, FRESH).unwrap();
        let order: Vec<(u64, u128)> = p
            .pending(FRESH, 10)
            .iter()
            .map(|t| (t.tx.tx.nonce, t.tx.tx.gas_price.0 / 1_000_000_000))
            .collect();
        // b0 (5), b1 (2), a0 (1) — a1 (9) waits behind a's nonce 0.
        assert_eq!(order, vec![(0, 5), (1, 2), (0, 1), (1, 9)]);
        assert_eq!(p.pending(FRESH, 2).len(), 2);
    }

    #[test]
    fn queued_transactions_need_funds_for_all_and_expire() {
        let a = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
        let mut p = TxPool::new(PoolConfig::default(), 1, Suite::Sm);
        // A balance for two queued gas limits, not three (30,000 gas at 1 gwei each).
        let two = |_: &Address| Account {
            nonce: 0,
            balance: Amount(2 * 30_000 * 1_000_000_000),
        };
        p.add(tx(&a, 1, 1), MIN, two).unwrap();
        p.add(tx(&a, 2, 1), MIN, two).unwrap();
        assert!(matches!(
            p.add(tx(&a, 3, 1), MIN, two),
            Err(PoolError::CannotPay { .. })
        ));
        // Behind the gap at nonce 0 they wait QUEUED_BLOCKS blocks, then go.
        p.prune(FRESH, QUEUED_BLOCKS);
        assert_eq!(p.len(), 2);
        p.prune(FRESH, QUEUED_BLOCKS + 1);
        assert_eq!(p.len(), 0);
        // A runnable one does not expire.
        p.add(tx(&a, 0, 1), MIN, FRESH).unwrap();
        p.prune(FRESH, 10 * QUEUED_BLOCKS);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_full_pool_drops_the_cheapest_last_transaction_for_a_dearer_one() {
        let keys: Vec<SecretKey> = (1..=3u8)
            .map(|i| SecretKey::from_bytes(Suite::Sm, &[i; 32]).unwrap())
            .collect();
        let config = PoolConfig {
            max_transactions: 3,
            ..PoolConfig::default()
        };
        let mut p = TxPool::new(config, 1, Suite::Sm);
        p.add(tx(&keys[0], 0, 5), MIN, FRESH).unwrap();
        let cheap = p.add(tx(&keys[1], 0, 1), MIN, FRESH).unwrap();
        p.add(tx(&keys[1], 1, 3), MIN, FRESH).unwrap();
        // Not dearer than the cheapest last one (3 gwei): refused.
        assert_eq!(
            p.add(tx(&keys[2], 0, 3), MIN, FRESH),
            Err(PoolError::PoolFull)
        );
        // Dearer: the 3-gwei tail of the second sender goes, its nonce 0 stays.
        p.add(tx(&keys[2], 0, 4), MIN, FRESH).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.get(&cheap).is_some());
        assert!(p.remove(&cheap));
        assert_eq!(p.len(), 2);
    }
}
