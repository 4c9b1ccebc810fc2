//! SPARQL 1.1 queries over the graph with the limits a shared endpoint needs: a time limit
//! that cancels evaluation (not merely stops waiting for it), and a result-size limit in rows
//! and bytes. Results in the four SPARQL result formats, graphs (CONSTRUCT, DESCRIBE) in
//! Turtle, N-Triples or RDF/XML. No SERVICE reaches the network: the only service is the
//! full-text search, `SERVICE mm:search { ?s mm:matches "words" ; mm:score ?score }`.
//!
//! The time limit is checked as evaluation reads the store; a join of parts that share no
//! variable (which would grow in memory without reading it) is refused up front (`guard`).
//!
//! Without a dataset in the query or the request, the default graph is the union of all the
//! graphs — chain records', BMCI's seed and knowledge bases' — so `SELECT * { ?s ?p ?o }` sees
//! everything and `GRAPH ?g { … }` names the graph a triple came from (a chain record's is
//! `urn:metamesh:graph:0x…`, which only the indexer writes).

use std::{
    sync::{Arc, mpsc},
    time::Duration,
};

use oxigraph::{
    io::{RdfFormat, RdfSerializer},
    model::{GraphName, NamedNode, NamedOrBlankNode},
    sparql::{
        CancellationToken, QueryEvaluationError, QueryResults, SparqlEvaluator,
        results::{QueryResultsFormat, QueryResultsSerializer},
    },
};

use crate::{KnowledgeGraph, search::SearchService, vocab};

/// The longest query text taken.
pub const MAX_QUERY_BYTES: usize = 256 << 10;

/// Refuses every SERVICE but the search (which has its own handler).
struct NoService;

#[derive(Debug, thiserror::Error)]
#[error("SERVICE {0} is not offered here (the only service is mm:search)")]
struct NoSuchService(String);

impl oxigraph::sparql::DefaultServiceHandler for NoService {
    type Error = NoSuchService;

    fn handle(
        &self,
        service_name: &NamedNode,
        _pattern: &spargebra::algebra::GraphPattern,
        _base_iri: Option<&oxiri::Iri<String>>,
    ) -> Result<oxigraph::sparql::QuerySolutionIter<'static>, NoSuchService> {
        Err(NoSuchService(format!("<{}>", service_name.as_str())))
    }
}

/// What one query may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Duration,
    pub max_rows: usize,
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            max_rows: 100_000,
            max_bytes: 32 << 20,
        }
    }
}

/// A query as the SPARQL Protocol carries it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub query: String,
    /// `default-graph-uri` parameters.
    pub default_graphs: Vec<String>,
    /// `named-graph-uri` parameters.
    pub named_graphs: Vec<String>,
}

/// A serialized answer.
#[derive(Debug)]
pub struct Answer {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Rows (or triples) in it.
    pub rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SparqlError {
    /// The request is wrong: a syntax error, a bad graph IRI, an unknown service or argument.
    #[error("{0}")]
    Bad(String),
    #[error(
        "no result format for `{0}` (results: application/sparql-results+json, +xml, text/csv, text/tab-separated-values; graphs: text/turtle, application/n-triples, application/rdf+xml)"
    )]
    NotAcceptable(String),
    #[error("the query ran past its time limit of {0:?} and was cancelled")]
    Timeout(Duration),
    #[error("the answer is over the limit of {0}: narrow the query or add a LIMIT")]
    TooLarge(String),
    #[error("evaluating the query: {0}")]
    Internal(String),
}

impl SparqlError {
    /// The HTTP status the protocol answers with.
    pub fn status(&self) -> u16 {
        match self {
            SparqlError::Bad(_) | SparqlError::TooLarge(_) => 400,
            SparqlError::NotAcceptable(_) => 406,
            SparqlError::Timeout(_) => 503,
            SparqlError::Internal(_) => 500,
        }
    }
}

/// What the client asked for, from `Accept` or a `format` parameter (`json`, `xml`, `csv`,
/// `tsv`, `turtle`, `ntriples`, `rdfxml`, or a media type).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Formats {
    results: Option<QueryResultsFormat>,
    graph: Option<RdfFormat>,
    /// Asked for by name: a query whose answer has no such form is refused, not answered
    /// in a default one.
    explicit: bool,
}

