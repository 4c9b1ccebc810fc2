//! `metamesh bench tps --rpc URL,URL,…`: throughput of a running network. Fresh senders are
//! funded from a keystore account, then transfers are signed, submitted round-robin to every
//! node through `mm_sendRawTransaction` and timed until the first node has them all included.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use metamesh_crypto::{Address, SecretKey};
use metamesh_primitives::{AccountAction, Amount, SignedTransaction, Transaction};
use serde::Serialize;
use serde_json::json;

use super::tps::{cores, verify_ceiling};
use crate::{Context, commands::client::RpcArgs, password::PasswordArgs};

/// Transactions per JSON-RPC batch.
const BATCH: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RemoteReport {
    nodes: usize,
    transactions: usize,
    accounts: usize,
    blocks: u64,
    /// How long handing every transaction to the nodes took (within `seconds`).
    submit_seconds: f64,
    seconds: f64,
    included_tps: f64,
    verify_ceiling_tps: f64,
    ratio: f64,
}

fn hex_tx(tx: &SignedTransaction) -> String {
    format!("0x{}", hex::encode(tx.to_rlp()))
}

fn nonce_of(rpc: &RpcArgs, a: &Address) -> anyhow::Result<u64> {
    let v = rpc.call("mm_getNonce", json!([a.to_string()]))?;
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .with_context(|| format!("mm_getNonce answered {v}"))
}

fn wait_receipt(rpc: &RpcArgs, hash: &str, deadline: Instant) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        if !rpc
            .call("mm_getTransactionReceipt", json!([hash]))?
            .is_null()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("transaction {hash} was not included in time")
}

/// The keystore account holding the most MMT on the network.
fn richest(ctx: &Context, rpc: &RpcArgs) -> anyhow::Result<Address> {
    let mut best: Option<(u128, Address)> = None;
    for entry in ctx.keystore()?.list()? {
        let balance = rpc.call("mm_getBalance", json!([entry.address.to_string()]))?;
        let wei: u128 = balance["wei"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if best.is_none_or(|(b, _)| wei > b) {
            best = Some((wei, entry.address));
        }
    }
    best.filter(|(wei, _)| *wei > 0)
        .map(|(_, a)| a)
        .context("no funded account in the keystore: use --from")
}

pub struct Remote<'a> {
    pub urls: &'a [String],
    pub n: usize,
    pub accounts: usize,
    /// The funding account; by default the keystore account with the most MMT.
    pub from: Option<Address>,
    pub password: &'a PasswordArgs,
}

