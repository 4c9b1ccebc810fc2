//! Snapshots are stored every `CHECKPOINT_INTERVAL` blocks and a restarted engine resumes from
//! the stored one instead of replaying history.

mod common;

use common::Net;
use metamesh_consensus::{CHECKPOINT_INTERVAL, Clique, CliqueError, memory::MemoryChain};
use metamesh_crypto::Suite;

#[test]
fn a_restarted_engine_resumes_from_the_stored_snapshot() {
    let mut net = Net::new(Suite::Eth, 3, 30_000);
    let mut headers = Vec::new();
    for i in 0..CHECKPOINT_INTERVAL + 5 {
        let vote = (i == 10).then(|| (net.address(6), true));
        net.advance(vote);
        headers.push(net.head.clone());
    }
    let checkpoint = &headers[CHECKPOINT_INTERVAL as usize - 1];
    assert_eq!(checkpoint.number, CHECKPOINT_INTERVAL);
    assert!(
        net.store.saved.contains_key(&checkpoint.hash(Suite::Eth)),
        "snapshot stored at 1024"
    );
    let expected = net.snap();

    // A restarted engine that can only see headers from the checkpoint on.
    let mut recent = MemoryChain::default();
    for h in &headers[CHECKPOINT_INTERVAL as usize - 1..] {
        recent.insert(h.clone(), Suite::Eth);
    }
    let mut restarted = Clique::new(*net.engine.config()).unwrap();
    let head = net.head.clone();
    let resumed = restarted
        .snapshot(
            &recent,
            &mut net.store,
            head.number,
            head.hash(Suite::Eth),
            &[],
        )
        .unwrap();
    assert_eq!(resumed, expected);

    // Without the stored snapshot it would have had to walk back to genesis.
    let mut empty_store = metamesh_consensus::memory::MemorySnapshots::default();
    let mut cold = Clique::new(*net.engine.config()).unwrap();
    let err = cold.snapshot(
        &recent,
        &mut empty_store,
        head.number,
        head.hash(Suite::Eth),
        &[],
    );
    assert_eq!(err, Err(CliqueError::UnknownAncestor));
}
