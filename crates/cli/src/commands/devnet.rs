//! `metamesh devnet --nodes N`: a local network of N signer nodes on loopback. The first run
//! writes each node's directory (`node-i`: keystore, genesis, password, config with its ports
//! and bootnode, node key); every run starts them — one node in this process, several as child
//! processes of `metamesh node run`, each restartable alone with
//! `metamesh --data-dir DIR/node-i node run`. Beside nodes 1–3 (node 0 on a one-node devnet)
//! run three computing providers (`provider-i`: a funded key, a distinct inventory, the
//! provider agent), each a child `metamesh provider run` against its node. Ctrl-C (or
//! SIGTERM) stops them all.

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
};

use anyhow::{Context as _, bail};
use metamesh_crypto::{SecretKey, Suite, keystore::ScryptParams};
use metamesh_primitives::Amount;
use metamesh_state::Genesis;

use super::node::{NodeConfig, Settings, genesis_of, node_key, run_node};
use crate::Context;

/// Most nodes a devnet runs.
const MAX_NODES: usize = 7;
/// Funded accounts created in node-0's keystore.
const ACCOUNTS: usize = 3;
/// Computing providers a devnet runs.
const PROVIDERS: usize = 3;

/// The providers' inventories: a CPU centre, a GPU centre, an NPU centre.
const INVENTORIES: [&str; PROVIDERS] = [
    r#"# A CPU cluster on a dedicated link.
region = "cn-north"
executors = ["wasm", "process"]   # process: native commands (python3) in a sandbox
fuel_price = "0.001 MMT"   # per million units of Wasm fuel
stake = "500 MMT"
memory = "64 GiB"
memory_price_hour = "0.01 MMT"
disk = "2 TiB"
[cpu]
cores = 16
model = "AMD EPYC 7763"
benchmark = 1200
price_hour = "0.05 MMT"
[[links]]
kind = "dedicated"
bandwidth = 10000
latency = 300
"#,
    r#"# An intelligent computing centre with GPUs.
region = "cn-east"
executors = ["wasm", "process"]   # process: native commands (python3) in a sandbox
fuel_price = "0.002 MMT"
stake = "800 MMT"
memory = "256 GiB"
memory_price_hour = "0.01 MMT"
disk = "8 TiB"
[cpu]
cores = 32
model = "Intel Xeon Platinum 8380"
benchmark = 1000
price_hour = "0.04 MMT"
[[accelerators]]
kind = "gpu"
model = "A100"
memory = "80 GiB"
count = 4
benchmark = 19500
price_hour = "2 MMT"
[[links]]
kind = "ai-intranet"
bandwidth = 100000
latency = 20
"#,
    r#"# A centre with NPUs on the public internet.
region = "cn-south"
executors = ["wasm", "process"]   # process: native commands (python3) in a sandbox
fuel_price = "0.0005 MMT"
stake = "300 MMT"
memory = "32 GiB"
disk = "1 TiB"
[cpu]
cores = 8
model = "Kunpeng 920"
benchmark = 800
price_hour = "0.02 MMT"
[[accelerators]]
kind = "npu"
model = "Ascend 910"
memory = "32 GiB"
count = 2
benchmark = 12000
price_hour = "1 MMT"
[[links]]
kind = "internet"
bandwidth = 1000
latency = 5000
"#,
];

fn provider_dir(root: &Path, i: usize) -> PathBuf {
    root.join(format!("provider-{i}"))
}

#[derive(clap::Args, Debug)]
pub struct DevnetArgs {
    /// Number of signer nodes (1–7).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// JSON-RPC port of node 0 on 127.0.0.1; node i uses this + i.
    #[arg(long, default_value_t = 8545)]
    rpc_port: u16,
    /// Peer-to-peer port of node 0 on 127.0.0.1; node i uses this + i.
    #[arg(long, default_value_t = 30303)]
    p2p_port: u16,
    /// Seconds between blocks.
    #[arg(long, default_value_t = 2)]
    period: u64,
    /// Computing providers to start (0–3; their directories and funded keys exist either way,
    /// so `metamesh --data-dir DIR/provider-i provider run …` starts one by hand).
    #[arg(long, default_value_t = 3)]
    providers: usize,
}

