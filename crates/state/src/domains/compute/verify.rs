//! Commit, reveal, the quorum's decision, the submitter's decision, settlement, and the end of
//! tasks and jobs.

use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash,
    compute::{Bytes, RUN_OK, RUN_PROVIDER, RUN_STATUS, RunResult, VERIFY_REQUESTER, VERIFY_ZK},
};
use metamesh_storage::cid_from_bytes;
use metamesh_trie::NodeStore;

use super::{
    ComputeEvent, JOB_RUNNING, Job, Provider, REPLICA_ACTIVE, REPLICA_AGREED, REPLICA_OUTVOTED,
    Replica, TASK_REVIEW, TASK_RUNNING, Task, agree::agree, bump_capacity, commitment, enqueue,
    rate, result_digest, set_due, slash, submit::file_name_ok,
};
use crate::{Code, Event, Exec, Outcome, domains::TxContext, exec::reject};

fn load_running<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    index: u64,
) -> Outcome<(Job, Task)> {
    let Some(job) = ex.load::<Job>(id)? else {
        return reject(Code::NoSuchJob, &[]);
    };
    if job.state != JOB_RUNNING {
        return reject(Code::JobEnded, &[]);
    }
    let Some(task) = ex.load::<Task>(&(*id, index))? else {
        return reject(Code::NoSuchTask, &[u128::from(index)]);
    };
    Ok((job, task))
}

fn my_replica(task: &Task, me: &Address, index: u64) -> Outcome<usize> {
    match task
        .replicas
        .iter()
        .position(|r| r.provider == *me && r.state == REPLICA_ACTIVE)
    {
        Some(r) if task.state == TASK_RUNNING => Ok(r),
        _ => reject(Code::NotAssigned, &[u128::from(index)]),
    }
}

pub(crate) fn active(task: &Task) -> impl Iterator<Item = &Replica> {
    task.replicas.iter().filter(|r| r.state == REPLICA_ACTIVE)
}

/// Whether reveals are open: every wanted replica has committed.
fn reveals_open(task: &Task) -> bool {
    active(task).filter(|r| r.commitment != [0; 32]).count() >= task.wanted as usize
}

/// Whether a replica owes something by its deadline: a commitment, or (once reveals are open)
/// its reveal. One that committed waits for the others without a deadline of its own.
pub(crate) fn owing(task: &Task, r: &Replica) -> bool {
    r.state == REPLICA_ACTIVE && !r.revealed && (r.commitment == [0; 32] || reveals_open(task))
}

/// When a task next needs the chain's attention: its earliest replica deadline, or, while it
/// waits for missing replicas with none owing anything, `timeout` blocks from now (then it
/// fails as `unplaced`).
pub(crate) fn due_while_waiting(task: &Task, number: u64, timeout: u64) -> u64 {
    match next_deadline(task) {
        0 if task.queued != 0 => number + timeout,
        next => next,
    }
}

/// The earliest deadline among the replicas still owing something (0: none).
pub(crate) fn next_deadline(task: &Task) -> u64 {
    active(task)
        .filter(|r| owing(task, r))
        .map(|r| r.deadline)
        .min()
        .unwrap_or(0)
}

pub(crate) fn commit<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
    index: u64,
    c: &Hash,
) -> Outcome {
    let (_, mut task) = load_running(ex, id, index)?;
    let r = my_replica(&task, &me, index)?;
    if task.replicas[r].commitment != [0; 32] {
        return reject(Code::AlreadyCommitted, &[]);
    }
    task.replicas[r].commitment = *c;
    task.replicas[r].committed_at = ex.env().timestamp;
    if reveals_open(&task) {
        // Reveals open: everyone gets at least the reveal window to answer.
        let until = ex.env().number + ex.params().compute_reveal_window;
        for r in task
            .replicas
            .iter_mut()
            .filter(|r| r.state == REPLICA_ACTIVE)
        {
            r.deadline = r.deadline.max(until);
        }
        let due = next_deadline(&task);
        set_due(ex, id, index, &mut task, due)?;
    }
    ex.save(&(*id, index), &task)?;
    ex.emit(Event::Compute(ComputeEvent::Committed {
        job: *id,
        task: index,
        provider: me,
    }))
}

