//! What one simulated run contains: nodes, faults and their timing, an optional Byzantine signer.
//! Everything follows from the seed, so `SIM_SEED=S` (or `metamesh sim --seed S`) is the whole
//! reproduction.

use serde::Serialize;

use crate::rng::Rng;

/// How a Byzantine signer misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Byzantine {
    /// Seals whenever it likes, ignoring the one-in-⌊N/2⌋+1 rule.
    SealsTooOften,
    /// Seals with a key that is not a signer's.
    BadSeal,
    /// Claims in-turn difficulty out of turn, and the reverse.
    WrongDifficulty,
    /// Seals two different blocks at one height and shows each to half of its peers.
    Equivocates,
}

impl Byzantine {
    pub const ALL: [Byzantine; 4] = [
        Byzantine::SealsTooOften,
        Byzantine::BadSeal,
        Byzantine::WrongDifficulty,
        Byzantine::Equivocates,
    ];
}

/// Nodes `side` cannot exchange messages with the rest between `from_ms` and `to_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Partition {
    pub from_ms: u64,
    pub to_ms: u64,
    pub side: Vec<usize>,
}

/// Node `node` stops at `at_ms` (keeping only what it had written) and restarts `down_ms` later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Crash {
    pub node: usize,
    pub at_ms: u64,
    pub down_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Faults {
    pub loss_permille: u64,
    pub duplicate_permille: u64,
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Each node's clock is off by up to this much, either way.
    pub max_skew_ms: u64,
    pub partitions: Vec<Partition>,
    pub crashes: Vec<Crash>,
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            loss_permille: 0,
            duplicate_permille: 0,
            min_delay_ms: 5,
            max_delay_ms: 20,
            max_skew_ms: 0,
            partitions: vec![],
            crashes: vec![],
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub seed: u64,
    pub nodes: usize,
    pub period_s: u64,
    /// Faults happen in `0..fault_ms`; then the network heals and every node is up.
    pub fault_ms: u64,
    /// Sealing goes on this long after the heal (liveness is judged here)…
    pub settle_ms: u64,
    /// …then stops, and this long is left for the last blocks to spread.
    pub drain_ms: u64,
    pub transfers: usize,
    /// Users offer storage, open deals, take replicas and answer challenges, and register and
    /// attest data, beside the transfers.
    pub storage: bool,
    /// When (virtual ms) the parameters authority changes `blockGasLimit`; every node's chain
    /// must carry the new limit from the block after the one that includes the change.
    pub params_change_ms: Option<u64>,
    pub faults: Faults,
    pub byzantine: Option<(usize, Byzantine)>,
}

impl Scenario {
    /// A calm run: `nodes` honest signers, no faults.
    pub fn calm(seed: u64, nodes: usize) -> Self {
        Scenario {
            seed,
            nodes,
            period_s: 1,
            fault_ms: 20_000,
            settle_ms: 20_000,
            drain_ms: 10_000,
            transfers: 40,
            storage: true,
            params_change_ms: None,
            faults: Faults::none(),
            byzantine: None,
        }
    }

    /// The run a seed stands for: four signers, random loss, duplication, delay and skew, up to
    /// two partitions and two crashes, and in one seed of four a Byzantine signer.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let nodes = 4;
        let fault_ms = 40_000;
        let byzantine = rng.chance(250).then(|| {
            let kind = Byzantine::ALL[rng.below(4) as usize];
            (rng.below(nodes as u64) as usize, kind)
        });
        let min_delay_ms = rng.range(1, 50);
        let mut faults = Faults {
            loss_permille: rng.range(0, 150),
            duplicate_permille: rng.range(0, 80),
            min_delay_ms,
            max_delay_ms: min_delay_ms + rng.range(0, 400),
            max_skew_ms: rng.range(0, 1_500),
            partitions: vec![],
            crashes: vec![],
        };
        for _ in 0..rng.below(3) {
            let from_ms = rng.range(0, fault_ms - 5_000);
            let to_ms = (from_ms + rng.range(2_000, 20_000)).min(fault_ms);
            let size = rng.range(1, nodes as u64 / 2) as usize;
            let mut side: Vec<usize> = (0..nodes).collect();
            for i in (1..nodes).rev() {
                side.swap(i, rng.below(i as u64 + 1) as usize);
            }
            side.truncate(size);
            side.sort_unstable();
            faults.partitions.push(Partition {
                from_ms,
                to_ms,
                side,
            });
        }
        // Crashing an honest node while a Byzantine one runs would leave no honest majority,
        // which Clique does not promise to survive; crashes go with honest-only runs.
        if byzantine.is_none() {
            for _ in 0..rng.below(3) {
                let at_ms = rng.range(1_000, fault_ms - 3_000);
                faults.crashes.push(Crash {
                    node: rng.below(nodes as u64) as usize,
                    at_ms,
                    down_ms: rng.range(1_000, fault_ms - at_ms),
                });
            }
        }
        let params_change_ms = rng.chance(250).then(|| rng.range(2_000, fault_ms));
        Scenario {
            seed,
            nodes,
            period_s: 1,
            fault_ms,
            settle_ms: 20_000,
            drain_ms: 10_000,
            transfers: 60,
            storage: true,
            params_change_ms,
            faults,
            byzantine,
        }
    }

    pub fn is_honest(&self, node: usize) -> bool {
        self.byzantine.is_none_or(|(b, _)| b != node)
    }

    pub fn end_ms(&self) -> u64 {
        self.fault_ms + self.settle_ms + self.drain_ms
    }
}
