//! Commands that talk to a running node over JSON-RPC: transfers, attestations and their
//! verification against a block header, and queries.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::{
    AccountAction, Action, Amount, DataAction, Header, Transaction, WorkKind,
};
use metamesh_state::{Attestation, Record as _, StateKey};
use serde_json::{Value, json};

use super::read_input;
use crate::{Context, password::PasswordArgs};

/// Which node to ask.
#[derive(clap::Args, Debug, Clone)]
pub struct RpcArgs {
    /// The node's JSON-RPC URL.
    #[arg(
        long = "rpc",
        env = "METAMESH_RPC",
        default_value = "http://127.0.0.1:8545"
    )]
    pub(crate) url: String,
}

static DATA_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Where to look for a local node's admin token (the CLI's data directory).
pub fn remember_data_dir(dir: &std::path::Path) {
    let _ = DATA_DIR.set(dir.to_path_buf());
}

/// The admin token to present: `METAMESH_ADMIN_TOKEN`, or the token file a node writes in the
/// data directory (`admin.token`).
pub fn admin_token() -> Option<String> {
    if let Ok(t) = std::env::var("METAMESH_ADMIN_TOKEN") {
        return Some(t.trim().to_owned());
    }
    let dir = DATA_DIR.get()?;
    let text = std::fs::read_to_string(dir.join(super::node::ADMIN_TOKEN_FILE)).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A request with the admin token, when there is one.
pub fn authorized<B>(request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
    match admin_token() {
        Some(t) => request.header("Authorization", format!("Bearer {t}")),
        None => request,
    }
}

impl RpcArgs {
    pub fn new(url: impl Into<String>) -> Self {
        RpcArgs { url: url.into() }
    }

    /// One JSON-RPC call; a JSON-RPC error becomes an error with its message.
    pub fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let reply: Value =
            serde_json::from_str(&self.post(body)?).context("the node's answer is not JSON")?;
        if let Some(e) = reply.get("error") {
            bail!("{method}: {}", e["message"].as_str().unwrap_or("error"));
        }
        Ok(reply["result"].clone())
    }

    /// A JSON-RPC batch; the first error in it becomes an error with its message.
    pub fn batch(&self, calls: &[(&str, Value)]) -> anyhow::Result<Vec<Value>> {
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": i, "method": m, "params": p}))
            .collect();
        let replies: Vec<Value> = serde_json::from_str(&self.post(Value::Array(body).to_string())?)
            .context("the node's answer is not a JSON array")?;
        replies
            .into_iter()
            .map(|r| match r.get("error") {
                Some(e) => bail!("{}", e["message"].as_str().unwrap_or("error")),
                None => Ok(r["result"].clone()),
            })
            .collect()
    }

    fn post(&self, body: String) -> anyhow::Result<String> {
        authorized(ureq::post(&self.url))
            .header("Content-Type", "application/json")
            .send(body)
            .with_context(|| {
                format!(
                    "no node answers at {} (is `metamesh devnet` running?)",
                    self.url
                )
            })?
            .body_mut()
            .read_to_string()
            .context("reading the node's answer")
    }
}

/// The signing account: `--from`, or the first account in the keystore.
#[derive(clap::Args, Debug)]
pub struct SenderArgs {
    /// Keystore account that signs (default: the first one).
    #[arg(long)]
    pub(crate) from: Option<Address>,
    /// Price per unit of gas, paid to the sealer (default: the chain's minimum).
    #[arg(long)]
    pub(crate) gas_price: Option<Amount>,
    /// The most gas the transaction may use (default: what the node estimates, plus a quarter).
    #[arg(long)]
    pub(crate) gas_limit: Option<u64>,
    #[command(flatten)]
    password: PasswordArgs,
}

/// `metamesh tx HASH` shows a transaction; `metamesh tx transfer …` sends one.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TxArgs {
    #[command(subcommand)]
    command: Option<TxCommand>,
    /// The transaction to show.
    hash: Option<String>,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(Subcommand, Debug)]
