//! Zero knowledge: circuits registered by their Groth16 verifying keys, proofs checked by the
//! state transition, and the statements they prove recorded as evidence.
//!
//! ```text
//! Circuit    [owner, block, time, engine, vk, name, [input names…], source, r1cs, zkey]
//! Statement  [circuit, prover, block, time, tx]      under H(circuit ‖ input₀ ‖ …)
//! ```
//!
//! A circuit's id is the suite hash of its key's canonical bytes, so one key is one circuit
//! whoever registers it. What was proven is (circuit, public inputs): Groth16 proofs are
//! malleable, so the proof bytes are never an identity, and a statement proven once is not
//! recorded again. All proofs of one circuit in a block are verified together before the
//! block runs ([`prepare`]); each transaction still pays for its own verification.

use std::collections::{BTreeMap, HashMap};

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    Action, CircuitSpec, Hash, ZkAction,
    rlp::{decode_bytes as bytes, decode_text as text, finish_list as done, list},
};
use metamesh_trie::NodeStore;
use metamesh_zk::{Engine, Prepared, Proof, VerifyingKey};

use super::{TxContext, open};
use crate::{
    Code, CollectionId, Event, Exec, Outcome, Record, State, StateError, StateKey, VerifiedTx,
    events::{DomainEvent, UNKNOWN, address},
    exec::reject,
};

/// The most public inputs a circuit on chain may have.
pub const MAX_INPUTS: usize = 64;
/// Longest circuit and input names, bytes.
pub const MAX_NAME: usize = 64;

/// A registered circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Circuit {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub engine: u8,
    /// The verifying key's canonical bytes (checked at registration).
    pub vk: Vec<u8>,
    pub name: String,
    pub inputs: Vec<String>,
    pub source: Vec<u8>,
    pub r1cs: Vec<u8>,
    pub zkey: Vec<u8>,
}

