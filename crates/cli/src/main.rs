//! `metamesh`: the one command that drives MetaMesh.
//!
//! Every command prints for people by default and JSON with `--json`; bad input ends with a
//! one-line `error: …` on stderr and exit code 2 (1 is reserved for "checked and false", as in
//! `key verify` printing `invalid`).

mod commands;
mod keyref;
mod output;
mod password;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::output::Output;

#[derive(Parser, Debug)]
#[command(
    name = "metamesh",
    version,
    about = "MetaMesh: a blockchain for scientific computing"
)]
struct Cli {
    /// Node data directory (keystore, chain database).
    #[arg(long, global = true, env = "METAMESH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create, list, import, export and inspect accounts in the keystore.
    #[command(subcommand)]
    Account(commands::account::AccountCommand),
    /// Sign, verify, encrypt and decrypt with a PEM key or a keystore account.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Run a node.
    #[command(subcommand)]
    Node(commands::node::NodeCommand),
    /// Start a local network (keys, genesis and chain are created on first run).
    Devnet(commands::devnet::DevnetArgs),
    /// Run the deterministic multi-node simulator (one seed, or many).
    Sim(commands::sim::SimArgs),
    /// Show a transaction (`tx HASH`) or send one (`tx transfer`).
    Tx(commands::client::TxArgs),
    /// Attest a file (paper, patent, result, dataset, program) on chain by its digest.
    Attest(commands::attest::AttestArgs),
    /// Check a file's attestation against a block header: who registered it, and when.
    VerifyAttestation(commands::attest::VerifyArgs),
    /// Ask a node: block, tx, balance, signers.
    #[command(flatten)]
    Query(commands::client::QueryCommand),
    /// Create (or check) this node's chain database from a genesis file.
    Init(commands::init::InitArgs),
    /// Research data: add (IPFS-compatible CIDs, optional encryption), get, share, pin, CAR files.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// The storage market: offer space, ask for replicas, see deals and challenges.
    #[command(subcommand)]
    Storage(commands::storage::StorageCommand),
    /// Computing jobs: submit a task graph, follow it, logs, results, placements, lineage.
    #[command(subcommand)]
    Job(commands::job::JobCommand),
    /// Computing providers: register an inventory, run the agent, list, status.
    #[command(subcommand)]
    Provider(commands::provider::ProviderCommand),
    /// Hash files with the suite's hash (SM3 or Keccak-256).
    Hash(commands::hash::HashArgs),
    /// End-to-end measurements.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Zero-knowledge proofs (Groth16, snarkjs's formats): verify, prove, witnesses, keys.
    #[command(subcommand)]
    Zk(commands::zk::ZkCommand),
    /// The knowledge graph of chain records: SPARQL queries and full-text search.
    #[command(subcommand)]
    Kg(commands::kg::KgCommand),
    /// BMCI, the Boron Material Computing Index: structures by OPTIMADE filter or free text,
    /// algorithms registered and run on materials, roles.
    #[command(subcommand)]
    Bmci(commands::bmci::BmciCommand),
    /// Debugging and interop helpers.
    #[command(subcommand)]
    Tools(commands::tools::ToolsCommand),
    /// The process executor's sandbox launcher (the provider agent runs it): carries out a
    /// plan file and becomes the task's command.
    #[command(hide = true)]
    SandboxRun { plan: PathBuf },
}

/// Global context every command gets.
pub struct Context {
    pub data_dir: PathBuf,
    /// True when `--data-dir` or `METAMESH_DATA_DIR` chose the directory.
    pub data_dir_given: bool,
    pub out: Output,
}

impl Context {
    pub fn keystore(&self) -> anyhow::Result<metamesh_crypto::keystore::Keystore> {
        Ok(metamesh_crypto::keystore::Keystore::open(
            self.data_dir.join("keystore"),
        )?)
    }
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".metamesh")
}

/// Logs go to stderr; `METAMESH_LOG` (tracing's filter syntax) chooses what, e.g.
/// `METAMESH_LOG=debug` or `METAMESH_LOG=metamesh_node=debug,libp2p_gossipsub=info`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("METAMESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,metamesh_node=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Content moves through 256 KiB–1 MiB buffers that live for microseconds. glibc serves
/// allocations of that size with fresh `mmap`s (a page fault per 4 KiB, half a million per GiB
/// added); keeping them on the heap makes `data add` about twice as fast.
fn keep_large_buffers_on_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn main() -> ExitCode {
    keep_large_buffers_on_the_heap();
    let cli = Cli::parse();
    init_logging();
    let ctx = Context {
        data_dir_given: cli.data_dir.is_some(),
        data_dir: cli.data_dir.unwrap_or_else(default_data_dir),
        out: Output { json: cli.json },
    };
    commands::client::remember_data_dir(&ctx.data_dir);
    let result = match cli.command {
        Command::Account(cmd) => commands::account::run(&ctx, cmd),
        Command::Key(cmd) => commands::key::run(&ctx, cmd),
        Command::Hash(args) => commands::hash::run(&ctx, args),
        Command::Data(cmd) => commands::data::run(&ctx, cmd),
        Command::Storage(cmd) => commands::storage::run(&ctx, cmd),
        Command::Job(cmd) => commands::job::run(&ctx, cmd),
        Command::Provider(cmd) => commands::provider::run(&ctx, cmd),
        Command::Init(args) => commands::init::run(&ctx, args),
        Command::Node(cmd) => commands::node::run(&ctx, cmd),
        Command::Tx(cmd) => commands::client::tx(&ctx, cmd),
        Command::Attest(args) => commands::attest::attest(&ctx, args),
        Command::VerifyAttestation(args) => commands::attest::verify_attestation(&ctx, args),
        Command::Query(cmd) => commands::client::query(&ctx, cmd),
        Command::Devnet(args) => commands::devnet::devnet(&ctx, args),
        Command::Sim(args) => commands::sim::run(&ctx, args),
        Command::Tools(cmd) => commands::tools::run(&ctx, cmd),
        Command::Zk(cmd) => commands::zk::run(&ctx, cmd),
        Command::Kg(cmd) => commands::kg::run(&ctx, cmd),
        Command::Bmci(cmd) => commands::bmci::run(&ctx, cmd),
        Command::Bench(cmd) => commands::bench::run(&ctx, cmd),
        Command::SandboxRun { plan } => metamesh_compute::sandbox::enter(&plan),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            ctx.out.error(&e);
            ExitCode::from(2)
        }
    }
}
