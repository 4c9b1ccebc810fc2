use metamesh_primitives::compute::{Accelerator, AcceleratorNeed, Cpu, Link};
use proptest::prelude::*;

use super::*;

const CHEAPEST: Weights = [0, 0, 0, 1, 0, 0, 0];
const FASTEST: Weights = [0, 0, 0, 0, 1, 0, 0];
const BALANCED: Weights = [1, 1, 1, 1, 1, 1, 1];

fn inventory(cores: u64, gpus: u64, bench: u64, fuel_price: u128) -> Inventory {
    Inventory {
        cpu: Cpu {
            cores,
            model: "x86".into(),
            benchmark: bench,
            price_hour: Amount(1),
        },
        memory: 64 << 30,
        memory_price_hour: Amount(1),
        disk: 1 << 40,
        accelerators: (gpus > 0)
            .then(|| Accelerator {
                kind: 0,
                model: "A100".into(),
                memory: 80 << 30,
                count: gpus,
                benchmark: bench * 10,
                price_hour: Amount(5),
            })
            .into_iter()
            .collect(),
        links: vec![Link {
            kind: 1,
            bandwidth: 1000 + bench,
            latency: 100,
        }],
        region: "cn-north".into(),
        executors: 1,
        fuel_price: Amount(fuel_price),
        ..Inventory::default()
    }
}

fn free_of(inv: &Inventory) -> &'static Free {
    Box::leak(Box::new(Free {
        cpu: inv.cpu.cores,
        memory: inv.memory,
        disk: inv.disk,
        accelerators: inv.accelerators.iter().map(|a| a.count).collect(),
    }))
}

fn candidate(i: usize, inv: &Inventory, load: u64, quality: u64) -> Candidate<'_> {
    Candidate {
        address: Address([i as u8; 20]),
        operator: Address([i as u8; 20]),
        inventory: inv,
        free: free_of(inv),
        eligible: true,
        load,
        quality,
        held: 0,
        near: true,
        tie: [i as u8; 32],
    }
}

fn need(cpu: u64, gpus: u64) -> Resources {
    Resources {
        cpu,
        memory: 1 << 30,
        accelerators: (gpus > 0)
            .then(|| AcceleratorNeed {
                kind: 0,
                model: "a100".into(),
                memory: 0,
                count: gpus,
            })
            .into_iter()
            .collect(),
        ..Resources::default()
    }
}

fn request(res: &Resources) -> Request<'_> {
    Request {
        resources: res,
        executor: 0,
        fuel: 1_000,
        walltime: 0,
        software: &[],
        network: false,
        budget: Amount(u128::MAX),
        exclude: &[],
    }
}

type Spec = (u64, u64, u64, u128, u64, u64);

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(
        (
            1u64..64,
            0u64..8,
            1u64..1000,
            1u128..100,
            0u64..1000,
            0u64..1000,
        ),
        1..24,
    )
}

proptest! {
    #[test]
    fn placement_is_deterministic_and_feasible(specs in specs(), cpu in 1u64..32, gpus in 0u64..4, n in 1usize..4) {
        let invs: Vec<Inventory> = specs.iter().map(|s| inventory(s.0, s.1, s.2, s.3)).collect();
        let cands: Vec<Candidate<'_>> = invs.iter().enumerate().map(|(i, inv)| candidate(i, inv, specs[i].4, specs[i].5)).collect();
        let res = need(cpu, gpus);
        let r = request(&res);
        let (a, all_a) = place(&cands, &r, &BALANCED, n);
        let (b, all_b) = place(&cands, &r, &BALANCED, n);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&all_a, &all_b);
        for s in &all_a {
            let inv = &invs[s.index];
            prop_assert!(inv.cpu.cores >= cpu);
            prop_assert!(gpus == 0 || inv.accelerators.first().is_some_and(|g| g.count >= gpus));
            prop_assert!(s.scores.iter().all(|v| *v <= 100));
        }
        let fits = invs.iter().filter(|i| i.cpu.cores >= cpu && (gpus == 0 || i.accelerators.first().is_some_and(|g| g.count >= gpus))).count();
        prop_assert_eq!(all_a.len(), fits, "every feasible candidate is evaluated");
        prop_assert_eq!(a.is_some(), fits >= n);
    }

    #[test]
    fn cheapest_picks_the_lowest_quote_and_fastest_the_best_benchmark(specs in specs(), cpu in 1u64..32) {
        let invs: Vec<Inventory> = specs.iter().map(|s| inventory(s.0, s.1, s.2, s.3)).collect();
        let cands: Vec<Candidate<'_>> = invs.iter().enumerate().map(|(i, inv)| candidate(i, inv, specs[i].4, specs[i].5)).collect();
        let res = need(cpu, 0);
        let r = request(&res);
        let feasible: Vec<usize> = (0..invs.len()).filter(|i| invs[*i].cpu.cores >= cpu).collect();
        if let (Some(best), _) = place(&cands, &r, &CHEAPEST, 1) {
            let lowest = feasible.iter().map(|i| invs[*i].fuel_price).min().unwrap();
            prop_assert_eq!(invs[best[0].index].fuel_price, lowest);
        } else {
            prop_assert!(feasible.is_empty());
        }
        if let (Some(best), _) = place(&cands, &r, &FASTEST, 1) {
            let top = feasible.iter().map(|i| invs[*i].cpu.benchmark).max().unwrap();
            // Scores are whole percentages: the winner is within 1 % of the best.
            prop_assert!(invs[best[0].index].cpu.benchmark * 100 / top >= 99 || invs[best[0].index].cpu.benchmark == top);
        }
    }

    #[test]
    fn reservations_never_exceed_the_inventory(cores in 1u64..64, gpus in 0u64..8, asks in prop::collection::vec((0u64..16, 0u64..4), 1..40)) {
        let inv = inventory(cores, gpus, 10, 1);
        let mut free = candidate(0, &inv, 0, 0).free.clone();
        let mut taken: Vec<(Resources, Vec<usize>)> = Vec::new();
        for (cpu, g) in asks {
            let res = need(cpu, g);
            let before = free.clone();
            match reserve(&inv, &mut free, &res) {
                Some(picked) => taken.push((res, picked)),
                None => prop_assert_eq!(&free, &before, "a refused reservation changes nothing"),
            }
            let cpu_used: u64 = taken.iter().map(|t| t.0.cpu).sum();
            let gpu_used: u64 = taken.iter().flat_map(|t| &t.0.accelerators).map(|a| a.count).sum();
            prop_assert_eq!(cpu_used + free.cpu, cores);
            prop_assert!(gpu_used <= gpus);
            prop_assert_eq!(free.accelerators.iter().sum::<u64>() + gpu_used, gpus);
        }
    }
}

