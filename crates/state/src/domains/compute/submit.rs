//! Submitting a job (its graph checked, its price and placement reserve escrowed, its first
//! tasks queued) and cancelling one.

use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash,
    compute::{
        ACCELERATOR_KINDS, EXECUTORS, JobSpec, LINK_KINDS, PRESETS, TaskSpec, VERIFY_QUORUM,
        VERIFY_ZK,
    },
};
use metamesh_storage::cid_from_bytes;
use metamesh_trie::NodeStore;

use super::{
    ComputeCounts, ComputeEvent, JOB_CANCELLED, JOB_RUNNING, Job, TASK_WAITING, Task,
    compute_account, enqueue, job_id, verify::end_job,
};
use crate::{Code, Event, Exec, Outcome, domains::TxContext, exec::reject};

/// A name a file under `/in` or `/out` may have: one path component.
pub fn file_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
}

/// Software a run needs: at most 32 names, sorted and distinct.
pub fn software_list_ok(names: &[String]) -> bool {
    names.len() <= 32
        && names.windows(2).all(|w| w[0] < w[1])
        && names.iter().all(|s| software_name_ok(s))
}

/// A task name: a file name without `:` (which separates task and output in job files).
fn task_name_ok(name: &str) -> bool {
    file_name_ok(name) && !name.contains(':') && name.len() <= 64
}

fn check_task(i: usize, t: &TaskSpec, n: usize, p: &crate::Params) -> Outcome {
    let ix = i as u128;
    let malformed = || reject(Code::BadTask, &[ix]);
    if !task_name_ok(&t.name)
        // A native task may name no program: its command is software the provider offers.
        || !(t.executor != 0 && t.program.is_empty() && !t.args.is_empty()
            || cid_from_bytes(&t.program).is_ok())
        || usize::from(t.executor) >= EXECUTORS.len()
        || t.verification > VERIFY_ZK
        || t.args.len() > 256
        || t.inputs.len() > 256
        || t.resources.link as usize > LINK_KINDS.len()
        || t.resources.accelerators.len() > 8
        || t.resources
            .accelerators
            .iter()
            .any(|a| usize::from(a.kind) >= ACCELERATOR_KINDS.len() || a.count == 0)
    {
        return malformed();
    }
    let zk = t.verification == VERIFY_ZK;
    let ascending = t.pinned.windows(2).all(|w| w[0].index < w[1].index);
    if zk != (t.circuit != [0; 32])
        || zk && (t.replicas != 1 || !t.comparator.is_exact())
        || !zk && !t.pinned.is_empty()
        || !ascending
    {
        return reject(Code::BadZkTask, &[ix]);
    }
    let max_replicas = if t.verification != VERIFY_QUORUM {
        1
    } else {
        p.compute_max_replicas
    };
    if !(1..=max_replicas).contains(&t.replicas) {
        return reject(
            Code::BadTaskReplicas,
            &[ix, u128::from(t.replicas), u128::from(max_replicas)],
        );
    }
    check_native(ix, t, p)?;
    if t.executor == 0 && !(1..=p.compute_max_fuel).contains(&t.fuel) {
        return reject(
            Code::BadFuel,
            &[ix, u128::from(t.fuel), u128::from(p.compute_max_fuel)],
        );
    }
    let run_blocks = if t.executor == 0 {
        t.fuel.div_ceil(p.compute_fuel_per_block.max(1))
    } else {
        t.walltime.div_ceil(p.compute_block_seconds.max(1))
    };
    let shortest = 3u64.saturating_add(run_blocks);
    if !(shortest..=p.compute_max_timeout).contains(&t.timeout) {
        let (timeout, max) = (u128::from(t.timeout), u128::from(p.compute_max_timeout));
        return reject(Code::BadTimeout, &[ix, timeout, u128::from(shortest), max]);
    }
    for (k, a) in t.after.iter().enumerate() {
        if *a as usize >= n || *a as usize == i || t.after[..k].contains(a) {
            return reject(Code::BadDependency, &[ix, u128::from(*a)]);
        }
    }
    for (k, input) in t.inputs.iter().enumerate() {
        let repeated = t.inputs[..k].iter().any(|o| o.name == input.name);
        let source_ok = if input.cid.is_empty() {
            true
        } else {
            cid_from_bytes(&input.cid).is_ok() && input.output.is_empty() && input.task == 0
        };
        if !file_name_ok(&input.name) || repeated || !source_ok {
            return malformed();
        }
    }
    Ok(())
}

