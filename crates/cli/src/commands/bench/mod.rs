//! `metamesh bench`: end-to-end figures, each beside a reference measured in the same run.

mod job;
mod kg;
mod native;
mod network;
mod remote;
mod scheduler;
mod storage;
mod tps;
mod wasm;
mod zk;

/// The gas limit the benchmarks give a transfer (it uses about 21,000; the rest is refunded).
pub(crate) const TRANSFER_GAS: u64 = 30_000;

use std::process::ExitCode;

use clap::Subcommand;
use metamesh_crypto::{Address, Suite};

use crate::{Context, password::PasswordArgs};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Included transactions per second beside the signature-verification ceiling: one node in
    /// this process, or a running network with `--rpc URL,URL,…`.
    Tps {
        /// Transfers to send.
        #[arg(long, default_value_t = 10_000)]
        txs: usize,
        /// Distinct senders.
        #[arg(long, default_value_t = 100)]
        accounts: usize,
        #[arg(long, default_value = "sm")]
        suite: Suite,
        /// Nodes of a running network to submit to, round-robin (e.g. a devnet's RPC URLs).
        #[arg(long, value_delimiter = ',', value_name = "URL")]
        rpc: Vec<String>,
        /// With `--rpc`: the keystore account (under --data-dir) that funds the senders.
        #[arg(long, requires = "rpc")]
        from: Option<Address>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Block propagation latency across loopback nodes (real libp2p) beside raw loopback TCP.
    Propagation {
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// Blocks to time.
        #[arg(long, default_value_t = 100)]
        blocks: usize,
    },
    /// `data add` throughput on one file beside raw SHA-256 and the JS UnixFS importer;
    /// encrypted add beside raw SM4-GCM and AES-256-GCM.
    Storage {
        /// File size in MiB.
        #[arg(long, default_value_t = 1024)]
        size_mib: u64,
        /// Where to write the file (default: the temporary directory).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Task placements per second inside block execution at each provider count, beside a
    /// block of as many transfers.
    Scheduler {
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        providers: Vec<usize>,
        /// One-task 2-replica jobs submitted (and placed) per block.
        #[arg(long, default_value_t = 256)]
        jobs: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Submission-to-verified-result latency of trivial 2-replica jobs on a running network
    /// with providers (a devnet), in block periods.
    Job {
        #[arg(long, default_value_t = 10)]
        jobs: usize,
        #[command(flatten)]
        sender: crate::commands::client::SenderArgs,
        #[command(flatten)]
        rpc: crate::commands::client::RpcArgs,
    },
    /// The hBN example's kernel under the Wasm executor beside the same C compiled natively.
    Wasm {
        /// Times each k-point's evaluation is repeated.
        #[arg(long, default_value_t = 20_000)]
        repeat: u64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// The process executor's start-up overhead: `/bin/true` in the sandbox beside a bare
    /// fork/exec of it.
    Process {
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
    /// Trivial tasks per second through the Slurm executor beside plain `sbatch` submissions
    /// of the same jobs to the same cluster (a private one started here unless `--slurm-conf`).
    Slurm {
        #[arg(long)]
        slurm_conf: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 20)]
        tasks: usize,
    },
    /// Groth16 verify and prove of the committed circuits beside snarkjs in-process, and batch
    /// verification of 32 proofs beside 32 single ones (run from the repository).
    Zk {
        #[arg(long, default_value_t = 1000)]
        verifies: usize,
        #[arg(long, default_value_t = 10)]
        proves: usize,
    },
    /// The knowledge graph: loading ~N quads as the indexer does beside oxigraph's bulk
    /// loader, SPARQL lookups at that size (p50/p99), and indexing a sealed chain beside the
    /// rate the chain produced its events.
    Kg {
        #[arg(long, default_value_t = 1_000_000)]
        triples: usize,
        /// Runs of each lookup.
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// Sync speed of a fresh node over libp2p beside the local import rate of the same blocks.
    Sync {
        #[arg(long, default_value_t = 10_000)]
        blocks: u64,
        /// Transfers in each block.
        #[arg(long, default_value_t = 2)]
        txs_per_block: usize,
    },
}

pub fn run(ctx: &Context, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Scheduler {
            providers,
            jobs,
            rounds,
        } => scheduler::run(ctx, &providers, jobs, rounds),
        BenchCommand::Wasm { repeat, rounds } => wasm::run(ctx, repeat, rounds),
        BenchCommand::Zk { verifies, proves } => zk::run(ctx, verifies, proves),
        BenchCommand::Kg { triples, runs } => kg::run(ctx, triples, runs),
        BenchCommand::Process { runs } => native::process(ctx, runs),
        BenchCommand::Slurm { slurm_conf, tasks } => native::slurm(ctx, slurm_conf, tasks),
        BenchCommand::Job { jobs, sender, rpc } => job::run(ctx, &rpc, &sender, jobs),
        BenchCommand::Tps {
            txs,
            accounts,
            suite,
            rpc,
            from,
            password,
        } => {
            if rpc.is_empty() {
                return tps::local(ctx, txs, accounts, suite);
            }
            remote::remote(
                ctx,
                remote::Remote {
                    urls: &rpc,
                    n: txs,
                    accounts,
                    from,
                    password: &password,
                },
            )
        }
        BenchCommand::Propagation { nodes, blocks } => network::propagation(ctx, nodes, blocks),
        BenchCommand::Storage { size_mib, dir } => storage::storage(ctx, size_mib, dir),
        BenchCommand::Sync {
            blocks,
            txs_per_block,
        } => network::sync(ctx, blocks, txs_per_block),
    }
}
