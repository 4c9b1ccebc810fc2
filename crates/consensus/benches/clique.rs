//! Per-header costs of Clique beside the raw signature recovery they are built on, in one run:
//! seal verification (recover + rules), snapshot application, and the bare
//! `Signature::recover_hash_signer` of the suite.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use metamesh_consensus::{
    Clique, CliqueConfig, Snapshot, checkpoint_extra,
    memory::{MemoryChain, MemorySnapshots},
    recover_signer,
    replay::letter_key,
};
use metamesh_crypto::{Signature, Suite};
use metamesh_primitives::Header;

const SIGNERS: usize = 5;
const BLOCKS: u64 = 200;

/// A valid chain of `BLOCKS` in-turn headers sealed by five signers.
fn chain(suite: Suite) -> (Clique, Snapshot, Vec<Header>) {
    let keys: Vec<_> = (0..SIGNERS)
        .map(|i| letter_key(suite, &format!("K{i}")))
        .collect();
    let addresses: Vec<_> = keys.iter().map(|k| k.public_key().address()).collect();
    let genesis = Header {
        extra: checkpoint_extra(&[], &addresses, suite),
        ..Header::default()
    };
    let mut memory = MemoryChain::default();
    let mut store = MemorySnapshots::default();
    let hash = memory.insert(genesis.clone(), suite);
    let config = CliqueConfig {
        period: 1,
        epoch: 30_000,
        suite,
    };
    let mut engine = Clique::new(config).unwrap();
    let genesis_snap = engine.snapshot(&memory, &mut store, 0, hash, &[]).unwrap();
    let mut snap = genesis_snap.clone();
    let mut parent = genesis;
    let mut headers = Vec::new();
    for number in 1..=BLOCKS {
        let key = keys
            .iter()
            .find(|k| snap.in_turn(number, &k.public_key().address()))
            .unwrap();
        let mut header = Header {
            parent_hash: parent.hash(suite),
            number,
            timestamp: number,
            ..Header::default()
        };
        engine.prepare(&snap, &mut header, &key.public_key().address(), None);
        engine.seal(&mut header, key).unwrap();
        snap = snap
            .apply(std::slice::from_ref(&header), suite, 30_000)
            .unwrap();
        parent = header.clone();
        headers.push(header);
    }
    (engine, genesis_snap, headers)
}

fn per_header(c: &mut Criterion) {
    for suite in Suite::ALL {
        let (engine, genesis, headers) = chain(suite);
        let mut group = c.benchmark_group(format!("clique_{suite}"));
        let header = &headers[0];
        let seal_hash = header.seal_hash(suite).unwrap();
        let signature = Signature::from_bytes(suite, header.seal(suite).unwrap()).unwrap();
        group.bench_function("raw signature recovery", |b| {
            b.iter(|| black_box(signature.recover_hash_signer(&seal_hash).unwrap()))
        });
        group.bench_function("recover sealer (hash + parse + recover)", |b| {
            b.iter(|| black_box(recover_signer(header, suite).unwrap()))
        });
        group.bench_function("verify seal against snapshot", |b| {
            b.iter(|| engine.verify_seal(&genesis, black_box(header)).unwrap())
        });
        group.throughput(criterion::Throughput::Elements(BLOCKS));
        group.bench_function("apply 200 headers to a snapshot", |b| {
            b.iter(|| black_box(genesis.apply(&headers, suite, 30_000).unwrap()))
        });
        group.finish();
    }
}

criterion_group!(benches, per_header);
criterion_main!(benches);
