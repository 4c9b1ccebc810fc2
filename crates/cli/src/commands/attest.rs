//! `metamesh attest` and `metamesh verify-attestation`: a file's digest on chain, and the
//! proof — from a block header alone — that it was there at that block.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context as _, anyhow, bail};
use metamesh_crypto::Suite;
use metamesh_primitives::{DataAction, Header, WorkKind};
use metamesh_state::{Attestation, Record as _, StateKey};
use serde_json::{Value, json};

use super::{
    client::{RpcArgs, SenderArgs, send_and_wait},
    read_input,
};
use crate::Context;

#[derive(clap::Args, Debug)]
pub struct AttestArgs {
    /// The file whose digest is attested (its content never leaves this machine).
    file: PathBuf,
    /// paper, patent, result, dataset or program.
    #[arg(long)]
    kind: WorkKind,
    #[arg(long)]
    title: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    file: PathBuf,
    /// The chain's suite (its digests and trie hash).
    #[arg(long, default_value = "sm")]
    suite: Suite,
    #[command(flatten)]
    rpc: RpcArgs,
}

fn digest_of(file: &std::path::Path, suite: Suite) -> anyhow::Result<[u8; 32]> {
    Ok(suite.hash(&read_input(file)?))
}

pub fn attest(ctx: &Context, args: AttestArgs) -> anyhow::Result<ExitCode> {
    let key_suite = sender_key_suite(ctx, &args.sender)?;
    let digest = digest_of(&args.file, key_suite)?;
    let metadata = serde_json::to_vec(&json!({"title": args.title}))?;
    let receipt = send_and_wait(
        ctx,
        &args.rpc,
        &args.sender,
        DataAction::Attest {
            digest,
            kind: args.kind,
            metadata,
        }
        .into(),
    )?;
    let record_key = format!(
        "0x{}",
        hex::encode(StateKey::Attestation(digest).to_bytes())
    );
    let block = args
        .rpc
        .call("mm_getBlockByHash", json!([receipt["blockHash"]]))?;
    let view = json!({
        "recordKey": record_key,
        "digest": format!("0x{}", hex::encode(digest)),
        "block": receipt["blockNumber"],
        "blockHash": receipt["blockHash"],
        "time": block["timestamp"],
    });
    ctx.out.emit(&view, || {
        format!(
            "attested {} ({}) in block {} at {} (unix time)\nrecord key {record_key}",
            args.file.display(),
            args.kind.name(),
            view["block"],
            view["time"]
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// The suite of the signing account (its key file says so without unlocking).
fn sender_key_suite(ctx: &Context, args: &SenderArgs) -> anyhow::Result<Suite> {
    let keystore = ctx.keystore()?;
    let entries = keystore.list()?;
    let entry = match args.from {
        Some(a) => entries.into_iter().find(|e| e.address == a),
        None => entries.into_iter().next(),
    };
    Ok(entry.map_or(Suite::Sm, |e| e.suite))
}

/// Rebuilds a header from its JSON and checks that it hashes to the hash the node gave.
fn header_from_json(v: &Value, suite: Suite) -> anyhow::Result<Header> {
    let bytes = |k: &str| -> anyhow::Result<Vec<u8>> {
        let s = v[k]
            .as_str()
            .ok_or_else(|| anyhow!("header field {k} missing"))?;
        hex::decode(s.trim_start_matches("0x")).with_context(|| format!("header field {k}"))
    };
    let h32 = |k: &str| -> anyhow::Result<[u8; 32]> {
        bytes(k)?
            .try_into()
            .map_err(|_| anyhow!("{k} is not 32 bytes"))
    };
    let header = Header {
        parent_hash: h32("parentHash")?,
        coinbase: v["coinbase"].as_str().unwrap_or_default().parse()?,
        state_root: h32("stateRoot")?,
        transactions_root: h32("transactionsRoot")?,
        receipts_root: h32("receiptsRoot")?,
        number: v["number"]
            .as_u64()
            .ok_or_else(|| anyhow!("number missing"))?,
        gas_limit: v["gasLimit"]
            .as_u64()
            .ok_or_else(|| anyhow!("gasLimit missing"))?,
        gas_used: v["gasUsed"]
            .as_u64()
            .ok_or_else(|| anyhow!("gasUsed missing"))?,
        timestamp: v["timestamp"]
            .as_u64()
            .ok_or_else(|| anyhow!("timestamp missing"))?,
        extra: bytes("extraData")?,
        difficulty: v["difficulty"]
            .as_u64()
            .ok_or_else(|| anyhow!("difficulty missing"))?,
        nonce: bytes("nonce")?
            .try_into()
            .map_err(|_| anyhow!("nonce is not 8 bytes"))?,
    };
    if format!("0x{}", hex::encode(header.hash(suite))) != v["hash"].as_str().unwrap_or_default() {
        bail!("the header the node sent does not hash to its block hash");
    }
    Ok(header)
}

pub fn verify_attestation(ctx: &Context, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let suite = args.suite;
    let digest = digest_of(&args.file, suite)?;
    let key = StateKey::Attestation(digest);
    let proof = args.rpc.call(
        "mm_getProof",
        json!([format!("0x{}", hex::encode(key.to_bytes())), "latest"]),
    )?;
    let block = args
        .rpc
        .call("mm_getBlockByHash", json!([proof["blockHash"]]))?;
    let header = header_from_json(&block, suite)?;
    let sealer = metamesh_consensus::recover_signer(&header, suite)
        .map_err(|e| anyhow!("the block's seal does not verify: {e}"))?;
    let nodes: Vec<Vec<u8>> = proof["proof"]
        .as_array()
        .ok_or_else(|| anyhow!("proof missing"))?
        .iter()
        .map(|n| hex::decode(n.as_str().unwrap_or_default().trim_start_matches("0x")))
        .collect::<Result<_, _>>()?;
    let trie_key = suite.hash(&key.to_bytes());
    let value = match suite {
        Suite::Sm => {
            metamesh_trie::verify_proof::<metamesh_trie::Sm3>(&header.state_root, &trie_key, &nodes)
        }
        Suite::Eth => metamesh_trie::verify_proof::<metamesh_trie::Keccak256>(
            &header.state_root,
            &trie_key,
            &nodes,
        ),
    }
    .map_err(|e| {
        anyhow!(
            "the proof does not verify against block {}'s state root: {e}",
            header.number
        )
    })?;
    let Some(value) = value else {
        let view = json!({"attested": false, "digest": format!("0x{}", hex::encode(digest)), "block": header.number});
        ctx.out.emit(&view, || {
            format!(
                "not attested: the state of block {} proves no attestation of this file",
                header.number
            )
        });
        return Ok(ExitCode::from(1));
    };
    let record =
        Attestation::decode(&value).map_err(|e| anyhow!("the proven record is malformed: {e}"))?;
    let view = json!({
        "attested": true, "owner": record.owner.to_string(), "block": record.block, "time": record.time,
        "kind": record.kind.name(), "provenAtBlock": header.number, "sealer": sealer.to_string(),
    });
    ctx.out.emit(&view, || {
        format!(
            "registered by {} at block {}, time {} ({}); proven against block {} sealed by {sealer}",
            record.owner, record.block, record.time, record.kind.name(), header.number
        )
    });
    Ok(ExitCode::SUCCESS)
}
