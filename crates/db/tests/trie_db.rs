//! TrieDb: retained roots stay whole while pruning keeps the store bounded; reopening finds
//! the last commit; misuse gets named errors.

mod common;

use std::collections::VecDeque;

use common::{Model, apply_batch, assert_holds, root_of};
use metamesh_db::{DbError, TrieDb, TrieDbConfig};
use metamesh_trie::{Keccak256, Trie};

fn config(depth: Option<u64>) -> TrieDbConfig {
    TrieDbConfig {
        cache_nodes: 64, // small, so reads go to redb
        prune_depth: depth,
    }
}

#[test]
fn pruned_store_keeps_every_retained_root_whole() {
    const DEPTH: u64 = 6;
    let dir = tempfile::tempdir().unwrap();
    let db = TrieDb::open(dir.path().join("state.redb"), config(Some(DEPTH))).unwrap();
    let mut trie = Trie::<Keccak256, _>::new(&db);
    let mut model = Model::new();
    let mut window: VecDeque<(u64, Model)> = VecDeque::new();
    for v in 1..=120 {
        apply_batch(&mut trie, &mut model, v);
        let commit = trie.commit();
        db.commit(v, &commit).unwrap();
        assert_eq!(commit.root, root_of(&model), "root of version {v}");
        window.push_back((v, model.clone()));
        if window.len() as u64 > DEPTH + 1 {
            window.pop_front();
        }
        if v % 10 == 0 {
            for (old, old_model) in &window {
                let root = db.root_at(*old).unwrap().expect("retained root");
                assert_holds(&db, root, old_model);
            }
        }
    }
    assert_eq!(db.oldest_retained().unwrap(), Some(120 - DEPTH));
    assert_eq!(db.root_at(120 - DEPTH - 1).unwrap(), None);

    // The archive keeps more: pruning really deletes.
    let dir2 = tempfile::tempdir().unwrap();
    let archive = TrieDb::open(dir2.path().join("archive.redb"), config(None)).unwrap();
    let mut trie = Trie::<Keccak256, _>::new(&archive);
    let mut m = Model::new();
    for v in 1..=120 {
        apply_batch(&mut trie, &mut m, v);
        archive.commit(v, &trie.commit()).unwrap();
    }
    let (pruned, kept) = (db.node_count().unwrap(), archive.node_count().unwrap());
    assert!(pruned < kept, "pruned {pruned} nodes vs archive {kept}");
    assert_holds(
        &archive,
        archive.root_at(1).unwrap().unwrap(),
        &common::model_after(1),
    );
}

#[test]
fn reopening_finds_the_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let mut model = Model::new();
    {
        let db = TrieDb::open(&path, config(Some(4))).unwrap();
        let mut trie = Trie::<Keccak256, _>::new(&db);
        for v in 1..=30 {
            apply_batch(&mut trie, &mut model, v);
            db.commit(v, &trie.commit()).unwrap();
        }
        // Uncommitted work is simply lost with the process.
        apply_batch(&mut trie, &mut model.clone(), 31);
    }
    let db = TrieDb::open(&path, config(Some(4))).unwrap();
    let (v, root) = db.latest().unwrap().unwrap();
    assert_eq!(v, 30);
    assert_eq!(root, root_of(&model));
    assert_holds(&db, root, &model);
}

#[test]
fn versions_must_be_consecutive_and_build_on_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let db = TrieDb::open(dir.path().join("s.redb"), config(Some(4))).unwrap();
    let mut trie = Trie::<Keccak256, _>::new(&db);
    trie.insert(b"a", b"1").unwrap();
    let first = trie.commit();
    db.commit(7, &first).unwrap();
    trie.insert(b"b", b"2").unwrap();
    let second = trie.commit();
    let err = db.commit(9, &second).unwrap_err();
    assert!(
        matches!(err, DbError::VersionOutOfOrder { latest: 7, got: 9 }),
        "{err}"
    );
    assert!(matches!(
        db.commit(7, &second),
        Err(DbError::VersionOutOfOrder { .. })
    ));

    // A commit built on an older root (a fork) is refused before it can skew the counts.
    let mut fork = Trie::<Keccak256, _>::new(&db);
    fork.insert(b"c", b"3").unwrap();
    let err = db.commit(8, &fork.commit()).unwrap_err();
    assert!(
        matches!(err, DbError::NotOnLatest { latest: 7, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("must build on the newest version"));

    db.commit(8, &second).unwrap();
    assert_eq!(db.latest().unwrap(), Some((8, second.root)));
}

#[test]
fn a_second_process_cannot_open_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _db = TrieDb::open(&path, config(None)).unwrap();
    let err = TrieDb::open(&path, config(None)).err().expect("locked");
    assert!(err.to_string().contains("database"), "{err}");
}
