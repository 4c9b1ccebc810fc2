//! Settlement: paying the replicas that agree (by fuel, or by agreed wall time at their hourly
//! rate), slashing the outvoted, retrying failed runs elsewhere, recording accepted results as
//! evidence, and ending tasks and jobs.

use metamesh_primitives::{
    Amount, Hash,
    compute::{Output, RUN_OK, RunResult},
};
use metamesh_trie::NodeStore;

use super::{
    ComputeEvent, ComputeResult, JOB_COMPLETED, JOB_FAILED, Job, REPLICA_ACTIVE, REPLICA_AGREED,
    REPLICA_DROPPED, REPLICA_FAILED, REPLICA_OUTVOTED, Replica, TASK_CANCELLED, TASK_COMPLETED,
    TASK_FAILED, TASK_RUNNING, TASK_WAITING, Task,
    agree::{agree, owed, paid_ms, work},
    compute_account, dequeue, enqueue, set_due,
    verify::{active, end_replica},
};
use crate::{
    Code, Event, Exec, Outcome,
    domains::accounts::{self, Payout},
};

/// Pays the agreeing replicas, settles the others, records the evidence, and completes (or,
/// for a failed run, fails) the task.
pub(crate) fn accept<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    mut job: Job,
    index: u64,
    mut task: Task,
    leader: RunResult,
    quorum: bool,
) -> Outcome {
    let module = compute_account(ex.suite());
    let spec = job.spec.tasks[index as usize].clone();
    let mut providers = Vec::new();
    let mut paid_total = Amount::ZERO;
    let mut reward_total = Amount::ZERO;
    // A replica placed after a result was public (a tie-breaker, a replacement) could have
    // copied it: its vote counts, but it earns no reward from the pool, nor makes another's
    // work count as verified.
    let first = task.first_reveal;
    let agrees = |r: &Replica| agree(&spec, &leader, &r.result);
    let agreeing_replicas: Vec<Replica> = active(&task).filter(|r| agrees(r)).cloned().collect();
    let agreeing_refs: Vec<&Replica> = agreeing_replicas.iter().collect();
    let agreeing = active(&task)
        .filter(|r| agrees(r) && !r.late(first))
        .count();
    // A failed run is tried again on another provider while the task has retries left.
    let retry = leader.status != RUN_OK && task.retries < spec.retries;
    let kept = if retry {
        REPLICA_FAILED
    } else {
        REPLICA_AGREED
    };
    let mut replicas = std::mem::take(&mut task.replicas);
    let mut digest = Hash::default();
    for r in replicas.iter_mut().filter(|r| r.state == REPLICA_ACTIVE) {
        if !agrees(r) {
            let slashed = end_replica(ex, &mut job, index, r, REPLICA_OUTVOTED)?;
            ex.emit(Event::Compute(ComputeEvent::Outvoted {
                job: *id,
                task: index,
                provider: r.provider,
                slashed,
            }))?;
            continue;
        }
        end_replica(ex, &mut job, index, r, kept)?;
        let paid_ms = paid_ms(&spec, r, &agreeing_refs, first);
        let pay = owed(&spec, r, paid_ms).min(job.escrow);
        job.escrow = job.escrow.checked_sub(pay).expect("at most the escrow");
        ex.transfer(&module, &r.provider, pay)?;
        r.paid = pay;
        // Only work two or more replicas agreed on is verified; the pool pays on nothing else.
        // Nor on failed runs: agreeing that nothing worked verifies no work.
        let reward = if quorum && agreeing >= 2 && !r.late(first) && leader.status == RUN_OK {
            let p = ex.params();
            let fuel = u128::from(work(&spec, r, paid_ms));
            let by_fuel = p.compute_reward.0.saturating_mul(fuel) / 1_000_000;
            let cap = pay.share(u128::from(p.compute_reward_cap_permille), 1000);
            accounts::pay_from_pool(ex, Payout::Compute, &r.provider, Amount(by_fuel).min(cap))?
        } else {
            Amount::ZERO
        };
        paid_total = paid_total.checked_add(pay).expect("within the escrow");
        reward_total = Amount(reward_total.0.saturating_add(reward.0));
        providers.push(r.provider);
        // The evidence's digest is the leader's own result's.
        if r.result == leader {
            digest = r.digest;
        }
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
        fuel: leader.fuel,
        paid: paid_total,
        reward: reward_total,
    }))?;
    if retry {
        return retry_task(ex, id, job, index, task);
    }
    if leader.status != RUN_OK {
        let args = [u128::from(leader.status), u128::from(leader.code)];
        return fail_task(ex, id, job, index, task, Code::RunFailed, &args);
    }
    let inputs = resolve_inputs(ex, id, &job, index)?;
    let evidence = ComputeResult {
        job: *id,
        task: index,
        name: spec.name.clone(),
        program: spec.program.clone(),
        inputs,
        result: leader,
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

/// A failed run with retries left: the task goes back to the queue for fresh replicas on
/// providers that have not tried it, after its back-off.
fn retry_task<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: Job,
    index: u64,
    mut task: Task,
) -> Outcome {
    task.retries += 1;
    task.wanted = job.spec.tasks[index as usize].replicas;
    task.first_reveal = 0;
    task.digest = Hash::default();
    task.state = TASK_RUNNING;
    super::verify::requeue_after_backoff(ex, id, &job, index, task)?;
    ex.save(id, &job)
}

/// The CIDs a task read: its own, or the outputs of the tasks it names.
pub(crate) fn resolve_inputs<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: &Job,
    index: u64,
) -> Outcome<Vec<Output>> {
    resolve_with(&job.spec.tasks[index as usize], |t| {
        ex.load::<ComputeResult>(&(*id, t))
    })
}

/// A task's inputs by name and CID, an upstream task's output found by `upstream` (its
/// accepted result, if any).
pub fn resolve_with<E>(
    spec: &metamesh_primitives::compute::TaskSpec,
    mut upstream: impl FnMut(u64) -> Result<Option<ComputeResult>, E>,
) -> Result<Vec<Output>, E> {
    let mut out = Vec::new();
    for input in &spec.inputs {
        if !input.cid.is_empty() {
            out.push(Output {
                name: input.name.clone(),
                cid: input.cid.clone(),
                size: 0,
            });
            continue;
        }
        let Some(up) = upstream(input.task)? else {
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
        let revealed: Vec<Replica> = replicas
            .iter()
            .filter(|r| r.state == REPLICA_ACTIVE && r.revealed && !r.late(task.first_reveal))
            .cloned()
            .collect();
        let spec = job.spec.tasks[i as usize].clone();
        let module = compute_account(ex.suite());
        for r in replicas.iter_mut().filter(|r| r.state == REPLICA_ACTIVE) {
            // Work two replicas agree on is paid, however the job ends (no rewards: unverified).
            let agreed = r.revealed
                && !r.late(task.first_reveal)
                && revealed
                    .iter()
                    .filter(|d| agree(&spec, &d.result, &r.result))
                    .count()
                    >= 2;
            end_replica(ex, &mut job, i, r, REPLICA_DROPPED)?;
            if agreed {
                // Paid on the same median as an accepted quorum's, among those it agrees with.
                let with: Vec<&Replica> = revealed
                    .iter()
                    .filter(|d| agree(&spec, &d.result, &r.result))
                    .collect();
                let paid_ms = paid_ms(&spec, r, &with, task.first_reveal);
                let pay = owed(&spec, r, paid_ms).min(job.escrow);
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
