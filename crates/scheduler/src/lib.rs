//! Placement of a task's replicas on providers: filter, score, weigh, tie-break.
//!
//! ```text
//! feasible = online ∧ stake ∧ executor ∧ every resource free ∧ link ∧ quote ≤ budget ∧ not excluded
//! score_s  ∈ 0..=100 for each strategy s, relative to the other feasible candidates
//! total    = Σ weight_s × score_s           rank: total desc, then tie hash asc
//! ```
//! Replicas go to the best candidates on distinct operators. Everything here is integer
//! arithmetic on its arguments, so every node computes the same placement.

use metamesh_primitives::{
    Address, Amount,
    compute::{Inventory, Resources},
};

/// The strategies, in the order of [`Weights`] and of [`Scored::scores`].
pub const STRATEGIES: [&str; 7] = [
    "load",
    "idle",
    "data",
    "price",
    "performance",
    "network",
    "quality",
];

/// Integer weights of the strategies (load, idle, data, price, performance, network, quality).
pub type Weights = [u8; 7];

/// What a provider has free now: the chain's view (inventory less reservations, capped by its
/// last heartbeat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Free {
    pub cpu: u64,
    pub memory: u64,
    pub disk: u64,
    /// Devices free, one count per entry of the inventory's accelerators.
    pub accelerators: Vec<u64>,
}

/// A provider as the scheduler sees it.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub address: Address,
    /// Who runs it: replicas of one task go to distinct operators.
    pub operator: Address,
    pub inventory: &'a Inventory,
    pub free: &'a Free,
    /// Online (heard from recently) and staked enough.
    pub eligible: bool,
    /// Thousandths, from its last heartbeat.
    pub load: u64,
    /// Thousandths, its quality score on chain.
    pub quality: u64,
    /// Bytes of the task's inputs it already holds.
    pub held: u64,
    /// Whether it is in a region where the task's inputs are (true when they are nowhere yet).
    pub near: bool,
    /// The tie-break: a hash of (job, task, provider), lower wins.
    pub tie: [u8; 32],
}

/// What one replica of a task needs.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub resources: &'a Resources,
    /// An index into `EXECUTORS`.
    pub executor: u8,
    pub fuel: u64,
    /// Native executors: the most wall-clock seconds a run may take.
    pub walltime: u64,
    /// Software the provider must offer.
    pub software: &'a [String],
    /// Whether the run needs the network.
    pub network: bool,
    /// The most one replica may cost.
    pub budget: Amount,
    /// Operators that may not take it (they hold, or held, a replica of it).
    pub exclude: &'a [Address],
}

/// One feasible candidate's evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scored {
    /// Its index in the candidates given.
    pub index: usize,
    pub scores: [u8; 7],
    pub total: u64,
    /// What one replica on it costs at most.
    pub quote: Amount,
}

/// What a replica on this inventory costs at most: a Wasm run every unit of its fuel at the
/// fuel price; a native run (process, Slurm) its whole wall time at the hourly rate.
pub fn quote(inventory: &Inventory, r: &Request<'_>) -> Option<Amount> {
    if r.executor == 0 {
        return inventory
            .fuel_price
            .0
            .checked_mul(u128::from(r.fuel))
            .map(Amount);
    }
    let rate = hourly_rate(inventory, r.resources)?;
    rate.0
        .checked_mul(u128::from(r.walltime))
        .map(|v| Amount(v.div_ceil(3600)))
}

/// What `need` costs an hour on this inventory: its cores, its memory (by the GiB, rounded up)
/// and its accelerators (each at the price of the first entry that serves it).
pub fn hourly_rate(inventory: &Inventory, need: &Resources) -> Option<Amount> {
    let gib = u128::from(need.memory.div_ceil(1 << 30));
    let mut rate = inventory
        .cpu
        .price_hour
        .0
        .checked_mul(u128::from(need.cpu.max(1)))?
        .checked_add(inventory.memory_price_hour.0.checked_mul(gib)?)?;
    for n in &need.accelerators {
        let price = inventory
            .accelerators
            .iter()
            .find(|a| {
                a.kind == n.kind && (n.model.is_empty() || a.model.eq_ignore_ascii_case(&n.model))
            })
            .map_or(0, |a| a.price_hour.0);
        rate = rate.checked_add(price.checked_mul(u128::from(n.count))?)?;
    }
    Some(Amount(rate))
}

