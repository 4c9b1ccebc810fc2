//! One chain record as one named graph: a pure function from what the chain says about an
//! event ([`Facts`], read by [`crate::read`]) and where it happened ([`Provenance`]) to quads.
//! Every quad of a record sits in its graph, the graph's own provenance (block, transaction,
//! sealer, sender) included, so dropping the graph takes the record back whole — which is all
//! a reorg needs.

use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash, WorkKind,
    compute::{EXECUTORS, JobSpec, Output},
};
use metamesh_state::{Attestation, Circuit, ComputeResult, DataRecord, Statement};
use oxigraph::model::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term, vocab::xsd};

use crate::vocab::{self, BIBO, DCAT, DCT, FABIO, PROV, QUDT, RDF, RDFS, SCHEMA, UNIT, mm, term};

/// Where a record happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    pub block: Hash,
    pub number: u64,
    /// The block's timestamp (Unix seconds).
    pub time: u64,
    /// The Clique signer that sealed the block.
    pub sealer: Option<Address>,
    /// The transaction (hash, index in the block, sender); `None` for block-level events.
    pub tx: Option<(Hash, u32, Option<Address>)>,
    pub log_index: u32,
    /// The event's kind (`dataRegistered`, …).
    pub event: &'static str,
}

/// What the chain holds about one event's record (the record itself when it could be read).
// One value lives per event, built and turned into quads at once: size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Facts {
    Dataset {
        digest: Hash,
        owner: Address,
        record: Option<DataRecord>,
    },
    Work {
        digest: Hash,
        owner: Address,
        kind: WorkKind,
        record: Option<Attestation>,
    },
    Provider {
        address: Address,
        stake: Amount,
        cores: u64,
        accelerators: u64,
    },
    Job {
        id: Hash,
        owner: Address,
        escrow: Amount,
        spec: Option<JobSpec>,
    },
    Assigned {
        job: Hash,
        task: u64,
        providers: Vec<Address>,
    },
    Result {
        job: Hash,
        task: u64,
        digest: Hash,
        providers: Vec<Address>,
        fuel: u64,
        paid: Amount,
        reward: Amount,
        record: Option<ComputeResult>,
        /// When the result is a verified BMCI run: what it computed.
        bmci: Option<Box<crate::bmci::Run>>,
    },
    TaskFailed {
        job: Hash,
        task: u64,
        code: u16,
    },
    JobEnded {
        job: Hash,
        state: &'static str,
    },
    Circuit {
        id: Hash,
        owner: Address,
        record: Option<Circuit>,
    },
    Statement {
        id: Hash,
        circuit: Hash,
        prover: Address,
        record: Option<Statement>,
    },
    Algorithm {
        id: Hash,
        owner: Address,
        spec: Option<Box<metamesh_primitives::knowledge::AlgorithmSpec>>,
    },
    AlgorithmRetired {
        id: Hash,
        by: Address,
    },
    KnowledgeBase {
        id: Hash,
        owner: Address,
        record: Option<Box<metamesh_state::KnowledgeBase>>,
    },
}

/// Literals and IRIs of one graph, with the few shapes records need.
struct Graph {
    name: NamedNode,
    quads: Vec<Quad>,
}

impl Graph {
    fn add(&mut self, s: &NamedNode, p: NamedNode, o: impl Into<Term>) {
        self.quads.push(Quad::new(
            NamedOrBlankNode::from(s.clone()),
            p,
            o,
            GraphName::NamedNode(self.name.clone()),
        ));
    }

    fn a(&mut self, s: &NamedNode, class: NamedNode) {
        self.add(s, term(RDF, "type"), class);
    }

    fn text(&mut self, s: &NamedNode, p: NamedNode, text: &str) {
        if !text.is_empty() {
            self.add(s, p, Literal::new_simple_literal(text));
        }
    }

    fn int(&mut self, s: &NamedNode, p: NamedNode, n: u64) {
        self.add(s, p, Literal::from(n));
    }

    /// An amount of MMT as an exact decimal.
    fn mmt(&mut self, s: &NamedNode, p: NamedNode, a: Amount) {
        self.add(
            s,
            p,
            Literal::new_typed_literal(mmt_decimal(a), xsd::DECIMAL),
        );
    }

