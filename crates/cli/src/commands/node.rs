//! `metamesh node run` and `metamesh devnet`: a running node with its sealing loop and RPC.

use std::{net::SocketAddr, path::Path, process::ExitCode, sync::Arc};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use metamesh_crypto::{Address, SecretKey, Suite, keystore::ScryptParams};
use metamesh_db::ChainDbConfig;
use metamesh_node::{Chain, NodeService, PoolConfig};
use metamesh_primitives::Amount;
use metamesh_rpc::RpcConfig;
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};
use serde::Serialize;

use crate::{Context, password::PasswordArgs};

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Run this data directory's node: import, seal (if a signer), serve RPC until Ctrl-C.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Address for JSON-RPC (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1:8545")]
    rpc_addr: SocketAddr,
    /// Seal blocks with this keystore account (it must be a signer).
    #[arg(long)]
    signer: Option<Address>,
    /// Token that lets non-loopback callers use admin methods.
    #[arg(long, env = "METAMESH_ADMIN_TOKEN")]
    admin_token: Option<String>,
    #[command(flatten)]
    password: PasswordArgs,
}

#[derive(clap::Args, Debug)]
pub struct DevnetArgs {
    /// Number of nodes (one until networking lands).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Port of the node's JSON-RPC on 127.0.0.1.
    #[arg(long, default_value_t = 8545)]
    rpc_port: u16,
    /// Seconds between blocks.
    #[arg(long, default_value_t = 2)]
    period: u64,
}

fn genesis_of(data_dir: &Path) -> anyhow::Result<Genesis> {
    let path = data_dir.join("genesis.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (run `metamesh init --genesis FILE` first)",
            path.display()
        )
    })?;
    Ok(Genesis::from_json(&text)?)
}

/// Runs a node until Ctrl-C.
fn run_node(
    ctx: &Context,
    rpc_addr: SocketAddr,
    signer: Option<SecretKey>,
    admin_token: Option<String>,
    banner: impl FnOnce(&Chain) -> String,
) -> anyhow::Result<ExitCode> {
    let genesis = genesis_of(&ctx.data_dir)?;
    let chain = Chain::open(
        &ctx.data_dir.join("chain.redb"),
        genesis,
        ChainDbConfig::default(),
    )?;
    if let Some(key) = &signer
        && key.suite() != chain.suite()
    {
        bail!(
            "the signer is an {} key but the chain uses the {} suite",
            key.suite(),
            chain.suite()
        );
    }
    eprintln!("{}", banner(&chain));
    let node = NodeService::new(chain, signer, PoolConfig::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(node, rpc_addr, RpcConfig { admin_token }))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    node: Arc<NodeService>,
    rpc_addr: SocketAddr,
    config: RpcConfig,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(rpc_addr)
        .await
        .with_context(|| format!("binding RPC to {rpc_addr}"))?;
    eprintln!(
        "RPC listening on http://{} (WebSocket on the same port)",
        listener.local_addr()?
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sealer = tokio::spawn(node.clone().run_sealer(stopped.clone()));
    let mut rpc_stopped = stopped.clone();
    let rpc = tokio::spawn(metamesh_rpc::serve(listener, node, config, async move {
        let _ = rpc_stopped.wait_for(|s| *s).await;
    }));
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("stopping");
    let _ = stop.send(true);
    let _ = sealer.await;
    rpc.await.context("RPC task")??;
    Ok(())
}

pub fn run(ctx: &Context, cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NodeCommand::Run(args) => {
            let signer = match args.signer {
                Some(address) => {
                    let pw = args.password.read(&address.to_string(), false)?;
                    Some(ctx.keystore()?.unlock(&address, pw.as_bytes())?)
                }
                None => None,
            };
            let who = signer.as_ref().map(|k| k.public_key().address());
            run_node(ctx, args.rpc_addr, signer, args.admin_token, |chain| {
                format!(
                    "chain {} at block {}, genesis 0x{}; sealing as {}",
                    chain.genesis().chain_id,
                    chain.head().number,
                    hex::encode(chain.genesis_hash()),
                    who.map_or("nobody (not a signer)".to_owned(), |a| a.to_string())
                )
            })
        }
    }
}

