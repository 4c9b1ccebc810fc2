//! The end of every block: deadlines that passed (timeouts, review windows), then placements
//! of queued tasks by the scheduler.
//!
//! Each item runs in a layer of its own, so one that fails is dropped and the block goes on.
//! The work is bounded per block (`computeMaxPlacements` tries, reading at most sixteen times
//! that many queue entries), and each try is paid from its job's reserve to the sealer: a task
//! tried again only when capacity may have come free (the capacity epoch moved), so a task no
//! provider fits waits without spending its reserve.

use std::collections::BTreeMap;

use metamesh_crypto::Address;
use metamesh_primitives::{Amount, Hash, compute::Bytes};
use metamesh_scheduler::{Candidate, Free, Request, Scored, Weights, place, reserve};
use metamesh_trie::NodeStore;

use super::{
    ComputeCounts, ComputeEvent, ComputeResult, Explained, JOB_RUNNING, Job, Provider,
    REPLICA_ACTIVE, REPLICA_TIMED_OUT, Replica, TASK_QUEUED, TASK_REVIEW, TASK_RUNNING, Task,
    compute_account, dequeue, enqueue, parse_entry, quality_now, set_due,
    submit::placement_gas,
    verify::{self, end_replica, fail_task, next_deadline},
};
use crate::{Code, CollectionId, Event, Exec, Fail, Outcome, exec::reject};

pub(crate) fn end_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    deadlines(ex)?;
    placements(ex)
}

