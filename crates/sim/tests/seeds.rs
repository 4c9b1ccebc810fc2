//! The simulator in CI: named scenarios, then many seeds with random faults. A failing seed is
//! printed with the command that replays it.

use metamesh_sim::{Byzantine, Partition, Report, Scenario, Sim, run_seed, run_seeds};

fn assert_ok(report: &Report) {
    assert!(
        report.ok(),
        "{}\nreplay: SIM_SEED={} cargo test -p metamesh-sim --test seeds seeds  (or metamesh sim --seed {})",
        report.summary(),
        report.seed,
        report.seed
    );
}

#[test]
fn calm_network_converges_and_includes_transfers() {
    let report = Sim::new(Scenario::calm(1, 4)).run();
    assert_ok(&report);
    assert!(report.head >= 30, "{}", report.summary());
    assert!(report.transfers_included > 0, "{}", report.summary());
    assert!(report.final_transactions > 0, "{}", report.summary());
    assert!(report.bans.is_empty(), "{:?}", report.bans);
    // The storage market ran: deals were taken and challenges answered on the final chain,
    // and every follower received each event once.
    assert!(report.storage_submitted > 0, "{}", report.summary());
    assert!(report.proofs_included > 0, "{}", report.summary());
    assert!(report.events_delivered > 0, "{}", report.summary());
}

#[test]
fn a_parameter_change_takes_effect_at_the_next_block_on_every_node() {
    let mut sc = Scenario::calm(3, 4);
    sc.params_change_ms = Some(6_000);
    sc.faults.loss_permille = 50;
    sc.faults.max_delay_ms = 200;
    let report = Sim::new(sc).run();
    assert_ok(&report);
    assert!(report.params_changed_at.is_some(), "{}", report.summary());
}

#[test]
fn two_two_split_stalls_both_sides_then_heals() {
    let mut sc = Scenario::calm(2, 4);
    sc.faults.partitions.push(Partition {
        from_ms: 4_000,
        to_ms: 18_000,
        side: vec![0, 1],
    });
    let report = Sim::new(sc).run();
    assert_ok(&report);
    assert_eq!(
        report.partition_growth.len(),
        2,
        "{:?}",
        report.partition_growth
    );
    // The losing half's block was retracted: its events came back as removed, once.
    assert!(report.events_removed > 0, "{}", report.summary());
}

#[test]
fn every_byzantine_signer_is_outlasted() {
    for (n, kind) in Byzantine::ALL.into_iter().enumerate() {
        let mut sc = Scenario::calm(10 + n as u64, 4);
        sc.byzantine = Some((n % 4, kind));
        let report = Sim::new(sc).run();
        assert_ok(&report);
        match kind {
            Byzantine::Equivocates => assert!(report.equivocations > 0, "{}", report.summary()),
            _ => {
                assert!(report.attacks > 0, "{}", report.summary());
                assert!(!report.bans.is_empty(), "{}", report.summary());
            }
        }
    }
}

#[test]
fn a_seed_replays_exactly() {
    let a = run_seed(7);
    let b = run_seed(7);
    assert_eq!(a.summary(), b.summary());
}

/// `SIM_SEED=S` runs one seed; otherwise `SIM_SEEDS` seeds (default 200, the CI mode; the long mode is
/// `SIM_SEEDS=2000`, run by hand) from `SIM_FROM`.
#[test]
fn seeds() {
    if let Ok(seed) = std::env::var("SIM_SEED") {
        let report = run_seed(seed.parse().expect("SIM_SEED is a number"));
        println!("{}", report.summary());
        for ban in &report.bans {
            println!("  {ban}");
        }
        assert_ok(&report);
        return;
    }
    let from: u64 = std::env::var("SIM_FROM").map_or(0, |v| v.parse().expect("SIM_FROM"));
    let count: u64 = std::env::var("SIM_SEEDS").map_or(200, |v| v.parse().expect("SIM_SEEDS"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let reports = run_seeds(from..from + count, threads);
    let failed: Vec<&Report> = reports.iter().filter(|r| !r.ok()).collect();
    for r in &failed {
        eprintln!("{}", r.summary());
    }
    assert!(
        failed.is_empty(),
        "{} of {count} seeds failed; replay one with SIM_SEED=<seed> cargo test -p metamesh-sim --test seeds seeds",
        failed.len()
    );
}