fn node_dir(root: &Path, i: usize) -> PathBuf {
    root.join(format!("node-{i}"))
}

fn existing_nodes(root: &Path) -> usize {
    (0..=MAX_NODES)
        .take_while(|i| node_dir(root, *i).join("genesis.json").exists())
        .count()
}

fn random_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for the devnet password"))?;
    Ok(hex::encode(bytes))
}

/// Writes every node's directory: one signer key each, the funded accounts in node 0's
/// keystore, one genesis naming all signers, and a config pointing at node 0 as bootnode.
fn create(root: &Path, args: &DevnetArgs) -> anyhow::Result<()> {
    let password = random_password()?;
    let mut signers = Vec::new();
    for i in 0..args.nodes {
        let dir = node_dir(root, i);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        super::write_private(
            &dir.join("password.txt"),
            format!("{password}\n").as_bytes(),
        )?;
        let keystore = metamesh_crypto::keystore::Keystore::open(dir.join("keystore"))?;
        let key = SecretKey::generate(Suite::Sm)?;
        signers.push(
            keystore
                .store(&key, password.as_bytes(), ScryptParams::LIGHT)?
                .address,
        );
    }
    let keystore = metamesh_crypto::keystore::Keystore::open(node_dir(root, 0).join("keystore"))?;
    let mut funded = Vec::new();
    for _ in 0..ACCOUNTS {
        let key = SecretKey::generate(Suite::Sm)?;
        funded.push(
            keystore
                .store(&key, password.as_bytes(), ScryptParams::LIGHT)?
                .address,
        );
    }
    for i in 1..=PROVIDERS {
        let dir = provider_dir(root, i);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        super::write_private(
            &dir.join("password.txt"),
            format!("{password}\n").as_bytes(),
        )?;
        std::fs::write(dir.join("inventory.toml"), INVENTORIES[i - 1])?;
        let keystore = metamesh_crypto::keystore::Keystore::open(dir.join("keystore"))?;
        let key = SecretKey::generate(Suite::Sm)?;
        funded.push(
            keystore
                .store(&key, password.as_bytes(), ScryptParams::LIGHT)?
                .address,
        );
    }
    let mut genesis = Genesis::dev(
        1337,
        Suite::Sm,
        metamesh_node::unix_now(),
        args.period,
        signers.clone(),
        &funded,
        Amount::from_mmt(1_000_000),
    );
    // The first account governs the local chain: it changes parameters and grants roles
    // (`metamesh bmci grant`).
    genesis.params.params_authority = funded[0];
    let genesis_json = serde_json::to_vec_pretty(&genesis)?;
    let boot = format!(
        "/ip4/127.0.0.1/tcp/{}/p2p/{}",
        args.p2p_port,
        node_key(&node_dir(root, 0))?.public().to_peer_id()
    );
    // One admin token for the whole local network, so a tool holding any node's directory
    // can administer every node.
    let token = super::node::new_admin_token()?;
    for i in 1..=PROVIDERS {
        super::write_private(
            &provider_dir(root, i).join(super::node::ADMIN_TOKEN_FILE),
            format!("{token}\n").as_bytes(),
        )?;
    }
    for (i, signer) in signers.iter().enumerate() {
        let dir = node_dir(root, i);
        node_key(&dir)?;
        super::write_private(
            &dir.join(super::node::ADMIN_TOKEN_FILE),
            format!("{token}\n").as_bytes(),
        )?;
        NodeConfig {
            rpc_addr: Some(([127, 0, 0, 1], port(args.rpc_port, i)?).into()),
            p2p_addr: Some(format!("/ip4/127.0.0.1/tcp/{}", port(args.p2p_port, i)?)),
            bootnodes: if i == 0 { vec![] } else { vec![boot.clone()] },
            signer: Some(*signer),
            password_file: Some("password.txt".into()),
            ..NodeConfig::default()
        }
        .save(&dir)?;
        // Written last: its presence marks a complete node directory.
        std::fs::write(dir.join("genesis.json"), &genesis_json)?;
    }
    Ok(())
}

