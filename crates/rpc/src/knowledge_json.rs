//! The knowledge domain as JSON (its actions, events and records) and its methods:
//! `mm_getAlgorithm`, `mm_listAlgorithms`, `mm_getRoles`, `mm_getKnowledgeBase`,
//! `mm_listKnowledgeBases`.

use metamesh_node::Chain;
use metamesh_primitives::{
    Hash, KnowledgeAction,
    compute::EXECUTORS,
    knowledge::{AlgorithmSpec, KB_KINDS, KnowledgeBaseSpec, ROLES},
};
use metamesh_state::{Algorithm, CollectionId, KnowledgeBase, KnowledgeEvent, Roles};
use serde_json::{Value, json};

use crate::{
    RpcError,
    json::{cid_text, hex0x},
    methods::Params,
};

fn role_name(role: u8) -> Value {
    match ROLES.get(usize::from(role)) {
        Some(n) if !n.is_empty() => json!(n),
        _ => json!(role),
    }
}

pub fn spec(s: &AlgorithmSpec) -> Value {
    json!({
        "name": s.name, "description": s.description, "program": cid_text(&s.program),
        "executor": EXECUTORS.get(usize::from(s.executor)).copied().unwrap_or("unknown"),
        "args": s.args, "software": s.software, "output": s.output,
        "properties": s.properties.iter().map(|p| json!({
            "name": p.name, "unit": p.unit, "description": p.description,
        })).collect::<Vec<_>>(),
        "fuel": s.fuel, "walltime": s.walltime,
        "rtol": f64::from_bits(s.rtol), "atol": f64::from_bits(s.atol),
    })
}

pub fn action(a: &KnowledgeAction) -> Value {
    match a {
        KnowledgeAction::GrantRole {
            account,
            role,
            granted,
        } => json!({"account": account.to_string(), "role": role_name(*role), "granted": granted}),
        KnowledgeAction::RegisterAlgorithm { spec: s } => json!({"spec": spec(s)}),
        KnowledgeAction::RetireAlgorithm { algorithm } => json!({"algorithm": hex0x(algorithm)}),
        KnowledgeAction::RegisterKnowledgeBase { base } => json!({"base": base_spec(base)}),
    }
}

pub fn event(e: &KnowledgeEvent) -> Value {
    match e {
        KnowledgeEvent::RoleChanged {
            account,
            role,
            granted,
        } => json!({"account": account.to_string(), "role": role_name(*role), "granted": granted}),
        KnowledgeEvent::AlgorithmRegistered { algorithm, owner } => {
            json!({"algorithm": hex0x(algorithm), "owner": owner.to_string()})
        }
        KnowledgeEvent::AlgorithmRetired { algorithm, by } => {
            json!({"algorithm": hex0x(algorithm), "by": by.to_string()})
        }
        KnowledgeEvent::KnowledgeBaseRegistered { base, owner, kind } => json!({
            "base": hex0x(base), "owner": owner.to_string(), "kind": kind_name(*kind),
        }),
    }
}

/// `raw` is the spec's RLP, so a client rebuilds exactly what was registered.
pub fn algorithm(id: &Hash, a: &Algorithm) -> Value {
    json!({
        "type": "algorithm", "id": hex0x(id), "owner": a.owner.to_string(), "block": a.block,
        "time": a.time, "retired": (a.retired != 0).then_some(a.retired), "spec": spec(&a.spec),
        "raw": hex0x(&alloy_rlp::encode(&a.spec)),
    })
}

fn kind_name(kind: u8) -> Value {
    KB_KINDS
        .get(usize::from(kind))
        .map_or_else(|| json!(kind), |k| json!(k))
}

pub fn base_spec(s: &KnowledgeBaseSpec) -> Value {
    json!({
        "kind": kind_name(s.kind), "name": s.name, "description": s.description,
        "content": cid_text(&s.content), "source": s.source,
    })
}

pub fn knowledge_base(id: &Hash, kb: &KnowledgeBase) -> Value {
    json!({
        "type": "knowledgeBase", "id": hex0x(id), "owner": kb.owner.to_string(),
        "block": kb.block, "time": kb.time, "digest": hex0x(&kb.digest), "size": kb.size,
        "graph": format!("urn:metamesh:kb:{}", hex0x(id)), "spec": base_spec(&kb.spec),
    })
}

pub fn roles(account: &metamesh_crypto::Address, r: &Roles) -> Value {
    let names: Vec<&str> = (1..ROLES.len() as u8)
        .filter(|x| r.has(*x))
        .map(|x| ROLES[usize::from(x)])
        .collect();
    json!({"type": "roles", "account": account.to_string(), "roles": names, "block": r.block})
}

pub fn is_knowledge(method: &str) -> bool {
    matches!(
        method,
        "mm_getAlgorithm"
            | "mm_listAlgorithms"
            | "mm_getRoles"
            | "mm_getKnowledgeBase"
            | "mm_listKnowledgeBases"
    )
}

/// Algorithms one `mm_listAlgorithms` call returns (each up to tens of KB of JSON, built
/// under the chain's lock).
const PAGE: usize = 100;

pub fn dispatch(chain: &mut Chain, method: &str, p: &Params) -> Result<Value, RpcError> {
    let state = chain.state();
    let read = RpcError::internal;
    match method {
        "mm_getAlgorithm" => {
            let id = p.hash(0, "algorithm id")?;
            let a = state.load::<Algorithm>(&id).map_err(read)?;
            Ok(a.map_or(Value::Null, |a| algorithm(&id, &a)))
        }
        "mm_listAlgorithms" => crate::methods::list_records::<Algorithm>(
            &state,
            CollectionId::Algorithms,
            p,
            PAGE,
            algorithm,
        ),
        "mm_getKnowledgeBase" => {
            let id = p.hash(0, "knowledge base id")?;
            let kb = state.load::<KnowledgeBase>(&id).map_err(read)?;
            Ok(kb.map_or(Value::Null, |kb| knowledge_base(&id, &kb)))
        }
        "mm_listKnowledgeBases" => crate::methods::list_records::<KnowledgeBase>(
            &state,
            CollectionId::KnowledgeBases,
            p,
            PAGE,
            knowledge_base,
        ),
        "mm_getRoles" => {
            let account = p.address(0, "account")?;
            let r = state
                .load::<Roles>(&account)
                .map_err(read)?
                .unwrap_or_default();
            Ok(roles(&account, &r))
        }
        other => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method {other} does not exist"),
        )),
    }
}
