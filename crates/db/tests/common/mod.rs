//! A deterministic workload shared by the database tests: batch `v` is a pure function of `v`.
#![allow(dead_code)] // each test binary uses part of these helpers

use std::collections::BTreeMap;

use metamesh_trie::{H256, Keccak256, MemoryStore, NodeStore, Trie};

/// splitmix64: a tiny seeded generator, so every test run and every child process agrees.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Changes of version `v`: inserts of fresh and existing keys (with values repeated on purpose,
/// so identical nodes appear at several places) and deletions.
pub fn batch(v: u64) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut rng = Rng(v.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut ops = Vec::new();
    for _ in 0..12 {
        let key_space = 40 * v.max(1);
        let key = rng.below(key_space).to_be_bytes().to_vec();
        let value = vec![(rng.below(4)) as u8 + 1; 1 + rng.below(60) as usize];
        let delete = rng.below(4) == 0;
        ops.push((key, (!delete).then_some(value)));
    }
    ops
}

pub fn apply_batch<S: NodeStore>(trie: &mut Trie<Keccak256, S>, model: &mut Model, v: u64) {
    for (k, value) in batch(v) {
        match value {
            Some(value) => {
                trie.insert(&k, &value).unwrap();
                model.insert(k, value);
            }
            None => {
                trie.remove(&k).unwrap();
                model.remove(&k);
            }
        }
    }
}

pub fn model_after(v: u64) -> Model {
    let mut model = Model::new();
    let store = MemoryStore::new();
    let mut trie = Trie::<Keccak256, _>::new(&store);
    for i in 1..=v {
        apply_batch(&mut trie, &mut model, i);
    }
    model
}

pub fn root_of(model: &Model) -> H256 {
    let store = MemoryStore::new();
    let mut trie = Trie::<Keccak256, _>::new(&store);
    for (k, v) in model {
        trie.insert(k, v).unwrap();
    }
    trie.commit().root
}

/// Checks that the trie under `root` holds exactly `model`.
#[track_caller]
pub fn assert_holds<S: NodeStore>(store: S, root: H256, model: &Model) {
    let trie = Trie::<Keccak256, _>::open(store, root);
    let entries: Vec<(Vec<u8>, Vec<u8>)> = trie.iter().collect::<Result<_, _>>().unwrap();
    let expected: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
    assert_eq!(
        entries.len(),
        expected.len(),
        "entry count under root 0x{}",
        hex::encode(root)
    );
    assert!(
        entries == expected,
        "contents under root 0x{}",
        hex::encode(root)
    );
    for (k, v) in model.iter().take(20) {
        assert_eq!(trie.get(k).unwrap().as_ref(), Some(v));
    }
}
