//! `metamesh init --genesis FILE`: creates a node's chain database from a genesis file (or
//! checks that an existing one holds the same chain).

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use metamesh_db::ChainDbConfig;
use metamesh_node::Chain;
use metamesh_state::Genesis;
use serde::Serialize;

use super::read_input;
use crate::Context;

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// The genesis file (JSON): chainId, suite, clique {period, epoch, signers}, params, grants.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitView {
    chain_id: u64,
    suite: metamesh_crypto::Suite,
    genesis_hash: String,
    state_root: String,
    signers: Vec<metamesh_crypto::Address>,
    head: u64,
    database: String,
}

pub fn run(ctx: &Context, args: InitArgs) -> anyhow::Result<ExitCode> {
    let text = String::from_utf8(read_input(&args.genesis)?)
        .with_context(|| format!("{} is not UTF-8", args.genesis.display()))?;
    let genesis =
        Genesis::from_json(&text).with_context(|| format!("genesis {}", args.genesis.display()))?;
    std::fs::create_dir_all(&ctx.data_dir)
        .with_context(|| format!("creating {}", ctx.data_dir.display()))?;
    let path = ctx.data_dir.join("chain.redb");
    let chain = Chain::open(&path, genesis.clone(), ChainDbConfig::default())?;
    // `node run` reads the genesis from here.
    let stored = ctx.data_dir.join("genesis.json");
    std::fs::write(&stored, serde_json::to_vec_pretty(&genesis)?)
        .with_context(|| format!("writing {}", stored.display()))?;
    let (genesis_block, _) = Chain::genesis_block(&genesis)?;
    let view = InitView {
        chain_id: genesis.chain_id,
        suite: genesis.suite,
        genesis_hash: format!("0x{}", hex::encode(chain.genesis_hash())),
        state_root: format!("0x{}", hex::encode(genesis_block.header.state_root)),
        signers: genesis.clique.signers.clone(),
        head: chain.head().number,
        database: path.display().to_string(),
    };
    ctx.out.emit(&view, || {
        format!(
            "chain {} ({} suite) genesis {}\nstate root {}\nsigners {}\nhead at block {} in {}",
            view.chain_id,
            view.suite,
            view.genesis_hash,
            view.state_root,
            view.signers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            view.head,
            view.database
        )
    });
    Ok(ExitCode::SUCCESS)
}
