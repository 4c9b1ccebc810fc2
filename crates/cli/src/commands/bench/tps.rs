//! `metamesh bench tps`: end-to-end throughput — signature checks on entry, pool, block
//! building, execution and the atomic write — beside the machine's signature-verification
//! ceiling measured in the same run (verification is spread over all cores in both). Either one
//! node in this process, or a running network through its RPC (`--rpc`).

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use metamesh_crypto::{SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_node::{Chain, NodeService, PoolConfig, SealPlan};
use metamesh_primitives::{AccountAction, Address, Amount, SignedTransaction, Transaction};
use metamesh_state::Genesis;
use serde::Serialize;

use crate::Context;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TpsReport {
    suite: Suite,
    transactions: usize,
    accounts: usize,
    cores: usize,
    blocks: u64,
    seconds: f64,
    included_tps: f64,
    /// The mean of the ceiling measured just before and just after the run.
    verify_ceiling_tps: f64,
    verify_ceiling_before: f64,
    verify_ceiling_after: f64,
    ratio: f64,
}

/// Transactions per block under load (the pool hands out at most 2,000).
const BLOCK_TXS: usize = 2_000;

pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Verifies every signature, spread over all cores: the ceiling of any pipeline.
pub(super) fn verify_ceiling(txs: &[SignedTransaction]) -> f64 {
    let chunk = txs.len().div_ceil(cores());
    let start = Instant::now();
    std::thread::scope(|s| {
        for part in txs.chunks(chunk) {
            s.spawn(move || {
                for t in part {
                    assert!(t.sender().is_ok(), "bench transactions are well signed");
                }
            });
        }
    });
    txs.len() as f64 / start.elapsed().as_secs_f64()
}

/// One node in this process, sealing as soon as a block's worth waits.
pub fn local(ctx: &Context, n: usize, accounts: usize, suite: Suite) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        n > 0 && accounts > 0,
        "--txs and --accounts must be positive"
    );
    anyhow::ensure!(
        n.div_ceil(accounts) <= 256,
        "at most 256 transactions per account: raise --accounts"
    );
    let dir = tempfile_dir()?;
    let signer = SecretKey::generate(suite)?;
    let senders: Vec<SecretKey> = (0..accounts)
        .map(|_| SecretKey::generate(suite))
        .collect::<Result<_, _>>()?;
    let genesis = Genesis::dev(
        7_000,
        suite,
        1,
        1,
        vec![signer.public_key().address()],
        &senders
            .iter()
            .map(|k| k.public_key().address())
            .collect::<Vec<_>>(),
        Amount::from_mmt(1_000),
    );
    let gas_price = genesis.params.min_gas_price;
    let chain = Chain::open(&dir.join("chain.redb"), genesis, ChainDbConfig::default())?;
    let node = NodeService::new(chain, Some(signer), PoolConfig::default());

    eprintln!("signing {n} transfers from {accounts} accounts…");
    let to = Address([0x42; 20]);
    let txs: Vec<SignedTransaction> = (0..n)
        .map(|i| {
            Transaction {
                chain_id: 7_000,
                nonce: (i / accounts) as u64,
                gas_price,
                gas_limit: super::TRANSFER_GAS,
                action: AccountAction::Transfer {
                    to,
                    amount: Amount(1),
                }
                .into(),
            }
            .sign(&senders[i % accounts])
        })
        .collect::<Result<_, _>>()?;
    // Measured on both sides of the run and averaged: on a shared machine the cores' speed
    // drifts between seconds, and one measurement before would compare two different machines.
    let before = verify_ceiling(&txs);
    // Each submitting thread owns whole accounts, so every account's nonces arrive in order.
    let lanes = cores();
    let raws: Vec<Vec<Vec<u8>>> = (0..lanes)
        .map(|lane| {
            (0..n)
                .filter(|i| (i % accounts) % lanes == lane)
                .map(|i| txs[i].to_rlp())
                .collect()
        })
        .collect();

    eprintln!("submitting and sealing…");
    let start = Instant::now();
    let mut blocks = 0u64;
    let mut included = 0usize;
    let submitted = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| -> anyhow::Result<()> {
        for lane in &raws {
            let (node, submitted) = (&node, &submitted);
            s.spawn(move || {
                for raw in lane {
                    node.submit(raw).expect("bench transactions are valid");
                    submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        while included < n {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {included} of {n} included after 10 minutes"
            );
            let now = node.with_chain(|c| c.head().timestamp + 1);
            match node.plan(now, 0)? {
                SealPlan::Seal { parent, .. } => {
                    // Blocks come once a period in a real chain, so they are full under load:
                    // seal when a block's worth is waiting, or the rest once all are in.
                    let waiting = node.pool_len();
                    let all_in = submitted.load(std::sync::atomic::Ordering::Relaxed) == n;
                    if waiting == 0 || (waiting < BLOCK_TXS && !all_in) {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    if let Some(block) = node.seal(parent, now)? {
                        blocks += 1;
                        included += block.transactions.len();
                    }
                }
                other => anyhow::bail!("the bench signer cannot seal: {other:?}"),
            }
        }
        Ok(())
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let tps = n as f64 / seconds;
    let after = verify_ceiling(&txs);
    let ceiling = (before + after) / 2.0;
    let report = TpsReport {
        suite,
        transactions: n,
        accounts,
        cores: lanes,
        blocks,
        seconds,
        included_tps: tps,
        verify_ceiling_tps: ceiling,
        verify_ceiling_before: before,
        verify_ceiling_after: after,
        ratio: tps / ceiling,
    };
    let _ = std::fs::remove_dir_all(&dir);
    ctx.out.emit(&report, || {
        format!(
            "{n} transfers ({suite}, {accounts} senders) included in {blocks} blocks in {seconds:.2} s: {tps:.0} tx/s\n\
             signature verification on {lanes} cores in the same run: {ceiling:.0} tx/s (before {before:.0}, after {after:.0})\n\
             ratio {:.2} (target ≥ 0.7)",
            tps / ceiling
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// A fresh directory under the system temp dir for the bench's chain.
pub(super) fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let dir = std::env::temp_dir().join(format!("metamesh-bench-{}", hex::encode(suffix)));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
