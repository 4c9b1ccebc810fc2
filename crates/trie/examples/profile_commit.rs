//! Builds and commits a trie of N random keys (`N` env, default 200,000), then updates 10,000
//! of them: a target for profilers (`perf record`).
use metamesh_trie::{Keccak256, MemoryStore, Trie};

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mut x: u64 = 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let data: Vec<([u8; 32], Vec<u8>)> = (0..n)
        .map(|_| {
            let mut k = [0u8; 32];
            for c in k.chunks_mut(8) {
                c.copy_from_slice(&next().to_le_bytes());
            }
            (k, vec![next() as u8; 100])
        })
        .collect();
    let start = std::time::Instant::now();
    let store = MemoryStore::new();
    let mut trie = Trie::<Keccak256, _>::new(&store);
    for (k, v) in &data {
        trie.insert(k, v).unwrap();
    }
    let inserted = start.elapsed();
    let commit = trie.commit();
    let committed = start.elapsed();
    let root = store.apply_owned(commit);
    println!(
        "{n} keys: insert {inserted:?}, commit {:?}, apply {:?}, root 0x{}",
        committed - inserted,
        start.elapsed() - committed,
        hex::encode(root)
    );
    // Then the root after updating 10,000 existing keys, from a trie reopened at that root.
    let start = std::time::Instant::now();
    let mut trie = Trie::<Keccak256, _>::open(&store, root);
    for (k, _) in data.iter().step_by((n / 10_000).max(1)).take(10_000) {
        trie.insert(k, &[0xab; 100]).unwrap();
    }
    let updated = start.elapsed();
    let root = store.apply_owned(trie.commit());
    println!(
        "10000 updates {updated:?}, commit {:?}, root 0x{}",
        start.elapsed() - updated,
        hex::encode(root)
    );
}
