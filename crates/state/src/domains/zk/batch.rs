//! A block's proofs verified together before it runs.

use std::collections::{BTreeMap, HashMap};

use metamesh_crypto::Suite;
use metamesh_primitives::{Action, Hash, ZkAction};
use metamesh_trie::NodeStore;
use metamesh_zk::{Engine, Prepared, Proof, VerifyingKey};

use super::Circuit;
use crate::{State, StateError, VerifiedTx};

/// Verdicts on a block's proofs, computed together before it runs: the suite hash of
/// (circuit ‖ proof ‖ inputs) → whether the proof verifies. A proof's verdict is a pure
/// function of those bytes and the registered key, so using it is the same as verifying again.
#[derive(Clone, Debug, Default)]
pub struct Verdicts(HashMap<Hash, bool>);

pub(super) fn verdict_key(suite: Suite, circuit: &Hash, proof: &[u8], inputs: &[[u8; 32]]) -> Hash {
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
        // Their transactions are refused: a task circuit's proofs come with results.
        if crate::domains::compute::is_task_circuit(&circuit.inputs) {
            continue;
        }
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
pub(super) fn scalars<C: metamesh_zk::Curve>(inputs: &[[u8; 32]]) -> Option<Vec<C::ScalarField>> {
    inputs
        .iter()
        .map(|x| {
            let mut le = *x;
            le.reverse();
            metamesh_zk::field::from_le::<C::ScalarField>(&le, "input").ok()
        })
        .collect()
}
