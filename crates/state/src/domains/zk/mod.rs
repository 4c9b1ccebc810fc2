//! Zero knowledge: circuits registered by their Groth16 verifying keys, proofs checked by the
//! state transition, and the statements they prove recorded as evidence.
//!
//! ```text
//! Circuit    [owner, block, time, engine, vk, name, [input names…], source, r1cs, zkey, wasm]
//! Statement  [circuit, prover, block, time, tx]      under H(circuit ‖ input₀ ‖ …)
//! ```
//!
//! A circuit's id is the suite hash of its key's canonical bytes, so one key is one circuit
//! whoever registers it. What was proven is (circuit, public inputs): Groth16 proofs are
//! malleable, so the proof bytes are never an identity, and a statement proven once is not
//! recorded again. The `verifyProof`s of one circuit in a block are verified together before
//! the block runs ([`prepare`]); each transaction still pays for its own verification. A task
//! circuit's proofs (see `compute::proven`) are verified only with the task's result, one by
//! one, so the statement names the provider the proof binds.

mod batch;
mod records;

use metamesh_primitives::{CircuitSpec, Hash, ZkAction};
use metamesh_trie::NodeStore;
use metamesh_zk::{Engine, Prepared, Proof, VerifyingKey};

pub use batch::{Verdicts, prepare};
use batch::{scalars, verdict_key};
pub use records::{Circuit, Statement, ZkEvent, statement_id};

use super::TxContext;
use crate::{Code, CollectionId, Event, Exec, Outcome, exec::reject};

/// The most public inputs a circuit on chain may have.
pub const MAX_INPUTS: usize = 64;
/// Longest circuit and input names, bytes.
pub const MAX_NAME: usize = 64;

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &ZkAction,
) -> Outcome {
    match action {
        ZkAction::RegisterCircuit { spec } => register(ex, tx, spec),
        ZkAction::VerifyProof {
            circuit,
            proof,
            inputs,
        } => {
            // Checked after the proof, so refusing it costs what verifying it did.
            check_proof(ex, circuit, proof, inputs)?;
            if let Some(c) = ex.load::<Circuit>(circuit)?
                && crate::domains::compute::is_task_circuit(&c.inputs)
            {
                return reject(Code::TaskCircuitProof, &[]);
            }
            match record_statement(ex, tx, circuit, inputs)? {
                Some(done) => reject(Code::StatementProven, &[u128::from(done.block)]),
                None => Ok(()),
            }
        }
    }
}

/// Records (circuit, inputs) as proven by the transaction's sender, with `proofVerified`;
/// a statement already recorded stays as it was and is given back.
pub(crate) fn record_statement<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    circuit: &Hash,
    inputs: &[[u8; 32]],
) -> Outcome<Option<Statement>> {
    let id = statement_id(ex.suite(), circuit, inputs);
    ex.charge_hash(32 * (inputs.len() + 1))?;
    if let Some(done) = ex.load::<Statement>(&id)? {
        return Ok(Some(done));
    }
    let record = Statement {
        circuit: *circuit,
        prover: tx.sender,
        block: ex.env().number,
        time: ex.env().timestamp,
        tx: tx.hash,
    };
    ex.save(&id, &record)?;
    ex.emit(Event::Zk(ZkEvent::ProofVerified {
        circuit: *circuit,
        statement: id,
        prover: tx.sender,
    }))?;
    Ok(None)
}

