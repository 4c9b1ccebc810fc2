//! BMCI runs: a registered algorithm run on a BMCI material as an ordinary compute job, and
//! the computed properties its verified results give the material.
//!
//! A run's job is named `bmci:0xALGORITHM`; each task is named for a material's id, runs the
//! algorithm's program, executor and arguments on the material's two case files
//! (`structure.json`, `structure.xyz`, made here byte for byte the same wherever they are
//! made) and compares replicas on the algorithm's output file, a JSON object of one number per
//! property. The chain keeps the numbers the quorum agreed on (in key order, which is the
//! properties' order), so a verified result names its material and values with nothing
//! fetched: [`run_of`] checks every one of those ties and gives the run, or nothing.

use metamesh_primitives::{
    Hash,
    compute::{JobSpec, RUN_OK, VERIFY_QUORUM},
    knowledge::{AlgorithmProperty, AlgorithmSpec, MIN_RUN_REPLICAS},
};
use metamesh_state::{Algorithm, ComputeResult};
use metamesh_storage::{HashOnly, Profile, import_bytes};
use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term, vocab::xsd};
use serde_json::{Value, json};

use crate::{
    optimade::{
        Database,
        database::{Entry, structure_iri},
    },
    vocab::{self, PROV, QUDT, RDF, RDFS, SCHEMA, UNIT, mm, term},
};

pub const JOB_PREFIX: &str = "bmci:";
pub const STRUCTURE_JSON: &str = "structure.json";
pub const STRUCTURE_XYZ: &str = "structure.xyz";

/// The name of a job that runs `algorithm`.
pub fn job_name(algorithm: &Hash) -> String {
    format!("{JOB_PREFIX}0x{}", hex::encode(algorithm))
}

/// The algorithm a job's name says it runs.
pub fn algorithm_of(job_name: &str) -> Option<Hash> {
    let h = job_name.strip_prefix(JOB_PREFIX)?.strip_prefix("0x")?;
    hex::decode(h).ok()?.try_into().ok()
}

