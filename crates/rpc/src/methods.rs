//! The JSON-RPC methods: parameter parsing, one call into the node, and the JSON answer.
//! Every parameter problem is an `invalid params` error naming it; nothing here panics on input.

use metamesh_crypto::Address;
use metamesh_node::{Chain, NetControl, NodeService};
use metamesh_primitives::{Block, Hash, Header};
use metamesh_state::{Receipt, StateKey};
use serde_json::{Value, json};

use crate::{RpcError, json as j};

type Result<T> = std::result::Result<T, RpcError>;

/// Positional parameters.
pub(crate) struct Params<'a>(pub(crate) &'a [Value]);

impl<'a> Params<'a> {
    fn get(&self, i: usize) -> Option<&'a Value> {
        self.0.get(i).filter(|v| !v.is_null())
    }

    pub(crate) fn need(&self, i: usize, name: &str) -> Result<&'a Value> {
        self.get(i)
            .ok_or_else(|| RpcError::params(format!("missing parameter {} ({name})", i + 1)))
    }

    pub(crate) fn str(&self, i: usize, name: &str) -> Result<&'a str> {
        self.need(i, name)?
            .as_str()
            .ok_or_else(|| RpcError::params(format!("{name} must be a string")))
    }

    pub(crate) fn bytes(&self, i: usize, name: &str) -> Result<Vec<u8>> {
        let s = self.str(i, name)?;
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| RpcError::params(format!("{name} must be 0x-prefixed hex")))?;
        hex::decode(digits).map_err(|_| RpcError::params(format!("{name} is not hex")))
    }

    pub(crate) fn hash(&self, i: usize, name: &str) -> Result<Hash> {
        self.bytes(i, name)?
            .try_into()
            .map_err(|_| RpcError::params(format!("{name} must be 32 bytes")))
    }

    pub(crate) fn address(&self, i: usize, name: &str) -> Result<Address> {
        self.str(i, name)?
            .parse()
            .map_err(|e: metamesh_crypto::CryptoError| RpcError::params(format!("{name}: {e}")))
    }

    pub(crate) fn u64(&self, i: usize, name: &str) -> Result<u64> {
        self.need(i, name)?
            .as_u64()
            .ok_or_else(|| RpcError::params(format!("{name} must be a non-negative integer")))
    }

    fn bool_or(&self, i: usize, name: &str, default: bool) -> Result<bool> {
        match self.get(i) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| RpcError::params(format!("{name} must be true or false"))),
        }
    }
}

/// A block named by number, `"latest"`/`"earliest"`, or absent (latest).
fn block_header(chain: &Chain, v: Option<&Value>) -> Result<Option<(Header, Hash)>> {
    let number = match v {
        None => None,
        Some(Value::String(s)) if s == "latest" => None,
        Some(Value::String(s)) if s == "earliest" => Some(0),
        Some(Value::String(s)) => Some(
            match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            }
            .map_err(|_| {
                RpcError::params(format!(
                    "block `{s}` is not a number, \"latest\" or \"earliest\""
                ))
            })?,
        ),
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| RpcError::params("block number must be a non-negative integer"))?,
        ),
        Some(_) => {
            return Err(RpcError::params(
                "block must be a number, \"latest\" or \"earliest\"",
            ));
        }
    };
    let suite = chain.suite();
    match number {
        None => {
            let h = chain.head().clone();
            let hash = h.hash(suite);
            Ok(Some((h, hash)))
        }
        Some(n) => {
            let Some(hash) = chain.db().canonical_hash(n).map_err(RpcError::internal)? else {
                return Ok(None);
            };
            Ok(chain.header(&hash).map(|h| (h, hash)))
        }
    }
}

fn block_json(chain: &Chain, header: &Header, hash: &Hash, full: bool) -> Result<Value> {
    let suite = chain.suite();
    let mut out = j::header(header, suite);
    let body = chain
        .db()
        .body(hash)
        .map_err(RpcError::internal)?
        .unwrap_or_else(|| vec![0xc0]);
    let txs = Block::decode_body(&body, suite).map_err(RpcError::internal)?;
    out["transactions"] = if full {
        txs.iter()
            .enumerate()
            .map(|(i, t)| j::transaction(t, suite, Some((*hash, header.number, i as u32))))
            .collect()
    } else {
        txs.iter()
            .map(|t| json!(j::hex0x(&t.hash(suite))))
            .collect()
    };
    Ok(out)
}

