//! `bmci` without a chain: the case files a run must use, every tie `run_of` checks
//! between a verified result, its job and the algorithm (each broken one refused), the graph a
//! run writes read back by `computed` (only from chain record graphs), and the merged view
//! OPTIMADE serves and filters on.

use metamesh_crypto::Suite;
use metamesh_primitives::{
    compute::{
        Bytes, Comparator, Input, JobSpec, RUN_EXIT, RUN_OK, RunResult, TaskSpec, VERIFY_REQUESTER,
    },
    knowledge::{AlgorithmProperty, AlgorithmSpec},
};
use metamesh_state::{Algorithm, ComputeResult};
use oxigraph::{
    model::{GraphName, NamedNode, Quad},
    store::Store,
};
use serde_json::Value;

use crate::{
    bmci::{self, Computed, Run},
    optimade::{self, Database, live::merge},
};

const HBN: &str = "aflow-AB_hP4_194_c_d";
const SUITE: Suite = Suite::Sm;

fn algorithm() -> AlgorithmSpec {
    let prop = |name: &str, unit: &str| AlgorithmProperty {
        name: name.into(),
        unit: unit.into(),
        description: format!("the {name}"),
    };
    AlgorithmSpec {
        name: "density".into(),
        program: Bytes(bmci::file_cid(b"\0asm program")),
        args: vec!["/in/structure.xyz".into()],
        output: "properties.json".into(),
        properties: vec![
            prop("density", "GM-PER-CentiM3"),
            prop("volume_per_atom", "ANGSTROM3"),
        ],
        fuel: 1_000,
        rtol: 1e-9f64.to_bits(),
        atol: 1e-12f64.to_bits(),
        ..AlgorithmSpec::default()
    }
}

const OWNER: metamesh_crypto::Address = metamesh_crypto::Address([4; 20]);
/// The algorithm's block; jobs in these tests are submitted in block 20.
const REGISTERED: u64 = 10;
const SUBMITTED: u64 = 20;

fn id() -> [u8; 32] {
    metamesh_state::algorithm_id(SUITE, &OWNER, &algorithm())
}

fn record() -> Algorithm {
    Algorithm {
        owner: OWNER,
        block: REGISTERED,
        time: 1_000,
        spec: algorithm(),
        retired: 0,
    }
}

/// A job running the algorithm on `material`, as `metamesh bmci run` builds it, and the
/// result its quorum accepted.
fn run(db: &Database, material: &str) -> (JobSpec, ComputeResult) {
    let alg = algorithm();
    let entry = db.structures.iter().find(|e| e.id == material).unwrap();
    let inputs = bmci::case_files(entry)
        .iter()
        .map(|(n, b)| Input {
            name: (*n).into(),
            cid: Bytes(bmci::file_cid(b)),
            ..Input::default()
        })
        .collect();
    let task = TaskSpec {
        name: material.into(),
        program: alg.program.clone(),
        args: alg.args.clone(),
        inputs,
        replicas: 2,
        fuel: alg.fuel,
        comparator: Comparator {
            file: alg.output.clone(),
            rtol: 1e-9f64.to_bits(),
            atol: 0,
        },
        software: alg.software.clone(),
        walltime: alg.walltime,
        ..TaskSpec::default()
    };
    let job = JobSpec {
        name: bmci::job_name(&id()),
        tasks: vec![task],
        ..JobSpec::default()
    };
    let result = ComputeResult {
        job: [9; 32],
        task: 0,
        name: material.into(),
        result: RunResult {
            status: RUN_OK,
            values: vec![2.2787f64.to_bits(), 9.0425f64.to_bits()],
            shape: Bytes(SUITE.hash(bmci::output_shape(&alg).as_bytes()).to_vec()),
            ..RunResult::default()
        },
        ..ComputeResult::default()
    };
    (job, result)
}

fn run_of(db: &Database, job: &JobSpec, result: &ComputeResult) -> Option<Run> {
    run_at(db, job, result, SUBMITTED, &record())
}

fn run_at(
    db: &Database,
    job: &JobSpec,
    result: &ComputeResult,
    submitted: u64,
    record: &Algorithm,
) -> Option<Run> {
    bmci::run_of(SUITE, (job, submitted), result, (&id(), record), db)
}

