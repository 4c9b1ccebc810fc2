//! The peer handler on its own, without a network: a late node catches up through requests and
//! answers; a peer on another chain, one that sends garbage or an invalid block, and one that
//! floods are each dealt with; nothing it sends changes what is stored.

use std::sync::Arc;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::{ChainDb, ChainDbConfig, MemoryBackend};
use metamesh_node::{
    Action, Chain, Handler, HandlerConfig, NodeService, PoolConfig, Verdict,
    protocol::{Request, Response, Status},
};
use metamesh_primitives::{AccountAction, Amount, Block, DataAction, StorageAction, Transaction};
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};

const T0: u64 = 1_700_000_000;

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(Suite::Sm, &Suite::Sm.hash(&[b'h', i])).unwrap()
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: 9,
        suite: Suite::Sm,
        timestamp: T0,
        clique: CliqueParams {
            period: 1,
            epoch: 30_000,
            signers: vec![key(0).public_key().address()],
        },
        params: Params::default(),
        grants: vec![Grant {
            address: key(1).public_key().address(),
            amount: Amount::from_mmt(100),
            pool: Pool::Airdrops,
        }],
    }
}

fn node(g: &Genesis) -> Arc<NodeService> {
    let db = ChainDb::open_in(MemoryBackend::new(), ChainDbConfig::default()).unwrap();
    NodeService::new(
        Chain::from_db(db, g.clone()).unwrap(),
        Some(key(0)),
        PoolConfig::default(),
    )
}

/// Seals `n` blocks on `node`, one a second.
fn seal_blocks(node: &NodeService, n: u64) {
    for _ in 0..n {
        let head = node.status();
        let now = T0 + head.head_number + 1;
        node.seal(head.head_hash, now).unwrap().unwrap();
    }
}

fn transfer(nonce: u64) -> Vec<u8> {
    Transaction {
        chain_id: 9,
        nonce,
        gas_price: Params::default().min_gas_price,
        gas_limit: 50_000,
        action: AccountAction::Transfer {
            to: Address([7; 20]),
            amount: Amount::from_mmt(1),
        }
        .into(),
    }
    .sign(&key(1))
    .unwrap()
    .to_rlp()
}

