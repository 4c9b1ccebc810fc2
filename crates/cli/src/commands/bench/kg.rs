//! `metamesh bench kg`: the knowledge graph at scale, each figure beside a reference measured in
//! the same run.
//!
//! * Load: synthetic chain records (datasets, jobs with tasks, accepted results) written as the
//!   indexer writes them — record graphs in store transactions of 2,000, full-text indexing
//!   included — beside oxigraph's own bulk loader taking the same quads as N-Quads.
//! * Queries at that size: p50/p99 of typical lookups (a dataset by digest, a result's
//!   provenance, a type count in one record, full text through `mm:search`).
//! * Indexing a real chain: blocks of data registrations sealed by a node in this process (the
//!   chain's own event rate, signatures and execution included) beside the indexer catching
//!   up on the same events.

use std::{process::ExitCode, sync::Arc, time::Instant};

use metamesh_crypto::{SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_knowledge::oxigraph::{
    self,
    io::{RdfFormat, RdfParser, RdfSerializer},
};
use metamesh_knowledge::{
    Change, Facts, Formats, Indexer, KnowledgeGraph, Limits, Provenance, Request, records, sparql,
    vocab,
};
use metamesh_node::{Chain, NodeService, PoolConfig, SealPlan};
use metamesh_primitives::{
    Address, Amount, DataAction, Transaction,
    compute::{JobSpec, Output, RunResult, TaskSpec},
};
use metamesh_state::{ComputeResult, DataRecord, Genesis};
use serde::Serialize;

use crate::Context;

const WORDS: [&str; 16] = [
    "boron",
    "carbide",
    "nitride",
    "hexagonal",
    "icosahedral",
    "hardness",
    "band",
    "gap",
    "phonon",
    "superconducting",
    "monolayer",
    "borophene",
    "diboride",
    "enthalpy",
    "elastic",
    "thermal",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    records: usize,
    quads: usize,
    indexer_quads_per_second: f64,
    bulk_loader_quads_per_second: f64,
    snapshot_load_quads_per_second: f64,
    queries: Vec<QueryRow>,
    chain_events: u64,
    chain_events_per_second: f64,
    indexer_events_per_second: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryRow {
    query: &'static str,
    runs: usize,
    p50_ms: f64,
    p99_ms: f64,
}

fn hash(i: u64, tag: u8) -> [u8; 32] {
    let mut h = [tag; 32];
    h[..8].copy_from_slice(&i.to_be_bytes());
    h
}

fn prov(i: u64, event: &'static str) -> Provenance {
    Provenance {
        block: hash(i / 50, 0xb0),
        number: i / 50 + 1,
        time: 1_700_000_000 + i,
        sealer: Some(Address([1; 20])),
        tx: Some((
            hash(i, 0x70),
            (i % 50) as u32,
            Some(Address([(i % 200) as u8; 20])),
        )),
        log_index: (i % 50) as u32,
        event,
    }
}

fn title(i: u64) -> String {
    let w = |k: u64| WORDS[((i.wrapping_mul(2_654_435_761) >> (k * 4)) % 16) as usize];
    format!("{} {} {} sample {i}", w(0), w(1), w(2))
}

/// Record `i`: a dataset, a job of three tasks, or a result, in turn.
fn record(i: u64) -> (Provenance, Facts) {
    let cid = metamesh_storage::Block::new(
        metamesh_storage::CidVersion::V1,
        metamesh_storage::RAW,
        i.to_be_bytes().to_vec(),
    )
    .cid
    .to_bytes();
    let cid = metamesh_primitives::compute::Bytes(cid);
    match i % 3 {
        0 => (
            prov(i, "dataRegistered"),
            Facts::Dataset {
                digest: hash(i, 0xd0),
                owner: Address([(i % 200) as u8; 20]),
                record: Some(DataRecord {
                    owner: Address([(i % 200) as u8; 20]),
                    block: i / 50 + 1,
                    time: 1_700_000_000 + i,
                    size: 1_000 + i,
                    cid: cid.0.clone(),
                    encrypted: false,
                    profile: "unixfs-v0".into(),
                    title: title(i),
                    licence: "CC-BY-4.0".into(),
                    metadata: Vec::new(),
                }),
            },
        ),
        1 => (
            prov(i, "jobSubmitted"),
            Facts::Job {
                id: hash(i, 0x10),
                owner: Address([(i % 200) as u8; 20]),
                escrow: Amount::from_mmt(5),
                spec: Some(JobSpec {
                    name: title(i),
                    max_price: Amount::from_mmt(5),
                    tasks: (0..3)
                        .map(|t| TaskSpec {
                            name: format!("step-{t}"),
                            program: cid.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
            },
        ),
        _ => {
            let job = hash(i - 1, 0x10);
            (
                prov(i, "resultAccepted"),
                Facts::Result {
                    job,
                    task: 0,
                    digest: hash(i, 0xe0),
                    providers: vec![Address([0xa1; 20]), Address([0xa2; 20])],
                    fuel: 1_000,
                    paid: Amount::from_mmt(1),
                    reward: Amount::ZERO,
                    bmci: None,
                    record: Some(ComputeResult {
                        job,
                        task: 0,
                        name: "step-0".into(),
                        program: cid.clone(),
                        inputs: vec![Output {
                            name: "in.json".into(),
                            cid: cid.clone(),
                            size: 10,
                        }],
                        result: RunResult {
                            outputs: vec![Output {
                                name: "out.json".into(),
                                cid,
                                size: 20,
                            }],
                            ..Default::default()
                        },
                        digest: hash(i, 0xe0),
                        providers: vec![Address([0xa1; 20]), Address([0xa2; 20])],
                        block: i / 50 + 1,
                    }),
                },
            )
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn time_query(
    kg: &Arc<KnowledgeGraph>,
    name: &'static str,
    q: &str,
    runs: usize,
) -> anyhow::Result<QueryRow> {
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let a = sparql::run(
            kg,
            &Request {
                query: q.into(),
                ..Default::default()
            },
            Formats::default(),
            Limits::default(),
        )?;
        anyhow::ensure!(a.rows > 0, "{name} found nothing");
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(QueryRow {
        query: name,
        runs,
        p50_ms: percentile(&ms, 0.5),
        p99_ms: percentile(&ms, 0.99),
    })
}

/// Blocks of data registrations sealed by one in-process node: (node, events, seconds).
/// Removes a bench directory when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chain_of_registrations(
    blocks: u64,
    per_block: u64,
) -> anyhow::Result<(Arc<NodeService>, u64, f64, Scratch)> {
    let dir = Scratch(super::tps::tempfile_dir()?);
    let suite = Suite::Sm;
    let signer = SecretKey::generate(suite)?;
    let user = SecretKey::generate(suite)?;
    let genesis = Genesis::dev(
        7_100,
        suite,
        1,
        1,
        vec![signer.public_key().address()],
        &[user.public_key().address()],
        Amount::from_mmt(100_000),
    );
    let gas_price = genesis.params.min_gas_price;
    let chain = Chain::open(&dir.0.join("chain.redb"), genesis, ChainDbConfig::default())?;
    let node = NodeService::new(chain, Some(signer), PoolConfig::default());
    let txs: Vec<Vec<u8>> = (0..blocks * per_block)
        .map(|i| {
            Transaction {
                chain_id: 7_100,
                nonce: i,
                gas_price,
                gas_limit: 200_000,
                action: DataAction::Register {
                    digest: hash(i, 0xd1),
                    size: 1_000,
                    cid: Vec::new(),
                    encrypted: false,
                    profile: String::new(),
                    title: title(i),
                    licence: "CC-BY-4.0".into(),
                    metadata: Vec::new(),
                }
                .into(),
            }
            .sign(&user)
            .map(|t| t.to_rlp())
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    for block in txs.chunks(per_block as usize) {
        for raw in block {
            node.submit(raw)?;
        }
        let now = node.with_chain(|c| c.head().timestamp + 1);
        let SealPlan::Seal { parent, .. } = node.plan(now, 0)? else {
            anyhow::bail!("the bench signer cannot seal");
        };
        node.seal(parent, now)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let view = node.chain_view();
    let mut events = 0;
    for n in 1..=view.head() {
        let hash = view
            .canonical(n)
            .map_err(anyhow::Error::msg)?
            .unwrap_or_default();
        events += view.block_events(&hash).map_err(anyhow::Error::msg)?.len() as u64;
    }
    Ok((node, events, seconds, dir))
}

pub fn run(ctx: &Context, triples: usize, runs: usize) -> anyhow::Result<ExitCode> {
    eprintln!("making records up to {triples} quads…");
    let mut changes = Vec::new();
    let (mut quads, mut i) = (0, 0u64);
    // Quads repeat across records (blocks, accounts): make a little more than asked.
    while quads < triples + triples / 20 {
        let (p, f) = record(i);
        let q = records::quads(&p, &f);
        quads += q.len();
        changes.push(Change::Put {
            graph: vocab::record_graph(&p.block, p.log_index),
            quads: q,
        });
        i += 1;
    }
    let records_made = changes.len();

    eprintln!("loading {quads} quads as the indexer does…");
    let kg = Arc::new(KnowledgeGraph::new()?);
    let start = Instant::now();
    for batch in changes.chunks(2_000) {
        kg.apply(batch, None)?;
    }
    let ours = start.elapsed().as_secs_f64();
    let stored = kg.len();

    let mut nquads = Vec::new();
    {
        let mut w = RdfSerializer::from_format(RdfFormat::NQuads).for_writer(&mut nquads);
        for c in &changes {
            if let Change::Put { quads, .. } = c {
                for q in quads {
                    w.serialize_quad(q)?;
                }
            }
        }
        w.finish()?;
    }
    drop(changes);
    eprintln!("the same quads through oxigraph's bulk loader…");
    let reference = oxigraph::store::Store::new()?;
    let start = Instant::now();
    let mut loader = reference.bulk_loader();
    loader.load_from_slice(RdfParser::from_format(RdfFormat::NQuads), &nquads)?;
    loader.commit()?;
    let bulk = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        reference.len()? == stored,
        "both stores hold the same quads"
    );
    drop(reference);

    let snapshot = Scratch(super::tps::tempfile_dir()?);
    let path = snapshot.0.join("snapshot.nq");
    kg.save(&path)?;
    let start = Instant::now();
    let reloaded = KnowledgeGraph::load(&path)?;
    let snapshot_load = start.elapsed().as_secs_f64();
    anyhow::ensure!(reloaded.len() == stored, "the snapshot reloads whole");
    drop(reloaded);

    eprintln!("timing lookups at {stored} quads…");
    let mid = (records_made as u64 / 2) / 3 * 3;
    let digest = format!("0x{}", hex::encode(hash(mid, 0xd0)));
    let result = vocab::result(&hash(mid + 1, 0x10), 0);
    let lookups: [(&'static str, String); 4] = [
        (
            "dataset by digest",
            format!("SELECT ?d ?title ?block WHERE {{ ?d mm:digest \"{digest}\" ; dct:title ?title . GRAPH ?g {{ ?d a dcat:Dataset }} ?g mm:block ?block }}"),
        ),
        (
            "result provenance",
            format!("SELECT ?input ?program ?provider ?number WHERE {{ <{}> prov:wasGeneratedBy ?task ; mm:acceptedIn ?b . ?task prov:used ?input ; mm:program ?program ; prov:wasAssociatedWith ?provider . ?b mm:number ?number }}", result.as_str()),
        ),
        (
            "tasks of a job",
            format!("SELECT ?task ?label WHERE {{ ?task dct:isPartOf <{}> ; rdfs:label ?label }}", vocab::job(&hash(mid + 1, 0x10)).as_str()),
        ),
        (
            "full text, top 10",
            "SELECT ?s ?score WHERE { SERVICE mm:search { ?s mm:matches \"boron carbide hardness\" ; mm:score ?score ; mm:limit 10 } }".into(),
        ),
    ];
    let mut rows = Vec::new();
    for (name, q) in &lookups {
        rows.push(time_query(&kg, name, q, runs)?);
    }
    drop(kg);

    eprintln!("sealing a chain of data registrations, then indexing it…");
    let (node, chain_events, chain_seconds, _dir) = chain_of_registrations(80, 250)?;
    let view = node.chain_view();
    let start = Instant::now();
    let mut ix = Indexer::open(&view, None)?;
    ix.catch_up(&view)?;
    let index_seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        ix.stats.events == chain_events,
        "the indexer saw every event"
    );

    let report = Report {
        records: records_made,
        quads: stored,
        indexer_quads_per_second: stored as f64 / ours,
        bulk_loader_quads_per_second: stored as f64 / bulk,
        snapshot_load_quads_per_second: stored as f64 / snapshot_load,
        queries: rows,
        chain_events,
        chain_events_per_second: chain_events as f64 / chain_seconds,
        indexer_events_per_second: chain_events as f64 / index_seconds,
    };
    ctx.out.emit(&report, || {
        let mut out = vec![
            format!("{} records, {} quads", report.records, report.quads),
            format!(
                "load: indexer path {:.0} quads/s, oxigraph bulk loader {:.0} quads/s ({:.2}×), snapshot reload {:.0} quads/s",
                report.indexer_quads_per_second,
                report.bulk_loader_quads_per_second,
                report.indexer_quads_per_second / report.bulk_loader_quads_per_second,
                report.snapshot_load_quads_per_second
            ),
        ];
        for r in &report.queries {
            out.push(format!(
                "  {:<20} p50 {:>8.3} ms  p99 {:>8.3} ms  ({} runs)",
                r.query, r.p50_ms, r.p99_ms, r.runs
            ));
        }
        out.push(format!(
            "chain: {} events sealed at {:.0} events/s; indexer {:.0} events/s ({:.1}×)",
            report.chain_events,
            report.chain_events_per_second,
            report.indexer_events_per_second,
            report.indexer_events_per_second / report.chain_events_per_second
        ));
        out.join("\n")
    });
    Ok(ExitCode::SUCCESS)
}
