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
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
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

/// Graphs one flush sends at most, so indexing goes on between flushes.
pub const FLUSH_GRAPHS: usize = 256;
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Mirror {
    url: String,
    dirty: BTreeSet<String>,
    /// Where the unsent names are kept across restarts.
    saved: Option<PathBuf>,
    /// Whether the last flush failed (so a store that stays down is reported once).
    failing: bool,
}

impl Mirror {
    /// A mirror to the graph endpoint `url`, with every graph of `kg` (and the names left
    /// unsent at the last stop) to send.
    pub fn new(url: &str, kg: &KnowledgeGraph, saved: Option<&Path>) -> Result<Self, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(['?', '#'])
        {
            return Err(format!(
                "--kg-store {url:?}: the store's Graph Store Protocol endpoint, http(s)://HOST/PATH (Virtuoso: http://HOST:8890/sparql-graph-crud)"
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
            dirty.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
        Ok(Mirror {
            url: url.trim_end_matches('/').to_owned(),
            dirty,
            saved: saved.map(Path::to_path_buf),
            failing: false,
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

    /// Sends up to `max` waiting graphs; how many went. A graph the store refuses stays
    /// waiting, and the error is returned once until a flush succeeds again.
    pub fn flush(&mut self, kg: &KnowledgeGraph, max: usize) -> Result<usize, String> {
        let batch: Vec<String> = self.dirty.iter().take(max).cloned().collect();
        let mut sent = 0;
        for g in batch {
            match self.send(kg, &g) {
                Ok(()) => {
                    self.dirty.remove(&g);
                    sent += 1;
                }
                Err(e) => {
                    let first = !self.failing;
                    self.failing = true;
                    return if first { Err(e) } else { Ok(sent) };
                }
            }
        }
        if self.failing {
            tracing::info!(url = %self.url, "the knowledge store answers again");
        }
        self.failing = false;
        Ok(sent)
    }

    fn send(&self, kg: &KnowledgeGraph, graph: &str) -> Result<(), String> {
        let target = format!("{}?graph={}", self.url, encode_value(graph));
        let node = NamedNode::new(graph).map_err(|e| format!("graph {graph}: {e}"))?;
        let agent = ureq::Agent::new_with_config(
            ureq::config::Config::builder()
                .timeout_global(Some(TIMEOUT))
                .http_status_as_error(false)
                .build(),
        );
        let response = if kg.contains_graph(&node) {
            let body = triples(kg, &node)?;
            agent
                .put(&target)
                .header("Content-Type", "application/n-triples")
                .send(&body[..])
        } else {
            agent.delete(&target).call()
        };
        let mut response = response.map_err(|e| format!("the knowledge store at {target}: {e}"))?;
        let status = response.status().as_u16();
        // A graph the store never had is deleted already.
        if (200..300).contains(&status) || status == 404 {
            return Ok(());
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Err(format!(
            "the knowledge store refused graph {graph} ({status}): {}",
            body.chars().take(300).collect::<String>()
        ))
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
