//! The chain on one node: blocks built by a signer import with full validation; balances,
//! records and the supply come out right; restarts resume; tampered blocks are refused without
//! a trace; a heavier fork takes over and reports what it retracted.

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_node::{Chain, ImportError, Imported};
use metamesh_primitives::{
    AccountAction, Amount, Block, DataAction, TOTAL_SUPPLY, Transaction, WorkKind,
};
use metamesh_state::{
    Attestation, BlockError, CliqueParams, Code, Genesis, Grant, Params, Pool, StateKey, VerifiedTx,
};

fn key(suite: Suite, i: u8) -> SecretKey {
    SecretKey::from_bytes(suite, &suite.hash(&[b'k', i])).unwrap()
}

fn genesis(suite: Suite, signers: &[&SecretKey], user: &SecretKey, chain_id: u64) -> Genesis {
    Genesis {
        chain_id,
        suite,
        timestamp: 1_000,
        clique: CliqueParams {
            period: 5,
            epoch: 30_000,
            signers: signers.iter().map(|k| k.public_key().address()).collect(),
        },
        params: Params::default(),
        grants: vec![Grant {
            address: user.public_key().address(),
            amount: Amount::from_mmt(1_000),
            pool: Pool::Airdrops,
        }],
    }
}

fn open(dir: &std::path::Path, g: &Genesis) -> Chain {
    Chain::open(&dir.join("chain.redb"), g.clone(), ChainDbConfig::default()).unwrap()
}

fn transfer(chain: &Chain, from: &SecretKey, nonce: u64, to: Address, mmt: u128) -> VerifiedTx {
    let tx = Transaction {
        chain_id: chain.genesis().chain_id,
        nonce,
        gas_price: Params::default().min_gas_price,
        gas_limit: 50_000,
        action: AccountAction::Transfer {
            to,
            amount: Amount::from_mmt(mmt),
        }
        .into(),
    }
    .sign(from)
    .unwrap();
    VerifiedTx::new(tx, chain.suite())
}

fn now_for(chain: &Chain) -> u64 {
    chain.head().timestamp + chain.genesis().clique.period
}

#[test]
fn blocks_build_import_and_survive_a_restart() {
    for suite in Suite::ALL {
        let dir = tempfile::tempdir().unwrap();
        let (signer, user) = (key(suite, 1), key(suite, 2));
        let friend = key(suite, 3).public_key().address();
        let g = genesis(suite, &[&signer], &user, 42);
        let mut chain = open(dir.path(), &g);
        let mut last_tx = None;
        for n in 0..10u64 {
            let mut txs = vec![transfer(&chain, &user, n * 2, friend, 1)];
            let attest = Transaction {
                chain_id: 42,
                nonce: n * 2 + 1,
                gas_price: Params::default().min_gas_price,
                gas_limit: 100_000,
                action: DataAction::Attest {
                    digest: [n as u8; 32],
                    kind: WorkKind::Paper,
                    metadata: vec![],
                }
                .into(),
            };
            txs.push(VerifiedTx::new(attest.sign(&user).unwrap(), suite));
            // A stale duplicate is left out by the builder.
            txs.push(transfer(&chain, &user, 0, friend, 1));
            let now = now_for(&chain);
            let block = chain.build_block(&signer, &txs, None, now).unwrap().block;
            assert_eq!(
                block.transactions.len(),
                2,
                "{suite}: the invalid candidate is left out"
            );
            let imported = chain.import(&block, now).unwrap();
            assert!(matches!(imported, Imported::New { head: true, .. }));
            assert_eq!(chain.import(&block, now).unwrap(), Imported::Known);
            last_tx = Some(txs[0].hash);
        }
        assert_eq!(chain.head().number, 10);
        let state = chain.state();
        assert_eq!(
            state.account(&friend).unwrap().balance,
            Amount::from_mmt(10)
        );
        assert_eq!(
            state.account(&user.public_key().address()).unwrap().nonce,
            20
        );
        assert_eq!(
            state.load::<Attestation>(&[3; 32]).unwrap().unwrap().block,
            4
        );
        let mut sum = 0u128;
        let mut holders: Vec<Address> = Pool::ALL.iter().map(|p| p.address(suite)).collect();
        holders.extend([
            user.public_key().address(),
            friend,
            signer.public_key().address(),
            metamesh_state::escrow_account(suite),
        ]);
        for a in holders {
            sum += state.account(&a).unwrap().balance.0;
        }
        assert_eq!(sum, TOTAL_SUPPLY.0, "{suite}: supply");
        let head_hash = chain.head().hash(suite);
        assert_eq!(
            chain
                .db()
                .tx_location(&last_tx.unwrap())
                .unwrap()
                .unwrap()
                .0,
            head_hash
        );

        // Restart: the same head and state; sealing continues.
        drop(state);
        drop(chain);
        let mut chain = open(dir.path(), &g);
        assert_eq!(chain.head().hash(suite), head_hash);
        let now = now_for(&chain);
        let block = chain
            .build_block(
                &signer,
                &[transfer(&chain, &user, 20, friend, 1)],
                None,
                now,
            )
            .unwrap()
            .block;
        chain.import(&block, now).unwrap();
        assert_eq!(
            chain.state().account(&friend).unwrap().balance,
            Amount::from_mmt(11)
        );
        let proof = chain.state().prove(&StateKey::Account(friend)).unwrap();
        assert!(!proof.is_empty());
        drop(chain);

        // Another genesis cannot open this directory.
        let other = genesis(suite, &[&signer], &user, 43);
        let err = Chain::open(
            &dir.path().join("chain.redb"),
            other,
            ChainDbConfig::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ImportError::OtherChain { .. }), "{err}");
    }
}

