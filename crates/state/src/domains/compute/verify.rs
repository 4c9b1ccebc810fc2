//! Commit, reveal, the quorum's decision, the submitter's decision, settlement, and the end of
//! tasks and jobs.

use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash,
    compute::{Bytes, Output, RUN_OK, RUN_STATUS, RunResult, VERIFY_REQUESTER},
};
use metamesh_storage::cid_from_bytes;
use metamesh_trie::NodeStore;

use super::{
    ComputeEvent, ComputeResult, JOB_COMPLETED, JOB_FAILED, JOB_RUNNING, Job, Provider,
    REPLICA_ACTIVE, REPLICA_AGREED, REPLICA_DROPPED, REPLICA_OUTVOTED, Replica, TASK_CANCELLED,
    TASK_COMPLETED, TASK_FAILED, TASK_REVIEW, TASK_RUNNING, TASK_WAITING, Task, bump_capacity,
    commitment, compute_account, dequeue, enqueue, rate, result_digest, set_due, slash,
    submit::file_name_ok,
};
use crate::{
    Code, Event, Exec, Outcome,
    domains::accounts::{self, Payout},
    exec::reject,
};

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

fn active(task: &Task) -> impl Iterator<Item = &Replica> {
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
        && result.fuel <= fuel
        && result.outputs.len() <= MAX_OUTPUTS
        && result.outputs.windows(2).all(|w| w[0].name < w[1].name)
        && result
            .outputs
            .iter()
            .all(|o| file_name_ok(&o.name) && cid_from_bytes(&o.cid).is_ok())
}

