//! The computing network: providers with stakes and inventories, jobs as task graphs with the
//! whole price in escrow, placement by the scheduler inside the state transition, commit–reveal
//! quorums, settlement, rewards for verified work, quality scores, and results kept as evidence.
//!
//! A task becomes ready when every task it waits for has completed; it then sits in the
//! `ComputeQueue` until the end of a block places it ([`place`]): the scheduler ranks the
//! feasible providers, the best on distinct operators get a replica each, and the capacity they
//! hold is reserved until the replica ends. Replicas commit `H(digest ‖ salt ‖ provider)` and,
//! once all have committed, reveal ([`verify`]); a strict majority of equal digests is accepted
//! (the digest covers the outputs, status and fuel, so the quorum verifies the fuel it pays
//! for). A tie adds a replica (up to `computeMaxExtraReplicas`); a deadline missed is a timeout
//! (slashed, replaced up to `computeMaxRetries` times). Only work a quorum of two or more agreed
//! on earns the computing reward, within `computeBudget` per reward epoch.

mod agree;
mod events;
mod place;
mod proven;
mod records;
mod settle;
mod submit;
mod verify;

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, ComputeAction, Hash, compute::Inventory};
use metamesh_trie::NodeStore;

pub use agree::{FUEL_PER_CORE_MS, MAX_VALUES, agree, close};
pub use events::{ComputeEvent, Explained};
pub use proven::{bindings, halves, input_digest, is_task_circuit, output_digest, public_inputs};
pub use records::*;
pub use settle::resolve_with;
pub use submit::{file_name_ok, software_list_ok, software_name_ok};

pub(crate) use place::end_block;

use super::{TxContext, accounts};
use crate::{Code, CollectionId, Event, Exec, Outcome, Pool, Record, StateKey, exec::reject};

/// The account that holds every job's escrow and reserve and every provider's stake.
pub fn compute_account(suite: Suite) -> Address {
    accounts::module_address(suite, "compute")
}

/// The id of the job `owner` submits with the transaction of `nonce`.
pub fn job_id(suite: Suite, owner: &Address, nonce: u64) -> Hash {
    let mut b = b"metamesh/job".to_vec();
    b.extend(owner.0);
    b.extend(nonce.to_be_bytes());
    suite.hash(&b)
}

/// What a replica commits to: `H(digest ‖ salt ‖ provider)`, so no provider can copy another's.
pub fn commitment(suite: Suite, digest: &Hash, salt: &Hash, provider: &Address) -> Hash {
    let mut b = Vec::with_capacity(84);
    b.extend(digest);
    b.extend(salt);
    b.extend(provider.0);
    suite.hash(&b)
}

/// The digest replicas agree on: the hash of the result's encoding.
pub fn result_digest(suite: Suite, result: &metamesh_primitives::compute::RunResult) -> Hash {
    suite.hash(&alloy_rlp::encode(result))
}

/// Counters of the whole network: providers registered, and the capacity epoch, which moves
/// whenever capacity may have come free (a registration, a heartbeat with more free, a
/// release), so queued tasks are tried again only when something changed.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable,
)]
pub struct ComputeCounts {
    pub providers: u64,
    pub capacity_epoch: u64,
    /// Where the next block's walk of the queue starts (it goes round), so tasks that never
    /// fit cannot keep newer ones from being read.
    pub queue_cursor: metamesh_primitives::compute::Bytes,
}

impl Record for ComputeCounts {
    const WHAT: &'static str = "compute counters";
    type Id = ();

    fn key(_: &()) -> StateKey {
        StateKey::ComputeCounts
    }

    fn encode(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut buf = raw;
        let v = <Self as alloy_rlp::Decodable>::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        Ok(v)
    }
}

pub(crate) fn bump_capacity<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    let mut c = ex.load::<ComputeCounts>(&())?.unwrap_or_default();
    c.capacity_epoch += 1;
    ex.save(&(), &c)
}

/// A provider's quality now: its stored score, its distance from 500 halved for every
/// `computeQualityHalfLife` blocks since it was set.
pub fn quality_now(p: &Provider, number: u64, half_life: u64) -> u64 {
    let halvings = (number.saturating_sub(p.quality_at) / half_life.max(1)).min(16);
    if p.quality >= 500 {
        500 + ((p.quality - 500) >> halvings)
    } else {
        500 - ((500 - p.quality) >> halvings)
    }
}