/// The most outputs a result may name.
pub const MAX_OUTPUTS: usize = 64;

fn result_ok(result: &RunResult, fuel: u64) -> bool {
    usize::from(result.status) < RUN_STATUS.len()
        && super::agree::values_ok(result)
        && result.fuel <= fuel
        && result.outputs.len() <= MAX_OUTPUTS
        && result.claims.len() <= crate::domains::zk::MAX_INPUTS
        && result.outputs.windows(2).all(|w| w[0].name < w[1].name)
        && result
            .outputs
            .iter()
            .all(|o| file_name_ok(&o.name) && cid_from_bytes(&o.cid).is_ok())
}

pub(crate) fn reveal<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    (id, index, salt): (&Hash, u64, &Hash),
    (result, logs, proof): (&RunResult, &Bytes, &Bytes),
) -> Outcome {
    let me = tx.sender;
    let (job, mut task) = load_running(ex, id, index)?;
    let r = my_replica(&task, &me, index)?;
    let spec = &job.spec.tasks[index as usize];
    let replica = &task.replicas[r];
    if replica.commitment == [0; 32] {
        return reject(Code::NotCommitted, &[]);
    }
    if replica.revealed {
        return reject(Code::AlreadyRevealed, &[]);
    }
    let committed = active(&task).filter(|r| r.commitment != [0; 32]).count();
    if !reveals_open(&task) {
        return reject(
            Code::RevealsClosed,
            &[u128::from(task.wanted), committed as u128],
        );
    }
    if !result_ok(result, spec.fuel) || !(logs.is_empty() || cid_from_bytes(logs).is_ok()) {
        return reject(Code::BadResult, &[]);
    }
    // Only a zk task's successful run carries a proof and claims; it must carry the proof.
    let zk = spec.verification == VERIFY_ZK;
    let proven = zk && result.status == RUN_OK;
    if proven == proof.is_empty() || !proven && !result.claims.is_empty() {
        return reject(Code::UnprovenResult, &[]);
    }
    let encoded = alloy_rlp::encode(result);
    ex.charge_hash(encoded.len())?;
    ex.charge_hash(84)?;
    let suite = ex.suite();
    let digest = result_digest(suite, result);
    if commitment(suite, &digest, salt, &me) != replica.commitment {
        return reject(Code::CommitmentMismatch, &[]);
    }
    if result.status == RUN_PROVIDER {
        return withdraw(ex, me, id, job, index, task, r, (result, logs), false);
    }
    // A zk task's failed run proves nothing: it is neither paid nor slashed, and the task is
    // tried elsewhere while its retries last, then fails.
    if zk && !proven {
        return withdraw(ex, me, id, job, index, task, r, (result, logs), true);
    }
    if proven {
        let evidence = (result, logs, proof, digest);
        return super::proven::judge(ex, tx, id, job, index, task, r, evidence);
    }
    record_reveal(ex, (id, index, &mut task, r), (result, logs, digest))?;
    let revealed = active(&task).filter(|r| r.revealed).count();
    if revealed < task.wanted as usize {
        let due = next_deadline(&task);
        set_due(ex, id, index, &mut task, due)?;
        return ex.save(&(*id, index), &task);
    }
    decide_quorum(ex, id, job, index, task)
}

/// Keeps replica `r`'s revealed result (the task's first reveal block too) and emits
/// `resultRevealed`.
pub(super) fn record_reveal<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    (id, index, task, r): (&Hash, u64, &mut Task, usize),
    (result, logs, digest): (&RunResult, &Bytes, Hash),
) -> Outcome {
    if task.first_reveal == 0 {
        task.first_reveal = ex.env().number;
    }
    let replica = &mut task.replicas[r];
    replica.revealed = true;
    replica.digest = digest;
    replica.result = result.clone();
    replica.logs = logs.clone();
    let provider = replica.provider;
    ex.emit(Event::Compute(ComputeEvent::Revealed {
        job: *id,
        task: index,
        provider,
        digest,
    }))
}

