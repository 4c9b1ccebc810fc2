//! Talking to a running node over JSON-RPC: the node's URL and admin token, signing and
//! sending with gas, transfers, and queries (attestations are in `attest`).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_crypto::{Address, SecretKey};
use metamesh_primitives::{AccountAction, Action, Amount, Transaction};
use serde_json::{Value, json};

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

/// The admin token to present to the node at `url`: `METAMESH_ADMIN_TOKEN` (sent wherever the
/// user points the CLI), or the token file a local node writes in the data directory
/// (`admin.token`) — sent only to a loopback URL, so pointing `--rpc` at someone else's node
/// never hands it this machine's token.
pub fn admin_token(url: &str) -> Option<String> {
    if let Ok(t) = std::env::var("METAMESH_ADMIN_TOKEN") {
        return Some(t.trim().to_owned());
    }
    if !is_loopback_url(url) {
        return None;
    }
    let dir = DATA_DIR.get()?;
    let text = std::fs::read_to_string(dir.join(super::node::ADMIN_TOKEN_FILE)).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_url(url: &str) -> bool {
    // scheme://[userinfo@]host[:port][/…]
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A request to `url` with the admin token, when there is one for it.
pub fn authorized<B>(url: &str, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
    match admin_token(url) {
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
        authorized(&self.url, ureq::post(&self.url))
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
    sign_with(rpc, &key, sender.gas_price, sender.gas_limit, action)
}

/// Signs `action` with `key` at its next nonce (see [`sign_action`]).
pub(crate) fn sign_with(
    rpc: &RpcArgs,
    key: &SecretKey,
    gas_price: Option<Amount>,
    gas_limit: Option<u64>,
    action: Action,
) -> anyhow::Result<metamesh_primitives::SignedTransaction> {
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
    let gas_price = match gas_price {
        Some(p) => p,
        None => wei(&params["minGasPrice"])?,
    };
    let mut tx = Transaction {
        chain_id,
        nonce,
        gas_price,
        gas_limit: gas_limit.unwrap_or(block_limit),
        action,
    };
    if gas_limit.is_none() {
        let probe = tx.clone().sign(key)?;
        let used = rpc
            .call(
                "mm_estimateGas",
                json!([format!("0x{}", hex::encode(probe.to_rlp()))]),
            )?
            .as_u64()
            .ok_or_else(|| anyhow!("mm_estimateGas gave no number"))?;
        tx.gas_limit = metamesh_state::padded_gas(used, block_limit);
    }
    Ok(tx.sign(key)?)
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
    send_signed(rpc, &tx)
}

/// Sends a signed transaction and waits for its receipt (see [`send_and_wait`]).
pub(crate) fn send_signed(
    rpc: &RpcArgs,
    tx: &metamesh_primitives::SignedTransaction,
) -> anyhow::Result<Value> {
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

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn the_token_file_goes_only_to_this_machine() {
        for url in [
            "http://127.0.0.1:8545",
            "http://127.9.9.9",
            "http://localhost:8545/x",
            "http://[::1]:8545",
            "http://user@127.0.0.1:1/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://10.0.0.1:8545",
            "https://node.example.org",
            "http://127.0.0.1.example.org",
            "http://localhost.example.org",
            "http://127.0.0.1@example.org",
            "127.0.0.1:8545",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
