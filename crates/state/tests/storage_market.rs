//! The storage market through `apply_block`: offers, deals with escrow, challenges from the
//! parent hash, proofs checked on chain, misses, the end of a deal, key grants.

use std::collections::HashMap;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::{Action, Amount, Hash, Transaction};
use metamesh_state::{
    BlockEnv, Deal, Event, Genesis, KeyGrants, Provider, Record, State, StateKey, VerifiedTx,
    apply_block, deal_id, grants_key,
};
use metamesh_storage::{Cid, Profile, build_proof, import_bytes};
use metamesh_trie::MemoryStore;

const CHAIN: u64 = 9;

struct Market {
    suite: Suite,
    state: State<MemoryStore>,
    genesis: Genesis,
    number: u64,
}

impl Market {
    fn new(suite: Suite, users: &[&SecretKey]) -> Market {
        let funded: Vec<Address> = users.iter().map(|k| k.public_key().address()).collect();
        let genesis = Genesis::dev(
            CHAIN,
            suite,
            0,
            1,
            vec![Address([0xee; 20])],
            &funded,
            Amount::from_mmt(1000),
        );
        let mut state = State::empty(suite, MemoryStore::new());
        genesis.apply(&mut state).unwrap();
        Market {
            suite,
            state,
            genesis,
            number: 0,
        }
    }

    /// Applies each transaction in a block of its own (so a rejected one does not hold up the
    /// next one's nonce); returns the outcomes and all events.
    fn block(&mut self, txs: Vec<(&SecretKey, Action)>) -> (Vec<Result<(), String>>, Vec<Event>) {
        if txs.is_empty() {
            return self.one(None);
        }
        let (mut outcomes, mut events) = (Vec::new(), Vec::new());
        for tx in txs {
            let (o, e) = self.one(Some(tx));
            outcomes.extend(o);
            events.extend(e);
        }
        (outcomes, events)
    }

    fn one(&mut self, tx: Option<(&SecretKey, Action)>) -> (Vec<Result<(), String>>, Vec<Event>) {
        self.number += 1;
        let env = BlockEnv {
            chain_id: CHAIN,
            number: self.number,
            timestamp: self.number,
            parent_hash: self.suite.hash(&self.number.to_be_bytes()),
            sealer: Address([0xee; 20]),
            params: self.genesis.params.clone(),
        };
        let txs: Vec<VerifiedTx> = tx
            .into_iter()
            .map(|(key, action)| {
                let nonce = self
                    .state
                    .account(&key.public_key().address())
                    .unwrap()
                    .nonce;
                let tx = Transaction {
                    chain_id: CHAIN,
                    nonce,
                    fee: "0.01".parse().unwrap(),
                    action,
                }
                .sign(key)
                .unwrap();
                VerifiedTx::new(tx, self.suite)
            })
            .collect();
        let out = apply_block(&mut self.state, &env, &txs).unwrap();
        let mut events = out.events.clone();
        events.extend(out.receipts.iter().flat_map(|r| r.events.clone()));
        (
            out.receipts.into_iter().map(|r| r.outcome).collect(),
            events,
        )
    }

    fn until(&mut self, number: u64) -> Vec<Event> {
        let mut events = Vec::new();
        while self.number < number {
            events.extend(self.block(vec![]).1);
        }
        events
    }

    fn deal(&self, id: &Hash) -> Deal {
        self.state.record(&StateKey::Deal(*id)).unwrap().unwrap()
    }

    fn balance(&self, a: &Address) -> Amount {
        self.state.account(a).unwrap().balance
    }
}

fn data(size: usize) -> (Cid, HashMap<Cid, Vec<u8>>) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
    let mut blocks = Vec::new();
    let root = import_bytes(Profile::KUBO_DEFAULT, &bytes, &mut blocks).unwrap();
    (
        root.cid,
        blocks.into_iter().map(|b| (b.cid, b.data)).collect(),
    )
}

fn prove(m: &Market, id: &Hash, who: &Address, source: &HashMap<Cid, Vec<u8>>) -> Action {
    let deal = m.deal(id);
    let ch = deal
        .holders
        .iter()
        .find(|h| h.provider == *who)
        .unwrap()
        .challenge
        .unwrap();
    let proof = build_proof(source, &deal.cid.parse().unwrap(), ch.offset).unwrap();
    Action::ProveStorage {
        deal: *id,
        epoch: ch.epoch,
        path: proof.path,
        leaf: proof.leaf,
    }
}