    /// A quantity with its QUDT unit, as a node of its own.
    fn quantity(&mut self, s: &NamedNode, p: NamedNode, n: u64, unit: &str) {
        let q = NamedNode::new_unchecked(format!(
            "{}#{}",
            s.as_str(),
            p.as_str().rsplit([':', '/', '#']).next().unwrap_or("q")
        ));
        self.add(s, p, q.clone());
        self.a(&q, term(QUDT, "QuantityValue"));
        self.add(&q, term(QUDT, "numericValue"), Literal::from(n));
        self.add(&q, term(QUDT, "unit"), term(UNIT, unit));
    }

    fn time(&mut self, s: &NamedNode, p: NamedNode, unix: u64) {
        self.add(
            s,
            p,
            Literal::new_typed_literal(date_time(unix), xsd::DATE_TIME),
        );
    }
}

/// The quads of one record's graph.
pub fn quads(prov: &Provenance, facts: &Facts) -> Vec<Quad> {
    let mut g = Graph {
        name: vocab::record_graph(&prov.block, prov.log_index),
        quads: Vec::new(),
    };
    provenance(&mut g, prov);
    match facts {
        Facts::Dataset {
            digest,
            owner,
            record,
        } => dataset(&mut g, digest, owner, record.as_ref()),
        Facts::Work {
            digest,
            owner,
            kind,
            record,
        } => work(&mut g, digest, owner, *kind, record.as_ref()),
        Facts::Provider {
            address,
            stake,
            cores,
            accelerators,
        } => {
            let p = vocab::account(address);
            g.a(&p, term(PROV, "Agent"));
            g.a(&p, mm("Provider"));
            g.mmt(&p, mm("stake"), *stake);
            g.int(&p, mm("cores"), *cores);
            g.int(&p, mm("accelerators"), *accelerators);
            g.add(&g.name.clone(), mm("about"), p);
        }
        Facts::Job {
            id,
            owner,
            escrow,
            spec,
        } => job(&mut g, prov, id, owner, *escrow, spec.as_ref()),
        Facts::Assigned {
            job,
            task,
            providers,
        } => {
            let t = vocab::task(job, *task);
            for p in providers {
                g.add(&t, mm("assignedTo"), vocab::account(p));
            }
            g.add(&g.name.clone(), mm("about"), t);
        }
        Facts::Result {
            job,
            task,
            digest,
            providers,
            fuel,
            paid,
            reward,
            record,
            bmci,
        } => {
            result(
                &mut g,
                prov,
                (job, *task),
                digest,
                providers,
                (*fuel, *paid, *reward),
                record.as_ref(),
            );
            if let Some(run) = bmci {
                let quads = crate::bmci::quads(&g.name, &vocab::result(job, *task), run, prov.time);
                g.quads.extend(quads);
            }
        }
        Facts::TaskFailed { job, task, code } => {
            let t = vocab::task(job, *task);
            g.a(&t, mm("FailedTask"));
            g.int(&t, mm("failureCode"), u64::from(*code));
            g.add(&t, term(PROV, "invalidatedAtTime"), time_literal(prov.time));
            g.add(&g.name.clone(), mm("about"), t);
        }
        Facts::JobEnded { job, state } => {
            let j = vocab::job(job);
            g.text(&j, mm("state"), state);
            g.time(&j, term(PROV, "endedAtTime"), prov.time);
            g.add(&j, term(PROV, "wasEndedBy"), vocab::block(&prov.block));
            g.add(&g.name.clone(), mm("about"), j);
        }
        Facts::Circuit { id, owner, record } => circuit(&mut g, id, owner, record.as_ref()),
        Facts::Statement {
            id,
            circuit,
            prover,
            record,
        } => {
            let s = vocab::statement(id);
            g.a(&s, term(PROV, "Entity"));
            g.a(&s, mm("ProvenStatement"));
            g.add(&s, mm("circuit"), vocab::circuit(circuit));
            g.add(&s, term(PROV, "wasAttributedTo"), vocab::account(prover));
            if let Some(r) = record {
                g.time(&s, term(PROV, "generatedAtTime"), r.time);
            }
            g.add(&g.name.clone(), mm("about"), s);
        }
        Facts::Algorithm { id, owner, spec } => {
            let quads = crate::bmci::algorithm_quads(&g.name, id, owner, spec.as_deref());
            g.quads.extend(quads);
        }
        Facts::KnowledgeBase { id, owner, record } => {
            let quads = crate::bases::quads(&g.name, id, owner, record.as_deref());
            g.quads.extend(quads);
        }
        Facts::AlgorithmRetired { id, by } => {
            let a = vocab::algorithm(id);
            g.add(&a, mm("retiredIn"), vocab::block(&prov.block));
            g.add(&a, mm("retiredBy"), vocab::account(by));
            g.add(&g.name.clone(), mm("about"), a);
        }
    }
    g.quads
}

