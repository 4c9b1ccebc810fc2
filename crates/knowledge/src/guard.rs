//! What a shared endpoint refuses before evaluating. The evaluator checks its cancellation
//! token as it reads the store; work that grows in memory without reading escapes it, and so
//! is bounded here: a join of parts that share no variable (a cartesian product — nested, it
//! multiplies parts already in memory), inline tables multiplied past
//! [`budget::MAX_INLINE_ROWS`], strings built past [`budget::MAX_BUILT`], text nested past
//! [`budget::MAX_DEPTH`]. Nothing is lost: a query that wants every pair can name the pairing
//! through a shared variable, or ask its parts separately.

use std::collections::HashSet;

use crate::budget::{self, Growth};

use spargebra::{
    Query,
    algebra::{Expression, GraphPattern, OrderExpression},
    term::{NamedNodePattern, TermPattern, TriplePattern},
};

/// `Err(reason)` for a query the endpoint will not evaluate.
pub fn check(query: &Query) -> Result<(), String> {
    let pattern = match query {
        Query::Select { pattern, .. }
        | Query::Construct { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Ask { pattern, .. } => pattern,
    };
    walk(pattern, None, &mut Growth::default())
}

const PRODUCT: &str = "the query joins parts that share no variable, so its answer is every combination of them (a cartesian product), which this endpoint does not evaluate: connect the parts through a variable, or ask them separately";

/// What joins a triple pattern to others: its variables (and blank nodes, which act as
/// variables), and a fixed subject — patterns about one resource are bounded by that
/// resource's own triples. A fixed object is no anchor: a class or a licence has many.
fn names(t: &TriplePattern) -> Vec<String> {
    let term = |p: &TermPattern| match p {
        TermPattern::Variable(v) => Some(format!("?{}", v.as_str())),
        TermPattern::BlankNode(b) => Some(format!("_:{}", b.as_str())),
        _ => None,
    };
    let subject = match &t.subject {
        TermPattern::NamedNode(n) => Some(format!("<{}>", n.as_str())),
        s => term(s),
    };
    let mut out: Vec<String> = [subject, term(&t.object)].into_iter().flatten().collect();
    if let NamedNodePattern::Variable(v) = &t.predicate {
        out.push(format!("?{}", v.as_str()));
    }
    // A ground triple is a yes-or-no check, one solution at most: it joins nothing.
    if out.iter().all(|n| n.starts_with('<')) {
        out.clear();
    }
    out
}

/// Whether the patterns that have variables form one connected group (inside `GRAPH ?g`,
/// every pattern also has `?g`: a product per graph is bounded by the graph's size).
fn connected(patterns: &[TriplePattern], graph: Option<&str>) -> bool {
    let groups: Vec<Vec<String>> = patterns
        .iter()
        .map(|t| {
            let mut n = names(t);
            if let Some(g) = graph {
                n.push(g.to_owned());
            }
            n
        })
        .filter(|n| !n.is_empty())
        .collect();
    let Some(first) = groups.first() else {
        return true;
    };
    let mut reached: HashSet<&String> = first.iter().collect();
    let mut joined = vec![false; groups.len()];
    joined[0] = true;
    loop {
        let mut grew = false;
        for (i, g) in groups.iter().enumerate() {
            if !joined[i] && g.iter().any(|n| reached.contains(n)) {
                joined[i] = true;
                reached.extend(g.iter());
                grew = true;
            }
        }
        if !grew {
            return joined.iter().all(|j| *j);
        }
    }
}

fn in_scope(p: &GraphPattern) -> HashSet<String> {
    let mut out = HashSet::new();
    p.on_in_scope_variable(|v| {
        out.insert(v.as_str().to_owned());
    });
    out
}

/// A side of a join that holds at most a few solutions of its own: an inline table, or values
/// bound without reading the store.
fn small(p: &GraphPattern) -> bool {
    match p {
        GraphPattern::Values { bindings, .. } => bindings.len() <= 1_000,
        GraphPattern::Extend { inner, .. } => small(inner),
        GraphPattern::Bgp { patterns } => patterns.iter().all(|t| names(t).is_empty()),
        _ => false,
    }
}

/// The patterns inside an expression (EXISTS), and the strings it may build.
fn expression(e: &Expression, graph: Option<&str>, growth: &mut Growth) -> Result<(), String> {
    growth.check(e)?;
    let mut inner: Vec<&GraphPattern> = Vec::new();
    collect_exists(e, &mut inner);
    for p in inner {
        walk(p, graph, growth)?;
    }
    Ok(())
}

fn collect_exists<'a>(e: &'a Expression, out: &mut Vec<&'a GraphPattern>) {
    if let Expression::Exists(p) = e {
        out.push(p);
    }
    for c in budget::children(e) {
        collect_exists(c, out);
    }
}

