//! `/sparql`: the SPARQL 1.1 Protocol over the node's knowledge graph (read-only).
//!
//! * `GET /sparql?query=…` and `POST /sparql` with `application/x-www-form-urlencoded`
//!   (`query=…`) or `application/sparql-query` (the query is the body); `default-graph-uri`
//!   and `named-graph-uri` as the protocol says, `format=json|xml|csv|tsv|turtle|…` beside
//!   `Accept`.
//! * `GET /sparql` without a query: the service description (Turtle).
//! * Errors: 400 with the reason (syntax, an unknown SERVICE, an answer over the size limit,
//!   an update — this endpoint does not take one), 406 for a format it cannot write, 503 when
//!   the query ran past its time limit (it is cancelled, not left running) or the endpoint is
//!   busy; 404 when the node runs without a knowledge graph.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use metamesh_knowledge::{Formats, KnowledgeGraph, Limits, Request, SparqlError};
use tokio::sync::Semaphore;

use crate::server::Shared;

/// The knowledge graph a node serves, with its query limits.
#[derive(Clone)]
pub struct Knowledge {
    pub graph: Arc<KnowledgeGraph>,
    pub limits: Limits,
    /// BMCI's entries, served at `/optimade`.
    pub optimade: Arc<metamesh_knowledge::optimade::Bmci>,
    /// Queries evaluated at once; more wait up to a second, then get 503.
    pub(crate) slots: Arc<Semaphore>,
}

impl Knowledge {
    pub fn new(
        graph: Arc<KnowledgeGraph>,
        optimade: Arc<metamesh_knowledge::optimade::Bmci>,
        limits: Limits,
    ) -> Self {
        Knowledge {
            graph,
            limits,
            optimade,
            slots: Arc::new(Semaphore::new(4)),
        }
    }
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        message.into() + "\n",
    )
        .into_response()
}

fn refuse(e: &SparqlError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    text(status, e.to_string())
}

/// The protocol's parameters, from a URL query or a form body.
#[derive(Default)]
struct Params {
    query: Option<String>,
    update: bool,
    format: Option<String>,
    default_graphs: Vec<String>,
    named_graphs: Vec<String>,
}

fn params(encoded: &[u8], into: &mut Params) -> Result<(), String> {
    for (k, v) in form_urlencoded::parse(encoded) {
        match &*k {
            "query" if into.query.is_some() => {
                return Err("more than one query parameter".into());
            }
            "query" => into.query = Some(v.into_owned()),
            "update" | "using-graph-uri" | "using-named-graph-uri" => into.update = true,
            "format" | "output" => into.format = Some(v.into_owned()),
            "default-graph-uri" => into.default_graphs.push(v.into_owned()),
            "named-graph-uri" => into.named_graphs.push(v.into_owned()),
            // Clients add their own (cache busters, timeouts): ignore what is not ours.
            _ => {}
        }
    }
    Ok(())
}

const DESCRIPTION: &str = "@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
[] a sd:Service ;
  sd:endpoint <> ;
  sd:supportedLanguage sd:SPARQL11Query ;
  sd:resultFormat <http://www.w3.org/ns/formats/SPARQL_Results_JSON>, <http://www.w3.org/ns/formats/SPARQL_Results_XML>, <http://www.w3.org/ns/formats/SPARQL_Results_CSV>, <http://www.w3.org/ns/formats/SPARQL_Results_TSV>, <http://www.w3.org/ns/formats/Turtle>, <http://www.w3.org/ns/formats/N-Triples>, <http://www.w3.org/ns/formats/RDF_XML> ;
  sd:feature sd:UnionDefaultGraph ;
  sd:defaultEntailmentRegime <http://www.w3.org/ns/entailment/Simple> .
";

pub(crate) async fn get(
    State(shared): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut p = Params::default();
    if let Err(e) = params(raw.unwrap_or_default().as_bytes(), &mut p) {
        return text(StatusCode::BAD_REQUEST, e);
    }
    if p.query.is_none() && !p.update {
        return ([("content-type", "text/turtle")], DESCRIPTION).into_response();
    }
    answer(&shared, &headers, p).await
}

pub(crate) async fn post(
    State(shared): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let mut p = Params::default();
    if let Err(e) = params(raw.unwrap_or_default().as_bytes(), &mut p) {
        return text(StatusCode::BAD_REQUEST, e);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    match content_type {
        "application/x-www-form-urlencoded" => {
            if let Err(e) = params(&body, &mut p) {
                return text(StatusCode::BAD_REQUEST, e);
            }
        }
        "application/sparql-query" => match String::from_utf8(body.to_vec()) {
            Ok(q) if p.query.is_none() => p.query = Some(q),
            Ok(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "a query both in the URL and the body",
                );
            }
            Err(_) => return text(StatusCode::BAD_REQUEST, "the query is not UTF-8"),
        },
        "application/sparql-update" => p.update = true,
        other => {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type `{other}`: send application/x-www-form-urlencoded or application/sparql-query"
                ),
            );
        }
    }
    answer(&shared, &headers, p).await
}

async fn answer(shared: &Shared, headers: &HeaderMap, p: Params) -> Response {
    let Some(k) = shared.config.knowledge.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this node runs without a knowledge graph",
        );
    };
    if p.update {
        return text(
            StatusCode::BAD_REQUEST,
            "this endpoint is read-only: the graph changes only by chain transactions",
        );
    }
    let Some(query) = p.query else {
        return text(StatusCode::BAD_REQUEST, "no query parameter");
    };
    let accept = headers.get("accept").and_then(|v| v.to_str().ok());
    let formats = match Formats::negotiate(accept, p.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return refuse(&e),
    };
    let Ok(Ok(permit)) =
        tokio::time::timeout(Duration::from_secs(1), k.slots.clone().acquire_owned()).await
    else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the SPARQL endpoint is busy: try again",
        );
    };
    let request = Request {
        query,
        default_graphs: p.default_graphs,
        named_graphs: p.named_graphs,
    };
    let limits = k.limits;
    let work = tokio::task::spawn_blocking(move || {
        // The slot is held until evaluation really stops, so runaway work cannot pile up.
        let _permit = permit;
        metamesh_knowledge::sparql::run(&k.graph, &request, formats, k.limits)
    });
    // Evaluation is cancelled at its limit; the answer does not wait for it to notice.
    match tokio::time::timeout(limits.timeout + Duration::from_secs(1), work).await {
        Ok(Ok(Ok(a))) => ([("content-type", a.content_type)], a.body).into_response(),
        Ok(Ok(Err(e))) => refuse(&e),
        Ok(Err(_)) => text(StatusCode::INTERNAL_SERVER_ERROR, "the query failed"),
        Err(_) => refuse(&SparqlError::Timeout(limits.timeout)),
    }
}
