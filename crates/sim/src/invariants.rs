//! The properties every run must keep, checked every few virtual seconds and at the end:
//! the Clique rules on each canonical chain (re-verified by an engine of the checker's own),
//! convergence after the heal, permanence of transactions at depth ≥ 6 on a converged chain,
//! agreement of state (and a conserved MMT supply), liveness after the heal, and the
//! one-in-⌊N/2⌋+1 bound on what a minority side of a partition can seal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use metamesh_consensus::{
    Clique, CliqueConfig,
    memory::{MemoryChain, MemorySnapshots},
};
use metamesh_crypto::{Address, Suite};
use metamesh_node::{Chain, NodeService};
use metamesh_primitives::{Amount, Block, Hash, TOTAL_SUPPLY};
use metamesh_state::{Genesis, Pool};

use crate::{
    report::Report,
    scenario::{Partition, Scenario},
};

/// A converged chain's transactions this deep are expected to stay.
const FINAL_DEPTH: u64 = 6;

pub(crate) struct Checker {
    suite: Suite,
    engine: Clique,
    headers: MemoryChain,
    snapshots: MemorySnapshots,
    verified: HashSet<Hash>,
    submitted: Vec<Hash>,
    /// Transaction → the block number it was final at.
    finals: BTreeMap<Hash, u64>,
    final_through: u64,
    accounts: Vec<Address>,
}

impl Checker {
    pub fn new(genesis: &Genesis) -> Self {
        let suite = genesis.suite;
        let engine = Clique::new(CliqueConfig {
            period: genesis.clique.period,
            epoch: genesis.clique.epoch,
            suite,
        })
        .expect("valid Clique parameters");
        let (block, _) = Chain::genesis_block(genesis).expect("genesis builds");
        let mut headers = MemoryChain::default();
        let hash = headers.insert(block.header, suite);
        let mut accounts: Vec<Address> = Pool::ALL.iter().map(|p| p.address(suite)).collect();
        accounts.extend(genesis.grants.iter().map(|g| g.address));
        accounts.extend(genesis.clique.signers.iter().copied());
        accounts.push(metamesh_state::escrow_account(suite));
        Checker {
            suite,
            engine,
            headers,
            snapshots: MemorySnapshots::default(),
            verified: HashSet::from([hash]),
            submitted: Vec::new(),
            finals: BTreeMap::new(),
            final_through: 0,
            accounts,
        }
    }

    pub fn submitted(&mut self, hash: Hash) {
        self.submitted.push(hash);
    }

    /// Every few virtual seconds.
    pub fn check(
        &mut self,
        sc: &Scenario,
        live: &[(usize, Arc<NodeService>)],
        all_honest_up: bool,
        report: &mut Report,
    ) {
        let honest: Vec<&(usize, Arc<NodeService>)> =
            live.iter().filter(|(i, _)| sc.is_honest(*i)).collect();
        for (i, node) in &honest {
            self.verify_chain(*i, node, report);
        }
        let heads: HashSet<Hash> = honest.iter().map(|(_, n)| n.status().head_hash).collect();
        if all_honest_up
            && heads.len() == 1
            && let Some((_, node)) = honest.first()
        {
            report.converged_checks += 1;
            self.record_finals(node);
        }
    }

    /// Transactions at depth ≥ 6 on the converged chain join the set that must never leave.
    fn record_finals(&mut self, node: &NodeService) {
        let head = node.status().head_number;
        let through = head.saturating_sub(FINAL_DEPTH);
        let suite = self.suite;
        node.with_chain(|c| {
            for number in self.final_through + 1..=through {
                let Some(hash) = c.db().canonical_hash(number).ok().flatten() else {
                    continue;
                };
                let Some(body) = c.db().body(&hash).ok().flatten() else {
                    continue;
                };
                for tx in Block::decode_body(&body, suite).unwrap_or_default() {
                    self.finals.insert(tx.hash(suite), number);
                }
            }
        });
        self.final_through = self.final_through.max(through);
    }