/// Runs `f` in a layer; a refusal is dropped (the item is bad, not the block).
fn isolated<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    f: impl FnOnce(&mut Exec<'_, S>) -> Outcome,
) -> Outcome {
    match ex.layer(f) {
        Ok(()) | Err(Fail::Reject(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn deadlines<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    let limit = ex.params().compute_max_placements as usize;
    let number = ex.env().number;
    for (key, _) in ex.entries(CollectionId::ComputeDue, &[], limit)? {
        let Some((at, job, index)) = parse_entry(&key) else {
            ex.remove_entry(CollectionId::ComputeDue, &key)?;
            continue;
        };
        if at > number {
            break;
        }
        let removed = isolated(ex, |ex| {
            ex.remove_entry(CollectionId::ComputeDue, &key)?;
            due(ex, &job, index)
        });
        removed?;
        // A deadline that could not be handled is still dropped, so it cannot come back every
        // block (no honest state gets here).
        if ex.entry(CollectionId::ComputeDue, &key)?.is_some() {
            ex.remove_entry(CollectionId::ComputeDue, &key)?;
        }
    }
    Ok(())
}

fn due<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, id: &Hash, index: u64) -> Outcome {
    let (Some(mut job), Some(mut task)) = (ex.load::<Job>(id)?, ex.load::<Task>(&(*id, index))?)
    else {
        return Ok(());
    };
    task.due = 0;
    if job.state != JOB_RUNNING {
        return ex.save(&(*id, index), &task);
    }
    let number = ex.env().number;
    if task.state == TASK_REVIEW {
        if number >= task.review_until {
            return verify::accept_review(ex, id, job, index, task);
        }
        let until = task.review_until;
        set_due(ex, id, index, &mut task, until)?;
        return ex.save(&(*id, index), &task);
    }
    if task.state != TASK_RUNNING {
        return ex.save(&(*id, index), &task);
    }
    let timeout = job.spec.tasks[index as usize].timeout;
    let waiting_since = task.queued.max(task.not_before);
    if task.queued != 0 && next_deadline(&task) == 0 && number >= waiting_since + timeout {
        // Waiting for a replacement or a tie-breaker that found no provider in time: the
        // replicas that committed are not held any longer.
        return fail_task(
            ex,
            id,
            job,
            index,
            task,
            Code::Unplaced,
            &[u128::from(index)],
        );
    }
    let late_ones: Vec<bool> = task
        .replicas
        .iter()
        .map(|r| verify::owing(&task, r) && r.deadline <= number)
        .collect();
    let mut replicas = std::mem::take(&mut task.replicas);
    let mut late = 0;
    for (r, _) in replicas.iter_mut().zip(late_ones).filter(|(_, l)| *l) {
        let slashed = end_replica(ex, &mut job, index, r, REPLICA_TIMED_OUT)?;
        late += 1;
        ex.emit(Event::Compute(ComputeEvent::TimedOut {
            job: *id,
            task: index,
            provider: r.provider,
            slashed,
        }))?;
    }
    task.replicas = replicas;
    task.retries += late;
    if task.retries > ex.params().compute_max_retries {
        let retries = u128::from(task.retries);
        return fail_task(ex, id, job, index, task, Code::RetriesExhausted, &[retries]);
    }
    if late > 0 {
        enqueue(ex, id, index, &mut task)?;
        task.not_before = number + backoff(ex.params(), task.retries);
    }
    let since = task.queued.max(task.not_before).max(1);
    let next = verify::due_while_waiting(&task, since, timeout).max(number + 1);
    set_due(ex, id, index, &mut task, next)?;
    ex.save(&(*id, index), &task)?;
    ex.save(id, &job)
}

/// Blocks a task waits before its `retries`-th retry: the back-off doubled each time.
pub(crate) fn backoff(p: &crate::Params, retries: u64) -> u64 {
    p.compute_retry_backoff << retries.saturating_sub(1).min(6)
}

/// Whether any task of `group` is still backing off.
fn backing_off<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &Hash,
    group: &[(Vec<u8>, u64, bool)],
) -> Outcome<bool> {
    let number = ex.env().number;
    for (_, i, _) in group {
        if ex
            .load::<Task>(&(*job, *i))?
            .is_some_and(|t| number < t.not_before)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The providers of the network, loaded once for a block's placements.
struct Pool {
    providers: Vec<(Address, Provider)>,
    /// What each has free (kept in step with `providers`).
    frees: Vec<Free>,
}

/// What a provider has free: what it can give the network (its inventory, or less when its last
/// heartbeat said other work uses some) less the chain's reservations.
fn free_of(pr: &Provider) -> Free {
    let inv = &pr.inventory;
    Free {
        cpu: inv.cpu.cores.min(pr.free_cpu).saturating_sub(pr.used.cpu),
        memory: inv
            .memory
            .min(pr.free_memory)
            .saturating_sub(pr.used.memory),
        disk: inv.disk.saturating_sub(pr.used.disk),
        accelerators: inv
            .accelerators
            .iter()
            .enumerate()
            .zip(pr.used.accelerators.iter().chain(std::iter::repeat(&0)))
            .map(|((i, d), u)| {
                // Only the devices that answered at the last heartbeat can take work.
                let online = pr.online.get(i).copied().unwrap_or(d.count).min(d.count);
                online.saturating_sub(*u)
            })
            .collect(),
    }
}

fn load_pool<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome<Pool> {
    let mut providers = Vec::new();
    let mut start = Vec::new();
    loop {
        let page = ex.entries(CollectionId::Providers, &start, 1024)?;
        let Some((last, _)) = page.last() else {
            break;
        };
        start = last.clone();
        start.push(0);
        let full = page.len() == 1024;
        for (key, _) in page {
            let Ok(a) = <[u8; 20]>::try_from(key.as_slice()) else {
                continue;
            };
            if let Some(p) = ex.load::<Provider>(&Address(a))? {
                providers.push((Address(a), p));
            }
        }
        if !full {
            break;
        }
    }
    let frees = providers.iter().map(|(_, p)| free_of(p)).collect();
    Ok(Pool { providers, frees })
}

fn placements<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    let max = ex.params().compute_max_placements as usize;
    let mut counts = ex.load::<ComputeCounts>(&())?.unwrap_or_default();
    let cursor = counts.queue_cursor.clone();
    let queue = walk_queue(ex, &mut counts, max.saturating_mul(16))?;
    let stopped = place_walk(ex, &queue, counts.capacity_epoch, max)?;
    if let Some(key) = stopped {
        // The tries ran out here: the next block starts with what was not looked at.
        counts.queue_cursor = Bytes(key);
    }
    if counts.queue_cursor != cursor {
        ex.save(&(), &counts)?;
    }
    Ok(())
}

/// Tries the entries of `queue` in order, at most `max` tries; the key it stopped at, if the
/// tries ran out first.
fn place_walk<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    queue: &[(Vec<u8>, Vec<u8>)],
    epoch: u64,
    max: usize,
) -> Outcome<Option<Vec<u8>>> {
    if queue.is_empty() {
        return Ok(None);
    }
    let mut pool: Option<Pool> = None;
    let mut tries = 0;
    let mut done: std::collections::BTreeSet<Vec<u8>> = Default::default();
    for (key, value) in queue {
        let Some((_, job, index)) = parse_entry(key) else {
            ex.remove_entry(CollectionId::ComputeQueue, key)?;
            continue;
        };
        let last = value_epoch(value);
        if last == epoch || done.contains(key) {
            continue;
        }
        if tries >= max {
            return Ok(Some(key.clone()));
        }
        if pool.is_none() {
            pool = Some(load_pool(ex)?);
        }
        let pool = pool.as_mut().expect("loaded above");
        let gang = ex.load::<Job>(&job)?.is_some_and(|j| j.spec.gang);
        // A gang job's ready tasks (all its entries in the queue) are placed together or not
        // at all; any other task alone.
        let group: Vec<(Vec<u8>, u64, bool)> = if gang {
            gang_entries(ex, &job)?
        } else {
            vec![(key.clone(), index, last == u64::MAX)]
        };
        done.extend(group.iter().map(|g| g.0.clone()));
        // Backing off after a failure: not tried (nor charged) yet; the entry keeps its epoch,
        // so a later block's walk reads it again.
        if backing_off(ex, &job, &group)? {
            continue;
        }
        tries += group.len();
        let mut undo = Vec::new();
        let outcome = ex.layer(|ex| {
            for (k, i, first) in &group {
                let placed = try_place(ex, pool, &mut undo, k, &job, *i, epoch, *first, gang)?;
                if gang && !placed {
                    return reject(Code::GangUnplaced, &[u128::from(*i)]);
                }
            }
            Ok(())
        });
        match outcome {
            Ok(()) => {}
            Err(Fail::Reject(_)) => {
                for (at, p) in undo.into_iter().rev() {
                    pool.frees[at] = free_of(&p);
                    pool.providers[at].1 = p;
                }
                if gang {
                    for (k, i, first) in &group {
                        ex.put_entry(CollectionId::ComputeQueue, k, &epoch.to_be_bytes())?;
                        if *first {
                            let (job, task) = (job, *i);
                            ex.emit(Event::Compute(ComputeEvent::Queued {
                                job,
                                task,
                                feasible: 0,
                            }))?;
                        }
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Every queue entry of a gang job, wherever the walk's window falls.
fn gang_entries<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &Hash,
) -> Outcome<Vec<(Vec<u8>, u64, bool)>> {
    let Some(j) = ex.load::<Job>(job)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for i in 0..j.spec.tasks.len() as u64 {
        let Some(t) = ex.load::<Task>(&(*job, i))? else {
            continue;
        };
        if t.queued == 0 {
            continue;
        }
        let key = super::entry_key(t.queued, job, i);
        if let Some(v) = ex.entry(CollectionId::ComputeQueue, &key)? {
            out.push((key, i, value_epoch(&v) == u64::MAX));
        }
    }
    Ok(out)
}

/// Up to `limit` queue entries from where the last block's walk stopped, going round to the
/// start; the cursor moves past them.
fn walk_queue<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    counts: &mut ComputeCounts,
    limit: usize,
) -> Outcome<crate::state::Entries> {
    let cursor = counts.queue_cursor.0.clone();
    let mut queue = ex.entries(CollectionId::ComputeQueue, &cursor, limit)?;
    if queue.len() < limit && !cursor.is_empty() {
        let more = ex.entries(CollectionId::ComputeQueue, &[], limit - queue.len())?;
        queue.extend(more.into_iter().take_while(|(k, _)| *k < cursor));
    }
    counts.queue_cursor = match queue.last() {
        Some((k, _)) if queue.len() == limit => Bytes([k.as_slice(), &[0]].concat()),
        _ => Bytes::default(),
    };
    Ok(queue)
}

/// The capacity epoch a queue entry last failed at (`u64::MAX`: never tried).
fn value_epoch(value: &[u8]) -> u64 {
    value.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX)
}

fn weights(job: &Job, p: &crate::Params) -> Weights {
    if let Ok(w) = <[u8; 7]>::try_from(job.spec.weights.as_ref()) {
        return w;
    }
    match job.spec.preset {
        1 => p.weights_cheapest.0,
        2 => p.weights_fastest.0,
        3 => p.weights_data_local.0,
        _ => p.weights_balanced.0,
    }
}

/// Bytes of the task's inputs each provider holds (it produced them), and their regions.
fn affinity<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    job: &Job,
    index: u64,
    pool: &Pool,
) -> Outcome<(BTreeMap<Address, u64>, Vec<String>)> {
    let mut held = BTreeMap::new();
    let mut regions = Vec::new();
    for input in &job.spec.tasks[index as usize].inputs {
        if !input.cid.is_empty() {
            continue;
        }
        let Some(up) = ex.load::<ComputeResult>(&(*id, input.task))? else {
            continue;
        };
        let size = up
            .result
            .outputs
            .iter()
            .find(|o| o.name == input.output)
            .map_or(0, |o| o.size);
        for a in &up.providers {
            *held.entry(*a).or_insert(0u64) += size;
            if let Some((_, p)) = pool.providers.iter().find(|(x, _)| x == a) {
                regions.push(p.inventory.region.clone());
            }
        }
    }
    Ok((held, regions))
}

/// Tries to place the replicas task `index` still wants; whether it did. Every provider it
/// changes goes into `undo` first (the caller restores them if the layer is dropped). In a
/// gang, a task that does not fit leaves the queue entry and events to the caller.
#[allow(clippy::too_many_arguments)]
fn try_place<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    pool: &mut Pool,
    undo: &mut Vec<(usize, Provider)>,
    key: &[u8],
    id: &Hash,
    index: u64,
    epoch: u64,
    first: bool,
    gang: bool,
) -> Outcome<bool> {
    let (Some(mut job), Some(mut task)) = (ex.load::<Job>(id)?, ex.load::<Task>(&(*id, index))?)
    else {
        return ex
            .remove_entry(CollectionId::ComputeQueue, key)
            .map(|()| true);
    };
    if job.state != JOB_RUNNING || !(task.state == TASK_QUEUED || task.state == TASK_RUNNING) {
        dequeue(ex, id, index, &mut task)?;
        return ex.save(&(*id, index), &task).map(|()| true);
    }
    let p = ex.params();
    let suite = ex.suite();
    let number = ex.env().number;

    // A try pays its base; a placement also the providers it weighed.
    let price = job.gas_price.0;
    let full =
        Amount(price.saturating_mul(u128::from(placement_gas(p, pool.providers.len() as u64))));
    let base = Amount(
        price
            .saturating_mul(u128::from(p.gas_placement))
            .min(full.0),
    );
    if job.reserve < full {
        let args = [u128::from(index)];
        return fail_task(ex, id, job, index, task, Code::ReserveExhausted, &args).map(|()| true);
    }
    let sealer = ex.env().sealer;
    job.reserve = job.reserve.checked_sub(base).expect("checked above");
    ex.transfer(&compute_account(suite), &sealer, base)?;
    let spec = job.spec.tasks[index as usize].clone();
    let active = task
        .replicas
        .iter()
        .filter(|r| r.state == REPLICA_ACTIVE)
        .count() as u64;
    let needed = task.wanted.saturating_sub(active).max(1);
    let free_escrow = job.escrow.checked_sub(job.held).unwrap_or_default();
    let budget = task.budget.min(Amount(free_escrow.0 / u128::from(needed)));
    let exclude: Vec<Address> = task.replicas.iter().map(|r| r.provider).collect();
    let (held, regions) = affinity(ex, id, &job, index, pool)?;
    let mut seed = b"metamesh/tie".to_vec();
    seed.extend(id);
    seed.extend(index.to_be_bytes());
    let seed = suite.hash(&seed);
    let min_stake = p.compute_min_stake;
    let candidates: Vec<Candidate<'_>> = pool
        .providers
        .iter()
        .enumerate()
        .map(|(i, (a, pr))| {
            let inv = &pr.inventory;
            let mut tie = seed;
            for (t, b) in tie.iter_mut().zip(a.0) {
                *t ^= b;
            }
            Candidate {
                address: *a,
                operator: *a,
                inventory: inv,
                free: &pool.frees[i],
                eligible: number.saturating_sub(pr.last_seen) <= p.compute_offline_after
                    && pr.stake >= min_stake,
                load: pr.load,
                quality: quality_now(pr, number, p.compute_quality_half_life),
                held: held.get(a).copied().unwrap_or(0),
                near: regions.is_empty() || regions.contains(&inv.region),
                tie,
            }
        })
        .collect();
    let request = Request {
        resources: &spec.resources,
        executor: spec.executor,
        fuel: spec.fuel,
        walltime: spec.walltime,
        software: &spec.software,
        network: spec.network,
        budget,
        exclude: &exclude,
    };
    let (placed, all) = place(&candidates, &request, &weights(&job, p), needed as usize);
    let explained = explain(&candidates, &all, p.compute_explain_candidates as usize);
    let feasible = all.len() as u64;
    let frees: Vec<Free> = placed
        .iter()
        .flatten()
        .map(|s| candidates[s.index].free.clone())
        .collect();
    drop(candidates);
    let Some(chosen) = placed else {
        ex.save(id, &job)?;
        if gang {
            return Ok(false);
        }
        ex.put_entry(CollectionId::ComputeQueue, key, &epoch.to_be_bytes())?;
        if first {
            ex.emit(Event::Compute(ComputeEvent::Queued {
                job: *id,
                task: index,
                feasible,
            }))?;
        }
        return Ok(false);
    };
    let rest = full.checked_sub(base).expect("base ≤ full");
    job.reserve = job.reserve.checked_sub(rest).expect("checked above");
    ex.transfer(&compute_account(suite), &sealer, rest)?;
    let mut providers = Vec::new();
    for (s, mut free) in chosen.iter().zip(frees) {
        undo.push((s.index, pool.providers[s.index].1.clone()));
        // The state's record, not the block's copy: a job ended earlier in this block may
        // have released part of it.
        let address = pool.providers[s.index].0;
        if let Some(fresh) = ex.load::<Provider>(&address)? {
            pool.providers[s.index].1 = fresh;
        }
        let (address, pr) = &mut pool.providers[s.index];
        let picked = reserve(&pr.inventory, &mut free, &spec.resources).expect("feasible");
        pr.used.cpu += spec.resources.cpu;
        pr.used.memory += spec.resources.memory;
        pr.used.disk += spec.resources.disk;
        pr.used
            .accelerators
            .resize(pr.inventory.accelerators.len(), 0);
        for (entry, n) in picked.iter().zip(&spec.resources.accelerators) {
            pr.used.accelerators[*entry] += n.count;
        }
        pr.running += 1;
        ex.save(address, pr)?;
        pool.frees[s.index] = free_of(pr);
        job.held = job.held.checked_add(s.quote).expect("within the escrow");
        task.replicas.push(Replica {
            provider: *address,
            state: REPLICA_ACTIVE,
            fuel_price: pr.inventory.fuel_price,
            max: s.quote,
            rate: metamesh_scheduler::hourly_rate(&pr.inventory, &spec.resources)
                .unwrap_or_default(),
            accelerators: picked.iter().map(|e| *e as u64).collect(),
            assigned: number,
            assigned_at: ex.env().timestamp,
            deadline: number + spec.timeout,
            ..Replica::default()
        });
        providers.push(*address);
    }
    task.state = TASK_RUNNING;
    dequeue(ex, id, index, &mut task)?;
    let next = next_deadline(&task);
    set_due(ex, id, index, &mut task, next)?;
    ex.save(&(*id, index), &task)?;
    ex.save(id, &job)?;
    ex.emit(Event::Compute(ComputeEvent::Assigned {
        job: *id,
        task: index,
        providers,
        deadline: number + spec.timeout,
        feasible,
        candidates: explained,
    }))?;
    Ok(true)
}

/// The best `n` candidates' scores, for the assignment event.
fn explain(candidates: &[Candidate<'_>], all: &[Scored], n: usize) -> Vec<Explained> {
    all.iter()
        .take(n)
        .map(|s| Explained {
            provider: candidates[s.index].address,
            scores: Bytes(s.scores.to_vec()),
            total: s.total,
            quote: s.quote,
        })
        .collect()
}