/// The accelerator entries that serve `need`, one per need (each wholly from one entry), if
/// all are free; the counts come off `free`.
pub fn fit_accelerators(
    inventory: &Inventory,
    free: &mut [u64],
    need: &Resources,
) -> Option<Vec<usize>> {
    let mut picked = Vec::with_capacity(need.accelerators.len());
    for n in &need.accelerators {
        let i = inventory
            .accelerators
            .iter()
            .enumerate()
            .position(|(i, a)| {
                a.kind == n.kind
                    && (n.model.is_empty() || a.model.eq_ignore_ascii_case(&n.model))
                    && a.memory >= n.memory
                    && free.get(i).is_some_and(|f| *f >= n.count)
            })?;
        free[i] -= n.count;
        picked.push(i);
    }
    Some(picked)
}

/// Takes one replica's resources off `free`, returning the accelerator entries it uses; `None`
/// (and `free` unchanged) when they are not all there.
pub fn reserve(inventory: &Inventory, free: &mut Free, need: &Resources) -> Option<Vec<usize>> {
    if free.cpu < need.cpu || free.memory < need.memory || free.disk < need.disk {
        return None;
    }
    let mut devices = free.accelerators.clone();
    let picked = fit_accelerators(inventory, &mut devices, need)?;
    free.cpu -= need.cpu;
    free.memory -= need.memory;
    free.disk -= need.disk;
    free.accelerators = devices;
    Some(picked)
}

/// Whether the candidate can take one replica of the request, and at what quote.
pub fn feasible(c: &Candidate<'_>, r: &Request<'_>) -> Option<Amount> {
    let inv = c.inventory;
    let need = r.resources;
    let ok = c.eligible
        && inv.executors & (1 << r.executor) != 0
        && c.free.cpu >= need.cpu
        && c.free.memory >= need.memory
        && c.free.disk >= need.disk
        && (need.link == 0 || inv.links.iter().any(|l| l.kind + 1 == need.link))
        && !r.exclude.contains(&c.operator)
        && (!r.network || inv.network)
        && r.software
            .iter()
            .all(|s| inv.software.binary_search(s).is_ok())
        && (need.accelerators.is_empty()
            || fit_accelerators(inv, &mut c.free.accelerators.clone(), need).is_some());
    if !ok {
        return None;
    }
    quote(inv, r).filter(|q| *q <= r.budget)
}

/// `v` of `max` on 0–100 (100 when every value is 0).
fn of_max(v: u128, max: u128) -> u8 {
    (v * 100).checked_div(max).map_or(100, |s| s as u8)
}

/// The share of the requested kind that is idle: accelerators when it asks for some, else cores.
fn idle(c: &Candidate<'_>, r: &Request<'_>) -> u8 {
    let inv = c.inventory;
    let (free, total) = match r.resources.accelerators.first() {
        Some(n) => inv
            .accelerators
            .iter()
            .zip(&c.free.accelerators)
            .filter(|(a, _)| a.kind == n.kind)
            .fold((0, 0), |(f, t), (a, free)| (f + free, t + a.count)),
        None => (c.free.cpu, inv.cpu.cores),
    };
    of_max(u128::from(free), u128::from(total))
}

/// The benchmark of what the task runs on: its accelerators' when it asks for some.
fn performance(c: &Candidate<'_>, r: &Request<'_>) -> u64 {
    let inv = c.inventory;
    match r.resources.accelerators.first() {
        Some(n) => inv
            .accelerators
            .iter()
            .filter(|a| a.kind == n.kind)
            .map(|a| a.benchmark)
            .max()
            .unwrap_or(0),
        None => inv.cpu.benchmark,
    }
}

fn bandwidth(c: &Candidate<'_>) -> u64 {
    c.inventory
        .links
        .iter()
        .map(|l| l.bandwidth)
        .max()
        .unwrap_or(0)
}