/// Moves a provider's quality one step toward 1000 (`good`) or 0, after its decay.
pub(crate) fn rate(p: &mut Provider, good: bool, number: u64, step: u64, half_life: u64) {
    let q = quality_now(p, number, half_life);
    p.quality = if good {
        q + (1000 - q) * step / 1000
    } else {
        q - q * step / 1000
    };
    p.quality_at = number;
}

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &ComputeAction,
) -> Outcome {
    match action {
        ComputeAction::Register { inventory, stake } => register(ex, tx.sender, inventory, *stake),
        ComputeAction::Heartbeat {
            load,
            free_cpu,
            free_memory,
            online,
        } => heartbeat(ex, tx.sender, *load, *free_cpu, *free_memory, online),
        ComputeAction::Submit { job } => submit::submit(ex, tx, job),
        ComputeAction::Commit {
            job,
            task,
            commitment,
        } => verify::commit(ex, tx.sender, job, *task, commitment),
        ComputeAction::Reveal {
            job,
            task,
            salt,
            result,
            logs,
            proof,
        } => verify::reveal(ex, tx, (job, *task, salt), (result, logs, proof)),
        ComputeAction::Decide { job, task, accept } => {
            verify::decide(ex, tx.sender, job, *task, *accept)
        }
        ComputeAction::Cancel { job } => submit::cancel(ex, tx.sender, job),
    }
}

fn inventory_ok(inv: &Inventory) -> bool {
    use metamesh_primitives::compute::{ACCELERATOR_KINDS, EXECUTORS, LINK_KINDS};
    let endpoint_ok = inv.endpoint.is_empty()
        || inv.endpoint.len() <= 256
            && (inv.endpoint.starts_with("http://") || inv.endpoint.starts_with("https://"));
    inv.cpu.cores >= 1
        && endpoint_ok
        && inv.software.len() <= 64
        && inv.software.windows(2).all(|w| w[0] < w[1])
        && inv.software.iter().all(|s| submit::software_name_ok(s))
        && inv.executors != 0
        && inv.executors >> EXECUTORS.len() == 0
        && inv.accelerators.len() <= 16
        && inv.links.len() <= 8
        && inv
            .accelerators
            .iter()
            .all(|a| usize::from(a.kind) < ACCELERATOR_KINDS.len() && a.count >= 1)
        && inv
            .links
            .iter()
            .all(|l| usize::from(l.kind) < LINK_KINDS.len())
}

/// Whether `inv` still holds what running replicas use.
fn holds(inv: &Inventory, used: &Used) -> bool {
    inv.cpu.cores >= used.cpu
        && inv.memory >= used.memory
        && inv.disk >= used.disk
        && used
            .accelerators
            .iter()
            .enumerate()
            .all(|(i, n)| *n == 0 || inv.accelerators.get(i).is_some_and(|a| a.count >= *n))
}

fn register<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    inventory: &Inventory,
    stake: Amount,
) -> Outcome {
    if stake == Amount::ZERO {
        return leave(ex, me);
    }
    if !inventory_ok(inventory) {
        return reject(Code::BadInventory, &[]);
    }
    let min = ex.params().compute_min_stake;
    if stake < min {
        return reject(Code::ProviderStakeTooSmall, &[stake.0, min.0]);
    }
    let existing = ex.load::<Provider>(&me)?;
    let new = existing.is_none();
    let mut p = existing.unwrap_or(Provider {
        quality: 500,
        ..Provider::default()
    });
    if !holds(inventory, &p.used) {
        return reject(Code::InventoryInUse, &[u128::from(p.running)]);
    }
    if stake < p.stake && p.running > 0 {
        return reject(Code::StakeInUse, &[u128::from(p.running)]);
    }
    let module = compute_account(ex.suite());
    if let Some(more) = stake.checked_sub(p.stake) {
        ex.transfer(&me, &module, more)?;
    } else if let Some(less) = p.stake.checked_sub(stake) {
        ex.transfer(&module, &me, less)?;
    }
    let number = ex.env().number;
    // Only what may let a queued task fit retries the queue: a new provider, one back online,
    // or a changed inventory (an update that changes nothing cannot make queued jobs pay).
    let offline = number.saturating_sub(p.last_seen) > ex.params().compute_offline_after;
    let changed = new || offline || p.inventory != *inventory;
    p.used.accelerators.resize(inventory.accelerators.len(), 0);
    p.inventory = inventory.clone();
    p.stake = stake;
    p.free_cpu = inventory.cpu.cores;
    p.free_memory = inventory.memory;
    p.online = Vec::new();
    p.last_seen = number;
    if new {
        p.quality_at = number;
    }
    ex.save(&me, &p)?;
    ex.put_entry(CollectionId::Providers, &me.0, &[1])?;
    let mut counts = ex.load::<ComputeCounts>(&())?.unwrap_or_default();
    counts.providers += u64::from(new);
    counts.capacity_epoch += u64::from(changed);
    ex.save(&(), &counts)?;
    ex.emit(Event::Compute(ComputeEvent::Registered {
        provider: me,
        stake,
        cores: inventory.cpu.cores,
        accelerators: inventory.accelerators.iter().map(|a| a.count).sum(),
    }))
}

