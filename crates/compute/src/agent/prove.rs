//! Proving a zk task's result: the program wrote the circuit's private inputs to
//! [`ZK_INPUT`] (kept off the content network); the agent adds the bindings the chain will
//! fill in, computes the witness with the circuit's generator, proves with its key, and keeps
//! the proof with the result. The circuit's other public inputs become the result's claims.
//!
//! Before it sends anything the agent checks the proof as the chain will — against the key
//! registered on chain, with the task's pinned claims — so a proving key or generator that
//! does not match the circuit costs it a withdrawal, never a slash. What goes into the run's
//! public log names only the kind of failure: witness errors can echo private inputs.

use std::path::Path;

use metamesh_primitives::{
    Hash,
    compute::{RUN_BAD_INPUT, RUN_BAD_PROGRAM, RUN_PROVIDER, RunResult, ZK_BINDINGS},
};
use metamesh_state::domains::compute::{bindings, output_digest};
use serde_json::Value;

use super::{Agent, Port, Work, hash_of, unhex};

/// The file a zk task's program writes the circuit's private inputs to (a JSON object of
/// signal names), beside its outputs. It is never an output, whatever the task: it never
/// leaves the provider.
pub const ZK_INPUT: &str = "zk-input.json";

/// The largest proving key or witness generator an agent fetches.
const MAX_CIRCUIT_FILE: u64 = 512 << 20;

/// Why a result could not be proven: the status to report, what the public log may say, and
/// the detail only the agent's own output shows.
pub(super) struct Unproven {
    pub status: u8,
    pub public: &'static str,
    pub detail: String,
}

fn unproven(status: u8, public: &'static str, detail: impl Into<String>) -> Unproven {
    Unproven {
        status,
        public,
        detail: detail.into(),
    }
}

/// The provider's side failed (the node, the content network, the circuit's files): another
/// provider may do better, and this one is not to blame.
fn ours(detail: impl Into<String>) -> Unproven {
    unproven(
        RUN_PROVIDER,
        "the provider could not prove it (circuit files or node)",
        detail,
    )
}

impl<P: Port> Agent<P> {
    /// The proof of `result` for the task's circuit, and the claims it proves.
    pub(super) fn prove(
        &mut self,
        w: &Work,
        private: &[u8],
        result: &RunResult,
    ) -> Result<(Vec<u8>, Vec<Hash>), Unproven> {
        let job = self.port.job(&w.job).map_err(ours)?;
        let zk = &job["tasks"][w.task as usize]["zk"];
        let (Some(circuit), Some(inputs)) = (
            zk["circuit"].as_str(),
            zk["inputsDigest"].as_str().and_then(hash_of),
        ) else {
            return Err(ours(
                "the node does not say the task's circuit and inputs digest",
            ));
        };
        let c = self.port.circuit(circuit).map_err(ours)?;
        let (Some(zkey), Some(wasm)) = (c["zkey"].as_str(), c["wasm"].as_str()) else {
            return Err(ours(format!(
                "circuit {circuit} names no proving key or witness generator"
            )));
        };
        let names: Vec<String> = serde_json::from_value(c["inputs"].clone())
            .map_err(|_| ours(format!("circuit {circuit}: no input names")))?;
        let engine = c["engine"]
            .as_str()
            .and_then(|e| metamesh_zk::Engine::from_name(e).ok())
            .ok_or_else(|| ours(format!("circuit {circuit}: no engine")))?;
        let key = c["vk"]
            .as_str()
            .and_then(unhex)
            .ok_or_else(|| ours(format!("circuit {circuit}: no verifying key")))?;
        let files = [zkey.to_owned(), wasm.to_owned()];
        let zkey = self.circuit_file(zkey)?;
        let wasm = self.circuit_file(wasm)?;
        let mut outputs = output_digest(self.suite, result);
        if self.fault == super::Fault::ZkWrongOutput {
            outputs[31] ^= 1;
        }
        let job_id = self.job_hash(w).map_err(ours)?;
        let bound = bindings(&job_id, w.task, &inputs, &outputs, &self.me);
        let input = with_bindings(private, &bound)?;
        let proved =
            metamesh_zk::prove::prove_files(&zkey, &wasm, &input, self.prove_limits, Some(&key));
        let (proof, public) = match proved {
            Ok(p) => p,
            Err(e @ metamesh_zk::Error::Input(_)) => {
                return Err(unproven(
                    RUN_BAD_PROGRAM,
                    "the circuit refused the run's zk inputs",
                    format!("witness: {e}"),
                ));
            }
            Err(e) => {
                // The files may be what is wrong: fetch them afresh next time.
                self.forget(&files);
                return Err(ours(format!("proving: {e}")));
            }
        };
        if public.len() != names.len() {
            return Err(ours(format!(
                "the proving key has {} public inputs; circuit {circuit} names {}",
                public.len(),
                names.len()
            )));
        }
        let mut claims = Vec::new();
        for (name, value) in names.iter().zip(&public) {
            match ZK_BINDINGS.iter().position(|b| b == name) {
                Some(i) if *value != bound[i] => {
                    return Err(ours(format!(
                        "the circuit's {name} is not the value bound to it"
                    )));
                }
                Some(_) => {}
                None => claims.push(*value),
            }
        }
        // The chain's check, with the chain's key, before the pins: claims from a wrong
        // generator are the files' fault, not the data's.
        match metamesh_zk::verify::verify_bytes(engine, &key, &proof, &public) {
            Ok(true) => {}
            Ok(false) => {
                self.forget(&files);
                return Err(ours(format!(
                    "the proof does not verify with circuit {circuit}'s registered key: its \
                     proving key or witness generator is not the circuit's"
                )));
            }
            Err(e) => return Err(ours(format!("checking the proof: {e}"))),
        }
        let spec = &job["spec"]["tasks"][w.task as usize];
        check_pins(&spec["verification"]["claims"], &claims)?;
        Ok((proof, claims))
    }

