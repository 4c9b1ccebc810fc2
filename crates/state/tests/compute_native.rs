//! Native (process, Slurm) tasks through `apply_block`: software and network filters, hourly
//! pricing on the agreed wall time, tolerant comparators that accept replicas agreeing to the
//! declared precision and outvote one that does not, failed runs retried elsewhere after a
//! back-off, devices offline at a heartbeat not placed, and malformed native tasks refused.

mod common;
#[path = "compute_net/mod.rs"]
mod net;

use common::code;
use metamesh_crypto::Suite;
use metamesh_primitives::{
    Amount, ComputeAction, Hash,
    compute::{
        AcceleratorNeed, Bytes, Comparator, JobSpec, Output, RUN_EXIT, RunResult, TaskSpec, Usage,
    },
};
use metamesh_state::{
    Code, ComputeEvent, Event, Provider,
    domains::compute::{JOB_COMPLETED, REPLICA_FAILED, TASK_QUEUED},
    job_id,
};
use net::*;

/// Makes the three providers native ones: process and Slurm executors, python3 and pyscf,
/// 3,600 wei per core-hour and 7,200 per GiB-hour.
fn native_net() -> Net {
    let mut n = Net::new(Suite::Sm, [1, 1, 1]);
    for i in 1..=3 {
        let mut inv = inventory(8, 1, 1);
        inv.executors = 0b111;
        inv.cpu.price_hour = Amount(3_600);
        inv.memory_price_hour = Amount(7_200);
        inv.software = vec!["pyscf".into(), "python3".into()];
        let r = n.h.run(i, register(inv));
        assert!(r.outcome.is_ok(), "{r:?}");
    }
    n
}

fn scf(replicas: u64, comparator: bool) -> TaskSpec {
    TaskSpec {
        name: "scf".into(),
        program: Bytes::default(),
        args: vec!["python3".into(), "scf.py".into()],
        executor: 1,
        replicas,
        timeout: 40,
        fuel: 0,
        walltime: 30,
        software: vec!["pyscf".into(), "python3".into()],
        comparator: if comparator {
            Comparator {
                file: "energy.json".into(),
                rtol: 1e-6f64.to_bits(),
                atol: 1e-9f64.to_bits(),
            }
        } else {
            Comparator::default()
        },
        ..task("scf", vec![], vec![], replicas)
    }
}

fn job(t: TaskSpec) -> JobSpec {
    JobSpec {
        name: "b2h6".into(),
        max_price: Amount::from_mmt(1),
        tasks: vec![t],
        ..JobSpec::default()
    }
}

/// A run that found `energy` (Hartree), took `wall_ms`, and wrote it in a file of its own.
fn energy(seed: u8, energy: f64, wall_ms: u64) -> RunResult {
    RunResult {
        outputs: vec![Output {
            name: "energy.json".into(),
            cid: cid(seed),
            size: 40,
        }],
        usage: Usage {
            wall_ms,
            cpu_ms: wall_ms,
            memory: 1 << 28,
        },
        values: vec![energy.to_bits()],
        shape: Bytes(vec![7; 32]),
        ..RunResult::default()
    }
}

fn submit(n: &mut Net, t: TaskSpec) -> Hash {
    let nonce = n.h.nonce(&n.h.user(0));
    let r = n.h.run(0, ComputeAction::Submit { job: job(t) });
    assert!(r.outcome.is_ok(), "{r:?}");
    job_id(Suite::Sm, &n.h.user(0), nonce)
}

#[test]
fn replicas_within_tolerance_agree_and_are_paid_by_the_hour() {
    let mut n = native_net();
    let id = submit(&mut n, scf(2, true));
    let who = n.active(&id, 0);
    assert_eq!(who.len(), 2);
    let t = n.task(&id, 0);
    // 1 core × 3,600 + 1 GiB × 7,200 + 0 GPUs = 10,800 wei an hour; 30 s of it at most.
    assert_eq!(t.replicas[0].max, Amount(90));
    // Different machines: digits differ past the eighth, the files differ, the clocks differ.
    let runs = [
        energy(1, -52.823_541_7, 1_200),
        energy(2, -52.823_541_71, 3_600_000),
    ];
    let salts: Vec<Hash> = who
        .iter()
        .zip(&runs)
        .map(|(w, r)| n.commit(&id, 0, w, r))
        .collect();
    let mut events = Vec::new();
    for ((w, r), s) in who.iter().zip(&runs).zip(salts) {
        events.extend(n.reveal(&id, 0, w, s, r));
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Compute(ComputeEvent::Accepted { .. }))),
        "{events:?}"
    );
    assert_eq!(n.job(&id).state, JOB_COMPLETED);
    let t = n.task(&id, 0);
    // Blocks are a second apart here. The first is paid its 1.2 s; the second claimed an hour
    // but committed 2 s after its assignment: it is paid the 3 s the chain's clock allows.
    let paid: Vec<Amount> = t.replicas.iter().map(|r| r.paid).collect();
    assert_eq!(
        paid,
        [
            Amount(10_800 * 1_200 / 3_600_000),
            Amount(10_800 * 3_000 / 3_600_000)
        ],
        "{:?}",
        t.replicas
    );
    n.assert_balanced(&[id]);
}

