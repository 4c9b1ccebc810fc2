//! Property tests on random signer sets and random sequences of seals and votes, checked
//! against independent statements of the rules:
//! - the set never empties;
//! - a block is accepted exactly when its sealer is a signer that has not sealed within the
//!   last ⌊N/2⌋+1 blocks;
//! - the set changes exactly when more than half of the signers agree (this block's vote plus
//!   the standing votes of the others), and only in the voted address;
//! - tallies always equal the standing votes;
//! - a snapshot stored and reloaded, recomputed from genesis, or built in two batches is the same.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Net;
use metamesh_consensus::{Clique, Snapshot, memory::MemorySnapshots};
use metamesh_crypto::Suite;
use metamesh_primitives::header::{NONCE_AUTH, NONCE_DROP};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Step {
    key: usize,
    pick_a_valid_sealer: bool,
    vote: Option<(usize, bool)>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0usize..8,
        prop::bool::weighted(0.85),
        prop::option::weighted(0.7, (0usize..8, any::<bool>())),
    )
        .prop_map(|(key, pick_a_valid_sealer, vote)| Step {
            key,
            pick_a_valid_sealer,
            vote,
        })
}

fn run(eth: bool, signers: usize, epoch: u64, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let suite = if eth { Suite::Eth } else { Suite::Sm };
    let mut net = Net::new(suite, signers, epoch);
    let mut last_sealed: BTreeMap<usize, u64> = BTreeMap::new();
    let mut headers = Vec::new();
    for s in steps {
        let snap = net.snap();
        let number = net.head.number + 1;
        let limit = snap.limit();
        let addresses: Vec<_> = (0..8).map(|k| net.address(k)).collect();
        let allowed = |k: usize| {
            snap.signers.contains(&addresses[k])
                && last_sealed.get(&k).is_none_or(|ls| number - ls >= limit)
        };
        let valid: Vec<usize> = (0..8).filter(|&k| allowed(k)).collect();
        let k = if s.pick_a_valid_sealer && !valid.is_empty() {
            valid[s.key % valid.len()]
        } else {
            s.key
        };
        let vote = s.vote.map(|(t, auth)| (net.address(t), auth));
        let header = net.next(k, vote);
        let outcome = net.verify(&header);
        let expected_ok = allowed(k);
        prop_assert_eq!(
            outcome.is_ok(),
            expected_ok,
            "block {} by key {}: {:?}",
            number,
            k,
            outcome
        );
        if outcome.is_err() {
            continue;
        }
        net.chain.insert(header.clone(), suite);
        net.head = header.clone();
        last_sealed.insert(k, number);
        headers.push(header.clone());
        let after = net.snap();

        prop_assert!(!after.signers.is_empty());

        // Independent statement of the voting rule.
        let signer = net.address(k);
        let target = header.coinbase;
        let adding = !snap.signers.contains(&target);
        let checkpoint = number.is_multiple_of(epoch);
        let mut voters: BTreeSet<_> = if checkpoint {
            BTreeSet::new()
        } else {
            snap.votes
                .iter()
                .filter(|v| v.address == target && v.authorize == adding && v.signer != signer)
                .map(|v| v.signer)
                .collect()
        };
        let this_vote_counts =
            !checkpoint && header.nonce == if adding { NONCE_AUTH } else { NONCE_DROP };
        if this_vote_counts {
            voters.insert(signer);
        }
        let would_empty = !adding && snap.signers.len() == 1;
        let passes = voters.len() > snap.signers.len() / 2 && !would_empty;
        let mut expected = snap.signers.clone();
        if passes {
            if adding {
                expected.insert(target);
            } else {
                expected.remove(&target);
            }
        }
        prop_assert_eq!(
            &after.signers,
            &expected,
            "block {}: voters {:?}",
            number,
            voters
        );

        for (address, tally) in &after.tally {
            let standing: Vec<_> = after
                .votes
                .iter()
                .filter(|v| v.address == *address)
                .collect();
            prop_assert_eq!(tally.votes as usize, standing.len());
            prop_assert!(standing.iter().all(|v| v.authorize == tally.authorize));
        }
    }

    let head = net.snap();
    prop_assert_eq!(&Snapshot::from_json(&head.to_json()).unwrap(), &head);

    let mut fresh = Clique::new(*net.engine.config()).unwrap();
    let recomputed = fresh
        .snapshot(
            &net.chain,
            &mut MemorySnapshots::default(),
            head.number,
            head.hash,
            &[],
        )
        .unwrap();
    prop_assert_eq!(&recomputed, &head);

    let genesis = fresh
        .snapshot(
            &net.chain,
            &mut MemorySnapshots::default(),
            0,
            net.genesis.hash(suite),
            &[],
        )
        .unwrap();
    let cut = headers.len() / 2;
    let two_batches = genesis
        .apply(&headers[..cut], suite, epoch)
        .and_then(|s| s.apply(&headers[cut..], suite, epoch))
        .unwrap();
    prop_assert_eq!(&two_batches, &head);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn clique_invariants_hold(
        eth in any::<bool>(),
        signers in 1usize..=5,
        epoch in prop_oneof![Just(30_000u64), 3u64..9],
        steps in prop::collection::vec(step(), 1..45),
    ) {
        run(eth, signers, epoch, steps)?;
    }
}
