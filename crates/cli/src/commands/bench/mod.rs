//! `metamesh bench`: end-to-end figures, each beside a reference measured in the same run.

mod network;
mod remote;
mod storage;
mod tps;

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
