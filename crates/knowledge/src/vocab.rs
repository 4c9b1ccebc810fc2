//! The terms the graph speaks: standard vocabularies (PROV-O, DCAT, Dublin Core, schema.org,
//! BIBO, FaBiO, QUDT) where one says what we mean, and MetaMesh's own (`mm:`) for what is the
//! chain's alone (blocks, digests, gas). Chain objects get URNs that name them on any node;
//! content gets its `ipfs://CID`, the address every IPFS tool understands.

use metamesh_crypto::Address;
use metamesh_primitives::Hash;
use oxigraph::model::NamedNode;

pub const MM: &str = "urn:metamesh:ns:";
pub const PROV: &str = "http://www.w3.org/ns/prov#";
pub const DCAT: &str = "http://www.w3.org/ns/dcat#";
pub const DCT: &str = "http://purl.org/dc/terms/";
pub const SCHEMA: &str = "https://schema.org/";
pub const BIBO: &str = "http://purl.org/ontology/bibo/";
pub const FABIO: &str = "http://purl.org/spar/fabio/";
pub const QUDT: &str = "http://qudt.org/schema/qudt/";
pub const UNIT: &str = "http://qudt.org/vocab/unit/";
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
pub const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// The prefixes a query may use without declaring them (and `kg query` prints with).
pub const PREFIXES: &[(&str, &str)] = &[
    ("mm", MM),
    ("prov", PROV),
    ("dcat", DCAT),
    ("dct", DCT),
    ("schema", SCHEMA),
    ("bibo", BIBO),
    ("fabio", FABIO),
    ("qudt", QUDT),
    ("unit", UNIT),
    ("rdf", RDF),
    ("rdfs", RDFS),
    ("xsd", XSD),
];

/// A term of a vocabulary.
pub fn term(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

pub fn mm(local: &str) -> NamedNode {
    term(MM, local)
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// `urn:metamesh:KIND:0x…` — the IRIs of chain objects.
fn urn(kind: &str, id: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("urn:metamesh:{kind}:{id}"))
}

pub fn account(a: &Address) -> NamedNode {
    urn("account", &a.to_string().to_lowercase())
}

pub fn block(hash: &Hash) -> NamedNode {
    urn("block", &hex(hash))
}

pub fn transaction(hash: &Hash) -> NamedNode {
    urn("tx", &hex(hash))
}

pub fn data(digest: &Hash) -> NamedNode {
    urn("data", &hex(digest))
}

pub fn work(digest: &Hash) -> NamedNode {
    urn("work", &hex(digest))
}

pub fn job(id: &Hash) -> NamedNode {
    urn("job", &hex(id))
}

pub fn task(job: &Hash, task: u64) -> NamedNode {
    urn("task", &format!("{}/{task}", hex(job)))
}

pub fn result(job: &Hash, task: u64) -> NamedNode {
    urn("result", &format!("{}/{task}", hex(job)))
}

pub fn circuit(id: &Hash) -> NamedNode {
    urn("circuit", &hex(id))
}

pub fn algorithm(id: &Hash) -> NamedNode {
    urn("algorithm", &hex(id))
}

pub fn knowledge_base(id: &Hash) -> NamedNode {
    urn("knowledgeBase", &hex(id))
}

pub fn statement(id: &Hash) -> NamedNode {
    urn("statement", &hex(id))
}

/// The named graph of one chain record: the event at `log_index` of block `block`.
pub fn record_graph(block: &Hash, log_index: u32) -> NamedNode {
    urn("graph", &format!("{}/{log_index}", hex(block)))
}

/// Content by its CID text, as IPFS tools address it.
pub fn content(cid: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("ipfs://{cid}"))
}

/// The full-text search service a SPARQL query calls with `SERVICE mm:search { … }`.
pub fn search_service() -> NamedNode {
    mm("search")
}

/// `PREFIX p: <ns>` lines for every prefix in [`PREFIXES`].
pub fn prologue() -> String {
    PREFIXES
        .iter()
        .map(|(p, ns)| format!("PREFIX {p}: <{ns}>\n"))
        .collect()
}
