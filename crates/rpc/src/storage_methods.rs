//! `data_*` (the node's content store) and `storage_*` (the storage market's state) methods.

use metamesh_node::{Chain, NodeService};
use metamesh_state::{CollectionId, Deal, KeyGrants, StorageNode, grants_id};
use metamesh_storage::parse_cid;
use serde_json::{Value, json};

use crate::{RpcError, json as j, methods::Params};

type Result<T> = std::result::Result<T, RpcError>;

pub fn is_storage(method: &str) -> bool {
    method.starts_with("data_") || method.starts_with("storage_")
}

pub fn dispatch(node: &NodeService, method: &str, p: &Params) -> Result<Value> {
    if method.starts_with("storage_") || method == "data_grants" {
        return node.with_chain(|chain| market(chain, method, p));
    }
    let content = node
        .content()
        .ok_or_else(|| RpcError::rejected("this node keeps no content store"))?;
    let store = content.store();
    let rejected = |e: metamesh_storage::StorageError| RpcError::rejected(e);
    match method {
        "data_ls" => Ok(json!(
            store
                .pins()
                .map_err(rejected)?
                .into_iter()
                .map(|(cid, info)| json!({"cid": cid.to_string(), "name": info.name, "size": info.size,
                    "profile": info.profile, "encrypted": info.encrypted}))
                .collect::<Vec<_>>()
        )),
        "data_unpin" => {
            let cid = parse_cid(p.str(0, "cid")?).map_err(|e| RpcError::params(e.to_string()))?;
            Ok(json!(store.unpin(&cid).map_err(rejected)?))
        }
        "data_gc" => Ok(json!(store.gc().map_err(rejected)?)),
        "data_stat" => Ok(json!(store.stats().map_err(rejected)?)),
        "data_block" => {
            let cid = parse_cid(p.str(0, "cid")?).map_err(|e| RpcError::params(e.to_string()))?;
            match metamesh_storage::BlockSource::block(store, &cid).map_err(rejected)? {
                Some(bytes) => Ok(json!(j::hex0x(&bytes))),
                None => Ok(Value::Null),
            }
        }
        "data_has" => {
            let cid = parse_cid(p.str(0, "cid")?).map_err(|e| RpcError::params(e.to_string()))?;
            let missing = store.missing(&cid).map_err(rejected)?;
            let size = match metamesh_storage::node(store, &cid) {
                Ok(metamesh_storage::Node::Raw(b)) => Some(b.len() as u64),
                Ok(metamesh_storage::Node::Pb { data, .. }) => data.filesize,
                Err(_) => None,
            };
            Ok(json!({"complete": missing.is_empty(), "missing": missing.len(), "size": size,
                "pinned": store.pin_info(&cid).map_err(rejected)?.is_some()}))
        }
        other => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method {other} does not exist"),
        )),
    }
}

/// Entries a listing walks in one call.
const PAGE: usize = 1_000;

/// Up to [`PAGE`] keys of a collection after `after` (exclusive).
fn walk(
    state: &metamesh_state::State<&metamesh_db::ChainDb>,
    c: CollectionId,
    after: Option<Vec<u8>>,
) -> Result<Vec<Vec<u8>>> {
    let start = after.map_or_else(Vec::new, |mut k| {
        k.push(0);
        k
    });
    Ok(state
        .entries(c, &start, PAGE)
        .map_err(RpcError::internal)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

fn market(chain: &mut Chain, method: &str, p: &Params) -> Result<Value> {
    let state = chain.state();
    let read = |e: metamesh_state::StateError| RpcError::internal(e);
    match method {
        "data_grants" => {
            let cid = parse_cid(p.str(0, "cid")?).map_err(|e| RpcError::params(e.to_string()))?;
            let key = p.bytes(1, "recipient public key")?;
            let recipient = metamesh_crypto::PublicKey::from_sec1(chain.suite(), &key)
                .map_err(|_| {
                    RpcError::params("recipient public key: not a key of the chain's suite")
                })?
                .address();
            let grants: KeyGrants = state
                .load(&grants_id(chain.suite(), &cid.to_bytes(), &recipient))
                .map_err(read)?
                .unwrap_or_default();
            Ok(json!(grants.0.iter().map(|g| json!({
                "granter": g.granter.to_string(), "block": g.block, "wrapped": j::hex0x(&g.wrapped),
            })).collect::<Vec<_>>()))
        }
        "storage_provider" => {
            let address = p.address(0, "address")?;
            let node: Option<StorageNode> = state.load(&address).map_err(read)?;
            Ok(node.map_or(Value::Null, |n| j::provider(&address, &n)))
        }
        "storage_providers" => {
            let after = match p.0.first() {
                Some(Value::String(_)) => Some(p.address(0, "after")?.0.to_vec()),
                _ => None,
            };
            let mut out = Vec::new();
            for key in walk(&state, CollectionId::StorageNodes, after)? {
                let Ok(a) = <[u8; 20]>::try_from(key.as_slice()) else {
                    continue;
                };
                let address = metamesh_crypto::Address(a);
                if let Some(n) = state.load::<StorageNode>(&address).map_err(read)? {
                    out.push(j::provider(&address, &n));
                }
            }
            Ok(json!(out))
        }
        "storage_deal" => {
            let id = p.hash(0, "deal id")?;
            let deal: Option<Deal> = state.load(&id).map_err(read)?;
            Ok(deal.map_or(Value::Null, |d| j::deal(&id, &d)))
        }
        "storage_deals" => {
            let who = match p.0.first() {
                Some(Value::String(_)) => Some(p.address(0, "address")?),
                _ => None,
            };
            let after = match p.0.get(1) {
                Some(Value::String(_)) => Some(p.hash(1, "after")?.to_vec()),
                _ => None,
            };
            let mut out = Vec::new();
            for key in walk(&state, CollectionId::RunningDeals, after)? {
                let Ok(id) = <[u8; 32]>::try_from(key.as_slice()) else {
                    continue;
                };
                let Some(d) = state.load::<Deal>(&id).map_err(read)? else {
                    continue;
                };
                let involved =
                    who.is_none_or(|w| d.owner == w || d.holders.iter().any(|h| h.provider == w));
                if involved {
                    out.push(j::deal(&id, &d));
                }
            }
            Ok(json!(out))
        }
        other => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method {other} does not exist"),
        )),
    }
}