pub(crate) fn reveal<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
    index: u64,
    salt: &Hash,
    result: &RunResult,
    logs: &Bytes,
) -> Outcome {
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
    let encoded = alloy_rlp::encode(result);
    ex.charge_hash(encoded.len())?;
    ex.charge_hash(84)?;
    let suite = ex.suite();
    let digest = result_digest(suite, result);
    if commitment(suite, &digest, salt, &me) != replica.commitment {
        return reject(Code::CommitmentMismatch, &[]);
    }
    if task.first_reveal == 0 {
        task.first_reveal = ex.env().number;
    }
    let replica = &mut task.replicas[r];
    replica.revealed = true;
    replica.digest = digest;
    replica.result = result.clone();
    replica.logs = logs.clone();
    ex.emit(Event::Compute(ComputeEvent::Revealed {
        job: *id,
        task: index,
        provider: me,
        digest,
    }))?;
    let revealed = active(&task).filter(|r| r.revealed).count();
    if revealed < task.wanted as usize {
        let due = next_deadline(&task);
        set_due(ex, id, index, &mut task, due)?;
        return ex.save(&(*id, index), &task);
    }
    decide_quorum(ex, id, job, index, task)
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
    let votes: Vec<Hash> = active(&task).map(|r| r.digest).collect();
    let majority = votes
        .iter()
        .find(|d| votes.iter().filter(|v| v == d).count() * 2 > votes.len())
        .copied();
    match majority {
        Some(digest) => accept(ex, id, job, index, task, digest, true),
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
        let digest = active(&task).next().map(|r| r.digest).unwrap_or_default();
        accept(ex, id, job, index, task, digest, false)
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
    let digest = active(&task).next().map(|r| r.digest).unwrap_or_default();
    accept(ex, id, job, index, task, digest, false)
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

/// Pays the agreeing replicas, settles the others, records the evidence, and completes (or,
/// for a failed run, fails) the task.
fn accept<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    mut job: Job,
    index: u64,
    mut task: Task,
    digest: Hash,
    quorum: bool,
) -> Outcome {
    let module = compute_account(ex.suite());
    let mut providers = Vec::new();
    let mut paid_total = Amount::ZERO;
    let mut reward_total = Amount::ZERO;
    // A replica placed after a result was public (a tie-breaker, a replacement) could have
    // copied it: its vote counts, but it earns no reward from the pool, nor makes another's
    // work count as verified.
    let first = task.first_reveal;
    let agreeing = active(&task)
        .filter(|r| r.digest == digest && !r.late(first))
        .count();
    let mut replicas = std::mem::take(&mut task.replicas);
    let mut result = RunResult::default();
    for r in replicas.iter_mut().filter(|r| r.state == REPLICA_ACTIVE) {
        if r.digest != digest {
            let slashed = end_replica(ex, &mut job, index, r, REPLICA_OUTVOTED)?;
            ex.emit(Event::Compute(ComputeEvent::Outvoted {
                job: *id,
                task: index,
                provider: r.provider,
                slashed,
            }))?;
            continue;
        }
        end_replica(ex, &mut job, index, r, REPLICA_AGREED)?;
        let owed = r
            .fuel_price
            .0
            .saturating_mul(u128::from(r.result.fuel))
            .min(r.max.0);
        let pay = Amount(owed.min(job.escrow.0));
        job.escrow = job.escrow.checked_sub(pay).expect("at most the escrow");
        ex.transfer(&module, &r.provider, pay)?;
        r.paid = pay;
        // Only work two or more replicas agreed on is verified; the pool pays on nothing else.
        let reward = if quorum && agreeing >= 2 && !r.late(first) {
            let p = ex.params();
            let by_fuel = p.compute_reward.0.saturating_mul(u128::from(r.result.fuel)) / 1_000_000;
            let cap = pay.share(u128::from(p.compute_reward_cap_permille), 1000);
            accounts::pay_from_pool(ex, Payout::Compute, &r.provider, Amount(by_fuel).min(cap))?
        } else {
            Amount::ZERO
        };
        paid_total = paid_total.checked_add(pay).expect("within the escrow");
        reward_total = Amount(reward_total.0.saturating_add(reward.0));
        providers.push(r.provider);
        result = r.result.clone();
    }
    task.replicas = replicas;
    job.paid = Amount(job.paid.0.saturating_add(paid_total.0));
    task.digest = digest;
    set_due(ex, id, index, &mut task, 0)?;
    ex.emit(Event::Compute(ComputeEvent::Accepted {
        job: *id,
        task: index,
        digest,
        providers: providers.clone(),
        fuel: result.fuel,
        paid: paid_total,
        reward: reward_total,
    }))?;
    if result.status != RUN_OK {
        let args = [u128::from(result.status), u128::from(result.code)];
        return fail_task(ex, id, job, index, task, Code::RunFailed, &args);
    }
    let spec = &job.spec.tasks[index as usize];
    let inputs = resolve_inputs(ex, id, &job, index)?;
    let evidence = ComputeResult {
        job: *id,
        task: index,
        name: spec.name.clone(),
        program: spec.program.clone(),
        inputs,
        result,
        digest,
        providers,
        block: ex.env().number,
    };
    ex.save(&(*id, index), &evidence)?;
    task.state = TASK_COMPLETED;
    ex.save(&(*id, index), &task)?;
    job.completed += 1;
    release_dependents(ex, id, &job, index)?;
    if job.completed == job.spec.tasks.len() as u64 {
        return end_job(ex, id, job, JOB_COMPLETED, 0, 0);
    }
    ex.save(id, &job)
}

/// The CIDs a task read: its own, or the outputs of the tasks it names.
pub(crate) fn resolve_inputs<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: &Job,
    index: u64,
) -> Outcome<Vec<Output>> {
    let mut out = Vec::new();
    for input in &job.spec.tasks[index as usize].inputs {
        if !input.cid.is_empty() {
            out.push(Output {
                name: input.name.clone(),
                cid: input.cid.clone(),
                size: 0,
            });
            continue;
        }
        let Some(up) = ex.load::<ComputeResult>(&(*id, input.task))? else {
            continue;
        };
        if let Some(o) = up.result.outputs.iter().find(|o| o.name == input.output) {
            out.push(Output {
                name: input.name.clone(),
                ..o.clone()
            });
        }
    }
    Ok(out)
}

