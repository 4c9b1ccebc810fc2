//! How the computing network's actions, events and records look in JSON.

use metamesh_crypto::Address;
use metamesh_primitives::{
    ComputeAction, Hash,
    compute::{
        ACCELERATOR_KINDS, EXECUTORS, Inventory, JobSpec, LINK_KINDS, Output, PRESETS, RUN_STATUS,
        Resources, RunResult, TaskSpec, VERIFY_QUORUM, VERIFY_REQUESTER, VERIFY_ZK,
    },
};
use metamesh_scheduler::STRATEGIES;
use metamesh_state::{
    Code, ComputeEvent, ComputeResult, Explained, Job, Provider, Rejection, Task,
    domains::compute::{
        JOB_RUNNING, JOB_STATES, REPLICA_ACTIVE, REPLICA_AGREED, REPLICA_STATES, TASK_QUEUED,
        TASK_STATES,
    },
};
use serde_json::{Map, Value, json};

use crate::json::{amount, cid_text, hex0x};

fn name(table: &[&str], i: impl Into<u64>) -> Value {
    let i = i.into();
    table.get(i as usize).map_or_else(|| json!(i), |n| json!(n))
}

fn executors(bits: u64) -> Vec<&'static str> {
    EXECUTORS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

pub fn inventory(inv: &Inventory) -> Value {
    json!({
        "cpu": {"cores": inv.cpu.cores, "model": inv.cpu.model, "benchmark": inv.cpu.benchmark,
            "priceHour": inv.cpu.price_hour.to_string()},
        "memory": inv.memory, "memoryPriceHour": inv.memory_price_hour.to_string(), "disk": inv.disk,
        "accelerators": inv.accelerators.iter().map(|a| json!({
            "kind": name(&ACCELERATOR_KINDS, a.kind), "model": a.model, "memory": a.memory,
            "count": a.count, "benchmark": a.benchmark, "priceHour": a.price_hour.to_string(),
        })).collect::<Vec<_>>(),
        "links": inv.links.iter().map(|l| json!({
            "kind": name(&LINK_KINDS, l.kind), "bandwidth": l.bandwidth, "latency": l.latency,
        })).collect::<Vec<_>>(),
        "region": inv.region,
        "executors": executors(inv.executors),
        "fuelPrice": inv.fuel_price.0.to_string(),
        "software": inv.software, "network": inv.network,
        "endpoint": if inv.endpoint.is_empty() { Value::Null } else { json!(inv.endpoint) },
    })
}

pub fn resources(r: &Resources) -> Value {
    json!({
        "cpu": r.cpu, "memory": r.memory, "disk": r.disk,
        "accelerators": r.accelerators.iter().map(|a| json!({
            "kind": name(&ACCELERATOR_KINDS, a.kind), "model": a.model, "memory": a.memory, "count": a.count,
        })).collect::<Vec<_>>(),
        "link": if r.link == 0 { Value::Null } else { name(&LINK_KINDS, r.link - 1) },
    })
}

fn task_spec(t: &TaskSpec, spec: &JobSpec) -> Value {
    json!({
        "name": t.name,
        "program": cid_text(&t.program),
        "args": t.args,
        "inputs": t.inputs.iter().map(|i| if i.cid.is_empty() {
            let from = spec.tasks.get(i.task as usize).map_or_else(|| i.task.to_string(), |t| t.name.clone());
            json!({"name": i.name, "from": format!("{from}:{}", i.output)})
        } else {
            json!({"name": i.name, "cid": cid_text(&i.cid)})
        }).collect::<Vec<_>>(),
        "resources": resources(&t.resources),
        "executor": name(&EXECUTORS, t.executor),
        "verification": match t.verification {
            VERIFY_QUORUM => json!({"replicas": t.replicas}),
            VERIFY_ZK => json!({
                "zk": hex0x(&t.circuit),
                "claims": t.pinned.iter().map(|p| json!({
                    "index": p.index, "value": metamesh_zk::field::be_decimal(&p.value),
                })).collect::<Vec<_>>(),
            }),
            VERIFY_REQUESTER => json!("requester"),
            other => json!(format!("unknown ({other})")),
        },
        "timeout": t.timeout,
        "after": t.after.iter().map(|a| spec.tasks.get(*a as usize).map_or_else(|| a.to_string(), |t| t.name.clone())).collect::<Vec<_>>(),
        "fuel": t.fuel,
        "walltime": t.walltime,
        "software": t.software,
        "network": t.network,
        "retries": t.retries,
        "comparator": if t.comparator.is_exact() { Value::Null } else { json!({
            "json": t.comparator.file,
            "rtol": f64::from_bits(t.comparator.rtol),
            "atol": f64::from_bits(t.comparator.atol),
        }) },
    })
}

pub fn job_spec(spec: &JobSpec) -> Value {
    json!({
        "name": spec.name,
        "maxPrice": spec.max_price.to_string(),
        "preset": name(&PRESETS, spec.preset),
        "weights": weights(&spec.weights),
        "gang": spec.gang,
        "tasks": spec.tasks.iter().map(|t| task_spec(t, spec)).collect::<Vec<_>>(),
    })
}