fn port(base: u16, i: usize) -> anyhow::Result<u16> {
    base.checked_add(i as u16)
        .with_context(|| format!("port {base} + {i} is past 65535"))
}

fn banner(root: &Path, genesis: &Genesis, head: u64) -> anyhow::Result<String> {
    let password = std::fs::read_to_string(node_dir(root, 0).join("password.txt"))?;
    let n = genesis.clique.signers.len();
    let mut lines = vec![format!(
        "MetaMesh devnet: {n} node(s), chain {} ({} suite), block {head} on start",
        genesis.chain_id, genesis.suite
    )];
    for i in 0..existing_nodes(root) {
        let c = NodeConfig::load(&node_dir(root, i))?;
        lines.push(format!(
            "node-{i}:   RPC http://{}  p2p {}  signer {}",
            c.rpc_addr.map(|a| a.to_string()).unwrap_or_default(),
            c.p2p_addr.unwrap_or_default(),
            c.signer.map(|a| a.to_string()).unwrap_or_default(),
        ));
    }
    for i in 1..=PROVIDERS {
        let dir = provider_dir(root, i);
        if let Ok(Some(entry)) = metamesh_crypto::keystore::Keystore::open(dir.join("keystore"))
            .and_then(|k| k.list())
            .map(|l| l.first().cloned())
        {
            lines.push(format!(
                "provider-{i}: {} on node-{} ({})",
                entry.address,
                provider_node(i, genesis.clique.signers.len()),
                dir.join("inventory.toml").display()
            ));
        }
    }
    lines.push(format!("data:     {}", root.display()));
    lines.push(format!(
        "password: {} (also in each node's password.txt)",
        password.trim()
    ));
    for g in genesis.grants.iter().take(ACCOUNTS) {
        let authority = if g.address == genesis.params.params_authority {
            ", the parameters authority"
        } else {
            ""
        };
        lines.push(format!(
            "account:  {} with {} (keystore of node-0{authority})",
            g.address, g.amount
        ));
    }
    lines.push(
        "Ctrl-C stops the network; the same command resumes it. Restart one node alone with \
         `metamesh --data-dir DIR/node-i node run`."
            .into(),
    );
    Ok(lines.join("\n"))
}

pub fn devnet(ctx: &Context, args: DevnetArgs) -> anyhow::Result<ExitCode> {
    if args.providers > PROVIDERS {
        bail!(
            "--providers {}: a devnet runs 0 to {PROVIDERS} providers",
            args.providers
        );
    }
    if !(1..=MAX_NODES).contains(&args.nodes) {
        bail!(
            "--nodes {}: a devnet has 1 to {MAX_NODES} nodes",
            args.nodes
        );
    }
    // Without an explicit data dir the devnet keeps to its own corner of ~/.metamesh.
    let root = if ctx.data_dir_given {
        ctx.data_dir.clone()
    } else {
        ctx.data_dir.join("devnet")
    };
    match existing_nodes(&root) {
        0 => create(&root, &args)?,
        n if n == args.nodes => {}
        n => bail!(
            "{} holds a devnet of {n} node(s); run it with --nodes {n}, or choose another --data-dir",
            root.display()
        ),
    }
    let genesis = genesis_of(&node_dir(&root, 0))?;
    if args.nodes == 1 {
        let dir = node_dir(&root, 0);
        let node_ctx = Context {
            data_dir: dir.clone(),
            data_dir_given: true,
            out: ctx.out,
        };
        let settings = settings_for(&node_ctx)?;
        let root_text = banner(&root, &genesis, 0)?;
        // Children of this process: they stop with it.
        let _providers = start_providers(&root, 1, args.providers)?;
        return run_node(&dir, settings, |chain, _| {
            root_text.replace(
                "block 0 on start",
                &format!("block {} on start", chain.head().number),
            )
        });
    }
    eprintln!("{}", banner(&root, &genesis, 0)?);
    supervise(&root, args.nodes, args.providers)
}