/// Delivers every request between two handlers until both are quiet.
fn pump(a: &mut Handler<u8>, b: &mut Handler<u8>, now: u64) -> usize {
    let mut exchanged = 0;
    loop {
        let mut quiet = true;
        for (from, to) in [(0u8, 1u8), (1, 0)] {
            let (src, dst) = if from == 0 {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            for action in src.take_actions() {
                quiet = false;
                if let Action::Send { id, request, .. } = action {
                    exchanged += 1;
                    let answer = dst.request(from, &request.encode(), now);
                    src.response(to, id, answer.as_deref(), now);
                }
            }
        }
        if quiet {
            return exchanged;
        }
    }
}

#[test]
fn a_late_node_catches_up_headers_first() {
    let g = genesis();
    let ahead = node(&g);
    seal_blocks(&ahead, 300);
    let late = node(&g);
    let now = (T0 + 400) * 1000;
    let mut a = Handler::new(ahead.clone(), HandlerConfig::default());
    let mut b = Handler::new(late.clone(), HandlerConfig::default());
    a.connected(1, now);
    b.connected(0, now);
    assert!(late.status().head_number == 0);
    let exchanged = pump(&mut a, &mut b, now);
    assert_eq!(late.status(), ahead.status());
    assert!(!b.syncing() && !late.is_syncing());
    // 300 blocks: two header batches of 256, ten body batches of 32, statuses.
    assert!(exchanged < 30, "{exchanged} requests");
}

#[test]
fn a_peer_on_another_chain_is_banned() {
    let g = genesis();
    let mut h = Handler::new(node(&g), HandlerConfig::default());
    h.connected(5, 0);
    h.take_actions();
    let mut theirs = h.node().status();
    theirs.genesis = [9; 32];
    let answer = h.request(5, &Request::Status(theirs).encode(), 10);
    assert!(answer.is_some());
    let bans: Vec<_> = h
        .take_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Ban { peer, reason, .. } => Some((peer, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(bans.len(), 1);
    assert!(bans[0].1.contains("another chain"), "{}", bans[0].1);
    assert!(h.is_banned(&5, 20));
    // Reconnecting while banned is refused again.
    h.connected(5, 30);
    assert!(matches!(h.take_actions()[..], [Action::Ban { .. }]));
    assert_eq!(h.peer_count(), 0);
}

#[test]
fn garbage_requests_are_refused_then_the_peer_is_banned() {
    let g = genesis();
    let mut h = Handler::new(node(&g), HandlerConfig::default());
    h.connected(3, 0);
    h.take_actions();
    assert_eq!(h.request(3, b"\xff\x00garbage", 1), None);
    assert!(!h.is_banned(&3, 2));
    assert_eq!(h.request(3, &[0xc0], 2), None);
    assert!(
        h.is_banned(&3, 3),
        "two malformed requests reach the ban score"
    );
}

#[test]
fn an_invalid_block_is_rejected_and_its_sender_banned() {
    let g = genesis();
    let source = node(&g);
    seal_blocks(&source, 1);
    let block_hash = source.status().head_hash;
    let mut block = source.with_chain(|c| {
        let header = c.header(&block_hash).unwrap();
        Block {
            header,
            transactions: vec![],
        }
    });
    block.header.timestamp += 1; // the seal no longer covers the header
    let target = node(&g);
    let mut h = Handler::new(target.clone(), HandlerConfig::default());
    h.connected(4, 0);
    h.take_actions();
    let now = (T0 + 10) * 1000;
    assert_eq!(h.gossip_block(4, &block.to_rlp(), now), Verdict::Reject);
    assert!(h.is_banned(&4, now + 1));
    assert_eq!(target.status().head_number, 0, "nothing was stored");
    // Garbage on the block topic is rejected too, from a fresh peer, without a panic.
    h.connected(6, now);
    assert_eq!(h.gossip_block(6, b"\x01\x02", now), Verdict::Reject);
}

#[test]
fn a_future_block_waits_for_its_time() {
    let g = genesis();
    let source = node(&g);
    seal_blocks(&source, 1);
    let hash = source.status().head_hash;
    let block = source.with_chain(|c| Block {
        header: c.header(&hash).unwrap(),
        transactions: vec![],
    });
    let target = node(&g);
    let mut h = Handler::new(target.clone(), HandlerConfig::default());
    h.connected(2, 0);
    let early = (block.header.timestamp - 1) * 1000;
    assert_eq!(h.gossip_block(2, &block.to_rlp(), early), Verdict::Accept);
    assert!(
        !h.is_banned(&2, early),
        "a slightly fast clock is no offence"
    );
    assert_eq!(
        target.status().head_number,
        0,
        "not imported before its time"
    );
    h.tick(block.header.timestamp * 1000);
    assert_eq!(target.status().head_hash, hash);

    // A forged block from the future is rejected at once, not held.
    let mut forged = block.clone();
    forged.header.timestamp += 5;
    h.connected(3, early);
    assert_eq!(h.gossip_block(3, &forged.to_rlp(), early), Verdict::Reject);
    // So is one too far ahead for any clock to excuse.
    let mut far = block;
    far.header.timestamp += 3_600;
    h.connected(4, early);
    assert_eq!(h.gossip_block(4, &far.to_rlp(), early), Verdict::Reject);
}

#[test]
fn a_flood_is_rate_limited() {
    let g = genesis();
    let target = node(&g);
    let config = HandlerConfig {
        gossip_per_second: 1,
        gossip_burst: 5,
        ..HandlerConfig::default()
    };
    let mut h = Handler::new(target.clone(), config);
    h.connected(8, 0);
    let verdicts: Vec<Verdict> = (0..12)
        .map(|n| h.gossip_transaction(8, &transfer(n), 1))
        .collect();
    assert_eq!(verdicts[..5], [Verdict::Accept; 5]);
    assert!(verdicts[5..].iter().all(|v| *v == Verdict::Ignore));
    assert_eq!(target.pool_len(), 5, "over the rate, nothing is processed");
    // A second later one more is allowed.
    assert_eq!(
        h.gossip_transaction(8, &transfer(5), 1_001),
        Verdict::Accept
    );
}

#[test]
fn answers_stay_within_the_protocol_limits() {
    let g = genesis();
    let source = node(&g);
    seal_blocks(&source, 5);
    let mut h = Handler::new(source.clone(), HandlerConfig::default());
    h.connected(1, 0);
    let ask = Request::Headers {
        start: 2,
        count: 256,
    };
    let raw = h.request(1, &ask.encode(), 1).unwrap();
    let Response::Headers(headers) = Response::decode(&raw).unwrap() else {
        panic!("headers expected");
    };
    assert_eq!(
        headers.iter().map(|h| h.number).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    let unknown = Request::Bodies(vec![[1; 32]]);
    let raw = h.request(1, &unknown.encode(), 2).unwrap();
    assert_eq!(Response::decode(&raw).unwrap(), Response::Bodies(vec![]));
    let status: Status = source.status();
    let raw = h.request(1, &Request::Status(status).encode(), 3).unwrap();
    assert_eq!(Response::decode(&raw).unwrap(), Response::Status(status));
}

#[test]
fn a_hollow_claim_to_be_ahead_does_not_stop_sealing_for_long() {
    let g = genesis();
    let node = node(&g);
    let mut h = Handler::new(node.clone(), HandlerConfig::default());
    let mut now = 1_000;
    h.connected(7, now);
    let liar = Status {
        head_number: 1_000,
        total_difficulty: 2_001,
        ..node.status()
    };
    // For two minutes it claims a heavy chain every 2 s, then has nothing to show for it.
    let mut held = 0;
    for _ in 0..60 {
        if h.is_banned(&7, now) {
            break;
        }
        h.tick(now);
        h.request(7, &Request::Status(liar).encode(), now);
        if node.is_syncing() {
            held += 1;
        }
        for action in h.take_actions() {
            if let Action::Send {
                id,
                request: Request::Headers { .. },
                ..
            } = action
            {
                h.response(7, id, Some(&Response::Headers(vec![]).encode()), now);
            }
        }
        assert!(!node.is_syncing(), "the hollow claim is set aside at once");
        now += 2_000;
    }
    assert!(held <= 8, "sealing was held in {held} of 60 rounds");
}

#[test]
fn an_answer_of_the_wrong_kind_ends_the_sync() {
    let g = genesis();
    let node = node(&g);
    let mut h = Handler::new(node.clone(), HandlerConfig::default());
    h.connected(9, 0);
    h.take_actions();
    let ahead = Status {
        head_number: 5,
        total_difficulty: 11,
        ..node.status()
    };
    h.request(9, &Request::Status(ahead).encode(), 1);
    let probe = h
        .take_actions()
        .into_iter()
        .find_map(|a| match a {
            Action::Send {
                id,
                request: Request::Headers { start, .. },
                ..
            } => Some((id, start)),
            _ => None,
        })
        .expect("a probe for headers");
    assert_eq!(probe.1, 1);
    assert!(h.syncing());
    h.response(9, probe.0, Some(&Response::Status(ahead).encode()), 2);
    assert!(
        !h.syncing(),
        "a status where headers were asked ends the sync"
    );
}

#[test]
fn an_oversized_or_unpayable_transaction_is_refused() {
    let g = genesis();
    let node = node(&g);
    let huge = vec![0u8; metamesh_node::MAX_RAW_TRANSACTION_BYTES + 1];
    let err = node.submit(&huge).unwrap_err().to_string();
    assert!(err.contains("limit"), "{err}");
    // Only a storage proof (which carries a whole leaf) may pass the ordinary limit: a chain
    // rule now, with its code.
    let big = |action: metamesh_primitives::Action| {
        Transaction {
            chain_id: 9,
            nonce: 0,
            gas_price: Params::default().min_gas_price,
            gas_limit: 10_000_000,
            action,
        }
        .sign(&key(0))
        .unwrap()
        .to_rlp()
    };
    let attest = big(DataAction::Attest {
        digest: [1; 32],
        kind: metamesh_primitives::WorkKind::Paper,
        metadata: vec![0; Params::default().max_tx_bytes as usize],
    }
    .into());
    let err = node.submit(&attest).unwrap_err().to_string();
    assert!(err.contains("byte limit"), "{err}");
    let proof = big(StorageAction::Prove {
        deal: [2; 32],
        epoch: 1,
        path: vec![],
        leaf: vec![0; 300_000],
    }
    .into());
    // Past the size check, it fails on its merits (here: no such deal).
    let err = node.submit(&proof).unwrap_err().to_string();
    assert!(!err.contains("byte limit"), "{err}");
    // A transfer from a key with no MMT and a future nonce is not kept either.
    let raw = Transaction {
        chain_id: 9,
        nonce: 3,
        gas_price: Params::default().min_gas_price,
        gas_limit: 50_000,
        action: AccountAction::Transfer {
            to: Address([7; 20]),
            amount: Amount::from_mmt(1),
        }
        .into(),
    }
    .sign(&key(50))
    .unwrap()
    .to_rlp();
    let err = node.submit(&raw).unwrap_err().to_string();
    assert!(err.contains("cannot pay"), "{err}");
    assert_eq!(node.pool_len(), 0);
}
