//! Every Clique header rule, broken one at a time: the engine answers with its named error.

mod common;

use common::Net;
use metamesh_consensus::{Clique, CliqueConfig, CliqueError, Snapshot};
use metamesh_crypto::Suite;
use metamesh_primitives::{
    Header,
    header::{DIFF_IN_TURN, DIFF_NO_TURN, EXTRA_VANITY, NONCE_AUTH},
};

/// The next header by key `k`, changed by `change` and sealed again so that only the change is
/// wrong, as the engine judges it.
fn judge(net: &mut Net, k: usize, change: impl FnOnce(&mut Header)) -> Result<(), CliqueError> {
    let mut h = net.next(k, None);
    change(&mut h);
    net.reseal(&mut h, k);
    net.verify(&h)
}

fn both(test: impl Fn(Suite)) {
    for suite in Suite::ALL {
        test(suite);
    }
}

#[test]
fn a_valid_chain_is_accepted() {
    both(|suite| {
        let mut net = Net::new(suite, 3, 30_000);
        for _ in 0..10 {
            net.advance(None);
        }
        assert_eq!(net.head.number, 10);
    });
}

#[test]
fn future_block() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 30_000);
        let h = net.next(0, None);
        let err = net
            .engine
            .verify_header(&net.chain, &mut net.store, &h, &[], h.timestamp - 1);
        assert_eq!(err, Err(CliqueError::FutureBlock));
    });
}

#[test]
fn checkpoint_with_beneficiary_or_vote() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 2);
        net.advance(None);
        let outsider = net.address(3);
        let err = judge(&mut net, 0, |h| h.coinbase = outsider);
        assert_eq!(err, Err(CliqueError::InvalidCheckpointBeneficiary));
        let err = judge(&mut net, 0, |h| h.nonce = NONCE_AUTH);
        assert_eq!(err, Err(CliqueError::InvalidCheckpointVote));
    });
}

#[test]
fn nonce_other_than_a_vote() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 30_000);
        let err = judge(&mut net, 0, |h| h.nonce = [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(err, Err(CliqueError::InvalidVote));
    });
}

#[test]
fn extra_too_short_for_vanity_or_seal() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 30_000);
        let mut h = net.next(0, None);
        h.extra.truncate(EXTRA_VANITY - 1);
        assert_eq!(net.verify(&h), Err(CliqueError::MissingVanity));
        let mut h = net.next(0, None);
        h.extra.truncate(EXTRA_VANITY + suite.signature_len() - 1);
        assert_eq!(
            net.verify(&h),
            Err(CliqueError::MissingSignature(suite.signature_len()))
        );
    });
}

#[test]
fn signer_list_outside_checkpoints_or_malformed() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 2);
        let (signer, outsider) = (net.address(0), net.address(5));
        let err = judge(&mut net, 0, |h| {
            drop(h.extra.splice(EXTRA_VANITY..EXTRA_VANITY, signer.0))
        });
        assert_eq!(err, Err(CliqueError::ExtraSigners));
        net.advance(None); // the next block, 2, is a checkpoint
        let err = judge(&mut net, 0, |h| h.extra.insert(EXTRA_VANITY, 7));
        assert_eq!(err, Err(CliqueError::InvalidCheckpointSigners));
        let err = judge(&mut net, 0, |h| {
            drop(h.extra.splice(EXTRA_VANITY..EXTRA_VANITY, outsider.0))
        });
        assert_eq!(err, Err(CliqueError::MismatchingCheckpointSigners));
    });
}

#[test]
fn difficulty_must_match_the_turn() {
    both(|suite| {
        let mut net = Net::new(suite, 3, 30_000);
        let k = net.in_turn_key();
        assert_eq!(
            judge(&mut net, k, |h| h.difficulty = 3),
            Err(CliqueError::InvalidDifficulty)
        );
        let err = judge(&mut net, k, |h| h.difficulty = DIFF_NO_TURN);
        assert_eq!(err, Err(CliqueError::WrongDifficulty));
        let other = (0..3).find(|&i| i != k).unwrap();
        assert_eq!(net.next(other, None).difficulty, DIFF_NO_TURN);
        let err = judge(&mut net, other, |h| h.difficulty = DIFF_IN_TURN);
        assert_eq!(err, Err(CliqueError::WrongDifficulty));
    });
}

