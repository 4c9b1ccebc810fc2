//! How chain objects look in JSON: hashes and bytes as `0x`-hex, numbers as JSON integers,
//! amounts as `{"mmt": "12.5 MMT", "wei": "12500000000000000000"}` or the display string.

use metamesh_crypto::Suite;
use metamesh_primitives::{Action, Amount, Hash, Header, SignedTransaction, rlp::RlpError};
use metamesh_state::{
    Account, Attestation, DataRecord, Deal, DealIndex, Event, KeyGrants, Provider, Receipt, Record,
    StateKey,
};
use serde_json::{Value, json};

pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub fn amount(a: Amount) -> Value {
    json!({"mmt": a.to_string(), "wei": a.0.to_string()})
}

pub fn header(h: &Header, suite: Suite) -> Value {
    let sealer = (h.number > 0).then(|| sealer(h, suite)).flatten();
    json!({
        "hash": hex0x(&h.hash(suite)),
        "parentHash": hex0x(&h.parent_hash),
        "number": h.number,
        "timestamp": h.timestamp,
        "sealer": sealer,
        "coinbase": h.coinbase.to_string(),
        "stateRoot": hex0x(&h.state_root),
        "transactionsRoot": hex0x(&h.transactions_root),
        "receiptsRoot": hex0x(&h.receipts_root),
        "difficulty": h.difficulty,
        "nonce": hex0x(&h.nonce),
        "extraData": hex0x(&h.extra),
    })
}

/// Who sealed a header, if its seal verifies.
fn sealer(h: &Header, suite: Suite) -> Option<String> {
    metamesh_consensus::recover_signer(h, suite)
        .ok()
        .map(|a| a.to_string())
}

pub fn action(a: &Action) -> Value {
    match a {
        Action::Transfer { to, amount: value } => {
            json!({"type": "transfer", "to": to.to_string(), "amount": value.to_string()})
        }
        Action::RegisterData {
            digest,
            size,
            cid,
            encrypted,
            profile,
            title,
            licence,
            metadata,
        } => json!({
            "type": "registerData", "digest": hex0x(digest), "size": size, "cid": cid,
            "encrypted": encrypted, "profile": profile,
            "title": title, "licence": licence, "metadata": hex0x(metadata),
        }),
        Action::ShareKey {
            cid,
            recipient,
            wrapped,
        } => json!({
            "type": "shareKey", "cid": cid, "recipient": hex0x(recipient), "wrapped": hex0x(wrapped),
        }),
        Action::StorageOffer { capacity, price } => json!({
            "type": "storageOffer", "capacity": capacity, "price": price.to_string(),
        }),
        Action::StorageDeal {
            cid,
            size,
            replicas,
            duration,
            price,
        } => json!({
            "type": "storageDeal", "cid": cid, "size": size, "replicas": replicas,
            "duration": duration, "price": price.to_string(),
        }),
        Action::AcceptDeal { deal } => json!({"type": "acceptDeal", "deal": hex0x(deal)}),
        Action::ProveStorage {
            deal,
            epoch,
            path,
            leaf,
        } => json!({
            "type": "proveStorage", "deal": hex0x(deal), "epoch": epoch,
            "pathNodes": path.len(), "leafBytes": leaf.len(),
        }),
        Action::Attest {
            digest,
            kind,
            metadata,
        } => json!({
            "type": "attest", "digest": hex0x(digest), "kind": kind.name(), "metadata": hex0x(metadata),
        }),
    }
}

/// A transaction, with where it is (`None`: still pending).
pub fn transaction(
    tx: &SignedTransaction,
    suite: Suite,
    location: Option<(Hash, u64, u32)>,
) -> Value {
    json!({
        "hash": hex0x(&tx.hash(suite)),
        "from": tx.sender().ok().map(|a| a.to_string()),
        "chainId": tx.tx.chain_id,
        "nonce": tx.tx.nonce,
        "fee": tx.tx.fee.to_string(),
        "action": action(&tx.tx.action),
        "signature": hex0x(tx.signature.as_bytes()),
        "blockHash": location.map(|l| hex0x(&l.0)),
        "blockNumber": location.map(|l| l.1),
        "index": location.map(|l| l.2),
    })
}

