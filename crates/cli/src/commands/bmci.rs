//! `metamesh bmci`: the Boron Material Computing Index — its structures through the node's
//! OPTIMADE API, by filter or by free text; its roles, algorithms and runs on chain
//! (`bmci_chain`).

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs};
use crate::Context;

#[derive(Subcommand, Debug)]
pub enum BmciCommand {
    /// Structures matching an OPTIMADE filter (`elements HAS ALL "B","N" AND nelements=2`) or,
    /// when the words are no filter, free text (`boron nitride`).
    Search {
        words: Vec<String>,
        /// Search the words as free text even if they parse as a filter.
        #[arg(long)]
        text: bool,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Grant a role to an account, or revoke it (the parameters authority signs).
    Grant {
        account: metamesh_crypto::Address,
        /// `bmci` (registers algorithms) or `curator` (registers curated knowledge).
        #[arg(long)]
        role: String,
        #[arg(long)]
        revoke: bool,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Register an algorithm from a TOML file (`examples/bmci-density/algorithm.toml`); its
    /// program is added to the node. Needs the `bmci` role.
    Register {
        file: PathBuf,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Retire an algorithm (its owner or the parameters authority): later jobs are no runs
    /// of it; results already verified stand.
    Retire {
        algorithm: String,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The registered algorithms.
    Algorithms {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Run an algorithm on materials: one 2-replica task per material on the computing
    /// network; each verified result becomes the material's computed properties.
    Run {
        /// The algorithm's id (`metamesh bmci algorithms`).
        algorithm: String,
        /// A material's id (`metamesh bmci search`); repeat for more.
        #[arg(long = "on", required = true)]
        on: Vec<String>,
        /// The most the job may cost (escrowed; what it does not use comes back).
        #[arg(long, default_value = "10MMT")]
        max_price: metamesh_primitives::Amount,
        /// Blocks a replica has to commit its result.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

fn fetch(url: &str) -> anyhow::Result<Value> {
    let mut response = ureq::get(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .with_context(|| format!("no node answers at {url} (is `metamesh devnet` running?)"))?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()?;
    let v: Value =
        serde_json::from_str(&body).with_context(|| format!("{url} answered {status}: {body}"))?;
    if !status.is_success() {
        bail!(
            "{}",
            v["errors"][0]["detail"].as_str().unwrap_or(body.trim())
        );
    }
    Ok(v)
}

fn encode(s: &str) -> String {
    metamesh_knowledge::mirror::encode_value(s)
}

fn row(id: &str, a: &Value) -> String {
    let enthalpy = a["_bmci_formation_enthalpy"]
        .as_f64()
        .map_or(String::new(), |h| format!("  ΔHf {h:.3} eV/atom"));
    format!(
        "{id:<36} {:<10} {}{enthalpy}",
        a["chemical_formula_reduced"].as_str().unwrap_or(""),
        a["_bmci_name"].as_str().unwrap_or("")
    )
}

pub fn run(ctx: &Context, cmd: BmciCommand) -> anyhow::Result<ExitCode> {
    use super::bmci_chain as chain;
    match cmd {
        BmciCommand::Search {
            words,
            text,
            limit,
            rpc,
        } => search(ctx, &words, text, limit, &rpc),
        BmciCommand::Grant {
            account,
            role,
            revoke,
            sender,
            rpc,
        } => chain::grant(ctx, account, &role, revoke, &sender, &rpc),
        BmciCommand::Register { file, sender, rpc } => chain::register(ctx, &file, &sender, &rpc),
        BmciCommand::Retire {
            algorithm,
            sender,
            rpc,
        } => chain::retire(ctx, &algorithm, &sender, &rpc),
        BmciCommand::Algorithms { rpc } => chain::algorithms(ctx, &rpc),
        BmciCommand::Run {
            algorithm,
            on,
            max_price,
            timeout,
            sender,
            rpc,
        } => {
            let o = chain::RunOptions { max_price, timeout };
            chain::run(ctx, &algorithm, &on, &o, &sender, &rpc)
        }
    }
}

fn search(
    ctx: &Context,
    words: &[String],
    as_text: bool,
    limit: usize,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let text = words.join(" ");
    if text.trim().is_empty() {
        bail!("bmci search needs a filter or some words");
    }
    if !(1..=100).contains(&limit) {
        bail!("--limit must be 1..=100");
    }
    let base = format!("{}/optimade/v1", rpc.url.trim_end_matches('/'));
    let parsed = metamesh_knowledge::optimade::filter::parse(&text);
    // Words with a filter's operators that do not parse are a mistyped filter, not text.
    if let Err(e) = &parsed
        && !as_text
        && text.contains(['=', '<', '>', '"'])
    {
        bail!("the filter does not parse: {e} (--text searches the words as free text)");
    }
    if parsed.is_ok() && !as_text {
        let v = fetch(&format!(
            "{base}/structures?page_limit={limit}&filter={}",
            encode(&text)
        ))?;
        ctx.out.emit(&v, || {
            let data = v["data"].as_array().cloned().unwrap_or_default();
            let mut out: Vec<String> = data
                .iter()
                .map(|e| row(e["id"].as_str().unwrap_or(""), &e["attributes"]))
                .collect();
            out.push(format!(
                "({} of {} matching)",
                data.len(),
                v["meta"]["data_returned"]
            ));
            out.join("\n")
        });
        return Ok(ExitCode::SUCCESS);
    }
    // Free text: the graph's search, kept to BMCI's structures.
    let literal = super::kg::literal(&text);
    let q = format!(
        "SELECT ?s ?score WHERE {{ SERVICE mm:search {{ ?s mm:matches {literal} ; mm:score ?score ; mm:limit 1000 }} ?s a mm:Structure }} ORDER BY DESC(?score) LIMIT {limit}"
    );
    let url = format!("{}/sparql", rpc.url.trim_end_matches('/'));
    let mut response = ureq::post(&url)
        .header("Content-Type", "application/sparql-query")
        .header("Accept", "application/sparql-results+json")
        .config()
        .http_status_as_error(false)
        .build()
        .send(&q)
        .with_context(|| format!("no node answers at {url}"))?;
    let ok = response.status().is_success();
    let body = response.body_mut().read_to_string()?;
    if !ok {
        bail!("{}", body.trim());
    }
    let hits: Value = serde_json::from_str(&body)?;
    let mut found = Vec::new();
    for h in hits["results"]["bindings"].as_array().into_iter().flatten() {
        let Some(id) = h["s"]["value"]
            .as_str()
            .and_then(|s| s.strip_prefix("urn:metamesh:bmci:structure:"))
        else {
            continue;
        };
        let e = fetch(&format!("{base}/structures/{}", encode(id)))?;
        found.push(
            json!({"id": id, "score": h["score"]["value"], "attributes": e["data"]["attributes"]}),
        );
    }
    let v = Value::Array(found);
    ctx.out.emit(&v, || {
        let rows = v.as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            return format!("no BMCI structure matches {text:?}");
        }
        rows.iter()
            .map(|r| row(r["id"].as_str().unwrap_or(""), &r["attributes"]))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(ExitCode::SUCCESS)
}
