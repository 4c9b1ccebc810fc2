//! `metamesh bench scheduler`: task placements per second inside block execution. A state with
//! N registered providers (distinct inventories, prices, regions, loads), then blocks of
//! one-task 2-replica job submissions whose tasks the end of the block places — timed whole,
//! beside a block of as many plain transfers (the reference, measured in the same run), so
//! the placement's own cost is the difference.

use std::{process::ExitCode, sync::Arc, time::Instant};

use metamesh_crypto::{SecretKey, Suite};
use metamesh_primitives::{
    AccountAction, Action, Address, Amount, ComputeAction, Transaction,
    compute::{Bytes, Cpu, Inventory, JobSpec, Link, Resources, TaskSpec},
};
use metamesh_state::{BlockEnv, Genesis, State, VerifiedTx, apply_block};
use metamesh_trie::MemoryStore;
use serde::Serialize;

use crate::Context;

const CHAIN: u64 = 7;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    providers: usize,
    jobs_per_block: usize,
    assignments_per_block: usize,
    block_seconds: f64,
    transfer_block_seconds: f64,
    /// Assignments over the whole block's time (submissions included).
    assignments_per_second: f64,
    /// Assignments over the block's time less the reference block's.
    placement_only_per_second: f64,
}

struct Bench {
    state: State<Arc<MemoryStore>>,
    store: Arc<MemoryStore>,
    number: u64,
    keys: Vec<SecretKey>,
    nonces: Vec<u64>,
}

impl Bench {
    fn env(&self) -> BlockEnv {
        BlockEnv {
            chain_id: CHAIN,
            number: self.number + 1,
            timestamp: 1_000 + self.number,
            parent_hash: [self.number as u8; 32],
            sealer: Address([0xee; 20]),
            gas_limit: 100_000_000,
            randomness: [7; 32],
        }
    }

    fn tx(&mut self, i: usize, action: Action, gas: u64) -> VerifiedTx {
        let tx = Transaction {
            chain_id: CHAIN,
            nonce: self.nonces[i],
            gas_price: Amount(50_000_000_000),
            gas_limit: gas,
            action,
        }
        .sign(&self.keys[i])
        .expect("signs");
        self.nonces[i] += 1;
        VerifiedTx::new(tx, Suite::Eth)
    }

    /// Runs a block; the seconds `apply_block` took.
    fn block(&mut self, txs: &[VerifiedTx]) -> anyhow::Result<f64> {
        let env = self.env();
        let start = Instant::now();
        let out = apply_block(&mut self.state, &env, txs)?;
        let took = start.elapsed().as_secs_f64();
        if let Some(r) = out.tx_receipts().iter().find(|r| r.outcome.is_err()) {
            anyhow::bail!("a benchmark transaction failed: {r:?}");
        }
        let commit = self.state.commit()?;
        self.store.apply(&commit);
        self.state = State::open(Suite::Eth, self.store.clone(), commit.root);
        self.number += 1;
        Ok(took)
    }
}