pub fn remote(ctx: &Context, r: Remote) -> anyhow::Result<ExitCode> {
    ensure!(!r.urls.is_empty(), "--rpc needs at least one URL");
    ensure!(
        (1..=250).contains(&r.accounts),
        "--accounts must be 1 to 250 (one funding account's pool limit)"
    );
    ensure!(
        r.n.div_ceil(r.accounts) <= 256,
        "at most 256 transactions per account: raise --accounts"
    );
    let rpcs: Vec<RpcArgs> = r.urls.iter().map(RpcArgs::new).collect();
    let first = &rpcs[0];
    let from = match r.from {
        Some(a) => a,
        None => richest(ctx, first)?,
    };
    let pw = r.password.read(&from.to_string(), false)?;
    let funder = ctx.keystore()?.unlock(&from, pw.as_bytes())?;
    let suite = funder.suite();
    let chain_id = first
        .call("mm_chainId", json!([]))?
        .as_u64()
        .context("mm_chainId")?;
    let params = first.call("mm_getParams", json!([]))?;
    let gas_price = Amount(
        params["minGasPrice"]["wei"]
            .as_str()
            .and_then(|w| w.parse().ok())
            .context("mm_getParams")?,
    );
    let fee = Amount(gas_price.0 * u128::from(super::TRANSFER_GAS));
    let per = r.n.div_ceil(r.accounts) as u128;
    let senders: Vec<SecretKey> = (0..r.accounts)
        .map(|_| SecretKey::generate(suite))
        .collect::<Result<_, _>>()?;

    eprintln!("funding {} senders from {from}…", r.accounts);
    let start_nonce = nonce_of(first, &from)?;
    let mut last = String::new();
    for (i, s) in senders.iter().enumerate() {
        let tx = Transaction {
            chain_id,
            nonce: start_nonce + i as u64,
            gas_price,
            gas_limit: super::TRANSFER_GAS,
            action: AccountAction::Transfer {
                to: s.public_key().address(),
                amount: Amount(per * (1 + fee.0) + fee.0),
            }
            .into(),
        }
        .sign(&funder)?;
        let answer = first.call("mm_sendRawTransaction", json!([hex_tx(&tx)]))?;
        last = answer.as_str().unwrap_or_default().to_owned();
    }
    wait_receipt(first, &last, Instant::now() + Duration::from_secs(120))?;

    eprintln!("signing {} transfers…", r.n);
    let to = Address([0x42; 20]);
    let txs: Vec<SignedTransaction> = (0..r.n)
        .map(|i| {
            Transaction {
                chain_id,
                nonce: (i / r.accounts) as u64,
                gas_price,
                gas_limit: super::TRANSFER_GAS,
                action: AccountAction::Transfer {
                    to,
                    amount: Amount(1),
                }
                .into(),
            }
            .sign(&senders[i % r.accounts])
        })
        .collect::<Result<_, _>>()?;
    let ceiling = verify_ceiling(&txs);
    // One lane per node; each account's transactions stay in one lane, in nonce order.
    let lanes: Vec<(usize, Vec<String>)> = (0..rpcs.len())
        .map(|lane| {
            let raws = (0..r.n)
                .filter(|i| (i % r.accounts) % rpcs.len() == lane)
                .map(|i| hex_tx(&txs[i]))
                .collect();
            (lane, raws)
        })
        .collect();
    let lasts: Vec<String> = (0..r.accounts.min(r.n))
        .map(|a| {
            let i = (0..r.n)
                .rev()
                .find(|i| i % r.accounts == a)
                .expect("a sender's last");
            format!("0x{}", hex::encode(txs[i].hash(suite)))
        })
        .collect();

    eprintln!("submitting to {} node(s)…", rpcs.len());
    let head_before = first
        .call("mm_blockNumber", json!([]))?
        .as_u64()
        .unwrap_or(0);
    let start = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = lanes
            .iter()
            .map(|(lane, raws)| {
                let rpc = &rpcs[*lane];
                s.spawn(move || -> anyhow::Result<()> {
                    // JSON-RPC batches, as a load generator would send them.
                    for chunk in raws.chunks(BATCH) {
                        let calls: Vec<(&str, serde_json::Value)> = chunk
                            .iter()
                            .map(|raw| ("mm_sendRawTransaction", json!([raw])))
                            .collect();
                        rpc.batch(&calls)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a submitting thread panicked"))??;
        }
        Ok(())
    })?;
    let submit_seconds = start.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    for hash in &lasts {
        wait_receipt(first, hash, deadline)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let head_after = first
        .call("mm_blockNumber", json!([]))?
        .as_u64()
        .unwrap_or(0);
    let tps = r.n as f64 / seconds;
    let report = RemoteReport {
        nodes: rpcs.len(),
        transactions: r.n,
        accounts: r.accounts,
        blocks: head_after - head_before,
        submit_seconds,
        seconds,
        included_tps: tps,
        verify_ceiling_tps: ceiling,
        ratio: tps / ceiling,
    };
    ctx.out.emit(&report, || {
        format!(
            "{} transfers through {} node(s) (submitted in {submit_seconds:.2} s) included in {:.2} s over {} blocks: {tps:.0} tx/s\n\
             signature verification on {} cores in the same run: {ceiling:.0} tx/s; ratio {:.2}",
            r.n,
            rpcs.len(),
            seconds,
            report.blocks,
            cores(),
            tps / ceiling
        )
    });
    Ok(ExitCode::SUCCESS)
}
