//! `metamesh node run`: a running node — chain, pool, sealing loop, peer-to-peer network and
//! RPC — configured by `<data-dir>/config.toml`, flags and `METAMESH_*` variables (flags win).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use metamesh_crypto::{Address, SecretKey};
use metamesh_db::ChainDbConfig;
use metamesh_net::{Keypair, Multiaddr, NetConfig};
use metamesh_node::{Chain, HandlerConfig, NodeService, PoolConfig};
use metamesh_rpc::RpcConfig;
use metamesh_state::Genesis;
use serde::{Deserialize, Serialize};

use crate::{Context, password::PasswordArgs};

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Run this data directory's node: sync, seal (if a signer), gossip and serve RPC until
    /// Ctrl-C or SIGTERM.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Address for JSON-RPC (HTTP and WebSocket) [config: rpc-addr; default 127.0.0.1:8545].
    #[arg(long, env = "METAMESH_RPC_ADDR")]
    rpc_addr: Option<SocketAddr>,
    /// Peer-to-peer listen address [config: p2p-addr; default /ip4/0.0.0.0/tcp/30303].
    #[arg(long, env = "METAMESH_P2P_ADDR", value_name = "MULTIADDR")]
    p2p_addr: Option<Multiaddr>,
    /// Peers to connect to first, comma-separated `/ip4/…/tcp/…/p2p/<peer id>` [config: bootnodes].
    #[arg(
        long,
        env = "METAMESH_BOOTNODES",
        value_delimiter = ',',
        value_name = "MULTIADDR"
    )]
    bootnodes: Vec<Multiaddr>,
    /// Seal blocks with this keystore account (it must be a signer) [config: signer].
    #[arg(long, env = "METAMESH_SIGNER")]
    signer: Option<Address>,
    /// File holding the admin token (default: `<data-dir>/admin.token`, created with a fresh
    /// random token on the first start and kept, mode 0600; `METAMESH_ADMIN_TOKEN` overrides).
    #[arg(long, value_name = "FILE")]
    rpc_admin_token_file: Option<PathBuf>,
    /// Let callers on loopback use admin methods without the token [config: rpc-admin-loopback].
    #[arg(long)]
    rpc_admin_loopback: bool,
    /// Host names RPC answers to, comma-separated; `*` for any (IP addresses always pass)
    /// [config: rpc-vhosts; default localhost,127.0.0.1].
    #[arg(long, env = "METAMESH_RPC_VHOSTS", value_delimiter = ',')]
    rpc_vhosts: Vec<String>,
    /// Origins browsers may call RPC from, comma-separated; `*` for any [config: rpc-cors].
    #[arg(long, env = "METAMESH_RPC_CORS", value_delimiter = ',')]
    rpc_cors: Vec<String>,
    /// Run without the knowledge graph: no indexer, and `/sparql` answers 404 [config: no-kg].
    #[arg(long)]
    no_kg: bool,
    /// The longest one SPARQL query may run before it is cancelled, in seconds
    /// [config: sparql-timeout; default 10].
    #[arg(long, value_name = "SECONDS")]
    sparql_timeout: Option<u64>,
    /// Mirror the knowledge graph into an external SPARQL 1.1 store through its Graph Store
    /// HTTP Protocol endpoint (Virtuoso: http://HOST:8890/sparql-graph-crud) [config: kg-store].
    #[arg(long, value_name = "URL")]
    kg_store: Option<String>,
    #[command(flatten)]
    password: PasswordArgs,
}

/// `<data-dir>/config.toml`. Relative paths are relative to the data directory.
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p2p_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootnodes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rpc_admin_loopback: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpc_vhosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpc_cors: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_kg: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparql_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kg_store: Option<String>,
}

impl NodeConfig {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("config.toml")
    }

    /// The data directory's config, or the defaults if it has none.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = Self::path(data_dir);
        std::fs::write(&path, toml::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Everything a running node needs, settled from flags, environment and config file.
pub struct Settings {
    pub rpc_addr: SocketAddr,
    pub p2p_addr: Multiaddr,
    pub bootnodes: Vec<Multiaddr>,
    pub signer: Option<SecretKey>,
    pub rpc: RpcConfig,
    /// Index the chain into a knowledge graph and serve `/sparql`.
    pub knowledge: bool,
    pub sparql_timeout: Duration,
    /// The external store the knowledge graph is mirrored to.
    pub kg_store: Option<String>,
}

/// The name of the token file a node writes in its data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// A fresh random admin token.
pub fn new_admin_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).context("drawing an admin token")?;
    Ok(hex::encode(bytes))
}

