//! The chain side of `metamesh zk`: register a circuit, list circuits, have the chain verify
//! a proof (recording the statement it proves), export a registered key as snarkjs JSON.

use std::{path::Path, process::ExitCode};

use anyhow::{Context as _, anyhow, bail};
use ark_ff::{BigInteger, PrimeField};
use metamesh_primitives::{CircuitSpec, ZkAction};
use metamesh_zk::{Curve, Engine, VerifyingKey, snarkjs};
use serde_json::{Value, json};

use super::{
    client::{RpcArgs, SenderArgs, send_and_wait},
    zk::{json_file, pretty, with_engine},
};
use crate::{Context, output::table};

/// A binary CID from its text form, or empty.
fn cid(text: &Option<String>) -> anyhow::Result<Vec<u8>> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => Ok(t
            .parse::<metamesh_storage::Cid>()
            .with_context(|| format!("{t:?} is not a CID"))?
            .to_bytes()),
    }
}

pub struct Register<'a> {
    pub vk: &'a Path,
    pub name: String,
    pub inputs: Vec<String>,
    pub source: Option<String>,
    pub r1cs: Option<String>,
    pub zkey: Option<String>,
    pub wasm: Option<String>,
}

pub fn register(
    ctx: &Context,
    rpc: &RpcArgs,
    sender: &SenderArgs,
    r: Register,
) -> anyhow::Result<ExitCode> {
    let doc = json_file(r.vk)?;
    let engine = snarkjs::engine_of(&doc, "verification_key.json")?;
    let (bytes, n) = with_engine!(engine, C => {
        let vk = snarkjs::read_vk::<C>(&doc)?;
        (vk.canonical_bytes(), vk.n_public())
    });
    let inputs = if r.inputs.is_empty() {
        (0..n).map(|i| format!("public{i}")).collect()
    } else {
        r.inputs
    };
    if inputs.len() != n {
        bail!(
            "--inputs names {} public inputs; the key has {n}",
            inputs.len()
        );
    }
    let spec = CircuitSpec {
        engine: engine.id(),
        vk: bytes,
        name: r.name,
        inputs,
        source: cid(&r.source)?,
        r1cs: cid(&r.r1cs)?,
        zkey: cid(&r.zkey)?,
        wasm: cid(&r.wasm)?,
    };
    let receipt = send_and_wait(ctx, rpc, sender, ZkAction::RegisterCircuit { spec }.into())?;
    let id = circuit_id_of(&receipt)?;
    ctx.out.emit(
        &json!({"circuit": id, "block": receipt["blockNumber"], "curve": engine.snarkjs_name()}),
        || {
            format!(
                "registered circuit {id} ({engine}) in block {}",
                receipt["blockNumber"]
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// The circuit id from a receipt's `circuitRegistered` event.
fn circuit_id_of(receipt: &Value) -> anyhow::Result<String> {
    receipt["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "circuitRegistered")
        .and_then(|e| e["circuit"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the receipt has no circuitRegistered event"))
}

pub fn circuits(ctx: &Context, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let list = rpc.call("mm_listCircuits", json!([]))?;
    ctx.out.emit(&list, || {
        let rows: Vec<Vec<String>> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                vec![
                    c["id"].as_str().unwrap_or("").to_owned(),
                    c["name"].as_str().unwrap_or("").to_owned(),
                    c["engine"].as_str().unwrap_or("").to_owned(),
                    c["inputs"].as_array().map_or(String::new(), |a| {
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    }),
                    c["block"].to_string(),
                ]
            })
            .collect();
        table(
            &["CIRCUIT", "NAME", "CURVE", "PUBLIC INPUTS", "BLOCK"],
            &rows,
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// The registered circuit `id` (a 0x-hex hash), its engine and key.
fn fetch(rpc: &RpcArgs, id: &str) -> anyhow::Result<(Engine, Vec<u8>)> {
    let c = rpc.call("mm_getCircuit", json!([id]))?;
    if c.is_null() {
        bail!("no circuit {id} on chain");
    }
    let engine = Engine::from_name(c["engine"].as_str().unwrap_or(""))?;
    let vk = hex::decode(c["vk"].as_str().unwrap_or("").trim_start_matches("0x"))
        .context("the node's circuit record has a malformed key")?;
    Ok((engine, vk))
}

fn parse_id(id: &str) -> anyhow::Result<[u8; 32]> {
    let b = hex::decode(id.trim_start_matches("0x"))
        .with_context(|| format!("circuit id {id:?} is not hex"))?;
    b.as_slice()
        .try_into()
        .map_err(|_| anyhow!("circuit id {id:?} is not 32 bytes"))
}

fn be32<F: PrimeField>(x: &F) -> [u8; 32] {
    let mut le = x.into_bigint().to_bytes_le();
    le.resize(32, 0);
    le.reverse();
    le.try_into().expect("32 bytes")
}

/// The VerifyProof action for a snarkjs proof and public inputs against the circuit's key.
fn verify_action<C: Curve>(
    vk: &[u8],
    id: [u8; 32],
    proof: &Value,
    public: &Value,
) -> Result<ZkAction, metamesh_zk::Error> {
    let key = VerifyingKey::<C>::from_canonical_bytes(vk)?;
    let proof = snarkjs::read_proof::<C>(proof)?;
    let inputs = snarkjs::read_public::<C>(public, key.n_public())?;
    Ok(ZkAction::VerifyProof {
        circuit: id,
        proof: proof.to_bytes(),
        inputs: inputs.iter().map(be32).collect(),
    })
}

/// Has the chain verify a proof: exit 0 when it was accepted (the statement is recorded),
/// 1 when the chain found it invalid, 2 when an input is malformed or the chain refused it
/// for another reason.
pub fn verify_on_chain(
    ctx: &Context,
    rpc: &RpcArgs,
    sender: &SenderArgs,
    circuit: &str,
    proof: &Path,
    public: &Path,
) -> anyhow::Result<ExitCode> {
    let id = parse_id(circuit)?;
    let (engine, vk) = fetch(rpc, circuit)?;
    let (proof, public) = (json_file(proof)?, json_file(public)?);
    let action = with_engine!(engine, C => verify_action::<C>(&vk, id, &proof, &public));
    let action = match action {
        Ok(a) => a,
        Err(e) => {
            ctx.out.emit(
                &json!({"valid": false, "malformed": true, "reason": e.to_string()}),
                || format!("malformed: {e}"),
            );
            return Ok(ExitCode::from(2));
        }
    };
    match send_and_wait(ctx, rpc, sender, action.into()) {
        Ok(receipt) => {
            let statement = receipt["events"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["type"] == "proofVerified")
                .map(|e| e["statement"].clone())
                .unwrap_or(Value::Null);
            ctx.out.emit(&json!({"valid": true, "statement": statement, "block": receipt["blockNumber"], "tx": receipt["transactionHash"]}), || {
                format!("valid: statement {} recorded in block {}", statement.as_str().unwrap_or("?"), receipt["blockNumber"])
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = format!("{e:#}");
            // Refused at the estimate (the message) or included and failed (the code's name).
            let code = metamesh_state::Code::ProofInvalid;
            let invalid = text.contains(code.name()) || text.contains(code.template());
            ctx.out.emit(&json!({"valid": false, "reason": text}), || {
                format!("{}: {text}", if invalid { "invalid" } else { "refused" })
            });
            Ok(ExitCode::from(if invalid { 1 } else { 2 }))
        }
    }
}

/// A registered circuit's key as snarkjs's verification_key.json.
pub fn export_circuit(rpc: &RpcArgs, circuit: &str, output: &Path) -> anyhow::Result<ExitCode> {
    let (engine, vk) = fetch(rpc, circuit)?;
    let doc =
        with_engine!(engine, C => snarkjs::vk_json(&VerifyingKey::<C>::from_canonical_bytes(&vk)?));
    super::write_output(output, &pretty(&doc))?;
    Ok(ExitCode::SUCCESS)
}