impl Formats {
    pub fn negotiate(accept: Option<&str>, format: Option<&str>) -> Result<Self, SparqlError> {
        if let Some(f) = format {
            let results = match f {
                "json" => Some(QueryResultsFormat::Json),
                "xml" => Some(QueryResultsFormat::Xml),
                "csv" => Some(QueryResultsFormat::Csv),
                "tsv" => Some(QueryResultsFormat::Tsv),
                m => QueryResultsFormat::from_media_type(m),
            };
            let graph = match f {
                "turtle" | "ttl" => Some(RdfFormat::Turtle),
                "ntriples" | "nt" => Some(RdfFormat::NTriples),
                "rdfxml" | "xml" => Some(RdfFormat::RdfXml),
                m => RdfFormat::from_media_type(m),
            };
            if results.is_none() && graph.is_none() {
                return Err(SparqlError::NotAcceptable(f.to_owned()));
            }
            return Ok(Formats {
                results,
                graph,
                explicit: true,
            });
        }
        let Some(accept) = accept else {
            return Ok(Formats::default());
        };
        let mut out = Formats::default();
        let mut any = false;
        // By q-value, highest first; equal ones in the client's order.
        let mut items: Vec<(f32, &str)> = accept
            .split(',')
            .map(|item| {
                let mut parts = item.split(';');
                let media = parts.next().unwrap_or("").trim();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q, media)
            })
            .filter(|(q, _)| *q > 0.0)
            .collect();
        items.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, media) in items {
            match media {
                "*/*" | "application/*" | "text/*" => any = true,
                m => {
                    if out.results.is_none() {
                        out.results = QueryResultsFormat::from_media_type(m);
                    }
                    if out.graph.is_none() {
                        out.graph = match m {
                            "text/turtle" => Some(RdfFormat::Turtle),
                            "application/n-triples" | "text/plain" => Some(RdfFormat::NTriples),
                            "application/rdf+xml" => Some(RdfFormat::RdfXml),
                            _ => None,
                        };
                    }
                }
            }
        }
        if out.results.is_none() && out.graph.is_none() && !any {
            return Err(SparqlError::NotAcceptable(accept.to_owned()));
        }
        Ok(out)
    }
}

fn graph_iri(iri: &str, what: &str) -> Result<NamedNode, SparqlError> {
    NamedNode::new(iri).map_err(|e| SparqlError::Bad(format!("{what} `{iri}`: {e}")))
}

fn evaluation(e: QueryEvaluationError, limit: Duration) -> SparqlError {
    match e {
        QueryEvaluationError::Cancelled => SparqlError::Timeout(limit),
        QueryEvaluationError::Service(e) => SparqlError::Bad(format!("SERVICE: {e}")),
        QueryEvaluationError::UnsupportedService(s) => SparqlError::Bad(format!(
            "SERVICE {s} is not offered here (the only service is {})",
            vocab::search_service()
        )),
        e @ QueryEvaluationError::Dataset(_) => SparqlError::Internal(e.to_string()),
        e => SparqlError::Bad(e.to_string()),
    }
}

/// Cancels `token` when `limit` passes, unless dropped first.
struct Deadline(Option<mpsc::Sender<()>>);

