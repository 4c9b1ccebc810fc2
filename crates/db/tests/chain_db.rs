//! ChainDb: blocks and their state land together; the canonical index and transaction index
//! follow reorgs; pruning releases old canonical states and losing forks exactly.

mod common;

use common::{Model, apply_batch, assert_holds};
use metamesh_db::{ChainDb, ChainDbConfig, DbError, StoredBlock};
use metamesh_trie::{H256, Keccak256, Trie, TrieCommit, TrieHasher};

fn config(depth: Option<u64>) -> ChainDbConfig {
    ChainDbConfig {
        cache_nodes: 64,
        prune_depth: depth,
    }
}

/// A test block: its "hash" names its branch and height; its state is batch `seed`.
#[derive(Clone)]
struct Built {
    hash: H256,
    number: u64,
    root: H256,
    model: Model,
    tx: H256,
}

fn block_hash(branch: u8, number: u64) -> H256 {
    let mut h = [branch; 32];
    h[..8].copy_from_slice(&number.to_be_bytes());
    h
}

/// Builds a child of `parent` on branch `branch`, applying batch `seed` to the parent's state.
fn build(db: &ChainDb, parent: &Built, branch: u8, seed: u64, make_head: bool) -> Built {
    let mut trie = Trie::<Keccak256, _>::open(db, parent.root);
    let mut model = parent.model.clone();
    apply_batch(&mut trie, &mut model, seed);
    let commit = trie.commit();
    let number = parent.number + 1;
    let hash = block_hash(branch, number);
    let tx = block_hash(branch ^ 0x80, number);
    db.insert_block(
        &StoredBlock {
            hash,
            number,
            parent: parent.hash,
            header: b"header",
            body: b"body",
            receipts: b"receipts",
            tx_hashes: &[tx],
            total_difficulty: number as u128 * 2,
            state: &commit,
        },
        make_head,
    )
    .unwrap();
    Built {
        hash,
        number,
        root: commit.root,
        model,
        tx,
    }
}

fn genesis(db: &ChainDb) -> Built {
    let commit = TrieCommit {
        root: Keccak256::empty_root(),
        ..TrieCommit::default()
    };
    let hash = block_hash(0, 0);
    db.insert_block(
        &StoredBlock {
            hash,
            number: 0,
            parent: [0; 32],
            header: b"genesis",
            body: b"",
            receipts: b"",
            tx_hashes: &[],
            total_difficulty: 0,
            state: &commit,
        },
        true,
    )
    .unwrap();
    Built {
        hash,
        number: 0,
        root: commit.root,
        model: Model::new(),
        tx: [0; 32],
    }
}

#[test]
fn a_reorg_moves_the_canonical_and_transaction_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let db = ChainDb::open(dir.path().join("chain.redb"), config(None)).unwrap();
    let mut main = vec![genesis(&db)];
    for i in 1..=5 {
        let next = build(&db, main.last().unwrap(), 1, i, true);
        main.push(next);
    }
    assert_eq!(db.head().unwrap(), Some((5, main[5].hash)));
    assert_eq!(
        db.tx_location(&main[4].tx).unwrap(),
        Some((main[4].hash, 0))
    );

    // A side branch from block 3, imported without becoming the head…
    let mut side = vec![build(&db, &main[3], 2, 100, false)];
    for i in 1..=3 {
        let next = build(&db, side.last().unwrap(), 2, 100 + i, false);
        side.push(next);
    }
    assert_eq!(db.head().unwrap(), Some((5, main[5].hash)));
    assert_eq!(db.tx_location(&side[0].tx).unwrap(), None);

    // …until a heavier block on it does.
    let tip = build(&db, side.last().unwrap(), 2, 200, true);
    assert_eq!(db.head().unwrap(), Some((8, tip.hash)));
    for (n, b) in side.iter().chain(std::iter::once(&tip)).enumerate() {
        assert_eq!(db.canonical_hash(4 + n as u64).unwrap(), Some(b.hash));
        assert_eq!(db.tx_location(&b.tx).unwrap(), Some((b.hash, 0)));
    }
    assert_eq!(db.canonical_hash(3).unwrap(), Some(main[3].hash));
    for old in &main[4..] {
        assert_eq!(
            db.tx_location(&old.tx).unwrap(),
            None,
            "retracted transactions leave the index"
        );
    }
    assert_holds(&db, tip.root, &tip.model);
    assert_holds(&db, main[5].root, &main[5].model); // an archive keeps the losing fork too

    // And back: a longer main chain retracts the side branch again.
    let mut back = main[5].clone();
    for i in 6..=9 {
        back = build(&db, &back, 1, i, true);
    }
    assert_eq!(db.head().unwrap(), Some((9, back.hash)));
    assert_eq!(db.tx_location(&tip.tx).unwrap(), None);
    assert_eq!(db.canonical_hash(8).unwrap(), Some(block_hash(1, 8)));
}

