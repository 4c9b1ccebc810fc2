//! The computing network through `apply_block`: providers, task graphs, placement, commit and
//! reveal, quorums with a wrong replica outvoted, timeouts replaced, queued tasks placed when a
//! provider fits, the submitter's verdicts, cancellation, bad graphs refused with their codes,
//! and the escrow and supply balanced after every block.

mod common;
#[path = "compute_net/mod.rs"]
mod net;

use net::*;

use common::{Harness, code};
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    Amount, ComputeAction, Hash,
    compute::{AcceleratorNeed, Bytes, Inventory, JobSpec, RunResult, TaskSpec, VERIFY_REQUESTER},
};
use metamesh_state::{
    Code, ComputeEvent, ComputeResult, Event, Job, Provider, Task, commitment, compute_account,
    domains::compute::{JOB_CANCELLED, JOB_COMPLETED, JOB_FAILED, TASK_COMPLETED, TASK_QUEUED},
    job_id, result_digest,
};

#[test]
fn a_task_graph_runs_with_quorums_and_pays_verified_work() {
    for suite in Suite::ALL {
        let mut n = Net::new(suite, [3, 2, 1]);
        let owner = n.h.user(0);
        let before = n.h.balance(&owner);
        let r = n.h.run(
            0,
            ComputeAction::Submit {
                job: two_task_job(),
            },
        );
        assert!(r.outcome.is_ok(), "{r:?}");
        let id = job_id(suite, &owner, 0);
        // Placed at the end of the same block, on two distinct providers.
        let t0 = n.task(&id, 0);
        assert_eq!(t0.replicas.len(), 2);
        assert_ne!(t0.replicas[0].provider, t0.replicas[1].provider);
        assert_eq!(n.task(&id, 1).state, 0, "bands waits for prepare");
        n.assert_balanced(&[id]);

        let events = n.run_task(&id, 0, |_| result(5, 400_000));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Compute(ComputeEvent::Accepted { .. }))),
            "{events:?}"
        );
        let evidence: ComputeResult = n.h.state.load(&(id, 0)).unwrap().unwrap();
        assert_eq!(evidence.result.outputs[0].cid, cid(5));
        assert_eq!(evidence.inputs[0].cid, cid(2));
        assert_eq!(evidence.providers.len(), 2);
        assert_eq!(n.task(&id, 0).state, TASK_COMPLETED);
        // Its dependent was queued and placed at the end of that block.
        assert_eq!(n.active(&id, 1).len(), 2);
        n.assert_balanced(&[id]);

        n.run_task(&id, 1, |_| result(6, 10));
        let job = n.job(&id);
        assert_eq!(job.state, JOB_COMPLETED);
        let t1: ComputeResult = n.h.state.load(&(id, 1)).unwrap().unwrap();
        assert_eq!(t1.inputs[0].cid, cid(5), "bands read prepare's output");
        assert_eq!(
            (job.escrow, job.reserve, job.held),
            (Amount::ZERO, Amount::ZERO, Amount::ZERO)
        );
        // The owner paid exactly the providers' fuel, the placements and the gas.
        assert!(job.paid > Amount::ZERO && n.h.balance(&owner) < before);
        for p in &n.providers {
            let pr: Provider = n.h.state.load(p).unwrap().unwrap();
            assert_eq!((pr.used.cpu, pr.running), (0, 0), "capacity released");
        }
        n.assert_balanced(&[id]);
    }
}

#[test]
fn a_wrong_replica_is_outvoted_by_a_third_and_slashed() {
    let mut n = Net::new(Suite::Sm, [1, 1, 1]);
    n.h.run(
        0,
        ComputeAction::Submit {
            job: JobSpec {
                tasks: vec![task("a", vec![], vec![], 2)],
                ..two_task_job()
            },
        },
    );
    let id = job_id(Suite::Sm, &n.h.user(0), 0);
    let first = n.active(&id, 0);
    let liar = first[0];
    let stake = n.h.state.load::<Provider>(&liar).unwrap().unwrap().stake;
    n.run_task(&id, 0, |w| {
        if *w == liar {
            result(9, 5)
        } else {
            result(5, 5)
        }
    });
    // A tie of one to one: a third replica, on the provider that had none.
    let third: Vec<Address> = n
        .active(&id, 0)
        .into_iter()
        .filter(|a| !first.contains(a))
        .collect();
    assert_eq!(third.len(), 1);
    assert_eq!(n.task(&id, 0).wanted, 3);
    let salt = n.commit(&id, 0, &third[0], &result(5, 5));
    let events = n.reveal(&id, 0, &third[0], salt, &result(5, 5));
    assert!(events.iter().any(|e| matches!(e, Event::Compute(ComputeEvent::Outvoted { provider, .. }) if *provider == liar)), "{events:?}");
    let after: Provider = n.h.state.load(&liar).unwrap().unwrap();
    assert!(after.stake < stake);
    assert!(after.quality < 500 && after.outvoted == 1);
    let honest: Provider = n.h.state.load(&third[0]).unwrap().unwrap();
    assert!(honest.quality > 500);
    assert_eq!(n.job(&id).state, JOB_COMPLETED);
    n.assert_balanced(&[id]);
}

