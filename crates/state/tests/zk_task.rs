//! zk-verified compute tasks through `apply_block`: one provider, no replicas; a result
//! accepted when its proof verifies with the chain's bindings (job, task, inputs and outputs
//! digests, provider), its claims recorded and the statement proven; a proof for other
//! outputs or other claims rejected, its provider slashed and the task placed elsewhere; a
//! failed run withdrawn until the task's retries are spent; pinned claims enforced; malformed
//! zk tasks and reveals, and task circuits' proofs sent alone, refused under their codes.

mod common;
#[path = "compute_net/mod.rs"]
mod net;

use std::path::PathBuf;

use common::code;
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    Amount, CircuitSpec, ComputeAction, Hash, ZkAction,
    compute::{
        Input, JobSpec, Output, PinnedClaim, RUN_EXIT, RunResult, TaskSpec, VERIFY_QUORUM,
        VERIFY_ZK, ZK_BINDINGS,
    },
};
use metamesh_state::{
    Code, ComputeEvent, ComputeResult, Event, Provider, Statement, ZkEvent,
    domains::compute::{TASK_COMPLETED, bindings, input_digest, output_digest},
    job_id, statement_id,
};
use metamesh_zk::{snarkjs, witness::Limits};
use net::*;
use serde_json::{Value, json};

const DIR: &str = "task-sum-bn128";

fn fixture(file: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../zk/tests/fixtures")
        .join(DIR)
        .join(file);
    std::fs::read(p).unwrap()
}

fn names() -> Vec<String> {
    let mut n = vec!["commitment".to_string(), "sum".to_string()];
    n.extend(ZK_BINDINGS.iter().map(|s| s.to_string()));
    n
}