#[test]
fn replicas_go_to_distinct_operators_and_excluded_ones_are_skipped() {
    let invs: Vec<Inventory> = (0..4).map(|i| inventory(8, 0, 10 + i, 5)).collect();
    let mut cands: Vec<Candidate<'_>> = invs
        .iter()
        .enumerate()
        .map(|(i, inv)| candidate(i, inv, 0, 500))
        .collect();
    cands[1].operator = cands[0].operator;
    let res = need(1, 0);
    let excluded = [cands[3].operator];
    let r = Request {
        exclude: &excluded,
        ..request(&res)
    };
    let (placed, all) = place(&cands, &r, &FASTEST, 2);
    let placed = placed.expect("two operators fit");
    assert_eq!(all.len(), 3, "the excluded one is not feasible");
    assert_eq!(placed[0].index, 2, "the fastest");
    assert_eq!(placed[1].index, 1, "then the best of the shared operator's");
    assert!(
        place(&cands, &r, &FASTEST, 3).0.is_none(),
        "only two operators are left"
    );
}

#[test]
fn budget_executor_link_and_eligibility_filter() {
    let inv = inventory(8, 1, 10, 10);
    let res = need(1, 1);
    let mut c = candidate(0, &inv, 0, 0);
    let r = request(&res);
    assert_eq!(feasible(&c, &r), Some(Amount(10_000)));
    assert_eq!(
        feasible(
            &c,
            &Request {
                budget: Amount(9_999),
                ..r.clone()
            }
        ),
        None
    );
    assert_eq!(
        feasible(
            &c,
            &Request {
                executor: 1,
                ..r.clone()
            }
        ),
        None
    );
    let linked = Resources {
        link: 3,
        ..res.clone()
    };
    assert_eq!(
        feasible(&c, &request(&linked)),
        None,
        "no hpc-intranet link"
    );
    let other_model = Resources {
        accelerators: vec![AcceleratorNeed {
            kind: 0,
            model: "H100".into(),
            memory: 0,
            count: 1,
        }],
        ..res.clone()
    };
    assert_eq!(feasible(&c, &request(&other_model)), None);
    c.eligible = false;
    assert_eq!(feasible(&c, &r), None);
}

#[test]
fn native_tasks_need_software_network_and_pay_by_the_hour() {
    let mut inv = inventory(8, 1, 10, 10);
    inv.executors = 0b011;
    inv.cpu.price_hour = Amount(3_600);
    inv.memory_price_hour = Amount(7_200);
    inv.accelerators[0].price_hour = Amount(36_000);
    inv.software = vec!["pyscf".into(), "python3".into()];
    let c = candidate(0, &inv, 0, 0);
    let res = Resources {
        cpu: 2,
        memory: 3 << 29,
        ..need(2, 1)
    };
    let software = vec!["python3".to_owned()];
    let r = Request {
        executor: 1,
        walltime: 1_800,
        software: &software,
        ..request(&res)
    };
    // (2 cores × 3,600 + 2 GiB × 7,200 + 1 GPU × 36,000) an hour, for half an hour.
    assert_eq!(feasible(&c, &r), Some(Amount(28_800)));
    let missing = vec!["julia".to_owned()];
    assert_eq!(
        feasible(
            &c,
            &Request {
                software: &missing,
                ..r.clone()
            }
        ),
        None
    );
    assert_eq!(
        feasible(
            &c,
            &Request {
                network: true,
                ..r.clone()
            }
        ),
        None
    );
    let mut open = inv.clone();
    open.network = true;
    let c = candidate(0, &open, 0, 0);
    assert!(feasible(&c, &Request { network: true, ..r }).is_some());
}

#[test]
fn ties_break_by_hash() {
    let inv = inventory(8, 0, 10, 5);
    let mut cands: Vec<Candidate<'_>> = (0..3).map(|i| candidate(i, &inv, 0, 500)).collect();
    cands[0].tie = [9; 32];
    let res = need(1, 0);
    let (placed, all) = place(&cands, &request(&res), &BALANCED, 1);
    assert!(all.windows(2).all(|w| w[0].total == w[1].total));
    assert_eq!(
        placed.unwrap()[0].index,
        1,
        "equal scores: the lowest tie hash"
    );
}