fn register<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    spec: &CircuitSpec,
) -> Outcome {
    let Some(engine) = Engine::from_id(spec.engine) else {
        return reject(Code::UnknownEngine, &[u128::from(spec.engine)]);
    };
    if spec.name.is_empty() || spec.name.len() > MAX_NAME {
        return reject(Code::BadCircuitName, &[MAX_NAME as u128]);
    }
    for cid in [&spec.source, &spec.r1cs, &spec.zkey, &spec.wasm] {
        if !cid.is_empty() {
            ex.charge_hash(cid.len())?;
            if metamesh_storage::cid_from_bytes(cid).is_err() {
                return reject(Code::BadCid, &[]);
            }
        }
    }
    // Checking the key (every point on its curve and in its subgroup) is the chain's work.
    let params = ex.params();
    let points = spec.vk.len() as u64 / 32;
    ex.charge(
        params
            .gas_zk_verify
            .saturating_add(params.gas_zk_input.saturating_mul(points)),
    )?;
    let n_public = match engine {
        Engine::Bn254 => {
            VerifyingKey::<ark_bn254::Bn254>::from_canonical_bytes(&spec.vk).map(|k| k.n_public())
        }
        Engine::Bls12_381 => {
            VerifyingKey::<ark_bls12_381::Bls12_381>::from_canonical_bytes(&spec.vk)
                .map(|k| k.n_public())
        }
    };
    let Ok(n_public) = n_public else {
        return reject(Code::BadVerifyingKey, &[]);
    };
    if n_public > MAX_INPUTS {
        // (The decoder's own bound is snarkjs's 1,024; the chain's is lower.)
        return reject(Code::TooManyInputs, &[n_public as u128, MAX_INPUTS as u128]);
    }
    if spec.inputs.len() != n_public
        || spec
            .inputs
            .iter()
            .any(|n| n.is_empty() || n.len() > MAX_NAME)
    {
        return reject(
            Code::BadInputNames,
            &[n_public as u128, spec.inputs.len() as u128],
        );
    }
    ex.charge_hash(spec.vk.len())?;
    let id = ex.suite().hash(&spec.vk);
    if let Some(existing) = ex.load::<Circuit>(&id)? {
        return reject(Code::CircuitRegistered, &[u128::from(existing.block)]);
    }
    let record = Circuit {
        owner: tx.sender,
        block: ex.env().number,
        time: ex.env().timestamp,
        engine: spec.engine,
        vk: spec.vk.clone(),
        name: spec.name.clone(),
        inputs: spec.inputs.clone(),
        source: spec.source.clone(),
        r1cs: spec.r1cs.clone(),
        zkey: spec.zkey.clone(),
        wasm: spec.wasm.clone(),
    };
    ex.save(&id, &record)?;
    ex.put_entry(CollectionId::Circuits, &id, &[1])?;
    ex.emit(Event::Zk(ZkEvent::CircuitRegistered {
        circuit: id,
        owner: tx.sender,
    }))
}

/// Verifies `proof` of (circuit, inputs), charging for it: rejects with the reason unless the
/// proof verifies.
pub fn check_proof<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    circuit: &Hash,
    proof: &[u8],
    inputs: &[[u8; 32]],
) -> Outcome {
    match verify(ex, circuit, proof, inputs)? {
        Ok(()) => Ok(()),
        Err(Code::InputCount) => {
            let takes = ex.load::<Circuit>(circuit)?.map_or(0, |c| c.inputs.len());
            reject(Code::InputCount, &[inputs.len() as u128, takes as u128])
        }
        Err(code) => reject(code, &[]),
    }
}

/// Verifies `proof` of (circuit, inputs), charging for it, and gives the verdict: `Err` with
/// why the proof does not stand (the transaction itself goes on: a zk task's result is judged
/// by it). Only running out of gas or a storage failure stops the transaction.
pub fn verify<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    circuit: &Hash,
    proof: &[u8],
    inputs: &[[u8; 32]],
) -> Outcome<Result<(), Code>> {
    let params = ex.params();
    ex.charge(
        params
            .gas_zk_verify
            .saturating_add(params.gas_zk_input.saturating_mul(inputs.len() as u64)),
    )?;
    let Some(record) = ex.load::<Circuit>(circuit)? else {
        return Ok(Err(Code::CircuitNotFound));
    };
    if inputs.len() != record.inputs.len() {
        return Ok(Err(Code::InputCount));
    }
    let key = verdict_key(ex.suite(), circuit, proof, inputs);
    let verdict = match ex.verdict(&key) {
        Some(v) => Ok(v),
        None => match Engine::from_id(record.engine) {
            Some(Engine::Bn254) => verify_one::<ark_bn254::Bn254>(&record, proof, inputs),
            Some(Engine::Bls12_381) => {
                verify_one::<ark_bls12_381::Bls12_381>(&record, proof, inputs)
            }
            None => Err(Code::UnknownEngine),
        },
    };
    Ok(match verdict {
        Ok(true) => Ok(()),
        Ok(false) => Err(Code::ProofInvalid),
        Err(code) => Err(code),
    })
}

/// Whether every value is a canonical public input of `engine` (below its scalar modulus).
pub fn canonical(engine: u8, values: &[[u8; 32]]) -> bool {
    match Engine::from_id(engine) {
        Some(Engine::Bn254) => scalars::<ark_bn254::Bn254>(values).is_some(),
        Some(Engine::Bls12_381) => scalars::<ark_bls12_381::Bls12_381>(values).is_some(),
        None => false,
    }
}

fn verify_one<C: metamesh_zk::Curve>(
    record: &Circuit,
    proof: &[u8],
    inputs: &[[u8; 32]],
) -> Result<bool, Code> {
    let vk = VerifyingKey::<C>::from_stored_bytes(&record.vk).map_err(|_| Code::BadVerifyingKey)?;
    let proof = Proof::<C>::from_bytes(proof).map_err(|_| Code::BadProof)?;
    let x = scalars::<C>(inputs).ok_or(Code::NonCanonicalInput)?;
    Prepared::new(&vk)
        .verify(&proof, &x)
        .map_err(|_| Code::InputCount)
}