#[test]
fn a_deal_pays_passes_counts_misses_and_refunds_the_rest() {
    for suite in [Suite::Sm, Suite::Eth] {
        let owner = SecretKey::generate(suite).unwrap();
        let keeper = SecretKey::generate(suite).unwrap();
        let loser = SecretKey::generate(suite).unwrap();
        let (o, k, l) = (
            owner.public_key().address(),
            keeper.public_key().address(),
            loser.public_key().address(),
        );
        let mut m = Market::new(suite, &[&owner, &keeper, &loser]);
        let (cid, blocks) = data(262_144 * 5 + 99);
        let size = 262_144 * 5 + 99;
        let price: Amount = "1".parse().unwrap();
        let offer = Action::StorageOffer {
            capacity: 1 << 30,
            price: "0.5".parse().unwrap(),
        };
        let (r, _) = m.block(vec![(&keeper, offer.clone()), (&loser, offer)]);
        assert_eq!(r, vec![Ok(()), Ok(())]);
        let before = m.balance(&o);
        let (r, _) = m.block(vec![(
            &owner,
            Action::StorageDeal {
                cid: cid.to_string(),
                size,
                replicas: 2,
                duration: 35,
                price,
            },
        )]);
        assert_eq!(r, vec![Ok(())]);
        let id = deal_id(suite, &o, 0);
        // Deal from block 2 to 37: boundaries 10, 20, 30 are challenged: 2 × 3 × 1 MMT.
        assert_eq!(m.deal(&id).escrow, Amount::from_mmt(6));
        assert_eq!(
            m.balance(&o),
            before.checked_sub("6.01".parse().unwrap()).unwrap()
        );
        let (r, _) = m.block(vec![
            (&keeper, Action::AcceptDeal { deal: id }),
            (&loser, Action::AcceptDeal { deal: id }),
        ]);
        assert_eq!(r, vec![Ok(()), Ok(())]);
        let third = SecretKey::generate(suite).unwrap();
        let (r, _) = m.block(vec![(&keeper, Action::AcceptDeal { deal: id })]);
        assert!(
            r[0].as_ref().unwrap_err().contains("every replica"),
            "{r:?}"
        );
        drop(third);

        for epoch in 1..=3u64 {
            m.until(epoch * 10);
            let d = m.deal(&id);
            assert!(d.holders.iter().all(|h| {
                h.challenge
                    .is_some_and(|c| c.epoch == epoch && c.deadline == epoch * 10 + 5)
            }));
            let paid_before = m.balance(&k);
            // A proof for the wrong offset, a tampered leaf, or another epoch: rejected.
            let Action::ProveStorage {
                deal,
                epoch: e,
                path,
                mut leaf,
            } = prove(&m, &id, &k, &blocks)
            else {
                unreachable!()
            };
            leaf[0] ^= 1;
            let (r, _) = m.block(vec![
                (
                    &keeper,
                    Action::ProveStorage {
                        deal,
                        epoch: e,
                        path: path.clone(),
                        leaf,
                    },
                ),
                (
                    &keeper,
                    Action::ProveStorage {
                        deal,
                        epoch: e + 1,
                        path,
                        leaf: vec![],
                    },
                ),
            ]);
            assert!(
                r[0].as_ref().unwrap_err().contains("proof rejected"),
                "{r:?}"
            );
            assert!(r[1].as_ref().unwrap_err().contains("epoch"), "{r:?}");
            let (r, events) = m.block(vec![(&keeper, prove(&m, &id, &k, &blocks))]);
            assert_eq!(r, vec![Ok(())]);
            assert!(events.iter().any(|e| matches!(e, Event::StorageProved { provider, paid, .. } if *provider == k && *paid == price)));
            // Paid the price and the storage reward (0.5 MMT per GiB held, pro rata), less the fee.
            let gained = m.balance(&k).0 + "0.01".parse::<Amount>().unwrap().0 - paid_before.0;
            let reward = Amount::from_mmt(1).0 / 2 * size as u128 / (1u128 << 30);
            assert_eq!(Amount(gained), Amount(price.0 + reward));
            // A second answer to the same challenge is refused.
            let (r, _) = m.block(vec![(&keeper, prove_again(&m, &id))]);
            assert!(
                r[0].as_ref().unwrap_err().contains("no open challenge"),
                "{r:?}"
            );
        }
        // The loser never answered: three misses, each epoch's price back to the owner.
        let at_end = m.balance(&o);
        let events = m.until(40);
        assert!(events.iter().any(
            |e| matches!(e, Event::ChallengeMissed { provider, epoch: 3, .. } if *provider == l)
        ));
        assert!(events.iter().any(|e| matches!(e, Event::DealEnded { .. })));
        let lp: Provider = m.state.record(&StateKey::Provider(l)).unwrap().unwrap();
        let kp: Provider = m.state.record(&StateKey::Provider(k)).unwrap().unwrap();
        assert_eq!((lp.passes, lp.misses, lp.committed), (0, 3, 0));
        assert_eq!((kp.passes, kp.misses, kp.committed), (3, 0, 0));
        assert_eq!(m.deal(&id).escrow, Amount::ZERO);
        // Refunds of epochs 1 and 2 came earlier; epoch 3's miss refund arrives at block 40.
        assert_eq!(m.balance(&o).0 - at_end.0, Amount::from_mmt(1).0);
        let index: metamesh_state::DealIndex =
            m.state.record(&StateKey::DealIndex).unwrap().unwrap();
        assert!(index.0.is_empty());
        // A late answer after the window: refused.
        let (r, _) = m.block(vec![(&keeper, prove_again(&m, &id))]);
        assert!(r[0].is_err());
    }
}