impl Deadline {
    fn start(token: CancellationToken, limit: Duration) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        let watch = token.clone();
        let spawned = std::thread::Builder::new()
            .name("sparql-deadline".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                    watch.cancel();
                }
            });
        if spawned.is_err() {
            // No thread to keep time: a query nobody can stop does not start.
            token.cancel();
        }
        Deadline(Some(tx))
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Counts what is written so an answer stops at its byte limit.
struct Capped {
    out: Vec<u8>,
    max: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.max {
            return Err(std::io::Error::other("byte limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs one query (blocking: call it off the async runtime).
pub fn run(
    kg: &Arc<KnowledgeGraph>,
    request: &Request,
    formats: Formats,
    limits: Limits,
) -> Result<Answer, SparqlError> {
    if request.query.len() > MAX_QUERY_BYTES {
        return Err(SparqlError::Bad(format!(
            "the query is {} bytes; at most {MAX_QUERY_BYTES} are taken",
            request.query.len()
        )));
    }
    crate::budget::depth(&request.query).map_err(SparqlError::Bad)?;
    let mut parser = spargebra::SparqlParser::new();
    for (p, ns) in vocab::PREFIXES {
        parser = parser
            .with_prefix(*p, *ns)
            .map_err(|e| SparqlError::Internal(e.to_string()))?;
    }
    let query = parser
        .parse_query(&request.query)
        .map_err(|e| SparqlError::Bad(format!("SPARQL syntax: {e}")))?;
    crate::guard::check(&query).map_err(SparqlError::Bad)?;
    let token = CancellationToken::new();
    let mut prepared = SparqlEvaluator::new()
        .with_cancellation_token(token.clone())
        .with_service_handler(vocab::search_service(), SearchService::new(kg.clone()))
        // Whatever features the build has, no other SERVICE reaches anywhere.
        .with_default_service_handler(NoService)
        .for_query(query);
    let dataset = prepared.dataset_mut();
    if !request.default_graphs.is_empty() || !request.named_graphs.is_empty() {
        let default = request
            .default_graphs
            .iter()
            .map(|g| graph_iri(g, "default-graph-uri").map(GraphName::from))
            .collect::<Result<Vec<_>, _>>()?;
        let named = request
            .named_graphs
            .iter()
            .map(|g| graph_iri(g, "named-graph-uri").map(NamedOrBlankNode::from))
            .collect::<Result<Vec<_>, _>>()?;
        dataset.set_default_graph(default);
        dataset.set_available_named_graphs(named);
    } else if dataset.is_default_dataset() {
        dataset.set_default_graph_as_union();
    }
    let _deadline = Deadline::start(token, limits.timeout);
    let results = prepared
        .on_store(kg.store())
        .execute()
        .map_err(|e| evaluation(e, limits.timeout))?;
    serialize(results, formats, limits)
}

fn serialize(
    results: QueryResults<'_>,
    formats: Formats,
    limits: Limits,
) -> Result<Answer, SparqlError> {
    let out = Capped {
        out: Vec::new(),
        max: limits.max_bytes,
    };
    let too_big = || SparqlError::TooLarge(format!("{} bytes", limits.max_bytes));
    let io = |e: std::io::Error| {
        if e.to_string() == "byte limit" {
            too_big()
        } else {
            SparqlError::Internal(e.to_string())
        }
    };
    let mut rows = 0;
    let results_format = formats.results.unwrap_or(QueryResultsFormat::Json);
    let unfit = |what: &str| SparqlError::NotAcceptable(format!("{what} in the format asked for"));
    match &results {
        QueryResults::Graph(_) if formats.explicit && formats.graph.is_none() => {
            return Err(unfit("a graph (CONSTRUCT or DESCRIBE)"));
        }
        QueryResults::Solutions(_) | QueryResults::Boolean(_)
            if formats.explicit && formats.results.is_none() =>
        {
            return Err(unfit("query results (SELECT or ASK)"));
        }
        _ => {}
    }
    let (content_type, body) = match results {
        QueryResults::Boolean(b) => {
            rows = 1;
            let ser = QueryResultsSerializer::from_format(results_format);
            (
                results_format.media_type(),
                ser.serialize_boolean_to_writer(out, b).map_err(io)?,
            )
        }
        QueryResults::Solutions(solutions) => {
            let mut w = QueryResultsSerializer::from_format(results_format)
                .serialize_solutions_to_writer(out, solutions.variables().to_vec())
                .map_err(io)?;
            for s in solutions {
                let s = s.map_err(|e| evaluation(e, limits.timeout))?;
                rows += 1;
                if rows > limits.max_rows {
                    return Err(SparqlError::TooLarge(format!("{} rows", limits.max_rows)));
                }
                w.serialize(&s).map_err(io)?;
            }
            (results_format.media_type(), w.finish().map_err(io)?)
        }
        QueryResults::Graph(triples) => {
            let format = formats.graph.unwrap_or(RdfFormat::Turtle);
            let mut w = RdfSerializer::from_format(format);
            for (p, ns) in vocab::PREFIXES {
                w = w
                    .with_prefix(*p, *ns)
                    .map_err(|e| SparqlError::Internal(e.to_string()))?;
            }
            let mut w = w.for_writer(out);
            for t in triples {
                let t = t.map_err(|e| evaluation(e, limits.timeout))?;
                rows += 1;
                if rows > limits.max_rows {
                    return Err(SparqlError::TooLarge(format!(
                        "{} triples",
                        limits.max_rows
                    )));
                }
                w.serialize_triple(&t).map_err(io)?;
            }
            (format.media_type(), w.finish().map_err(io)?)
        }
    };
    Ok(Answer {
        content_type,
        body: body.out,
        rows,
    })
}
