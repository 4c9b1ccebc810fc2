//! How chain objects look in JSON: hashes and bytes as `0x`-hex, numbers as JSON integers,
//! amounts as `{"mmt": "12.5 MMT", "wei": "12500000000000000000"}` or the display string.

use metamesh_crypto::Suite;
use metamesh_primitives::{
    AccountAction, Action, Amount, DataAction, Hash, Header, ParamsAction, SignedTransaction,
    StorageAction, rlp::RlpError,
};
use metamesh_state::{
    Account, AccountEvent, Attestation, Budget, CidIndex, DataEvent, DataRecord, Deal, Event,
    KeyGrants, Params, ParamsEvent, Pending, Receipt, Record, Rejection, StateKey, StorageEvent,
    StorageNode,
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
        "gasLimit": h.gas_limit,
        "gasUsed": h.gas_used,
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

/// A binary CID as text (`Qm…`, `bafy…`), or its hex if it is not a CID.
pub fn cid_text(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match metamesh_storage::Cid::try_from(bytes) {
        Ok(c) => json!(c.to_string()),
        Err(_) => json!(hex0x(bytes)),
    }
}

pub fn action(a: &Action) -> Value {
    let name = a.name();
    let mut v = match a {
        Action::Accounts(AccountAction::Transfer { to, amount: value }) => {
            json!({"to": to.to_string(), "amount": value.to_string()})
        }
        Action::Params(ParamsAction::Change { changes }) => json!({
            "changes": changes.iter().map(|(n, v)| json!({"name": n, "value": hex0x(v)})).collect::<Vec<_>>(),
        }),
        Action::Data(DataAction::Register {
            digest,
            size,
            cid,
            encrypted,
            profile,
            title,
            licence,
            metadata,
        }) => json!({
            "digest": hex0x(digest), "size": size, "cid": cid_text(cid),
            "encrypted": encrypted, "profile": profile,
            "title": title, "licence": licence, "metadata": hex0x(metadata),
        }),
        Action::Data(DataAction::Attest {
            digest,
            kind,
            metadata,
        }) => json!({
            "digest": hex0x(digest), "kind": kind.name(), "metadata": hex0x(metadata),
        }),
        Action::Data(DataAction::ShareKey {
            cid,
            recipient,
            wrapped,
        }) => json!({
            "cid": cid_text(cid), "recipient": hex0x(recipient), "wrapped": hex0x(wrapped),
        }),
        Action::Storage(StorageAction::Offer {
            capacity,
            price,
            stake,
        }) => json!({
            "capacity": capacity, "price": price.to_string(), "stake": stake.to_string(),
        }),
        Action::Storage(StorageAction::Deal {
            cid,
            root,
            replicas,
            duration,
            price,
        }) => json!({
            "cid": cid_text(cid), "rootBytes": root.len(), "replicas": replicas,
            "duration": duration, "price": price.to_string(),
        }),
        Action::Storage(StorageAction::Accept { deal }) => json!({"deal": hex0x(deal)}),
        Action::Storage(StorageAction::Prove {
            deal,
            epoch,
            path,
            leaf,
        }) => json!({
            "deal": hex0x(deal), "epoch": epoch,
            "pathNodes": path.len(), "leafBytes": leaf.len(),
        }),
        Action::Compute(c) => crate::compute_json::action(c),
        Action::Zk(z) => crate::zk_json::action(z),
        Action::Knowledge(k) => crate::knowledge_json::action(k),
    };
    v["type"] = json!(name);
    v
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
        "gasPrice": tx.tx.gas_price.0.to_string(),
        "gasLimit": tx.tx.gas_limit,
        "action": action(&tx.tx.action),
        "signature": hex0x(tx.signature.as_bytes()),
        "blockHash": location.map(|l| hex0x(&l.0)),
        "blockNumber": location.map(|l| l.1),
        "index": location.map(|l| l.2),
    })
}