#[test]
fn a_perturbed_energy_is_outvoted() {
    let mut n = native_net();
    let id = submit(&mut n, scf(2, true));
    let who = n.active(&id, 0);
    let (honest, liar) = (who[0], who[1]);
    let good = energy(1, -52.823_541_7, 50_000);
    let bad = energy(2, -52.823_541_7 * 1.001, 50_000);
    let s1 = n.commit(&id, 0, &honest, &good);
    let s2 = n.commit(&id, 0, &liar, &bad);
    n.reveal(&id, 0, &honest, s1, &good);
    n.reveal(&id, 0, &liar, s2, &bad);
    // No majority of two: a third replica decides.
    let third: Vec<_> = n
        .active(&id, 0)
        .into_iter()
        .filter(|a| !who.contains(a))
        .collect();
    assert_eq!(third.len(), 1);
    let close = energy(3, -52.823_541_72, 50_000);
    let s3 = n.commit(&id, 0, &third[0], &close);
    let events = n.reveal(&id, 0, &third[0], s3, &close);
    assert!(events.iter().any(|e| matches!(e, Event::Compute(ComputeEvent::Outvoted { provider, .. }) if *provider == liar)), "{events:?}");
    let p: Provider = n.h.state.load(&liar).unwrap().unwrap();
    assert_eq!(p.outvoted, 1);
    assert_eq!(n.job(&id).state, JOB_COMPLETED);
    n.assert_balanced(&[id]);
}

#[test]
fn a_failed_run_is_retried_on_another_provider_after_a_back_off() {
    let mut n = native_net();
    let mut t = scf(1, false);
    t.retries = 1;
    let id = submit(&mut n, t);
    let first = n.active(&id, 0)[0];
    let crashed = RunResult {
        status: RUN_EXIT,
        code: 1,
        usage: Usage {
            wall_ms: 1_000,
            ..Usage::default()
        },
        ..RunResult::default()
    };
    let s = n.commit(&id, 0, &first, &crashed);
    n.reveal(&id, 0, &first, s, &crashed);
    let t = n.task(&id, 0);
    assert_eq!((t.retries, t.state), (1, 2), "running again");
    assert_eq!(
        t.replicas[0].state, REPLICA_FAILED,
        "the attempt and its reason stay"
    );
    assert!(t.not_before > n.h.number);
    assert!(n.active(&id, 0).is_empty(), "backing off");
    n.h.until(t.not_before);
    let second = n.active(&id, 0);
    assert_eq!(second.len(), 1);
    assert_ne!(second[0], first, "another provider");
    let ok = energy(4, -1.0, 2_000);
    let s = n.commit(&id, 0, &second[0], &ok);
    n.reveal(&id, 0, &second[0], s, &ok);
    assert_eq!(n.job(&id).state, JOB_COMPLETED);
    n.assert_balanced(&[id]);
}

