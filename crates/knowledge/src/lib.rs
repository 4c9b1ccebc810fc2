//! The knowledge graph: chain records as RDF named graphs (PROV-O, DCAT, schema.org, BIBO,
//! FaBiO, QUDT), kept current by an indexer that follows the chain's events, queried through
//! SPARQL 1.1 with full-text search as a SERVICE. See the README for what it must not do.

pub mod bases;
pub mod bmci;
mod budget;
pub mod extract;
pub mod graph;
mod guard;
pub mod indexer;
pub mod mirror;
pub mod optimade;
pub mod read;
pub mod records;
mod search;
pub mod sparql;
pub mod text;
pub mod vocab;

/// The RDF toolkit the graph is made of, for callers that read or write its quads.
pub use oxigraph;

pub use graph::{Change, GraphError, KnowledgeGraph};
pub use indexer::{IndexError, IndexStats, Indexer, run_indexer};
pub use records::{Facts, Provenance};
pub use sparql::{Answer, Formats, Limits, Request, SparqlError};
pub use text::Hit;
