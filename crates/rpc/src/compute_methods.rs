//! `mm_getJob`, `mm_getProvider`, `mm_listProviders`, `mm_getComputeResult`: the computing
//! network's state at the head.

use metamesh_node::Chain;
use metamesh_state::{CollectionId, ComputeResult, Job, Provider, Task};
use serde_json::{Value, json};

use crate::{RpcError, compute_json as cj, methods::Params};

type Result<T> = std::result::Result<T, RpcError>;

pub fn is_compute(method: &str) -> bool {
    matches!(
        method,
        "mm_getJob" | "mm_getProvider" | "mm_listProviders" | "mm_getComputeResult"
    )
}

/// Providers one `mm_listProviders` call returns.
const PAGE: usize = 1_000;

pub fn dispatch(chain: &mut Chain, method: &str, p: &Params) -> Result<Value> {
    let state = chain.state();
    let number = chain.head().number;
    let params = chain.tip().params().clone();
    let read = |e: metamesh_state::StateError| RpcError::internal(e);
    match method {
        "mm_getJob" => {
            let id = p.hash(0, "job id")?;
            let Some(job) = state.load::<Job>(&id).map_err(read)? else {
                return Ok(Value::Null);
            };
            let mut tasks = Vec::new();
            for i in 0..job.spec.tasks.len() as u64 {
                let task = state
                    .load::<Task>(&(id, i))
                    .map_err(read)?
                    .unwrap_or_default();
                let result = state.load::<ComputeResult>(&(id, i)).map_err(read)?;
                tasks.push((task, result));
            }
            let mut v = cj::job(&id, &job, &tasks);
            zk_views(state.suite(), &job, &tasks, &mut v);
            Ok(v)
        }
        "mm_getComputeResult" => {
            let id = p.hash(0, "job id")?;
            let task = p.u64(1, "task index")?;
            let r = state.load::<ComputeResult>(&(id, task)).map_err(read)?;
            Ok(r.map_or(Value::Null, |r| cj::result(&r)))
        }
        "mm_getProvider" => {
            let address = p.address(0, "address")?;
            let pr: Option<Provider> = state.load(&address).map_err(read)?;
            Ok(pr.map_or(Value::Null, |pr| {
                cj::provider(&address, &pr, number, &params)
            }))
        }
        "mm_listProviders" => {
            let start = match p.0.first() {
                Some(Value::String(_)) => {
                    let mut k = p.address(0, "after")?.0.to_vec();
                    k.push(0);
                    k
                }
                _ => Vec::new(),
            };
            let mut out = Vec::new();
            for (key, _) in state
                .entries(CollectionId::Providers, &start, PAGE)
                .map_err(read)?
            {
                let Ok(a) = <[u8; 20]>::try_from(key.as_slice()) else {
                    continue;
                };
                let address = metamesh_crypto::Address(a);
                if let Some(pr) = state.load::<Provider>(&address).map_err(read)? {
                    out.push(cj::provider(&address, &pr, number, &params));
                }
            }
            Ok(json!(out))
        }
        other => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method {other} does not exist"),
        )),
    }
}

/// A zk task's circuit and the digest of its inputs as the chain binds them into the proof
/// (what its provider needs to prove).
fn zk_views(
    suite: metamesh_crypto::Suite,
    job: &Job,
    tasks: &[(Task, Option<ComputeResult>)],
    v: &mut Value,
) {
    use metamesh_state::domains::compute::{input_digest, resolve_with};
    for (i, spec) in job.spec.tasks.iter().enumerate() {
        if spec.verification != metamesh_primitives::compute::VERIFY_ZK {
            continue;
        }
        let Ok(inputs) = resolve_with::<std::convert::Infallible>(spec, |t| {
            Ok(tasks.get(t as usize).and_then(|(_, r)| r.clone()))
        });
        let digest = input_digest(suite, spec, &inputs);
        v["tasks"][i]["zk"] = serde_json::json!({
            "circuit": crate::json::hex0x(&spec.circuit),
            "inputsDigest": crate::json::hex0x(&digest),
        });
    }
}