/// A stake of zero: the provider leaves (with nothing running), and its stake comes back.
fn leave<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, me: Address) -> Outcome {
    let Some(p) = ex.load::<Provider>(&me)? else {
        return reject(Code::NotAProvider, &[]);
    };
    if p.running > 0 {
        return reject(Code::StakeInUse, &[u128::from(p.running)]);
    }
    ex.transfer(&compute_account(ex.suite()), &me, p.stake)?;
    ex.delete::<Provider>(&me)?;
    ex.remove_entry(CollectionId::Providers, &me.0)?;
    let mut counts = ex.load::<ComputeCounts>(&())?.unwrap_or_default();
    counts.providers = counts.providers.saturating_sub(1);
    ex.save(&(), &counts)?;
    ex.emit(Event::Compute(ComputeEvent::Registered {
        provider: me,
        stake: Amount::ZERO,
        cores: 0,
        accelerators: 0,
    }))
}

fn heartbeat<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    load: u64,
    free_cpu: u64,
    free_memory: u64,
    online: &[u64],
) -> Outcome {
    let Some(mut p) = ex.load::<Provider>(&me)? else {
        return reject(Code::NotAProvider, &[]);
    };
    if !(online.is_empty() || online.len() == p.inventory.accelerators.len()) {
        return reject(Code::BadInventory, &[]);
    }
    // Devices coming back may let queued tasks fit; only a real rise counts (the counts are
    // clamped to the inventory's, and empty means all), so heartbeats cannot make queued jobs
    // pay for tries over and over.
    let counts = |v: &[u64]| -> Vec<u64> {
        p.inventory
            .accelerators
            .iter()
            .enumerate()
            .map(|(i, a)| v.get(i).copied().unwrap_or(a.count).min(a.count))
            .collect()
    };
    let (before, after) = (counts(&p.online), counts(online));
    let more_online = after.iter().zip(&before).any(|(now, was)| now > was);
    p.online = if after
        .iter()
        .zip(&p.inventory.accelerators)
        .all(|(n, a)| *n == a.count)
    {
        Vec::new()
    } else {
        after
    };
    p.load = load.min(1000);
    p.free_cpu = free_cpu.min(p.inventory.cpu.cores);
    p.free_memory = free_memory.min(p.inventory.memory);
    let was_offline =
        ex.env().number.saturating_sub(p.last_seen) > ex.params().compute_offline_after;
    p.last_seen = ex.env().number;
    ex.save(&me, &p)?;
    // Coming back online may let queued tasks fit. More free capacity alone does not retry the
    // queue (releases do), so heartbeats cannot make queued jobs pay for tries over and over.
    if was_offline || more_online {
        bump_capacity(ex)?;
    }
    Ok(())
}

/// Moves part of a provider's stake to the community pool; returns what moved.
pub(crate) fn slash<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    p: &mut Provider,
) -> Outcome<Amount> {
    let cut = p
        .stake
        .share(u128::from(ex.params().compute_slash_permille), 1000);
    if cut == Amount::ZERO {
        return Ok(cut);
    }
    p.stake = p.stake.checked_sub(cut).expect("a share of it");
    let pool = Pool::Community.address(ex.suite());
    ex.transfer(&compute_account(ex.suite()), &pool, cut)?;
    Ok(cut)
}

fn entry_key(at: u64, job: &Hash, task: u64) -> Vec<u8> {
    let mut k = at.to_be_bytes().to_vec();
    k.extend(job);
    k.extend(task.to_be_bytes());
    k
}

/// Reads an entry key of `ComputeQueue` or `ComputeDue`.
fn parse_entry(key: &[u8]) -> Option<(u64, Hash, u64)> {
    if key.len() != 48 {
        return None;
    }
    let at = u64::from_be_bytes(key[..8].try_into().ok()?);
    let job = key[8..40].try_into().ok()?;
    let task = u64::from_be_bytes(key[40..].try_into().ok()?);
    Some((at, job, task))
}

/// Moves a task's entry in `ComputeDue` to `at` (0: none).
pub(crate) fn set_due<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &Hash,
    index: u64,
    task: &mut Task,
    at: u64,
) -> Outcome {
    if task.due == at {
        return Ok(());
    }
    if task.due != 0 {
        ex.remove_entry(CollectionId::ComputeDue, &entry_key(task.due, job, index))?;
    }
    if at != 0 {
        ex.put_entry(CollectionId::ComputeDue, &entry_key(at, job, index), &[1])?;
    }
    task.due = at;
    Ok(())
}

/// Puts a task in the queue for placement (of the replicas it still wants).
pub(crate) fn enqueue<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &Hash,
    index: u64,
    task: &mut Task,
) -> Outcome {
    if task.queued != 0 {
        return Ok(());
    }
    let at = ex.env().number.max(1);
    // The value is the capacity epoch of the last failed try (none yet).
    ex.put_entry(
        CollectionId::ComputeQueue,
        &entry_key(at, job, index),
        &u64::MAX.to_be_bytes(),
    )?;
    task.queued = at;
    if task.state == TASK_WAITING {
        task.state = TASK_QUEUED;
    }
    Ok(())
}

pub(crate) fn dequeue<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    job: &Hash,
    index: u64,
    task: &mut Task,
) -> Outcome {
    if task.queued != 0 {
        ex.remove_entry(
            CollectionId::ComputeQueue,
            &entry_key(task.queued, job, index),
        )?;
        task.queued = 0;
    }
    Ok(())
}