#[test]
fn software_network_and_devices_filter_placement() {
    let mut n = native_net();
    let mut t = scf(1, false);
    t.software = vec!["julia".into()];
    let julia = submit(&mut n, t);
    assert_eq!(n.task(&julia, 0).state, TASK_QUEUED, "nobody offers julia");
    let mut t = scf(1, false);
    t.network = true;
    let online = submit(&mut n, t);
    assert_eq!(
        n.task(&online, 0).state,
        TASK_QUEUED,
        "nobody allows the network"
    );
    // Every provider's GPU stops answering: a GPU task waits.
    for i in 1..=3 {
        let r = n.h.run(
            i,
            ComputeAction::Heartbeat {
                load: 0,
                free_cpu: 8,
                free_memory: 64 << 30,
                online: vec![0],
            },
        );
        assert!(r.outcome.is_ok(), "{r:?}");
    }
    let mut t = scf(1, false);
    t.resources.accelerators = vec![AcceleratorNeed {
        kind: 0,
        count: 1,
        ..AcceleratorNeed::default()
    }];
    let gpu = submit(&mut n, t);
    assert_eq!(n.task(&gpu, 0).state, TASK_QUEUED, "no GPU online");
    let r = n.h.run(
        2,
        ComputeAction::Heartbeat {
            load: 0,
            free_cpu: 8,
            free_memory: 64 << 30,
            online: vec![1],
        },
    );
    assert!(r.outcome.is_ok());
    n.h.block(&[]).unwrap();
    assert_eq!(
        n.active(&gpu, 0),
        vec![n.h.user(2)],
        "placed where it came back"
    );
    let r = n.h.run(
        1,
        ComputeAction::Heartbeat {
            load: 0,
            free_cpu: 8,
            free_memory: 1,
            online: vec![1, 1],
        },
    );
    assert_eq!(
        code(&r),
        Some(Code::BadInventory),
        "one count per accelerator entry"
    );
    n.assert_balanced(&[julia, online, gpu]);
}

#[test]
fn malformed_native_tasks_are_refused_with_their_codes() {
    let mut n = native_net();
    let cases: Vec<(TaskSpec, Code)> = vec![
        (
            TaskSpec {
                fuel: 5,
                ..scf(1, false)
            },
            Code::BadWalltime,
        ),
        (
            TaskSpec {
                walltime: 0,
                ..scf(1, false)
            },
            Code::BadWalltime,
        ),
        (
            TaskSpec {
                walltime: 30,
                executor: 0,
                ..task("w", vec![], vec![], 1)
            },
            Code::BadWalltime,
        ),
        (
            TaskSpec {
                software: vec!["z".into(), "a".into()],
                ..scf(1, false)
            },
            Code::BadSoftware,
        ),
        (
            TaskSpec {
                software: vec!["bad name".into()],
                ..scf(1, false)
            },
            Code::BadSoftware,
        ),
        (
            TaskSpec {
                retries: 99,
                ..scf(1, false)
            },
            Code::BadSoftware,
        ),
        (
            TaskSpec {
                verification: 1,
                ..scf(1, true)
            },
            Code::BadComparator,
        ),
        (
            TaskSpec {
                comparator: Comparator {
                    file: "e.json".into(),
                    rtol: f64::NAN.to_bits(),
                    atol: 0,
                },
                ..scf(2, false)
            },
            Code::BadComparator,
        ),
        (
            TaskSpec {
                args: vec![],
                ..scf(1, false)
            },
            Code::BadTask,
        ),
    ];
    for (t, want) in cases {
        let r = n.h.run(
            0,
            ComputeAction::Submit {
                job: job(t.clone()),
            },
        );
        assert_eq!(code(&r), Some(want), "{t:?}");
    }
    n.assert_balanced(&[]);
}

#[test]
fn a_provider_that_cannot_run_a_task_withdraws_unpaid_and_unslashed() {
    let mut n = native_net();
    let id = submit(&mut n, scf(1, false));
    let first = n.active(&id, 0)[0];
    let stake = n.h.state.load::<Provider>(&first).unwrap().unwrap().stake;
    let cannot = RunResult {
        status: metamesh_primitives::compute::RUN_PROVIDER,
        usage: Usage {
            wall_ms: 30_000,
            ..Usage::default()
        },
        ..RunResult::default()
    };
    let s = n.commit(&id, 0, &first, &cannot);
    n.reveal(&id, 0, &first, s, &cannot);
    let t = n.task(&id, 0);
    assert_eq!(
        (t.replicas[0].state, t.replicas[0].paid),
        (REPLICA_FAILED, Amount::ZERO)
    );
    assert_eq!(
        n.h.state.load::<Provider>(&first).unwrap().unwrap().stake,
        stake,
        "not slashed"
    );
    n.h.until(t.not_before);
    let second = n.active(&id, 0);
    assert_eq!(second.len(), 1);
    assert_ne!(second[0], first);
    let ok = energy(5, -1.0, 500);
    let s = n.commit(&id, 0, &second[0], &ok);
    n.reveal(&id, 0, &second[0], s, &ok);
    assert_eq!(n.job(&id).state, JOB_COMPLETED);
    n.assert_balanced(&[id]);
}
