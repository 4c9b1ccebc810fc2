//! `metamesh job …`: submit a task graph from a TOML file, follow it, read its logs and
//! results, see why each centre won its tasks, cancel it, and trace its lineage.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_primitives::{ComputeAction, Hash};
use metamesh_scheduler::STRATEGIES;
use metamesh_storage::parse_cid;
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait};
pub(crate) use super::job_build::build;
use crate::{Context, output::table};

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Submit a job file (TOML); prints the job id and follows it until it ends.
    Submit {
        file: PathBuf,
        /// Print the id and return at once.
        #[arg(long)]
        detach: bool,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The task graph: each task's state, providers and outputs.
    Status {
        id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The logs (stdout and stderr) of a task's replicas, or of every task.
    Logs {
        id: String,
        task: Option<String>,
        /// Keep printing logs as replicas reveal them, until the job ends.
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Writes every completed task's outputs to DIR/TASK/NAME.
    Result {
        id: String,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Why each task went where it did: every candidate's score on each strategy.
    Explain {
        id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Accept a `requester`-verified task's result (it is accepted anyway when the review
    /// window passes).
    Accept {
        id: String,
        task: String,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Reject a `requester`-verified task's result: the task and the job fail, unpaid.
    Reject {
        id: String,
        task: String,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Stop a job; what its escrow has left comes back.
    Cancel {
        id: String,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Data → program → task → result → the attestations that cite it.
    Lineage {
        id: String,
        /// The chain's suite (how output files are digested for their attestations).
        #[arg(long, default_value = "sm")]
        suite: metamesh_crypto::Suite,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

pub fn run(ctx: &Context, cmd: JobCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JobCommand::Submit {
            file,
            detach,
            sender,
            rpc,
        } => submit(ctx, &file, detach, &sender, &rpc),
        JobCommand::Status { id, rpc } => {
            let job = get_job(&rpc, &id)?;
            ctx.out.emit(&job, || super::job_view::status_text(&job));
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Logs {
            id,
            task,
            follow,
            rpc,
        } => logs(ctx, &id, task.as_deref(), follow, &rpc),
        JobCommand::Result { id, output, rpc } => result(ctx, &id, &output, &rpc),
        JobCommand::Explain { id, rpc } => explain(ctx, &id, &rpc),
        JobCommand::Cancel { id, sender, rpc } => {
            let job = hash(&id)?;
            let r = send_and_wait(ctx, &rpc, &sender, ComputeAction::Cancel { job }.into())?;
            ctx.out
                .emit(&json!({"cancelled": id, "block": r["blockNumber"]}), || {
                    format!("cancelled in block {}", r["blockNumber"])
                });
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Accept {
            id,
            task,
            sender,
            rpc,
        } => decide(ctx, &id, &task, true, &sender, &rpc),
        JobCommand::Reject {
            id,
            task,
            sender,
            rpc,
        } => decide(ctx, &id, &task, false, &sender, &rpc),
        JobCommand::Lineage { id, suite, rpc } => lineage(ctx, &id, suite, &rpc),
    }
}

fn hash(id: &str) -> anyhow::Result<Hash> {
    hex::decode(id.strip_prefix("0x").unwrap_or(id))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("`{id}` is not a job id (0x and 64 hex digits)"))
}

fn get_job(rpc: &RpcArgs, id: &str) -> anyhow::Result<Value> {
    hash(id)?;
    let job = rpc.call("mm_getJob", json!([id]))?;
    if job.is_null() {
        bail!("no job {id} on this chain");
    }
    Ok(job)
}

fn submit(
    ctx: &Context,
    file: &Path,
    detach: bool,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let spec = build(file, rpc)?;
    let receipt = send_and_wait(ctx, rpc, sender, ComputeAction::Submit { job: spec }.into())?;
    let id = receipt["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["type"] == "jobSubmitted"))
        .and_then(|e| e["job"].as_str())
        .ok_or_else(|| anyhow!("the receipt names no submitted job"))?
        .to_owned();
    if detach {
        ctx.out
            .emit(&json!({"id": id, "block": receipt["blockNumber"]}), || {
                id.clone()
            });
        return Ok(ExitCode::SUCCESS);
    }
    if !ctx.out.json {
        println!("{id}");
    }
    let job = follow(rpc, &id, !ctx.out.json)?;
    ctx.out.emit(&job, || super::job_view::status_text(&job));
    Ok(if job["state"] == "completed" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn ended(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}

/// Polls the job until it ends, printing each task's state as it changes.
fn follow(rpc: &RpcArgs, id: &str, print: bool) -> anyhow::Result<Value> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let job = get_job(rpc, id)?;
        for t in job["tasks"].as_array().cloned().unwrap_or_default() {
            let name = t["name"].as_str().unwrap_or("?").to_owned();
            let state = t["state"].as_str().unwrap_or("?").to_owned();
            if print && seen.get(&name) != Some(&state) {
                let who = t["providers"]
                    .as_array()
                    .map(|p| {
                        p.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                eprintln!(
                    "  {name}: {state}{}",
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(" on {who}")
                    }
                );
            }
            seen.insert(name, state);
        }
        if ended(&job) {
            return Ok(job);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn decide(
    ctx: &Context,
    id: &str,
    task: &str,
    accept: bool,
    sender: &SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let job = get_job(rpc, id)?;
    let index = task_index(&job, task)? as u64;
    let r = send_and_wait(
        ctx,
        rpc,
        sender,
        ComputeAction::Decide {
            job: hash(id)?,
            task: index,
            accept,
        }
        .into(),
    )?;
    let word = if accept { "accepted" } else { "rejected" };
    ctx.out.emit(
        &json!({"task": task, word: true, "block": r["blockNumber"]}),
        || format!("{word} {task} in block {}", r["blockNumber"]),
    );
    Ok(ExitCode::SUCCESS)
}

fn task_index(job: &Value, task: &str) -> anyhow::Result<usize> {
    job["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().position(|t| t["name"] == task))
        .ok_or_else(|| anyhow!("the job has no task {task}"))
}

fn logs(
    ctx: &Context,
    id: &str,
    task: Option<&str>,
    follow: bool,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let mut shown: std::collections::BTreeSet<String> = Default::default();
    let mut all = Vec::new();
    let mut live = super::job_live::Live::default();
    loop {
        let job = get_job(rpc, id)?;
        let tasks = job["tasks"].as_array().cloned().unwrap_or_default();
        let pick: Vec<usize> = match task {
            Some(t) => vec![task_index(&job, t)?],
            None => (0..tasks.len()).collect(),
        };
        for i in pick {
            let t = &tasks[i];
            for r in t["replicas"].as_array().cloned().unwrap_or_default() {
                if follow && r["state"] == "active" && !r["revealed"].as_bool().unwrap_or(false) {
                    // Still running: its provider streams the log as it grows.
                    live.stream(rpc, &job, i, &r, !ctx.out.json);
                    continue;
                }
                let Some(cid) = r["logs"].as_str() else {
                    continue;
                };

                if !shown.insert(cid.to_owned()) {
                    continue;
                }
                let bytes = super::data::get_bytes(rpc, &parse_cid(cid)?, 64 << 20)?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let provider = r["provider"].as_str().unwrap_or("?").to_owned();
                if let Some(rest) = live.rest(&provider, i, &bytes) {
                    // Shown live up to here: the rest, then the run's end.
                    if !ctx.out.json {
                        print!("{}", String::from_utf8_lossy(rest));
                    }
                } else if !ctx.out.json {
                    println!(
                        "== {} on {provider} ({}) ==\n{text}",
                        t["name"].as_str().unwrap_or("?"),
                        r["state"].as_str().unwrap_or("?")
                    );
                }
                all.push(
                    json!({"task": t["name"], "provider": provider, "logs": cid, "text": text}),
                );
            }
        }
        if !follow || ended(&job) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    if ctx.out.json {
        ctx.out.emit(&all, String::new);
    }
    Ok(ExitCode::SUCCESS)
}

fn result(ctx: &Context, id: &str, out: &Path, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let job = get_job(rpc, id)?;
    let mut written = Vec::new();
    for t in job["tasks"].as_array().cloned().unwrap_or_default() {
        let name = t["name"].as_str().unwrap_or("task");
        for (file, cid) in t["outputs"].as_object().cloned().unwrap_or_default() {
            let cid = cid.as_str().ok_or_else(|| anyhow!("a bad output CID"))?;
            let plain = |n: &str| {
                metamesh_state::domains::compute::file_name_ok(n) && !n.contains(['\\', ':'])
            };
            if !plain(&file) || !plain(name) {
                bail!("output {name}/{file} is not a plain file name");
            }
            let bytes = super::data::get_bytes(rpc, &parse_cid(cid)?, u64::MAX / 4)?;
            let dir = out.join(name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(&file);
            // A new file, never through a link already there.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
            std::io::Write::write_all(&mut f, &bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            written.push(
                json!({"task": name, "name": file, "cid": cid, "size": bytes.len(), "path": path}),
            );
        }
    }
    if written.is_empty() {
        bail!(
            "job {id} has no outputs yet ({})",
            job["state"].as_str().unwrap_or("?")
        );
    }
    ctx.out.emit(&written, || {
        written
            .iter()
            .map(|w| {
                format!(
                    "{} ({} bytes)",
                    w["path"].as_str().unwrap_or("?"),
                    w["size"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

/// Every `taskAssigned` event of the job.
fn assignments(rpc: &RpcArgs, job: &Value) -> anyhow::Result<Vec<Value>> {
    let id = job["id"].as_str().unwrap_or_default();
    let mut filter = json!({"fromBlock": job["submitted"], "kinds": ["taskAssigned"]});
    if let Some(end) = job["ended"].as_u64() {
        filter["toBlock"] = json!(end);
    }
    let mut out = Vec::new();
    loop {
        let page = rpc.call("mm_getEvents", json!([filter]))?;
        for e in page["events"].as_array().cloned().unwrap_or_default() {
            if e["event"]["job"] == id {
                out.push(e);
            }
        }
        match &page["cursor"] {
            Value::String(c) => filter["cursor"] = json!(c),
            _ => return Ok(out),
        }
    }
}

fn explain(ctx: &Context, id: &str, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let job = get_job(rpc, id)?;
    let events = assignments(rpc, &job)?;
    let mut text = Vec::new();
    let mut view = Vec::new();
    for e in &events {
        let ev = &e["event"];
        let task = ev["task"].as_u64().unwrap_or(0) as usize;
        let name = job["tasks"][task]["name"].as_str().unwrap_or("?");
        let chosen: Vec<&str> = ev["providers"]
            .as_array()
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut header = vec!["PROVIDER"];
        header.extend(STRATEGIES);
        header.extend(["TOTAL", "QUOTE", ""]);
        let rows: Vec<Vec<String>> = ev["candidates"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let p = c["provider"].as_str().unwrap_or("?");
                let mut row = vec![p.to_owned()];
                row.extend(STRATEGIES.iter().map(|s| c["scores"][*s].to_string()));
                row.push(c["total"].to_string());
                row.push(c["quote"].as_str().unwrap_or("?").to_owned());
                row.push(if chosen.contains(&p) {
                    "← chosen".into()
                } else {
                    String::new()
                });
                row
            })
            .collect();
        text.push(format!(
            "task {name} at block {} ({} feasible; weights {}):\n{}",
            e["blockNumber"],
            ev["feasible"],
            weights_text(&job),
            table(&header, &rows)
        ));
        view.push(json!({"task": name, "block": e["blockNumber"], "providers": chosen, "feasible": ev["feasible"], "candidates": ev["candidates"]}));
    }
    if events.is_empty() {
        text.push(format!("no task of job {id} has been placed yet"));
    }
    ctx.out.emit(&view, || text.join("\n\n"));
    Ok(ExitCode::SUCCESS)
}

fn weights_text(job: &Value) -> String {
    match job["spec"]["weights"].as_object() {
        Some(w) => STRATEGIES
            .iter()
            .map(|s| format!("{s} {}", w[*s]))
            .collect::<Vec<_>>()
            .join(", "),
        None => format!(
            "preset {}",
            job["spec"]["preset"].as_str().unwrap_or("balanced")
        ),
    }
}

fn lineage(
    ctx: &Context,
    id: &str,
    suite: metamesh_crypto::Suite,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    let job = get_job(rpc, id)?;
    let mut view = Vec::new();
    let mut text = vec![format!(
        "job {id} ({}) submitted by {} at block {}",
        job["name"].as_str().unwrap_or(""),
        job["owner"].as_str().unwrap_or("?"),
        job["submitted"]
    )];
    for (i, t) in job["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let r = rpc.call("mm_getComputeResult", json!([id, i]))?;
        if r.is_null() {
            text.push(format!(
                "  task {}: {} (no accepted result)",
                t["name"].as_str().unwrap_or("?"),
                t["state"].as_str().unwrap_or("?")
            ));
            continue;
        }
        let mut attested = Vec::new();
        for o in r["result"]["outputs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let cid = o["cid"].as_str().unwrap_or_default();
            let Ok(bytes) = super::data::get_bytes(rpc, &parse_cid(cid)?, 256 << 20) else {
                continue;
            };
            let digest = suite.hash(&bytes);
            let key = format!("0x21{}", hex::encode(digest));
            let rec = rpc
                .call("mm_getRecord", json!([key]))
                .unwrap_or(Value::Null);
            if !rec.is_null() {
                attested.push(json!({"output": o["name"], "digest": format!("0x{}", hex::encode(digest)), "attestation": rec}));
            }
        }
        let key = format!("0x43{}{:016x}", id.trim_start_matches("0x"), i);
        text.push(format!(
            "  data {} → program {} → task {} (block {}, fuel {}) → result {}\n    outputs {}\n    agreed by {}\n    evidence: state key {key} (mm_getProof)\n    attestations citing it: {}",
            r["inputs"].as_array().map(|ins| ins.iter().map(|x| format!("{}={}", x["name"].as_str().unwrap_or("?"), x["cid"].as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")).filter(|s| !s.is_empty()).unwrap_or_else(|| "(none)".into()),
            r["program"].as_str().unwrap_or("?"), r["name"].as_str().unwrap_or("?"), r["block"], r["result"]["fuel"], r["digest"].as_str().unwrap_or("?"),
            r["result"]["outputs"].as_array().map(|os| os.iter().map(|x| format!("{}={}", x["name"].as_str().unwrap_or("?"), x["cid"].as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
            r["providers"].as_array().map(|p| p.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
            if attested.is_empty() { "none yet".to_owned() } else { attested.iter().map(|a| format!("{} by {} at block {}", a["output"], a["attestation"]["owner"].as_str().unwrap_or("?"), a["attestation"]["block"])).collect::<Vec<_>>().join("; ") },
        ));
        view.push(
            json!({"task": t["name"], "result": r, "stateKey": key, "attestations": attested}),
        );
    }
    ctx.out
        .emit(&json!({"job": id, "lineage": view}), || text.join("\n"));
    Ok(ExitCode::SUCCESS)
}
