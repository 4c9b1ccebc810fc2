//! The storage market through `apply_block`: stakes, deals with escrow, challenges drawn at
//! each deal's own boundaries, proofs checked on chain, misses that refund the owner and slash
//! the holder, the end of a deal, bad terms refused with their codes, and the per-block bound
//! on boundary work.

mod common;

use std::collections::HashMap;

use common::{Harness, code, file};
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, Hash, StorageAction};
use metamesh_state::{
    Code, CollectionId, Deal, Event, StorageEvent, StorageNode, deal_id, escrow_account,
};
use metamesh_storage::{Cid, build_proof};

fn offer(stake: u128, price: &str) -> StorageAction {
    StorageAction::Offer {
        capacity: 1 << 30,
        price: price.parse().unwrap(),
        stake: Amount::from_mmt(stake),
    }
}

fn deal(
    cid: &Cid,
    blocks: &HashMap<Cid, Vec<u8>>,
    replicas: u64,
    duration: u64,
    price: &str,
) -> StorageAction {
    StorageAction::Deal {
        cid: cid.to_bytes(),
        root: blocks[cid].clone(),
        replicas,
        duration,
        price: price.parse().unwrap(),
    }
}

fn the_deal(h: &Harness, id: &Hash) -> Deal {
    h.state.load(id).unwrap().unwrap()
}

fn proof(h: &Harness, id: &Hash, who: &Address, blocks: &HashMap<Cid, Vec<u8>>) -> StorageAction {
    let d = the_deal(h, id);
    let ch = d
        .holders
        .iter()
        .find(|x| x.provider == *who)
        .unwrap()
        .challenge
        .unwrap();
    let root = metamesh_storage::cid_from_bytes(&d.cid).unwrap();
    let p = build_proof(blocks, &root, ch.offset).unwrap();
    StorageAction::Prove {
        deal: *id,
        epoch: ch.epoch,
        path: p.path,
        leaf: p.leaf,
    }
}

/// The storage module holds exactly the escrows, reserves and stakes its records say.
fn assert_module_balance(h: &Harness, deals: &[Hash], nodes: &[Address]) {
    let escrows: u128 = deals
        .iter()
        .map(|d| the_deal(h, d).escrow.0 + the_deal(h, d).reserve.0)
        .sum();
    let stakes: u128 = nodes
        .iter()
        .map(|n| {
            h.state
                .load::<StorageNode>(n)
                .unwrap()
                .map_or(0, |s| s.stake.0)
        })
        .sum();
    assert_eq!(h.balance(&escrow_account(h.suite)).0, escrows + stakes);
}