/// Queues the tasks that waited only for this one.
fn release_dependents<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: &Job,
    done: u64,
) -> Outcome {
    for (j, t) in job.spec.tasks.iter().enumerate() {
        if !t.after.contains(&done) {
            continue;
        }
        let mut ready = true;
        for a in &t.after {
            let state = ex.load::<Task>(&(*id, *a))?.map(|t| t.state);
            ready &= state == Some(TASK_COMPLETED);
        }
        let key = (*id, j as u64);
        let Some(mut task) = ex.load::<Task>(&key)? else {
            continue;
        };
        if ready && task.state == TASK_WAITING {
            enqueue(ex, id, j as u64, &mut task)?;
            ex.save(&key, &task)?;
        }
    }
    Ok(())
}

/// A task failed: the whole job fails with its reason.
pub(crate) fn fail_task<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: Job,
    index: u64,
    mut task: Task,
    code: Code,
    args: &[u128],
) -> Outcome {
    task.state = TASK_FAILED;
    task.code = code as u64;
    ex.save(&(*id, index), &task)?;
    ex.emit(Event::Compute(ComputeEvent::TaskFailed {
        job: *id,
        task: index,
        code: code as u16,
        args: args.to_vec(),
    }))?;
    end_job(ex, id, job, JOB_FAILED, code as u64, index)
}

/// Ends a job: every task not finished is cancelled (its replicas released, unpaid), and what
/// is left of the escrow and reserve goes back to the submitter.
pub(crate) fn end_job<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    mut job: Job,
    state: u8,
    code: u64,
    failed_task: u64,
) -> Outcome {
    for i in 0..job.spec.tasks.len() as u64 {
        let Some(mut task) = ex.load::<Task>(&(*id, i))? else {
            continue;
        };
        if task.state == TASK_COMPLETED {
            continue;
        }
        let mut replicas = std::mem::take(&mut task.replicas);
        // Only replicas placed before any result was public count as agreeing.
        let revealed: Vec<Hash> = replicas
            .iter()
            .filter(|r| r.state == REPLICA_ACTIVE && r.revealed && !r.late(task.first_reveal))
            .map(|r| r.digest)
            .collect();
        let module = compute_account(ex.suite());
        for r in replicas.iter_mut().filter(|r| r.state == REPLICA_ACTIVE) {
            // Work two replicas agree on is paid, however the job ends (no rewards: unverified).
            let agreed = r.revealed
                && !r.late(task.first_reveal)
                && revealed.iter().filter(|d| **d == r.digest).count() >= 2;
            end_replica(ex, &mut job, i, r, REPLICA_DROPPED)?;
            if agreed {
                let owed = r
                    .fuel_price
                    .0
                    .saturating_mul(u128::from(r.result.fuel))
                    .min(r.max.0);
                let pay = Amount(owed.min(job.escrow.0));
                job.escrow = job.escrow.checked_sub(pay).expect("at most the escrow");
                job.paid = Amount(job.paid.0.saturating_add(pay.0));
                ex.transfer(&module, &r.provider, pay)?;
                r.paid = pay;
            }
        }
        task.replicas = replicas;
        if task.state != TASK_FAILED {
            task.state = TASK_CANCELLED;
        }
        dequeue(ex, id, i, &mut task)?;
        set_due(ex, id, i, &mut task, 0)?;
        ex.save(&(*id, i), &task)?;
    }
    let refund = job.escrow;
    let reserve = job.reserve;
    let back = refund.checked_add(reserve).expect("both were paid in");
    ex.transfer(&compute_account(ex.suite()), &job.owner, back)?;
    job.escrow = Amount::ZERO;
    job.reserve = Amount::ZERO;
    job.held = Amount::ZERO;
    job.state = state;
    job.code = code;
    job.failed_task = failed_task;
    job.ended = ex.env().number;
    ex.save(id, &job)?;
    ex.emit(Event::Compute(ComputeEvent::JobEnded {
        job: *id,
        owner: job.owner,
        state,
        refund,
        reserve,
    }))
}