    fn cached(&self, cid: &str) -> Option<std::path::PathBuf> {
        (!cid.is_empty() && cid.chars().all(|c| c.is_ascii_alphanumeric()))
            .then(|| self.circuits.join(cid))
    }

    /// Drops circuit files from the cache.
    fn forget(&self, cids: &[String]) {
        for path in cids.iter().filter_map(|c| self.cached(c)) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// A circuit's proving key or witness generator, from the agent's cache or the content
    /// network (then kept: one circuit serves many tasks).
    fn circuit_file(&mut self, cid: &str) -> Result<Vec<u8>, Unproven> {
        let cached = self.cached(cid);
        if let Some(bytes) = cached.as_deref().and_then(|p| std::fs::read(p).ok()) {
            return Ok(bytes);
        }
        let bytes = self.port.fetch(cid, MAX_CIRCUIT_FILE).map_err(ours)?;
        if let Some(path) = cached {
            // A cache that cannot be written only costs a fetch next time.
            let _ = keep(&path, &bytes);
        }
        Ok(bytes)
    }
}

fn keep(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp)?;
    std::io::Write::write_all(&mut f, bytes)?;
    // On disk before it has its name: a crash leaves no torn file under it.
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The program's private inputs with the chain's bindings added.
fn with_bindings(private: &[u8], bound: &[[u8; 32]; 8]) -> Result<Value, Unproven> {
    let bad = |d: String| unproven(RUN_BAD_PROGRAM, "the run's zk inputs are not usable", d);
    let mut input: Value =
        serde_json::from_slice(private).map_err(|e| bad(format!("{ZK_INPUT} is not JSON: {e}")))?;
    let Some(obj) = input.as_object_mut() else {
        return Err(bad(format!("{ZK_INPUT} is not a JSON object of signals")));
    };
    for (name, value) in ZK_BINDINGS.iter().zip(bound) {
        if obj.contains_key(*name) {
            return Err(bad(format!(
                "{ZK_INPUT} sets {name}, which the chain binds (the agent fills it in)"
            )));
        }
        obj.insert(
            (*name).into(),
            Value::String(metamesh_zk::field::be_decimal(value)),
        );
    }
    Ok(input)
}

/// The task's pinned claims (`[{index, value}]`, decimal values, as `mm_getJob` gives them)
/// against the run's: data other than the submitter's is the input's fault, not the proof's.
fn check_pins(pins: &Value, claims: &[Hash]) -> Result<(), Unproven> {
    let Some(pins) = pins.as_array() else {
        return Err(ours("the node does not say the task's pinned claims"));
    };
    for pin in pins {
        let (Some(index), Some(value)) = (pin["index"].as_u64(), pin["value"].as_str()) else {
            return Err(ours(
                "the node gives a pinned claim without index and value",
            ));
        };
        let got = claims
            .get(index as usize)
            .map(|c| metamesh_zk::field::be_decimal(c));
        if got.as_deref() != Some(value) {
            return Err(unproven(
                RUN_BAD_INPUT,
                "the run's data is not the data the task pins",
                format!("claim {index} is {got:?}; the task pins {value}"),
            ));
        }
    }
    Ok(())
}