#[test]
fn a_deal_pays_passes_slashes_misses_and_refunds_the_rest() {
    for suite in Suite::ALL {
        let mut h = Harness::new(suite, 3, |_| {});
        let (o, k, l) = (h.user(0), h.user(1), h.user(2));
        let size = 262_144 * 5 + 99;
        let (cid, blocks) = file(size, 1);
        let txs = [h.tx(1, offer(100, "0.5")), h.tx(2, offer(100, "0.5"))];
        let out = h.block(&txs).unwrap();
        assert!(
            out.tx_receipts().iter().all(|r| r.outcome.is_ok()),
            "{out:?}"
        );
        assert_eq!(h.balance(&escrow_account(suite)), Amount::from_mmt(200));

        let before = h.balance(&o);
        let r = h.run(0, deal(&cid, &blocks, 2, 35, "1"));
        assert!(r.outcome.is_ok(), "{r:?}");
        let start = h.number;
        let id = deal_id(suite, &o, 0);
        // 35 blocks: challenges at start+10, +20, +30 (judged at +20, +30, +40): 2 × 3 × 1 MMT.
        let d = the_deal(&h, &id);
        assert_eq!(
            (d.escrow, d.size, d.end),
            (Amount::from_mmt(6), size as u64, start + 40)
        );
        // The reserve for the sealers of its four boundaries: 30,000 gas × 2 replicas each, at
        // the opening transaction's gas price.
        let price = h.params().min_gas_price.0;
        assert_eq!(d.fee.0, price * 30_000 * 2);
        assert_eq!(d.reserve.0, d.fee.0 * 4);
        let fee = Amount(price * u128::from(r.gas_used));
        assert_eq!(
            h.balance(&o).0,
            before.0 - Amount::from_mmt(6).0 - d.reserve.0 - fee.0
        );

        let txs = [
            h.tx(1, StorageAction::Accept { deal: id }),
            h.tx(2, StorageAction::Accept { deal: id }),
        ];
        assert!(
            h.block(&txs)
                .unwrap()
                .tx_receipts()
                .iter()
                .all(|r| r.outcome.is_ok())
        );
        let third = h.run(0, StorageAction::Accept { deal: id });
        assert_eq!(code(&third), Some(Code::NotAStorageNode));
        let node: StorageNode = h.state.load(&k).unwrap().unwrap();
        assert_eq!(
            (node.committed, node.bonded),
            (size as u64, Amount::from_mmt(10))
        );

        let mut slashed_total = 0u128;
        for epoch in 1..=3u64 {
            let sealed = h.balance(&h.sealer);
            let boundary = h.until(start + 10 * epoch);
            // The sealer of the boundary's block was paid for it from the reserve.
            let boundary_fee = the_deal(&h, &id).fee;
            let module = escrow_account(suite);
            assert!(boundary.iter().any(|e| matches!(e,
                Event::Accounts(metamesh_state::AccountEvent::Fee { from, amount, .. })
                if *from == module && *amount == boundary_fee)));
            assert!(h.balance(&h.sealer).0 >= sealed.0 + boundary_fee.0);
            assert!(boundary.iter().any(|e| matches!(e,
                Event::Storage(StorageEvent::ChallengeIssued { provider, epoch: ep, deadline, .. })
                if *provider == k && *ep == epoch && *deadline == start + 10 * epoch + 5)));
            if epoch > 1 {
                let missed: Vec<Amount> = boundary
                    .iter()
                    .filter_map(|e| match e {
                        Event::Storage(StorageEvent::Missed {
                            provider, slashed, ..
                        }) if *provider == l => Some(*slashed),
                        _ => None,
                    })
                    .collect();
                assert_eq!(missed.len(), 1);
                slashed_total += missed[0].0;
            }
            let paid_before = h.balance(&k);
            let StorageAction::Prove {
                deal: dl,
                epoch: e,
                path,
                mut leaf,
            } = proof(&h, &id, &k, &blocks)
            else {
                unreachable!()
            };
            leaf[0] ^= 1;
            let tampered = StorageAction::Prove {
                deal: dl,
                epoch: e,
                path: path.clone(),
                leaf,
            };
            assert_eq!(code(&h.run(1, tampered)), Some(Code::ProofHash));
            let wrong = StorageAction::Prove {
                deal: dl,
                epoch: e + 1,
                path,
                leaf: vec![],
            };
            assert_eq!(code(&h.run(1, wrong)), Some(Code::WrongEpoch));
            let fees_before = h.balance(&k);
            let r = h.run(1, proof(&h, &id, &k, &blocks));
            assert!(r.outcome.is_ok(), "{r:?}");
            let reward = Amount(h.params().storage_reward.0 * size as u128 / (1u128 << 30));
            assert!(r.events.iter().any(|e| matches!(e,
                Event::Storage(StorageEvent::Proved { provider, paid, reward: got, .. })
                if *provider == k && *paid == Amount::from_mmt(1) && *got == reward)));
            let fee = Amount(h.params().min_gas_price.0 * u128::from(r.gas_used));
            assert_eq!(
                h.balance(&k).0 + fee.0,
                fees_before.0 + Amount::from_mmt(1).0 + reward.0
            );
            assert!(h.balance(&k) < paid_before.checked_add(Amount::from_mmt(2)).unwrap());
            let again = h.run(
                1,
                StorageAction::Prove {
                    deal: id,
                    epoch,
                    path: vec![],
                    leaf: vec![1],
                },
            );
            assert_eq!(code(&again), Some(Code::NoOpenChallenge));
            h.assert_supply();
            assert_module_balance(&h, &[id], &[k, l]);
        }
        // The last boundary: the loser's third miss, the end of the deal.
        let at_end = h.balance(&o);
        let last = h.until(start + 40);
        assert!(last.iter().any(|e| matches!(e, Event::Storage(StorageEvent::Missed { provider, epoch: 3, .. }) if *provider == l)));
        assert!(last.iter().any(
            |e| matches!(e, Event::Storage(StorageEvent::DealEnded { deal, .. }) if *deal == id)
        ));
        assert_eq!(
            h.balance(&o).0 - at_end.0,
            Amount::from_mmt(1).0,
            "the third epoch's price back"
        );
        // Slashes: 10% of what is left of the bond each time: 1, 0.9, 0.81 MMT.
        slashed_total += last
            .iter()
            .filter_map(|e| match e {
                Event::Storage(StorageEvent::Missed { slashed, .. }) => Some(slashed.0),
                _ => None,
            })
            .sum::<u128>();
        assert_eq!(Amount(slashed_total), "2.71".parse().unwrap());
        let lost: StorageNode = h.state.load(&l).unwrap().unwrap();
        let kept: StorageNode = h.state.load(&k).unwrap().unwrap();
        assert_eq!(
            (lost.passes, lost.misses, lost.committed, lost.bonded),
            (0, 3, 0, Amount::ZERO)
        );
        assert_eq!(lost.stake, "97.29".parse().unwrap());
        assert_eq!(
            (kept.passes, kept.misses, kept.committed, kept.bonded),
            (3, 0, 0, Amount::ZERO)
        );
        let d = the_deal(&h, &id);
        assert!(d.ended() && d.escrow == Amount::ZERO && d.reserve == Amount::ZERO);
        assert!(
            h.state
                .entries(CollectionId::RunningDeals, &[], 10)
                .unwrap()
                .is_empty()
        );
        assert_module_balance(&h, &[id], &[k, l]);
        h.assert_supply();
        // Stake no longer bonded can be taken back.
        let r = h.run(
            2,
            StorageAction::Offer {
                capacity: 0,
                price: Amount::ZERO,
                stake: Amount::ZERO,
            },
        );
        assert!(r.outcome.is_ok(), "{r:?}");
        assert_module_balance(&h, &[id], &[k, l]);
        h.assert_supply();
    }
}