/// The graph's own provenance: which block (with its number, time and sealer), which
/// transaction and whose signature put the record on chain.
fn provenance(g: &mut Graph, p: &Provenance) {
    let name = g.name.clone();
    let block = vocab::block(&p.block);
    g.a(&name, mm("ChainRecord"));
    g.a(&name, term(PROV, "Bundle"));
    g.add(&name, mm("block"), block.clone());
    g.text(&name, mm("event"), p.event);
    g.int(&name, mm("logIndex"), u64::from(p.log_index));
    g.time(&name, term(PROV, "generatedAtTime"), p.time);
    g.a(&block, mm("Block"));
    g.int(&block, mm("number"), p.number);
    g.text(&block, mm("hash"), &format!("0x{}", hex::encode(p.block)));
    g.time(&block, term(DCT, "created"), p.time);
    if let Some(sealer) = &p.sealer {
        g.add(&block, mm("sealer"), vocab::account(sealer));
    }
    if let Some((hash, index, sender)) = &p.tx {
        let tx = vocab::transaction(hash);
        g.add(&name, mm("transaction"), tx.clone());
        g.a(&tx, mm("Transaction"));
        g.add(&tx, mm("inBlock"), block);
        g.int(&tx, mm("index"), u64::from(*index));
        g.text(&tx, mm("hash"), &format!("0x{}", hex::encode(hash)));
        if let Some(sender) = sender {
            g.add(&tx, mm("sender"), vocab::account(sender));
            g.add(&name, term(PROV, "wasAttributedTo"), vocab::account(sender));
        }
    }
}

/// A CID's text from its binary form (`None` when empty or not a CID).
pub fn cid_text(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty())
        .then(|| metamesh_storage::Cid::try_from(bytes).ok())
        .flatten()
        .map(|c| c.to_string())
}

/// The metadata JSON's strings that say what a record is about.
fn describe(g: &mut Graph, s: &NamedNode, metadata: &[u8]) {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(metadata) else {
        return;
    };
    let field = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(t) = field("title") {
        g.text(s, term(DCT, "title"), &t);
    }
    if let Some(d) = field("description") {
        g.text(s, term(DCT, "description"), &d);
    }
    if let Some(a) = field("abstract") {
        g.text(s, term(DCT, "abstract"), &a);
    }
    if let Some(doi) = field("doi") {
        g.text(s, term(BIBO, "doi"), &doi);
    }
    if let Some(c) = field("commitment") {
        g.text(s, mm("commitment"), &c);
    }
    if let Some(serde_json::Value::Array(words)) = m.get("keywords") {
        for w in words.iter().filter_map(|w| w.as_str()) {
            g.text(s, term(SCHEMA, "keywords"), w);
        }
    }
}

fn dataset(g: &mut Graph, digest: &Hash, owner: &Address, r: Option<&DataRecord>) {
    let d = vocab::data(digest);
    g.a(&d, term(DCAT, "Dataset"));
    g.a(&d, term(SCHEMA, "Dataset"));
    g.a(&d, term(PROV, "Entity"));
    g.text(&d, mm("digest"), &format!("0x{}", hex::encode(digest)));
    g.add(&d, term(DCT, "creator"), vocab::account(owner));
    g.add(&d, term(PROV, "wasAttributedTo"), vocab::account(owner));
    g.add(&g.name.clone(), mm("about"), d.clone());
    let Some(r) = r else { return };
    g.text(&d, term(DCT, "title"), &r.title);
    g.text(&d, term(SCHEMA, "name"), &r.title);
    g.text(&d, term(DCT, "license"), &r.licence);
    g.text(&d, mm("profile"), &r.profile);
    g.add(&d, mm("encrypted"), Literal::from(r.encrypted));
    g.time(&d, term(DCT, "issued"), r.time);
    g.int(&d, term(DCAT, "byteSize"), r.size);
    g.quantity(&d, mm("size"), r.size, "BYTE");
    if let Some(cid) = cid_text(&r.cid) {
        let c = vocab::content(&cid);
        g.add(&d, term(SCHEMA, "contentUrl"), c.clone());
        g.add(&d, term(DCAT, "distribution"), c.clone());
        g.a(&c, term(DCAT, "Distribution"));
        g.add(&c, term(DCAT, "accessURL"), c.clone());
        g.text(&c, mm("cid"), &cid);
    }
    describe(g, &d, &r.metadata);
}

