//! Crash safety: a writer process committing versions in a loop is killed with SIGKILL at
//! random moments, 100 times. After every kill the store reopens, its newest root is exactly
//! the expected one for its version, every key under it reads back, and the oldest retained
//! root is still complete. The schedule comes from a printed seed (`CRASH_SEED=…` replays it).

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use common::{Model, Rng, apply_batch, assert_holds};
use metamesh_db::{TrieDb, TrieDbConfig};
use metamesh_trie::{Keccak256, MemoryStore, Trie, TrieHasher};

const CHILD_ENV: &str = "METAMESH_CRASH_WRITER_DB";
const KILLS: usize = 100;

fn config() -> TrieDbConfig {
    TrieDbConfig {
        cache_nodes: 1024,
        prune_depth: Some(8),
    }
}

/// The writer: runs only inside the child process the crash test starts (the variable names
/// its database); in a normal test run it returns at once.
#[test]
fn crash_writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = TrieDb::open(&path, config()).unwrap();
    let (mut version, root) = db.latest().unwrap().unwrap_or((0, Keccak256::empty_root()));
    let mut trie = Trie::<Keccak256, _>::open(&db, root);
    let mut scratch = Model::new();
    // Bounded, in case the parent never kills us.
    while version < 1_000_000 {
        version += 1;
        apply_batch(&mut trie, &mut scratch, version);
        db.commit(version, &trie.commit()).unwrap();
    }
}

#[test]
fn sigkill_during_commits_never_damages_the_store() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    eprintln!("crash schedule seed: {seed} (replay with CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");

    // The expected state, advanced in step with what the writer committed.
    let store = MemoryStore::new();
    let mut expected = Trie::<Keccak256, _>::new(&store);
    let mut model = Model::new();
    let mut model_version = 0;
    let mut progressed = 0;

    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_writer_child", "--test-threads", "1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + rng.below(80)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let db = TrieDb::open(&path, config())
            .unwrap_or_else(|e| panic!("seed {seed}, kill {kill}: store does not reopen: {e}"));
        let Some((version, root)) = db.latest().unwrap() else {
            continue; // killed before the first commit
        };
        assert!(
            version >= model_version,
            "seed {seed}, kill {kill}: version went back"
        );
        if version > model_version {
            progressed += 1;
        }
        while model_version < version {
            model_version += 1;
            apply_batch(&mut expected, &mut model, model_version);
        }
        let commit = expected.commit();
        store.apply(&commit);
        assert_eq!(
            root, commit.root,
            "seed {seed}, kill {kill}: root of version {version}"
        );
        assert_holds(&db, root, &model);

        let oldest = db.oldest_retained().unwrap().unwrap();
        let oldest_root = db.root_at(oldest).unwrap().unwrap();
        let complete = Trie::<Keccak256, _>::open(&db, oldest_root)
            .iter()
            .collect::<Result<Vec<_>, _>>();
        assert!(
            complete.is_ok(),
            "seed {seed}, kill {kill}: version {oldest} damaged: {complete:?}"
        );
    }
    eprintln!(
        "{KILLS} kills, {progressed} with new commits, last version {model_version}, 0 damaged"
    );
    assert!(
        progressed > KILLS / 2,
        "the writer made too little progress to test anything"
    );
}
