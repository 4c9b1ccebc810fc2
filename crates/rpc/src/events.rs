//! `mm_getEvents`: every event of the canonical chain over a block range, in order, a page at a
//! time.
//!
//! ```text
//! mm_getEvents [{fromBlock?, toBlock?, kinds?: [name…], address?, cursor?, limit?}]
//!   → {events: [{blockNumber, blockHash, transactionHash, transactionIndex, logIndex, event,
//!                cursor}], cursor: "N-HASH-I" to continue, or null when the range is done}
//! ```
//! A page holds at most `limit` (default 1,000, at most 10,000) events and scans at most
//! 10,000 blocks, so no call holds the node for long (and a batch holds one such call); the
//! returned cursor continues exactly after the page's last event (or scanned block).

use metamesh_node::{ChainView, Cursor, block_events};
use metamesh_state::Event;
use serde_json::{Value, json};

use crate::{RpcError, json as j};

const DEFAULT_LIMIT: usize = 1_000;
const MAX_LIMIT: usize = 10_000;
const MAX_BLOCKS: u64 = 10_000;

type Result<T> = std::result::Result<T, RpcError>;

struct Query {
    from: u64,
    to: u64,
    filter: EventFilter,
    cursor: Option<Cursor>,
    limit: usize,
}

/// What a reader asked for: event kinds (any of), an account the event names. Shared by
/// `mm_getEvents` and the `events` subscription.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    kinds: Option<Vec<String>>,
    address: Option<metamesh_crypto::Address>,
}

impl EventFilter {
    pub fn parse(o: &serde_json::Map<String, Value>) -> Result<Self> {
        let kinds = match o.get("kinds") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => Some(
                list.iter()
                    .map(|k| match k.as_str() {
                        Some(k) if Event::kinds().any(|known| known == k) => Ok(k.to_owned()),
                        _ => Err(RpcError::params(format!(
                            "kinds: {k} is not an event kind ({})",
                            Event::kinds().collect::<Vec<_>>().join(", ")
                        ))),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(_) => return Err(RpcError::params("kinds must be a list of event kinds")),
        };
        let address = match o.get("address") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(s.parse().map_err(|e: metamesh_crypto::CryptoError| {
                    RpcError::params(format!("address: {e}"))
                })?)
            }
            Some(_) => return Err(RpcError::params("address must be a string")),
        };
        Ok(EventFilter { kinds, address })
    }

    pub fn wants(&self, e: &Event) -> bool {
        self.kinds
            .as_ref()
            .is_none_or(|k| k.iter().any(|k| k == e.kind()))
            && self.address.is_none_or(|a| e.addresses().contains(&a))
    }
}

/// Refuses a field outside `known`, naming them.
pub fn reject_unknown(o: &serde_json::Map<String, Value>, known: &[&str]) -> Result<()> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(RpcError::params(format!(
            "unknown filter field `{key}` ({})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn block_number(head: u64, v: Option<&Value>, default: u64, name: &str) -> Result<u64> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) if s == "latest" => Ok(head),
        Some(Value::String(s)) if s == "earliest" => Ok(0),
        Some(Value::String(s)) => match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        }
        .ok_or_else(|| RpcError::params(format!("{name} `{s}` is not a block number"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| RpcError::params(format!("{name} must be a non-negative integer"))),
        Some(_) => Err(RpcError::params(format!(
            "{name} must be a number, \"latest\" or \"earliest\""
        ))),
    }
}

fn query(view: &ChainView, params: &[Value]) -> Result<Query> {
    let empty = serde_json::Map::new();
    let o = match params.first() {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(RpcError::params("the filter must be an object")),
    };
    reject_unknown(
        o,
        &[
            "fromBlock",
            "toBlock",
            "kinds",
            "address",
            "cursor",
            "limit",
        ],
    )?;
    let head = view.head();
    let cursor = match o.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<Cursor>().map_err(RpcError::params)?),
        Some(_) => return Err(RpcError::params("cursor must be a string")),
    };
    let limit = match o.get("limit") {
        None | Some(Value::Null) => DEFAULT_LIMIT,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_LIMIT as u64).contains(n))
            .ok_or_else(|| RpcError::params(format!("limit must be 1..={MAX_LIMIT}")))?
            as usize,
    };
    Ok(Query {
        from: block_number(head, o.get("fromBlock"), 0, "fromBlock")?,
        to: block_number(head, o.get("toBlock"), head, "toBlock")?.min(head),
        filter: EventFilter::parse(o)?,
        cursor,
        limit,
    })
}

/// Runs on a view of the chain, outside its lock (the caller takes the view).
pub fn get_events(view: &ChainView, params: &[Value]) -> Result<Value> {
    let q = query(view, params)?;
    let db = view.db();
    let (start, skip) = match q.cursor {
        Some(c) => {
            if db.canonical_hash(c.number).map_err(RpcError::internal)? != Some(c.hash) {
                return Err(RpcError::rejected(format!(
                    "the cursor's block {} is no longer canonical (a reorg): follow the `events` subscription to see what was retracted, or start again from block {}",
                    c.number, c.number
                )));
            }
            (c.number, c.index)
        }
        None => (q.from, 0),
    };
    let mut events = Vec::new();
    let mut number = start;
    let mut next: Option<Cursor> = None;
    let mut parent: Option<metamesh_primitives::Hash> = None;
    while number <= q.to {
        if number >= start + MAX_BLOCKS {
            // Scanned enough for one call: continue from the start of this block.
            let hash = db
                .canonical_hash(number - 1)
                .map_err(RpcError::internal)?
                .unwrap_or_default();
            let count = block_events(db, &hash).map_err(RpcError::internal)?.len() as u32;
            next = Some(Cursor {
                number: number - 1,
                hash,
                index: count,
            });
            break;
        }
        let Some(hash) = db.canonical_hash(number).map_err(RpcError::internal)? else {
            break;
        };
        // Each read is its own database transaction: a reorg between two must not splice two
        // branches into one page.
        if let Some(p) = parent
            && view.header(&hash).is_none_or(|h| h.parent_hash != p)
        {
            return Err(RpcError::rejected(format!(
                "the chain reorganised at block {number} during the scan; ask again from the last cursor"
            )));
        }
        parent = Some(hash);
        let all = block_events(db, &hash).map_err(RpcError::internal)?;
        let from_index = if number == start { skip as usize } else { 0 };
        for e in all.iter().skip(from_index) {
            let cursor = Cursor {
                number,
                hash,
                index: e.log_index + 1,
            };
            if q.filter.wants(&e.event) {
                events.push(json!({
                    "blockNumber": number,
                    "blockHash": j::hex0x(&hash),
                    "transactionHash": e.tx.map(|(h, _)| j::hex0x(&h)),
                    "transactionIndex": e.tx.map(|(_, i)| i),
                    "logIndex": e.log_index,
                    "event": j::event(&e.event),
                    "cursor": cursor.to_string(),
                }));
            }
            if events.len() >= q.limit {
                next = Some(cursor);
                break;
            }
        }
        if next.is_some() {
            break;
        }
        number += 1;
    }
    // A page that ends exactly at the range's last event still says where to go on.
    if next.is_some_and(|c| c.number == q.to && c.index as usize >= block_len(db, &c)) {
        next = None;
    }
    Ok(json!({"events": events, "cursor": next.map(|c| c.to_string())}))
}

fn block_len(db: &metamesh_db::ChainDb, c: &Cursor) -> usize {
    block_events(db, &c.hash).map_or(0, |e| e.len())
}
