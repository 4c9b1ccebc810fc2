//! The computing network's test bed: three registered providers, jobs, and helpers that
//! commit and reveal for them; shared by the Wasm and the native task tests.
#![allow(dead_code)]

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    Amount, ComputeAction, Hash,
    compute::{
        Accelerator, Bytes, Cpu, Input, Inventory, JobSpec, Link, Output, Resources, RunResult,
        TaskSpec,
    },
};
use metamesh_state::{Event, Job, Provider, Task, commitment, compute_account, result_digest};

use super::common::{Harness, file};

pub fn cid(seed: u8) -> Bytes {
    Bytes(file(100 + seed as usize, seed).0.to_bytes())
}

pub fn inventory(cores: u64, fuel_price: u128, gpus: u64) -> Inventory {
    Inventory {
        cpu: Cpu {
            cores,
            model: "EPYC".into(),
            benchmark: 100 + cores,
            price_hour: Amount(1),
        },
        memory: 64 << 30,
        disk: 1 << 40,
        accelerators: (gpus > 0)
            .then(|| Accelerator {
                kind: 0,
                model: "A100".into(),
                memory: 80 << 30,
                count: gpus,
                benchmark: 5000,
                price_hour: Amount(9),
            })
            .into_iter()
            .collect(),
        links: vec![Link {
            kind: 1,
            bandwidth: 10_000,
            latency: 200,
        }],
        region: "cn-east".into(),
        executors: 1,
        fuel_price: Amount(fuel_price),
        ..Inventory::default()
    }
}

pub fn register(inv: Inventory) -> ComputeAction {
    ComputeAction::Register {
        inventory: inv,
        stake: Amount::from_mmt(200),
    }
}

pub fn task(name: &str, after: Vec<u64>, inputs: Vec<Input>, replicas: u64) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        program: cid(1),
        args: vec!["64".into()],
        inputs,
        resources: Resources {
            cpu: 1,
            memory: 64 << 20,
            ..Resources::default()
        },
        replicas,
        timeout: 20,
        after,
        fuel: 1_000_000,
        ..TaskSpec::default()
    }
}

pub fn two_task_job() -> JobSpec {
    JobSpec {
        name: "bands".into(),
        max_price: Amount::from_mmt(20),
        tasks: vec![
            task(
                "prepare",
                vec![],
                vec![Input {
                    name: "structure.json".into(),
                    cid: cid(2),
                    ..Input::default()
                }],
                2,
            ),
            task(
                "bands",
                vec![0],
                vec![Input {
                    name: "k.json".into(),
                    task: 0,
                    output: "kpoints.json".into(),
                    ..Input::default()
                }],
                2,
            ),
        ],
        ..JobSpec::default()
    }
}

pub fn result(seed: u8, fuel: u64) -> RunResult {
    RunResult {
        fuel,
        outputs: vec![Output {
            name: "kpoints.json".into(),
            cid: cid(seed),
            size: 100 + seed as u64,
        }],
        ..RunResult::default()
    }
}

pub struct Net {
    pub h: Harness,
    /// Users 1..=3 are providers.
    pub providers: Vec<Address>,
}

impl Net {
    pub fn new(suite: Suite, fuel_prices: [u128; 3]) -> Net {
        let mut h = Harness::new(suite, 5, |_| {});
        let txs: Vec<_> = (0..3)
            .map(|i| h.tx(i + 1, register(inventory(8, fuel_prices[i], 0))))
            .collect();
        let out = h.block(&txs).unwrap();
        assert!(
            out.tx_receipts().iter().all(|r| r.outcome.is_ok()),
            "{out:?}"
        );
        let providers = (1..=3).map(|i| h.user(i)).collect();
        Net { h, providers }
    }

    pub fn user_of(&self, a: &Address) -> usize {
        (0..5).find(|i| self.h.user(*i) == *a).unwrap()
    }

    pub fn task(&self, job: &Hash, i: u64) -> Task {
        self.h.state.load(&(*job, i)).unwrap().unwrap()
    }

    pub fn job(&self, job: &Hash) -> Job {
        self.h.state.load(job).unwrap().unwrap()
    }

    pub fn active(&self, job: &Hash, i: u64) -> Vec<Address> {
        self.task(job, i)
            .replicas
            .iter()
            .filter(|r| r.state == 0)
            .map(|r| r.provider)
            .collect()
    }

    /// Commits then reveals `r` from provider `who` (two blocks).
    pub fn commit(&mut self, job: &Hash, i: u64, who: &Address, r: &RunResult) -> Hash {
        let salt = self.h.suite.hash(&[who.0[0], i as u8]);
        let c = commitment(self.h.suite, &result_digest(self.h.suite, r), &salt, who);
        let u = self.user_of(who);
        let rc = self.h.run(
            u,
            ComputeAction::Commit {
                job: *job,
                task: i,
                commitment: c,
            },
        );
        assert!(rc.outcome.is_ok(), "{rc:?}");
        salt
    }

    pub fn reveal(
        &mut self,
        job: &Hash,
        i: u64,
        who: &Address,
        salt: Hash,
        r: &RunResult,
    ) -> Vec<Event> {
        let (receipt, events) = self.reveal_proof(job, i, who, salt, r, Vec::new());
        assert!(receipt.outcome.is_ok(), "{receipt:?}");
        events
    }

    /// Reveals `r` with `proof`: the transaction's receipt and the block's events.
    pub fn reveal_proof(
        &mut self,
        job: &Hash,
        i: u64,
        who: &Address,
        salt: Hash,
        r: &RunResult,
        proof: Vec<u8>,
    ) -> (metamesh_state::Receipt, Vec<Event>) {
        let u = self.user_of(who);
        let tx = self.h.tx(
            u,
            ComputeAction::Reveal {
                job: *job,
                task: i,
                salt,
                result: r.clone(),
                logs: Bytes::default(),
                proof: Bytes(proof),
            },
        );
        let out = self.h.block(&[tx]).unwrap();
        let events = out.receipts.iter().flat_map(|r| r.events.clone()).collect();
        (out.receipts[0].clone(), events)
    }

    /// Every replica of task `i` commits then reveals the result `pick` gives it.
    pub fn run_task(
        &mut self,
        job: &Hash,
        i: u64,
        pick: impl Fn(&Address) -> RunResult,
    ) -> Vec<Event> {
        let who = self.active(job, i);
        let salts: Vec<Hash> = who
            .iter()
            .map(|w| self.commit(job, i, w, &pick(w)))
            .collect();
        let mut events = Vec::new();
        for (w, s) in who.iter().zip(salts) {
            events.extend(self.reveal(job, i, w, s, &pick(w)));
        }
        events
    }

    /// The compute module holds the stakes and what running jobs hold.
    pub fn assert_balanced(&self, jobs: &[Hash]) {
        let stakes: u128 = self
            .providers
            .iter()
            .map(|p| {
                self.h
                    .state
                    .load::<Provider>(p)
                    .unwrap()
                    .map_or(0, |p| p.stake.0)
            })
            .sum();
        let held: u128 = jobs
            .iter()
            .map(|j| {
                let j = self.job(j);
                j.escrow.0 + j.reserve.0
            })
            .sum();
        assert_eq!(
            self.h.balance(&compute_account(self.h.suite)).0,
            stakes + held
        );
        self.h.assert_supply();
        for j in jobs {
            let j = self.job(j);
            assert!(j.held <= j.escrow, "{j:?}");
        }
    }
}