#[test]
fn a_silent_replica_times_out_and_is_replaced() {
    let mut n = Net::new(Suite::Eth, [1, 1, 1]);
    n.h.run(
        0,
        ComputeAction::Submit {
            job: JobSpec {
                tasks: vec![task("a", vec![], vec![], 2)],
                ..two_task_job()
            },
        },
    );
    let id = job_id(Suite::Eth, &n.h.user(0), 0);
    let first = n.active(&id, 0);
    let (live, dead) = (first[0], first[1]);
    n.commit(&id, 0, &live, &result(5, 5));
    let deadline = n.task(&id, 0).replicas[1].deadline;
    let events = n.h.until(deadline);
    assert!(events.iter().any(|e| matches!(e, Event::Compute(ComputeEvent::TimedOut { provider, .. }) if *provider == dead)), "{events:?}");
    // The replacement backs off before it is placed on another provider.
    let not_before = n.task(&id, 0).not_before;
    assert_eq!(not_before, deadline + 2, "computeRetryBackoff");
    assert_eq!(n.active(&id, 0).len(), 1);
    n.h.until(not_before);
    let now = n.active(&id, 0);
    assert_eq!(now.len(), 2);
    assert!(now.contains(&live) && !now.contains(&dead));
    let fresh = *now.iter().find(|a| **a != live).unwrap();
    let s = n.commit(&id, 0, &fresh, &result(5, 5));
    // Reveals opened when both had committed; the first committer's salt is its own.
    let salt = n.h.suite.hash(&[live.0[0], 0]);
    n.reveal(&id, 0, &live, salt, &result(5, 5));
    n.reveal(&id, 0, &fresh, s, &result(5, 5));
    assert_eq!(n.job(&id).state, JOB_COMPLETED);
    let d: Provider = n.h.state.load(&dead).unwrap().unwrap();
    assert_eq!((d.timeouts, d.running), (1, 0));
    n.assert_balanced(&[id]);
}

#[test]
fn a_task_no_provider_fits_waits_until_one_registers() {
    let mut n = Net::new(Suite::Sm, [1, 1, 1]);
    let mut t = task("train", vec![], vec![], 1);
    t.resources.accelerators = vec![AcceleratorNeed {
        kind: 0,
        model: "A100".into(),
        memory: 0,
        count: 2,
    }];
    let r = n.h.run(
        0,
        ComputeAction::Submit {
            job: JobSpec {
                tasks: vec![t],
                ..two_task_job()
            },
        },
    );
    assert!(r.outcome.is_ok());
    let id = job_id(Suite::Sm, &n.h.user(0), 0);
    assert_eq!(n.task(&id, 0).state, TASK_QUEUED);
    let reserve = n.job(&id).reserve;
    n.h.until(n.h.number + 5);
    assert_eq!(
        n.job(&id).reserve,
        reserve,
        "waiting costs nothing while nothing changes"
    );
    let r = n.h.run(4, register(inventory(16, 1, 4)));
    assert!(r.outcome.is_ok());
    n.providers.push(n.h.user(4));
    assert_eq!(n.active(&id, 0), vec![n.h.user(4)]);
    let pr: Provider = n.h.state.load(&n.h.user(4)).unwrap().unwrap();
    assert_eq!(pr.used.accelerators, vec![2]);
    n.assert_balanced(&[id]);
}