fn work(g: &mut Graph, digest: &Hash, owner: &Address, kind: WorkKind, r: Option<&Attestation>) {
    let w = vocab::work(digest);
    g.a(&w, term(PROV, "Entity"));
    let classes: &[(&str, &str)] = match kind {
        WorkKind::Paper => &[(BIBO, "AcademicArticle"), (FABIO, "ResearchPaper")],
        WorkKind::Patent => &[(BIBO, "Patent"), (FABIO, "PatentDocument")],
        WorkKind::Result => &[(FABIO, "Dataset"), (SCHEMA, "Dataset")],
        WorkKind::Dataset => &[(DCAT, "Dataset"), (SCHEMA, "Dataset")],
        WorkKind::Program => &[(SCHEMA, "SoftwareSourceCode"), (FABIO, "ComputerProgram")],
    };
    for (ns, c) in classes {
        g.a(&w, term(ns, c));
    }
    g.a(&w, mm("Attestation"));
    g.text(&w, mm("kind"), kind.name());
    g.text(&w, mm("digest"), &format!("0x{}", hex::encode(digest)));
    g.add(&w, term(DCT, "creator"), vocab::account(owner));
    g.add(&w, term(PROV, "wasAttributedTo"), vocab::account(owner));
    g.add(&g.name.clone(), mm("about"), w.clone());
    if let Some(r) = r {
        g.time(&w, term(DCT, "dateSubmitted"), r.time);
        describe(g, &w, &r.metadata);
    }
}

fn job(
    g: &mut Graph,
    prov: &Provenance,
    id: &Hash,
    owner: &Address,
    escrow: Amount,
    spec: Option<&JobSpec>,
) {
    let j = vocab::job(id);
    g.a(&j, term(PROV, "Activity"));
    g.a(&j, mm("Job"));
    g.add(&j, term(PROV, "wasStartedBy"), vocab::account(owner));
    g.add(&j, term(PROV, "wasAssociatedWith"), vocab::account(owner));
    g.time(&j, term(PROV, "startedAtTime"), prov.time);
    g.mmt(&j, mm("escrow"), escrow);
    g.add(&g.name.clone(), mm("about"), j.clone());
    let Some(spec) = spec else { return };
    g.text(&j, term(RDFS, "label"), &spec.name);
    g.mmt(&j, mm("maxPrice"), spec.max_price);
    for (i, t) in spec.tasks.iter().enumerate() {
        let task = vocab::task(id, i as u64);
        g.a(&task, term(PROV, "Activity"));
        g.a(&task, mm("Task"));
        g.add(&task, term(DCT, "isPartOf"), j.clone());
        g.add(&j, term(DCT, "hasPart"), task.clone());
        g.text(&task, term(RDFS, "label"), &t.name);
        g.int(&task, mm("index"), i as u64);
        if let Some(e) = EXECUTORS.get(t.executor as usize) {
            g.text(&task, mm("executor"), e);
        }
        if let Some(p) = cid_text(&t.program) {
            g.add(&task, mm("program"), vocab::content(&p));
        }
        for a in &t.args {
            g.text(&task, mm("arg"), a);
        }
        for after in &t.after {
            g.add(&task, mm("after"), vocab::task(id, *after));
        }
    }
}

