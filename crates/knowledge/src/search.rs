//! Full-text search inside SPARQL, as a SERVICE:
//!
//! ```sparql
//! SELECT ?s ?score WHERE {
//!   SERVICE mm:search { ?s mm:matches "boron carbide hardness" ; mm:score ?score ; mm:limit 20 }
//!   ?s dct:title ?title .
//! }
//! ```
//!
//! `mm:matches` (the words, required), `mm:score`, `mm:graph` (the record's graph) and
//! `mm:text` (the words indexed) bind variables; `mm:limit` caps the hits (default 100, at most
//! 10,000). Any other shape is refused with the reason.

use std::sync::Arc;

use oxigraph::{
    model::{Literal, NamedNode, Term, Variable},
    sparql::{QuerySolutionIter, ServiceHandler},
};
use oxiri::Iri;
use spargebra::{
    algebra::GraphPattern,
    term::{NamedNodePattern, TermPattern},
};

use crate::{KnowledgeGraph, vocab::mm};

const DEFAULT_HITS: usize = 100;
const MAX_HITS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
#[error("mm:search: {0}")]
pub struct SearchError(String);

pub(crate) struct SearchService {
    kg: Arc<KnowledgeGraph>,
}

impl SearchService {
    pub(crate) fn new(kg: Arc<KnowledgeGraph>) -> Self {
        SearchService { kg }
    }
}

/// What the pattern asks: the words, the variables to bind, the most hits.
#[derive(Default)]
struct Ask {
    words: Option<String>,
    subject: Option<TermPattern>,
    score: Option<Variable>,
    graph: Option<Variable>,
    text: Option<Variable>,
    limit: Option<usize>,
}

fn bad(m: impl Into<String>) -> SearchError {
    SearchError(m.into())
}

fn parse(pattern: &GraphPattern) -> Result<Ask, SearchError> {
    let GraphPattern::Bgp { patterns } = pattern else {
        return Err(bad(
            "the service takes triple patterns only: { ?s mm:matches \"words\" ; mm:score ?score }",
        ));
    };
    let mut ask = Ask::default();
    for t in patterns {
        match &ask.subject {
            Some(s) if s != &t.subject => {
                return Err(bad("every pattern must have the same subject (the hit)"));
            }
            _ => ask.subject = Some(t.subject.clone()),
        }
        let NamedNodePattern::NamedNode(p) = &t.predicate else {
            return Err(bad(
                "predicates must be mm:matches, mm:score, mm:graph, mm:text or mm:limit",
            ));
        };
        let var = |what: &str| match &t.object {
            TermPattern::Variable(v) => Ok(v.clone()),
            _ => Err(bad(format!("the object of {what} must be a variable"))),
        };
        if *p == mm("matches") {
            match &t.object {
                TermPattern::Literal(l) => ask.words = Some(l.value().to_owned()),
                _ => return Err(bad("the object of mm:matches must be a string literal")),
            }
        } else if *p == mm("score") {
            ask.score = Some(var("mm:score")?);
        } else if *p == mm("graph") {
            ask.graph = Some(var("mm:graph")?);
        } else if *p == mm("text") {
            ask.text = Some(var("mm:text")?);
        } else if *p == mm("limit") {
            let n = match &t.object {
                TermPattern::Literal(l) => l.value().parse::<usize>().ok(),
                _ => None,
            };
            ask.limit = Some(
                n.filter(|n| (1..=MAX_HITS).contains(n))
                    .ok_or_else(|| bad(format!("mm:limit must be an integer 1..={MAX_HITS}")))?,
            );
        } else {
            return Err(bad(format!(
                "unknown predicate <{}> (mm:matches, mm:score, mm:graph, mm:text, mm:limit)",
                p.as_str()
            )));
        }
    }
    if ask.words.is_none() {
        return Err(bad("no mm:matches \"words\" to search for"));
    }
    Ok(ask)
}

impl ServiceHandler for SearchService {
    type Error = SearchError;

    fn handle(
        &self,
        pattern: &GraphPattern,
        _base_iri: Option<&Iri<String>>,
    ) -> Result<QuerySolutionIter<'static>, SearchError> {
        let ask = parse(pattern)?;
        let words = ask.words.as_deref().unwrap_or_default();
        let hits = self
            .kg
            .text()
            .search(words, ask.limit.unwrap_or(DEFAULT_HITS))
            .map_err(|e| bad(e.to_string()))?;
        let subject_var = match &ask.subject {
            Some(TermPattern::Variable(v)) => Some(v.clone()),
            _ => None,
        };
        let fixed = match &ask.subject {
            Some(TermPattern::NamedNode(n)) => Some(n.as_str().to_owned()),
            Some(TermPattern::Variable(_)) | None => None,
            Some(_) => return Err(bad("the hit must be a variable or an IRI")),
        };
        let mut vars = Vec::new();
        for v in [&subject_var, &ask.score, &ask.graph, &ask.text]
            .into_iter()
            .flatten()
        {
            if !vars.contains(v) {
                vars.push(v.clone());
            }
        }
        let variables: Arc<[Variable]> = vars.clone().into();
        let rows: Vec<_> = hits
            .into_iter()
            .filter(|h| fixed.as_ref().is_none_or(|f| *f == h.subject))
            .map(|h| {
                let value = |v: &Variable| -> Option<Term> {
                    if Some(v) == subject_var.as_ref() {
                        NamedNode::new(&h.subject).ok().map(Term::from)
                    } else if Some(v) == ask.score.as_ref() {
                        Some(Literal::from(f64::from(h.score)).into())
                    } else if Some(v) == ask.graph.as_ref() {
                        NamedNode::new(&h.graph).ok().map(Term::from)
                    } else if Some(v) == ask.text.as_ref() {
                        Some(Literal::new_simple_literal(&h.text).into())
                    } else {
                        None
                    }
                };
                Ok(vars.iter().map(value).collect())
            })
            .collect();
        Ok(QuerySolutionIter::from_tuples(variables, rows))
    }
}