#[test]
fn case_files_are_the_structure_as_json_and_extended_xyz() {
    let db = Database::seed().unwrap();
    let entry = db.structures.iter().find(|e| e.id == HBN).unwrap();
    let [(json_name, json), (xyz_name, xyz)] = bmci::case_files(entry);
    assert_eq!((json_name, xyz_name), ("structure.json", "structure.xyz"));
    assert_eq!(
        bmci::case_files(entry)[1].1,
        xyz,
        "the same bytes every time"
    );
    let doc: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(doc["id"], HBN);
    assert_eq!(doc["nsites"], 4);
    let text = String::from_utf8(xyz).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "4");
    assert!(lines[1].starts_with("Lattice=\""), "{}", lines[1]);
    assert!(lines[1].contains("Properties=species:S:1:pos:R:3"));
    assert_eq!(lines.len(), 6);
    let species: Vec<&str> = lines[2..]
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(species.iter().filter(|s| **s == "B").count(), 2);
    assert_eq!(species.iter().filter(|s| **s == "N").count(), 2);
}

#[test]
fn only_jobs_submitted_while_the_algorithm_stood_are_its_runs() {
    let db = Database::seed().unwrap();
    let (job, result) = run(&db, HBN);
    let mut r = record();
    assert!(
        run_at(&db, &job, &result, REGISTERED, &r).is_none(),
        "same block"
    );
    assert!(
        run_at(&db, &job, &result, REGISTERED - 1, &r).is_none(),
        "before"
    );
    r.retired = 30;
    assert!(
        run_at(&db, &job, &result, 29, &r).is_some(),
        "before retirement"
    );
    assert!(run_at(&db, &job, &result, 30, &r).is_none(), "retired");
}

#[test]
fn a_verified_run_names_its_material_and_values() {
    let db = Database::seed().unwrap();
    let (job, result) = run(&db, HBN);
    let r = run_of(&db, &job, &result).expect("a BMCI run");
    assert_eq!((r.material.as_str(), r.algorithm), (HBN, id()));
    let values: Vec<(&str, f64)> = r
        .values
        .iter()
        .map(|(p, v)| (p.name.as_str(), *v))
        .collect();
    assert_eq!(
        values,
        vec![("density", 2.2787), ("volume_per_atom", 9.0425)]
    );
}

