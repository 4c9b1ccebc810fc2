//! `metamesh kg register | bases`: knowledge bases on chain — an N-Quads file already added
//! and registered as public data (`data add FILE --register`), declared curated (by a holder
//! of the curator role) or extracted (from a named source); every node's graph loads it into
//! `urn:metamesh:kb:0xID`.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use metamesh_primitives::{
    KnowledgeAction,
    compute::Bytes,
    knowledge::{KB_EXTRACTED, KB_KINDS, KnowledgeBaseSpec},
};
use metamesh_storage::parse_cid;
use serde_json::json;

use super::client::{RpcArgs, SenderArgs, send_and_wait};
use crate::{Context, output::table};

pub struct BaseArgs {
    pub cid: String,
    pub kind: String,
    pub name: String,
    pub description: String,
    pub source: String,
}

pub fn register(
    ctx: &Context,
    a: BaseArgs,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let kind = KB_KINDS
        .iter()
        .position(|k| *k == a.kind)
        .ok_or_else(|| anyhow!("--kind {:?}: one of {}", a.kind, KB_KINDS.join(", ")))?
        as u8;
    if kind == KB_EXTRACTED && a.source.is_empty() {
        bail!("an extracted base names its --source (the paper's DOI, ipfs://CID or URL)");
    }
    let cid = parse_cid(&a.cid)?;
    let spec = KnowledgeBaseSpec {
        kind,
        name: a.name,
        description: a.description,
        content: Bytes(cid.to_bytes()),
        source: a.source,
    };
    let receipt = send_and_wait(
        ctx,
        rpc,
        sender,
        KnowledgeAction::RegisterKnowledgeBase { base: spec }.into(),
    )?;
    let id = receipt["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "knowledgeBaseRegistered")
        .and_then(|e| e["base"].as_str())
        .ok_or_else(|| anyhow!("the receipt has no knowledgeBaseRegistered event"))?
        .to_owned();
    let graph = format!("urn:metamesh:kb:{id}");
    ctx.out.emit(
        &json!({"base": id, "graph": graph, "block": receipt["blockNumber"]}),
        || {
            format!(
                "registered {} knowledge base {id} in block {}; nodes load it into <{graph}>",
                a.kind, receipt["blockNumber"]
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

pub fn list(ctx: &Context, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let list = rpc.call("mm_listKnowledgeBases", json!([]))?;
    ctx.out.emit(&list, || {
        let rows: Vec<Vec<String>> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let s = |k: &str| b["spec"][k].as_str().unwrap_or("").to_owned();
                vec![
                    b["id"].as_str().unwrap_or("").to_owned(),
                    s("kind"),
                    s("name"),
                    s("content"),
                    b["owner"].as_str().unwrap_or("").to_owned(),
                ]
            })
            .collect();
        if rows.is_empty() {
            return "no knowledge base is registered (`metamesh kg register CID`)".into();
        }
        table(&["ID", "KIND", "NAME", "CONTENT", "OWNER"], &rows)
    });
    Ok(ExitCode::SUCCESS)
}
