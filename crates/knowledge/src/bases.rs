//! Knowledge bases: registered N-Quads files, curated (a curator vouches for them) or
//! extracted (machine-made, from a named source), each loaded into a named graph of its own,
//! `urn:metamesh:kb:0xID`. Every statement of the file lands in that graph, whatever graph the
//! file names, so a base can never write into a chain record's graph (which the BMCI view and
//! provenance queries trust). Its registration's graph says what it is, who registered it and
//! whether its content loaded.
//!
//! Queries that name no graph see every graph, bases' included, so a base may not speak about
//! the chain's own objects: a statement whose subject is a chain IRI (`urn:metamesh:…` other
//! than BMCI's structures, materials and extracted statements) is left out and counted, so no
//! base can retitle a dataset or speak for a registration. What a base *is* (curated or
//! extracted) is read from its registration's record graph: a base can still write
//! `_:x mm:kind "curated"` into its own graph, which a query that does not scope the
//! registration to `urn:metamesh:graph:0x…` would believe.

use metamesh_crypto::Suite;
use metamesh_primitives::{
    Hash,
    knowledge::{KB_EXTRACTED, KB_KINDS},
};
use metamesh_state::KnowledgeBase;
use oxigraph::{
    io::{RdfFormat, RdfParser},
    model::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term},
};

use crate::vocab::{self, DCAT, DCT, PROV, RDF, SCHEMA, mm, term};

/// The most statements one base may hold (a 64 MiB file of short lines is about this many).
pub const MAX_STATEMENTS: usize = 1_000_000;

/// The graph a base's statements are loaded into.
pub fn content_graph(id: &Hash) -> NamedNode {
    NamedNode::new_unchecked(format!("urn:metamesh:kb:0x{}", hex::encode(id)))
}

/// A base whose content is still to be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: Hash,
    pub cid: metamesh_storage::Cid,
    pub digest: Hash,
    pub size: u64,
    pub suite: Suite,
}

impl Pending {
    pub fn of(id: Hash, kb: &KnowledgeBase, suite: Suite) -> Option<Self> {
        Some(Pending {
            id,
            cid: metamesh_storage::cid_from_bytes(&kb.spec.content).ok()?,
            digest: kb.digest,
            size: kb.size,
            suite,
        })
    }
}

/// The registration's quads (in the event's graph).
pub fn quads(
    graph: &NamedNode,
    id: &Hash,
    owner: &metamesh_crypto::Address,
    kb: Option<&KnowledgeBase>,
) -> Vec<Quad> {
    let g = GraphName::NamedNode(graph.clone());
    let mut out = Vec::new();
    let mut add =
        |s: &NamedNode, p: NamedNode, o: Term| out.push(Quad::new(s.clone(), p, o, g.clone()));
    let base = vocab::knowledge_base(id);
    add(&base, term(RDF, "type"), mm("KnowledgeBase").into());
    add(&base, term(RDF, "type"), term(DCAT, "Dataset").into());
    add(&base, term(RDF, "type"), term(PROV, "Entity").into());
    add(
        &base,
        term(PROV, "wasAttributedTo"),
        vocab::account(owner).into(),
    );
    add(graph, mm("about"), base.clone().into());
    let Some(kb) = kb else { return out };
    let s = &kb.spec;
    let kind = KB_KINDS
        .get(usize::from(s.kind))
        .copied()
        .unwrap_or("unknown");
    let class = if s.kind == KB_EXTRACTED {
        "ExtractedKnowledgeBase"
    } else {
        "CuratedKnowledgeBase"
    };
    add(&base, term(RDF, "type"), mm(class).into());
    add(&base, mm("kind"), Literal::new_simple_literal(kind).into());
    add(
        &base,
        term(SCHEMA, "name"),
        Literal::new_simple_literal(&s.name).into(),
    );
    if !s.description.is_empty() {
        add(
            &base,
            term(SCHEMA, "description"),
            Literal::new_simple_literal(&s.description).into(),
        );
    }
    if !s.source.is_empty() {
        add(
            &base,
            term(DCT, "source"),
            Literal::new_simple_literal(&s.source).into(),
        );
    }
    if let Ok(cid) = metamesh_storage::cid_from_bytes(&s.content) {
        add(
            &base,
            mm("content"),
            vocab::content(&cid.to_string()).into(),
        );
    }
    add(&base, mm("contentGraph"), content_graph(id).into());
    out
}

/// Chain IRIs a base may make statements about.
const OPEN_SUBJECTS: [&str; 3] = [
    "urn:metamesh:bmci:structure:",
    "urn:metamesh:material:",
    "urn:metamesh:extracted:",
];

fn open_subject(s: &NamedOrBlankNode) -> bool {
    match s {
        NamedOrBlankNode::NamedNode(n) => {
            !n.as_str().starts_with("urn:metamesh:")
                || OPEN_SUBJECTS.iter().any(|p| n.as_str().starts_with(p))
        }
        NamedOrBlankNode::BlankNode(_) => true,
    }
}

/// The file's blank node `b` as the base's own: the same label on every node and reload.
fn own(id: &Hash, b: &BlankNode) -> BlankNode {
    BlankNode::new_unchecked(format!("kb{}x{}", hex::encode(&id[..8]), b.as_str()))
}