#[test]
fn every_broken_tie_is_no_run() {
    let db = Database::seed().unwrap();
    type Break = fn(&mut JobSpec, &mut ComputeResult);
    let cases: &[(&str, Break)] = &[
        ("another job name", |j, _| j.name = "density".into()),
        ("another algorithm", |j, _| {
            j.name = bmci::job_name(&[1; 32])
        }),
        ("another program", |j, _| {
            j.tasks[0].program = Bytes(bmci::file_cid(b"other"))
        }),
        ("other arguments", |j, _| {
            j.tasks[0].args = vec!["/in/structure.json".into()]
        }),
        ("another executor", |j, _| j.tasks[0].executor = 1),
        ("the requester's word", |j, _| {
            j.tasks[0].verification = VERIFY_REQUESTER
        }),
        ("a comparator on another file", |j, _| {
            j.tasks[0].comparator.file = "other.json".into()
        }),
        ("no such material", |j, _| {
            j.tasks[0].name = "aflow-nothing".into()
        }),
        ("another material's files", |j, _| {
            j.tasks[0].name = "aflow-A_hR12_166_2h".into()
        }),
        ("an input too many", |j, _| {
            j.tasks[0].inputs.push(Input {
                name: "extra".into(),
                cid: Bytes(bmci::file_cid(b"x")),
                ..Input::default()
            })
        }),
        ("an input renamed", |j, _| {
            j.tasks[0].inputs[0].name = "s.json".into()
        }),
        ("a failed run", |_, r| r.result.status = RUN_EXIT),
        ("a value short", |_, r| {
            r.result.values.pop();
        }),
        ("a value not finite", |_, r| {
            r.result.values[0] = f64::INFINITY.to_bits()
        }),
        ("an output of other keys", |_, r| {
            r.result.shape = Bytes(SUITE.hash(br#"{"a":0,"b":0}"#).to_vec())
        }),
        ("a task that is not in the job", |_, r| r.task = 1),
        ("one replica", |j, _| j.tasks[0].replicas = 1),
        ("a looser rtol", |j, _| {
            j.tasks[0].comparator.rtol = 1e-3f64.to_bits()
        }),
        ("a looser atol", |j, _| {
            j.tasks[0].comparator.atol = f64::MAX.to_bits()
        }),
        ("software only some offer", |j, _| {
            j.tasks[0].software = vec!["only-mine".into()]
        }),
        ("other fuel", |j, _| j.tasks[0].fuel = 999),
        ("the network", |j, _| j.tasks[0].network = true),
        ("a link only some have", |j, _| {
            j.tasks[0].resources.link = 1
        }),
        ("an accelerator", |j, _| {
            j.tasks[0].resources.accelerators.push(Default::default())
        }),
    ];
    for (what, break_it) in cases {
        let (mut job, mut result) = run(&db, HBN);
        break_it(&mut job, &mut result);
        assert_eq!(run_of(&db, &job, &result), None, "{what}");
    }
}

fn record_graph() -> NamedNode {
    NamedNode::new("urn:metamesh:graph:0x0102").unwrap()
}

fn result_iri() -> NamedNode {
    NamedNode::new("urn:metamesh:result:0x09/0").unwrap()
}

/// A store holding the run's graph as the indexer writes it.
fn stored(r: &Run) -> Store {
    let store = Store::new().unwrap();
    store
        .extend(bmci::quads(
            &record_graph(),
            &result_iri(),
            r,
            1_700_000_000,
        ))
        .unwrap();
    store
}

#[test]
fn computed_values_come_back_from_record_graphs_only() {
    let db = Database::seed().unwrap();
    let (job, result) = run(&db, HBN);
    let r = run_of(&db, &job, &result).unwrap();
    let store = stored(&r);
    let c = bmci::computed(&store, None);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(
        (
            c[0].material.as_str(),
            c[0].property.as_str(),
            c[0].unit.as_str(),
            c[0].value
        ),
        (HBN, "density", "GM-PER-CentiM3", 2.2787)
    );
    assert_eq!(c[0].result, "urn:metamesh:result:0x09/0");

    // The same statements in a graph the indexer does not write (an uploaded or private one)
    // make no value, and no other graph adds one to a real run.
    let forged = Store::new().unwrap();
    let other = NamedNode::new("urn:metamesh:private:mine").unwrap();
    forged
        .extend(bmci::quads(&other, &result_iri(), &r, 1))
        .unwrap();
    assert!(bmci::computed(&forged, None).is_empty());
    let mut fake = r.clone();
    fake.values[0].1 = 99.0;
    store
        .extend(
            bmci::quads(&other, &result_iri(), &fake, 1)
                .into_iter()
                .map(|q| Quad {
                    graph_name: GraphName::NamedNode(other.clone()),
                    ..q
                }),
        )
        .unwrap();
    assert_eq!(bmci::computed(&store, None), c);

    // In a record graph, only a result's statements count.
    let not_a_result = NamedNode::new("urn:metamesh:job:0x09").unwrap();
    let record = Store::new().unwrap();
    record
        .extend(bmci::quads(&record_graph(), &not_a_result, &r, 1))
        .unwrap();
    assert!(bmci::computed(&record, None).is_empty());
}

fn value(material: &str, property: &str, unit: &str, value: f64, time: u64) -> Computed {
    Computed {
        graph: format!("urn:metamesh:graph:0x{time:02x}"),
        material: material.into(),
        result: format!("urn:metamesh:result:0x{time:02x}/0"),
        algorithm: format!("urn:metamesh:algorithm:0x{time:02x}"),
        property: property.into(),
        unit: unit.into(),
        description: String::new(),
        value,
        time,
    }
}

#[test]
fn the_latest_value_in_the_first_unit_is_shown_with_what_it_came_from() {
    let seed = Database::seed().unwrap();
    let db = merge(
        &seed,
        &[
            value(HBN, "density", "GM-PER-CentiM3", 2.1, 1),
            value(HBN, "density", "GM-PER-CentiM3", 2.2, 2),
            // Another unit for the same property: left out, not served as if it were g/cm3.
            value(HBN, "density", "KiloGM-PER-M3", 2280.0, 3),
        ],
    );
    let a = &db
        .structures
        .iter()
        .find(|e| e.id == HBN)
        .unwrap()
        .attributes;
    assert_eq!(a["_bmci_computed_density"], 2.2);
    assert_eq!(
        a["_bmci_computed_results"],
        serde_json::json!(["urn:metamesh:result:0x02/0"]),
        "only the result behind the value shown"
    );
    let d = db
        .computed
        .iter()
        .find(|p| p.name == "_bmci_computed_density")
        .unwrap();
    assert_eq!(d.unit.as_deref(), Some("GM-PER-CentiM3"));
}

#[test]
fn the_served_view_follows_written_and_dropped_graphs() {
    let bmci = optimade::Bmci::new(Database::seed().unwrap());
    let shown = |b: &optimade::Bmci| {
        b.current()
            .structures
            .iter()
            .find(|e| e.id == HBN)
            .unwrap()
            .attributes
            .get("_bmci_computed_density")
            .cloned()
    };
    assert_eq!(shown(&bmci), None);
    let (old, new) = (
        value(HBN, "density", "GM-PER-CentiM3", 2.1, 1),
        value(HBN, "density", "GM-PER-CentiM3", 2.2, 2),
    );
    bmci.update(vec![old.clone(), new.clone()], &[]);
    assert_eq!(shown(&bmci), Some(serde_json::json!(2.2)));
    // A reorg drops the newer run's graph: the older value is back.
    bmci.update(vec![], std::slice::from_ref(&new.graph));
    assert_eq!(shown(&bmci), Some(serde_json::json!(2.1)));
    bmci.update(vec![], &[old.graph]);
    assert_eq!(shown(&bmci), None, "no run left, no field");
    bmci.reset(vec![new]);
    assert_eq!(shown(&bmci), Some(serde_json::json!(2.2)));
}

fn get(db: &Database, path: &str, query: &str) -> Value {
    let response = optimade::handle(
        db,
        &optimade::Request {
            path,
            query,
            base: "http://127.0.0.1/optimade",
            now: "2026-12-04T00:00:00Z",
        },
    );
    assert_eq!(response.status, 200, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

#[test]
fn computed_properties_are_served_and_filtered_over_optimade() {
    let seed = Database::seed().unwrap();
    let (job, result) = run(&seed, HBN);
    let r = run_of(&seed, &job, &result).unwrap();
    let store = stored(&r);
    let db = merge(&seed, &bmci::computed(&store, None));

    let hits = get(&db, "/v1/structures", "filter=_bmci_computed_density%3E2");
    let data = hits["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{hits}");
    let a = &data[0]["attributes"];
    assert_eq!(data[0]["id"], HBN);
    assert_eq!(a["_bmci_computed_density"], 2.2787);
    assert_eq!(a["_bmci_computed_volume_per_atom"], 9.0425);
    assert_eq!(
        a["_bmci_computed_results"],
        serde_json::json!(["urn:metamesh:result:0x09/0"])
    );
    assert_eq!(a["last_modified"], "2023-11-14T22:13:20Z");
    assert!(
        get(&db, "/v1/structures", "filter=_bmci_computed_density%3E3")["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The info endpoint describes the new fields with their units; the seed alone has none.
    let info = get(&db, "/v1/info/structures", "");
    let density = &info["data"]["properties"]["_bmci_computed_density"];
    assert_eq!(density["type"], "float", "{info}");
    assert_eq!(density["unit"], "GM-PER-CentiM3");
    let bare = get(&seed, "/v1/info/structures", "");
    assert!(bare["data"]["properties"]["_bmci_computed_density"].is_null());
}

/// The seed's texts are plain Unicode: BibTeX's LaTeX (`f\"ur`, `$\alpha$`) is converted when
/// it is built, so no value carries a backslash (which OPTIMADE filters would have to escape,
/// and clients often do not).
#[test]
fn seed_texts_carry_no_latex() {
    let db = Database::seed().unwrap();
    let mut texts = Vec::new();
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    for e in db.structures.iter().chain(&db.references) {
        walk(&e.attributes, &mut texts);
    }
    assert!(texts.len() > 1_000);
    let latex: Vec<&&str> = texts.iter().filter(|t| t.contains(['\\', '$'])).collect();
    assert!(latex.is_empty(), "{latex:?}");
    assert!(texts.iter().any(|t| t.contains("Zeitschrift für")));
}