/// A canonical transaction with where it is and its receipt.
struct Located {
    block: Hash,
    number: u64,
    index: u32,
    tx: metamesh_primitives::SignedTransaction,
    receipt: Option<Receipt>,
}

/// Where a canonical transaction is, with the transaction and its receipt.
fn locate(chain: &Chain, tx_hash: &Hash) -> Result<Option<Located>> {
    let db = chain.db();
    let Some((block, index)) = db.tx_location(tx_hash).map_err(RpcError::internal)? else {
        return Ok(None);
    };
    let header = chain
        .header(&block)
        .ok_or_else(|| RpcError::internal("indexed block missing"))?;
    let body = db
        .body(&block)
        .map_err(RpcError::internal)?
        .unwrap_or_default();
    let txs = Block::decode_body(&body, chain.suite()).map_err(RpcError::internal)?;
    let tx = txs
        .get(index as usize)
        .cloned()
        .ok_or_else(|| RpcError::internal("index out of range"))?;
    let receipts = db
        .receipts(&block)
        .map_err(RpcError::internal)?
        .unwrap_or_default();
    let receipt = Receipt::decode_list(&receipts)
        .ok()
        .and_then(|r| r.get(index as usize).cloned());
    Ok(Some(Located {
        block,
        number: header.number,
        index,
        tx,
        receipt,
    }))
}

fn state_key(p: &Params, i: usize) -> Result<StateKey> {
    let bytes = p.bytes(i, "key")?;
    StateKey::from_bytes(&bytes).map_err(RpcError::params)
}

/// Is this method one that changes what the node does (loopback or token only)?
pub fn is_admin(method: &str) -> bool {
    matches!(
        method,
        "clique_propose" | "clique_discard" | "data_unpin" | "data_gc" | "data_stat"
    ) || method.starts_with("admin_")
}

/// A refused submission as a JSON-RPC error.
fn submit_error(e: metamesh_node::SubmitError) -> RpcError {
    match e {
        metamesh_node::SubmitError::Refused(r) => RpcError::refused(&r),
        other => RpcError::rejected(other),
    }
}

/// Runs one method.
pub fn dispatch(node: &NodeService, method: &str, params: &Value) -> Result<Value> {
    let list: Vec<Value> = match params {
        Value::Null => vec![],
        Value::Array(a) => a.clone(),
        _ => return Err(RpcError::params("params must be an array")),
    };
    let p = Params(&list);
    match method {
        "mm_sendRawTransaction" => {
            let raw = p.bytes(0, "transaction")?;
            let hash = node.submit(&raw).map_err(submit_error)?;
            Ok(json!(j::hex0x(&hash)))
        }
        "mm_estimateGas" => {
            let raw = p.bytes(0, "transaction")?;
            let suite = node.suite();
            let tx = metamesh_primitives::SignedTransaction::decode(&raw, suite)
                .map_err(|e| RpcError::params(format!("transaction: {e}")))?;
            let from = tx
                .sender()
                .map_err(|e| RpcError::params(format!("transaction: {e}")))?;
            // On the tip, off the chain's lock: a dry run may take a block's worth of gas.
            let verdict = node
                .tip()
                .estimate_gas(&tx.tx, from)
                .map_err(RpcError::internal)?;
            match verdict {
                metamesh_state::Verdict::Applies { gas_used } => Ok(json!(gas_used)),
                metamesh_state::Verdict::Fails { rejection, .. }
                | metamesh_state::Verdict::Invalid(rejection) => Err(RpcError::refused(&rejection)),
            }
        }
        "clique_propose" => {
            let address = p.address(0, "address")?;
            let auth = p
                .need(1, "authorize")?
                .as_bool()
                .ok_or_else(|| RpcError::params("authorize must be true or false"))?;
            node.propose(address, auth);
            Ok(json!(true))
        }
        "clique_discard" => Ok(json!(node.discard(&p.address(0, "address")?))),
        "clique_proposals" => {
            let map: serde_json::Map<String, Value> = node
                .proposals()
                .into_iter()
                .map(|(a, auth)| (a.to_string(), json!(auth)))
                .collect();
            Ok(Value::Object(map))
        }
        "mm_getTransactionByHash" => {
            let hash = p.hash(0, "transaction hash")?;
            if let Some(tx) = node.pending_transaction(&hash) {
                let suite = node.with_chain(|c| c.suite());
                return Ok(j::transaction(&tx, suite, None));
            }
            node.with_chain(|chain| {
                Ok(match locate(chain, &hash)? {
                    Some(l) => {
                        j::transaction(&l.tx, chain.suite(), Some((l.block, l.number, l.index)))
                    }
                    None => Value::Null,
                })
            })
        }
        "net_peerCount" | "mm_syncing" | "admin_peers" | "admin_nodeInfo" | "admin_blockPeer"
        | "admin_unblockPeer" => network_method(node, method, &p),
        m if crate::storage_methods::is_storage(m) => crate::storage_methods::dispatch(node, m, &p),
        m if crate::compute_methods::is_compute(m) => {
            node.with_chain(|chain| crate::compute_methods::dispatch(chain, m, &p))
        }
        m if crate::knowledge_json::is_knowledge(m) => {
            node.with_chain(|chain| crate::knowledge_json::dispatch(chain, m, &p))
        }
        m if crate::zk_methods::is_zk(m) => {
            node.with_chain(|chain| crate::zk_methods::dispatch(chain, m, &p))
        }
        // Scans many blocks: on a view of the chain, not under its lock.
        "mm_getEvents" => crate::events::get_events(&node.chain_view(), p.0),
        _ => node.with_chain(|chain| chain_method(chain, method, &p)),
    }
}