#[derive(Serialize)]
struct DevAccount {
    address: Address,
    balance: String,
}

/// `metamesh devnet`: first run creates keys, genesis and chain under the data dir; every run
/// starts the node on them (so a second run resumes the same chain).
pub fn devnet(ctx: &Context, args: DevnetArgs) -> anyhow::Result<ExitCode> {
    // Without an explicit data dir the devnet keeps to its own corner of ~/.metamesh.
    let ctx = &Context {
        data_dir: if ctx.data_dir_given {
            ctx.data_dir.clone()
        } else {
            ctx.data_dir.join("devnet")
        },
        data_dir_given: true,
        out: ctx.out,
    };
    if args.nodes != 1 {
        bail!(
            "--nodes {}: several nodes need peer-to-peer networking, which this build does not have yet; use --nodes 1",
            args.nodes
        );
    }
    std::fs::create_dir_all(&ctx.data_dir)
        .with_context(|| format!("creating {}", ctx.data_dir.display()))?;
    let password_file = ctx.data_dir.join("password.txt");
    let keystore = ctx.keystore()?;
    if !ctx.data_dir.join("genesis.json").exists() {
        let password = random_password()?;
        super::write_private(&password_file, format!("{password}\n").as_bytes())?;
        let mut addresses = Vec::new();
        for _ in 0..4 {
            let key = SecretKey::generate(Suite::Sm)?;
            addresses.push(
                keystore
                    .store(&key, password.as_bytes(), ScryptParams::LIGHT)?
                    .address,
            );
        }
        let genesis = Genesis {
            chain_id: 1337,
            suite: Suite::Sm,
            timestamp: metamesh_node::unix_now(),
            clique: CliqueParams {
                period: args.period,
                epoch: 30_000,
                signers: vec![addresses[0]],
            },
            params: Params::default(),
            grants: addresses[1..]
                .iter()
                .map(|a| Grant {
                    address: *a,
                    amount: Amount::from_mmt(1_000_000),
                    pool: Pool::Airdrops,
                })
                .collect(),
        };
        std::fs::write(
            ctx.data_dir.join("genesis.json"),
            serde_json::to_vec_pretty(&genesis)?,
        )?;
    }
    let genesis = genesis_of(&ctx.data_dir)?;
    let password = std::fs::read_to_string(&password_file)
        .with_context(|| format!("reading {}", password_file.display()))?;
    let password = password.lines().next().unwrap_or_default().to_owned();
    let signer_address = genesis.clique.signers[0];
    let signer = keystore.unlock(&signer_address, password.as_bytes())?;
    let rpc_addr: SocketAddr = ([127, 0, 0, 1], args.rpc_port).into();
    let accounts: Vec<DevAccount> = genesis
        .grants
        .iter()
        .map(|g| DevAccount {
            address: g.address,
            balance: g.amount.to_string(),
        })
        .collect();
    let data_dir = ctx.data_dir.display().to_string();
    run_node(ctx, rpc_addr, Some(signer), None, |chain| {
        let mut lines = vec![
            format!(
                "MetaMesh devnet: chain {} ({} suite), block {} on start",
                chain.genesis().chain_id,
                chain.suite(),
                chain.head().number
            ),
            format!("RPC:      http://{rpc_addr}"),
            format!("data:     {data_dir}"),
            format!("password: {password} (also in {})", password_file.display()),
            format!("signer:   {signer_address}"),
        ];
        lines.extend(
            accounts
                .iter()
                .map(|a| format!("account:  {} with {}", a.address, a.balance)),
        );
        lines
            .push("Ctrl-C stops the node; run the same command again to resume this chain.".into());
        lines.join("\n")
    })
}

fn random_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for the devnet password"))?;
    Ok(hex::encode(bytes))
}
