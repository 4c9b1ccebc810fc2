//! Property tests against a `BTreeMap` model, proof soundness, and a cross-check of roots with
//! alloy-trie's `HashBuilder` (an independent Keccak MPT implementation).

use std::collections::BTreeMap;

use metamesh_trie::{
    H256, Keccak256, MemoryStore, ProofError, Sm3, Trie, TrieHasher, verify_proof,
    verify_proof_value,
};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Commit,
}

/// Short keys over a small alphabet collide and share prefixes often, so splits, merges and
/// branch values all happen.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(0u8..4, 0..4),
        prop::collection::vec(any::<u8>(), 0..34),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), prop::collection::vec(any::<u8>(), 1..40)).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => key().prop_map(Op::Remove),
        1 => Just(Op::Commit),
    ]
}

fn apply<'s, H: TrieHasher>(
    ops: &[Op],
    store: &'s MemoryStore,
) -> (Trie<H, &'s MemoryStore>, Model) {
    let mut trie = Trie::<H, _>::new(store);
    let mut model = BTreeMap::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => {
                trie.insert(k, v).unwrap();
                model.insert(k.clone(), v.clone());
            }
            Op::Remove(k) => {
                assert_eq!(trie.remove(k).unwrap(), model.remove(k).is_some());
            }
            Op::Commit => store.apply(&trie.commit()),
        }
    }
    store.apply(&trie.commit());
    (trie, model)
}

fn root_of<H: TrieHasher>(model: &BTreeMap<Vec<u8>, Vec<u8>>, reverse: bool) -> H256 {
    let store = MemoryStore::new();
    let mut trie = Trie::<H, _>::new(&store);
    let entries: Vec<_> = if reverse {
        model.iter().rev().collect()
    } else {
        model.iter().collect()
    };
    for (k, v) in entries {
        trie.insert(k, v).unwrap();
    }
    trie.commit().root
}

fn check_against_model<H: TrieHasher>(ops: Vec<Op>, probe: Vec<u8>) -> Result<(), TestCaseError> {
    let store = MemoryStore::new();
    let (trie, model) = apply::<H>(&ops, &store);
    for (k, v) in &model {
        prop_assert_eq!(trie.get(k).unwrap(), Some(v.clone()));
    }
    prop_assert_eq!(trie.get(&probe).unwrap(), model.get(&probe).cloned());
    let listed: Vec<_> = trie.iter().collect::<Result<_, _>>().unwrap();
    let expected: Vec<_> = model.clone().into_iter().collect();
    prop_assert_eq!(&listed, &expected);
    let from: Vec<_> = trie.iter_from(&probe).collect::<Result<_, _>>().unwrap();
    let expected_from: Vec<_> = model
        .range(probe.clone()..)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    prop_assert_eq!(from, expected_from);
    let root = trie.committed_root();
    prop_assert_eq!(root, root_of::<H>(&model, false));
    prop_assert_eq!(root, root_of::<H>(&model, true));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn keccak_trie_matches_model(ops in prop::collection::vec(op(), 0..80), probe in key()) {
        check_against_model::<Keccak256>(ops, probe)?;
    }

    #[test]
    fn sm3_trie_matches_model(ops in prop::collection::vec(op(), 0..80), probe in key()) {
        check_against_model::<Sm3>(ops, probe)?;
    }

    #[test]
    fn proofs_verify_and_tampering_fails(
        ops in prop::collection::vec(op(), 1..60),
        probe in key(),
        node_pick in any::<prop::sample::Index>(),
        byte_pick in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let store = MemoryStore::new();
        let (trie, model) = apply::<Keccak256>(&ops, &store);
        let root = trie.committed_root();
        let mut keys: Vec<Vec<u8>> = model.keys().cloned().collect();
        keys.push(probe.clone());
        for k in &keys {
            let proof = trie.prove(k).unwrap();
            let value = model.get(k).map(Vec::as_slice);
            prop_assert!(verify_proof_value::<Keccak256>(&root, k, value, &proof).is_ok());
            // Claiming another value fails.
            let mut other = value.map(<[u8]>::to_vec).unwrap_or_default();
            other.push(0x42);
            prop_assert_eq!(
                verify_proof_value::<Keccak256>(&root, k, Some(&other), &proof),
                Err(ProofError::ValueMismatch)
            );
            if value.is_some() {
                prop_assert!(verify_proof_value::<Keccak256>(&root, k, None, &proof).is_err());
            }
            // Changing any byte of any proof node breaks the proof.
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let n = node_pick.index(bad.len());
                let b = byte_pick.index(bad[n].len());
                bad[n][b] ^= flip;
                let outcome = verify_proof::<Keccak256>(&root, k, &bad);
                prop_assert!(outcome.is_err(), "tampered proof accepted: {:?}", outcome);
            }
        }
    }

    #[test]
    fn keccak_root_equals_alloy_trie(entries in prop::collection::btree_map(
        // alloy-trie's `Nibbles` hold at most 32 bytes.
        prop::collection::vec(any::<u8>(), 1..=32),
        prop::collection::vec(any::<u8>(), 1..64),
        0..200,
    )) {
        // alloy-trie's HashBuilder needs prefix-free keys (state keys are all 32 bytes).
        let prefix_free = entries.keys().zip(entries.keys().skip(1)).all(|(a, b)| !b.starts_with(a));
        prop_assume!(prefix_free);
        let mut builder = alloy_trie::HashBuilder::default();
        for (k, v) in &entries {
            builder.add_leaf(alloy_trie::Nibbles::unpack(k), v);
        }
        prop_assert_eq!(root_of::<Keccak256>(&entries, false), builder.root().0);
    }

    #[test]
    fn keccak_root_equals_alloy_trie_for_state_keys(entries in prop::collection::btree_map(
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 1..120),
        0..300,
    )) {
        let mut builder = alloy_trie::HashBuilder::default();
        for (k, v) in &entries {
            builder.add_leaf(alloy_trie::Nibbles::unpack(k), v);
        }
        let model: BTreeMap<Vec<u8>, Vec<u8>> = entries.iter().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        prop_assert_eq!(root_of::<Keccak256>(&model, false), builder.root().0);
    }
}

