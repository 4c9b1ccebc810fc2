//! Network figures with real libp2p on loopback, every node in this process (each with its own
//! database, swarm, handler and sealing loop):
//!
//! * `bench propagation`: how long a sealed block takes to become the head of the other nodes,
//!   beside a raw loopback TCP one-way trip of the same size measured in the same run.
//! * `bench sync`: how fast a fresh node catches up over the network, beside the rate at which
//!   the same blocks import locally (full validation and execution, no network).

use std::{
    collections::HashMap,
    io::{Read as _, Write as _},
    path::Path,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::bail;
use metamesh_crypto::{SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_net::{Multiaddr, NetConfig};
use metamesh_node::{Chain, HandlerConfig, NodeService, PoolConfig, run_network, topic_names};
use metamesh_primitives::{AccountAction, Address, Amount, Block, Hash, Transaction};
use metamesh_state::{Genesis, VerifiedTx};
use serde::Serialize;
use tokio::sync::watch;

use super::tps::tempfile_dir;
use crate::Context;

struct LocalNode {
    service: Arc<NodeService>,
    addr: Multiaddr,
    _stop: watch::Sender<bool>,
}

/// Starts a node with its network (and its sealer if `seal`) and waits for its address.
async fn start_node(
    dir: &Path,
    genesis: &Genesis,
    signer: Option<SecretKey>,
    bootnodes: Vec<Multiaddr>,
    seal: bool,
) -> anyhow::Result<LocalNode> {
    std::fs::create_dir_all(dir)?;
    let chain = Chain::open(
        &dir.join("chain.redb"),
        genesis.clone(),
        ChainDbConfig::default(),
    )?;
    let topics = topic_names(&chain.genesis_hash());
    let service = NodeService::new(chain, signer, PoolConfig::default());
    let net = metamesh_net::start(NetConfig {
        keypair: metamesh_net::generate_keypair(),
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
        bootnodes,
        topics,
        target_peers: 25,
        request_timeout: Duration::from_secs(10),
    })
    .await?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(run_network(
        service.clone(),
        net,
        HandlerConfig::default(),
        stopped.clone(),
    ));
    if seal {
        tokio::spawn(service.clone().run_sealer(stopped));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(addr) = service
            .net_view()
            .and_then(|v| v.listening.first().cloned())
        {
            return Ok(LocalNode {
                service,
                addr: addr.parse()?,
                _stop: stop,
            });
        }
        if Instant::now() > deadline {
            bail!("the node did not start listening");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn key(i: u64) -> anyhow::Result<SecretKey> {
    Ok(SecretKey::from_bytes(
        Suite::Sm,
        &Suite::Sm.hash(format!("metamesh/bench/{i}").as_bytes()),
    )?)
}

fn genesis(signers: &[SecretKey], users: &[SecretKey], period: u64, timestamp: u64) -> Genesis {
    let address = |k: &SecretKey| k.public_key().address();
    Genesis::dev(
        7_001,
        Suite::Sm,
        timestamp,
        period,
        signers.iter().map(address).collect(),
        &users.iter().map(address).collect::<Vec<_>>(),
        Amount::from_mmt(1_000_000),
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Median one-way time (half a round trip) of `size` bytes over loopback TCP.
fn tcp_one_way_ms(size: usize) -> anyhow::Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; size];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut buf = vec![7u8; size];
    let mut samples = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        s.write_all(&buf)?;
        s.read_exact(&mut buf)?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0 / 2.0);
    }
    drop(s);
    let _ = echo.join();
    samples.sort_by(f64::total_cmp);
    Ok(percentile(&samples, 0.5))
}

/// Per block: its sealer's index, and when each node first had it as its head.
type Sightings = Arc<Mutex<HashMap<Hash, (usize, Vec<Option<Instant>>)>>>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PropagationReport {
    nodes: usize,
    blocks: usize,
    samples: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    block_bytes: usize,
    tcp_one_way_ms: f64,
    /// Median time to import one of the same blocks locally (verify, execute, durable write).
    local_import_ms: f64,
}

pub fn propagation(ctx: &Context, nodes: usize, blocks: usize) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((2..=7).contains(&nodes), "--nodes must be 2 to 7");
    let signers: Vec<SecretKey> = (0..nodes as u64).map(key).collect::<Result<_, _>>()?;
    let g = genesis(&signers, &[], 1, metamesh_node::unix_now());
    let dir = tempfile_dir()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let seen: Sightings = Default::default();
    let mut block_bytes = 0;
    let chain_blocks = runtime.block_on(async {
        let mut started: Vec<LocalNode> = Vec::new();
        for (i, k) in signers.iter().enumerate() {
            let boot = started
                .first()
                .map(|n| vec![n.addr.clone()])
                .unwrap_or_default();
            let node =
                start_node(&dir.join(format!("n{i}")), &g, Some(k.clone()), boot, true).await?;
            started.push(node);
        }
        eprintln!("{nodes} nodes up; timing {blocks} blocks…");
        let suite = g.suite;
        let addresses: Vec<Address> = signers.iter().map(|k| k.public_key().address()).collect();
        for (i, node) in started.iter().enumerate() {
            let mut heads = node.service.subscribe_heads();
            let (seen, addresses) = (seen.clone(), addresses.clone());
            tokio::spawn(async move {
                while let Ok(h) = heads.recv().await {
                    let at = Instant::now();
                    let Ok(sealer) = metamesh_consensus::recover_signer(&h, suite) else {
                        continue;
                    };
                    let by = addresses.iter().position(|a| *a == sealer).unwrap_or(0);
                    let mut map = seen.lock().expect("lock");
                    let entry = map
                        .entry(h.hash(suite))
                        .or_insert_with(|| (by, vec![None; addresses.len()]));
                    entry.1[i].get_or_insert(at);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(blocks as u64 * 3 + 60);
        loop {
            let complete = seen
                .lock()
                .expect("lock")
                .values()
                .filter(|(_, t)| t.iter().all(Option::is_some))
                .count();
            if complete >= blocks {
                break;
            }
            if Instant::now() > deadline {
                bail!("only {complete} of {blocks} blocks reached every node in time");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let head = started[0].service.status().head_hash;
        block_bytes = started[0]
            .service
            .with_chain(|c| c.header(&head).map(|h| h.to_rlp().len() + 1).unwrap_or(0));
        let canonical = started[0].service.with_chain(|c| canonical_blocks(c));
        Ok::<_, anyhow::Error>(canonical)
    })?;
    drop(runtime);
    let local_import_ms = median_import_ms(&dir.join("reimport"), &g, &chain_blocks)?;
    let mut samples: Vec<f64> = Vec::new();
    for (by, times) in seen.lock().expect("lock").values() {
        let (Some(Some(origin)), true) = (times.get(*by), times.iter().all(Option::is_some)) else {
            continue;
        };
        for (i, t) in times.iter().enumerate() {
            if i != *by
                && let Some(t) = t
            {
                samples.push(t.saturating_duration_since(*origin).as_secs_f64() * 1000.0);
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    let report = PropagationReport {
        nodes,
        blocks,
        samples: samples.len(),
        p50_ms: percentile(&samples, 0.5),
        p99_ms: percentile(&samples, 0.99),
        max_ms: samples.last().copied().unwrap_or(f64::NAN),
        block_bytes,
        tcp_one_way_ms: tcp_one_way_ms(block_bytes.max(1))?,
        local_import_ms,
    };
    let _ = std::fs::remove_dir_all(&dir);
    ctx.out.emit(&report, || {
        format!(
            "block propagation over {nodes} loopback nodes ({} samples, {} blocks of ~{} bytes): \
             p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n\
             in the same run: raw loopback TCP one-way for the same size {:.3} ms; \
             importing one of these blocks locally (verify, execute, durable write) {:.2} ms (median)",
            report.samples,
            blocks,
            report.block_bytes,
            report.p50_ms,
            report.p99_ms,
            report.max_ms,
            report.tcp_one_way_ms,
            report.local_import_ms
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// The canonical chain's blocks after genesis, oldest first.
fn canonical_blocks(c: &Chain) -> Vec<Block> {
    (1..=c.head().number)
        .filter_map(|n| {
            let header = c.canonical_header(n)?;
            let body = c.db().body(&header.hash(c.suite())).ok()??;
            let transactions = Block::decode_body(&body, c.suite()).ok()?;
            Some(Block {
                header,
                transactions,
            })
        })
        .collect()
}

/// Median time to import each of `blocks` into a fresh chain in `dir`.
fn median_import_ms(dir: &Path, g: &Genesis, blocks: &[Block]) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir)?;
    let mut chain = Chain::open(&dir.join("chain.redb"), g.clone(), ChainDbConfig::default())?;
    let now = metamesh_node::unix_now() + 60;
    let mut samples = Vec::new();
    for b in blocks {
        let t = Instant::now();
        chain.import(b, now)?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok(percentile(&samples, 0.5))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncReport {
    blocks: u64,
    transactions_per_block: usize,
    import_blocks_per_second: f64,
    sync_blocks_per_second: f64,
    ratio: f64,
}

/// Builds `blocks` blocks with `per_block` transfers each on a chain in `dir`.
fn build_source(
    dir: &Path,
    g: &Genesis,
    signer: &SecretKey,
    users: &[SecretKey],
    blocks: u64,
    per_block: usize,
) -> anyhow::Result<Vec<Block>> {
    std::fs::create_dir_all(dir)?;
    let mut chain = Chain::open(&dir.join("chain.redb"), g.clone(), ChainDbConfig::default())?;
    let mut out = Vec::new();
    let mut nonces = vec![0u64; users.len()];
    for n in 0..blocks {
        let txs: Vec<VerifiedTx> = (0..per_block)
            .map(|j| {
                let u = (n as usize * per_block + j) % users.len();
                nonces[u] += 1;
                let tx = Transaction {
                    chain_id: g.chain_id,
                    nonce: nonces[u] - 1,
                    gas_price: g.params.min_gas_price,
                    gas_limit: super::TRANSFER_GAS,
                    action: AccountAction::Transfer {
                        to: Address([9; 20]),
                        amount: Amount(1),
                    }
                    .into(),
                }
                .sign(&users[u])?;
                Ok(VerifiedTx::new(tx, g.suite))
            })
            .collect::<anyhow::Result<_>>()?;
        let now = g.timestamp + n + 1;
        let built = chain.build_block(signer, &txs, None, now)?;
        out.push(built.block.clone());
        chain.import_built(built, now)?;
    }
    Ok(out)
}

pub fn sync(ctx: &Context, blocks: u64, per_block: usize) -> anyhow::Result<ExitCode> {
    let signer = key(0)?;
    let users: Vec<SecretKey> = (100..116).map(key).collect::<Result<_, _>>()?;
    let g = genesis(
        std::slice::from_ref(&signer),
        &users,
        1,
        metamesh_node::unix_now() - blocks - 60,
    );
    let dir = tempfile_dir()?;
    eprintln!("building {blocks} blocks with {per_block} transfers each…");
    let chain_blocks = build_source(&dir.join("source"), &g, &signer, &users, blocks, per_block)?;

    eprintln!("importing them locally (the reference)…");
    std::fs::create_dir_all(dir.join("local"))?;
    let mut local = Chain::open(
        &dir.join("local").join("chain.redb"),
        g.clone(),
        ChainDbConfig::default(),
    )?;
    let now = metamesh_node::unix_now();
    let t = Instant::now();
    for b in &chain_blocks {
        local.import(b, now)?;
    }
    let import_rate = blocks as f64 / t.elapsed().as_secs_f64();
    drop(local);

    eprintln!("syncing a fresh node over libp2p…");
    let runtime = tokio::runtime::Runtime::new()?;
    let sync_rate = runtime.block_on(async {
        let source = start_node(&dir.join("source"), &g, None, vec![], false).await?;
        let target_head = source.service.status();
        let t = Instant::now();
        let fresh = start_node(
            &dir.join("fresh"),
            &g,
            None,
            vec![source.addr.clone()],
            false,
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(1800);
        while fresh.service.status().head_hash != target_head.head_hash {
            if Instant::now() > deadline {
                bail!(
                    "the fresh node reached {} of {blocks} in 30 minutes",
                    fresh.service.status().head_number
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<_, anyhow::Error>(blocks as f64 / t.elapsed().as_secs_f64())
    })?;
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
    let report = SyncReport {
        blocks,
        transactions_per_block: per_block,
        import_blocks_per_second: import_rate,
        sync_blocks_per_second: sync_rate,
        ratio: sync_rate / import_rate,
    };
    ctx.out.emit(&report, || {
        format!(
            "a fresh node synced {blocks} blocks ({per_block} transfers each) over libp2p at {sync_rate:.0} blocks/s\n\
             the same blocks imported locally in the same run: {import_rate:.0} blocks/s; ratio {:.2}",
            sync_rate / import_rate
        )
    });
    Ok(ExitCode::SUCCESS)
}
