//! The pool's rules, one by one.

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

/// The next block's parameters as these tests' pool sees them: the defaults at its minimum
/// gas price.
fn params() -> Params {
    Params {
        min_gas_price: MIN,
        ..Params::default()
    }
}

fn pool() -> TxPool {
    let config = PoolConfig {
        max_transactions: 5,
        max_per_sender: 3,
        max_nonce_gap: 4,
        max_queued: 5,
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
    // Full: a runnable newcomer pushes out a's nonce 3, which waits behind a gap.
    p.add(tx(&b, 2, 1), MIN, FRESH).unwrap();
    assert_eq!(p.len(), 5);
    // a: 0, 1; b: 0, 1, 2.
    assert_eq!(p.pending(FRESH, 10).len(), 5);
    assert_eq!(p.pending(FRESH, 3).len(), 3);
    let a_addr = a.public_key().address();
    let a_moved_on = |s: &Address| Account {
        nonce: if *s == a_addr { 2 } else { 0 },
        ..FRESH(s)
    };
    p.prune(a_moved_on, 1, &params());
    assert_eq!(p.len(), 3);
    let reinjected = p.reinject([tx(&a, 0, 1), tx(&a, 2, 1)], MIN, a_moved_on);
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
    p.prune(FRESH, QUEUED_BLOCKS, &params());
    assert_eq!(p.len(), 2);
    p.prune(FRESH, QUEUED_BLOCKS + 1, &params());
    assert_eq!(p.len(), 0);
    // A runnable one does not expire.
    p.add(tx(&a, 0, 1), MIN, FRESH).unwrap();
    p.prune(FRESH, 10 * QUEUED_BLOCKS, &params());
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

#[test]
fn waiting_transactions_the_balance_no_longer_covers_go_at_the_next_head() {
    let a = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
    let mut p = TxPool::new(PoolConfig::default(), 1, Suite::Sm);
    // Queued first while the balance covers them all, then nonce 0, which moves the balance
    // away: once it is in, nothing pays for the rest.
    for n in 1..=4 {
        p.add(tx(&a, n, 1), MIN, FRESH).unwrap();
    }
    p.add(tx(&a, 0, 1), MIN, FRESH).unwrap();
    p.prune(FRESH, 1, &params());
    assert_eq!(p.len(), 5, "still covered");
    let drained = |_: &Address| Account {
        nonce: 1,
        balance: Amount(30_000 * 1_000_000_000), // one gas limit's worth
    };
    p.prune(drained, 2, &params());
    assert_eq!(p.len(), 1, "nonce 1 is covered, 2..4 are not");
    assert_eq!(p.pending(drained, 10)[0].tx.tx.nonce, 1);
    // Every entry must be covered with what already waits.
    assert!(matches!(
        p.add(tx(&a, 2, 1), MIN, drained),
        Err(PoolError::CannotPay { .. })
    ));
}

#[test]
fn a_raised_minimum_gas_price_drops_the_cheap_and_the_nonces_behind_them() {
    let a = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
    let b = SecretKey::from_bytes(Suite::Sm, &[2; 32]).unwrap();
    let mut p = TxPool::new(PoolConfig::default(), 1, Suite::Sm);
    p.add(tx(&a, 0, 1), MIN, FRESH).unwrap();
    p.add(tx(&a, 1, 5), MIN, FRESH).unwrap();
    p.add(tx(&b, 0, 5), MIN, FRESH).unwrap();
    let raised = Params {
        min_gas_price: Amount(2 * MIN.0),
        ..params()
    };
    p.prune(FRESH, 1, &raised);
    assert_eq!(
        p.len(),
        1,
        "a's 1-gwei nonce 0 and its nonce 1 go; b's stays"
    );
    let lowered_limit = Params {
        block_gas_limit: 29_999,
        ..params()
    };
    p.prune(FRESH, 2, &lowered_limit);
    assert!(p.is_empty(), "a 30,000-gas limit no block can hold");
}

#[test]
fn at_most_max_queued_wait_behind_gaps_and_they_make_room_first() {
    let keys: Vec<SecretKey> = (1..=8u8)
        .map(|i| SecretKey::from_bytes(Suite::Sm, &[i; 32]).unwrap())
        .collect();
    let config = PoolConfig {
        max_transactions: 4,
        max_queued: 2,
        ..PoolConfig::default()
    };
    let mut p = TxPool::new(config, 1, Suite::Sm);
    p.add(tx(&keys[0], 1, 1), MIN, FRESH).unwrap();
    p.add(tx(&keys[1], 1, 1), MIN, FRESH).unwrap();
    assert_eq!(
        p.add(tx(&keys[2], 1, 1), MIN, FRESH),
        Err(PoolError::QueueFull(2))
    );
    // A dearer queued one takes a cheaper one's place.
    p.add(tx(&keys[2], 1, 2), MIN, FRESH).unwrap();
    assert_eq!(p.len(), 2);
    // Runnable ones fill the pool, then push the queued out whatever they pay.
    p.add(tx(&keys[3], 0, 1), MIN, FRESH).unwrap();
    p.add(tx(&keys[4], 0, 1), MIN, FRESH).unwrap();
    assert_eq!(p.len(), 4);
    p.add(tx(&keys[5], 0, 1), MIN, FRESH).unwrap();
    p.add(tx(&keys[6], 0, 1), MIN, FRESH).unwrap();
    assert_eq!(p.len(), 4);
    assert_eq!(p.pending(FRESH, 10).len(), 4, "only runnable ones are left");
    // Now only a dearer one gets in.
    assert_eq!(
        p.add(tx(&keys[7], 0, 1), MIN, FRESH),
        Err(PoolError::PoolFull)
    );
}

#[test]
fn the_nodes_own_transactions_enter_a_full_pool_and_are_never_pushed_out() {
    let keys: Vec<SecretKey> = (1..=4u8)
        .map(|i| SecretKey::from_bytes(Suite::Sm, &[i; 32]).unwrap())
        .collect();
    let config = PoolConfig {
        max_transactions: 2,
        ..PoolConfig::default()
    };
    let mut p = TxPool::new(config, 1, Suite::Sm);
    let me = keys[0].public_key().address();
    p.set_local(me);
    p.add(tx(&keys[1], 0, 9), MIN, FRESH).unwrap();
    p.add(tx(&keys[2], 0, 9), MIN, FRESH).unwrap();
    // Full of dearer transactions: the node's own proof at the minimum still goes in.
    let mine = p.add(tx(&keys[0], 0, 1), MIN, FRESH).unwrap();
    assert_eq!(p.len(), 2);
    assert!(p.get(&mine).is_some());
    // And a dearer stranger cannot push it out.
    p.add(tx(&keys[3], 0, 50), MIN, FRESH).unwrap();
    assert!(p.get(&mine).is_some());
}

#[test]
fn room_is_never_made_from_the_newcomers_own_queue() {
    let a = SecretKey::from_bytes(Suite::Sm, &[1; 32]).unwrap();
    let b = SecretKey::from_bytes(Suite::Sm, &[2; 32]).unwrap();
    let config = PoolConfig {
        max_transactions: 3,
        ..PoolConfig::default()
    };
    let mut p = TxPool::new(config, 1, Suite::Sm);
    p.add(tx(&a, 0, 1), MIN, FRESH).unwrap();
    p.add(tx(&a, 1, 1), MIN, FRESH).unwrap();
    p.add(tx(&b, 0, 5), MIN, FRESH).unwrap();
    // a's own cheap tail is not evicted to make room for a's next nonce (it would open a gap
    // before it); b's is dearer than the newcomer.
    assert_eq!(p.add(tx(&a, 2, 3), MIN, FRESH), Err(PoolError::PoolFull));
    assert_eq!(p.len(), 3);
}

/// The pool's counts against a walk over every entry, and its choice of what to drop against
/// the rule written out plainly.
fn assert_room_agrees(p: &TxPool) {
    let mut queued = 0;
    let mut tails = Vec::new();
    for (sender, q) in &p.by_sender {
        let run_end = q.run_end(q.base);
        queued += q.txs.range(run_end..).count();
        let (&last, e) = q.txs.last_key_value().expect("no empty queues");
        tails.push((last >= run_end, e.tx.tx.tx.gas_price, *sender));
    }
    assert_eq!(p.room.queued(), queued);
    let newcomer = Address([0xee; 20]);
    for price in [MIN, Amount(3 * MIN.0), Amount(100 * MIN.0)] {
        for is_queued in [false, true] {
            let cheapest = |want_queued: bool| {
                tails
                    .iter()
                    .filter(|(q, _, s)| *q == want_queued && Some(*s) != p.local)
                    .min_by_key(|(_, price, s)| (*price, std::cmp::Reverse(*s)))
                    .map(|(_, price, s)| (*price, *s))
            };
            let expected = if is_queued {
                cheapest(true).filter(|(pr, _)| *pr < price)
            } else {
                cheapest(true).or(cheapest(false).filter(|(pr, _)| *pr < price))
            }
            .map(|(_, s)| s);
            assert_eq!(p.victim(&newcomer, price, is_queued), expected);
        }
    }
}

#[test]
fn the_pools_counts_follow_every_change() {
    let keys: Vec<SecretKey> = (1..=6u8)
        .map(|i| SecretKey::from_bytes(Suite::Sm, &[i; 32]).unwrap())
        .collect();
    let config = PoolConfig {
        max_transactions: 16,
        max_per_sender: 6,
        max_nonce_gap: 8,
        max_queued: 3,
    };
    let mut p = TxPool::new(config, 1, Suite::Sm);
    p.set_local(keys[5].public_key().address());
    // A fixed pseudo-random walk of adds (mostly each sender's next nonce, some behind a gap,
    // some replacing), removals, and prunes as the chain's nonces move on.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut hashes = Vec::new();
    let (mut full, mut queue_full, mut most) = (0, 0, 0);
    let mut chain_nonce = 0u64;
    for step in 0..600u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = &keys[(x % 6) as usize];
        let account = move |_: &Address| Account {
            nonce: chain_nonce,
            ..FRESH(&Address::ZERO)
        };
        match (x >> 8) % 16 {
            0 if !hashes.is_empty() => {
                let h = hashes.swap_remove(((x >> 16) as usize) % hashes.len());
                p.remove(&h);
            }
            1 => {
                chain_nonce += (x >> 20) % 2;
                p.prune(account, step, &params());
            }
            _ => {
                let sender = key.public_key().address();
                let nonce = if (x >> 24) % 10 < 6 {
                    p.next_nonce(&sender, chain_nonce)
                } else {
                    chain_nonce + (x >> 28) % 8
                };
                match p.add(tx(key, nonce, u128::from(1 + (x >> 32) % 5)), MIN, account) {
                    Ok(h) => hashes.push(h),
                    Err(PoolError::PoolFull) => full += 1,
                    Err(PoolError::QueueFull(_)) => queue_full += 1,
                    Err(_) => {}
                }
            }
        }
        assert!(
            p.len() <= 16 + 6,
            "over the cap by more than the node's own"
        );
        most = most.max(p.len());
        assert_room_agrees(&p);
    }
    // The walk reached both caps, or it proved little.
    assert!(
        full > 0 && queue_full > 0 && most >= 16,
        "{full} {queue_full} {most}"
    );
}
