//! The zk domain through `apply_block`: circuits registered by their keys (both engines),
//! proofs verified in the transition with every refusal under its code, a statement recorded
//! once whatever proof of it comes next, and a block's proofs verified as a batch that still
//! names the bad one and charges each transaction what it would pay alone.

mod common;

use std::path::PathBuf;

use ark_bls12_381::Bls12_381;
use ark_bn254::Bn254;
use ark_ff::{BigInteger, PrimeField};
use common::{Harness, code};
use metamesh_crypto::Suite;
use metamesh_primitives::{CircuitSpec, ZkAction};
use metamesh_state::{Circuit, Code, CollectionId, Statement, statement_id};
use metamesh_zk::{Curve, Proof, VerifyingKey, prove, snarkjs, witness, zkey};
use serde_json::{Value, json};

fn fixture(dir: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../zk/tests/fixtures")
        .join(dir)
        .join(file)
}

fn doc(dir: &str, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(dir, file)).unwrap()).unwrap()
}

fn be32<F: PrimeField>(x: &F) -> [u8; 32] {
    let mut le = x.into_bigint().to_bytes_le();
    le.resize(32, 0);
    le.reverse();
    le.try_into().unwrap()
}

fn spec<C: Curve>(dir: &str, names: &[&str]) -> CircuitSpec {
    let vk = snarkjs::read_vk::<C>(&doc(dir, "verification_key.json")).unwrap();
    CircuitSpec {
        engine: C::ENGINE.id(),
        vk: vk.canonical_bytes(),
        name: dir.into(),
        inputs: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// The committed proof of `dir` as an action.
fn committed<C: Curve>(id: [u8; 32], dir: &str) -> ZkAction {
    let proof = snarkjs::read_proof::<C>(&doc(dir, "proof.json")).unwrap();
    let public = doc(dir, "public.json");
    let x = snarkjs::read_public::<C>(&public, public.as_array().unwrap().len()).unwrap();
    ZkAction::VerifyProof {
        circuit: id,
        proof: proof.to_bytes(),
        inputs: x.iter().map(be32).collect(),
    }
}

/// A fresh proof of the multiplier for (a, b, k), from circom's witness Wasm and our prover.
fn multiplier<C: Curve>(id: [u8; 32], dir: &str, a: u64, b: u64, k: u64) -> ZkAction {
    let pk = zkey::read::<C>(&std::fs::read(fixture(dir, "circuit.zkey")).unwrap()).unwrap();
    let wasm = std::fs::read(fixture(dir, "circuit.wasm")).unwrap();
    let input = json!({"a": a, "b": b, "k": k});
    let w = witness::calculate::<C::ScalarField>(&wasm, &input, Default::default()).unwrap();
    let (proof, public) = prove::prove(&pk, &w, &mut prove::os_rng()).unwrap();
    ZkAction::VerifyProof {
        circuit: id,
        proof: proof.to_bytes(),
        inputs: public.iter().map(be32).collect(),
    }
}

fn circuit_id(h: &Harness, spec: &CircuitSpec) -> [u8; 32] {
    h.suite.hash(&spec.vk)
}

#[test]
fn circuits_register_and_proofs_verify_on_both_engines() {
    let mut h = Harness::new(Suite::Sm, 3, |_| {});
    let bn = spec::<Bn254>("multiplier-bn128", &["c", "d", "k"]);
    let bls = spec::<Bls12_381>("multiplier-bls12381", &["c", "d", "k"]);
    for s in [&bn, &bls] {
        let r = h.run(0, ZkAction::RegisterCircuit { spec: s.clone() });
        assert_eq!(r.outcome, Ok(()), "{r:?}");
    }
    let (bn_id, bls_id) = (circuit_id(&h, &bn), circuit_id(&h, &bls));
    let c: Circuit = h.state.load(&bn_id).unwrap().unwrap();
    assert_eq!((c.owner, c.inputs.len(), c.engine), (h.user(0), 3, 1));
    assert_eq!(
        h.state
            .entries(CollectionId::Circuits, &[], 10)
            .unwrap()
            .len(),
        2
    );

    for (id, action) in [
        (bn_id, committed::<Bn254>(bn_id, "multiplier-bn128")),
        (
            bls_id,
            committed::<Bls12_381>(bls_id, "multiplier-bls12381"),
        ),
    ] {
        let r = h.run(1, action.clone());
        assert_eq!(r.outcome, Ok(()), "{r:?}");
        let ZkAction::VerifyProof { inputs, proof, .. } = &action else {
            unreachable!()
        };
        let s: Statement = h
            .state
            .load(&statement_id(h.suite, &id, inputs))
            .unwrap()
            .unwrap();
        assert_eq!(s.prover, h.user(1));
        // The same statement again, even with another proof of it, is not recorded twice.
        let again = if id == bn_id {
            let p = Proof::<Bn254>::from_bytes(proof).unwrap();
            rerandomized::<Bn254>(p)
        } else {
            let p = Proof::<Bls12_381>::from_bytes(proof).unwrap();
            rerandomized::<Bls12_381>(p)
        };
        let r = h.run(
            2,
            ZkAction::VerifyProof {
                circuit: id,
                proof: again,
                inputs: inputs.clone(),
            },
        );
        assert_eq!(code(&r), Some(Code::StatementProven));
    }
    h.assert_supply();
}

fn rerandomized<C: Curve>(p: Proof<C>) -> Vec<u8> {
    p.scaled(C::ScalarField::from(7u64)).to_bytes()
}

#[test]
fn every_bad_registration_and_proof_has_its_code() {
    let mut h = Harness::new(Suite::Eth, 2, |_| {});
    let good = spec::<Bn254>("multiplier-bn128", &["c", "d", "k"]);
    let reg =
        |h: &mut Harness, s: CircuitSpec| code(&h.run(0, ZkAction::RegisterCircuit { spec: s }));
    let mut s = good.clone();
    s.engine = 9;
    assert_eq!(reg(&mut h, s), Some(Code::UnknownEngine));
    let mut s = good.clone();
    s.vk.truncate(s.vk.len() - 1);
    assert_eq!(reg(&mut h, s), Some(Code::BadVerifyingKey));
    let mut s = good.clone();
    s.engine = 2; // a BN254 key under the BLS engine
    assert_eq!(reg(&mut h, s), Some(Code::BadVerifyingKey));
    let mut s = good.clone();
    s.inputs.pop();
    assert_eq!(reg(&mut h, s), Some(Code::BadInputNames));
    let mut s = good.clone();
    s.name = String::new();
    assert_eq!(reg(&mut h, s), Some(Code::BadCircuitName));
    let mut s = good.clone();
    s.zkey = vec![1, 2, 3];
    assert_eq!(reg(&mut h, s), Some(Code::BadCid));
    assert_eq!(reg(&mut h, good.clone()), None);
    assert_eq!(reg(&mut h, good.clone()), Some(Code::CircuitRegistered));

    let id = circuit_id(&h, &good);
    let ZkAction::VerifyProof { proof, inputs, .. } = committed::<Bn254>(id, "multiplier-bn128")
    else {
        unreachable!()
    };
    let run = |h: &mut Harness, circuit: [u8; 32], proof: Vec<u8>, inputs: Vec<[u8; 32]>| {
        code(&h.run(
            1,
            ZkAction::VerifyProof {
                circuit,
                proof,
                inputs,
            },
        ))
    };
    assert_eq!(
        run(&mut h, [7; 32], proof.clone(), inputs.clone()),
        Some(Code::CircuitNotFound)
    );
    assert_eq!(
        run(&mut h, id, proof.clone(), inputs[..2].to_vec()),
        Some(Code::InputCount)
    );
    assert_eq!(
        run(&mut h, id, proof[..100].to_vec(), inputs.clone()),
        Some(Code::BadProof)
    );
    let mut tampered = inputs.clone();
    tampered[2][31] ^= 1;
    assert_eq!(
        run(&mut h, id, proof.clone(), tampered),
        Some(Code::ProofInvalid)
    );
    // k + r is the same field element as k: refused, never reduced (snarkjs #358).
    let mut overflow = inputs.clone();
    overflow[2] = be32_plus_modulus(&inputs[2]);
    assert_eq!(
        run(&mut h, id, proof.clone(), overflow),
        Some(Code::NonCanonicalInput)
    );
    // A proof for another key (the BLS12-381 circuit's proof bytes do not even parse here).
    let other = committed::<Bls12_381>(id, "multiplier-bls12381");
    let ZkAction::VerifyProof {
        proof: bls_proof, ..
    } = other
    else {
        unreachable!()
    };
    assert_eq!(
        run(&mut h, id, bls_proof, inputs.clone()),
        Some(Code::BadProof)
    );
    assert_eq!(run(&mut h, id, proof, inputs), None);
    h.assert_supply();
}

fn be32_plus_modulus(x: &[u8; 32]) -> [u8; 32] {
    let r = num_modulus();
    let v = num_bigint::BigUint::from_bytes_be(x) + r;
    let mut b = v.to_bytes_be();
    while b.len() < 32 {
        b.insert(0, 0);
    }
    b.try_into().unwrap()
}

fn num_modulus() -> num_bigint::BigUint {
    <ark_bn254::Fr as PrimeField>::MODULUS.into()
}

#[test]
fn a_blocks_proofs_are_batched_yet_judged_one_by_one() {
    let mut h = Harness::new(Suite::Sm, 3, |_| {});
    let s = spec::<Bn254>("multiplier-bn128", &["c", "d", "k"]);
    assert_eq!(
        h.run(0, ZkAction::RegisterCircuit { spec: s.clone() })
            .outcome,
        Ok(())
    );
    let id = circuit_id(&h, &s);
    // Eight distinct statements, one of them tampered.
    let mut actions: Vec<ZkAction> = (0..8)
        .map(|i| multiplier::<Bn254>(id, "multiplier-bn128", 3 + i, 11, 5))
        .collect();
    if let ZkAction::VerifyProof { inputs, .. } = &mut actions[5] {
        inputs[1][31] ^= 2;
    }
    // Alone, the tampered one and a good one: their gas.
    let alone_bad = h.run(1, actions[5].clone());
    assert_eq!(code(&alone_bad), Some(Code::ProofInvalid));
    let user = h.user(2);
    let mut nonce = h.nonce(&user);
    let txs: Vec<_> = actions
        .iter()
        .map(|a| {
            let tx = h.signed(2, nonce, common::GAS, a.clone().into());
            nonce += 1;
            tx
        })
        .collect();
    // The block's pre-pass judged all eight in one batch (and fell back to find the bad one).
    // One bad proof fails the batch: nothing is cached, each transaction checks its own.
    let params = h.params();
    let verdicts = metamesh_state::domains::zk::prepare(&h.state, &params, &txs).unwrap();
    assert!(verdicts.is_empty());
    let good: Vec<_> = txs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 5)
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(
        metamesh_state::domains::zk::prepare(&h.state, &params, &good)
            .unwrap()
            .len(),
        7
    );
    // A transaction whose gas cannot pay for its verification is left out of the pre-pass.
    let starved: Vec<_> = actions[..3]
        .iter()
        .enumerate()
        .map(|(i, a)| h.signed(2, nonce + i as u64, 30_000, a.clone().into()))
        .collect();
    assert!(
        metamesh_state::domains::zk::prepare(&h.state, &params, &starved)
            .unwrap()
            .is_empty()
    );
    let out = h.block(&txs).unwrap();
    let codes: Vec<_> = out.tx_receipts().iter().map(code).collect();
    let mut want = vec![None; 8];
    want[5] = Some(Code::ProofInvalid);
    assert_eq!(codes, want);
    assert_eq!(
        out.tx_receipts()[5].gas_used,
        alone_bad.gas_used,
        "batching changes no charge"
    );
    h.assert_supply();
    let _ = VerifyingKey::<Bn254>::from_canonical_bytes(&s.vk).unwrap();
}