#[test]
fn a_tie_no_one_can_break_fails_in_time_and_a_provider_may_leave() {
    let mut n = Net::new(Suite::Sm, [1, 1, 1]);
    // Only two providers left: a tie's third replica finds no one.
    let gone = n.providers[2];
    let before = n.h.balance(&gone);
    let r = n.h.run(
        3,
        ComputeAction::Register {
            inventory: Inventory::default(),
            stake: Amount::ZERO,
        },
    );
    assert!(r.outcome.is_ok(), "{r:?}");
    assert!(n.h.state.load::<Provider>(&gone).unwrap().is_none());
    assert!(n.h.balance(&gone) > before, "the stake came back");
    n.providers.pop();
    n.h.run(
        0,
        ComputeAction::Submit {
            job: JobSpec {
                tasks: vec![task("a", vec![], vec![], 2)],
                ..two_task_job()
            },
        },
    );
    let id = job_id(Suite::Sm, &n.h.user(0), 0);
    let first = n.active(&id, 0);
    let liar = first[0];
    n.run_task(&id, 0, |w| {
        if *w == liar {
            result(9, 5)
        } else {
            result(5, 5)
        }
    });
    assert_eq!(n.task(&id, 0).wanted, 3);
    let due = n.task(&id, 0).due;
    assert!(due > n.h.number, "a deadline for the missing replica");
    let events = n.h.until(due);
    assert!(events.iter().any(|e| matches!(e, Event::Compute(ComputeEvent::TaskFailed { code, .. }) if *code == Code::Unplaced as u16)), "{events:?}");
    assert_eq!(n.job(&id).state, JOB_FAILED);
    for p in &n.providers {
        assert_eq!(
            n.h.state.load::<Provider>(p).unwrap().unwrap().running,
            0,
            "released"
        );
    }
    // A provider with work running cannot leave.
    n.h.run(
        0,
        ComputeAction::Submit {
            job: JobSpec {
                tasks: vec![task("b", vec![], vec![], 2)],
                ..two_task_job()
            },
        },
    );
    let u = n.user_of(&n.providers[0]);
    let r = n.h.run(
        u,
        ComputeAction::Register {
            inventory: Inventory::default(),
            stake: Amount::ZERO,
        },
    );
    assert_eq!(code(&r), Some(Code::StakeInUse));
    n.assert_balanced(&[id, job_id(Suite::Sm, &n.h.user(0), 1)]);
}

#[test]
fn a_program_that_traps_fails_its_task_and_still_pays_the_fuel() {
    let mut n = Net::new(Suite::Eth, [1, 1, 1]);
    n.h.run(
        0,
        ComputeAction::Submit {
            job: two_task_job(),
        },
    );
    let id = job_id(Suite::Eth, &n.h.user(0), 0);
    let trapped = RunResult {
        status: metamesh_primitives::compute::RUN_TRAP,
        fuel: 77,
        ..RunResult::default()
    };
    let events = n.run_task(&id, 0, |_| trapped.clone());
    assert!(events.iter().any(|e| matches!(e, Event::Compute(ComputeEvent::TaskFailed { code, args, .. }) if *code == Code::RunFailed as u16 && args[0] == 2)), "{events:?}");
    let job = n.job(&id);
    assert_eq!((job.state, job.code), (JOB_FAILED, Code::RunFailed as u64));
    assert_eq!(job.paid, Amount(2 * 77), "both replicas' fuel at 1 wei");
    assert_eq!(n.task(&id, 1).state, 6, "the dependent task is cancelled");
    n.assert_balanced(&[id]);
}

#[test]
fn a_gang_job_is_placed_all_at_once_or_not_at_all() {
    for gang in [false, true] {
        let mut n = Net::new(Suite::Sm, [1, 1, 1]);
        let mut wide = task("a", vec![], vec![], 2);
        wide.resources.cpu = 8;
        let mut other = wide.clone();
        other.name = "b".into();
        let spec = JobSpec {
            gang,
            tasks: vec![wide, other],
            ..two_task_job()
        };
        assert!(
            n.h.run(0, ComputeAction::Submit { job: spec })
                .outcome
                .is_ok()
        );
        let id = job_id(Suite::Sm, &n.h.user(0), 0);
        // Three 8-core providers hold one 2-replica 8-core task, not two.
        let placed: Vec<usize> = (0..2).map(|i| n.active(&id, i).len()).collect();
        if gang {
            assert_eq!(placed, [0, 0], "all or nothing");
            assert!(
                n.providers
                    .iter()
                    .all(|p| n.h.state.load::<Provider>(p).unwrap().unwrap().running == 0)
            );
        } else {
            assert_eq!(placed, [2, 0]);
        }
        n.assert_balanced(&[id]);
    }
}

