//! `metamesh provider run` and `provider detect`: the agent with its executors (Wasm, process
//! in the sandbox, Slurm), its live log service, and an inventory built from the machine.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use metamesh_compute::{
    Agent, Native, Port, Software,
    agent::{Fault, serve_logs},
    detect,
    inventory::{parse_inventory, parse_software},
    slurm::Slurm,
};
use metamesh_crypto::{Address, SecretKey};
use metamesh_primitives::{
    Amount, ComputeAction,
    compute::{EXECUTORS, Inventory},
};
use metamesh_storage::parse_cid;
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait, send_signed, sender_key, sign_with};
use crate::Context;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The executors to run tasks with: `wasm`, `process` (native commands in a sandbox),
    /// `slurm` (batch jobs on a Slurm cluster); several separated by commas.
    #[arg(long, default_value = "wasm", value_delimiter = ',')]
    executor: Vec<String>,
    /// Register (or update) from this inventory file first, when the chain's record differs.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Seconds between rounds.
    #[arg(long, default_value_t = 1)]
    interval: u64,
    /// Stop after this many rounds (0: run until stopped).
    #[arg(long, default_value_t = 0)]
    rounds: u64,
    /// Misbehave on purpose, to test the network's defences: `corrupt` alters every output,
    /// `perturb` moves the numbers a comparator checks beyond their tolerance (the quorum
    /// outvotes and slashes this provider either way), `zk-output` proves a zk task's result
    /// for other outputs than it reveals (the chain rejects the proof and slashes it).
    #[arg(long)]
    fault: Option<String>,
    /// Where to serve the live logs of running tasks (`job logs -f` reads them).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The user id process tasks run as (an unprivileged one; `nobody` by default).
    #[arg(long, default_value_t = 65534)]
    sandbox_user: u32,
    /// Run process tasks even where the kernel gives no namespaces (no root of their own, the
    /// host's network): rlimits, Landlock and the unprivileged user only. Off by default.
    #[arg(long)]
    sandbox_degraded: bool,
    /// The Slurm configuration the client commands read (`SLURM_CONF`).
    #[arg(long)]
    slurm_conf: Option<PathBuf>,
    /// The Slurm partition to submit to (default: the cluster's default).
    #[arg(long)]
    partition: Option<String>,
    /// Where Slurm jobs' directories go: a filesystem the cluster's nodes share
    /// (default `<data-dir>/provider/slurm`).
    #[arg(long)]
    slurm_dir: Option<PathBuf>,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(clap::Args, Debug)]
pub struct DetectArgs {
    /// Executors to offer in the file.
    #[arg(long, default_value = "wasm,process", value_delimiter = ',')]
    executor: Vec<String>,
    /// Write the inventory here (default: print it).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Use a recorded tool output instead of running the tool: `nvidia-smi=FILE`,
    /// `npu-smi=FILE`, `lspci=FILE` (for machines without the device, and tests).
    #[arg(long = "tool-output", value_name = "TOOL=FILE")]
    tool_output: Vec<String>,
    /// Sign and register the inventory (with the stake it names).
    #[arg(long)]
    register: bool,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

/// Packages of the machine's python3 the agent offers when they import.
const PYTHON_PACKAGES: [&str; 3] = ["numpy", "scipy", "pyscf"];

/// The software this machine offers process tasks: `sh`, and `python3` with the packages of
/// [`PYTHON_PACKAGES`] it imports.
fn detected_software() -> BTreeMap<String, Software> {
    let mut software = BTreeMap::new();
    software.insert(
        "sh".to_owned(),
        Software {
            path: "/bin/sh".into(),
            ..Software::default()
        },
    );
    if let Some(py) = Native::detect_python(&PYTHON_PACKAGES) {
        software.insert("python3".to_owned(), py);
    }
    software
}

fn software_toml(software: &BTreeMap<String, Software>) -> String {
    let mut t = String::new();
    for (name, s) in software {
        t.push_str(&format!(
            "\n[software.{name}]\npath = {:?}\n",
            s.path.display().to_string()
        ));
        let prefixes: Vec<String> = s
            .prefixes
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect();
        t.push_str(&format!("prefixes = [{}]\n", prefixes.join(", ")));
        let packages: Vec<String> = s.packages.iter().map(|p| format!("{p:?}")).collect();
        t.push_str(&format!("packages = [{}]\n", packages.join(", ")));
    }
    t
}

pub fn detect(ctx: &Context, args: DetectArgs) -> anyhow::Result<ExitCode> {
    let mut tools = BTreeMap::new();
    for t in &args.tool_output {
        let (tool, file) = t
            .split_once('=')
            .ok_or_else(|| anyhow!("--tool-output {t}: say TOOL=FILE"))?;
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        tools.insert(tool.to_owned(), text);
    }
    for e in &args.executor {
        if !EXECUTORS.contains(&e.as_str()) {
            bail!("--executor {e}: one of {}", EXECUTORS.join(", "));
        }
    }
    let machine = detect::machine(&ctx.data_dir, &tools);
    let native = args.executor.iter().any(|e| e != "wasm");
    let software = if native {
        software_toml(&detected_software())
    } else {
        String::new()
    };
    let executors: Vec<&str> = args.executor.iter().map(String::as_str).collect();
    let text = detect::inventory_toml(&machine, &executors, &software);
    let (inventory, stake) =
        parse_inventory(&text).map_err(|e| anyhow!("the detected inventory: {e}"))?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None if !ctx.out.json => print!("{text}"),
        None => {}
    }
    let mut view =
        json!({"inventory": metamesh_rpc::compute_json::inventory(&inventory), "file": text});
    if args.register {
        let action = ComputeAction::Register { inventory, stake };
        let r = send_and_wait(ctx, &args.rpc, &args.sender, action.into())?;
        view["registered"] = r["blockNumber"].clone();
        eprintln!("registered in block {}", r["blockNumber"]);
    }
    if ctx.out.json {
        ctx.out.emit(&view, String::new);
    }
    Ok(ExitCode::SUCCESS)
}