/// A replica whose provider could not run the task (missing software, a sandbox or cluster
/// failure) withdraws: it takes no part in the vote and is not paid nor slashed, and the task
/// is placed again elsewhere after its back-off, as after a timeout. A `run_failed` withdrawal
/// (a zk task's failed run, which nobody can check) counts against the task's own retries:
/// past them, once two providers' runs have failed, the task fails with the run's status.
#[allow(clippy::too_many_arguments)]
pub(super) fn withdraw<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
    mut job: Job,
    index: u64,
    mut task: Task,
    r: usize,
    (result, logs): (&RunResult, &Bytes),
    run_failed: bool,
) -> Outcome {
    let mut replica = task.replicas[r].clone();
    replica.revealed = true;
    replica.result = result.clone();
    replica.logs = logs.clone();
    end_replica(ex, &mut job, index, &mut replica, super::REPLICA_FAILED)?;
    task.replicas[r] = replica;
    ex.emit(Event::Compute(ComputeEvent::Revealed {
        job: *id,
        task: index,
        provider: me,
        digest: [0; 32],
    }))?;
    task.retries += 1;
    // Nobody checks a zk task's failed run: one provider's word does not end the job.
    if run_failed
        && task.retries > job.spec.tasks[index as usize].retries
        && failed_runs(&task) >= 2
    {
        let args = [u128::from(result.status), u128::from(result.code)];
        return fail_task(ex, id, job, index, task, Code::RunFailed, &args);
    }
    if task.retries > ex.params().compute_max_retries {
        let retries = u128::from(task.retries);
        return fail_task(ex, id, job, index, task, Code::RetriesExhausted, &[retries]);
    }
    requeue_after_backoff(ex, id, &job, index, task)?;
    ex.save(id, &job)
}

/// How many providers reported a failed run of the task (not a provider failure).
fn failed_runs(task: &Task) -> usize {
    let mut who: Vec<Address> = task
        .replicas
        .iter()
        .filter(|r| {
            r.state == super::REPLICA_FAILED
                && r.result.status != RUN_OK
                && r.result.status != RUN_PROVIDER
        })
        .map(|r| r.provider)
        .collect();
    who.sort_by_key(|a| a.0);
    who.dedup();
    who.len()
}

/// Queues a task again once its back-off (from its retries so far) has passed, due to fail as
/// `unplaced` if nothing takes it within its timeout from then; saves it.
pub(crate) fn requeue_after_backoff<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: &Job,
    index: u64,
    mut task: Task,
) -> Outcome {
    let number = ex.env().number;
    task.not_before = number + super::place::backoff(ex.params(), task.retries);
    enqueue(ex, id, index, &mut task)?;
    let timeout = job.spec.tasks[index as usize].timeout;
    let next = due_while_waiting(&task, task.not_before, timeout);
    set_due(ex, id, index, &mut task, next)?;
    ex.save(&(*id, index), &task)
}

/// All wanted replicas have revealed: accept a strict majority, add a replica on a tie, or
/// fail the task.
fn decide_quorum<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: Job,
    index: u64,
    mut task: Task,
) -> Outcome {
    let spec = &job.spec.tasks[index as usize];
    if spec.verification == VERIFY_REQUESTER {
        task.state = TASK_REVIEW;
        task.review_until = ex.env().number + ex.params().compute_review_window;
        let until = task.review_until;
        set_due(ex, id, index, &mut task, until)?;
        ex.save(&(*id, index), &task)?;
        return ex.save(id, &job);
    }
    let votes: Vec<&RunResult> = active(&task).map(|r| &r.result).collect();
    // Comparing numbers is work in proportion to the replicas squared and their numbers.
    let values = votes.iter().map(|r| r.values.len()).max().unwrap_or(0);
    let pairs = (votes.len() * votes.len()) as u64;
    ex.charge(
        ex.params()
            .gas_read
            .saturating_mul(pairs * (1 + values as u64 / 256)),
    )?;
    // The first result a strict majority agrees with (under a comparator agreement need not
    // be transitive; the first such is the one every node picks).
    let majority = votes
        .iter()
        .find(|a| votes.iter().filter(|b| agree(spec, a, b)).count() * 2 > votes.len())
        .map(|a| (*a).clone());
    match majority {
        Some(leader) => accept(ex, id, job, index, task, leader, true),
        None if task.wanted < spec.replicas + ex.params().compute_max_extra_replicas => {
            task.wanted += 1;
            task.state = TASK_RUNNING;
            enqueue(ex, id, index, &mut task)?;
            let next = due_while_waiting(&task, ex.env().number, spec.timeout);
            set_due(ex, id, index, &mut task, next)?;
            ex.save(&(*id, index), &task)?;
            ex.save(id, &job)
        }
        None => {
            let extra = task.wanted - spec.replicas;
            let n = votes.len() as u128;
            fail_task(
                ex,
                id,
                job,
                index,
                task,
                Code::NoMajority,
                &[n, u128::from(extra)],
            )
        }
    }
}