/// Registers the task circuit (and, for the refusals, the multiplier) and gives its id.
fn register_circuit(n: &mut Net, names: Vec<String>, dir: &str) -> Hash {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../zk/tests/fixtures")
                .join(dir)
                .join("verification_key.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let vk = snarkjs::read_vk::<ark_bn254::Bn254>(&doc).unwrap();
    let spec = CircuitSpec {
        engine: 1,
        vk: vk.canonical_bytes(),
        name: dir.into(),
        inputs: names,
        ..CircuitSpec::default()
    };
    let r = n.h.run(4, ZkAction::RegisterCircuit { spec: spec.clone() });
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    n.h.suite.hash(&spec.vk)
}

fn zk_task(circuit: Hash) -> TaskSpec {
    let input = Input {
        name: "data.json".into(),
        cid: cid(2),
        ..Input::default()
    };
    TaskSpec {
        verification: VERIFY_ZK,
        circuit,
        ..task("sum", vec![], vec![input], 1)
    }
}

fn zk_job(circuit: Hash) -> JobSpec {
    JobSpec {
        name: "zk-sum".into(),
        max_price: Amount::from_mmt(20),
        tasks: vec![zk_task(circuit)],
        ..JobSpec::default()
    }
}

/// A proof of `result` by `who` for task 0 of `job` (values 1..=8, salt 7); `outputs` is the
/// outputs digest to bind (the result's own, unless testing a wrong one).
fn prove(n: &Net, job: &Hash, who: &Address, outputs: &Hash) -> (Vec<u8>, Vec<Hash>) {
    let spec = zk_task([1; 32]);
    let read = [Output {
        name: "data.json".into(),
        cid: cid(2),
        size: 0,
    }];
    let inputs = input_digest(n.h.suite, &spec, &read);
    let bound = bindings(job, 0, &inputs, outputs, who);
    let mut input = json!({"values": [1, 2, 3, 4, 5, 6, 7, 8], "salt": 7});
    for (name, v) in ZK_BINDINGS.iter().zip(&bound) {
        input[*name] = json!(metamesh_zk::field::be_decimal(v));
    }
    let (proof, public) = metamesh_zk::prove::prove_files(
        &fixture("circuit.zkey"),
        &fixture("circuit.wasm"),
        &input,
        Limits::default(),
        None,
    )
    .unwrap();
    assert_eq!(
        &public[2..],
        &bound[..],
        "the bindings are where the names say"
    );
    (proof, public[..2].to_vec())
}

/// The public inputs the chain verified `result`'s proof with.
fn s_inputs(n: &Net, job: &Hash, who: &Address, result: &RunResult) -> Vec<[u8; 32]> {
    let read = [Output {
        name: "data.json".into(),
        cid: cid(2),
        size: 0,
    }];
    let inputs = input_digest(n.h.suite, &zk_task([1; 32]), &read);
    let bound = bindings(job, 0, &inputs, &output_digest(n.h.suite, result), who);
    let mut all = result.claims.clone();
    all.extend(bound);
    all
}

fn submit(n: &mut Net, job: JobSpec) -> Hash {
    let owner = n.h.user(0);
    let nonce = n.h.nonce(&owner);
    let r = n.h.run(0, ComputeAction::Submit { job });
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    job_id(n.h.suite, &owner, nonce)
}

fn stake(n: &Net, who: &Address) -> Amount {
    n.h.state.load::<Provider>(who).unwrap().unwrap().stake
}

#[test]
fn a_proven_result_is_accepted_without_replicas() {
    for suite in Suite::ALL {
        let mut n = Net::new(suite, [3, 2, 1]);
        let circuit = register_circuit(&mut n, names(), DIR);
        let id = submit(&mut n, zk_job(circuit));
        let who = n.active(&id, 0);
        assert_eq!(who.len(), 1, "one provider, no replicas");
        let who = who[0];
        let mut result = result(5, 400_000);
        let (proof, claims) = prove(&n, &id, &who, &output_digest(suite, &result));
        result.claims = claims.clone();
        let salt = n.commit(&id, 0, &who, &result);
        let (receipt, events) = n.reveal_proof(&id, 0, &who, salt, &result, proof);
        assert_eq!(receipt.outcome, Ok(()), "{receipt:?}");
        let accepted = events.iter().find_map(|e| match e {
            Event::Compute(ComputeEvent::Accepted { reward, paid, .. }) => Some((*reward, *paid)),
            _ => None,
        });
        let (reward, paid) = accepted.expect("accepted");
        assert!(paid > Amount::ZERO, "paid from the escrow");
        assert_eq!(reward, Amount::ZERO, "the pool pays on agreed work only");
        assert_eq!(n.task(&id, 0).state, TASK_COMPLETED);
        let evidence: ComputeResult = n.h.state.load(&(id, 0)).unwrap().unwrap();
        assert_eq!(evidence.result.claims, claims);
        // The claims: the sum of 1..=8.
        assert_eq!(claims[1][31], 36);
        // The statement is proven, with the bindings in it.
        let proven = events.iter().find_map(|e| match e {
            Event::Zk(ZkEvent::ProofVerified { statement, .. }) => Some(*statement),
            _ => None,
        });
        let s: Statement = n.h.state.load(&proven.unwrap()).unwrap().unwrap();
        assert_eq!((s.circuit, s.prover), (circuit, who));
        assert_eq!(
            proven,
            Some(statement_id(
                suite,
                &circuit,
                &s_inputs(&n, &id, &who, &result)
            ))
        );
        n.assert_balanced(&[id]);
        n.h.assert_supply();
    }
}

#[test]
fn a_proof_of_other_outputs_or_claims_is_rejected_and_its_provider_slashed() {
    let suite = Suite::Sm;
    let mut n = Net::new(suite, [3, 2, 1]);
    let circuit = register_circuit(&mut n, names(), DIR);
    let id = submit(&mut n, zk_job(circuit));
    let liar = n.active(&id, 0)[0];
    let before = stake(&n, &liar);
    // Proven for one result, revealed with another's outputs.
    let proven = result(5, 400_000);
    let mut revealed = result(6, 400_000);
    let (proof, claims) = prove(&n, &id, &liar, &output_digest(suite, &proven));
    revealed.claims = claims;
    let salt = n.commit(&id, 0, &liar, &revealed);
    let (receipt, events) = n.reveal_proof(&id, 0, &liar, salt, &revealed, proof);
    assert_eq!(
        receipt.outcome,
        Ok(()),
        "the reveal applies; the result does not stand"
    );
    let rejected = events.iter().find_map(|e| match e {
        Event::Compute(ComputeEvent::ProofRejected { provider, code, .. }) => {
            Some((*provider, *code))
        }
        _ => None,
    });
    assert_eq!(rejected, Some((liar, Code::ProofInvalid as u16)));
    assert!(stake(&n, &liar) < before, "slashed");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Compute(ComputeEvent::Accepted { .. })))
    );
    n.assert_balanced(&[id]);
    n.h.assert_supply();

    // Placed again after its back-off, on someone else: an honest proof, with a claim
    // changed, is rejected too.
    let p = n.h.params();
    n.h.until(n.h.env().number + p.compute_retry_backoff + 2);
    let next = n.active(&id, 0);
    assert_eq!(next.len(), 1, "{:?}", n.task(&id, 0));
    let other = next[0];
    assert_ne!(other, liar);
    let mut result = result(5, 400_000);
    let (proof, mut claims) = prove(&n, &id, &other, &output_digest(suite, &result));
    claims[1][31] += 1;
    result.claims = claims;
    let salt = n.commit(&id, 0, &other, &result);
    let (_, events) = n.reveal_proof(&id, 0, &other, salt, &result, proof);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Compute(ComputeEvent::ProofRejected { provider, .. }) if *provider == other
        )),
        "{events:?}"
    );
    n.assert_balanced(&[id]);
    n.h.assert_supply();
}