/// A material's case files: its structure as OPTIMADE attributes (`structure.json`) and as
/// extended XYZ (`structure.xyz`, which ASE and most codes read).
pub fn case_files(entry: &Entry) -> [(&'static str, Vec<u8>); 2] {
    let a = &entry.attributes;
    let json = json!({
        "id": entry.id,
        "chemical_formula_reduced": a["chemical_formula_reduced"],
        "elements": a["elements"],
        "nsites": a["nsites"],
        "lattice_vectors": a["lattice_vectors"],
        "species_at_sites": a["species_at_sites"],
        "cartesian_site_positions": a["cartesian_site_positions"],
    });
    let mut json_bytes = serde_json::to_vec(&json).expect("a JSON value");
    json_bytes.push(b'\n');
    [
        (STRUCTURE_JSON, json_bytes),
        (STRUCTURE_XYZ, xyz(entry).into_bytes()),
    ]
}

fn xyz(entry: &Entry) -> String {
    let a = &entry.attributes;
    let numbers = |v: &Value| -> Vec<f64> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect()
    };
    let lattice: Vec<String> = a["lattice_vectors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(&numbers)
        .map(|x| format!("{x:.10}"))
        .collect();
    let species: Vec<&str> = a["species_at_sites"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let positions = a["cartesian_site_positions"].as_array();
    let mut out = format!(
        "{}\nLattice=\"{}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\" id={}\n",
        species.len(),
        lattice.join(" "),
        entry.id
    );
    for (i, s) in species.iter().enumerate() {
        let p = positions
            .and_then(|p| p.get(i))
            .map(numbers)
            .unwrap_or_default();
        let c = |k: usize| p.get(k).copied().unwrap_or(0.0);
        out.push_str(&format!("{s} {:.10} {:.10} {:.10}\n", c(0), c(1), c(2)));
    }
    out
}

/// The binary CID a file of `bytes` gets from `data add` (Kubo's default profile).
pub fn file_cid(bytes: &[u8]) -> Vec<u8> {
    import_bytes(Profile::KUBO_DEFAULT, bytes, HashOnly)
        .expect("hashing in memory cannot fail")
        .cid
        .to_bytes()
}

/// The shape (every number 0) an algorithm's output has: one key per property, as the agent
/// hashes it for the comparator.
pub fn output_shape(alg: &AlgorithmSpec) -> String {
    let m: serde_json::Map<String, Value> = alg
        .properties
        .iter()
        .map(|p| (p.name.clone(), Value::from(0)))
        .collect();
    Value::Object(m).to_string()
}

/// A verified run of an algorithm on a material: what it computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub algorithm: Hash,
    pub algorithm_name: String,
    pub material: String,
    pub values: Vec<(AlgorithmProperty, f64)>,
}

/// The run a verified result is, or `None`: it must be a task of a job named for the
/// algorithm and submitted while the algorithm stood (after its registration, before any
/// retirement), verified by a quorum of at least [`MIN_RUN_REPLICAS`] compared on the
/// algorithm's output within its tolerances, with the algorithm's program, executor,
/// arguments, software, fuel and walltime, no network, accelerator or link to steer it to
/// chosen providers, the material's case files as its only inputs, a successful run, an
/// output of exactly the properties' keys and one finite agreed number per property.
pub fn run_of(
    suite: metamesh_crypto::Suite,
    job: (&JobSpec, u64),
    result: &ComputeResult,
    algorithm: (&Hash, &Algorithm),
    db: &Database,
) -> Option<Run> {
    let ((job, submitted), (id, record)) = (job, algorithm);
    let alg = &record.spec;
    if algorithm_of(&job.name)? != *id || !record.runs_jobs_of(submitted) {
        return None;
    }
    let task = job.tasks.get(usize::try_from(result.task).ok()?)?;
    let entry = db.structures.iter().find(|e| e.id == task.name)?;
    let c = &task.comparator;
    let within = |bits: u64, max: u64| f64::from_bits(bits) <= f64::from_bits(max);
    let same_run = task.program == alg.program
        && task.executor == alg.executor
        && task.args == alg.args
        && task.software == alg.software
        && (task.fuel, task.walltime) == (alg.fuel, alg.walltime)
        && !task.network
        && task.resources.accelerators.is_empty()
        && task.resources.link == 0
        && task.verification == VERIFY_QUORUM
        && task.replicas >= MIN_RUN_REPLICAS
        && c.file == alg.output
        && within(c.rtol, alg.rtol)
        && within(c.atol, alg.atol)
        && result.result.status == RUN_OK;
    if !same_run {
        return None;
    }
    let mut inputs: Vec<(&str, &[u8])> = task
        .inputs
        .iter()
        .map(|i| (i.name.as_str(), &i.cid[..]))
        .collect();
    inputs.sort();
    let files = case_files(entry);
    let expected: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (*n, file_cid(b))).collect();
    let matches = inputs.len() == expected.len()
        && inputs
            .iter()
            .zip(&expected)
            .all(|((n, c), (m, d))| n == m && *c == d.as_slice());
    if !matches
        || result.result.values.len() != alg.properties.len()
        || result.result.shape.0 != suite.hash(output_shape(alg).as_bytes())
    {
        return None;
    }
    let values: Vec<(AlgorithmProperty, f64)> = alg
        .properties
        .iter()
        .zip(&result.result.values)
        .map(|(p, bits)| (p.clone(), f64::from_bits(*bits)))
        .collect();
    values.iter().all(|(_, v)| v.is_finite()).then(|| Run {
        algorithm: *id,
        algorithm_name: alg.name.clone(),
        material: entry.id.clone(),
        values,
    })
}

/// The quads a run adds to its result's graph: the result is about the material and carries
/// each property as a QUDT quantity.
pub fn quads(graph: &NamedNode, result: &NamedNode, run: &Run, time: u64) -> Vec<Quad> {
    let g = GraphName::NamedNode(graph.clone());
    let mut out = Vec::new();
    let mut add =
        |s: &NamedNode, p: NamedNode, o: Term| out.push(Quad::new(s.clone(), p, o, g.clone()));
    let material = structure_iri(&run.material);
    add(result, mm("bmciMaterial"), material.clone().into());
    add(
        result,
        mm("bmciAlgorithm"),
        vocab::algorithm(&run.algorithm).into(),
    );
    add(result, mm("bmciTime"), Literal::from(time).into());
    add(&material, mm("computedBy"), result.clone().into());
    for (p, v) in &run.values {
        let q = NamedNode::new_unchecked(format!("{}#{}", result.as_str(), p.name));
        add(result, mm("computed"), q.clone().into());
        add(&q, term(RDF, "type"), term(QUDT, "QuantityValue").into());
        add(
            &q,
            mm("property"),
            Literal::new_simple_literal(&p.name).into(),
        );
        add(
            &q,
            term(QUDT, "numericValue"),
            Literal::new_typed_literal(v.to_string(), xsd::DOUBLE).into(),
        );
        if !p.unit.is_empty() {
            add(&q, term(QUDT, "unit"), term(UNIT, &p.unit).into());
        }
        if !p.description.is_empty() {
            add(
                &q,
                term(RDFS, "comment"),
                Literal::new_simple_literal(&p.description).into(),
            );
        }
    }
    out
}