#[test]
fn the_submitter_reviews_requester_tasks_and_may_cancel() {
    let mut n = Net::new(Suite::Sm, [1, 1, 1]);
    let mut t = task("a", vec![], vec![], 1);
    t.verification = VERIFY_REQUESTER;
    let spec = JobSpec {
        tasks: vec![t.clone()],
        ..two_task_job()
    };
    n.h.run(0, ComputeAction::Submit { job: spec.clone() });
    let id = job_id(Suite::Sm, &n.h.user(0), 0);
    n.run_task(&id, 0, |_| result(5, 5));
    assert_eq!(n.task(&id, 0).state, 3, "in review");
    let r = n.h.run(
        1,
        ComputeAction::Decide {
            job: id,
            task: 0,
            accept: false,
        },
    );
    assert_eq!(code(&r), Some(Code::NotJobOwner));
    let r = n.h.run(
        0,
        ComputeAction::Decide {
            job: id,
            task: 0,
            accept: false,
        },
    );
    assert!(r.outcome.is_ok());
    assert_eq!(n.job(&id).state, JOB_FAILED);

    // Unanswered, the window ends in acceptance.
    n.h.run(0, ComputeAction::Submit { job: spec.clone() });
    let id2 = job_id(Suite::Sm, &n.h.user(0), 2);
    n.run_task(&id2, 0, |_| result(5, 5));
    let until = n.task(&id2, 0).review_until;
    n.h.until(until);
    assert_eq!(n.job(&id2).state, JOB_COMPLETED);

    // Cancelling gives back what is left and frees the providers.
    n.h.run(
        0,
        ComputeAction::Submit {
            job: two_task_job(),
        },
    );
    let id3 = job_id(Suite::Sm, &n.h.user(0), 3);
    let r = n.h.run(0, ComputeAction::Cancel { job: id3 });
    assert!(r.outcome.is_ok(), "{r:?}");
    assert_eq!(n.job(&id3).state, JOB_CANCELLED);
    for p in &n.providers {
        assert_eq!(n.h.state.load::<Provider>(p).unwrap().unwrap().running, 0);
    }
    let r = n.h.run(0, ComputeAction::Cancel { job: id3 });
    assert_eq!(code(&r), Some(Code::JobEnded));
    n.assert_balanced(&[id, id2, id3]);
}

#[test]
fn bad_graphs_and_results_are_refused_with_their_codes() {
    let mut n = Net::new(Suite::Sm, [1, 1, 1]);
    let base = two_task_job();
    let mut cyclic = base.clone();
    cyclic.tasks[0].after = vec![1];
    let mut unknown = base.clone();
    unknown.tasks[1].inputs[0].task = 1;
    let mut not_after = base.clone();
    not_after.tasks[1].after = vec![];
    let mut fuel = base.clone();
    fuel.tasks[0].fuel = 0;
    let mut hurried = base.clone();
    hurried.tasks[0].fuel = 1_000_000_000_000;
    hurried.tasks[0].timeout = 100;
    let mut big = base.clone();
    big.tasks = (0..65)
        .map(|i| task(&format!("t{i}"), vec![], vec![], 1))
        .collect();
    let mut same = base.clone();
    same.tasks[1].name = "prepare".into();
    let mut self_dep = base.clone();
    self_dep.tasks[1].after = vec![1];
    let mut poor = base.clone();
    poor.max_price = Amount(3);
    let mut weights = base.clone();
    weights.weights = Bytes(vec![0; 7]);
    for (spec, want) in [
        (cyclic, Code::CyclicGraph),
        (unknown, Code::UnknownInput),
        (not_after, Code::UnknownInput),
        (fuel, Code::BadFuel),
        (hurried, Code::BadTimeout),
        (big, Code::BadTaskCount),
        (same, Code::BadTask),
        (self_dep, Code::BadDependency),
        (poor, Code::NoBudget),
        (weights, Code::BadWeights),
    ] {
        let r = n.h.run(0, ComputeAction::Submit { job: spec });
        assert_eq!(code(&r), Some(want), "{r:?}");
    }
    n.h.run(0, ComputeAction::Submit { job: base });
    let id = job_id(Suite::Sm, &n.h.user(0), n.h.nonce(&n.h.user(0)) - 1);
    let who = n.active(&id, 0)[0];
    let u = n.user_of(&who);
    let r = n.h.run(
        u,
        ComputeAction::Reveal {
            job: id,
            task: 0,
            salt: [0; 32],
            result: result(1, 1),
            logs: Bytes::default(),
            proof: Bytes::default(),
        },
    );
    assert_eq!(code(&r), Some(Code::NotCommitted));
    let salt = n.commit(&id, 0, &who, &result(1, 1));
    let r = n.h.run(
        u,
        ComputeAction::Reveal {
            job: id,
            task: 0,
            salt,
            result: result(1, 1),
            logs: Bytes::default(),
            proof: Bytes::default(),
        },
    );
    assert_eq!(code(&r), Some(Code::RevealsClosed));
    let r = n.h.run(
        2 + (u % 3),
        ComputeAction::Commit {
            job: id,
            task: 9,
            commitment: [1; 32],
        },
    );
    assert_eq!(code(&r), Some(Code::NoSuchTask));
    let r = n.h.run(
        4,
        ComputeAction::Heartbeat {
            load: 1,
            free_cpu: 1,
            free_memory: 1,
            online: vec![],
        },
    );
    assert_eq!(code(&r), Some(Code::NotAProvider));
    let r = n.h.run(
        4,
        ComputeAction::Register {
            inventory: Inventory::default(),
            stake: Amount::from_mmt(200),
        },
    );
    assert_eq!(code(&r), Some(Code::BadInventory));
    n.assert_balanced(&[id]);
}

