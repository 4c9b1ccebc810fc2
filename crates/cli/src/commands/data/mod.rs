//! `metamesh data …`: research data in and out of the node's content store — UnixFS with Kubo's
//! CIDs, optional encryption (the node only ever receives ciphertext), key sharing on chain,
//! registration, CAR export and import.

mod add;
mod get;
mod transfer;

use add::add;
pub(crate) use get::content_bytes;
use get::{get, share};
pub(crate) use transfer::{add_bytes, get_bytes};
use transfer::{export, import_car};

use std::{
    fs,
    io::{BufWriter, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_crypto::{
    AeadAlgorithm, PublicKey, SecretKey, Suite, SuiteHasher, unwrap_key, wrap_key,
};
use metamesh_primitives::DataAction;
use metamesh_storage::{
    BlockSink, Cid, DirOptions, FileImporter, HashOnly, Linked, Profile, car::CarReader,
    car::CarWriter, envelope, import_dir, parse_cid,
};
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait, sender_key};
use crate::{Context, output::table};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Add a file or directory (prints its CID; Kubo's `ipfs add` CIDs).
    Add(AddArgs),
    /// Write the file or directory under a CID to PATH (decrypting when a key was shared).
    Get(GetArgs),
    /// List what the node has pinned.
    Ls {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Keep a DAG on the node (fetching it from providers when missing).
    Pin {
        cid: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Stop keeping a DAG (the next `data gc` may remove its blocks).
    Unpin {
        cid: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Remove every block no pin reaches.
    Gc {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Give another key access to encrypted data (the data is not re-encrypted).
    Share(ShareArgs),
    /// Write a CAR v1 file of the DAG under a CID.
    Export {
        cid: String,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Store the blocks of a CAR v1 file and pin its roots.
    Import {
        file: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// A file, or a directory (added recursively like `ipfs add -r`).
    path: PathBuf,
    /// Encrypt before adding (SM4-GCM in the sm suite, AES-256-GCM in eth). The data is then
    /// registered on chain (only its registered owner may share its key) and the data key is
    /// shared on chain with the sender and each --recipient.
    #[arg(long)]
    encrypt: bool,
    /// Another public key (SEC1 hex, or a PEM file) that may decrypt; repeatable.
    #[arg(long = "recipient", requires = "encrypt")]
    recipients: Vec<String>,
    /// Register the data on chain (digest of the plaintext, CID, size, profile); implied by
    /// --encrypt.
    #[arg(long)]
    register: bool,
    #[arg(long, requires = "register")]
    title: Option<String>,
    #[arg(long, default_value = "", requires = "register")]
    licence: String,
    /// A commitment to the data (a decimal field element, e.g. the Poseidon commitment the
    /// data-integrity circuit `circuits/data_stat.circom` computes), stored with the
    /// registration (--register, or --encrypt) so proofs of statistics of the data can name it.
    #[arg(long)]
    commitment: Option<String>,
    /// 0 (Kubo's default) or 1 (CIDv1 with raw leaves).
    #[arg(long)]
    cid_version: Option<u8>,
    /// unixfs-v0-2015, unixfs-v1-2025, or cidv{0,1}-{raw,pb}-CHUNK-LINKS.
    #[arg(long)]
    profile: Option<String>,
    /// Only print the CID: nothing is stored and no node is needed.
    #[arg(long)]
    only_hash: bool,
    /// Include files whose names start with a dot (directories only).
    #[arg(long)]
    hidden: bool,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    cid: String,
    #[arg(short, long)]
    output: PathBuf,
    /// Write encrypted data as stored, without decrypting.
    #[arg(long)]
    raw: bool,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(clap::Args, Debug)]
pub struct ShareArgs {
    cid: String,
    /// The recipient's public key (SEC1 hex, compressed or not, or a PEM file).
    #[arg(long)]
    to: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

/// `http://host:port/content/…` beside the JSON-RPC URL.
pub(crate) fn content_url(rpc: &RpcArgs, path: &str) -> String {
    format!("{}/content/{path}", rpc.url.trim_end_matches('/'))
}

fn encode_query(v: &str) -> String {
    metamesh_knowledge::mirror::encode_value(v)
}

fn progress(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    // Drawn only for work that lasts (the bar appears after a second).
    bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    bar
}

fn show_after_a_second(bar: &indicatif::ProgressBar, started: std::time::Instant) {
    if bar.is_hidden() && started.elapsed().as_secs() >= 1 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
}

/// A public key from SEC1 hex, or from a PEM file (SPKI, as `account export --public` writes).
pub(crate) fn parse_public(text: &str, suite: Suite) -> anyhow::Result<PublicKey> {
    let path = Path::new(text);
    if path.is_file() {
        let pem = fs::read_to_string(path).with_context(|| format!("reading {text}"))?;
        let key = match metamesh_crypto::pem::parse_pem(&pem, Some(suite))? {
            metamesh_crypto::pem::PemKey::Public(k) => k,
            metamesh_crypto::pem::PemKey::Secret(k) => k.public_key(),
        };
        if key.suite() != suite {
            bail!(
                "{text} holds an {} key; this chain uses {suite}",
                key.suite()
            );
        }
        return Ok(key);
    }
    let bytes = hex::decode(text.trim_start_matches("0x"))
        .map_err(|_| anyhow!("`{text}` is not a hex public key"))?;
    PublicKey::from_sec1(suite, &bytes)
        .map_err(|e| anyhow!("`{text}` is not a {suite} public key: {e}"))
}

fn pin(ctx: &Context, cid: &str, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let cid = parse_cid(cid)?;
    let url = content_url(rpc, &format!("fetch/{cid}?pin=true"));
    let mut response = crate::commands::client::authorized(&url, ureq::post(&url))
        .config()
        .http_status_as_error(false)
        .build()
        .send_empty()
        .with_context(|| format!("no node answers at {url}"))?;
    let ok = response.status().is_success();
    let text = response.body_mut().read_to_string()?;
    let v: Value = serde_json::from_str(&text).unwrap_or(json!({"error": text}));
    if !ok {
        bail!("pinning {cid}: {}", v["error"].as_str().unwrap_or("?"));
    }
    ctx.out.emit(&v, || {
        format!("pinned {cid} ({} blocks fetched)", v["fetchedBlocks"])
    });
    Ok(ExitCode::SUCCESS)
}

pub fn run(ctx: &Context, cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Add(args) => add(ctx, args),
        DataCommand::Get(args) => get(ctx, args),
        DataCommand::Share(args) => share(ctx, args),
        DataCommand::Export { cid, output, rpc } => export(ctx, &cid, &output, &rpc),
        DataCommand::Import { file, rpc } => import_car(ctx, &file, &rpc),
        DataCommand::Pin { cid, rpc } => pin(ctx, &cid, &rpc),
        DataCommand::Unpin { cid, rpc } => {
            let cid = parse_cid(&cid)?;
            let removed = rpc.call("data_unpin", json!([cid.to_string()]))?;
            ctx.out.emit(
                &json!({"cid": cid.to_string(), "unpinned": removed}),
                || {
                    if removed == json!(true) {
                        format!("unpinned {cid}")
                    } else {
                        format!("{cid} was not pinned")
                    }
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Gc { rpc } => {
            let report = rpc.call("data_gc", json!([]))?;
            ctx.out.emit(&report, || {
                format!(
                    "removed {} blocks ({} bytes); kept {}",
                    report["removedBlocks"], report["removedBytes"], report["keptBlocks"]
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Ls { rpc } => {
            let pins = rpc.call("data_ls", json!([]))?;
            ctx.out.emit(&pins, || {
                let rows: Vec<Vec<String>> = pins
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|p| {
                                vec![
                                    p["cid"].as_str().unwrap_or("").to_string(),
                                    p["size"].to_string(),
                                    p["profile"].as_str().unwrap_or("").to_string(),
                                    if p["encrypted"] == json!(true) {
                                        "yes".into()
                                    } else {
                                        "no".into()
                                    },
                                    p["name"].as_str().unwrap_or("").to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(&["CID", "SIZE", "PROFILE", "ENCRYPTED", "NAME"], &rows)
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}