fn result(
    g: &mut Graph,
    prov: &Provenance,
    (job, task): (&Hash, u64),
    digest: &Hash,
    providers: &[Address],
    (fuel, paid, reward): (u64, Amount, Amount),
    r: Option<&ComputeResult>,
) {
    let res = vocab::result(job, task);
    let t = vocab::task(job, task);
    g.a(&res, term(PROV, "Entity"));
    g.a(&res, mm("Result"));
    g.add(&res, term(PROV, "wasGeneratedBy"), t.clone());
    g.add(&res, mm("acceptedIn"), vocab::block(&prov.block));
    g.time(&res, term(PROV, "generatedAtTime"), prov.time);
    g.text(&res, mm("digest"), &format!("0x{}", hex::encode(digest)));
    g.add(&res, term(DCT, "isPartOf"), vocab::job(job));
    g.a(&t, term(PROV, "Activity"));
    g.a(&t, mm("Task"));
    g.time(&t, term(PROV, "endedAtTime"), prov.time);
    for p in providers {
        g.add(&t, term(PROV, "wasAssociatedWith"), vocab::account(p));
        g.add(&res, term(PROV, "wasAttributedTo"), vocab::account(p));
        g.a(&vocab::account(p), mm("Provider"));
    }
    g.int(&res, mm("fuel"), fuel);
    g.mmt(&res, mm("paid"), paid);
    g.mmt(&res, mm("reward"), reward);
    g.add(&g.name.clone(), mm("about"), res.clone());
    let Some(r) = r else { return };
    g.text(&res, term(RDFS, "label"), &r.name);
    if let Some(p) = cid_text(&r.program) {
        let program = vocab::content(&p);
        g.add(&t, term(PROV, "used"), program.clone());
        g.add(&t, mm("program"), program.clone());
        g.a(&program, term(SCHEMA, "SoftwareSourceCode"));
    }
    for input in &r.inputs {
        content_file(g, &t, term(PROV, "used"), input);
    }
    for output in &r.result.outputs {
        if let Some(o) = content_file(g, &res, term(SCHEMA, "hasPart"), output) {
            g.add(&o, term(PROV, "wasGeneratedBy"), t.clone());
            g.add(&o, term(PROV, "wasDerivedFrom"), res.clone());
        }
    }
}

/// A named file by its CID: `s p <ipfs://CID>`, with its name and size.
fn content_file(g: &mut Graph, s: &NamedNode, p: NamedNode, f: &Output) -> Option<NamedNode> {
    let cid = cid_text(&f.cid)?;
    let c = vocab::content(&cid);
    g.add(s, p, c.clone());
    g.a(&c, term(PROV, "Entity"));
    g.text(&c, term(SCHEMA, "name"), &f.name);
    g.text(&c, mm("cid"), &cid);
    if f.size > 0 {
        g.quantity(&c, mm("size"), f.size, "BYTE");
    }
    Some(c)
}

fn circuit(g: &mut Graph, id: &Hash, owner: &Address, r: Option<&Circuit>) {
    let c = vocab::circuit(id);
    g.a(&c, term(PROV, "Entity"));
    g.a(&c, mm("Circuit"));
    g.a(&c, term(SCHEMA, "SoftwareSourceCode"));
    g.add(&c, term(DCT, "creator"), vocab::account(owner));
    g.add(&g.name.clone(), mm("about"), c.clone());
    let Some(r) = r else { return };
    g.text(&c, term(RDFS, "label"), &r.name);
    g.text(&c, term(SCHEMA, "name"), &r.name);
    g.text(
        &c,
        mm("engine"),
        if r.engine == 0 { "bn128" } else { "bls12381" },
    );
    for i in &r.inputs {
        g.text(&c, mm("publicInput"), i);
    }
    for (p, bytes) in [
        ("source", &r.source),
        ("r1cs", &r.r1cs),
        ("zkey", &r.zkey),
        ("wasm", &r.wasm),
    ] {
        if let Some(cid) = cid_text(bytes) {
            g.add(&c, mm(p), vocab::content(&cid));
        }
    }
}

/// `123.000000000000000001`-style exact MMT.
fn mmt_decimal(a: Amount) -> String {
    let whole = a.0 / 1_000_000_000_000_000_000;
    let frac = a.0 % 1_000_000_000_000_000_000;
    if frac == 0 {
        format!("{whole}.0")
    } else {
        let f = format!("{frac:018}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    }
}

fn time_literal(unix: u64) -> Literal {
    Literal::new_typed_literal(date_time(unix), xsd::DATE_TIME)
}

/// `YYYY-MM-DDThh:mm:ssZ` of a Unix time (the proleptic Gregorian calendar, as xsd:dateTime).
pub fn date_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_amounts_are_exact() {
        assert_eq!(date_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(date_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(date_time(1_796_083_199), "2026-11-30T23:59:59Z");
        assert_eq!(mmt_decimal(Amount::from_mmt(12)), "12.0");
        assert_eq!(mmt_decimal(Amount(1)), "0.000000000000000001");
        assert_eq!(mmt_decimal(Amount(1_500_000_000_000_000_000)), "1.5");
    }
}
