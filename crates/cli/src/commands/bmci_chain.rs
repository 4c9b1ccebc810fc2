//! `metamesh bmci grant | register | algorithms | run`: BMCI on chain — roles from the
//! parameters authority, algorithms registered from a TOML file, and an algorithm run on
//! materials as a compute job whose verified results become the materials' computed
//! properties (the knowledge indexer reads them into the graph and OPTIMADE).

use std::{path::Path, process::ExitCode};

use anyhow::{Context as _, anyhow, bail};
use metamesh_crypto::Address;
use metamesh_knowledge::{bmci, optimade::Database};
use metamesh_primitives::{
    Amount, ComputeAction, KnowledgeAction,
    compute::{Bytes, Comparator, EXECUTORS, Input, JobSpec, Resources, TaskSpec, VERIFY_QUORUM},
    knowledge::{AlgorithmProperty, AlgorithmSpec, ROLES},
};
use metamesh_storage::parse_cid;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait};
use crate::{Context, output::table};

/// An algorithm file (`examples/bmci-density/algorithm.toml`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AlgorithmFile {
    name: String,
    #[serde(default)]
    description: String,
    /// A path beside the file (added to the node) or a CID; none for a native command.
    program: Option<String>,
    #[serde(default = "wasm")]
    executor: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    software: Vec<String>,
    output: String,
    #[serde(default)]
    fuel: u64,
    #[serde(default)]
    walltime: u64,
    /// The widest tolerances a run's replicas may be compared under.
    #[serde(default = "default_rtol")]
    rtol: f64,
    #[serde(default = "default_atol")]
    atol: f64,
    properties: Vec<PropertyFile>,
}

fn default_rtol() -> f64 {
    1e-9
}