#[test]
fn zk_tasks_and_reveals_are_checked() {
    let suite = Suite::Sm;
    let mut n = Net::new(suite, [3, 2, 1]);
    let circuit = register_circuit(&mut n, names(), DIR);
    let plain = register_circuit(
        &mut n,
        vec!["c".into(), "d".into(), "k".into()],
        "multiplier-bn128",
    );
    let refused = |n: &mut Net, t: TaskSpec| {
        let job = JobSpec {
            tasks: vec![t],
            ..zk_job(circuit)
        };
        code(&n.h.run(0, ComputeAction::Submit { job }))
    };
    let two = TaskSpec {
        replicas: 2,
        ..zk_task(circuit)
    };
    assert_eq!(refused(&mut n, two), Some(Code::BadZkTask));
    let no_circuit = zk_task([0; 32]);
    assert_eq!(refused(&mut n, no_circuit), Some(Code::BadZkTask));
    let quorum_with_circuit = TaskSpec {
        verification: VERIFY_QUORUM,
        ..zk_task(circuit)
    };
    assert_eq!(refused(&mut n, quorum_with_circuit), Some(Code::BadZkTask));
    assert_eq!(
        refused(&mut n, zk_task([9; 32])),
        Some(Code::NotTaskCircuit)
    );
    assert_eq!(refused(&mut n, zk_task(plain)), Some(Code::NotTaskCircuit));

    // A zk result without a proof, and a quorum result with one, are refused.
    let id = submit(&mut n, zk_job(circuit));
    let first = id;
    let who = n.active(&id, 0)[0];
    let ok = RunResult {
        claims: vec![[0; 32]; 2],
        ..result(5, 400_000)
    };
    let salt = n.commit(&id, 0, &who, &ok);
    let (receipt, _) = n.reveal_proof(&id, 0, &who, salt, &ok, Vec::new());
    assert_eq!(code(&receipt), Some(Code::UnprovenResult));
    // Bad bytes for a proof are the provider's fault: rejected, slashed.
    let (receipt, events) = n.reveal_proof(&id, 0, &who, salt, &ok, vec![0xff; 64]);
    assert_eq!(receipt.outcome, Ok(()));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Compute(ComputeEvent::ProofRejected { code, .. }) if *code == Code::BadProof as u16
    )));

    let quorum = submit(&mut n, two_task_job());
    let both = n.active(&quorum, 0);
    let q = both[0];
    let plain = result(5, 400_000);
    let salt = n.commit(&quorum, 0, &q, &plain);
    n.commit(&quorum, 0, &both[1], &plain);
    let (receipt, _) = n.reveal_proof(&quorum, 0, &q, salt, &plain, vec![1; 64]);
    assert_eq!(code(&receipt), Some(Code::UnprovenResult));
    // Nor may it carry claims.
    let (receipt, _) = n.reveal_proof(&quorum, 0, &q, salt, &ok, Vec::new());
    assert_eq!(code(&receipt), Some(Code::UnprovenResult));

    // A failed zk run proves nothing: withdrawn, neither paid nor slashed, tried elsewhere
    // while the task's own retries last and until two providers' runs failed (no retries
    // here: one provider's word does not end it); then the task fails with the run's status.
    let id = submit(&mut n, zk_job(circuit));
    let failed = RunResult {
        status: RUN_EXIT,
        code: 1,
        ..RunResult::default()
    };
    let who = n.active(&id, 0)[0];
    let before = stake(&n, &who);
    let salt = n.commit(&id, 0, &who, &failed);
    let (receipt, _) = n.reveal_proof(&id, 0, &who, salt, &failed, Vec::new());
    assert_eq!(receipt.outcome, Ok(()), "{receipt:?}");
    assert_eq!(stake(&n, &who), before);
    assert_eq!(n.task(&id, 0).retries, 1);
    n.h.assert_supply();
    let p = n.h.params();
    n.h.until(n.h.env().number + p.compute_retry_backoff + 2);
    let again = n.active(&id, 0)[0];
    assert_ne!(again, who);
    let salt = n.commit(&id, 0, &again, &failed);
    let (_, events) = n.reveal_proof(&id, 0, &again, salt, &failed, Vec::new());
    let failed_with = events.iter().find_map(|e| match e {
        Event::Compute(ComputeEvent::TaskFailed { code, args, .. }) => Some((*code, args.clone())),
        _ => None,
    });
    assert_eq!(
        failed_with,
        Some((Code::RunFailed as u16, vec![u128::from(RUN_EXIT), 1]))
    );
    n.assert_balanced(&[first, quorum, id]);
    n.h.assert_supply();
}