pub(crate) fn decide<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
    index: u64,
    yes: bool,
) -> Outcome {
    let (job, task) = load_running(ex, id, index)?;
    if job.owner != me {
        return reject(Code::NotJobOwner, &[]);
    }
    if task.state != TASK_REVIEW {
        return reject(Code::NotInReview, &[u128::from(index)]);
    }
    if yes {
        let leader = active(&task)
            .next()
            .map(|r| r.result.clone())
            .unwrap_or_default();
        accept(ex, id, job, index, task, leader, false)
    } else {
        fail_task(ex, id, job, index, task, Code::RejectedByOwner, &[])
    }
}

/// The submitter let the review window pass: the result stands.
pub(crate) fn accept_review<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: Job,
    index: u64,
    task: Task,
) -> Outcome {
    let leader = active(&task)
        .next()
        .map(|r| r.result.clone())
        .unwrap_or_default();
    accept(ex, id, job, index, task, leader, false)
}

/// Gives back what a replica held of its provider's inventory.
pub(crate) fn release<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &Job,
    index: u64,
    r: &Replica,
    p: &mut Provider,
) -> Outcome {
    let need = &job.spec.tasks[index as usize].resources;
    p.used.cpu = p.used.cpu.saturating_sub(need.cpu);
    p.used.memory = p.used.memory.saturating_sub(need.memory);
    p.used.disk = p.used.disk.saturating_sub(need.disk);
    for (entry, n) in r.accelerators.iter().zip(&need.accelerators) {
        if let Some(u) = p.used.accelerators.get_mut(*entry as usize) {
            *u = u.saturating_sub(n.count);
        }
    }
    p.running = p.running.saturating_sub(1);
    bump_capacity(ex)
}

/// Ends one active replica: releases its provider's capacity, rates it, and slashes it
/// unless it is `good`; returns what was slashed.
pub(crate) fn end_replica<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &mut Job,
    index: u64,
    r: &mut Replica,
    state: u8,
) -> Outcome<Amount> {
    job.held = job.held.checked_sub(r.max).unwrap_or_default();
    let Some(mut p) = ex.load::<Provider>(&r.provider)? else {
        r.state = state;
        return Ok(Amount::ZERO);
    };
    release(ex, job, index, r, &mut p)?;
    let params = ex.params();
    let number = ex.env().number;
    let mut slashed = Amount::ZERO;
    let (step, half_life) = (
        params.compute_quality_step,
        params.compute_quality_half_life,
    );
    let faulty = state == REPLICA_OUTVOTED || state == super::REPLICA_TIMED_OUT;
    if state == REPLICA_AGREED {
        rate(&mut p, true, number, step, half_life);
        p.agreed += 1;
    } else if faulty {
        rate(&mut p, false, number, step, half_life);
        slashed = slash(ex, &mut p)?;
        if state == REPLICA_OUTVOTED {
            p.outvoted += 1;
        } else {
            p.timeouts += 1;
        }
    }
    r.state = state;
    ex.save(&r.provider, &p)?;
    Ok(slashed)
}

pub(crate) use super::settle::{accept, end_job, fail_task};