fn fault(text: Option<&str>) -> anyhow::Result<Fault> {
    Ok(match text {
        None => Fault::None,
        Some("corrupt") => Fault::Corrupt,
        Some("perturb") => Fault::Perturb,
        Some("zk-output") => Fault::ZkWrongOutput,
        Some(f) => bail!("--fault {f}: `corrupt`, `perturb` or `zk-output`"),
    })
}

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let fault = fault(args.fault.as_deref())?;
    let mut bits = 0u64;
    for e in &args.executor {
        match EXECUTORS.iter().position(|x| x == e) {
            Some(i) => bits |= 1 << i,
            None => bail!("--executor {e}: one of {}", EXECUTORS.join(", ")),
        }
    }
    let key = sender_key(ctx, &args.sender)?;
    let dir = ctx.data_dir.join("provider");
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("--listen {}", args.listen))?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let live_logs = metamesh_compute::agent::LogAccess::default();
    serve_logs(dir.join("logs"), listener, live_logs.clone());
    let software = match &args.inventory {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            parse_software(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => BTreeMap::new(),
    };
    let native_wanted = bits & 0b110 != 0;
    let software = if native_wanted && software.is_empty() {
        detected_software()
    } else {
        software
    };
    let mut native = native_wanted.then(|| Native {
        launcher: vec![
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "metamesh".into()),
            "sandbox-run".into(),
        ],
        scratch: dir.join("scratch"),
        software: software.clone(),
        allow_network: false,
        uid: args.sandbox_user,
        gid: args.sandbox_user,
        strict: !args.sandbox_degraded,
    });
    if let Some(path) = &args.inventory {
        let (mut inventory, stake) = super::provider::read_inventory(path)?;
        if inventory.executors & !bits != 0 {
            bail!(
                "{}: the inventory offers executors this agent does not run (it runs {})",
                path.display(),
                args.executor.join(", ")
            );
        }
        inventory.endpoint = endpoint.clone();
        inventory.software = metamesh_compute::inventory::offered(&software);
        if let Some(n) = &mut native {
            n.allow_network = inventory.network;
        }
        // The node may still be starting (a devnet starts both at once).
        let mut tries = 0;
        while let Err(e) =
            register_if_changed(&args.rpc, &key, &args.sender, &inventory, stake, path)
        {
            tries += 1;
            if tries >= 120 {
                return Err(e);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let slurm = (bits & 0b100 != 0).then(|| Slurm {
        conf: args.slurm_conf.clone(),
        partition: args.partition.clone(),
        dir: args.slurm_dir.clone().unwrap_or_else(|| dir.join("slurm")),
    });
    if let Some(s) = &slurm {
        std::fs::create_dir_all(&s.dir).with_context(|| format!("creating {}", s.dir.display()))?;
    }
    let me = key.public_key().address();
    let suite = key.suite();
    let port = RpcPort {
        rpc: args.rpc,
        key,
        me,
    };
    let mut agent = Agent::open(port, me, suite, dir.clone()).map_err(|e| anyhow!(e))?;
    agent.fault = fault;
    agent.native = native;
    agent.slurm = slurm;
    agent.online = Box::new(online_devices);
    agent.live_logs = live_logs;
    eprintln!(
        "provider {me}: agent running {} (queue in {}, {} queued, logs at {endpoint})",
        args.executor.join(", "),
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
        if args.rounds != 0 && round >= args.rounds {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
}

/// The GPUs of each inventory entry that answer `nvidia-smi` now; empty (all) when the
/// inventory has no GPUs or the tool is not there.
fn online_devices(inventory: &Value) -> Vec<u64> {
    let entries = inventory["accelerators"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !entries.iter().any(|a| a["kind"] == "gpu") {
        return Vec::new();
    }
    let gpus = detect::nvidia_gpus();
    if gpus.is_empty() {
        return Vec::new();
    }
    entries
        .iter()
        .map(|a| {
            if a["kind"] != "gpu" {
                return a["count"].as_u64().unwrap_or(0);
            }
            let model = a["model"].as_str().unwrap_or_default();
            gpus.iter()
                .filter(|g| model.is_empty() || g.model.eq_ignore_ascii_case(model))
                .map(|g| g.healthy)
                .sum()
        })
        .collect()
}

/// Registers from the inventory file unless the chain's record already says the same.
fn register_if_changed(
    rpc: &RpcArgs,
    key: &SecretKey,
    sender: &SenderArgs,
    inventory: &Inventory,
    stake: Amount,
    from: &Path,
) -> anyhow::Result<()> {
    let current = rpc.call(
        "mm_getProvider",
        json!([key.public_key().address().to_string()]),
    )?;
    let inventory = inventory.clone();
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
            from.display()
        );
    }
    Ok(())
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

    fn circuit(&mut self, id: &str) -> Result<Value, String> {
        let c = self
            .rpc
            .call("mm_getCircuit", json!([id]))
            .map_err(|e| e.to_string())?;
        if c.is_null() {
            return Err(format!("no circuit {id} on chain"));
        }
        Ok(c)
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
