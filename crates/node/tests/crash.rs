//! Crash safety of the real writer: a child process imports a prepared chain block by block
//! through `Chain::import` (the path a node uses: validation, execution, one redb write with the
//! state, receipts, indexes and pruning) and is killed with SIGKILL at random moments, 100
//! times. After every kill the database reopens, its head is a block the child had committed or
//! the one after, every block up to it is whole and canonical, its transactions are indexed,
//! and the head's state reads back. The schedule comes from a printed seed (`CRASH_SEED=…`).

use std::{
    io::{BufRead as _, BufReader, Write as _},
    path::Path,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_node::Chain;
use metamesh_primitives::{AccountAction, Amount, Block, Transaction};
use metamesh_state::{Genesis, Params, VerifiedTx};

const CHILD_ENV: &str = "METAMESH_CRASH_IMPORT_DIR";
const KILLS: usize = 100;
const BLOCKS: u64 = 150;
const FRIEND: Address = Address([0x77; 20]);

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(Suite::Sm, &Suite::Sm.hash(&[b'c', i])).unwrap()
}

fn genesis() -> Genesis {
    let (signer, user) = (key(1), key(2));
    Genesis::dev(
        31,
        Suite::Sm,
        1_000,
        1,
        vec![signer.public_key().address()],
        &[user.public_key().address()],
        Amount::from_mmt(10_000),
    )
}

fn config() -> ChainDbConfig {
    ChainDbConfig {
        cache_nodes: 2_000,
        prune_depth: Some(16),
    }
}

/// A chain of `BLOCKS` blocks, each with a transfer of one MMT to `FRIEND`, as block RLPs.
fn build_chain(dir: &Path) -> Vec<Block> {
    let g = genesis();
    let (signer, user) = (key(1), key(2));
    let mut chain = Chain::open(&dir.join("source.redb"), g.clone(), config()).unwrap();
    let mut out = Vec::new();
    for n in 0..BLOCKS {
        let tx = Transaction {
            chain_id: g.chain_id,
            nonce: n,
            gas_price: Params::default().min_gas_price,
            gas_limit: 50_000,
            action: AccountAction::Transfer {
                to: FRIEND,
                amount: Amount::from_mmt(1),
            }
            .into(),
        }
        .sign(&user)
        .unwrap();
        let now = chain.head().timestamp + 1;
        let built = chain
            .build_block(&signer, &[VerifiedTx::new(tx, Suite::Sm)], None, now)
            .unwrap();
        let block = built.block.clone();
        chain.import_built(built, now).unwrap();
        out.push(block);
    }
    out
}

/// The importer: runs only inside the child process the crash test starts (the variable names
/// its directory); in a normal test run it returns at once.
#[test]
fn crash_import_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let raw = std::fs::read(dir.join("blocks.bin")).unwrap();
    let mut chain = Chain::open(&dir.join("chain.redb"), genesis(), config()).unwrap();
    let mut out = std::io::stdout();
    let mut buf = raw.as_slice();
    while !buf.is_empty() {
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        let block = Block::decode(&buf[4..4 + len], Suite::Sm).unwrap();
        buf = &buf[4 + len..];
        if block.header.number <= chain.head().number {
            continue;
        }
        chain.import(&block, u64::MAX).unwrap();
        writeln!(out, "{}", block.header.number).unwrap();
        out.flush().unwrap();
    }
    // Everything imported: wait to be killed.
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn sigkill_during_imports_never_loses_a_committed_block() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0c4a_5e12);
    eprintln!("crash schedule seed: {seed} (replay with CRASH_SEED={seed})");
    let mut rng = seed;
    let mut below = |n: u64| {
        rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    };
    let dir = tempfile::tempdir().unwrap();
    let blocks = build_chain(dir.path());
    let mut file = Vec::new();
    for b in &blocks {
        let rlp = b.to_rlp();
        file.extend((rlp.len() as u32).to_be_bytes());
        file.extend(rlp);
    }
    std::fs::write(dir.path().join("blocks.bin"), file).unwrap();
    let hashes: Vec<_> = blocks.iter().map(|b| b.hash(Suite::Sm)).collect();

    let mut committed = 0u64;
    let mut progressed = 0;
    let mut rounds = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_import_child",
                "--test-threads",
                "1",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reported = Arc::new(AtomicU64::new(0));
        let started = committed;
        let stdout = child.stdout.take().unwrap();
        let r = reported.clone();
        let reader = std::thread::spawn(move || {
            // The harness prints `test crash_import_child ... ` before the first number.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(Ok(n)) = line.split_whitespace().last().map(str::parse::<u64>) {
                    r.fetch_max(n, Ordering::SeqCst);
                }
            }
        });
        // One kill in four lands while the child starts (reopening after the last crash);
        // the others once it imports (its start takes tens of milliseconds, longer on a busy
        // machine), at a random moment of the import work: a block takes a few ms.
        if below(4) > 0 {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while reported.load(Ordering::SeqCst) <= started && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        std::thread::sleep(Duration::from_millis(below(60)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let reported = reported.load(Ordering::SeqCst);
        let before = committed;
        committed = committed.max(reported);

        let chain = Chain::open(&dir.path().join("chain.redb"), genesis(), config())
            .unwrap_or_else(|e| {
                panic!("seed {seed}, kill {kill}: the database does not reopen: {e}")
            });
        let head = chain.head().number;
        assert!(
            head >= committed && head <= committed + 1,
            "seed {seed}, kill {kill}: head {head}, but block {committed} was committed"
        );
        if head > 0 {
            assert_eq!(
                chain.head().hash(Suite::Sm),
                hashes[head as usize - 1],
                "seed {seed}, kill {kill}"
            );
        }
        if head > before {
            progressed += 1;
        }
        committed = head;
        let db = chain.db();
        let reset = head == BLOCKS;
        for n in 1..=head {
            let hash = hashes[n as usize - 1];
            assert_eq!(
                db.canonical_hash(n).unwrap(),
                Some(hash),
                "seed {seed}, kill {kill}: block {n}"
            );
            assert!(db.body(&hash).unwrap().is_some() && db.receipts(&hash).unwrap().is_some());
            let tx = blocks[n as usize - 1].transactions[0].hash(Suite::Sm);
            assert_eq!(
                db.tx_location(&tx).unwrap(),
                Some((hash, 0)),
                "seed {seed}, kill {kill}: block {n}'s transaction"
            );
        }
        assert_eq!(db.canonical_hash(head + 1).unwrap(), None);
        let state = chain.state();
        assert_eq!(
            state.account(&FRIEND).unwrap().balance,
            Amount::from_mmt(u128::from(head)),
            "seed {seed}, kill {kill}: the head's state"
        );
        assert_eq!(
            state.account(&key(2).public_key().address()).unwrap().nonce,
            head
        );
        if reset {
            // All imported: start again on an empty database, so every kill still lands in work.
            drop(state);
            drop(chain);
            std::fs::remove_file(dir.path().join("chain.redb")).unwrap();
            committed = 0;
            rounds += 1;
        }
    }
    eprintln!(
        "{KILLS} kills, {progressed} with new blocks, {rounds} whole chain(s) imported, then head {committed} of {BLOCKS}; 0 damaged"
    );
    assert!(
        progressed >= KILLS / 2,
        "the importer made too little progress to test anything"
    );
}
