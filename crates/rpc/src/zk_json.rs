//! The zero-knowledge domain as JSON: its actions, events and records.

use metamesh_primitives::{Hash, ZkAction};
use metamesh_state::{Circuit, Statement, ZkEvent};
use serde_json::{Value, json};

use crate::json::{cid_text, hex0x};

fn engine_name(id: u8) -> Value {
    metamesh_zk::Engine::from_id(id).map_or(json!(id), |e| json!(e.snarkjs_name()))
}

pub fn action(a: &ZkAction) -> Value {
    match a {
        ZkAction::RegisterCircuit { spec } => json!({
            "engine": engine_name(spec.engine), "vk": hex0x(&spec.vk), "name": spec.name,
            "inputs": spec.inputs, "source": cid_text(&spec.source), "r1cs": cid_text(&spec.r1cs),
            "zkey": cid_text(&spec.zkey), "wasm": cid_text(&spec.wasm),
        }),
        ZkAction::VerifyProof {
            circuit,
            proof,
            inputs,
        } => json!({
            "circuit": hex0x(circuit), "proof": hex0x(proof),
            "inputs": inputs.iter().map(|x| hex0x(x)).collect::<Vec<_>>(),
        }),
    }
}

pub fn event(e: &ZkEvent) -> Value {
    match e {
        ZkEvent::CircuitRegistered { circuit, owner } => {
            json!({"circuit": hex0x(circuit), "owner": owner.to_string()})
        }
        ZkEvent::ProofVerified {
            circuit,
            statement,
            prover,
        } => {
            json!({"circuit": hex0x(circuit), "statement": hex0x(statement), "prover": prover.to_string()})
        }
    }
}

pub fn circuit(id: &Hash, c: &Circuit) -> Value {
    json!({
        "type": "circuit", "id": hex0x(id), "owner": c.owner.to_string(), "block": c.block,
        "time": c.time, "engine": engine_name(c.engine), "nPublic": c.inputs.len(),
        "inputs": c.inputs, "name": c.name, "vk": hex0x(&c.vk), "source": cid_text(&c.source),
        "r1cs": cid_text(&c.r1cs), "zkey": cid_text(&c.zkey), "wasm": cid_text(&c.wasm),
        "taskCircuit": metamesh_state::domains::compute::is_task_circuit(&c.inputs),
    })
}

pub fn statement(id: &Hash, s: &Statement) -> Value {
    json!({
        "type": "statement", "id": hex0x(id), "circuit": hex0x(&s.circuit),
        "prover": s.prover.to_string(), "block": s.block, "time": s.time, "tx": hex0x(&s.tx),
    })
}