/// A node stores the blocks it builds without executing them again; another node that does
/// execute them arrives at the same state.
#[test]
fn built_blocks_stored_directly_match_full_validation() {
    let suite = Suite::Sm;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (signer, user) = (key(suite, 1), key(suite, 2));
    let friend = key(suite, 3).public_key().address();
    let g = genesis(suite, &[&signer], &user, 42);
    let (mut builder, mut follower) = (open(d1.path(), &g), open(d2.path(), &g));
    for n in 0..5 {
        let now = now_for(&builder);
        let txs = [transfer(&builder, &user, n, friend, 1)];
        let built = builder.build_block(&signer, &txs, None, now).unwrap();
        let block = built.block.clone();
        builder.import_built(built, now).unwrap();
        follower.import(&block, now).unwrap();
        assert_eq!(builder.head(), follower.head());
    }
    assert_eq!(
        builder.state().account(&friend).unwrap(),
        follower.state().account(&friend).unwrap()
    );
}

#[test]
fn tampered_blocks_are_refused_and_leave_no_trace() {
    let suite = Suite::Sm;
    let dir = tempfile::tempdir().unwrap();
    let (signer, user) = (key(suite, 1), key(suite, 2));
    let g = genesis(suite, &[&signer], &user, 42);
    let mut chain = open(dir.path(), &g);
    let friend = key(suite, 3).public_key().address();
    let now = now_for(&chain);
    let good = chain
        .build_block(&signer, &[transfer(&chain, &user, 0, friend, 5)], None, now)
        .unwrap()
        .block;

    let reseal = |mut block: Block| {
        let len = block.header.extra.len();
        block.header.extra[len - 97..].fill(0);
        let engine = metamesh_consensus::Clique::new(metamesh_consensus::CliqueConfig {
            period: 5,
            epoch: 30_000,
            suite,
        })
        .unwrap();
        engine.seal(&mut block.header, &signer).unwrap();
        block
    };
    let mut wrong_state = good.clone();
    wrong_state.header.state_root[0] ^= 1;
    let err = chain.import(&reseal(wrong_state), now).unwrap_err();
    assert!(matches!(err, ImportError::StateRoot { .. }), "{err}");

    let mut missing_tx = good.clone();
    missing_tx.transactions.clear();
    let err = chain.import(&missing_tx, now).unwrap_err();
    assert!(matches!(err, ImportError::TransactionsRoot { .. }), "{err}");

    let mut wrong_receipts = good.clone();
    wrong_receipts.header.receipts_root[0] ^= 1;
    let err = chain.import(&reseal(wrong_receipts), now).unwrap_err();
    assert!(matches!(err, ImportError::ReceiptsRoot { .. }), "{err}");

    // Gas the header does not account for, and a gas limit that is not the parameter's.
    let mut wrong_gas = good.clone();
    wrong_gas.header.gas_used += 1;
    let err = chain.import(&reseal(wrong_gas), now).unwrap_err();
    assert!(matches!(err, ImportError::GasUsed { .. }), "{err}");
    let mut wrong_limit = good.clone();
    wrong_limit.header.gas_limit -= 1;
    let err = chain.import(&reseal(wrong_limit), now).unwrap_err();
    assert!(
        matches!(err, ImportError::Block(BlockError::GasLimit { .. })),
        "{err}"
    );

    // A block that carries a transaction which cannot be in it (a second use of nonce 0):
    // the whole block is invalid, so rejected transactions are never free block space.
    let mut padded = good.clone();
    let mut again = transfer(&chain, &user, 0, friend, 1).tx;
    again.tx.gas_price = Amount(again.tx.gas_price.0 + 1);
    let again = again.tx.sign(&user).unwrap();
    padded.transactions.push(again);
    padded.header.transactions_root =
        metamesh_state::transactions_root(suite, &padded.transactions);
    let err = chain.import(&reseal(padded), now).unwrap_err();
    assert!(
        matches!(&err, ImportError::Block(BlockError::Invalid { index: 1, rejection }) if rejection.code == Code::StaleNonce),
        "{err}"
    );

    let intruder = key(suite, 9);
    let mut forged = good.clone();
    let len = forged.header.extra.len();
    forged.header.extra[len - 97..].fill(0);
    let engine = metamesh_consensus::Clique::new(metamesh_consensus::CliqueConfig {
        period: 5,
        epoch: 30_000,
        suite,
    })
    .unwrap();
    engine.seal(&mut forged.header, &intruder).unwrap();
    let err = chain.import(&forged, now).unwrap_err();
    assert!(matches!(err, ImportError::Consensus(_)), "{err}");

    assert_eq!(chain.head().number, 0, "nothing was imported");
    assert_eq!(
        chain.state().account(&friend).unwrap().balance,
        Amount::ZERO
    );
    chain.import(&good, now).unwrap();
    assert_eq!(
        chain.state().account(&friend).unwrap().balance,
        Amount::from_mmt(5)
    );
}