#[test]
fn blocks_closer_than_the_period() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 30_000);
        assert_eq!(
            judge(&mut net, 0, |h| h.timestamp -= 1),
            Err(CliqueError::InvalidTimestamp)
        );
    });
}

#[test]
fn unknown_parent() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 30_000);
        let err = judge(&mut net, 0, |h| h.parent_hash = [9; 32]);
        assert_eq!(err, Err(CliqueError::UnknownAncestor));
        assert_eq!(
            judge(&mut net, 0, |h| h.number += 1),
            Err(CliqueError::UnknownAncestor)
        );
    });
}

#[test]
fn unauthorized_and_recent_signers() {
    both(|suite| {
        let mut net = Net::new(suite, 3, 30_000);
        let h = net.next(5, None);
        assert_eq!(net.verify(&h), Err(CliqueError::UnauthorizedSigner));
        let k = net.in_turn_key();
        let h = net.next(k, None);
        net.import(h);
        let h = net.next(k, None);
        assert_eq!(net.verify(&h), Err(CliqueError::RecentlySigned));
    });
}

#[test]
fn forged_or_garbled_seals() {
    both(|suite| {
        let mut net = Net::new(suite, 1, 30_000);
        let mut h = net.next(0, None);
        let last = h.extra.len() - 1;
        h.extra[last] ^= 0x55; // eth: v out of range; sm: s changes
        let err = net.verify(&h).unwrap_err();
        assert!(
            matches!(
                err,
                CliqueError::InvalidSeal(_) | CliqueError::UnauthorizedSigner
            ),
            "{err}"
        );
        let mut h = net.next(0, None);
        h.timestamp += 1; // changed after sealing: the seal no longer covers it
        let err = net.verify(&h).unwrap_err();
        assert!(
            matches!(
                err,
                CliqueError::InvalidSeal(_) | CliqueError::UnauthorizedSigner
            ),
            "{err}"
        );
    });
}

#[test]
fn snapshot_level_guards() {
    assert_eq!(
        Snapshot::new(0, [0; 32], []),
        Err(CliqueError::EmptySignerSet)
    );
    let config = CliqueConfig {
        period: 1,
        epoch: 0,
        suite: Suite::Sm,
    };
    assert_eq!(Clique::new(config).err(), Some(CliqueError::ZeroEpoch));
    assert!(matches!(
        Snapshot::from_json(b"{}"),
        Err(CliqueError::CorruptSnapshot(_))
    ));

    let mut net = Net::new(Suite::Sm, 2, 30_000);
    net.advance(None);
    let first = net.head.clone();
    net.advance(None);
    let second = net.head.clone();
    let genesis = Snapshot::new(
        0,
        net.genesis.hash(Suite::Sm),
        [net.address(0), net.address(1)],
    )
    .unwrap();
    // Headers must follow the snapshot and each other.
    assert_eq!(
        genesis.apply(std::slice::from_ref(&second), Suite::Sm, 30_000),
        Err(CliqueError::InvalidVotingChain)
    );
    assert_eq!(
        genesis.apply(&[second, first], Suite::Sm, 30_000),
        Err(CliqueError::InvalidVotingChain)
    );
    let seal_on_genesis = net.engine.verify_seal(&genesis, &net.genesis);
    assert_eq!(seal_on_genesis, Err(CliqueError::UnknownBlock));
}

#[test]
fn a_genesis_without_signers_is_refused() {
    let mut net = Net::new(Suite::Eth, 1, 30_000);
    let mut genesis = net.genesis.clone();
    genesis.extra = vec![0; EXTRA_VANITY + Suite::Eth.signature_len()];
    let hash = net.chain.insert(genesis, Suite::Eth);
    let err = net
        .engine
        .snapshot(&net.chain, &mut net.store, 0, hash, &[]);
    assert_eq!(err, Err(CliqueError::EmptySignerSet));
}