pub fn event(e: &Event) -> Value {
    match e {
        Event::Transfer {
            from,
            to,
            amount: a,
        } => {
            json!({"type": "transfer", "from": from.to_string(), "to": to.to_string(), "amount": a.to_string()})
        }
        Event::Fee {
            from,
            sealer,
            amount: a,
        } => {
            json!({"type": "fee", "from": from.to_string(), "sealer": sealer.to_string(), "amount": a.to_string()})
        }
        Event::DataRegistered { digest, owner } => {
            json!({"type": "dataRegistered", "digest": hex0x(digest), "owner": owner.to_string()})
        }
        Event::Attested {
            digest,
            owner,
            kind,
        } => {
            json!({"type": "attested", "digest": hex0x(digest), "owner": owner.to_string(), "kind": kind.name()})
        }
        Event::SealReward { sealer, amount: a } => {
            json!({"type": "sealReward", "sealer": sealer.to_string(), "amount": a.to_string()})
        }
        Event::KeyShared { granter, recipient } => {
            json!({"type": "keyShared", "granter": granter.to_string(), "recipient": recipient.to_string()})
        }
        Event::StorageOffered { provider } => {
            json!({"type": "storageOffered", "provider": provider.to_string()})
        }
        Event::DealOpened {
            deal,
            owner,
            escrow,
        } => {
            json!({"type": "dealOpened", "deal": hex0x(deal), "owner": owner.to_string(), "escrow": escrow.to_string()})
        }
        Event::DealAccepted { deal, provider } => {
            json!({"type": "dealAccepted", "deal": hex0x(deal), "provider": provider.to_string()})
        }
        Event::StorageProved {
            deal,
            provider,
            epoch,
            paid,
            reward,
        } => json!({
            "type": "storageProved", "deal": hex0x(deal), "provider": provider.to_string(),
            "epoch": epoch, "paid": paid.to_string(), "reward": reward.to_string(),
        }),
        Event::ChallengeMissed {
            deal,
            provider,
            epoch,
        } => json!({
            "type": "challengeMissed", "deal": hex0x(deal), "provider": provider.to_string(), "epoch": epoch,
        }),
        Event::DealEnded { deal, refund } => {
            json!({"type": "dealEnded", "deal": hex0x(deal), "refund": refund.to_string()})
        }
    }
}

pub fn receipt(r: &Receipt, block: Hash, number: u64, index: u32) -> Value {
    json!({
        "transactionHash": hex0x(&r.tx_hash),
        "blockHash": hex0x(&block),
        "blockNumber": number,
        "index": index,
        "status": if r.outcome.is_ok() { "applied" } else { "rejected" },
        "reason": r.outcome.as_ref().err(),
        "events": r.events.iter().map(event).collect::<Vec<_>>(),
    })
}

/// A decoded state record, or an error naming what is wrong with the stored bytes.
pub fn record(key: &StateKey, raw: &[u8]) -> Result<Value, String> {
    let err = |e: RlpError| e.to_string();
    Ok(match key {
        StateKey::Account(a) => {
            let acct = Account::decode(raw).map_err(err)?;
            json!({"type": "account", "address": a.to_string(), "nonce": acct.nonce, "balance": amount(acct.balance)})
        }
        StateKey::Data(d) => {
            let r = DataRecord::decode(raw).map_err(err)?;
            json!({
                "type": "data", "digest": hex0x(d), "owner": r.owner.to_string(), "block": r.block, "time": r.time,
                "size": r.size, "cid": r.cid, "encrypted": r.encrypted, "profile": r.profile, "title": r.title, "licence": r.licence, "metadata": hex0x(&r.metadata),
            })
        }
        StateKey::Attestation(d) => {
            let r = Attestation::decode(raw).map_err(err)?;
            json!({
                "type": "attestation", "digest": hex0x(d), "owner": r.owner.to_string(), "block": r.block,
                "time": r.time, "kind": r.kind.name(), "metadata": hex0x(&r.metadata),
            })
        }
        StateKey::Provider(a) => provider(a, &Provider::decode(raw).map_err(err)?),
        StateKey::Deal(id) => deal(id, &Deal::decode(raw).map_err(err)?),
        StateKey::KeyGrants(_) => {
            let g = KeyGrants::decode(raw).map_err(err)?;
            json!({"type": "keyGrants", "grants": g.0.iter().map(|g| json!({
                "granter": g.granter.to_string(), "block": g.block,
                "recipient": hex0x(&g.recipient), "wrapped": hex0x(&g.wrapped),
            })).collect::<Vec<_>>()})
        }
        StateKey::DealIndex => {
            let i = DealIndex::decode(raw).map_err(err)?;
            json!({"type": "dealIndex", "deals": i.0.iter().map(|d| hex0x(d)).collect::<Vec<_>>()})
        }
    })
}

pub fn provider(address: &metamesh_crypto::Address, p: &Provider) -> Value {
    let judged = p.passes + p.misses;
    json!({
        "type": "provider", "address": address.to_string(), "capacity": p.capacity,
        "price": p.price.to_string(), "committed": p.committed, "passes": p.passes,
        "misses": p.misses,
        "quality": if judged == 0 { None } else { Some(p.passes as f64 / judged as f64) },
    })
}

pub fn deal(id: &Hash, d: &Deal) -> Value {
    json!({
        "type": "deal", "id": hex0x(id), "owner": d.owner.to_string(), "cid": d.cid, "size": d.size,
        "replicas": d.replicas, "price": d.price.to_string(), "start": d.start, "end": d.end,
        "escrow": d.escrow.to_string(),
        "holders": d.holders.iter().map(|h| json!({
            "provider": h.provider.to_string(), "passes": h.passes, "misses": h.misses,
            "challenge": h.challenge.map(|c| json!({"epoch": c.epoch, "offset": c.offset, "deadline": c.deadline})),
        })).collect::<Vec<_>>(),
    })
}