    /// Re-verifies the blocks of `node`'s canonical chain not verified before, and checks its
    /// canonical index against the parent links.
    fn verify_chain(&mut self, i: usize, node: &NodeService, report: &mut Report) {
        let head = node.status();
        let mut pending = Vec::new();
        let mut hash = head.head_hash;
        while !self.verified.contains(&hash) {
            let found = node.with_chain(|c| {
                let header = c.header(&hash)?;
                let canonical = c.db().canonical_hash(header.number).ok().flatten();
                Some((header, canonical))
            });
            let Some((header, canonical)) = found else {
                report.violations.push(format!(
                    "node {i}: canonical block 0x{} missing",
                    hex::encode(hash)
                ));
                return;
            };
            if canonical != Some(hash) {
                report.violations.push(format!(
                    "node {i}: canonical index at {} disagrees with the head's ancestry",
                    header.number
                ));
                return;
            }
            hash = header.parent_hash;
            pending.push(header);
        }
        for header in pending.into_iter().rev() {
            let number = header.number;
            let verdict = self.engine.verify_header(
                &self.headers,
                &mut self.snapshots,
                &header,
                &[],
                u64::MAX,
            );
            if let Err(e) = verdict {
                report.violations.push(format!(
                    "node {i}: canonical block {number} breaks the Clique rules: {e}"
                ));
                return;
            }
            let hash = self.headers.insert(header, self.suite);
            self.verified.insert(hash);
        }
    }

    /// The end of a partition: a side without a majority of signers cannot seal more blocks in
    /// a row than it has signers before the recently-signed rule stops it. Counted on the side's
    /// best chain as the longest run of consecutive blocks its signers sealed while cut off
    /// (seal times come from the simulator, so blocks sealed before the cut never count).
    pub fn partition_growth(
        &self,
        sc: &Scenario,
        p: &Partition,
        live: &[(usize, Arc<NodeService>)],
        sealed_at: &HashMap<Hash, u64>,
        report: &mut Report,
    ) {
        let other: Vec<usize> = (0..sc.nodes).filter(|i| !p.side.contains(i)).collect();
        for side in [&p.side, &other] {
            if side.len() * 2 > sc.nodes {
                continue;
            }
            let best = live
                .iter()
                .filter(|(i, _)| side.contains(i))
                .max_by_key(|(_, n)| n.status().total_difficulty);
            let Some((_, node)) = best else {
                continue;
            };
            let during = |h: &Hash| {
                sealed_at
                    .get(h)
                    .is_some_and(|t| (p.from_ms..p.to_ms).contains(t))
            };
            let (mut run, mut longest) = (0u64, 0u64);
            node.with_chain(|c| {
                for n in 1..=c.head().number {
                    let hash = c.db().canonical_hash(n).ok().flatten().unwrap_or_default();
                    run = if during(&hash) { run + 1 } else { 0 };
                    longest = longest.max(run);
                }
            });
            report.partition_growth.push(format!(
                "{side:?} cut off {}–{} ms: at most {longest} block(s) in a row sealed meanwhile",
                p.from_ms, p.to_ms
            ));
            if longest > side.len() as u64 {
                report.violations.push(format!(
                    "minority side {side:?} sealed {longest} blocks in a row during a partition"
                ));
            }
        }
    }

    /// The end of the run: everything must have converged, stayed and balanced.
    pub fn finish(
        &mut self,
        sc: &Scenario,
        live: &[(usize, Arc<NodeService>)],
        report: &mut Report,
    ) {
        self.check(sc, live, false, report);
        let honest: Vec<&(usize, Arc<NodeService>)> =
            live.iter().filter(|(i, _)| sc.is_honest(*i)).collect();
        let expected = (0..sc.nodes).filter(|i| sc.is_honest(*i)).count();
        if honest.len() != expected {
            report.violations.push(format!(
                "{} honest node(s) down at the end",
                expected - honest.len()
            ));
        }
        let heads: BTreeMap<usize, (u64, Hash)> = honest
            .iter()
            .map(|(i, n)| {
                let s = n.status();
                (*i, (s.head_number, s.head_hash))
            })
            .collect();
        report.head = heads.values().map(|h| h.0).max().unwrap_or(0);
        let distinct: HashSet<Hash> = heads.values().map(|h| h.1).collect();
        if distinct.len() > 1 {
            let list: Vec<String> = heads
                .iter()
                .map(|(i, (n, h))| format!("node {i} at {n} 0x{}", hex::encode(&h[..4])))
                .collect();
            report.violations.push(format!(
                "no convergence after the heal: {}",
                list.join(", ")
            ));
        }
        let settle_blocks = sc.settle_ms / 1000 / sc.period_s;
        let grown = report.head.saturating_sub(report.head_at_heal);
        if grown < settle_blocks / 4 {
            report.violations.push(format!(
                "not live after the heal: {grown} block(s) in {} s",
                sc.settle_ms / 1000
            ));
        }
        for (_, node) in &honest {
            self.check_node(node, report);
        }
    }