fn pin(index: u64, value: Hash) -> PinnedClaim {
    PinnedClaim { index, value }
}

#[test]
fn pinned_claims_hold_and_task_circuit_proofs_come_with_results() {
    let suite = Suite::Sm;
    let mut n = Net::new(suite, [3, 2, 1]);
    let circuit = register_circuit(&mut n, names(), DIR);
    // The commitment to values 1..=8 with salt 7 does not depend on the bindings.
    let (_, claims) = prove(&n, &[0; 32], &Address([0; 20]), &[0; 32]);
    let commitment = claims[0];
    let pinned_job = |pins: Vec<PinnedClaim>| {
        let mut job = zk_job(circuit);
        job.tasks[0].pinned = pins;
        job
    };

    // Pinned to the data's commitment: the honest proof is accepted.
    let id = submit(&mut n, pinned_job(vec![pin(0, commitment)]));
    let who = n.active(&id, 0)[0];
    let mut ok = result(5, 400_000);
    let (proof, claims) = prove(&n, &id, &who, &output_digest(suite, &ok));
    ok.claims = claims;
    let salt = n.commit(&id, 0, &who, &ok);
    let (_, events) = n.reveal_proof(&id, 0, &who, salt, &ok, proof);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Compute(ComputeEvent::Accepted { .. }))),
        "{events:?}"
    );
    assert_eq!(n.task(&id, 0).state, TASK_COMPLETED);

    // Pinned to another sum: a valid proof of other data is rejected and slashed.
    let mut wrong = [0u8; 32];
    wrong[31] = 37;
    let id = submit(&mut n, pinned_job(vec![pin(0, commitment), pin(1, wrong)]));
    let who = n.active(&id, 0)[0];
    let before = stake(&n, &who);
    let mut r = result(5, 400_000);
    let (proof, claims) = prove(&n, &id, &who, &output_digest(suite, &r));
    r.claims = claims;
    let salt = n.commit(&id, 0, &who, &r);
    let (_, events) = n.reveal_proof(&id, 0, &who, salt, &r, proof.clone());
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Compute(ComputeEvent::ProofRejected { code, .. })
            if *code == Code::ClaimMismatch as u16
    )));
    assert!(stake(&n, &who) < before, "slashed");
    n.assert_balanced(&[id]);
    n.h.assert_supply();

    // Pins are checked at submission: in range, ascending, canonical, zk tasks only.
    let refused = |n: &mut Net, job: JobSpec| code(&n.h.run(0, ComputeAction::Submit { job }));
    let out_of_range = pinned_job(vec![pin(2, commitment)]);
    assert_eq!(refused(&mut n, out_of_range), Some(Code::NotTaskCircuit));
    let too_big = pinned_job(vec![pin(0, [0xff; 32])]);
    assert_eq!(refused(&mut n, too_big), Some(Code::NotTaskCircuit));
    let unsorted = pinned_job(vec![pin(1, wrong), pin(0, commitment)]);
    assert_eq!(refused(&mut n, unsorted), Some(Code::BadZkTask));
    let mut quorum = two_task_job();
    quorum.tasks[0].pinned = vec![pin(0, commitment)];
    assert_eq!(refused(&mut n, quorum), Some(Code::BadZkTask));

    // A task circuit's proof is not verified alone: the statement names whom it binds.
    let public = s_inputs(&n, &id, &who, &r);
    let r = n.h.run(
        3,
        ZkAction::VerifyProof {
            circuit,
            proof,
            inputs: public,
        },
    );
    assert_eq!(code(&r), Some(Code::TaskCircuitProof));
    n.h.assert_supply();
}