/// The peer-to-peer side: what the network task last reported, and operator controls.
fn network_method(node: &NodeService, method: &str, p: &Params) -> Result<Value> {
    let view = node.net_view().unwrap_or_default();
    match method {
        "net_peerCount" => Ok(json!(view.peers.len())),
        "mm_syncing" => {
            if !node.is_syncing() {
                return Ok(json!(false));
            }
            let status = node.status();
            let best = view
                .peers
                .iter()
                .filter_map(|p| p.status)
                .max_by_key(|s| s.total_difficulty);
            Ok(json!({
                "currentBlock": status.head_number,
                "highestBlock": best.map_or(status.head_number, |s| s.head_number.max(status.head_number)),
            }))
        }
        "admin_nodeInfo" => Ok(json!({
            "peerId": view.peer_id,
            "listening": view.listening,
        })),
        "admin_peers" => Ok(json!({
            "peers": view.peers.iter().map(|peer| json!({
                "id": peer.id,
                "score": peer.score,
                "head": peer.status.map(|s| s.head_number),
                "headHash": peer.status.map(|s| j::hex0x(&s.head_hash)),
                "totalDifficulty": peer.status.map(|s| s.total_difficulty.to_string()),
            })).collect::<Vec<_>>(),
            "banned": view.banned.iter().map(|(id, ms)| json!({"id": id, "remainingMs": ms})).collect::<Vec<_>>(),
        })),
        "admin_blockPeer" | "admin_unblockPeer" => {
            let peer = p.str(0, "peer id")?;
            if peer.parse::<metamesh_net::PeerId>().is_err() {
                return Err(RpcError::params(format!("{peer:?} is not a peer id")));
            }
            let request = if method == "admin_blockPeer" {
                let seconds = match p.get(1) {
                    None => 3600,
                    Some(v) => v
                        .as_u64()
                        .ok_or_else(|| RpcError::params("seconds must be a whole number"))?,
                };
                NetControl::Block {
                    peer: peer.to_owned(),
                    seconds,
                }
            } else {
                NetControl::Unblock {
                    peer: peer.to_owned(),
                }
            };
            node.control_network(request).map_err(RpcError::rejected)?;
            Ok(json!(true))
        }
        _ => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method `{method}` does not exist"),
        )),
    }
}

