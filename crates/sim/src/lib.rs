//! # metamesh-sim
//!
//! A deterministic multi-node simulator. The real consensus engine, state transition, pool,
//! sealing plan and peer handler of every node run inside one thread, on in-memory databases,
//! driven by a virtual clock and a single seeded event queue; the network between them delays,
//! loses, duplicates, reorders and partitions messages, nodes crash and restart from what they
//! had written, clocks are skewed, and one signer may be Byzantine. The same seed always gives
//! the same run, so a failing seed is a complete reproduction:
//! `SIM_SEED=S cargo test -p metamesh-sim` or `metamesh sim --seed S`.
//!
//! ```text
//! Scenario::from_seed(S) ─▶ Sim ─▶ event queue (time, seq) ─▶ node handlers ─▶ actions ─▶ queue
//!                                         └─ every 5 s and at the end: invariants ─▶ Report
//! ```

mod invariants;
mod report;
mod rng;
mod scenario;
mod world;

pub use report::Report;
pub use rng::Rng;
pub use scenario::{Byzantine, Crash, Faults, Partition, Scenario};
pub use world::Sim;

/// Runs the scenario of `seed`.
pub fn run_seed(seed: u64) -> Report {
    Sim::new(Scenario::from_seed(seed)).run()
}

/// Runs `seeds` on `threads` threads (each run is single-threaded and independent) and returns
/// the reports in seed order.
pub fn run_seeds(seeds: std::ops::Range<u64>, threads: usize) -> Vec<Report> {
    let next = std::sync::atomic::AtomicU64::new(seeds.start);
    let reports = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if seed >= seeds.end {
                        return;
                    }
                    let report = run_seed(seed);
                    reports
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(report);
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap_or_else(|e| e.into_inner());
    reports.sort_by_key(|r| r.seed);
    reports
}
