//! `metamesh bench job`: the end-to-end latency of a trivial one-task 2-replica job on a
//! running network with providers (a devnet), from the block its submission is in to the block
//! its verified result is accepted in, in block periods — beside the period itself, measured
//! from the headers of the same run.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use metamesh_primitives::ComputeAction;
use serde::Serialize;
use serde_json::json;

use crate::{
    Context,
    commands::client::{RpcArgs, SenderArgs, send_and_wait},
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    jobs: usize,
    /// Accepted block − submission block, each job.
    blocks: Vec<u64>,
    median_blocks: u64,
    median_seconds: f64,
    /// Mean seconds between the blocks the run spanned.
    block_period_seconds: f64,
}

pub fn run(
    ctx: &Context,
    rpc: &RpcArgs,
    sender: &SenderArgs,
    jobs: usize,
) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("metamesh-bench-job-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kernels = ["examples/hbn-bands", "../../examples/hbn-bands"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.join("kernels/prepare.wasm").exists())
        .context("run from the repository (examples/hbn-bands/kernels/prepare.wasm)")?
        .canonicalize()?;
    let file = dir.join("trivial.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"trivial\"\nmax_price = \"1 MMT\"\n[[tasks]]\nname = \"t\"\nprogram = \"{}\"\nargs = [\"1\"]\ninputs = {{ \"structure.json\" = \"{}\" }}\nresources = {{ cpu = 1, memory = \"16 MiB\" }}\nverification = {{ replicas = 2 }}\ntimeout = 30\nfuel = 10000000\n",
            kernels.join("kernels/prepare.wasm").display(),
            kernels.join("data/hBN.json").display()
        ),
    )?;
    let first_head = rpc.call("mm_blockNumber", json!([]))?.as_u64().unwrap_or(0);
    let (mut blocks, mut seconds) = (Vec::new(), Vec::new());
    for _ in 0..jobs {
        let spec = super::super::job::build(&file, rpc)?;
        let start = Instant::now();
        let receipt = send_and_wait(ctx, rpc, sender, ComputeAction::Submit { job: spec }.into())?;
        let submitted = receipt["blockNumber"].as_u64().context("no block number")?;
        let id = receipt["events"]
            .as_array()
            .and_then(|es| es.iter().find(|e| e["type"] == "jobSubmitted"))
            .and_then(|e| e["job"].as_str())
            .context("no job id")?
            .to_owned();
        let ended = loop {
            let j = rpc.call("mm_getJob", json!([id]))?;
            match j["state"].as_str() {
                Some("completed") => break j["ended"].as_u64().context("no end block")?,
                Some("failed" | "cancelled") => bail!("job {id} did not complete: {j}"),
                _ if start.elapsed() > Duration::from_secs(300) => {
                    bail!("job {id} is still running after 5 minutes")
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        seconds.push(start.elapsed().as_secs_f64());
        blocks.push(ended - submitted);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let last_head = rpc.call("mm_blockNumber", json!([]))?.as_u64().unwrap_or(0);
    let stamp = |n: u64| -> anyhow::Result<f64> {
        Ok(rpc.call("mm_getBlockByNumber", json!([n]))?["timestamp"]
            .as_u64()
            .context("no timestamp")? as f64)
    };
    let period = (stamp(last_head)? - stamp(first_head)?) / (last_head - first_head).max(1) as f64;
    let mut sorted = blocks.clone();
    sorted.sort_unstable();
    seconds.sort_by(f64::total_cmp);
    let report = Report {
        jobs,
        median_blocks: sorted[sorted.len() / 2],
        median_seconds: seconds[seconds.len() / 2],
        blocks,
        block_period_seconds: period,
    };
    ctx.out.emit(&report, || format!(
        "{} trivial 2-replica jobs: median {} block periods from submission to verified result ({:.1} s; blocks every {:.2} s); each: {:?}",
        jobs, report.median_blocks, report.median_seconds, period, report.blocks
    ));
    Ok(ExitCode::SUCCESS)
}
