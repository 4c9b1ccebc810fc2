//! The node service: raw transactions enter the pool, the signer seals them into blocks when
//! the period allows, proposals ride along as votes, a reorg puts retracted transactions back,
//! and the sealing loop runs on its own until shut down.

use std::time::Duration;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_node::{Chain, NodeService, PoolConfig, PoolError, SealPlan, SubmitError, unix_now};
use metamesh_primitives::{AccountAction, Amount, Transaction};
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};

fn key(suite: Suite, i: u8) -> SecretKey {
    SecretKey::from_bytes(suite, &suite.hash(&[b'k', i])).unwrap()
}

fn genesis(
    suite: Suite,
    signers: &[&SecretKey],
    user: &SecretKey,
    period: u64,
    timestamp: u64,
) -> Genesis {
    Genesis {
        chain_id: 42,
        suite,
        timestamp,
        clique: CliqueParams {
            period,
            epoch: 30_000,
            signers: signers.iter().map(|k| k.public_key().address()).collect(),
        },
        params: Params::default(),
        grants: vec![Grant {
            address: user.public_key().address(),
            amount: Amount::from_mmt(100),
            pool: Pool::Airdrops,
        }],
    }
}

fn service(dir: &std::path::Path, g: &Genesis, signer: &SecretKey) -> std::sync::Arc<NodeService> {
    let chain = Chain::open(&dir.join("chain.redb"), g.clone(), ChainDbConfig::default()).unwrap();
    NodeService::new(chain, Some(signer.clone()), PoolConfig::default())
}

fn raw_transfer(user: &SecretKey, nonce: u64, to: Address, chain_id: u64) -> Vec<u8> {
    Transaction {
        chain_id,
        nonce,
        gas_price: metamesh_state::Params::default().min_gas_price,
        gas_limit: 50_000,
        action: AccountAction::Transfer {
            to,
            amount: Amount::from_mmt(3),
        }
        .into(),
    }
    .sign(user)
    .unwrap()
    .to_rlp()
}

#[test]
fn submitted_transactions_are_sealed_when_the_period_allows() {
    let suite = Suite::Sm;
    let dir = tempfile::tempdir().unwrap();
    let (signer, user) = (key(suite, 1), key(suite, 2));
    let friend = key(suite, 3).public_key().address();
    let g = genesis(suite, &[&signer], &user, 5, 1_000);
    let node = service(dir.path(), &g, &signer);

    assert_eq!(
        node.plan(1_002, 0).unwrap(),
        SealPlan::Wait(Duration::from_secs(3))
    );
    let hash = node.submit(&raw_transfer(&user, 0, friend, 42)).unwrap();
    assert_eq!(node.pool_len(), 1);
    assert!(node.pending_transaction(&hash).is_some());
    let SealPlan::Seal { parent, delay } = node.plan(1_005, 77).unwrap() else {
        panic!("the only signer should seal")
    };
    assert_eq!(delay, Duration::ZERO, "the only signer is always in turn");
    let block = node.seal(parent, 1_005).unwrap().unwrap();
    assert_eq!(block.transactions.len(), 1);
    assert_eq!(node.pool_len(), 0, "included transactions leave the pool");
    let balance = node.with_chain(|c| c.state().account(&friend).unwrap().balance);
    assert_eq!(balance, Amount::from_mmt(3));
    // Sealing on a stale parent does nothing.
    assert_eq!(node.seal(parent, 1_010).unwrap(), None);

    let err = node.submit(b"\x01\x02").unwrap_err();
    assert!(matches!(err, SubmitError::Malformed(_)), "{err}");
    let err = node
        .submit(&raw_transfer(&user, 1, friend, 43))
        .unwrap_err();
    assert!(
        matches!(&err, SubmitError::Refused(r) if r.code == metamesh_state::Code::WrongChain),
        "{err}"
    );
    let err = node
        .submit(&raw_transfer(&user, 0, friend, 42))
        .unwrap_err();
    assert!(
        matches!(err, SubmitError::Pool(PoolError::StaleNonce { .. })),
        "{err}"
    );
}

