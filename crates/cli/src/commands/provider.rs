//! `metamesh provider …`: a computing centre on the network — register an inventory and a
//! stake, run the agent that executes assigned tasks, list providers, see one's record.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_compute::inventory::parse_inventory;
use metamesh_crypto::Address;
use metamesh_primitives::{Amount, ComputeAction};
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait};
use crate::{Context, output::table};

#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Register (or update) this account as a computing provider from an inventory file
    /// (CPUs, memory, accelerators, links, region, executors, prices, stake).
    Register {
        #[arg(long)]
        inventory: PathBuf,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Run the provider agent: take assigned tasks, run them, commit and reveal the results,
    /// heartbeat. Its queue lives in `<data-dir>/provider/` (a restarted agent resumes).
    Run(super::provider_run::RunArgs),
    /// Build an inventory file from this machine: CPU, memory, disk, GPUs (nvidia-smi), NPUs
    /// (npu-smi), FPGAs (lspci), the process software it offers (python3 and its packages);
    /// `--register` signs and registers it.
    Detect(super::provider_run::DetectArgs),
    /// Leave the network (nothing may be running): the whole stake comes back.
    Leave {
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Every registered provider.
    List {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A provider's record (default: the first keystore account) and, for a local agent, its
    /// queue.
    Status {
        address: Option<Address>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

pub fn run(ctx: &Context, cmd: ProviderCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProviderCommand::Register {
            inventory,
            sender,
            rpc,
        } => register(ctx, &inventory, &sender, &rpc),
        ProviderCommand::Run(args) => super::provider_run::run(ctx, args),
        ProviderCommand::Detect(args) => super::provider_run::detect(ctx, args),
        ProviderCommand::Leave { sender, rpc } => {
            let action = ComputeAction::Register {
                inventory: Default::default(),
                stake: Amount::ZERO,
            };
            let r = send_and_wait(ctx, &rpc, &sender, action.into())?;
            let view = json!({"left": true, "block": r["blockNumber"]});
            ctx.out.emit(&view, || {
                format!("left in block {}; the stake is back", r["blockNumber"])
            });
            Ok(ExitCode::SUCCESS)
        }
        ProviderCommand::List { rpc } => list(ctx, &rpc),
        ProviderCommand::Status { address, rpc } => status(ctx, address, &rpc),
    }
}

pub(super) fn read_inventory(
    path: &PathBuf,
) -> anyhow::Result<(metamesh_primitives::compute::Inventory, Amount)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_inventory(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn register(
    ctx: &Context,
    path: &PathBuf,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let (inventory, stake) = read_inventory(path)?;
    let receipt = send_and_wait(
        ctx,
        rpc,
        sender,
        ComputeAction::Register { inventory, stake }.into(),
    )?;
    let view =
        json!({"registered": true, "block": receipt["blockNumber"], "stake": stake.to_string()});
    ctx.out.emit(&view, || {
        format!(
            "registered in block {} with a stake of {stake}",
            receipt["blockNumber"]
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Context, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let providers = rpc.call("mm_listProviders", json!([]))?;
    let rows: Vec<Vec<String>> = providers
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let inv = &p["inventory"];
            let acc: Vec<String> = inv["accelerators"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|a| {
                    format!(
                        "{}×{} {}",
                        a["count"],
                        a["kind"].as_str().unwrap_or("?"),
                        a["model"].as_str().unwrap_or("")
                    )
                })
                .collect();
            vec![
                p["address"].as_str().unwrap_or("?").to_owned(),
                if p["online"] == true {
                    "online"
                } else {
                    "offline"
                }
                .to_owned(),
                format!("{}/{}", p["used"]["cpu"], inv["cpu"]["cores"]),
                if acc.is_empty() {
                    "-".into()
                } else {
                    acc.join(", ")
                },
                inv["region"].as_str().unwrap_or("").to_owned(),
                p["quality"].to_string(),
                p["stake"]["mmt"].as_str().unwrap_or("?").to_owned(),
            ]
        })
        .collect();
    ctx.out.emit(&providers, || {
        table(
            &[
                "PROVIDER",
                "STATE",
                "CORES USED",
                "ACCELERATORS",
                "REGION",
                "QUALITY",
                "STAKE",
            ],
            &rows,
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn status(ctx: &Context, address: Option<Address>, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let address = match address {
        Some(a) => a,
        None => ctx
            .keystore()?
            .list()?
            .first()
            .map(|e| e.address)
            .ok_or_else(|| anyhow!("no account in the keystore; name a provider"))?,
    };
    let mut p = rpc.call("mm_getProvider", json!([address.to_string()]))?;
    if p.is_null() {
        bail!("{address} is not a registered provider");
    }
    let queue = ctx.data_dir.join("provider/queue.json");
    if let Ok(bytes) = std::fs::read(&queue) {
        p["localQueue"] = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    }
    ctx.out.emit(&p, || {
        let inv = &p["inventory"];
        let queued = p["localQueue"]["work"].as_array().map_or(0, Vec::len);
        format!(
            "provider {address}: {}, quality {}‰, stake {}\ncores {}/{} used, memory {}/{} bytes, {} replicas running\nagreed {}, timed out {}, outvoted {}; local queue {queued}",
            if p["online"] == true { "online" } else { "offline" }, p["quality"], p["stake"]["mmt"].as_str().unwrap_or("?"),
            p["used"]["cpu"], inv["cpu"]["cores"], p["used"]["memory"], inv["memory"], p["running"],
            p["agreed"], p["timeouts"], p["outvoted"],
        )
    });
    Ok(ExitCode::SUCCESS)
}