fn weights(w: &[u8]) -> Value {
    if w.len() != STRATEGIES.len() {
        return Value::Null;
    }
    let m: Map<String, Value> = STRATEGIES
        .iter()
        .zip(w)
        .map(|(s, v)| ((*s).to_owned(), json!(v)))
        .collect();
    Value::Object(m)
}

fn outputs(o: &[Output]) -> Value {
    Value::Array(
        o.iter()
            .map(|o| json!({"name": o.name, "cid": cid_text(&o.cid), "size": o.size}))
            .collect(),
    )
}

pub fn run_result(r: &RunResult) -> Value {
    json!({
        "status": name(&RUN_STATUS, r.status), "code": r.code, "fuel": r.fuel, "outputs": outputs(&r.outputs),
        "usage": {"wallMs": r.usage.wall_ms, "cpuMs": r.usage.cpu_ms, "memory": r.usage.memory},
        "values": r.values.iter().map(|v| f64::from_bits(*v)).collect::<Vec<_>>(),
        "claims": r.claims.iter().map(|c| metamesh_zk::field::be_decimal(c)).collect::<Vec<_>>(),
    })
}

pub fn action(a: &ComputeAction) -> Value {
    match a {
        ComputeAction::Register {
            inventory: inv,
            stake,
        } => {
            json!({"inventory": inventory(inv), "stake": stake.to_string()})
        }
        ComputeAction::Heartbeat {
            load,
            free_cpu,
            free_memory,
            online,
        } => {
            json!({"load": load, "freeCpu": free_cpu, "freeMemory": free_memory, "online": online})
        }
        ComputeAction::Submit { job } => json!({"job": job_spec(job)}),
        ComputeAction::Commit {
            job,
            task,
            commitment,
        } => {
            json!({"job": hex0x(job), "task": task, "commitment": hex0x(commitment)})
        }
        ComputeAction::Reveal {
            job,
            task,
            salt,
            result,
            logs,
            proof,
        } => json!({
            "job": hex0x(job), "task": task, "salt": hex0x(salt), "result": run_result(result), "logs": cid_text(logs),
            "proof": (!proof.is_empty()).then(|| hex0x(proof)),
        }),
        ComputeAction::Decide { job, task, accept } => {
            json!({"job": hex0x(job), "task": task, "accept": accept})
        }
        ComputeAction::Cancel { job } => json!({"job": hex0x(job)}),
    }
}

fn explained(c: &Explained) -> Value {
    json!({"provider": c.provider.to_string(), "scores": weights(&c.scores), "total": c.total, "quote": c.quote.to_string()})
}

fn addresses(a: &[Address]) -> Vec<String> {
    a.iter().map(|a| a.to_string()).collect()
}

pub fn event(e: &ComputeEvent) -> Value {
    match e {
        ComputeEvent::Registered {
            provider,
            stake,
            cores,
            accelerators,
        } => json!({
            "provider": provider.to_string(), "stake": stake.to_string(), "cores": cores, "accelerators": accelerators,
        }),
        ComputeEvent::Submitted {
            job,
            owner,
            tasks,
            escrow,
            reserve,
        } => json!({
            "job": hex0x(job), "owner": owner.to_string(), "tasks": tasks, "escrow": escrow.to_string(),
            "reserve": reserve.to_string(),
        }),
        ComputeEvent::Queued {
            job,
            task,
            feasible,
        } => {
            json!({"job": hex0x(job), "task": task, "feasible": feasible})
        }
        ComputeEvent::Assigned {
            job,
            task,
            providers,
            deadline,
            feasible,
            candidates,
        } => json!({
            "job": hex0x(job), "task": task, "providers": addresses(providers), "deadline": deadline,
            "feasible": feasible, "candidates": candidates.iter().map(explained).collect::<Vec<_>>(),
        }),
        ComputeEvent::Committed {
            job,
            task,
            provider,
        } => {
            json!({"job": hex0x(job), "task": task, "provider": provider.to_string()})
        }
        ComputeEvent::Revealed {
            job,
            task,
            provider,
            digest,
        } => json!({
            "job": hex0x(job), "task": task, "provider": provider.to_string(), "digest": hex0x(digest),
        }),
        ComputeEvent::Accepted {
            job,
            task,
            digest,
            providers,
            fuel,
            paid,
            reward,
        } => json!({
            "job": hex0x(job), "task": task, "digest": hex0x(digest), "providers": addresses(providers),
            "fuel": fuel, "paid": paid.to_string(), "reward": reward.to_string(),
        }),
        ComputeEvent::Outvoted {
            job,
            task,
            provider,
            slashed,
        }
        | ComputeEvent::TimedOut {
            job,
            task,
            provider,
            slashed,
        } => json!({
            "job": hex0x(job), "task": task, "provider": provider.to_string(), "slashed": slashed.to_string(),
        }),
        ComputeEvent::ProofRejected {
            job,
            task,
            provider,
            code,
            slashed,
        } => {
            let reason = Code::from_u16(*code).map(|c| Rejection::with(c, &[]).message());
            json!({
                "job": hex0x(job), "task": task, "provider": provider.to_string(), "code": code,
                "reason": reason, "slashed": slashed.to_string(),
            })
        }
        ComputeEvent::TaskFailed {
            job,
            task,
            code,
            args,
        } => {
            let reason = Code::from_u16(*code).map(|c| Rejection::with(c, args).message());
            json!({"job": hex0x(job), "task": task, "code": code, "reason": reason})
        }
        ComputeEvent::JobEnded {
            job,
            owner,
            state,
            refund,
            reserve,
        } => json!({
            "job": hex0x(job), "owner": owner.to_string(), "state": name(&JOB_STATES, *state),
            "refund": refund.to_string(), "reserve": reserve.to_string(),
        }),
    }
}

