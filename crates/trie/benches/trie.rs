//! The trie against eth_trie on the same data in the same run (Keccak-256), and SM3 against
//! Keccak on ours: insert-and-commit of N random 32-byte keys with ~100-byte values (N =
//! `TRIE_BENCH_KEYS`, default 1,000,000), the root after updating 10,000 keys of that trie, and
//! proof generation and verification. Both sides write their nodes to an in-memory store.

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use eth_trie::{EthTrie, MemoryDB, Trie as _};
use metamesh_trie::{H256, Keccak256, MemoryStore, Sm3, Trie, TrieHasher, verify_proof};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};

type Entries = Vec<([u8; 32], Vec<u8>)>;

fn keys() -> usize {
    std::env::var("TRIE_BENCH_KEYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn entries(n: usize, seed: u64) -> Entries {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let key: [u8; 32] = rng.random();
            let value: Vec<u8> = (0..90 + rng.random_range(0..20))
                .map(|_| rng.random())
                .collect();
            (key, value)
        })
        .collect()
}

fn ours<H: TrieHasher>(data: &Entries) -> (MemoryStore, H256) {
    let store = MemoryStore::new();
    let mut trie = Trie::<H, _>::new(&store);
    for (k, v) in data {
        trie.insert(k, v).unwrap();
    }
    let root = store.apply_owned(trie.commit());
    (store, root)
}

fn theirs(data: &Entries) -> (Arc<MemoryDB>, [u8; 32]) {
    // Not "light": keep replaced nodes, as our MemoryStore does, so old roots stay readable.
    let db = Arc::new(MemoryDB::new(false));
    let mut trie = EthTrie::new(db.clone());
    for (k, v) in data {
        trie.insert(k, v).unwrap();
    }
    let root = trie.root_hash().unwrap();
    (db, root.0)
}

fn insert_and_commit(c: &mut Criterion) {
    let data = entries(keys(), 1);
    let mut group = c.benchmark_group(format!("insert_commit_{}", keys()));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(20));
    // Dropping a million-node store is not part of the work measured: drop outside the timing.
    group.bench_function("eth_trie keccak", |b| {
        b.iter_with_large_drop(|| theirs(&data))
    });
    group.bench_function("metamesh keccak", |b| {
        b.iter_with_large_drop(|| ours::<Keccak256>(&data))
    });
    group.bench_function("metamesh sm3", |b| {
        b.iter_with_large_drop(|| ours::<Sm3>(&data))
    });
    group.finish();
}

/// The commit alone: inserts happen in untimed setup, the routine computes the root and
/// writes the nodes to the in-memory store.
fn commit_only(c: &mut Criterion) {
    let data = entries(keys(), 1);
    let mut group = c.benchmark_group(format!("commit_only_{}", keys()));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(20));
    group.bench_function("eth_trie keccak", |b| {
        b.iter_batched(
            || {
                let mut trie = EthTrie::new(Arc::new(MemoryDB::new(false)));
                for (k, v) in &data {
                    trie.insert(k, v).unwrap();
                }
                trie
            },
            |mut trie| {
                let root = trie.root_hash().unwrap();
                (trie, root)
            },
            BatchSize::PerIteration,
        )
    });
    fn bench_ours<H: TrieHasher>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        name: &str,
        data: &Entries,
    ) {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut trie = Trie::<H, _>::new(Arc::new(MemoryStore::new()));
                    for (k, v) in data {
                        trie.insert(k, v).unwrap();
                    }
                    trie
                },
                |mut trie| {
                    let commit = trie.commit();
                    let root = trie.store().apply_owned(commit);
                    (trie, root)
                },
                BatchSize::PerIteration,
            )
        });
    }
    bench_ours::<Keccak256>(&mut group, "metamesh keccak", &data);
    bench_ours::<Sm3>(&mut group, "metamesh sm3", &data);
    group.finish();
}

fn updates(n: usize, data: &Entries) -> Entries {
    let mut rng = StdRng::seed_from_u64(2);
    (0..n)
        .map(|_| {
            let (k, _) = &data[rng.random_range(0..data.len())];
            (*k, vec![0xab; 100])
        })
        .collect()
}

fn update_root(c: &mut Criterion) {
    let data = entries(keys(), 1);
    let changes = updates(10_000, &data);
    let mut group = c.benchmark_group(format!("update_10000_of_{}", keys()));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(10));

    let (db, root) = theirs(&data);
    group.bench_function("eth_trie keccak", |b| {
        b.iter_batched(
            || EthTrie::from(db.clone(), root.into()).unwrap(),
            |mut trie| {
                for (k, v) in &changes {
                    trie.insert(k, v).unwrap();
                }
                black_box(trie.root_hash().unwrap())
            },
            BatchSize::PerIteration,
        )
    });
    drop(db);

    fn bench_ours<H: TrieHasher>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        name: &str,
        data: &Entries,
        changes: &Entries,
    ) {
        let (store, root) = ours::<H>(data);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut trie = Trie::<H, _>::open(&store, root);
                for (k, v) in changes {
                    trie.insert(k, v).unwrap();
                }
                black_box(store.apply_owned(trie.commit()))
            })
        });
    }
    bench_ours::<Keccak256>(&mut group, "metamesh keccak", &data, &changes);
    bench_ours::<Sm3>(&mut group, "metamesh sm3", &data, &changes);
    group.finish();
}

fn proofs(c: &mut Criterion) {
    let data = entries(keys(), 1);
    let probe = &data[data.len() / 2].0;
    let mut group = c.benchmark_group(format!("proof_{}", keys()));

    let (db, root) = theirs(&data);
    let mut eth = EthTrie::from(db.clone(), root.into()).unwrap();
    let eth_proof = eth.get_proof(probe).unwrap();
    group.bench_function("eth_trie keccak prove", |b| {
        b.iter(|| black_box(eth.get_proof(probe).unwrap()))
    });
    group.bench_function("eth_trie keccak verify", |b| {
        b.iter(|| {
            black_box(
                eth.verify_proof(root.into(), probe, eth_proof.clone())
                    .unwrap(),
            )
        })
    });
    drop(eth);
    drop(db);

    let (store, root) = ours::<Keccak256>(&data);
    let trie = Trie::<Keccak256, _>::open(&store, root);
    let proof = trie.prove(probe).unwrap();
    assert_eq!(proof, eth_proof, "both tries prove with the same nodes");
    group.bench_function("metamesh keccak prove", |b| {
        b.iter(|| black_box(trie.prove(probe).unwrap()))
    });
    group.bench_function("metamesh keccak verify", |b| {
        b.iter(|| black_box(verify_proof::<Keccak256>(&root, probe, &proof).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, insert_and_commit, commit_only, update_root, proofs);
criterion_main!(benches);