fn chain_method(chain: &mut Chain, method: &str, p: &Params) -> Result<Value> {
    let suite = chain.suite();
    match method {
        "mm_chainId" => Ok(json!(chain.genesis().chain_id)),
        "mm_getParams" => {
            let (header, _) = block_header(chain, p.get(0))?
                .ok_or_else(|| RpcError::rejected("no such block"))?;
            let state = metamesh_state::State::open(suite, &**chain.db(), header.state_root);
            let params: metamesh_state::Params = state
                .load(&())
                .map_err(RpcError::rejected)?
                .ok_or_else(|| RpcError::internal("the parameters record is missing"))?;
            let mut out = params.to_json();
            let pending: Option<metamesh_state::Pending> =
                state.load(&()).map_err(RpcError::rejected)?;
            out["pending"] = match pending {
                Some(p) => json!({
                    "block": p.block,
                    "changes": metamesh_state::domains::params::changed_names(&params, &p.params),
                    "params": p.params.to_json(),
                }),
                None => Value::Null,
            };
            out["blockNumber"] = json!(header.number);
            Ok(out)
        }
        "mm_blockNumber" => Ok(json!(chain.head().number)),
        "mm_getBlockByNumber" => match block_header(chain, p.get(0))? {
            Some((h, hash)) => block_json(chain, &h, &hash, p.bool_or(1, "full", false)?),
            None => Ok(Value::Null),
        },
        "mm_getBlockByHash" => {
            let hash = p.hash(0, "block hash")?;
            match chain.header(&hash) {
                Some(h) => block_json(chain, &h, &hash, p.bool_or(1, "full", false)?),
                None => Ok(Value::Null),
            }
        }
        "mm_getTransactionReceipt" => {
            let hash = p.hash(0, "transaction hash")?;
            Ok(match locate(chain, &hash)? {
                Some(Located {
                    block,
                    number,
                    index,
                    receipt: Some(r),
                    ..
                }) => j::receipt(&r, block, number, index),
                _ => Value::Null,
            })
        }
        "mm_getBalance" | "mm_getNonce" => {
            let address = p.address(0, "address")?;
            let (header, _) = block_header(chain, p.get(1))?
                .ok_or_else(|| RpcError::rejected("no such block"))?;
            let state = metamesh_state::State::open(suite, &**chain.db(), header.state_root);
            let account = state.account(&address).map_err(RpcError::rejected)?;
            Ok(if method == "mm_getBalance" {
                j::amount(account.balance)
            } else {
                json!(account.nonce)
            })
        }
        "mm_getRecord" => {
            let key = state_key(p, 0)?;
            let (header, _) = block_header(chain, p.get(1))?
                .ok_or_else(|| RpcError::rejected("no such block"))?;
            let state = metamesh_state::State::open(suite, &**chain.db(), header.state_root);
            match state.get(&key).map_err(RpcError::rejected)? {
                Some(raw) => j::record(&key, &raw).map_err(RpcError::internal),
                None => Ok(Value::Null),
            }
        }
        "mm_getProof" => {
            let key = state_key(p, 0)?;
            let (header, hash) = block_header(chain, p.get(1))?
                .ok_or_else(|| RpcError::rejected("no such block"))?;
            let state = metamesh_state::State::open(suite, &**chain.db(), header.state_root);
            let value = state.get(&key).map_err(RpcError::rejected)?;
            let proof = state.prove(&key).map_err(|e| {
                RpcError::rejected(format!(
                    "state of block {} is pruned or unreadable: {e}",
                    header.number
                ))
            })?;
            Ok(json!({
                "key": j::hex0x(&key.to_bytes()),
                "trieKey": j::hex0x(&state.trie_key(&key)),
                "value": value.as_deref().map(j::hex0x),
                "proof": proof.iter().map(|n| j::hex0x(n)).collect::<Vec<_>>(),
                "stateRoot": j::hex0x(&header.state_root),
                "blockNumber": header.number,
                "blockHash": j::hex0x(&hash),
            }))
        }
        "mm_getEntryProof" => {
            let name = p.str(0, "collection")?;
            let collection = metamesh_state::CollectionId::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = metamesh_state::CollectionId::ALL
                        .iter()
                        .map(|c| c.name())
                        .collect();
                    RpcError::params(format!("no collection `{name}` ({})", names.join(", ")))
                })?;
            let entry = p.bytes(1, "entry key")?;
            let (header, hash) = block_header(chain, p.get(2))?
                .ok_or_else(|| RpcError::rejected("no such block"))?;
            let state = metamesh_state::State::open(suite, &**chain.db(), header.state_root);
            let pruned = |e: metamesh_state::StateError| {
                RpcError::rejected(format!(
                    "state of block {} is pruned or unreadable: {e}",
                    header.number
                ))
            };
            let root_key = StateKey::Collection(collection);
            let root = state.get(&root_key).map_err(pruned)?;
            Ok(json!({
                "collection": collection.name(),
                "key": j::hex0x(&entry),
                "value": state.entry(collection, &entry).map_err(pruned)?.as_deref().map(j::hex0x),
                "entryProof": state.prove_entry(collection, &entry).map_err(pruned)?.iter().map(|n| j::hex0x(n)).collect::<Vec<_>>(),
                "collectionRoot": root.as_deref().map(j::hex0x),
                "rootKey": j::hex0x(&root_key.to_bytes()),
                "rootTrieKey": j::hex0x(&state.trie_key(&root_key)),
                "rootProof": state.prove(&root_key).map_err(pruned)?.iter().map(|n| j::hex0x(n)).collect::<Vec<_>>(),
                "stateRoot": j::hex0x(&header.state_root),
                "blockNumber": header.number,
                "blockHash": j::hex0x(&hash),
            }))
        }
        "clique_getSigners" | "clique_getSnapshot" => {
            let (_, hash) = block_header(chain, p.get(0))?
                .ok_or_else(|| RpcError::rejected("no such block"))?;
            snapshot_answer(chain, &hash, method == "clique_getSnapshot")
        }
        "clique_getSignersAtHash" => {
            let hash = p.hash(0, "block hash")?;
            if chain.header(&hash).is_none() {
                return Err(RpcError::rejected("unknown block"));
            }
            snapshot_answer(chain, &hash, false)
        }
        "clique_status" => clique_status(chain),
        _ => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method `{method}` does not exist"),
        )),
    }
}