/// The statements of a base's file, all in its content graph (its blank nodes its own),
/// with `?kb mm:statements n` (and `mm:statementsLeftOut m` for those about chain IRIs), or
/// why they cannot be: the bytes are not what was registered, not N-Quads or N-Triples, or
/// too many.
pub fn load(p: &Pending, bytes: &[u8]) -> Result<Vec<Quad>, String> {
    if bytes.len() as u64 != p.size || p.suite.hash(bytes) != p.digest {
        return Err(format!(
            "the content of {} is not the registered file ({} bytes, digest 0x{})",
            p.cid,
            p.size,
            hex::encode(p.digest)
        ));
    }
    let graph = GraphName::NamedNode(content_graph(&p.id));
    let mut out = Vec::new();
    let mut left_out = 0u64;
    for q in RdfParser::from_format(RdfFormat::NQuads).for_slice(bytes) {
        let q = q.map_err(|e| format!("{} is not N-Quads or N-Triples: {e}", p.cid))?;
        if out.len() == MAX_STATEMENTS {
            return Err(format!(
                "{} has more than {MAX_STATEMENTS} statements",
                p.cid
            ));
        }
        if !open_subject(&q.subject) {
            left_out += 1;
            continue;
        }
        let subject = match q.subject {
            NamedOrBlankNode::BlankNode(b) => NamedOrBlankNode::from(own(&p.id, &b)),
            s => s,
        };
        let object = match q.object {
            Term::BlankNode(b) => Term::from(own(&p.id, &b)),
            o => o,
        };
        out.push(Quad::new(subject, q.predicate, object, graph.clone()));
    }
    let base = vocab::knowledge_base(&p.id);
    out.push(Quad::new(
        base.clone(),
        mm("statements"),
        Literal::from(out.len() as u64),
        graph.clone(),
    ));
    if left_out > 0 {
        out.push(Quad::new(
            base,
            mm("statementsLeftOut"),
            Literal::from(left_out),
            graph,
        ));
    }
    Ok(out)
}

/// What a base's content graph holds when its content could not be loaded: the reason, so a
/// query sees it (and the node does not try again).
pub fn failed(p: &Pending, why: &str) -> Vec<Quad> {
    vec![Quad::new(
        vocab::knowledge_base(&p.id),
        mm("contentError"),
        Literal::new_simple_literal(why),
        GraphName::NamedNode(content_graph(&p.id)),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(bytes: &[u8]) -> Pending {
        Pending {
            id: [7; 32],
            cid: metamesh_storage::import_bytes(
                metamesh_storage::Profile::KUBO_DEFAULT,
                bytes,
                metamesh_storage::HashOnly,
            )
            .unwrap()
            .cid,
            digest: Suite::Sm.hash(bytes),
            size: bytes.len() as u64,
            suite: Suite::Sm,
        }
    }

    #[test]
    fn every_statement_lands_in_the_bases_graph() {
        let file = b"<urn:a> <urn:p> \"1\" .\n<urn:b> <urn:p> _:x <urn:metamesh:graph:0x01> .\n";
        let quads = load(&pending(file), file).unwrap();
        assert_eq!(quads.len(), 3, "two statements and their count");
        let graph = GraphName::NamedNode(content_graph(&[7; 32]));
        assert!(quads.iter().all(|q| q.graph_name == graph), "{quads:?}");
        assert_eq!(
            quads,
            load(&pending(file), file).unwrap(),
            "the same on every load"
        );
    }

    #[test]
    fn statements_about_chain_objects_are_left_out() {
        let file = concat!(
            "<urn:metamesh:knowledgeBase:0x07> <urn:metamesh:ns:kind> \"curated\" .\n",
            "<urn:metamesh:data:0x01> <http://purl.org/dc/terms/title> \"not its title\" .\n",
            "<urn:metamesh:bmci:structure:aflow-x> <urn:metamesh:ns:hardness> \"30\" .\n",
        )
        .as_bytes();
        let quads = load(&pending(file), file).unwrap();
        let subjects: Vec<String> = quads.iter().map(|q| q.subject.to_string()).collect();
        assert_eq!(
            subjects,
            [
                "<urn:metamesh:bmci:structure:aflow-x>",
                "<urn:metamesh:knowledgeBase:0x0707070707070707070707070707070707070707070707070707070707070707>",
                "<urn:metamesh:knowledgeBase:0x0707070707070707070707070707070707070707070707070707070707070707>",
            ]
        );
        assert_eq!(quads[2].predicate, mm("statementsLeftOut"));
    }

    #[test]
    fn other_bytes_or_no_rdf_are_refused_by_name() {
        let file = b"<urn:a> <urn:p> \"1\" .\n";
        let e = load(&pending(file), b"<urn:a> <urn:p> \"2\" .\n").unwrap_err();
        assert!(e.contains("not the registered file"), "{e}");
        let junk = b"this is not rdf\n";
        let e = load(&pending(junk), junk).unwrap_err();
        assert!(e.contains("is not N-Quads or N-Triples"), "{e}");
        let why = failed(&pending(junk), &e);
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].predicate, mm("contentError"));
    }
}