fn settings_for(ctx: &Context) -> anyhow::Result<Settings> {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        run: super::node::RunArgs,
    }
    let wrap = Wrap::try_parse_from(["run"]).context("default node settings")?;
    Settings::resolve(ctx, wrap.run)
}

/// Even if the supervisor is killed outright, its nodes get SIGTERM rather than run on orphaned.
#[cfg(target_os = "linux")]
fn stop_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_: &mut Command) {}

/// Starts one `metamesh node run` per node, prefixes their logs, and stops them all on Ctrl-C.
fn supervise(root: &Path, nodes: usize, providers: usize) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the metamesh executable")?;
    let mut children: Vec<(usize, Child)> = Vec::new();
    for i in 0..nodes {
        let mut command = Command::new(&exe);
        command
            .arg("--data-dir")
            .arg(node_dir(root, i))
            .args(["node", "run"])
            .env_remove("METAMESH_DATA_DIR")
            .env_remove("METAMESH_PASSWORD");
        children.push((i, spawn_logged(command, format!("node-{i}"))?));
    }
    children.extend(
        start_providers(root, nodes, providers)?
            .into_iter()
            .map(|(i, c)| (100 + i, c)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal handler")?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    eprintln!("stopping {nodes} nodes and their providers");
    for (_, child) in &children {
        // SAFETY: kill(2) with a child's pid and SIGTERM has no memory effects.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
    for (i, mut child) in children {
        match child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("{} ended with {status}", name_of(i)),
            Err(e) => eprintln!("{}: {e}", name_of(i)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts a child that stops with this process, its stderr printed line by line under `label`.
fn spawn_logged(mut command: Command, label: String) -> anyhow::Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    stop_with_parent(&mut command);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {label}"))?;
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[{label}] {line}");
            }
        });
    }
    Ok(child)
}

fn name_of(child: usize) -> String {
    if child >= 100 {
        format!("provider-{}", child - 100)
    } else {
        format!("node-{child}")
    }
}

/// The node provider `i` (1-based) works with: node i, or node 0 on a one-node devnet.
fn provider_node(i: usize, nodes: usize) -> usize {
    if nodes == 1 { 0 } else { i % nodes }
}

/// Starts `metamesh provider run` for each provider directory (none in a devnet made before
/// providers existed), against its node's RPC.
fn start_providers(root: &Path, nodes: usize, count: usize) -> anyhow::Result<Vec<(usize, Child)>> {
    let exe = std::env::current_exe().context("finding the metamesh executable")?;
    let mut children = Vec::new();
    for i in 1..=count.min(PROVIDERS) {
        let dir = provider_dir(root, i);
        if !dir.join("inventory.toml").exists() {
            continue;
        }
        let node = NodeConfig::load(&node_dir(root, provider_node(i, nodes)))?;
        let rpc = node
            .rpc_addr
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let mut command = Command::new(&exe);
        command
            .arg("--data-dir")
            .arg(&dir)
            .args([
                "provider",
                "run",
                "--executor",
                "wasm,process",
                "--inventory",
            ])
            .arg(dir.join("inventory.toml"))
            .arg("--password-file")
            .arg(dir.join("password.txt"))
            .args(["--rpc", &rpc])
            .env_remove("METAMESH_DATA_DIR")
            .env_remove("METAMESH_PASSWORD")
            .env_remove("METAMESH_RPC");
        children.push((i, spawn_logged(command, format!("provider-{i}"))?));
    }
    Ok(children)
}