    /// Every honest node's chain carries the authority's new block gas limit from exactly the
    /// block after the one that scheduled it.
    pub fn params_change(
        &self,
        sc: &Scenario,
        live: &[(usize, Arc<NodeService>)],
        new_limit: u64,
        report: &mut Report,
    ) {
        let mut at = None;
        for (i, node) in live.iter().filter(|(i, _)| sc.is_honest(*i)) {
            let found = node.with_chain(|c| {
                let mut from = None;
                for n in 1..=c.head().number {
                    let header = c.canonical_header(n)?;
                    match (from, header.gas_limit == new_limit) {
                        (None, true) => from = Some(n),
                        (Some(_), false) => return Some(Err(n)),
                        _ => {}
                    }
                }
                let from = from?;
                let before = c.canonical_header(from - 1)?.hash(c.suite());
                let events = metamesh_node::block_events(c.db(), &before).ok()?;
                let scheduled = events.iter().any(|e| {
                    matches!(&e.event, metamesh_state::Event::Params(metamesh_state::ParamsEvent::Scheduled { block, .. }) if *block == from)
                });
                Some(if scheduled { Ok(from) } else { Err(from) })
            });
            match found {
                Some(Ok(n)) if at.is_none_or(|a| a == n) => at = Some(n),
                Some(Ok(n)) => report.violations.push(format!(
                    "node {i}: the new parameters hold from block {n}, elsewhere from {at:?}"
                )),
                Some(Err(n)) => report.violations.push(format!(
                    "node {i}: the block gas limit at block {n} does not follow the scheduled change"
                )),
                None => report
                    .violations
                    .push(format!("node {i}: the parameter change never took effect")),
            }
        }
        report.params_changed_at = at;
    }

    fn check_node(&self, node: &NodeService, report: &mut Report) {
        node.with_chain(|c| {
            for (tx, number) in &self.finals {
                if c.db().tx_location(tx).ok().flatten().is_none() {
                    report.violations.push(format!(
                        "transaction 0x{} final at block {number} is no longer included",
                        hex::encode(tx)
                    ));
                }
            }
            report.transfers_included = self
                .submitted
                .iter()
                .filter(|t| c.db().tx_location(t).ok().flatten().is_some())
                .count() as u64;
            let state = c.state();
            let mut total = Amount::ZERO;
            for a in &self.accounts {
                match state.account(a) {
                    Ok(acc) => total = total.checked_add(acc.balance).unwrap_or(total),
                    Err(e) => report
                        .violations
                        .push(format!("state at the head unreadable: {e}")),
                }
            }
            if total != TOTAL_SUPPLY {
                report.violations.push(format!(
                    "balances sum to {total}, not the supply {TOTAL_SUPPLY}"
                ));
            }
            if let Err(e) = storage_holds_what_it_owes(&state) {
                report.violations.push(e);
            }
        });
        report.final_transactions = self.finals.len() as u64;
    }
}

/// The storage module's account holds exactly the escrows and boundary reserves of the running
/// deals and the stakes of the storage nodes.
fn storage_holds_what_it_owes(
    state: &metamesh_state::State<&metamesh_db::ChainDb>,
) -> Result<(), String> {
    use metamesh_state::{CollectionId, Deal, StorageNode};
    let read = |e: metamesh_state::StateError| format!("state at the head unreadable: {e}");
    let mut owed = 0u128;
    for (key, _) in state
        .entries(CollectionId::RunningDeals, &[], 100_000)
        .map_err(read)?
    {
        let id: [u8; 32] = key
            .try_into()
            .map_err(|_| "a running-deal key is not 32 bytes")?;
        owed += state
            .load::<Deal>(&id)
            .map_err(read)?
            .map_or(0, |d| d.escrow.0 + d.reserve.0);
    }
    for (key, _) in state
        .entries(CollectionId::StorageNodes, &[], 100_000)
        .map_err(read)?
    {
        let a = Address(
            key.try_into()
                .map_err(|_| "a storage-node key is not 20 bytes")?,
        );
        owed += state
            .load::<StorageNode>(&a)
            .map_err(read)?
            .map_or(0, |n| n.stake.0);
    }
    let held = state
        .account(&metamesh_state::escrow_account(state.suite()))
        .map_err(read)?
        .balance
        .0;
    if held != owed {
        return Err(format!(
            "the storage module holds {held} wei but owes {owed} wei in escrows, reserves and stakes"
        ));
    }
    Ok(())
}