#[test]
fn deals_refuse_bad_terms_and_bad_files_with_their_codes() {
    let mut h = Harness::new(Suite::Sm, 2, |_| {});
    let (cid, blocks) = file(5_000, 2);
    let (big, big_blocks) = file(262_144 * 2, 3);
    let r = |h: &mut Harness, a: StorageAction| code(&h.run(0, a));
    assert_eq!(
        r(
            &mut h,
            StorageAction::Deal {
                cid: b"Qm".to_vec(),
                root: vec![],
                replicas: 1,
                duration: 20,
                price: Amount::from_mmt(1)
            }
        ),
        Some(Code::BadCid)
    );
    assert_eq!(
        r(
            &mut h,
            StorageAction::Deal {
                cid: cid.to_bytes(),
                root: big_blocks[&big].clone(),
                replicas: 1,
                duration: 20,
                price: Amount::from_mmt(1)
            }
        ),
        Some(Code::RootHash)
    );
    assert_eq!(
        r(&mut h, deal(&cid, &blocks, 0, 20, "1")),
        Some(Code::BadReplicas)
    );
    assert_eq!(
        r(&mut h, deal(&cid, &blocks, 17, 20, "1")),
        Some(Code::BadReplicas)
    );
    assert_eq!(
        r(&mut h, deal(&cid, &blocks, 1, 10, "1")),
        Some(Code::BadDuration)
    );
    assert_eq!(
        r(&mut h, deal(&cid, &blocks, 1, 20, "0")),
        Some(Code::EscrowTooSmall)
    );
    assert_eq!(
        r(&mut h, deal(&cid, &blocks, 1, 20, "100000")),
        Some(Code::InsufficientBalance)
    );
    let huge = StorageAction::Deal {
        cid: cid.to_bytes(),
        root: blocks[&cid].clone(),
        replicas: 16,
        duration: 1_000_000,
        price: Amount(u128::MAX / 2),
    };
    assert_eq!(r(&mut h, huge), Some(Code::EscrowOverflow));
    // A directory is not a file.
    let dir = metamesh_storage::Block::new(
        metamesh_storage::CidVersion::V0,
        0x70,
        vec![0x0a, 0x02, 0x08, 0x01],
    );
    let dir_deal = StorageAction::Deal {
        cid: dir.cid.to_bytes(),
        root: dir.data.clone(),
        replicas: 1,
        duration: 20,
        price: Amount::from_mmt(1),
    };
    assert_eq!(r(&mut h, dir_deal), Some(Code::NotAFile));
    assert!(
        h.run(0, deal(&big, &big_blocks, 1, 20, "0.1"))
            .outcome
            .is_ok()
    );
    h.assert_supply();
}