/// The quads of a registered algorithm (in its `algorithmRegistered` graph).
pub fn algorithm_quads(
    graph: &NamedNode,
    id: &Hash,
    owner: &metamesh_crypto::Address,
    spec: Option<&AlgorithmSpec>,
) -> Vec<Quad> {
    let g = GraphName::NamedNode(graph.clone());
    let mut out = Vec::new();
    let mut add =
        |s: &NamedNode, p: NamedNode, o: Term| out.push(Quad::new(s.clone(), p, o, g.clone()));
    let a = vocab::algorithm(id);
    add(&a, term(RDF, "type"), term(PROV, "Plan").into());
    add(
        &a,
        term(RDF, "type"),
        term(SCHEMA, "SoftwareSourceCode").into(),
    );
    add(&a, term(RDF, "type"), mm("BmciAlgorithm").into());
    add(
        &a,
        term(PROV, "wasAttributedTo"),
        vocab::account(owner).into(),
    );
    add(graph, mm("about"), a.clone().into());
    let Some(spec) = spec else { return out };
    add(
        &a,
        term(SCHEMA, "name"),
        Literal::new_simple_literal(&spec.name).into(),
    );
    if !spec.description.is_empty() {
        add(
            &a,
            term(SCHEMA, "description"),
            Literal::new_simple_literal(&spec.description).into(),
        );
    }
    if let Ok(cid) = metamesh_storage::cid_from_bytes(&spec.program) {
        add(&a, mm("program"), vocab::content(&cid.to_string()).into());
    }
    for p in &spec.properties {
        add(
            &a,
            mm("computesProperty"),
            Literal::new_simple_literal(&p.name).into(),
        );
    }
    out
}

/// One computed value of a material, read back from the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    /// The record graph it was read from.
    pub graph: String,
    pub material: String,
    pub result: String,
    pub algorithm: String,
    pub property: String,
    pub unit: String,
    pub description: String,
    pub value: f64,
    pub time: u64,
}

/// Every computed value the graph holds (whatever graphs reorgs have left).
///
/// Only a chain record's graph (`urn:metamesh:graph:0x…`, which the indexer alone writes) is
/// read, and each run only from its own graph: no other graph can add or change a value.
/// `only`: one graph's values alone.
pub fn computed(store: &oxigraph::store::Store, only: Option<&NamedNode>) -> Vec<Computed> {
    let text = |t: Option<Term>| match t {
        Some(Term::Literal(l)) => l.value().to_owned(),
        Some(Term::NamedNode(n)) => n.into_string(),
        _ => String::new(),
    };
    let prefix = structure_iri("");
    let mut out = Vec::new();
    for q in store
        .quads_for_pattern(
            None,
            Some(mm("bmciMaterial").as_ref()),
            None,
            only.map(|g| g.as_ref().into()),
        )
        .filter_map(Result::ok)
    {
        let GraphName::NamedNode(graph) = &q.graph_name else {
            continue;
        };
        if !graph.as_str().starts_with("urn:metamesh:graph:0x")
            || !q.subject.to_string().starts_with("<urn:metamesh:result:")
        {
            continue;
        }
        let object = |s: &oxigraph::model::NamedOrBlankNode, p: &NamedNode| {
            store
                .quads_for_pattern(
                    Some(s.as_ref()),
                    Some(p.as_ref()),
                    None,
                    Some(graph.as_ref().into()),
                )
                .filter_map(Result::ok)
                .map(|q| q.object)
                .next()
        };
        let result = q.subject.clone();
        let material = text(Some(q.object.clone()));
        let Some(material) = material.strip_prefix(prefix.as_str()) else {
            continue;
        };
        let algorithm = text(object(&result, &mm("bmciAlgorithm")));
        let time = text(object(&result, &mm("bmciTime"))).parse().unwrap_or(0);
        for c in store
            .quads_for_pattern(
                Some(result.as_ref()),
                Some(mm("computed").as_ref()),
                None,
                Some(graph.as_ref().into()),
            )
            .filter_map(Result::ok)
        {
            let Term::NamedNode(node) = c.object else {
                continue;
            };
            let node = oxigraph::model::NamedOrBlankNode::from(node);
            let Ok(value) = text(object(&node, &term(QUDT, "numericValue"))).parse::<f64>() else {
                continue;
            };
            let unit = text(object(&node, &term(QUDT, "unit")));
            out.push(Computed {
                graph: graph.as_str().to_owned(),
                material: material.to_owned(),
                result: result.to_string().trim_matches(['<', '>']).to_owned(),
                algorithm: algorithm.clone(),
                property: text(object(&node, &mm("property"))),
                unit: unit.strip_prefix(UNIT).unwrap_or(&unit).to_owned(),
                description: text(object(&node, &term(RDFS, "comment"))),
                value,
                time,
            });
        }
    }
    out.sort_by(|a, b| (a.time, &a.result, &a.property).cmp(&(b.time, &b.result, &b.property)));
    out
}

#[cfg(test)]
#[path = "bmci_tests.rs"]
mod tests;
