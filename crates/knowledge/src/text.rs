//! Full-text search over the graph's words (titles, descriptions, names, labels, keywords):
//! one tantivy document per (graph, subject), in RAM. It is derived data — rebuilt from the
//! graph when a snapshot loads — so it never needs its own persistence or recovery.

use std::sync::Mutex;

use oxigraph::model::{NamedNode, Quad, Term};
use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term as TextTerm,
    collector::TopDocs,
    doc,
    query::QueryParser,
    schema::{STORED, STRING, Schema, TEXT, Value as _},
};

use crate::vocab::{DCT, RDFS, SCHEMA, term};

/// The predicates whose literals are searchable words.
pub fn text_predicates() -> Vec<NamedNode> {
    vec![
        term(DCT, "title"),
        term(DCT, "description"),
        term(DCT, "abstract"),
        term(SCHEMA, "name"),
        term(SCHEMA, "description"),
        term(SCHEMA, "keywords"),
        term(RDFS, "label"),
        term(RDFS, "comment"),
    ]
}

/// One search hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub subject: String,
    pub graph: String,
    pub score: f32,
    pub text: String,
}

pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    graph: tantivy::schema::Field,
    subject: tantivy::schema::Field,
    body: tantivy::schema::Field,
    predicates: Vec<NamedNode>,
}

#[derive(Debug, thiserror::Error)]
#[error("full-text index: {0}")]
pub struct TextError(String);

fn err(e: impl std::fmt::Display) -> TextError {
    TextError(e.to_string())
}

impl TextIndex {
    pub fn new() -> Result<Self, TextError> {
        let mut schema = Schema::builder();
        let graph = schema.add_text_field("graph", STRING | STORED);
        let subject = schema.add_text_field("subject", STRING | STORED);
        let body = schema.add_text_field("body", TEXT | STORED);
        let index = Index::create_in_ram(schema.build());
        // One indexing thread: the node has other work, and batches are small.
        let writer = index.writer_with_num_threads(1, 20_000_000).map_err(err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok(TextIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            graph,
            subject,
            body,
            predicates: text_predicates(),
        })
    }

    /// Documents of the searchable literals of `quads`, one per (graph, subject).
    fn documents(&self, quads: &[Quad]) -> Vec<(String, String, String)> {
        let mut docs: std::collections::BTreeMap<(String, String), String> = Default::default();
        for q in quads {
            let Term::Literal(l) = &q.object else {
                continue;
            };
            if !self.predicates.contains(&q.predicate) {
                continue;
            }
            let key = (q.graph_name.to_string(), subject_text(&q.subject));
            let text = docs.entry(key).or_default();
            if !text.is_empty() {
                text.push_str(" · ");
            }
            text.push_str(l.value());
        }
        docs.into_iter().map(|((g, s), t)| (g, s, t)).collect()
    }

    /// Indexes the words of `added` and forgets the graphs in `removed`, visible to searches
    /// once it returns.
    pub fn apply(&self, removed: &[NamedNode], added: &[Quad]) -> Result<(), TextError> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        for g in removed {
            writer.delete_term(TextTerm::from_field_text(
                self.graph,
                &format!("<{}>", g.as_str()),
            ));
        }
        for (graph, subject, text) in self.documents(added) {
            writer
                .add_document(doc!(self.graph => graph, self.subject => subject, self.body => text))
                .map_err(err)?;
        }
        writer.commit().map_err(err)?;
        self.reader.reload().map_err(err)
    }

    /// The best `limit` matches of free text (words, phrases in quotes, `+must -not`); text
    /// that is not a well-formed query is searched as well as it can be, never refused.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<Hit>, TextError> {
        let parser = QueryParser::for_index(&self.index, vec![self.body]);
        let (query, _) = parser.parse_query_lenient(text);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())
            .map_err(err)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let d: TantivyDocument = searcher.doc(address).map_err(err)?;
            let field = |f| {
                d.get_first(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            hits.push(Hit {
                subject: unbracket(&field(self.subject)),
                graph: unbracket(&field(self.graph)),
                score,
                text: field(self.body),
            });
        }
        Ok(hits)
    }

    /// Documents indexed (for status and tests).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn subject_text(s: &oxigraph::model::NamedOrBlankNode) -> String {
    s.to_string()
}

fn unbracket(s: &str) -> String {
    s.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s)
        .to_owned()
}
