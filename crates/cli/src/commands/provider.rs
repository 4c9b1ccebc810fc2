//! `metamesh provider …`: a computing centre on the network — register an inventory and a
//! stake, run the agent that executes assigned tasks, list providers, see one's record.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_compute::{Agent, Port, inventory::parse_inventory};
use metamesh_crypto::{Address, SecretKey};
use metamesh_primitives::{Amount, ComputeAction};
use metamesh_storage::parse_cid;
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait, send_signed, sender_key, sign_with};
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
    Run {
        /// The executor to run tasks with (`wasm`; `process` and `slurm` come later).
        #[arg(long, default_value = "wasm")]
        executor: String,
        /// Register (or update) from this inventory file first, when the chain's record differs.
        #[arg(long)]
        inventory: Option<PathBuf>,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 1)]
        interval: u64,
        /// Stop after this many rounds (0: run until stopped).
        #[arg(long, default_value_t = 0)]
        rounds: u64,
        /// Misbehave on purpose, to test the network's defences: `corrupt` alters every output
        /// (the quorum outvotes and slashes this provider).
        #[arg(long)]
        fault: Option<String>,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
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
        ProviderCommand::Run {
            executor,
            inventory,
            interval,
            rounds,
            fault,
            sender,
            rpc,
        } => {
            let corrupt = match fault.as_deref() {
                None => false,
                Some("corrupt") => true,
                Some(f) => bail!("--fault {f}: the one fault is `corrupt`"),
            };
            if executor != "wasm" {
                bail!(
                    "--executor {executor}: this provider runs `wasm` (process and slurm executors come next)"
                );
            }
            if let Some(inv) = &inventory {
                let key = sender_key(ctx, &sender)?;
                // The node may still be starting (a devnet starts both at once).
                let mut tries = 0;
                while let Err(e) = register_if_changed(&rpc, &key, &sender, inv) {
                    tries += 1;
                    if tries >= 120 {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            agent(ctx, &sender, rpc, interval, rounds, corrupt)
        }
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

/// Registers from the inventory file unless the chain's record already says the same.
fn register_if_changed(
    rpc: &RpcArgs,
    key: &SecretKey,
    sender: &SenderArgs,
    inv: &PathBuf,
) -> anyhow::Result<()> {
    let current = rpc.call(
        "mm_getProvider",
        json!([key.public_key().address().to_string()]),
    )?;
    let (inventory, stake) = read_inventory(inv)?;
    if inventory.executors != 1 {
        bail!(
            "{}: this agent runs the wasm executor only; say executors = [\"wasm\"]",
            inv.display()
        );
    }
    let same = !current.is_null()
        && current["inventory"] == metamesh_rpc::compute_json::inventory(&inventory)
        && current["stake"]["wei"].as_str() == Some(stake.0.to_string().as_str());
    if !same {
        let action = ComputeAction::Register { inventory, stake }.into();
        let tx = sign_with(rpc, key, sender.gas_price, sender.gas_limit, action)?;
        send_signed(rpc, &tx)?;
        eprintln!(
            "registered {} from {}",
            key.public_key().address(),
            inv.display()
        );
    }
    Ok(())
}

fn read_inventory(
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

/// The agent's view of a node: JSON-RPC and the content routes.
struct RpcPort {
    rpc: RpcArgs,
    key: SecretKey,
    me: Address,
}

impl Port for RpcPort {
    fn head(&mut self) -> Result<u64, String> {
        self.rpc
            .call("mm_blockNumber", json!([]))
            .map_err(|e| e.to_string())?
            .as_u64()
            .ok_or("no block number".into())
    }

    fn events(
        &mut self,
        from_block: u64,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>, bool), String> {
        let mut filter = json!({"fromBlock": from_block, "kinds": ["taskAssigned"], "address": self.me.to_string()});
        if let Some(c) = cursor {
            filter["cursor"] = json!(c);
        }
        let page = self
            .rpc
            .call("mm_getEvents", json!([filter]))
            .map_err(|e| e.to_string())?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        let more = page["cursor"].is_string();
        // Where to go on from: the page's cursor, or (caught up) just after its last event.
        let next = page["cursor"]
            .as_str()
            .or_else(|| events.last().and_then(|e| e["cursor"].as_str()))
            .map(String::from);
        Ok((events, next, more))
    }

    fn job(&mut self, id: &str) -> Result<Value, String> {
        self.rpc
            .call("mm_getJob", json!([id]))
            .map_err(|e| e.to_string())
    }

    fn provider(&mut self) -> Result<Value, String> {
        self.rpc
            .call("mm_getProvider", json!([self.me.to_string()]))
            .map_err(|e| e.to_string())
    }

    fn fetch(&mut self, cid: &str, max: u64) -> Result<Vec<u8>, String> {
        let cid = parse_cid(cid).map_err(|e| e.to_string())?;
        super::data::get_bytes(&self.rpc, &cid, max).map_err(|e| format!("{e:#}"))
    }

    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(String, Vec<u8>), String> {
        let cid = super::data::add_bytes(&self.rpc, name, bytes).map_err(|e| format!("{e:#}"))?;
        Ok((cid.to_string(), cid.to_bytes()))
    }

    fn send(&mut self, action: ComputeAction) -> Result<(), String> {
        let tx = sign_with(&self.rpc, &self.key, None, None, action.into())
            .map_err(|e| format!("{e:#}"))?;
        send_signed(&self.rpc, &tx)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}

fn agent(
    ctx: &Context,
    sender: &SenderArgs,
    rpc: RpcArgs,
    interval: u64,
    rounds: u64,
    corrupt: bool,
) -> anyhow::Result<ExitCode> {
    let key = sender_key(ctx, sender)?;
    let me = key.public_key().address();
    let suite = key.suite();
    let dir = ctx.data_dir.join("provider");
    let port = RpcPort { rpc, key, me };
    let mut agent = Agent::open(port, me, suite, dir.clone()).map_err(|e| anyhow!(e))?;
    agent.corrupt = corrupt;
    eprintln!(
        "provider {me}: agent running (queue in {}, {} queued)",
        dir.display(),
        agent.queued()
    );
    let mut round = 0;
    loop {
        match agent.step() {
            Ok(step) => {
                for line in step.lines {
                    eprintln!("{line}");
                }
            }
            Err(e) => eprintln!("provider agent: {e}"),
        }
        round += 1;
        if rounds != 0 && round >= rounds {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(interval.max(1)));
    }
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