fn order(candidates: &[Candidate<'_>], a: &Scored, b: &Scored) -> std::cmp::Ordering {
    b.total
        .cmp(&a.total)
        .then_with(|| candidates[a.index].tie.cmp(&candidates[b.index].tie))
}

/// Every feasible candidate scored, best first.
pub fn evaluate(candidates: &[Candidate<'_>], r: &Request<'_>, weights: &Weights) -> Vec<Scored> {
    let mut scored = score(candidates, r, weights);
    scored.sort_by(|a, b| order(candidates, a, b));
    scored
}

/// Every feasible candidate scored, in candidate order.
fn score(candidates: &[Candidate<'_>], r: &Request<'_>, weights: &Weights) -> Vec<Scored> {
    let feasible: Vec<(usize, Amount)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| feasible(c, r).map(|q| (i, q)))
        .collect();
    let max = |f: &dyn Fn(&Candidate<'_>) -> u128| {
        feasible
            .iter()
            .map(|(i, _)| f(&candidates[*i]))
            .max()
            .unwrap_or(0)
    };
    let max_held = max(&|c| u128::from(c.held));
    let max_perf = max(&|c| u128::from(performance(c, r)));
    let max_bw = max(&|c| u128::from(bandwidth(c)));
    let (lo, hi) = feasible.iter().fold((u128::MAX, 0), |(lo, hi), (_, q)| {
        (lo.min(q.0), hi.max(q.0))
    });
    feasible
        .iter()
        .map(|&(index, quote)| {
            let c = &candidates[index];
            let price = if hi == lo {
                100
            } else {
                ((hi - quote.0) * 100 / (hi - lo)) as u8
            };
            let network =
                of_max(u128::from(bandwidth(c)), max_bw) / 10 * 7 + if c.near { 30 } else { 0 };
            let scores = [
                (100 - c.load.min(1000) / 10) as u8,
                idle(c, r),
                if max_held == 0 {
                    0
                } else {
                    of_max(u128::from(c.held), max_held)
                },
                price,
                of_max(u128::from(performance(c, r)), max_perf),
                network.min(100),
                (c.quality.min(1000) / 10) as u8,
            ];
            let total = scores
                .iter()
                .zip(weights)
                .map(|(s, w)| u64::from(*s) * u64::from(*w))
                .sum();
            Scored {
                index,
                scores,
                total,
                quote,
            }
        })
        .collect()
}

/// How many of the best [`place`] puts in order: what a caller may show.
pub const RANKED: usize = 64;

/// The `n` best feasible candidates on distinct operators (all of them, or `None` when fewer
/// fit), with every feasible candidate's evaluation: the best `max(RANKED, 4n)` first and in
/// order, the rest after them in no order (a full sort only when operators repeat so much that
/// the ordered part holds fewer than `n` of them).
pub fn place(
    candidates: &[Candidate<'_>],
    r: &Request<'_>,
    weights: &Weights,
    n: usize,
) -> (Option<Vec<Scored>>, Vec<Scored>) {
    let mut all = score(candidates, r, weights);
    let ranked = RANKED.max(n.saturating_mul(4));
    if all.len() > ranked {
        all.select_nth_unstable_by(ranked, |a, b| order(candidates, a, b));
        all[..ranked].sort_by(|a, b| order(candidates, a, b));
        let operators: std::collections::BTreeSet<Address> = all[..ranked]
            .iter()
            .map(|s| candidates[s.index].operator)
            .collect();
        if operators.len() < n {
            all.sort_by(|a, b| order(candidates, a, b));
        }
    } else {
        all.sort_by(|a, b| order(candidates, a, b));
    }
    let mut chosen: Vec<Scored> = Vec::with_capacity(n);
    for s in &all {
        if chosen.len() == n {
            break;
        }
        let op = candidates[s.index].operator;
        if !chosen.iter().any(|c| candidates[c.index].operator == op) {
            chosen.push(s.clone());
        }
    }
    let placed = (chosen.len() == n).then_some(chosen);
    (placed, all)
}

#[cfg(test)]
mod tests;