/// A provider record, with whether it is online at `number` and its quality now.
pub fn provider(a: &Address, p: &Provider, number: u64, params: &metamesh_state::Params) -> Value {
    let online = number.saturating_sub(p.last_seen) <= params.compute_offline_after;
    json!({
        "type": "provider", "address": a.to_string(), "inventory": inventory(&p.inventory),
        "stake": amount(p.stake), "online": online, "lastSeen": p.last_seen,
        "used": {"cpu": p.used.cpu, "memory": p.used.memory, "disk": p.used.disk, "accelerators": p.used.accelerators},
        "running": p.running, "load": p.load, "freeCpu": p.free_cpu, "freeMemory": p.free_memory,
        "online": p.online,
        "quality": metamesh_state::domains::compute::quality_now(p, number, params.compute_quality_half_life),
        "agreed": p.agreed, "timeouts": p.timeouts, "outvoted": p.outvoted,
    })
}

fn task_view(spec: &TaskSpec, t: &Task, result: Option<&ComputeResult>) -> Value {
    let mut outs = Map::new();
    if let Some(r) = result {
        for o in &r.result.outputs {
            outs.insert(o.name.clone(), cid_text(&o.cid));
        }
    }
    let reason = Code::from_u16(t.code as u16)
        .filter(|_| t.code != 0)
        .map(|c| c.name());
    json!({
        "name": spec.name,
        "state": name(&TASK_STATES, t.state),
        "providers": t.replicas.iter().filter(|r| r.state == REPLICA_ACTIVE || r.state == REPLICA_AGREED).map(|r| r.provider.to_string()).collect::<Vec<_>>(),
        "outputs": outs,
        "digest": if t.digest == [0; 32] { Value::Null } else { json!(hex0x(&t.digest)) },
        "reason": reason,
        "wanted": t.wanted,
        "retries": t.retries,
        "notBefore": t.not_before,
        // Each provider's try and how it ended: a timeout, an outvoted or failed run.
        "attempts": t.replicas.iter().filter(|r| r.state != REPLICA_ACTIVE).map(|r| json!({
            "provider": r.provider.to_string(), "assigned": r.assigned,
            "outcome": name(&REPLICA_STATES, r.state),
            "status": r.revealed.then(|| name(&RUN_STATUS, r.result.status)),
        })).collect::<Vec<_>>(),
        "replicas": t.replicas.iter().map(|r| json!({
            "provider": r.provider.to_string(), "state": name(&REPLICA_STATES, r.state),
            "assigned": r.assigned, "deadline": r.deadline, "committed": r.commitment != [0; 32],
            "revealed": r.revealed, "digest": r.revealed.then(|| hex0x(&r.digest)),
            "result": r.revealed.then(|| run_result(&r.result)), "logs": cid_text(&r.logs),
            "paid": r.paid.to_string(), "max": r.max.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// A job with its tasks: the shape `job status --json` prints.
pub fn job(id: &Hash, job: &Job, tasks: &[(Task, Option<ComputeResult>)]) -> Value {
    let reason = (job.code != 0)
        .then(|| Code::from_u16(job.code as u16))
        .flatten()
        .map(|c| c.name());
    let state = if job.state == JOB_RUNNING && tasks.iter().all(|(t, _)| t.state <= TASK_QUEUED) {
        "pending"
    } else {
        JOB_STATES[usize::from(job.state.min(3))]
    };
    json!({
        "id": hex0x(id), "name": job.spec.name, "owner": job.owner.to_string(), "state": state,
        "submitted": job.submitted, "ended": if job.ended == 0 { Value::Null } else { json!(job.ended) },
        "escrow": amount(job.escrow), "held": amount(job.held), "reserve": amount(job.reserve), "paid": amount(job.paid),
        "reason": reason, "failedTask": (job.code != 0).then_some(job.failed_task),
        "spec": job_spec(&job.spec),
        "tasks": job.spec.tasks.iter().zip(tasks).map(|(s, (t, r))| task_view(s, t, r.as_ref())).collect::<Vec<_>>(),
    })
}

pub fn result(r: &ComputeResult) -> Value {
    json!({
        "type": "computeResult", "job": hex0x(&r.job), "task": r.task, "name": r.name,
        "program": cid_text(&r.program), "inputs": outputs(&r.inputs), "result": run_result(&r.result),
        "digest": hex0x(&r.digest), "providers": addresses(&r.providers), "block": r.block,
    })
}