fn walk(p: &GraphPattern, graph: Option<&str>, growth: &mut Growth) -> Result<(), String> {
    match p {
        GraphPattern::Bgp { patterns } => {
            if connected(patterns, graph) {
                Ok(())
            } else {
                Err(PRODUCT.into())
            }
        }
        GraphPattern::Path { .. } | GraphPattern::Values { .. } => Ok(()),
        GraphPattern::Join { left, right } => {
            if let (Some(l), Some(r)) = (budget::inline_rows(left), budget::inline_rows(right))
                && l.saturating_mul(r) > budget::MAX_INLINE_ROWS
            {
                return Err(format!(
                    "the query multiplies inline tables to {} rows (at most {})",
                    l.saturating_mul(r),
                    budget::MAX_INLINE_ROWS
                ));
            }
            let (l, r) = (in_scope(left), in_scope(right));
            let inside_graph = graph.is_some();
            if !inside_graph
                && !l.is_empty()
                && !r.is_empty()
                && l.is_disjoint(&r)
                && !small(left)
                && !small(right)
            {
                return Err(PRODUCT.into());
            }
            walk(left, graph, growth)?;
            walk(right, graph, growth)
        }
        GraphPattern::LeftJoin {
            left,
            right,
            expression: e,
        } => {
            walk(left, graph, growth)?;
            walk(right, graph, growth)?;
            match e {
                Some(e) => expression(e, graph, growth),
                None => Ok(()),
            }
        }
        GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            walk(left, graph, growth)?;
            walk(right, graph, growth)
        }
        GraphPattern::Graph { name, inner } => match name {
            NamedNodePattern::Variable(v) => walk(inner, Some(&format!("?{}", v.as_str())), growth),
            NamedNodePattern::NamedNode(_) => walk(inner, graph, growth),
        },
        GraphPattern::Extend {
            inner,
            variable,
            expression: e,
        } => {
            walk(inner, graph, growth)?;
            expression(e, graph, growth)?;
            growth.bind(variable.as_str(), e)
        }
        GraphPattern::Filter { inner, expr } => {
            walk(inner, graph, growth)?;
            expression(expr, graph, growth)
        }
        GraphPattern::OrderBy {
            inner,
            expression: keys,
        } => {
            walk(inner, graph, growth)?;
            for k in keys {
                let (OrderExpression::Asc(e) | OrderExpression::Desc(e)) = k;
                expression(e, graph, growth)?;
            }
            Ok(())
        }
        GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::Group { inner, .. } => walk(inner, graph, growth),
        // The search service's pattern is read by its handler, not joined.
        GraphPattern::Service { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(q: &str) -> Result<(), String> {
        check(&spargebra::SparqlParser::new().parse_query(q).unwrap())
    }

    #[test]
    fn strings_built_on_strings_are_bounded() {
        let mut q = String::from("SELECT * { BIND(\"xxxxxxxxxxxxxxxx\" AS ?a0)");
        for i in 0..30 {
            q.push_str(&format!(" BIND(CONCAT(?a{i}, ?a{i}) AS ?a{})", i + 1));
        }
        q.push_str(" }");
        let e = verdict(&q).unwrap_err();
        assert!(e.contains("string"), "{e}");
        assert!(verdict("SELECT ?t WHERE { ?s <urn:t> ?t BIND(CONCAT(?t, \" (\", STR(?s), \")\") AS ?label) }").is_ok());
        assert!(
            verdict("SELECT * { ?s <urn:t> ?t FILTER(REPLACE(?t, \"\", ?t) = \"x\") }").is_err()
        );
    }

    #[test]
    fn products_are_refused_and_joins_pass() {
        assert!(verdict("SELECT * { ?a ?b ?c . ?d ?e ?f }").is_err());
        assert!(verdict("SELECT * { { ?a ?b ?c } { ?d ?e ?f } }").is_err());
        assert!(verdict("SELECT * { ?a ?b ?c . ?c ?e ?f . ?f ?g ?h }").is_ok());
        assert!(verdict("SELECT * { ?a ?b _:x . _:x ?e ?f }").is_ok());
        assert!(verdict("SELECT * { VALUES ?x { 1 2 } ?a ?b ?c }").is_ok());
        assert!(verdict("SELECT * { <urn:a> <urn:b> <urn:c> . ?s ?p ?o }").is_ok());
        assert!(verdict("SELECT * { <urn:r> <urn:p> ?a ; <urn:q> ?b . ?a <urn:x> ?c }").is_ok());
        assert!(verdict("SELECT * { ?a a <urn:C> . ?b a <urn:C> }").is_err());
        assert!(verdict("SELECT * { ?s ?p ?o OPTIONAL { ?s <urn:x> ?y } }").is_ok());
        assert!(verdict("SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }").is_ok());
        assert!(verdict("SELECT * { GRAPH ?g { ?d ?p ?t . ?g ?q ?b } }").is_ok());
        let values = |n: usize| format!("VALUES ?x{n} {{ {} }}", "1 ".repeat(1000));
        assert!(verdict(&format!("SELECT * {{ {} {} }}", values(0), values(1))).is_err());
        assert!(verdict(&format!("SELECT * {{ {} ?s ?p ?x0 }}", values(0))).is_ok());
        assert!(verdict("SELECT * { GRAPH <urn:g> { ?d ?p ?t . ?x ?q ?b } }").is_err());
    }
}