/// A software name: what an inventory lists and a task needs.
pub fn software_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+:".contains(&b))
}

/// What native executors (process, Slurm) ask of a task beyond Wasm's: a wall time and no
/// fuel, software names, a comparator only under the quorum.
fn check_native(ix: u128, t: &TaskSpec, p: &crate::Params) -> Outcome {
    let native = t.executor != 0;
    let walltime_ok = if native {
        (1..=p.compute_max_walltime).contains(&t.walltime) && t.fuel == 0
    } else {
        t.walltime == 0
    };
    if !walltime_ok {
        let args = [
            ix,
            u128::from(t.walltime),
            u128::from(p.compute_max_walltime),
        ];
        return reject(Code::BadWalltime, &args);
    }
    if !software_list_ok(&t.software) || t.retries > p.compute_max_retries {
        return reject(Code::BadSoftware, &[ix, u128::from(p.compute_max_retries)]);
    }
    let c = &t.comparator;
    if !c.is_exact() {
        let tol = |bits: u64| {
            let v = f64::from_bits(bits);
            v.is_finite() && v >= 0.0
        };
        if !file_name_ok(&c.file) || !tol(c.rtol) || !tol(c.atol) || t.verification != 0 {
            return reject(Code::BadComparator, &[ix]);
        }
    } else if c.rtol != 0 || c.atol != 0 {
        return reject(Code::BadComparator, &[ix]);
    }
    Ok(())
}