pub fn event(e: &Event) -> Value {
    let a = |x: &metamesh_crypto::Address| x.to_string();
    let mut v = match e {
        Event::Accounts(e) => match e {
            AccountEvent::Transfer { from, to, amount } => {
                json!({"from": a(from), "to": a(to), "amount": amount.to_string()})
            }
            AccountEvent::Fee {
                from,
                sealer,
                amount,
            } => json!({"from": a(from), "sealer": a(sealer), "amount": amount.to_string()}),
            AccountEvent::SealReward { sealer, amount } => {
                json!({"sealer": a(sealer), "amount": amount.to_string()})
            }
        },
        Event::Params(e) => match e {
            ParamsEvent::Scheduled { block, names } => json!({"block": block, "names": names}),
            ParamsEvent::Changed { names } => json!({"names": names}),
        },
        Event::Data(e) => match e {
            DataEvent::Registered { digest, owner } => {
                json!({"digest": hex0x(digest), "owner": a(owner)})
            }
            DataEvent::Attested {
                digest,
                owner,
                kind,
            } => json!({"digest": hex0x(digest), "owner": a(owner), "kind": kind.name()}),
            DataEvent::KeyShared { granter, recipient } => {
                json!({"granter": a(granter), "recipient": a(recipient)})
            }
        },
        Event::Compute(e) => crate::compute_json::event(e),
        Event::Zk(e) => crate::zk_json::event(e),
        Event::Knowledge(e) => crate::knowledge_json::event(e),
        Event::Storage(e) => match e {
            StorageEvent::Offered {
                provider,
                capacity,
                price,
                stake,
            } => json!({
                "provider": a(provider), "capacity": capacity, "price": price.to_string(),
                "stake": stake.to_string(),
            }),
            StorageEvent::DealOpened {
                deal,
                owner,
                size,
                escrow,
                reserve,
            } => json!({
                "deal": hex0x(deal), "owner": a(owner), "size": size, "escrow": escrow.to_string(),
                "reserve": reserve.to_string(),
            }),
            StorageEvent::DealAccepted {
                deal,
                provider,
                bond,
            } => json!({"deal": hex0x(deal), "provider": a(provider), "bond": bond.to_string()}),
            StorageEvent::ChallengeIssued {
                deal,
                provider,
                epoch,
                offset,
                deadline,
            } => json!({
                "deal": hex0x(deal), "provider": a(provider), "epoch": epoch, "offset": offset,
                "deadline": deadline,
            }),
            StorageEvent::Proved {
                deal,
                provider,
                epoch,
                paid,
                reward,
            } => json!({
                "deal": hex0x(deal), "provider": a(provider), "epoch": epoch,
                "paid": paid.to_string(), "reward": reward.to_string(),
            }),
            StorageEvent::Missed {
                deal,
                owner,
                provider,
                epoch,
                refund,
                slashed,
            } => json!({
                "deal": hex0x(deal), "owner": a(owner), "provider": a(provider), "epoch": epoch,
                "refund": refund.to_string(), "slashed": slashed.to_string(),
            }),
            StorageEvent::DealEnded {
                deal,
                owner,
                refund,
                reserve,
            } => json!({
                "deal": hex0x(deal), "owner": a(owner), "refund": refund.to_string(),
                "reserve": reserve.to_string(),
            }),
            StorageEvent::BlockRepeated {
                deal,
                provider,
                block,
            } => json!({"deal": hex0x(deal), "provider": a(provider), "block": cid_text(block)}),
            StorageEvent::BoundaryFailed { deal, code } => {
                let name = metamesh_state::Code::from_u16(*code).map(|c| c.name());
                json!({"deal": hex0x(deal), "code": code, "error": name})
            }
        },
    };
    v["type"] = json!(e.kind());
    v
}

/// A rejection as JSON: its code, name and the words rendered from them.
pub fn rejection(r: &Rejection) -> Value {
    json!({"code": r.code as u16, "error": r.code.name(), "reason": r.message()})
}

pub fn receipt(r: &Receipt, block: Hash, number: u64, index: u32) -> Value {
    let mut v = json!({
        "transactionHash": hex0x(&r.tx_hash),
        "blockHash": hex0x(&block),
        "blockNumber": number,
        "index": index,
        "status": if r.outcome.is_ok() { "applied" } else { "failed" },
        "gasUsed": r.gas_used,
        "events": r.events.iter().map(event).collect::<Vec<_>>(),
    });
    if let Err(rej) = &r.outcome {
        let detail = rejection(rej);
        v["code"] = detail["code"].clone();
        v["error"] = detail["error"].clone();
        v["reason"] = detail["reason"].clone();
    }
    v
}

