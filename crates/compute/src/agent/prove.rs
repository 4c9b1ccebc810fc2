//! Proving a zk task's result: the program wrote the circuit's private inputs to
//! [`ZK_INPUT`] (kept off the content network); the agent adds the bindings the chain will
//! fill in, computes the witness with the circuit's generator, proves with its key, and keeps
//! the proof with the result. The circuit's other public inputs become the result's claims.

use metamesh_primitives::{
    Hash,
    compute::{RunResult, ZK_BINDINGS},
};
use metamesh_state::domains::compute::{bindings, output_digest};
use serde_json::Value;

use super::{Agent, Port, Work, hash_of};

/// The file a zk task's program writes the circuit's private inputs to (a JSON object of
/// signal names), beside its outputs. It is not an output: it never leaves the provider.
pub const ZK_INPUT: &str = "zk-input.json";

/// The largest proving key or witness generator an agent fetches.
const MAX_CIRCUIT_FILE: u64 = 512 << 20;

impl<P: Port> Agent<P> {
    /// The proof of `result` for the task's circuit, and the claims it proves.
    pub(super) fn prove(
        &mut self,
        w: &Work,
        private: &[u8],
        result: &RunResult,
    ) -> Result<(Vec<u8>, Vec<Hash>), String> {
        let job = self.port.job(&w.job)?;
        let zk = &job["tasks"][w.task as usize]["zk"];
        let (Some(circuit), Some(inputs)) = (
            zk["circuit"].as_str(),
            zk["inputsDigest"].as_str().and_then(hash_of),
        ) else {
            return Err("the node does not say the task's circuit and inputs digest".into());
        };
        let c = self.port.circuit(circuit)?;
        let (Some(zkey), Some(wasm)) = (c["zkey"].as_str(), c["wasm"].as_str()) else {
            return Err(format!(
                "circuit {circuit} names no proving key or witness generator"
            ));
        };
        let names: Vec<String> = serde_json::from_value(c["inputs"].clone())
            .map_err(|_| format!("circuit {circuit}: no input names"))?;
        let zkey = self.port.fetch(zkey, MAX_CIRCUIT_FILE)?;
        let wasm = self.port.fetch(wasm, MAX_CIRCUIT_FILE)?;
        let mut outputs = output_digest(self.suite, result);
        if self.fault == super::Fault::ZkWrongOutput {
            outputs[31] ^= 1;
        }
        let job_id = self.job_hash(w)?;
        let bound = bindings(&job_id, w.task, &inputs, &outputs, &self.me);
        let mut input: Value =
            serde_json::from_slice(private).map_err(|e| format!("{ZK_INPUT} is not JSON: {e}"))?;
        let Some(obj) = input.as_object_mut() else {
            return Err(format!("{ZK_INPUT} is not a JSON object of signals"));
        };
        for (name, value) in ZK_BINDINGS.iter().zip(&bound) {
            if obj.contains_key(*name) {
                return Err(format!(
                    "{ZK_INPUT} sets {name}, which the chain binds (the agent fills it in)"
                ));
            }
            obj.insert(
                (*name).into(),
                Value::String(metamesh_zk::field::be_decimal(value)),
            );
        }
        let (proof, public) =
            metamesh_zk::prove::prove_files(&zkey, &wasm, &input, Default::default())
                .map_err(|e| format!("proving: {e}"))?;
        if public.len() != names.len() {
            return Err(format!(
                "the key has {} public inputs; circuit {circuit} names {}",
                public.len(),
                names.len()
            ));
        }
        let mut claims = Vec::new();
        for (name, value) in names.iter().zip(&public) {
            match ZK_BINDINGS.iter().position(|b| b == name) {
                Some(i) if *value != bound[i] => {
                    return Err(format!("the circuit's {name} is not the value bound to it"));
                }
                Some(_) => {}
                None => claims.push(*value),
            }
        }
        Ok((proof, claims))
    }
}