impl Record for Circuit {
    const WHAT: &'static str = "circuit";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Circuit(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.engine.encode(&mut p);
        self.vk.as_slice().encode(&mut p);
        self.name.as_bytes().encode(&mut p);
        self.inputs.encode(&mut p);
        self.source.as_slice().encode(&mut p);
        self.r1cs.as_slice().encode(&mut p);
        self.zkey.as_slice().encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Circuit {
            owner: Address(Decodable::decode(&mut p)?),
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            engine: u8::decode(&mut p)?,
            vk: bytes(&mut p)?,
            name: text(&mut p)?,
            inputs: Decodable::decode(&mut p)?,
            source: bytes(&mut p)?,
            r1cs: bytes(&mut p)?,
            zkey: bytes(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// A proven statement: who proved it first, when, in which transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub circuit: Hash,
    pub prover: Address,
    pub block: u64,
    pub time: u64,
    pub tx: Hash,
}

impl Record for Statement {
    const WHAT: &'static str = "proven statement";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Statement(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.circuit.encode(&mut p);
        self.prover.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.tx.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Statement {
            circuit: Decodable::decode(&mut p)?,
            prover: address(&mut p)?,
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            tx: Decodable::decode(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// Where the statement (circuit, inputs) is recorded.
pub fn statement_id(suite: Suite, circuit: &Hash, inputs: &[[u8; 32]]) -> Hash {
    let mut b = circuit.to_vec();
    for x in inputs {
        b.extend_from_slice(x);
    }
    suite.hash(&b)
}

/// The zk domain's events (types 0x50–0x5f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkEvent {
    /// `0x50 [circuit, owner]`
    CircuitRegistered { circuit: Hash, owner: Address },
    /// `0x51 [circuit, statement, prover]`
    ProofVerified {
        circuit: Hash,
        statement: Hash,
        prover: Address,
    },
}

impl DomainEvent for ZkEvent {
    const KINDS: &'static [(u8, &'static str)] =
        &[(0x50, "circuitRegistered"), (0x51, "proofVerified")];

    fn type_byte(&self) -> u8 {
        match self {
            ZkEvent::CircuitRegistered { .. } => 0x50,
            ZkEvent::ProofVerified { .. } => 0x51,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            ZkEvent::CircuitRegistered { owner, .. } => vec![*owner],
            ZkEvent::ProofVerified { prover, .. } => vec![*prover],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ZkEvent::CircuitRegistered { circuit, owner } => {
                circuit.encode(p);
                owner.0.encode(p);
            }
            ZkEvent::ProofVerified {
                circuit,
                statement,
                prover,
            } => {
                circuit.encode(p);
                statement.encode(p);
                prover.0.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            0x50 => ZkEvent::CircuitRegistered {
                circuit: Decodable::decode(p)?,
                owner: address(p)?,
            },
            0x51 => ZkEvent::ProofVerified {
                circuit: Decodable::decode(p)?,
                statement: Decodable::decode(p)?,
                prover: address(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}

/// Verdicts on a block's proofs, computed together before it runs: the suite hash of
/// (circuit ‖ proof ‖ inputs) → whether the proof verifies. A proof's verdict is a pure
/// function of those bytes and the registered key, so using it is the same as verifying again.
#[derive(Clone, Debug, Default)]
pub struct Verdicts(HashMap<Hash, bool>);

fn verdict_key(suite: Suite, circuit: &Hash, proof: &[u8], inputs: &[[u8; 32]]) -> Hash {
    let mut b = circuit.to_vec();
    b.extend_from_slice(&(proof.len() as u64).to_be_bytes());
    b.extend_from_slice(proof);
    for x in inputs {
        b.extend_from_slice(x);
    }
    suite.hash(&b)
}

impl Verdicts {
    pub fn get(&self, key: &Hash) -> Option<bool> {
        self.0.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One proof waiting for its batch: its verdict key, proof bytes and inputs.
type Pending<'a> = (Hash, &'a [u8], &'a [[u8; 32]]);

/// Batch-verifies the block's `verifyProof`s, one batch per circuit already registered. Only
/// proofs whose transaction's gas limit covers their verification take part, at most as many
/// as the block's gas could pay for, so the pre-pass never does work nobody pays for. When a
/// batch holds, its proofs' verdicts are recorded; when it fails, nothing is, and each
/// transaction verifies its proof alone (and pays for it). Proofs that do not parse, or whose
/// circuit is registered later in the block, are likewise left to their transactions.
pub fn prepare<S: NodeStore + Clone>(
    state: &State<S>,
    params: &crate::Params,
    txs: &[VerifiedTx],
) -> Result<Verdicts, StateError> {
    let suite = state.suite();
    let mut budget = params.block_gas_limit / params.gas_zk_verify.max(1);
    let mut groups: BTreeMap<Hash, Vec<Pending>> = BTreeMap::new();
    for vtx in txs {
        if let Action::Zk(ZkAction::VerifyProof {
            circuit,
            proof,
            inputs,
        }) = &vtx.tx.tx.action
        {
            let cost = crate::intrinsic_gas(params, vtx.size)
                .saturating_add(params.gas_zk_verify)
                .saturating_add(params.gas_zk_input.saturating_mul(inputs.len() as u64));
            if vtx.tx.tx.gas_limit < cost || budget == 0 {
                continue;
            }
            budget -= 1;
            let key = verdict_key(suite, circuit, proof, inputs);
            groups
                .entry(*circuit)
                .or_default()
                .push((key, proof, inputs));
        }
    }
    let mut out = Verdicts::default();
    for (id, items) in groups {
        if items.len() < 2 {
            continue;
        }
        let Some(circuit) = state.load::<Circuit>(&id)? else {
            continue;
        };
        let Some(engine) = Engine::from_id(circuit.engine) else {
            continue;
        };
        match engine {
            Engine::Bn254 => batch::<ark_bn254::Bn254>(&id, &circuit, &items, &mut out),
            Engine::Bls12_381 => batch::<ark_bls12_381::Bls12_381>(&id, &circuit, &items, &mut out),
        }
    }
    Ok(out)
}

fn batch<C: metamesh_zk::Curve>(
    id: &Hash,
    circuit: &Circuit,
    items: &[Pending],
    out: &mut Verdicts,
) {
    let Ok(vk) = VerifyingKey::<C>::from_stored_bytes(&circuit.vk) else {
        return;
    };
    let pvk = Prepared::new(&vk);
    let mut parsed = Vec::new();
    for (key, proof, inputs) in items {
        if inputs.len() != vk.n_public() {
            continue;
        }
        if let (Ok(p), Some(x)) = (Proof::<C>::from_bytes(proof), scalars::<C>(inputs)) {
            parsed.push((*key, p, x));
        }
    }
    let refs: Vec<(&Proof<C>, &[C::ScalarField])> =
        parsed.iter().map(|(_, p, x)| (p, x.as_slice())).collect();
    if refs.len() >= 2 && pvk.batch_holds(id, &refs) {
        for (key, _, _) in &parsed {
            out.0.insert(*key, true);
        }
    }
}

/// Public inputs as field elements, `None` when one is not below the modulus.
fn scalars<C: metamesh_zk::Curve>(inputs: &[[u8; 32]]) -> Option<Vec<C::ScalarField>> {
    inputs
        .iter()
        .map(|x| {
            let mut le = *x;
            le.reverse();
            metamesh_zk::field::from_le::<C::ScalarField>(&le, "input").ok()
        })
        .collect()
}

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
            check_proof(ex, circuit, proof, inputs)?;
            let id = statement_id(ex.suite(), circuit, inputs);
            ex.charge_hash(32 * (inputs.len() + 1))?;
            if let Some(done) = ex.load::<Statement>(&id)? {
                return reject(Code::StatementProven, &[u128::from(done.block)]);
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
            }))
        }
    }
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
    for cid in [&spec.source, &spec.r1cs, &spec.zkey] {
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
    };
    ex.save(&id, &record)?;
    ex.put_entry(CollectionId::Circuits, &id, &[1])?;
    ex.emit(Event::Zk(ZkEvent::CircuitRegistered {
        circuit: id,
        owner: tx.sender,
    }))
}

/// Verifies `proof` of (circuit, inputs), charging for it: rejects with the reason unless the
/// proof verifies. The compute domain's zk-verified tasks call this too.
pub fn check_proof<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    circuit: &Hash,
    proof: &[u8],
    inputs: &[[u8; 32]],
) -> Outcome {
    let params = ex.params();
    ex.charge(
        params
            .gas_zk_verify
            .saturating_add(params.gas_zk_input.saturating_mul(inputs.len() as u64)),
    )?;
    let Some(record) = ex.load::<Circuit>(circuit)? else {
        return reject(Code::CircuitNotFound, &[]);
    };
    if inputs.len() != record.inputs.len() {
        return reject(
            Code::InputCount,
            &[inputs.len() as u128, record.inputs.len() as u128],
        );
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
    match verdict {
        Ok(true) => Ok(()),
        Ok(false) => reject(Code::ProofInvalid, &[]),
        Err(code) => reject(code, &[]),
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