/// A decoded state record, or an error naming what is wrong with the stored bytes.
pub fn record(key: &StateKey, raw: &[u8]) -> Result<Value, String> {
    let err = |e: RlpError| e.to_string();
    Ok(match key {
        StateKey::Params => {
            let mut v = Params::decode(raw).map_err(err)?.to_json();
            v["type"] = json!("params");
            v
        }
        StateKey::PendingParams => {
            let p = Pending::decode(raw).map_err(err)?;
            json!({"type": "pendingParams", "block": p.block, "params": p.params.to_json()})
        }
        StateKey::Budget(payout) => {
            let b = Budget::decode(raw).map_err(err)?;
            json!({"type": "budget", "payout": payout.name(), "pool": payout.pool().name(), "start": b.start, "spent": amount(b.spent)})
        }
        StateKey::Collection(c) => {
            json!({"type": "collection", "collection": c.name(), "root": hex0x(raw)})
        }
        StateKey::Account(a) => {
            let acct = Account::decode(raw).map_err(err)?;
            json!({"type": "account", "address": a.to_string(), "nonce": acct.nonce, "balance": amount(acct.balance)})
        }
        StateKey::Data(d) => {
            let r = DataRecord::decode(raw).map_err(err)?;
            json!({
                "type": "data", "digest": hex0x(d), "owner": r.owner.to_string(), "block": r.block, "time": r.time,
                "size": r.size, "cid": cid_text(&r.cid), "encrypted": r.encrypted, "profile": r.profile, "title": r.title,
                "licence": r.licence, "metadata": hex0x(&r.metadata),
            })
        }
        StateKey::Attestation(d) => {
            let r = Attestation::decode(raw).map_err(err)?;
            json!({
                "type": "attestation", "digest": hex0x(d), "owner": r.owner.to_string(), "block": r.block,
                "time": r.time, "kind": r.kind.name(), "metadata": hex0x(&r.metadata),
            })
        }
        StateKey::DataByCid(_) => {
            let i = CidIndex::decode(raw).map_err(err)?;
            json!({"type": "cidIndex", "digest": hex0x(&i.0)})
        }
        StateKey::Circuit(id) => {
            crate::zk_json::circuit(id, &metamesh_state::Circuit::decode(raw).map_err(err)?)
        }
        StateKey::Statement(id) => {
            crate::zk_json::statement(id, &metamesh_state::Statement::decode(raw).map_err(err)?)
        }
        StateKey::Roles(a) => {
            crate::knowledge_json::roles(a, &metamesh_state::Roles::decode(raw).map_err(err)?)
        }
        StateKey::Algorithm(id) => crate::knowledge_json::algorithm(
            id,
            &metamesh_state::Algorithm::decode(raw).map_err(err)?,
        ),
        StateKey::KnowledgeBase(id) => crate::knowledge_json::knowledge_base(
            id,
            &metamesh_state::KnowledgeBase::decode(raw).map_err(err)?,
        ),
        StateKey::StorageNode(a) => provider(a, &StorageNode::decode(raw).map_err(err)?),
        StateKey::Deal(id) => deal(id, &Deal::decode(raw).map_err(err)?),
        StateKey::ComputeCounts => {
            let c = metamesh_state::ComputeCounts::decode(raw).map_err(err)?;
            json!({"type": "computeCounts", "providers": c.providers, "capacityEpoch": c.capacity_epoch})
        }
        StateKey::Provider(a) => {
            let p = metamesh_state::Provider::decode(raw).map_err(err)?;
            // Online and quality need the block: `mm_getProvider` gives them.
            let mut v = crate::compute_json::provider(a, &p, p.last_seen, &Params::default());
            if let Some(o) = v.as_object_mut() {
                o.remove("online");
                o.remove("quality");
                o.insert("qualityStored".into(), json!(p.quality));
            }
            v
        }
        StateKey::Job(id) => {
            let job = metamesh_state::Job::decode(raw).map_err(err)?;
            let mut v = crate::compute_json::job(id, &job, &[]);
            v["type"] = json!("job");
            v
        }
        StateKey::Task(id, i) => {
            let t = metamesh_state::Task::decode(raw).map_err(err)?;
            json!({"type": "task", "job": hex0x(id), "index": i, "state": t.state, "wanted": t.wanted,
                "replicas": t.replicas.iter().map(|r| r.provider.to_string()).collect::<Vec<_>>(),
                "digest": hex0x(&t.digest)})
        }
        StateKey::ComputeResult(_, _) => {
            crate::compute_json::result(&metamesh_state::ComputeResult::decode(raw).map_err(err)?)
        }
        StateKey::KeyGrants(_) => {
            let g = KeyGrants::decode(raw).map_err(err)?;
            json!({"type": "keyGrants", "grants": g.0.iter().map(|g| json!({
                "granter": g.granter.to_string(), "block": g.block,
                "recipient": hex0x(&g.recipient), "wrapped": hex0x(&g.wrapped),
            })).collect::<Vec<_>>()})
        }
    })
}

pub fn provider(address: &metamesh_crypto::Address, p: &StorageNode) -> Value {
    let judged = p.passes + p.misses;
    json!({
        "type": "storageNode", "address": address.to_string(), "capacity": p.capacity,
        "price": p.price.to_string(), "committed": p.committed, "stake": p.stake.to_string(),
        "bonded": p.bonded.to_string(), "passes": p.passes, "misses": p.misses,
        "quality": if judged == 0 { None } else { Some(p.passes as f64 / judged as f64) },
    })
}

pub fn deal(id: &Hash, d: &Deal) -> Value {
    json!({
        "type": "deal", "id": hex0x(id), "owner": d.owner.to_string(), "cid": cid_text(&d.cid), "size": d.size,
        "replicas": d.replicas, "price": d.price.to_string(), "start": d.start, "end": d.end,
        "epoch": d.epoch, "escrow": d.escrow.to_string(), "boundaryFee": d.fee.to_string(),
        "reserve": d.reserve.to_string(), "nextDue": d.next_due, "proofBytes": d.proof_bytes,
        "ended": d.ended(), "rewarded": d.rewarded,
        "holders": d.holders.iter().map(|h| json!({
            "provider": h.provider.to_string(), "bond": h.bond.to_string(), "passes": h.passes, "misses": h.misses,
            "challenge": h.challenge.map(|c| json!({"epoch": c.epoch, "offset": c.offset, "deadline": c.deadline})),
        })).collect::<Vec<_>>(),
    })
}