#[test]
fn a_heavier_fork_takes_over_and_reports_what_it_retracted() {
    let suite = Suite::Eth;
    let (a, b, user) = (key(suite, 1), key(suite, 4), key(suite, 2));
    let g = genesis(suite, &[&a, &b], &user, 42);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut node1, mut node2) = (open(d1.path(), &g), open(d2.path(), &g));
    let genesis_hash = node1.head().hash(suite);
    let snap = node1.snapshot(&genesis_hash).unwrap();
    let (in_turn, out_of_turn) = if snap.in_turn(1, &a.public_key().address()) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let friend = key(suite, 3).public_key().address();

    // Node 1: an out-of-turn block 1 carrying a transfer.
    let now = now_for(&node1);
    let tx = transfer(&node1, &user, 0, friend, 7);
    let side = node1
        .build_block(out_of_turn, std::slice::from_ref(&tx), None, now)
        .unwrap()
        .block;
    node1.import(&side, now).unwrap();
    assert_eq!(
        node1.db().tx_location(&tx.hash).unwrap().unwrap().0,
        side.hash(suite)
    );

    // Node 2: in-turn block 1, then block 2 by the other signer (in turn again at 2).
    let main1 = node2.build_block(in_turn, &[], None, now).unwrap().block;
    node2.import(&main1, now).unwrap();
    let now2 = now_for(&node2);
    let main2 = node2
        .build_block(out_of_turn, &[], None, now2)
        .unwrap()
        .block;
    node2.import(&main2, now2).unwrap();

    // Node 1 learns node 2's chain: the in-turn block alone is already heavier.
    match node1.import(&main1, now2).unwrap() {
        Imported::New { head, change, .. } => {
            assert!(head);
            assert_eq!(change.retracted, vec![side.hash(suite)]);
            assert_eq!(change.enacted, vec![main1.hash(suite)]);
        }
        Imported::Known => panic!("new block reported as known"),
    }
    assert_eq!(
        node1.db().tx_location(&tx.hash).unwrap(),
        None,
        "the transfer left the canonical chain"
    );
    assert_eq!(
        node1.state().account(&friend).unwrap().balance,
        Amount::ZERO
    );
    node1.import(&main2, now2).unwrap();
    assert_eq!(node1.head().hash(suite), main2.hash(suite));
    assert_eq!(node1.head().hash(suite), node2.head().hash(suite));

    // The side block imported into node 2 stays a side block.
    match node2.import(&side, now2).unwrap() {
        Imported::New { head, .. } => assert!(!head),
        Imported::Known => panic!("new block reported as known"),
    }
}
