//! What a run did and what it violated.

use serde::Serialize;

use crate::scenario::Scenario;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub seed: u64,
    pub scenario: String,
    /// The honest nodes' common head at the end (the highest, if they disagree).
    pub head: u64,
    pub head_at_heal: u64,
    pub sealed: u64,
    pub attacks: u64,
    pub equivocations: u64,
    pub crashes: u64,
    pub messages: u64,
    pub dropped: u64,
    pub transfers_submitted: u64,
    pub transfers_refused: u64,
    pub transfers_included: u64,
    /// Transactions seen at depth ≥ 6 on a converged chain (each must stay included).
    pub final_transactions: u64,
    pub converged_checks: u64,
    /// Storage and data actions submitted (offers, deals, acceptances, proofs, registrations).
    pub storage_submitted: u64,
    /// Challenges answered on the final chain.
    pub proofs_included: u64,
    /// The block from which the changed parameters held on every node, if they changed.
    pub params_changed_at: Option<u64>,
    /// Events the followers received, and how many of them came back as `removed`.
    pub events_delivered: u64,
    pub events_removed: u64,
    pub bans: Vec<String>,
    pub partition_growth: Vec<String>,
    /// Every node's head at each check, for reading a failing seed.
    #[serde(skip)]
    pub timeline: Vec<String>,
    pub violations: Vec<String>,
}

impl Report {
    pub(crate) fn new(sc: &Scenario) -> Self {
        let f = &sc.faults;
        let scenario = format!(
            "{} nodes; loss {}‰, duplicates {}‰, delay {}–{} ms, skew ±{} ms, {} partition(s), {} crash(es){}",
            sc.nodes,
            f.loss_permille,
            f.duplicate_permille,
            f.min_delay_ms,
            f.max_delay_ms,
            f.max_skew_ms,
            f.partitions.len(),
            f.crashes.len(),
            sc.byzantine
                .map(|(n, k)| format!("; node {n} Byzantine ({k:?})"))
                .unwrap_or_default()
        );
        Report {
            seed: sc.seed,
            scenario,
            ..Report::default()
        }
    }

    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// One line: the seed, the scenario and the outcome.
    pub fn summary(&self) -> String {
        format!(
            "seed {}: {} — head {} ({} after the heal), {} sealed, {}/{} transfers included, {} final, {} storage actions ({} proofs included), params changed at {:?}, {} events ({} removed), {} crash(es), {} attack block(s), {} ban(s), {} messages ({} dropped): {}",
            self.seed,
            self.scenario,
            self.head,
            self.head.saturating_sub(self.head_at_heal),
            self.sealed,
            self.transfers_included,
            self.transfers_submitted,
            self.final_transactions,
            self.storage_submitted,
            self.proofs_included,
            self.params_changed_at,
            self.events_delivered,
            self.events_removed,
            self.crashes,
            self.attacks,
            self.bans.len(),
            self.messages,
            self.dropped,
            if self.ok() {
                "ok".to_owned()
            } else {
                format!("VIOLATED: {}", self.violations.join("; "))
            }
        )
    }
}