#[test]
fn acceptance_needs_a_node_with_room_price_and_stake() {
    let mut h = Harness::new(Suite::Eth, 2, |_| {});
    let (cid, blocks) = file(5_000, 4);
    assert!(h.run(0, deal(&cid, &blocks, 2, 40, "0.1")).outcome.is_ok());
    let id = deal_id(h.suite, &h.user(0), 0);
    let accept = StorageAction::Accept { deal: id };
    assert_eq!(code(&h.run(1, accept.clone())), Some(Code::NotAStorageNode));
    assert_eq!(
        code(&h.run(1, StorageAction::Accept { deal: [9; 32] })),
        Some(Code::NoSuchDeal)
    );
    h.run(0, offer(100, "0"));
    assert_eq!(code(&h.run(0, accept.clone())), Some(Code::OwnerCannotHold));
    h.run(
        1,
        StorageAction::Offer {
            capacity: 100,
            price: Amount::ZERO,
            stake: Amount::from_mmt(100),
        },
    );
    assert_eq!(code(&h.run(1, accept.clone())), Some(Code::NoRoom));
    h.run(1, offer(100, "1"));
    assert_eq!(code(&h.run(1, accept.clone())), Some(Code::PriceBelowAsk));
    h.run(1, offer(5, "0.01"));
    assert_eq!(code(&h.run(1, accept.clone())), Some(Code::StakeTooSmall));
    h.run(1, offer(10, "0.01"));
    assert!(h.run(1, accept.clone()).outcome.is_ok());
    assert_eq!(code(&h.run(1, accept)), Some(Code::AlreadyHolds));
    // Bonded stake stays; capacity cannot drop below what is held.
    let lower = StorageAction::Offer {
        capacity: 1 << 30,
        price: Amount::ZERO,
        stake: Amount::from_mmt(9),
    };
    assert_eq!(code(&h.run(1, lower)), Some(Code::StakeBelowBonded));
    let shrink = StorageAction::Offer {
        capacity: 10,
        price: Amount::ZERO,
        stake: Amount::from_mmt(10),
    };
    assert_eq!(code(&h.run(1, shrink)), Some(Code::CapacityBelowCommitted));
    let poor = StorageAction::Offer {
        capacity: 1 << 30,
        price: Amount::ZERO,
        stake: Amount::from_mmt(5_000),
    };
    assert_eq!(code(&h.run(1, poor)), Some(Code::InsufficientBalance));
    assert_module_balance(&h, &[id], &[h.user(0), h.user(1)]);
    h.assert_supply();
}

