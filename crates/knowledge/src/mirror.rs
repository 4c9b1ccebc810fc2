//! The graph mirrored into an external SPARQL 1.1 store through the Graph Store HTTP
//! Protocol (`--kg-store URL`, the store's graph endpoint: Virtuoso's `/sparql-graph-crud`),
//! for when users outgrow one node's memory.
//!
//! The mirror keeps the names of the graphs changed since they were last sent. Sending one is
//! idempotent — `PUT ?graph=G` with its current triples if the local graph has it, `DELETE
//! ?graph=G` if not — so the order of changes does not matter, a store that is down loses
//! nothing (the names wait), and after a restart every local graph is sent again along with
//! the names saved beside the snapshot (drops the store had not heard of).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use oxigraph::{
    io::{RdfFormat, RdfSerializer},
    model::{GraphNameRef, NamedNode, NamedOrBlankNode},
};

use crate::KnowledgeGraph;

/// A query parameter's value, percent-encoded.
pub fn encode_value(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Graphs one flush sends at most, and the time after which it starts no more, so indexing
/// goes on between flushes.
pub const FLUSH_GRAPHS: usize = 256;
const FLUSH_BUDGET: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(30);
/// After the store does not answer, or refuses a graph: the first wait, doubling to the last.
const BACKOFF: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(600);

pub struct Mirror {
    url: String,
    agent: ureq::Agent,
    dirty: BTreeSet<String>,
    /// Graphs the store refused: when to try each again, and how often it was refused.
    refused: BTreeMap<String, (Instant, u32)>,
    /// While the store does not answer: when to try again, and how many times it failed.
    down: Option<(Instant, u32)>,
    /// Where the unsent names are kept across restarts.
    saved: Option<PathBuf>,
}

fn backoff(times: u32) -> Duration {
    BACKOFF
        .saturating_mul(1 << times.saturating_sub(1).min(10))
        .min(BACKOFF_MAX)
}

impl Mirror {
    /// A mirror to the graph endpoint `url`, with every graph of `kg` (and the names left
    /// unsent at the last stop) to send.
    pub fn new(url: &str, kg: &KnowledgeGraph, saved: Option<&Path>) -> Result<Self, String> {
        // No TLS is built in (the node pulls no TLS stack): a store on another host sits
        // behind a local proxy or tunnel.
        if !url.starts_with("http://") || url.contains(['?', '#']) {
            return Err(format!(
                "--kg-store {url:?}: the store's Graph Store Protocol endpoint, http://HOST:PORT/PATH (Virtuoso: http://HOST:8890/sparql-graph-crud)"
            ));
        }
        let mut dirty: BTreeSet<String> = kg
            .store()
            .named_graphs()
            .filter_map(Result::ok)
            .filter_map(|g| match g {
                NamedOrBlankNode::NamedNode(n) => Some(n.into_string()),
                NamedOrBlankNode::BlankNode(_) => None,
            })
            .collect();
        if let Some(path) = saved
            && let Ok(text) = std::fs::read_to_string(path)
        {
            // A name that is no IRI (a damaged file) is dropped, not sent for ever.
            dirty.extend(
                text.lines()
                    .filter(|l| NamedNode::new(*l).is_ok())
                    .map(str::to_owned),
            );
        }
        let agent = ureq::Agent::new_with_config(
            ureq::config::Config::builder()
                .timeout_global(Some(TIMEOUT))
                .http_status_as_error(false)
                .build(),
        );
        Ok(Mirror {
            url: url.trim_end_matches('/').to_owned(),
            agent,
            dirty,
            refused: BTreeMap::new(),
            down: None,
            saved: saved.map(Path::to_path_buf),
        })
    }

    /// Graphs changed locally, to be sent.
    pub fn mark<'a>(&mut self, graphs: impl IntoIterator<Item = &'a NamedNode>) {
        self.dirty
            .extend(graphs.into_iter().map(|g| g.as_str().to_owned()));
    }

    /// How many graph names wait to be sent.
    pub fn pending(&self) -> usize {
        self.dirty.len()
    }

    /// Sends up to `max` waiting graphs (fewer once the flush has taken its time budget);
    /// how many went. A store that does not answer stops the flush and is tried again after a
    /// growing wait (the error returned once); a graph it refuses waits on its own, with a
    /// growing wait, and the others go on.
    pub fn flush(&mut self, kg: &KnowledgeGraph, max: usize) -> Result<usize, String> {
        let now = Instant::now();
        if self.down.is_some_and(|(at, _)| now < at) {
            return Ok(0);
        }
        let batch: Vec<String> = self
            .dirty
            .iter()
            .filter(|g| self.refused.get(*g).is_none_or(|(at, _)| now >= *at))
            .take(max)
            .cloned()
            .collect();
        let mut sent = 0;
        for g in batch {
            if now.elapsed() > FLUSH_BUDGET {
                break;
            }
            match self.send(kg, &g) {
                Ok(()) => {
                    self.dirty.remove(&g);
                    self.refused.remove(&g);
                    sent += 1;
                }
                Err(Failure::Refused(e)) => {
                    let times = self.refused.get(&g).map_or(1, |(_, n)| n + 1);
                    self.refused
                        .insert(g.clone(), (Instant::now() + backoff(times), times));
                    tracing::warn!(%e, graph = %g, "the knowledge store refused a graph");
                }
                Err(Failure::Down(e)) => {
                    let times = self.down.map_or(1, |(_, n)| n + 1);
                    self.down = Some((Instant::now() + backoff(times), times));
                    return if times == 1 { Err(e) } else { Ok(sent) };
                }
            }
        }
        if self.down.take().is_some() {
            tracing::info!(url = %self.url, "the knowledge store answers again");
        }
        Ok(sent)
    }

    fn send(&self, kg: &KnowledgeGraph, graph: &str) -> Result<(), Failure> {
        let target = format!("{}?graph={}", self.url, encode_value(graph));
        let node =
            NamedNode::new(graph).map_err(|e| Failure::Refused(format!("graph {graph}: {e}")))?;
        let put = kg.contains_graph(&node);
        let response = if put {
            let body = triples(kg, &node).map_err(Failure::Refused)?;
            self.agent
                .put(&target)
                .header("Content-Type", "application/n-triples")
                .send(&body[..])
        } else {
            self.agent.delete(&target).call()
        };
        let mut response =
            response.map_err(|e| Failure::Down(format!("the knowledge store at {target}: {e}")))?;
        let status = response.status().as_u16();
        // Deleting a graph the store never had is done; a PUT must land.
        if (200..300).contains(&status) || (!put && status == 404) {
            return Ok(());
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let why = format!(
            "the knowledge store refused graph {graph} ({status}): {}",
            body.chars().take(300).collect::<String>()
        );
        // Unavailable is the store's state, not the graph's.
        Err(if status == 503 {
            Failure::Down(why)
        } else {
            Failure::Refused(why)
        })
    }

    /// Keeps the unsent names beside the snapshot (atomically).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.saved else {
            return Ok(());
        };
        let tmp = path.with_extension("tmp");
        let mut text = String::new();
        for g in &self.dirty {
            text.push_str(g);
            text.push('\n');
        }
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

enum Failure {
    /// The store did not answer (or failed itself): stop, try later.
    Down(String),
    /// It answered, refusing this graph.
    Refused(String),
}

/// The graph's triples as N-Triples.
fn triples(kg: &KnowledgeGraph, graph: &NamedNode) -> Result<Vec<u8>, String> {
    let mut w = RdfSerializer::from_format(RdfFormat::NTriples).for_writer(Vec::new());
    for q in kg.store().quads_for_pattern(
        None,
        None,
        None,
        Some(GraphNameRef::NamedNode(graph.as_ref())),
    ) {
        let q = q.map_err(|e| e.to_string())?;
        w.serialize_triple(q.as_ref()).map_err(|e| e.to_string())?;
    }
    w.finish().map_err(|e| e.to_string())
}