/// The tasks in an order where each comes after those it waits for; a task on a cycle if
/// there is none.
fn topological(spec: &JobSpec) -> Result<Vec<usize>, usize> {
    let n = spec.tasks.len();
    let mut waiting: Vec<usize> = spec.tasks.iter().map(|t| t.after.len()).collect();
    let mut ready: Vec<usize> = (0..n).filter(|i| waiting[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for (j, t) in spec.tasks.iter().enumerate() {
            if t.after.contains(&(i as u64)) {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.push(j);
                }
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err((0..n).find(|i| waiting[*i] > 0).expect("some task is left"))
    }
}

/// Every input read from another task names one it waits for, directly or not.
fn check_inputs(spec: &JobSpec, order: &[usize]) -> Outcome {
    let n = spec.tasks.len();
    let mut ancestors = vec![vec![false; n]; n];
    for &i in order {
        for &a in &spec.tasks[i].after {
            let a = a as usize;
            let above = ancestors[a].clone();
            let row = &mut ancestors[i];
            row[a] = true;
            for (r, up) in row.iter_mut().zip(above) {
                *r |= up;
            }
        }
    }
    for (i, t) in spec.tasks.iter().enumerate() {
        for (k, input) in t.inputs.iter().enumerate() {
            if input.cid.is_empty()
                && !(usize::try_from(input.task).is_ok_and(|a| a < n && ancestors[i][a])
                    && super::submit::file_name_ok(&input.output))
            {
                return reject(Code::UnknownInput, &[i as u128, k as u128]);
            }
        }
    }
    Ok(())
}

/// The gas of placing one task among `providers` (charged to the job's reserve).
pub(crate) fn placement_gas(p: &crate::Params, providers: u64) -> u64 {
    p.gas_placement
        .saturating_add(p.gas_placement_candidate.saturating_mul(providers))
}

pub(crate) fn submit<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    spec: &JobSpec,
) -> Outcome {
    let p = ex.params();
    let n = spec.tasks.len();
    if n == 0 || n as u64 > p.compute_max_tasks {
        return reject(
            Code::BadTaskCount,
            &[n as u128, u128::from(p.compute_max_tasks)],
        );
    }
    if usize::from(spec.preset) >= PRESETS.len()
        || !(spec.weights.is_empty()
            || spec.weights.len() == 7 && spec.weights.iter().any(|w| *w > 0))
    {
        return reject(Code::BadWeights, &[]);
    }
    // The graph checks walk every task and edge, and the ancestor table is n².
    let edges: usize = spec
        .tasks
        .iter()
        .map(|t| t.after.len() + t.inputs.len())
        .sum();
    ex.charge(p.gas_read.saturating_mul((n + edges + n * n / 64) as u64))?;
    for (i, t) in spec.tasks.iter().enumerate() {
        check_task(i, t, n, p)?;
        if t.verification == VERIFY_ZK {
            super::proven::check_task_circuit(ex, i, t)?;
        }
        if spec.tasks[..i].iter().any(|o| o.name == t.name) {
            return reject(Code::BadTask, &[i as u128]);
        }
    }
    let order = match topological(spec) {
        Ok(order) => order,
        Err(i) => return reject(Code::CyclicGraph, &[i as u128]),
    };
    check_inputs(spec, &order)?;
    let slots: u64 = spec.tasks.iter().map(|t| t.replicas).sum();
    let budget = Amount(spec.max_price.0 / u128::from(slots));
    if budget == Amount::ZERO {
        return reject(Code::NoBudget, &[spec.max_price.0, n as u128]);
    }
    // Placements the job may need: each task once, and again for each extra or retried replica.
    let counts = ex.load::<ComputeCounts>(&())?.unwrap_or_default();
    let placements =
        n as u128 * u128::from(1 + p.compute_max_extra_replicas + p.compute_max_retries);
    let per = u128::from(placement_gas(p, counts.providers.max(16) * 2));
    let Some(reserve) = tx
        .gas_price
        .0
        .checked_mul(per)
        .and_then(|g| g.checked_mul(placements))
        .map(Amount)
    else {
        return reject(Code::JobEscrowOverflow, &[]);
    };
    let Some(held) = spec.max_price.checked_add(reserve) else {
        return reject(Code::JobEscrowOverflow, &[]);
    };
    ex.transfer(&tx.sender, &compute_account(ex.suite()), held)?;
    let id = job_id(ex.suite(), &tx.sender, tx.nonce);
    let job = Job {
        owner: tx.sender,
        spec: spec.clone(),
        state: JOB_RUNNING,
        escrow: spec.max_price,
        reserve,
        gas_price: tx.gas_price,
        submitted: ex.env().number,
        ..Job::default()
    };
    for (i, t) in spec.tasks.iter().enumerate() {
        let mut task = Task {
            state: TASK_WAITING,
            budget,
            wanted: t.replicas,
            ..Task::default()
        };
        if t.after.is_empty() {
            enqueue(ex, &id, i as u64, &mut task)?;
        }
        ex.save(&(id, i as u64), &task)?;
    }
    ex.save(&id, &job)?;
    ex.emit(Event::Compute(ComputeEvent::Submitted {
        job: id,
        owner: tx.sender,
        tasks: n as u64,
        escrow: spec.max_price,
        reserve,
    }))
}

pub(crate) fn cancel<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
) -> Outcome {
    let Some(job) = ex.load::<Job>(id)? else {
        return reject(Code::NoSuchJob, &[]);
    };
    if job.owner != me {
        return reject(Code::NotJobOwner, &[]);
    }
    if job.state != JOB_RUNNING {
        return reject(Code::JobEnded, &[]);
    }
    end_job(ex, id, job, JOB_CANCELLED, 0, 0)
}