pub enum TxCommand {
    /// Send MMT to an address and wait for inclusion.
    Transfer {
        #[arg(long)]
        to: Address,
        /// `12.5MMT`, `12.5` (MMT) or `7wei`.
        #[arg(long)]
        amount: Amount,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

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

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// A block by number (or `latest`).
    Block {
        #[arg(default_value = "latest")]
        number: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// An account's balance and nonce.
    Balance {
        address: Address,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The current signers.
    Signers {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The chain's parameters (gas schedule, limits, rewards, storage market) at a block, and
    /// any change waiting for its block.
    Params {
        #[arg(long, default_value = "latest")]
        block: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Every event of the canonical chain over a block range, in order (all pages).
    Events {
        #[arg(long, default_value_t = 0)]
        from_block: u64,
        #[arg(long)]
        to_block: Option<u64>,
        /// Event kinds, comma-separated (`sealReward,storageProved`, …).
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
        /// Only events naming this account.
        #[arg(long)]
        address: Option<Address>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// Every page of `mm_getEvents` for `filter`.
fn all_events(rpc: &RpcArgs, mut filter: Value) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    loop {
        let page = rpc.call("mm_getEvents", json!([filter]))?;
        out.extend(page["events"].as_array().cloned().unwrap_or_default());
        match &page["cursor"] {
            Value::String(c) => filter["cursor"] = json!(c),
            _ => return Ok(out),
        }
    }
}

pub(crate) fn sender_key(ctx: &Context, args: &SenderArgs) -> anyhow::Result<SecretKey> {
    let keystore = ctx.keystore()?;
    let address = match args.from {
        Some(a) => a,
        None => keystore.list()?.first().map(|e| e.address).ok_or_else(|| {
            anyhow!(
                "the keystore in {} has no account; pass --from",
                ctx.data_dir.display()
            )
        })?,
    };
    let pw = args.password.read(&address.to_string(), false)?;
    Ok(keystore.unlock(&address, pw.as_bytes())?)
}

/// A wei amount from a params value (`{"wei": "…"}`).
fn wei(v: &Value) -> anyhow::Result<Amount> {
    v["wei"]
        .as_str()
        .and_then(|w| w.parse().ok())
        .map(Amount)
        .ok_or_else(|| anyhow!("the node's parameters are malformed"))
}

/// Signs `action` at the sender's next nonce with the chosen (or the chain's minimum) gas
/// price and the chosen (or estimated) gas limit.
pub(crate) fn sign_action(
    ctx: &Context,
    rpc: &RpcArgs,
    sender: &SenderArgs,
    action: Action,
) -> anyhow::Result<metamesh_primitives::SignedTransaction> {
    let key = sender_key(ctx, sender)?;
    let from = key.public_key().address();
    let chain_id = rpc
        .call("mm_chainId", json!([]))?
        .as_u64()
        .ok_or_else(|| anyhow!("bad chain id"))?;
    let nonce = rpc
        .call("mm_getNonce", json!([from.to_string()]))?
        .as_u64()
        .unwrap_or(0);
    let params = rpc.call("mm_getParams", json!([]))?;
    let block_limit = params["blockGasLimit"]
        .as_u64()
        .ok_or_else(|| anyhow!("the node's parameters are malformed"))?;
    let gas_price = match sender.gas_price {
        Some(p) => p,
        None => wei(&params["minGasPrice"])?,
    };
    let mut tx = Transaction {
        chain_id,
        nonce,
        gas_price,
        gas_limit: sender.gas_limit.unwrap_or(block_limit),
        action,
    };
    if sender.gas_limit.is_none() {
        let probe = tx.clone().sign(&key)?;
        let used = rpc
            .call(
                "mm_estimateGas",
                json!([format!("0x{}", hex::encode(probe.to_rlp()))]),
            )?
            .as_u64()
            .ok_or_else(|| anyhow!("mm_estimateGas gave no number"))?;
        tx.gas_limit = metamesh_state::padded_gas(used, block_limit);
    }
    Ok(tx.sign(&key)?)
}

/// Signs `action`, sends it, and waits for its receipt; a transaction included but failed is
/// an error naming why (it paid for its gas).
pub(crate) fn send_and_wait(
    ctx: &Context,
    rpc: &RpcArgs,
    sender: &SenderArgs,
    action: Action,
) -> anyhow::Result<Value> {
    let tx = sign_action(ctx, rpc, sender, action)?;
    let hash = rpc.call(
        "mm_sendRawTransaction",
        json!([format!("0x{}", hex::encode(tx.to_rlp()))]),
    )?;
    for _ in 0..120 {
        let receipt = rpc.call("mm_getTransactionReceipt", json!([hash]))?;
        if !receipt.is_null() {
            if receipt["status"] != "applied" {
                bail!(
                    "transaction {hash} failed in block {} ({}, {} gas paid): {}",
                    receipt["blockNumber"],
                    receipt["error"].as_str().unwrap_or("?"),
                    receipt["gasUsed"],
                    receipt["reason"].as_str().unwrap_or("?")
                );
            }
            return Ok(receipt);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!("transaction {hash} was not included within a minute")
}

pub fn tx(ctx: &Context, args: TxArgs) -> anyhow::Result<ExitCode> {
    let Some(TxCommand::Transfer {
        to,
        amount,
        sender,
        rpc,
    }) = args.command
    else {
        let hash = args
            .hash
            .ok_or_else(|| anyhow!("give a transaction hash, or `tx transfer`"))?;
        let answer = json!({
            "transaction": args.rpc.call("mm_getTransactionByHash", json!([hash]))?,
            "receipt": args.rpc.call("mm_getTransactionReceipt", json!([hash]))?,
        });
        ctx.out.emit(&answer, || {
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        });
        return Ok(ExitCode::SUCCESS);
    };
    let receipt = send_and_wait(
        ctx,
        &rpc,
        &sender,
        AccountAction::Transfer { to, amount }.into(),
    )?;
    ctx.out.emit(&receipt, || {
        format!(
            "sent {amount} to {to} in block {} ({})",
            receipt["blockNumber"],
            receipt["transactionHash"].as_str().unwrap_or("")
        )
    });
    Ok(ExitCode::SUCCESS)
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

pub fn query(ctx: &Context, cmd: QueryCommand) -> anyhow::Result<ExitCode> {
    let answer = match &cmd {
        QueryCommand::Block { number, rpc } => {
            let n: Value = number
                .parse::<u64>()
                .map_or_else(|_| json!(number), |n| json!(n));
            rpc.call("mm_getBlockByNumber", json!([n, false]))?
        }
        QueryCommand::Balance { address, rpc } => json!({
            "address": address.to_string(),
            "balance": rpc.call("mm_getBalance", json!([address.to_string()]))?,
            "nonce": rpc.call("mm_getNonce", json!([address.to_string()]))?,
        }),
        QueryCommand::Signers { rpc } => rpc.call("clique_getSigners", json!([]))?,
        QueryCommand::Params { block, rpc } => {
            let b: Value = block
                .parse::<u64>()
                .map_or_else(|_| json!(block), |n| json!(n));
            rpc.call("mm_getParams", json!([b]))?
        }
        QueryCommand::Events {
            from_block,
            to_block,
            kinds,
            address,
            rpc,
        } => {
            let mut filter = json!({"fromBlock": from_block});
            if let Some(t) = to_block {
                filter["toBlock"] = json!(t);
            }
            if !kinds.is_empty() {
                filter["kinds"] = json!(kinds);
            }
            if let Some(a) = address {
                filter["address"] = json!(a.to_string());
            }
            json!(all_events(rpc, filter)?)
        }
    };
    ctx.out.emit(&answer, || match &cmd {
        QueryCommand::Balance { .. } => format!(
            "{}: {} (nonce {})",
            answer["address"].as_str().unwrap_or(""),
            answer["balance"]["mmt"].as_str().unwrap_or("?"),
            answer["nonce"]
        ),
        QueryCommand::Events { .. } => answer
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let mut event = e["event"].clone();
                        let kind = event["type"].take();
                        format!(
                            "{} {} {}",
                            e["blockNumber"],
                            kind.as_str().unwrap_or("?"),
                            event
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        QueryCommand::Signers { .. } => answer
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        _ => serde_json::to_string_pretty(&answer).unwrap_or_default(),
    });
    Ok(ExitCode::SUCCESS)
}
