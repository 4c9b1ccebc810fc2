//! `metamesh sim`: the deterministic simulator from the command line — one seed to replay a
//! failure exactly, or a range of seeds for a long run.

use std::process::ExitCode;

use crate::Context;

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Replay this one seed and print what happened (bans included).
    #[arg(long, conflicts_with_all = ["seeds", "from"])]
    seed: Option<u64>,
    /// How many seeds to run.
    #[arg(long, default_value_t = 500)]
    seeds: u64,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// With --seed: also print every node's head at each check.
    #[arg(long, requires = "seed")]
    timeline: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(ctx: &Context, args: SimArgs) -> anyhow::Result<ExitCode> {
    if let Some(seed) = args.seed {
        let report = metamesh_sim::run_seed(seed);
        if ctx.out.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{}", report.summary());
            for line in report.bans.iter().chain(&report.partition_growth) {
                println!("  {line}");
            }
            if args.timeline {
                for line in &report.timeline {
                    println!("  {line}");
                }
            }
        }
        return Ok(if report.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let start = std::time::Instant::now();
    let reports = metamesh_sim::run_seeds(args.from..args.from + args.seeds, threads);
    let failed: Vec<_> = reports.iter().filter(|r| !r.ok()).collect();
    for r in &failed {
        println!("{}", r.summary());
    }
    let blocks: u64 = reports.iter().map(|r| r.head).sum();
    let crashes: u64 = reports.iter().map(|r| r.crashes).sum();
    let byzantine = reports
        .iter()
        .filter(|r| r.attacks + r.equivocations > 0)
        .count();
    let total = |f: fn(&metamesh_sim::Report) -> u64| reports.iter().map(f).sum::<u64>();
    let summary = serde_json::json!({
        "seeds": args.seeds,
        "from": args.from,
        "failed": failed.iter().map(|r| r.seed).collect::<Vec<_>>(),
        "blocks": blocks,
        "crashes": crashes,
        "byzantineRuns": byzantine,
        "transfersIncluded": total(|r| r.transfers_included),
        "storageActions": total(|r| r.storage_submitted),
        "proofsIncluded": total(|r| r.proofs_included),
        "paramsChanged": reports.iter().filter(|r| r.params_changed_at.is_some()).count(),
        "eventsDelivered": total(|r| r.events_delivered),
        "eventsRemoved": total(|r| r.events_removed),
        "seconds": start.elapsed().as_secs_f64(),
    });
    if ctx.out.json {
        println!("{summary:#}");
    } else {
        println!(
            "{} seed(s) from {}: {} failed; {blocks} blocks, {crashes} crashes, {byzantine} Byzantine runs; {} storage and data actions, {} proofs included, {} events delivered ({} removed); {:.1} s",
            args.seeds,
            args.from,
            failed.len(),
            summary["storageActions"],
            summary["proofsIncluded"],
            summary["eventsDelivered"],
            summary["eventsRemoved"],
            start.elapsed().as_secs_f64()
        );
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