/// The due block of every scheduled boundary.
fn schedule(h: &Harness) -> Vec<u64> {
    h.state
        .entries(CollectionId::DealSchedule, &[], 100)
        .unwrap()
        .iter()
        .map(|(k, _)| u64::from_be_bytes(k[..8].try_into().unwrap()))
        .collect()
}

/// Three deals opened in one block and taken by one node in the next: until then only their
/// ends are scheduled, then their first boundaries, ten blocks after the opening.
fn three_held_deals(tweak: impl FnOnce(&mut metamesh_state::Genesis)) -> (Harness, u64) {
    let mut h = Harness::new(Suite::Sm, 4, tweak);
    assert!(h.run(3, offer(100, "0")).outcome.is_ok());
    let (cid, blocks) = file(2_000, 5);
    let txs: Vec<_> = (0..3)
        .map(|i| h.tx(i, deal(&cid, &blocks, 1, 30, "0.1")))
        .collect();
    let out = h.block(&txs).unwrap();
    assert!(out.tx_receipts().iter().all(|r| r.outcome.is_ok()));
    let start = h.number;
    assert_eq!(schedule(&h), vec![start + 30; 3], "nobody holds them yet");
    let nonce = h.nonce(&h.user(3));
    let accepts: Vec<_> = (0..3)
        .map(|i| {
            let id = deal_id(Suite::Sm, &h.user(i), 0);
            h.signed(
                3,
                nonce + i as u64,
                common::GAS,
                StorageAction::Accept { deal: id }.into(),
            )
        })
        .collect();
    let out = h.block(&accepts).unwrap();
    assert!(
        out.tx_receipts().iter().all(|r| r.outcome.is_ok()),
        "{out:?}"
    );
    assert_eq!(schedule(&h), vec![start + 10; 3]);
    (h, start)
}

#[test]
fn a_block_processes_at_most_max_due_deals_boundaries() {
    let (mut h, start) = three_held_deals(|g| g.params.max_due_deals = 2);
    h.until(start + 9);
    // Three deals due at start+10: two boundaries in that block, the third in the next.
    h.until(start + 10);
    let due = schedule(&h);
    assert_eq!(
        due.iter().filter(|d| **d == start + 10).count(),
        1,
        "{due:?}"
    );
    h.until(start + 11);
    let due = schedule(&h);
    assert!(due.iter().all(|d| *d > start + 11), "{due:?}");
    assert_eq!(due.len(), 3);
    h.assert_supply();
}

#[test]
fn a_block_draws_no_more_challenges_than_their_proofs_fit() {
    // Room for one largest-possible proof per block: before any proof of these deals, each
    // challenge counts as that large, so their boundaries spread over three blocks.
    let (mut h, start) = three_held_deals(|g| {
        g.params.max_challenge_bytes = g.params.max_proof_tx_bytes;
    });
    let issued = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Storage(StorageEvent::ChallengeIssued { .. })))
            .count()
    };
    let mut per_block = Vec::new();
    for n in start + 10..=start + 12 {
        per_block.push(issued(&h.until(n)));
    }
    assert_eq!(per_block, vec![1, 1, 1]);
    // Once proofs have shown how small they are (one leaf of 2,000 bytes in its UnixFS
    // wrapping), all three fit a block.
    let (_, blocks) = file(2_000, 5);
    for i in 0..3 {
        let id = deal_id(Suite::Sm, &h.user(i), 0);
        let r = h.run(3, proof(&h, &id, &h.user(3), &blocks));
        assert!(r.outcome.is_ok(), "{r:?}");
        assert!((2_000..2_100).contains(&the_deal(&h, &id).proof_bytes));
    }
    let next = schedule(&h).into_iter().min().unwrap();
    h.until(next - 1);
    let mut issued_after = 0;
    for n in next..next + 3 {
        issued_after += issued(&h.until(n));
        if n == next {
            assert_eq!(issued_after, 3, "all three in one block");
        }
    }
    h.assert_supply();
}
