//! A job file made into the chain's `JobSpec`: paths added to the node, task names resolved
//! to indices, a zk task's pinned claims resolved to the circuit's claim indices.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, anyhow, bail};
use metamesh_compute::inventory::{JobFile, ProgramFile, Source, source};
use metamesh_primitives::{
    Hash,
    compute::{Bytes, Input, JobSpec, TaskSpec, ZK_BINDINGS},
};
use metamesh_storage::parse_cid;
use serde_json::json;

use super::client::RpcArgs;

/// A task circuit's claims (its public inputs other than the bindings), in order, from the
/// node's registry.
fn claim_names(rpc: &RpcArgs, circuit: &Hash) -> anyhow::Result<Vec<String>> {
    let id = format!("0x{}", hex::encode(circuit));
    let c = rpc.call("mm_getCircuit", json!([id]))?;
    let names: Vec<String> = serde_json::from_value(c["inputs"].clone()).map_err(|_| {
        anyhow!("no circuit {id} on this chain (`metamesh zk circuits` lists them)")
    })?;
    Ok(names
        .into_iter()
        .filter(|n| !ZK_BINDINGS.contains(&n.as_str()))
        .collect())
}

fn cid_bytes(text: &str) -> anyhow::Result<Bytes> {
    Ok(Bytes(parse_cid(text)?.to_bytes()))
}

/// A job file with its paths added to the node: the chain's `JobSpec`.
pub(crate) fn build(file: &Path, rpc: &RpcArgs) -> anyhow::Result<JobSpec> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let jf = JobFile::parse(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let names: Vec<&str> = jf.tasks.iter().map(|t| t.name.as_str()).collect();
    let is_cid = |s: &str| parse_cid(s).is_ok();
    let mut added: BTreeMap<PathBuf, Bytes> = BTreeMap::new();
    let mut add = |p: &str| -> anyhow::Result<Bytes> {
        let path = base.join(p);
        if let Some(c) = added.get(&path) {
            return Ok(c.clone());
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cid = Bytes(super::data::add_bytes(rpc, &name, &bytes)?.to_bytes());
        added.insert(path, cid.clone());
        Ok(cid)
    };
    let (preset, weights) = jf
        .scheduling()
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut tasks = Vec::new();
    for t in &jf.tasks {
        let native = JobFile::native(t).map_err(|e| anyhow!("{}: {e}", file.display()))?;
        let program = match &t.program {
            ProgramFile::Command { .. } => Bytes::default(),
            ProgramFile::File(f) => match source(f, &[], is_cid) {
                Source::Cid(c) => cid_bytes(&c)?,
                Source::Path(p) => add(&p)?,
                Source::Task { .. } => bail!("task {}: a program is a path or a CID", t.name),
            },
        };
        let mut inputs = Vec::new();
        for (name, from) in &t.inputs {
            inputs.push(match source(from, &names, is_cid) {
                Source::Cid(c) => Input {
                    name: name.clone(),
                    cid: cid_bytes(&c)?,
                    ..Input::default()
                },
                Source::Path(p) => Input {
                    name: name.clone(),
                    cid: add(&p)?,
                    ..Input::default()
                },
                Source::Task { task, output } => Input {
                    name: name.clone(),
                    task: names.iter().position(|n| *n == task).expect("a task name") as u64,
                    output,
                    ..Input::default()
                },
            });
        }
        let mut after = Vec::new();
        for a in &t.after {
            match names.iter().position(|n| n == a) {
                Some(i) => after.push(i as u64),
                None => bail!(
                    "task {}: after = [\"{a}\"] names no task of the job",
                    t.name
                ),
            }
        }
        let (verification, replicas) = JobFile::verification(t).map_err(|e| anyhow!("{e}"))?;
        let circuit = JobFile::circuit(t).map_err(|e| anyhow!("{e}"))?;
        let pinned = if circuit == [0; 32] {
            Vec::new()
        } else {
            JobFile::pinned(t, &claim_names(rpc, &circuit)?).map_err(|e| anyhow!("{e}"))?
        };
        tasks.push(TaskSpec {
            name: t.name.clone(),
            program,
            args: native.args,
            inputs,
            resources: t.resources.resolve(&t.name).map_err(|e| anyhow!("{e}"))?,
            executor: native.executor,
            verification,
            replicas,
            timeout: native.timeout,
            after,
            fuel: native.fuel,
            walltime: native.walltime,
            software: native.software,
            network: t.network,
            retries: t.retries,
            comparator: JobFile::comparator(t).map_err(|e| anyhow!("{e}"))?,
            circuit,
            pinned,
        });
    }
    Ok(JobSpec {
        name: jf.name.clone(),
        max_price: jf.max_price().map_err(|e| anyhow!("{e}"))?,
        preset,
        weights: Bytes(weights),
        gang: jf.gang,
        tasks,
    })
}