#[test]
fn proposals_become_votes_and_votes_change_the_signers() {
    let suite = Suite::Eth;
    let dir = tempfile::tempdir().unwrap();
    let (signer, user, newcomer) = (key(suite, 1), key(suite, 2), key(suite, 5));
    let g = genesis(suite, &[&signer], &user, 1, 1_000);
    let node = service(dir.path(), &g, &signer);
    node.propose(newcomer.public_key().address(), true);
    assert_eq!(node.proposals().len(), 1);
    let SealPlan::Seal { parent, .. } = node.plan(1_001, 0).unwrap() else {
        panic!()
    };
    let block = node.seal(parent, 1_001).unwrap().unwrap();
    assert_eq!(block.header.coinbase, newcomer.public_key().address());
    let signers = node.with_chain(|c| {
        let head = c.head().hash(suite);
        c.snapshot(&head).unwrap().signers.len()
    });
    assert_eq!(signers, 2, "one of one votes passes");
    assert!(
        node.proposals().is_empty(),
        "an enacted proposal is dropped once it came true"
    );
}

#[test]
fn a_reorg_puts_retracted_transactions_back_in_the_pool() {
    let suite = Suite::Eth;
    let (a, b, user) = (key(suite, 1), key(suite, 4), key(suite, 2));
    let friend = key(suite, 3).public_key().address();
    let g = genesis(suite, &[&a, &b], &user, 5, 1_000);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let snap_in_turn = |node: &NodeService, k: &SecretKey| {
        node.with_chain(|c| {
            let h = c.head().hash(suite);
            c.snapshot(&h)
                .unwrap()
                .in_turn(c.head().number + 1, &k.public_key().address())
        })
    };
    let probe = service(d1.path(), &g, &a);
    let (in_turn, out_of_turn) = if snap_in_turn(&probe, &a) {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    };
    drop(probe);
    let node1 = service(d1.path(), &g, &out_of_turn);
    let node2 = service(d2.path(), &g, &in_turn);

    node1.submit(&raw_transfer(&user, 0, friend, 42)).unwrap();
    let SealPlan::Seal { parent, delay } = node1.plan(1_005, 123).unwrap() else {
        panic!()
    };
    assert!(
        delay < Duration::from_millis(1_000),
        "out of turn: rand(N·500 ms)"
    );
    node1.seal(parent, 1_005).unwrap().unwrap();
    assert_eq!(node1.pool_len(), 0);

    let SealPlan::Seal { parent, .. } = node2.plan(1_005, 0).unwrap() else {
        panic!()
    };
    let heavier = node2.seal(parent, 1_005).unwrap().unwrap();
    node1.import(&heavier, 1_005).unwrap();
    assert_eq!(
        node1.pool_len(),
        1,
        "the retracted transfer is pending again"
    );
    assert_eq!(
        node1.with_chain(|c| c.state().account(&friend).unwrap().balance),
        Amount::ZERO
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sealing_loop_runs_until_shut_down() {
    let suite = Suite::Sm;
    let dir = tempfile::tempdir().unwrap();
    let (signer, user) = (key(suite, 1), key(suite, 2));
    let g = genesis(suite, &[&signer], &user, 1, unix_now() - 1);
    let node = service(dir.path(), &g, &signer);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(node.clone().run_sealer(stopped));
    let mut heads = node.subscribe_heads();
    let first = tokio::time::timeout(Duration::from_secs(5), heads.recv())
        .await
        .unwrap()
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), heads.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.number, first.number + 1);
    assert!(second.timestamp > first.timestamp, "one block per period");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn the_nodes_own_transactions_get_into_a_full_pool() {
    let suite = Suite::Sm;
    let dir = tempfile::tempdir().unwrap();
    let (stranger, me) = (key(suite, 2), key(suite, 4));
    let friend = key(suite, 3).public_key().address();
    let mut g = genesis(suite, &[&key(suite, 1)], &stranger, 5, 1_000);
    g.grants.push(Grant {
        address: me.public_key().address(),
        amount: Amount::from_mmt(100),
        pool: Pool::Airdrops,
    });
    let chain = Chain::open(&dir.path().join("chain.redb"), g, ChainDbConfig::default()).unwrap();
    let config = PoolConfig {
        max_transactions: 1,
        ..PoolConfig::default()
    };
    let node = NodeService::new(chain, Some(me), config);
    node.submit(&raw_transfer(&stranger, 0, friend, 42))
        .unwrap();
    let err = node
        .submit(&raw_transfer(&stranger, 1, friend, 42))
        .unwrap_err();
    assert!(
        matches!(err, SubmitError::Pool(PoolError::PoolFull)),
        "{err}"
    );
    // A flood cannot keep the node's own (its storage proofs) out: a stranger's goes instead.
    let own = node
        .submit_own(
            AccountAction::Transfer {
                to: friend,
                amount: Amount::from_mmt(1),
            }
            .into(),
        )
        .unwrap();
    assert!(node.pending_transaction(&own).is_some());
    assert_eq!(node.pool_len(), 1);
}
