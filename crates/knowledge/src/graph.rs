//! The knowledge graph: an in-memory oxigraph store of named graphs, the full-text index over
//! it, and how far into the chain it has got (the indexer's cursor). Persisted as one N-Quads
//! file whose first line holds the cursor, replaced atomically, so a crash at any instant
//! leaves either the old snapshot or the new one — and the chain's events since the cursor
//! replay the rest.

use std::{
    fs,
    io::{BufRead as _, BufReader, BufWriter, Write as _},
    path::Path,
    sync::Mutex,
};

use metamesh_node::Cursor;
use oxigraph::{
    io::{RdfFormat, RdfParser, RdfSerializer},
    model::{GraphName, GraphNameRef, NamedNode, NamedOrBlankNode, Quad},
    store::Store,
};

use crate::text::{TextError, TextIndex};

/// The first line of a snapshot: `# metamesh-kg 1 cursor=N-HASH-I` (or `cursor=genesis`).
const MAGIC: &str = "# metamesh-kg 1 cursor=";

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("graph store: {0}")]
    Store(String),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error("snapshot {path}: {reason}")]
    Snapshot { path: String, reason: String },
}

fn store_err(e: impl std::fmt::Display) -> GraphError {
    GraphError::Store(e.to_string())
}

/// One change to the graph: a record's graph written whole, or taken back.
#[derive(Clone, Debug)]
pub enum Change {
    Put { graph: NamedNode, quads: Vec<Quad> },
    Drop { graph: NamedNode },
}

pub struct KnowledgeGraph {
    store: Store,
    text: TextIndex,
    /// After the last applied event (`None`: nothing applied yet).
    cursor: Mutex<Option<Cursor>>,
}

impl KnowledgeGraph {
    pub fn new() -> Result<Self, GraphError> {
        Ok(KnowledgeGraph {
            store: Store::new().map_err(store_err)?,
            text: TextIndex::new()?,
            cursor: Mutex::new(None),
        })
    }

    /// The store (queries read a consistent snapshot of it while the indexer writes).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn text(&self) -> &TextIndex {
        &self.text
    }

    pub fn cursor(&self) -> Option<Cursor> {
        *self.cursor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `changes` in one store transaction, then records `cursor`.
    pub fn apply(&self, changes: &[Change], cursor: Option<Cursor>) -> Result<(), GraphError> {
        let mut txn = self.store.start_transaction().map_err(store_err)?;
        let mut dropped = Vec::new();
        let mut added = Vec::new();
        for c in changes {
            match c {
                Change::Put { graph, quads } => {
                    // A graph is written once; writing it again replaces it (replay after a
                    // snapshot that already had it).
                    txn.remove_named_graph(graph).map_err(store_err)?;
                    dropped.push(graph.clone());
                    txn.insert_named_graph(graph);
                    txn.extend(quads);
                    added.extend(quads.iter().cloned());
                }
                Change::Drop { graph } => {
                    txn.remove_named_graph(graph).map_err(store_err)?;
                    dropped.push(graph.clone());
                    let name = GraphName::NamedNode(graph.clone());
                    added.retain(|q: &Quad| q.graph_name != name);
                }
            }
        }
        txn.commit().map_err(store_err)?;
        self.text.apply(&dropped, &added)?;
        if cursor.is_some() {
            *self.cursor.lock().unwrap_or_else(|p| p.into_inner()) = cursor;
        }
        Ok(())
    }

    /// Quads in all graphs.
    pub fn len(&self) -> usize {
        self.store.len().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn graphs(&self) -> usize {
        self.store.named_graphs().count()
    }

    /// Graphs of chain records (`urn:metamesh:graph:0x…`), the seed's and others' left out.
    pub fn record_graphs(&self) -> usize {
        self.store
            .named_graphs()
            .filter_map(Result::ok)
            .filter(|g| g.to_string().starts_with("<urn:metamesh:graph:0x"))
            .count()
    }

    pub fn contains_graph(&self, graph: &NamedNode) -> bool {
        self.store
            .contains_named_graph(NamedOrBlankNode::from(graph.clone()).as_ref())
            .unwrap_or(false)
    }

    /// Writes the whole graph and its cursor to `path`, atomically (temporary file, fsync,
    /// rename, fsync of the directory).
    pub fn save(&self, path: &Path) -> Result<(), GraphError> {
        let bad = |e: std::io::Error| GraphError::Snapshot {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let cursor = self.cursor();
        let tmp = path.with_extension("nq.tmp");
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(bad)?;
        }
        let file = fs::File::create(&tmp).map_err(bad)?;
        let mut w = BufWriter::new(file);
        let c = cursor.map_or("genesis".to_owned(), |c| c.to_string());
        writeln!(w, "{MAGIC}{c}").map_err(bad)?;
        let w = self
            .store
            .dump_to_writer(RdfSerializer::from_format(RdfFormat::NQuads), w)
            .map_err(|e| GraphError::Snapshot {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        let file = w.into_inner().map_err(|e| bad(e.into_error()))?;
        file.sync_all().map_err(bad)?;
        drop(file);
        fs::rename(&tmp, path).map_err(bad)?;
        if let Some(dir) = path.parent()
            && let Ok(d) = fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// A graph from a snapshot `save` wrote, its full-text index rebuilt.
    pub fn load(path: &Path) -> Result<Self, GraphError> {
        let bad = |reason: String| GraphError::Snapshot {
            path: path.display().to_string(),
            reason,
        };
        let file = fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let mut reader = BufReader::new(file);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| bad(e.to_string()))?;
        let c = first
            .trim_end()
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a knowledge-graph snapshot (no cursor line)".into()))?;
        let cursor = match c {
            "genesis" => None,
            c => Some(c.parse::<Cursor>().map_err(bad)?),
        };
        let kg = KnowledgeGraph::new()?;
        let mut loader = kg.store.bulk_loader();
        loader
            .load_from_reader(RdfParser::from_format(RdfFormat::NQuads), reader)
            .map_err(|e| bad(e.to_string()))?;
        loader.commit().map_err(|e| bad(e.to_string()))?;
        let mut quads = Vec::new();
        for p in crate::text::text_predicates() {
            quads.extend(
                kg.store
                    .quads_for_pattern(None, Some(p.as_ref()), None, None)
                    .filter_map(Result::ok)
                    .filter(|q| q.graph_name != GraphNameRef::DefaultGraph.into_owned()),
            );
        }
        kg.text.apply(&[], &quads)?;
        *kg.cursor.lock().unwrap_or_else(|p| p.into_inner()) = cursor;
        Ok(kg)
    }
}
