//! Placements per second over 1,000 and 10,000 providers, beside the reference of one pass that
//! only reads each candidate's free cores (the least any scheduler must do).

use criterion::{Criterion, criterion_group, criterion_main};
use metamesh_primitives::{
    Address, Amount,
    compute::{Cpu, Inventory, Link, Resources},
};
use metamesh_scheduler::{Candidate, Free, Request, place};

fn inventories(n: usize) -> Vec<Inventory> {
    (0..n)
        .map(|i| Inventory {
            cpu: Cpu {
                cores: 8 + (i % 57) as u64,
                model: "x86".into(),
                benchmark: 100 + (i * 7919 % 900) as u64,
                price_hour: Amount(1),
            },
            memory: 64 << 30,
            disk: 1 << 40,
            links: vec![Link {
                kind: (i % 4) as u8,
                bandwidth: 100 + (i * 31 % 10_000) as u64,
                latency: 50,
            }],
            region: format!("r{}", i % 5),
            executors: 1,
            fuel_price: Amount(1 + (i * 104_729 % 1000) as u128),
            ..Inventory::default()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let need = Resources {
        cpu: 4,
        memory: 1 << 30,
        ..Resources::default()
    };
    for n in [1_000usize, 10_000] {
        let invs = inventories(n);
        let frees: Vec<Free> = invs
            .iter()
            .map(|inv| Free {
                cpu: inv.cpu.cores,
                memory: inv.memory,
                disk: inv.disk,
                accelerators: Vec::new(),
            })
            .collect();
        let cands: Vec<Candidate<'_>> = invs
            .iter()
            .enumerate()
            .map(|(i, inv)| Candidate {
                address: Address([(i % 251) as u8; 20]),
                operator: Address(
                    (i as u64 * 2_654_435_761).to_be_bytes().repeat(3)[..20]
                        .try_into()
                        .unwrap(),
                ),
                inventory: inv,
                free: &frees[i],
                eligible: i % 10 != 0,
                load: (i * 37 % 1000) as u64,
                quality: (i * 53 % 1000) as u64,
                held: 0,
                near: i % 3 == 0,
                tie: [(i % 256) as u8; 32],
            })
            .collect();
        let r = Request {
            resources: &need,
            executor: 0,
            fuel: 1_000_000,
            walltime: 0,
            software: &[],
            network: false,
            budget: Amount(u128::MAX),
            exclude: &[],
        };
        c.bench_function(&format!("place 2 replicas among {n}"), |b| {
            b.iter(|| place(&cands, &r, &[1, 1, 1, 1, 1, 1, 1], 2))
        });
        c.bench_function(&format!("reference: scan free cores of {n}"), |b| {
            b.iter(|| cands.iter().filter(|c| c.free.cpu >= need.cpu).count())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
