//! `metamesh storage …`: the storage market — offer space as a storage node, ask for replicas
//! of a file, and see providers, deals and challenges.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use metamesh_crypto::Address;
use metamesh_primitives::{Amount, StorageAction};
use metamesh_storage::parse_cid;
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait};
use crate::{Context, output::table};

#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Register (or update) this account as a storage node: space offered and price asked.
    /// A node running with this account as its signer then takes matching deals itself.
    Offer {
        /// Bytes offered: `500GiB`, `2TB`, `1048576`.
        #[arg(long)]
        capacity: String,
        /// MMT per GiB (rounded up) per epoch.
        #[arg(long)]
        price: Amount,
        /// MMT kept locked as stake: each replica held bonds `storageStakePerGib` per GiB of it,
        /// and a missed challenge slashes part of that (default: the stake held now).
        #[arg(long)]
        stake: Option<Amount>,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Ask for replicas of a file the node holds; the escrow and the reserve for the sealers
    /// of its boundaries are paid now (what is left comes back when it ends).
    Deal {
        cid: String,
        #[arg(long, default_value_t = 1)]
        replicas: u64,
        /// Blocks the data must be kept.
        #[arg(long)]
        duration: u64,
        /// MMT per replica per epoch.
        #[arg(long)]
        price: Amount,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A storage node's record and the deals an account takes part in (default: the first
    /// keystore account).
    Status {
        address: Option<Address>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// Bytes from `123`, `10KiB`, `5MiB`, `2GiB`, `1.5TiB`, `10KB`, `5MB`, `2GB`, `1TB` (the
/// parser job and inventory files use).
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    metamesh_compute::inventory::parse_size(text).ok_or_else(|| {
        anyhow!("`{text}` is not a size (a byte count, or a number with B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)")
    })
}

pub fn run(ctx: &Context, cmd: StorageCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StorageCommand::Offer {
            capacity,
            price,
            stake,
            sender,
            rpc,
        } => {
            let capacity = parse_size(&capacity)?;
            let stake = match stake {
                Some(s) => s,
                None => {
                    let me = super::client::sender_key(ctx, &sender)?
                        .public_key()
                        .address();
                    let node = rpc.call("storage_provider", json!([me.to_string()]))?;
                    node["stake"]
                        .as_str()
                        .map_or(Ok(Amount::ZERO), str::parse)?
                }
            };
            let receipt = send_and_wait(
                ctx,
                &rpc,
                &sender,
                StorageAction::Offer {
                    capacity,
                    price,
                    stake,
                }
                .into(),
            )?;
            let view = json!({"capacity": capacity, "price": price.to_string(), "stake": stake.to_string(), "block": receipt["blockNumber"]});
            ctx.out.emit(&view, || {
                format!(
                    "offering {capacity} bytes at {price} per GiB per epoch, {stake} staked (block {})",
                    receipt["blockNumber"]
                )
            });
        }
        StorageCommand::Deal {
            cid,
            replicas,
            duration,
            price,
            sender,
            rpc,
        } => {
            let cid = parse_cid(&cid)?;
            let has = rpc.call("data_has", json!([cid.to_string()]))?;
            if has["complete"] != json!(true) {
                bail!("the node does not hold all of {cid}: add or pin it first");
            }
            let size = has["size"]
                .as_u64()
                .filter(|s| *s > 0)
                .ok_or_else(|| anyhow!("{cid} is not a non-empty file"))?;
            let root = rpc.call("data_block", json!([cid.to_string()]))?;
            let root = hex::decode(root.as_str().unwrap_or_default().trim_start_matches("0x"))
                .map_err(|_| anyhow!("the node sent a malformed root block"))?;
            let receipt = send_and_wait(
                ctx,
                &rpc,
                &sender,
                StorageAction::Deal {
                    cid: cid.to_bytes(),
                    root,
                    replicas,
                    duration,
                    price,
                }
                .into(),
            )?;
            let opened = receipt["events"]
                .as_array()
                .and_then(|e| e.iter().find(|e| e["type"] == "dealOpened"))
                .cloned()
                .unwrap_or(Value::Null);
            // The reserve for the sealers of its boundaries is in the deal record.
            let record = rpc.call("storage_deal", json!([opened["deal"]]))?;
            let view = json!({"deal": opened["deal"], "cid": cid.to_string(), "size": size, "escrow": opened["escrow"],
                "reserve": record["reserve"], "block": receipt["blockNumber"]});
            ctx.out.emit(&view, || {
                format!(
                    "deal {} for {cid}: {replicas} replicas, {duration} blocks, escrow {}, boundary reserve {}",
                    view["deal"].as_str().unwrap_or("?"),
                    view["escrow"].as_str().unwrap_or("?"),
                    view["reserve"].as_str().unwrap_or("?")
                )
            });
        }
        StorageCommand::Status { address, rpc } => {
            let address = match address {
                Some(a) => a,
                None => sender_key_address(ctx)?,
            };
            let provider = rpc.call("storage_provider", json!([address.to_string()]))?;
            let deals = rpc.call("storage_deals", json!([address.to_string()]))?;
            let view =
                json!({"address": address.to_string(), "provider": provider, "deals": deals});
            ctx.out.emit(&view, || {
                let mut text = if provider.is_null() {
                    format!("{address} is not a storage node")
                } else {
                    format!(
                        "storage node {address}: {} of {} bytes committed, price {}; {} passed, {} missed",
                        provider["committed"], provider["capacity"], provider["price"].as_str().unwrap_or("?"),
                        provider["passes"], provider["misses"]
                    )
                };
                let rows: Vec<Vec<String>> = deals.as_array().map(|a| a.iter().map(|d| {
                    let holders = d["holders"].as_array().cloned().unwrap_or_default();
                    vec![
                        d["id"].as_str().unwrap_or("").chars().take(18).collect(),
                        d["cid"].as_str().unwrap_or("").to_string(),
                        format!("{}/{}", holders.len(), d["replicas"]),
                        format!("{}..{}", d["start"], d["end"]),
                        d["escrow"].as_str().unwrap_or("").to_string(),
                        holders.iter().map(|h| format!("{}:{}✓/{}✗", &h["provider"].as_str().unwrap_or("")[..10.min(h["provider"].as_str().unwrap_or("").len())], h["passes"], h["misses"])).collect::<Vec<_>>().join(" "),
                    ]
                }).collect()).unwrap_or_default();
                if !rows.is_empty() {
                    text.push('\n');
                    text.push_str(&table(&["DEAL", "CID", "HELD", "BLOCKS", "ESCROW", "HOLDERS"], &rows));
                }
                text
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sender_key_address(ctx: &Context) -> anyhow::Result<Address> {
    let keystore = ctx.keystore()?;
    keystore
        .list()?
        .first()
        .map(|e| e.address)
        .ok_or_else(|| anyhow!("no account in the keystore: give an address"))
}