fn prove_again(m: &Market, id: &Hash) -> Action {
    let _ = m;
    Action::ProveStorage {
        deal: *id,
        epoch: 0,
        path: vec![],
        leaf: vec![1],
    }
}

#[test]
fn deals_and_offers_refuse_bad_terms() {
    let suite = Suite::Sm;
    let owner = SecretKey::generate(suite).unwrap();
    let node = SecretKey::generate(suite).unwrap();
    let mut m = Market::new(suite, &[&owner, &node]);
    let (cid, _) = data(1000);
    let deal = |cid: &str, size, replicas, duration, price: &str| Action::StorageDeal {
        cid: cid.into(),
        size,
        replicas,
        duration,
        price: price.parse().unwrap(),
    };
    let c = cid.to_string();
    let (r, _) = m.block(vec![
        (&owner, deal("not-a-cid", 10, 1, 20, "1")),
        (&owner, deal(&c, 0, 1, 20, "1")),
        (&owner, deal(&c, 10, 0, 20, "1")),
        (&owner, deal(&c, 10, 1, 3, "1")),
        (&owner, deal(&c, 10, 1, 20, "0")),
        (&owner, deal(&c, 10, 1, 20, "100000")),
        (&owner, deal(&c, 10, 1, 0, "1")),
        (&owner, deal(&c, 1000, 1, 20, "0.1")),
    ]);
    assert!(r[..7].iter().all(Result::is_err), "{r:?}");
    assert!(r[5].as_ref().unwrap_err().contains("insufficient"), "{r:?}");
    assert_eq!(r[7], Ok(()));
    let id = deal_id(suite, &owner.public_key().address(), 0);
    let (r, _) = m.block(vec![
        (&node, Action::AcceptDeal { deal: id }),
        (
            &owner,
            Action::StorageOffer {
                capacity: 5000,
                price: Amount::ZERO,
            },
        ),
        (&owner, Action::AcceptDeal { deal: id }),
    ]);
    assert!(r[0].as_ref().unwrap_err().contains("registered"), "{r:?}");
    assert!(r[2].as_ref().unwrap_err().contains("owner"), "{r:?}");
    let (r, _) = m.block(vec![
        (
            &node,
            Action::StorageOffer {
                capacity: 500,
                price: "0.01".parse().unwrap(),
            },
        ),
        (&node, Action::AcceptDeal { deal: id }),
        (
            &node,
            Action::StorageOffer {
                capacity: 5000,
                price: "1".parse().unwrap(),
            },
        ),
        (&node, Action::AcceptDeal { deal: id }),
        (
            &node,
            Action::StorageOffer {
                capacity: 5000,
                price: "0.1".parse().unwrap(),
            },
        ),
        (&node, Action::AcceptDeal { deal: id }),
        (
            &node,
            Action::StorageOffer {
                capacity: 10,
                price: "0.1".parse().unwrap(),
            },
        ),
    ]);
    assert!(r[1].as_ref().unwrap_err().contains("free bytes"), "{r:?}");
    assert!(r[3].as_ref().unwrap_err().contains("asks"), "{r:?}");
    assert_eq!(r[5], Ok(()));
    assert!(r[6].as_ref().unwrap_err().contains("below"), "{r:?}");
    let mut bad = m
        .state
        .record::<Deal>(&StateKey::Deal(id))
        .unwrap()
        .unwrap()
        .encode();
    bad.pop();
    assert!(Deal::decode(&bad).is_err());
}

#[test]
fn key_grants_one_per_granter() {
    let suite = Suite::Eth;
    let owner = SecretKey::generate(suite).unwrap();
    let friend = SecretKey::generate(suite).unwrap();
    let mut m = Market::new(suite, &[&owner, &friend]);
    let (cid, _) = data(10);
    let recipient = friend.public_key().to_uncompressed().to_vec();
    let share = |w: &[u8]| Action::ShareKey {
        cid: cid.to_string(),
        recipient: recipient.clone(),
        wrapped: w.to_vec(),
    };
    let (r, _) = m.block(vec![
        (&owner, share(b"first")),
        (&owner, share(b"second")),
        (&friend, share(b"self")),
        (
            &owner,
            Action::ShareKey {
                cid: cid.to_string(),
                recipient: vec![4; 65],
                wrapped: b"x".to_vec(),
            },
        ),
        (&owner, share(&[0; 600])),
    ]);
    assert_eq!(r[..3], [Ok(()), Ok(()), Ok(())]);
    assert!(r[3].as_ref().unwrap_err().contains("public key"), "{r:?}");
    assert!(r[4].is_err());
    let grants: KeyGrants = m
        .state
        .record(&grants_key(suite, &cid.to_string(), &recipient))
        .unwrap()
        .unwrap();
    let wrapped: Vec<&[u8]> = grants.0.iter().map(|g| g.wrapped.as_slice()).collect();
    assert_eq!(wrapped, vec![&b"second"[..], b"self"]);
}