#[test]
fn sm3_and_keccak_roots_differ_but_both_prove() {
    let store = MemoryStore::new();
    let mut a = Trie::<Keccak256, _>::new(&store);
    let mut b = Trie::<Sm3, _>::new(&store);
    for t in [b"alpha".as_slice(), b"beta", b"gamma"] {
        a.insert(t, t).unwrap();
        b.insert(t, t).unwrap();
    }
    let (ca, cb) = (a.commit(), b.commit());
    assert_ne!(ca.root, cb.root);
    store.apply(&ca);
    store.apply(&cb);
    let proof = b.prove(b"beta").unwrap();
    assert_eq!(
        verify_proof::<Sm3>(&cb.root, b"beta", &proof).unwrap(),
        Some(b"beta".to_vec())
    );
    assert!(verify_proof::<Keccak256>(&cb.root, b"beta", &proof).is_err());
}

#[test]
fn proving_uncommitted_changes_is_refused() {
    let store = MemoryStore::new();
    let mut trie = Trie::<Keccak256, _>::new(&store);
    trie.insert(b"k", b"v").unwrap();
    assert_eq!(trie.prove(b"k"), Err(metamesh_trie::TrieError::Uncommitted));
}

#[test]
fn missing_nodes_are_reported_and_the_trie_stays_at_its_root() {
    let store = MemoryStore::new();
    let mut trie = Trie::<Keccak256, _>::new(&store);
    for i in 0u8..50 {
        trie.insert(&[i; 8], &[i; 40]).unwrap();
    }
    let commit = trie.commit(); // nodes deliberately not stored
    let err = trie.insert(&[1; 8], b"x").unwrap_err();
    assert!(
        matches!(err, metamesh_trie::TrieError::MissingNode(_)),
        "{err}"
    );
    assert_eq!(trie.committed_root(), commit.root);
    assert!(!trie.is_dirty());
    store.apply(&commit);
    trie.insert(&[1; 8], b"x").unwrap();
    assert_eq!(trie.get(&[1; 8]).unwrap(), Some(b"x".to_vec()));
}