/// The admin token: `METAMESH_ADMIN_TOKEN`, the operator's file, `<data-dir>/admin.token`, or
/// a fresh random one written there (mode 0600) for local tools to read.
fn admin_token(data_dir: &Path, file: Option<&Path>) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("METAMESH_ADMIN_TOKEN") {
        anyhow::ensure!(!token.trim().is_empty(), "METAMESH_ADMIN_TOKEN is empty");
        return Ok(token.trim().to_owned());
    }
    if let Some(file) = file {
        let token = std::fs::read_to_string(file)
            .with_context(|| format!("reading the admin token file {}", file.display()))?;
        anyhow::ensure!(
            !token.trim().is_empty(),
            "the admin token file {} is empty",
            file.display()
        );
        return Ok(token.trim().to_owned());
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && !text.trim().is_empty()
    {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} private", path.display()))?;
        }
        return Ok(text.trim().to_owned());
    }
    let token = new_admin_token()?;
    super::write_private(&path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

pub fn genesis_of(data_dir: &Path) -> anyhow::Result<Genesis> {
    let path = data_dir.join("genesis.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (run `metamesh init --genesis FILE` first)",
            path.display()
        )
    })?;
    Ok(Genesis::from_json(&text)?)
}

/// The node's libp2p identity, created on first use in `<data-dir>/node.key`.
pub fn node_key(data_dir: &Path) -> anyhow::Result<Keypair> {
    let path = data_dir.join("node.key");
    match std::fs::read(&path) {
        Ok(bytes) => metamesh_net::decode_keypair(&bytes)
            .with_context(|| format!("reading the node key {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = metamesh_net::generate_keypair();
            super::write_private(&path, &metamesh_net::encode_keypair(&key))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn parse_addrs(list: &[String], what: &str) -> anyhow::Result<Vec<Multiaddr>> {
    list.iter()
        .map(|s| {
            s.parse()
                .with_context(|| format!("{what} {s:?} is not a multiaddress"))
        })
        .collect()
}

impl Settings {
    pub(crate) fn resolve(ctx: &Context, args: RunArgs) -> anyhow::Result<Self> {
        let config = NodeConfig::load(&ctx.data_dir)?;
        let p2p_addr = match (args.p2p_addr, &config.p2p_addr) {
            (Some(a), _) => a,
            (None, Some(s)) => parse_addrs(std::slice::from_ref(s), "p2p-addr")?.remove(0),
            (None, None) => "/ip4/0.0.0.0/tcp/30303".parse().expect("valid multiaddr"),
        };
        let bootnodes = if args.bootnodes.is_empty() {
            parse_addrs(&config.bootnodes, "bootnode")?
        } else {
            args.bootnodes
        };
        for b in &bootnodes {
            if metamesh_net::peer_of(b).is_none() {
                bail!("bootnode {b} must end in /p2p/<peer id>");
            }
        }
        let signer = match args.signer.or(config.signer) {
            Some(address) => {
                let mut password = args.password.clone();
                if password.password_file.is_none()
                    && std::env::var_os("METAMESH_PASSWORD").is_none()
                {
                    password.password_file =
                        config.password_file.as_ref().map(|p| ctx.data_dir.join(p));
                }
                let pw = password.read(&address.to_string(), false)?;
                Some(ctx.keystore()?.unlock(&address, pw.as_bytes())?)
            }
            None => None,
        };
        let defaults = RpcConfig::default();
        let pick = |flag: Vec<String>, file: Vec<String>, default: Vec<String>| {
            if !flag.is_empty() {
                flag
            } else if !file.is_empty() {
                file
            } else {
                default
            }
        };
        let rpc = RpcConfig {
            admin_token: Some(admin_token(
                &ctx.data_dir,
                args.rpc_admin_token_file.as_deref(),
            )?),
            admin_loopback: args.rpc_admin_loopback || config.rpc_admin_loopback,
            vhosts: pick(args.rpc_vhosts, config.rpc_vhosts, defaults.vhosts.clone()),
            cors: pick(args.rpc_cors, config.rpc_cors, defaults.cors.clone()),
            ..defaults
        };
        Ok(Settings {
            rpc_addr: args
                .rpc_addr
                .or(config.rpc_addr)
                .unwrap_or_else(|| ([127, 0, 0, 1], 8545).into()),
            p2p_addr,
            bootnodes,
            signer,
            rpc,
            knowledge: !(args.no_kg || config.no_kg),
            sparql_timeout: Duration::from_secs(
                args.sparql_timeout
                    .or(config.sparql_timeout)
                    .unwrap_or(10)
                    .clamp(1, 3600),
            ),
            kg_store: args.kg_store.or(config.kg_store),
        })
    }
}

/// `<data-dir>/node.pid` while the node runs, for scripts and supervisors; removed on a clean
/// stop (a stale one after a crash is simply overwritten).
struct PidFile(PathBuf);

impl PidFile {
    fn write(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("node.pid");
        std::fs::write(&path, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs a node until Ctrl-C or SIGTERM.
pub fn run_node(
    data_dir: &Path,
    settings: Settings,
    banner: impl FnOnce(&Chain, &str) -> String,
) -> anyhow::Result<ExitCode> {
    let genesis = genesis_of(data_dir)?;
    let chain = Chain::open(
        &data_dir.join("chain.redb"),
        genesis,
        ChainDbConfig::default(),
    )?;
    if let Some(key) = &settings.signer
        && key.suite() != chain.suite()
    {
        bail!(
            "the signer is an {} key but the chain uses the {} suite",
            key.suite(),
            chain.suite()
        );
    }
    let keypair = node_key(data_dir)?;
    let _pid = PidFile::write(data_dir)?;
    let me = format!(
        "{}/p2p/{}",
        settings.p2p_addr,
        keypair.public().to_peer_id()
    );
    eprintln!("{}", banner(&chain, &me));
    let topics = metamesh_node::topic_names(&chain.genesis_hash());
    let node = NodeService::new(chain, settings.signer, PoolConfig::default());
    let blocks = metamesh_storage::BlockStore::open(data_dir.join("blocks.redb"))
        .with_context(|| format!("opening the block store in {}", data_dir.display()))?;
    node.attach_content(Arc::new(metamesh_node::Content::new(blocks)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let net = NetConfig {
        keypair,
        listen: settings.p2p_addr,
        bootnodes: settings.bootnodes,
        topics,
        target_peers: 25,
        request_timeout: Duration::from_secs(10),
    };
    let mut rpc = settings.rpc;
    let indexer = if settings.knowledge {
        let indexer = metamesh_knowledge::Indexer::open(
            &node.chain_view(),
            Some(&data_dir.join("knowledge").join("snapshot.nq")),
        )
        .context("opening the knowledge graph")?;
        let indexer = match &settings.kg_store {
            Some(url) => indexer.with_mirror(url).context("the knowledge store")?,
            None => indexer,
        };
        let limits = metamesh_knowledge::Limits {
            timeout: settings.sparql_timeout,
            ..Default::default()
        };
        rpc.knowledge = Some(metamesh_rpc::Knowledge::new(
            indexer.graph(),
            indexer.bmci(),
            limits,
        ));
        Some(indexer)
    } else {
        None
    };
    runtime.block_on(serve(node, settings.rpc_addr, net, rpc, indexer))?;
    Ok(ExitCode::SUCCESS)
}

async fn stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

async fn serve(
    node: Arc<NodeService>,
    rpc_addr: SocketAddr,
    net: NetConfig,
    config: RpcConfig,
    indexer: Option<metamesh_knowledge::Indexer>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(rpc_addr)
        .await
        .with_context(|| format!("binding RPC to {rpc_addr}"))?;
    eprintln!(
        "RPC listening on http://{} (WebSocket on the same port)",
        listener.local_addr()?
    );
    let network = metamesh_net::start(net).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let p2p = tokio::spawn(metamesh_node::run_network(
        node.clone(),
        network,
        HandlerConfig::default(),
        stopped.clone(),
    ));
    let sealer = tokio::spawn(node.clone().run_sealer(stopped.clone()));
    let agent = tokio::spawn(metamesh_node::run_storage_agent(
        node.clone(),
        stopped.clone(),
    ));
    let kg = indexer.map(|ix| {
        tokio::spawn(metamesh_knowledge::run_indexer(
            node.clone(),
            ix,
            stopped.clone(),
        ))
    });
    let mut rpc_stopped = stopped.clone();
    let rpc = tokio::spawn(metamesh_rpc::serve(listener, node, config, async move {
        let _ = rpc_stopped.wait_for(|s| *s).await;
    }));
    stop_signal().await?;
    eprintln!("stopping");
    let _ = stop.send(true);
    let _ = sealer.await;
    let _ = agent.await;
    let _ = p2p.await;
    if let Some(kg) = kg {
        let _ = kg.await;
    }
    rpc.await.context("RPC task")??;
    Ok(())
}

pub fn run(ctx: &Context, cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NodeCommand::Run(args) => {
            let settings = Settings::resolve(ctx, args)?;
            let who = settings.signer.as_ref().map(|k| k.public_key().address());
            run_node(&ctx.data_dir, settings, |chain, me| {
                format!(
                    "chain {} at block {}, genesis 0x{}; sealing as {}\np2p: {me}",
                    chain.genesis().chain_id,
                    chain.head().number,
                    hex::encode(chain.genesis_hash()),
                    who.map_or("nobody (not a signer)".to_owned(), |a| a.to_string())
                )
            })
        }
    }
}