mod random {
    //! Random traffic: registrations, graphs good and bad, honest and lying replicas, silence,
    //! cancellations. After every block the supply is whole, the compute module holds exactly
    //! the stakes and what running jobs hold, no job promises more than its escrow, and no
    //! provider has more reserved than its inventory.

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Register {
            who: usize,
            cores: u64,
            gpus: u64,
            price: u128,
        },
        Submit {
            tasks: usize,
            replicas: u64,
            cycle: bool,
            gpu: bool,
            requester: bool,
        },
        Work {
            job: usize,
            lie: bool,
        },
        Cancel {
            job: usize,
        },
        Decide {
            job: usize,
            yes: bool,
        },
        Wait {
            blocks: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (1usize..5, 1u64..8, 0u64..3, 1u128..10).prop_map(|(who, cores, gpus, price)| Op::Register { who, cores, gpus, price }),
            3 => (1usize..4, 1u64..4, prop::bool::weighted(0.1), prop::bool::weighted(0.2), prop::bool::weighted(0.2))
                .prop_map(|(tasks, replicas, cycle, gpu, requester)| Op::Submit { tasks, replicas, cycle, gpu, requester }),
            6 => (0usize..8, prop::bool::weighted(0.2)).prop_map(|(job, lie)| Op::Work { job, lie }),
            1 => (0usize..8).prop_map(|job| Op::Cancel { job }),
            1 => (0usize..8, any::<bool>()).prop_map(|(job, yes)| Op::Decide { job, yes }),
            1 => (1u64..25).prop_map(|blocks| Op::Wait { blocks }),
        ]
    }

    fn spec(tasks: usize, replicas: u64, cycle: bool, gpu: bool, requester: bool) -> JobSpec {
        let mut ts: Vec<TaskSpec> = (0..tasks)
            .map(|i| {
                let after = if i == 0 { vec![] } else { vec![i as u64 - 1] };
                let mut t = task(
                    &format!("t{i}"),
                    after,
                    vec![],
                    if requester { 1 } else { replicas },
                );
                t.timeout = 5;
                if requester {
                    t.verification = VERIFY_REQUESTER;
                }
                if gpu {
                    t.resources.accelerators = vec![AcceleratorNeed {
                        kind: 0,
                        model: String::new(),
                        memory: 0,
                        count: 1,
                    }];
                }
                t
            })
            .collect();
        if cycle && tasks > 1 {
            ts[0].after = vec![tasks as u64 - 1];
        }
        JobSpec {
            name: "r".into(),
            max_price: Amount::from_mmt(5),
            tasks: ts,
            ..JobSpec::default()
        }
    }

    fn check(h: &Harness, jobs: &[Hash]) -> Result<(), TestCaseError> {
        h.assert_supply();
        let mut stakes = 0u128;
        for i in 0..5 {
            if let Some(p) = h.state.load::<Provider>(&h.user(i)).unwrap() {
                stakes += p.stake.0;
                prop_assert!(p.used.cpu <= p.inventory.cpu.cores, "{p:?}");
                for (u, a) in p.used.accelerators.iter().zip(&p.inventory.accelerators) {
                    prop_assert!(*u <= a.count, "{p:?}");
                }
            }
        }
        let mut held = 0u128;
        for id in jobs {
            let j: Job = h.state.load(id).unwrap().unwrap();
            prop_assert!(j.held <= j.escrow, "{j:?}");
            held += j.escrow.0 + j.reserve.0;
        }
        prop_assert_eq!(h.balance(&compute_account(h.suite)).0, stakes + held);
        Ok(())
    }

    /// Every active replica of the job's running tasks commits, and reveals once it may.
    fn work(h: &mut Harness, id: &Hash, lie: bool) -> Vec<metamesh_state::VerifiedTx> {
        let job: Job = h.state.load(id).unwrap().unwrap();
        let mut txs = Vec::new();
        for i in 0..job.spec.tasks.len() as u64 {
            let t: Task = h.state.load(&(*id, i)).unwrap().unwrap();
            let committed = t
                .replicas
                .iter()
                .filter(|r| r.state == 0 && r.commitment != [0; 32])
                .count() as u64;
            for (k, r) in t.replicas.iter().enumerate().filter(|(_, r)| r.state == 0) {
                let Some(u) = (0..5).find(|u| h.user(*u) == r.provider) else {
                    continue;
                };
                let res = result(if lie && k == 0 { 9 } else { 5 }, 7);
                let salt = [k as u8 + 1; 32];
                let action = if r.commitment == [0; 32] {
                    let c = commitment(h.suite, &result_digest(h.suite, &res), &salt, &r.provider);
                    ComputeAction::Commit {
                        job: *id,
                        task: i,
                        commitment: c,
                    }
                } else if committed >= t.wanted && !r.revealed {
                    ComputeAction::Reveal {
                        job: *id,
                        task: i,
                        salt,
                        result: res,
                        logs: Bytes::default(),
                        proof: Bytes::default(),
                    }
                } else {
                    continue;
                };
                let nonce = h.nonce(&h.user(u))
                    + txs.iter().filter(|(x, _): &&(usize, _)| *x == u).count() as u64;
                txs.push((u, h.signed(u, nonce, 2_000_000, action.into())));
            }
        }
        txs.into_iter().map(|(_, t)| t).collect()
    }

    fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut h = Harness::new(Suite::Sm, 5, |_| {});
        let mut jobs: Vec<Hash> = Vec::new();
        for op in ops {
            match op {
                Op::Register {
                    who,
                    cores,
                    gpus,
                    price,
                } => {
                    h.run(who, register(inventory(cores, price, gpus)));
                }
                Op::Submit {
                    tasks,
                    replicas,
                    cycle,
                    gpu,
                    requester,
                } => {
                    let nonce = h.nonce(&h.user(0));
                    let r = h.run(
                        0,
                        ComputeAction::Submit {
                            job: spec(tasks, replicas, cycle, gpu, requester),
                        },
                    );
                    if r.outcome.is_ok() {
                        jobs.push(job_id(Suite::Sm, &h.user(0), nonce));
                    } else {
                        prop_assert!(cycle, "only cyclic graphs are refused here: {r:?}");
                    }
                }
                Op::Work { job, lie } => {
                    if let Some(id) = jobs.get(job).copied() {
                        let txs = work(&mut h, &id, lie);
                        h.block(&txs).unwrap();
                    }
                }
                Op::Cancel { job } => {
                    if let Some(id) = jobs.get(job).copied() {
                        h.run(0, ComputeAction::Cancel { job: id });
                    }
                }
                Op::Decide { job, yes } => {
                    if let Some(id) = jobs.get(job).copied() {
                        h.run(
                            0,
                            ComputeAction::Decide {
                                job: id,
                                task: 0,
                                accept: yes,
                            },
                        );
                    }
                }
                Op::Wait { blocks } => {
                    h.until(h.number + blocks);
                }
            }
            check(&h, &jobs)?;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn escrow_stakes_and_capacity_stay_balanced(ops in prop::collection::vec(op(), 1..40)) {
            run(ops)?;
        }
    }
}