fn snapshot_answer(chain: &mut Chain, hash: &Hash, full: bool) -> Result<Value> {
    let snap = chain.snapshot(hash).map_err(RpcError::rejected)?;
    if full {
        serde_json::from_slice(&snap.to_json()).map_err(RpcError::internal)
    } else {
        Ok(json!(
            snap.signers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        ))
    }
}

/// Like geth's: who sealed the last 64 blocks and how often in turn.
fn clique_status(chain: &mut Chain) -> Result<Value> {
    let suite = chain.suite();
    let mut header = chain.head().clone();
    let head_hash = header.hash(suite);
    let snap = chain.snapshot(&head_hash).map_err(RpcError::rejected)?;
    let mut sealed: std::collections::BTreeMap<String, u64> =
        snap.signers.iter().map(|s| (s.to_string(), 0)).collect();
    let (mut blocks, mut in_turn) = (0u64, 0u64);
    while header.number > 0 && blocks < 64 {
        if let Ok(sealer) = metamesh_consensus::recover_signer(&header, suite) {
            *sealed.entry(sealer.to_string()).or_default() += 1;
        }
        in_turn += u64::from(header.difficulty == 2);
        blocks += 1;
        match chain.header(&header.parent_hash) {
            Some(parent) => header = parent,
            None => break,
        }
    }
    let percent = if blocks == 0 {
        0.0
    } else {
        in_turn as f64 * 100.0 / blocks as f64
    };
    Ok(json!({"inturnPercent": percent, "sealerActivity": sealed, "numBlocks": blocks}))
}

/// One page of a collection of records keyed by 32-byte ids (`mm_listCircuits`,
/// `mm_listAlgorithms`): at most `page` of them in id order, after the id `params[0]` names
/// (when it is a string), each shown by `show`.
pub(crate) fn list_records<R: metamesh_state::Record<Id = Hash>>(
    state: &metamesh_state::State<&metamesh_db::ChainDb>,
    collection: metamesh_state::CollectionId,
    p: &Params,
    page: usize,
    show: impl Fn(&Hash, &R) -> Value,
) -> Result<Value> {
    let start = match p.0.first() {
        Some(Value::String(_)) => {
            // The smallest key after the id itself.
            let mut k = p.hash(0, "after")?.to_vec();
            k.push(0);
            k
        }
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (key, _) in state
        .entries(collection, &start, page)
        .map_err(RpcError::internal)?
    {
        let Ok(id) = <Hash>::try_from(key.as_slice()) else {
            continue;
        };
        if let Some(r) = state.load::<R>(&id).map_err(RpcError::internal)? {
            out.push(show(&id, &r));
        }
    }
    Ok(json!(out))
}