fn inventory(i: usize) -> Inventory {
    Inventory {
        cpu: Cpu {
            cores: 8 + (i % 57) as u64,
            model: "x86-64".into(),
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
        region: format!("region-{}", i % 5),
        executors: 1,
        fuel_price: Amount(1 + (i * 104_729 % 1000) as u128),
        ..Inventory::default()
    }
}

fn job(n: usize) -> JobSpec {
    JobSpec {
        name: format!("bench-{n}"),
        max_price: Amount::from_mmt(1),
        tasks: vec![TaskSpec {
            name: "t".into(),
            program: Bytes(
                metamesh_storage::Block::new(
                    metamesh_storage::CidVersion::V1,
                    metamesh_storage::RAW,
                    vec![n as u8],
                )
                .cid
                .to_bytes(),
            ),
            resources: Resources {
                cpu: 1,
                memory: 1 << 20,
                ..Resources::default()
            },
            replicas: 2,
            timeout: 1_000,
            fuel: 1_000,
            ..TaskSpec::default()
        }],
        ..JobSpec::default()
    }
}

fn setup(providers: usize, submitters: usize) -> anyhow::Result<Bench> {
    let keys: Vec<SecretKey> = (0..providers + submitters)
        .map(|i| SecretKey::from_bytes(Suite::Eth, &Suite::Eth.hash(&(i as u64).to_be_bytes())))
        .collect::<Result<_, _>>()?;
    let funded: Vec<Address> = keys.iter().map(|k| k.public_key().address()).collect();
    let genesis = Genesis::dev(
        CHAIN,
        Suite::Eth,
        0,
        1,
        vec![Address([0xee; 20])],
        &funded,
        Amount::from_mmt(10_000),
    );
    let store = Arc::new(MemoryStore::new());
    let mut state = State::empty(Suite::Eth, store.clone());
    genesis.apply(&mut state)?;
    let commit = state.commit()?;
    store.apply(&commit);
    let mut b = Bench {
        state: State::open(Suite::Eth, store.clone(), commit.root),
        store,
        number: 0,
        nonces: vec![0; keys.len()],
        keys,
    };
    for chunk in (0..providers).collect::<Vec<_>>().chunks(1_000) {
        let txs: Vec<VerifiedTx> = chunk
            .iter()
            .map(|&i| {
                let a = ComputeAction::Register {
                    inventory: inventory(i),
                    stake: Amount::from_mmt(200),
                };
                b.tx(i, a.into(), 90_000)
            })
            .collect();
        b.block(&txs)?;
    }
    Ok(b)
}

fn measure(providers: usize, jobs: usize, rounds: usize) -> anyhow::Result<Row> {
    let mut b = setup(providers, jobs)?;
    let mut placing = Vec::new();
    let mut reference = Vec::new();
    for r in 0..rounds {
        let txs: Vec<VerifiedTx> = (0..jobs)
            .map(|j| {
                let a = ComputeAction::Submit {
                    job: job(r * jobs + j),
                };
                b.tx(providers + j, a.into(), 400_000)
            })
            .collect();
        placing.push(b.block(&txs)?);
        let to = Address([0x42; 20]);
        let txs: Vec<VerifiedTx> = (0..jobs)
            .map(|j| {
                b.tx(
                    providers + j,
                    AccountAction::Transfer {
                        to,
                        amount: Amount(1),
                    }
                    .into(),
                    30_000,
                )
            })
            .collect();
        reference.push(b.block(&txs)?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (t, t_ref) = (median(&mut placing), median(&mut reference));
    let assignments = jobs * 2;
    Ok(Row {
        providers,
        jobs_per_block: jobs,
        assignments_per_block: assignments,
        block_seconds: t,
        transfer_block_seconds: t_ref,
        assignments_per_second: assignments as f64 / t,
        placement_only_per_second: assignments as f64 / (t - t_ref).max(1e-9),
    })
}

pub fn run(
    ctx: &Context,
    providers: &[usize],
    jobs: usize,
    rounds: usize,
) -> anyhow::Result<ExitCode> {
    // A block places at most `computeMaxPlacements` tasks.
    let jobs = jobs.min(metamesh_state::Params::default().compute_max_placements as usize);
    let mut rows = Vec::new();
    for &n in providers {
        eprintln!("registering {n} providers…");
        rows.push(measure(n, jobs, rounds.max(1))?);
    }
    ctx.out.emit(&rows, || {
        rows.iter()
            .map(|r| {
                format!(
                    "{} providers: {} assignments per block in {:.1} ms ({:.0}/s whole block; {:.0}/s placement alone, beside {:.1} ms for as many transfers)",
                    r.providers,
                    r.assignments_per_block,
                    r.block_seconds * 1e3,
                    r.assignments_per_second,
                    r.placement_only_per_second,
                    r.transfer_block_seconds * 1e3
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(ExitCode::SUCCESS)
}