#[test]
fn pruning_releases_old_states_and_losing_forks_exactly() {
    const DEPTH: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let with_fork = ChainDb::open(dir.path().join("a.redb"), config(Some(DEPTH))).unwrap();
    let without = ChainDb::open(dir.path().join("b.redb"), config(Some(DEPTH))).unwrap();
    let (mut a, mut b) = (genesis(&with_fork), genesis(&without));
    let mut retained = Vec::new();
    for i in 1..=30 {
        if i == 10 {
            // A two-block fork that loses, present only in the first database.
            let f1 = build(&with_fork, &a, 3, 500, false);
            build(&with_fork, &f1, 3, 501, false);
        }
        a = build(&with_fork, &a, 1, i, true);
        b = build(&without, &b, 1, i, true);
        assert_eq!(a.root, b.root);
        retained.push((a.root, a.model.clone()));
    }
    // Every state within the depth is whole…
    for (root, model) in retained.iter().rev().take(DEPTH as usize + 1) {
        assert_holds(&with_fork, *root, model);
    }
    // …and once the fork fell behind the depth, not one of its nodes is left.
    assert_eq!(
        with_fork.node_count().unwrap(),
        without.node_count().unwrap()
    );
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = ChainDb::open(archive_dir.path().join("c.redb"), config(None)).unwrap();
    let mut c = genesis(&archive);
    for i in 1..=30 {
        c = build(&archive, &c, 1, i, true);
    }
    assert!(without.node_count().unwrap() < archive.node_count().unwrap());
}

#[test]
fn an_unknown_parent_is_refused_and_the_head_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let head = {
        let db = ChainDb::open(&path, config(Some(8))).unwrap();
        let mut b = genesis(&db);
        for i in 1..=3 {
            b = build(&db, &b, 1, i, true);
        }
        let orphan_commit = TrieCommit::default();
        let err = db
            .insert_block(
                &StoredBlock {
                    hash: [9; 32],
                    number: 7,
                    parent: [8; 32],
                    header: b"",
                    body: b"",
                    receipts: b"",
                    tx_hashes: &[],
                    total_difficulty: 1,
                    state: &orphan_commit,
                },
                true,
            )
            .unwrap_err();
        assert!(matches!(err, DbError::UnknownParent(_)), "{err}");
        b
    };
    let db = ChainDb::open(&path, config(Some(8))).unwrap();
    assert_eq!(db.head().unwrap(), Some((3, head.hash)));
    assert_eq!(
        db.header(&head.hash).unwrap().as_deref(),
        Some(&b"header"[..])
    );
    assert_eq!(
        db.block_info(&head.hash).unwrap().unwrap().total_difficulty,
        6
    );
    assert_holds(&db, head.root, &head.model);
    db.save_snapshot(&head.hash, b"{}").unwrap();
    assert_eq!(
        db.load_snapshot(&head.hash).unwrap().as_deref(),
        Some(&b"{}"[..])
    );
}