fn default_atol() -> f64 {
    1e-12
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PropertyFile {
    name: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    description: String,
}

fn wasm() -> String {
    "wasm".into()
}

pub fn role_number(name: &str) -> anyhow::Result<u8> {
    ROLES
        .iter()
        .position(|r| !r.is_empty() && *r == name)
        .map(|i| i as u8)
        .ok_or_else(|| anyhow!("no role {name:?}: the roles are {}", ROLES[1..].join(", ")))
}

pub fn grant(
    ctx: &Context,
    account: Address,
    role: &str,
    revoke: bool,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let action = KnowledgeAction::GrantRole {
        account,
        role: role_number(role)?,
        granted: !revoke,
    };
    let receipt = send_and_wait(ctx, rpc, sender, action.into())?;
    let roles = rpc.call("mm_getRoles", json!([account.to_string()]))?;
    ctx.out.emit(&roles, || {
        format!(
            "{} {role} {} {account} in block {}; it holds: {}",
            if revoke { "revoked" } else { "granted" },
            if revoke { "from" } else { "to" },
            receipt["blockNumber"],
            names(&roles["roles"])
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn names(v: &Value) -> String {
    let n: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if n.is_empty() {
        "no role".into()
    } else {
        n.join(", ")
    }
}

/// An algorithm file made into the chain's spec, its program added to the node.
fn spec_of(file: &Path, rpc: &RpcArgs) -> anyhow::Result<AlgorithmSpec> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let f: AlgorithmFile =
        toml::from_str(&text).map_err(|e| anyhow!("{}: {}", file.display(), e.message()))?;
    let executor = EXECUTORS
        .iter()
        .position(|e| *e == f.executor)
        .ok_or_else(|| {
            anyhow!(
                "{}: executor {:?} is none of {}",
                file.display(),
                f.executor,
                EXECUTORS.join(", ")
            )
        })? as u8;
    let program = match &f.program {
        None => Bytes::default(),
        Some(p) if parse_cid(p).is_ok() => Bytes(parse_cid(p)?.to_bytes()),
        Some(p) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(p);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            Bytes(super::data::add_bytes(rpc, p, &bytes)?.to_bytes())
        }
    };
    let mut properties: Vec<AlgorithmProperty> = f
        .properties
        .into_iter()
        .map(|p| AlgorithmProperty {
            name: p.name,
            unit: p.unit,
            description: p.description,
        })
        .collect();
    // The chain keeps them sorted, as the output's numbers come in key order.
    properties.sort_by(|a, b| a.name.cmp(&b.name));
    let mut software = f.software;
    software.sort();
    Ok(AlgorithmSpec {
        name: f.name,
        description: f.description,
        program,
        executor,
        args: f.args,
        software,
        output: f.output,
        properties,
        fuel: f.fuel,
        walltime: f.walltime,
        rtol: f.rtol.to_bits(),
        atol: f.atol.to_bits(),
    })
}

pub fn register(
    ctx: &Context,
    file: &Path,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let spec = spec_of(file, rpc)?;
    let receipt = send_and_wait(
        ctx,
        rpc,
        sender,
        KnowledgeAction::RegisterAlgorithm { spec: spec.clone() }.into(),
    )?;
    let id = receipt["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "algorithmRegistered")
        .and_then(|e| e["algorithm"].as_str())
        .ok_or_else(|| anyhow!("the receipt has no algorithmRegistered event"))?
        .to_owned();
    ctx.out.emit(
        &json!({"algorithm": id, "block": receipt["blockNumber"]}),
        || {
            format!(
                "registered algorithm {id} ({}) in block {}",
                spec.name, receipt["blockNumber"]
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

pub fn algorithms(ctx: &Context, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let list = rpc.call("mm_listAlgorithms", json!([]))?;
    ctx.out.emit(&list, || {
        let rows: Vec<Vec<String>> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let props: Vec<String> = a["spec"]["properties"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "{} ({})",
                            p["name"].as_str().unwrap_or(""),
                            p["unit"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                vec![
                    a["id"].as_str().unwrap_or("").to_owned(),
                    a["spec"]["name"].as_str().unwrap_or("").to_owned(),
                    a["spec"]["executor"].as_str().unwrap_or("").to_owned(),
                    props.join(", "),
                    a["owner"].as_str().unwrap_or("").to_owned(),
                ]
            })
            .collect();
        if rows.is_empty() {
            return "no algorithm is registered (`metamesh bmci register FILE`)".into();
        }
        table(&["ID", "NAME", "EXECUTOR", "PROPERTIES", "OWNER"], &rows)
    });
    Ok(ExitCode::SUCCESS)
}

/// What a run may cost and how long a replica has.
pub struct RunOptions {
    pub max_price: Amount,
    pub timeout: u64,
}

/// The job that runs `algorithm` on `materials`, their case files added to the node.
fn run_job(
    rpc: &RpcArgs,
    id: &metamesh_primitives::Hash,
    alg: &AlgorithmSpec,
    materials: &[String],
    o: &RunOptions,
) -> anyhow::Result<JobSpec> {
    let db = Database::seed().map_err(|e| anyhow!("the BMCI seed: {e}"))?;
    let mut tasks = Vec::new();
    for m in materials {
        let entry = db.structures.iter().find(|e| &e.id == m).ok_or_else(|| {
            anyhow!("no BMCI material {m:?} (`metamesh bmci search` finds their ids)")
        })?;
        let mut inputs = Vec::new();
        for (name, bytes) in bmci::case_files(entry) {
            let cid = super::data::add_bytes(rpc, name, &bytes)?;
            inputs.push(Input {
                name: name.into(),
                cid: Bytes(cid.to_bytes()),
                ..Input::default()
            });
        }
        tasks.push(TaskSpec {
            name: m.clone(),
            program: alg.program.clone(),
            args: alg.args.clone(),
            inputs,
            resources: Resources {
                cpu: 1,
                memory: 256 << 20,
                ..Resources::default()
            },
            executor: alg.executor,
            verification: VERIFY_QUORUM,
            replicas: 2,
            timeout: o.timeout,
            fuel: alg.fuel,
            walltime: alg.walltime,
            software: alg.software.clone(),
            // As wide as the algorithm allows, so replicas on different machines agree.
            comparator: Comparator {
                file: alg.output.clone(),
                rtol: alg.rtol,
                atol: alg.atol,
            },
            ..TaskSpec::default()
        });
    }
    Ok(JobSpec {
        name: bmci::job_name(id),
        max_price: o.max_price,
        tasks,
        ..JobSpec::default()
    })
}

fn parse_algorithm(text: &str) -> anyhow::Result<metamesh_primitives::Hash> {
    let h = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("{text:?} is no algorithm id (0x and 64 hex digits)"))
}

pub fn run(
    ctx: &Context,
    algorithm: &str,
    materials: &[String],
    o: &RunOptions,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    if materials.is_empty() {
        bail!("name at least one material: --on ID (`metamesh bmci search` finds ids)");
    }
    let id = parse_algorithm(algorithm)?;
    let record = rpc.call("mm_getAlgorithm", json!([format!("0x{}", hex::encode(id))]))?;
    if record.is_null() {
        bail!("no algorithm {algorithm} on this chain (`metamesh bmci algorithms` lists them)");
    }
    if let Some(block) = record["retired"].as_u64() {
        bail!("algorithm {algorithm} was retired in block {block}: its runs would not count");
    }
    let raw = record["raw"]
        .as_str()
        .and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
        .ok_or_else(|| anyhow!("the node's mm_getAlgorithm gave no raw spec"))?;
    let alg: AlgorithmSpec = alloy_rlp::Decodable::decode(&mut raw.as_slice())
        .map_err(|e| anyhow!("the node's algorithm spec does not decode: {e}"))?;
    let job = run_job(rpc, &id, &alg, materials, o)?;
    let receipt = send_and_wait(ctx, rpc, sender, ComputeAction::Submit { job }.into())?;
    let job_id = receipt["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "jobSubmitted")
        .and_then(|e| e["job"].as_str())
        .ok_or_else(|| anyhow!("the receipt names no submitted job"))?
        .to_owned();
    ctx.out.emit(
        &json!({"job": job_id, "algorithm": record["id"], "materials": materials,
                "block": receipt["blockNumber"]}),
        || {
            format!(
                "job {job_id} runs {} on {} material(s); follow it with `metamesh job status {job_id}`",
                alg.name,
                materials.len()
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// Retires an algorithm (its owner or the parameters authority signs): jobs submitted after
/// this block are no runs of it; earlier runs stand.
pub fn retire(
    ctx: &Context,
    algorithm: &str,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let id = parse_algorithm(algorithm)?;
    let receipt = send_and_wait(
        ctx,
        rpc,
        sender,
        KnowledgeAction::RetireAlgorithm { algorithm: id }.into(),
    )?;
    let shown = format!("0x{}", hex::encode(id));
    ctx.out.emit(
        &json!({"algorithm": shown, "retired": receipt["blockNumber"]}),
        || {
            format!(
                "retired algorithm {shown} in block {}",
                receipt["blockNumber"]
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}
