//! One WebSocket session: requests as on HTTP, plus subscriptions.
//!
//! * `mm_subscribe(["newHeads"])` — each new canonical head.
//! * `mm_subscribe(["events", {cursor?, kinds?, address?}])` — every event of every canonical
//!   block in order, blocks of a sync batch included; on a reorg the retracted events come
//!   again with `removed: true` before the new ones; each carries the `cursor` to resume from
//!   after a reconnect (without one, the stream starts after the current head).
//! * `mm_unsubscribe([id])`.
//!
//! Events are read from the chain as the client takes them (the node's head announcements only
//! wake the session up), so nothing queues without bound and a slow client misses nothing; a
//! client that takes nothing for 30 seconds is disconnected.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use metamesh_node::{Cursor, Delivered, EventFollower};
use serde_json::{Value, json};

use crate::{
    RpcError,
    events::{EventFilter, reject_unknown},
    json as j,
    server::Shared,
};

const SEND_TIMEOUT: Duration = Duration::from_secs(30);
const BATCH: usize = 500;

struct EventsSub {
    id: String,
    /// `None` while a poll runs on the blocking pool.
    follower: Option<EventFollower>,
    filter: EventFilter,
}

/// The JSON of one delivered event.
pub fn delivered(d: &Delivered) -> Value {
    json!({
        "blockNumber": d.number,
        "blockHash": j::hex0x(&d.block_hash),
        "transactionHash": d.event.tx.map(|(h, _)| j::hex0x(&h)),
        "transactionIndex": d.event.tx.map(|(_, i)| i),
        "logIndex": d.event.log_index,
        "event": j::event(&d.event.event),
        "removed": d.removed,
        "cursor": d.cursor.to_string(),
    })
}

fn events_sub(shared: &Shared, id: String, options: Option<&Value>) -> Result<EventsSub, RpcError> {
    let empty = serde_json::Map::new();
    let o = match options {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(RpcError::params("the events options must be an object")),
    };
    reject_unknown(o, &["cursor", "kinds", "address"])?;
    let filter = EventFilter::parse(o)?;
    let follower = match o.get("cursor") {
        None | Some(Value::Null) => {
            EventFollower::from_head(&shared.node.chain_view()).map_err(RpcError::internal)?
        }
        Some(Value::String(s)) => {
            let cursor: Cursor = s.parse().map_err(RpcError::params)?;
            let header = shared.node.with_chain(|c| c.header(&cursor.hash));
            match header {
                Some(h) if h.number == cursor.number => {}
                Some(h) => {
                    return Err(RpcError::params(format!(
                        "the cursor names block {} but block 0x{} is number {}",
                        cursor.number,
                        hex::encode(cursor.hash),
                        h.number
                    )));
                }
                None => {
                    return Err(RpcError::rejected(format!(
                        "the cursor's block 0x{} is not stored on this node",
                        hex::encode(cursor.hash)
                    )));
                }
            }
            EventFollower::from_cursor(cursor)
        }
        Some(_) => return Err(RpcError::params("cursor must be a string")),
    };
    Ok(EventsSub {
        id,
        follower: Some(follower),
        filter,
    })
}

async fn send(socket: &mut WebSocket, v: Value) -> bool {
    matches!(
        tokio::time::timeout(
            SEND_TIMEOUT,
            socket.send(Message::Text(v.to_string().into()))
        )
        .await,
        Ok(Ok(()))
    )
}

fn note(sub: &str, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "mm_subscription",
        "params": {"subscription": sub, "result": result}})
}

pub(crate) async fn session(shared: Shared, mut socket: WebSocket, admin: bool) {
    let mut heads = shared.node.subscribe_heads();
    let mut heads_sub: Option<String> = None;
    let mut events: Option<EventsSub> = None;
    let mut next_id = 1u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let Message::Text(text) = message else { continue };
                let request: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let method = request.get("method").and_then(Value::as_str);
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                let params = request.get("params");
                let reply = match method {
                    Some("mm_subscribe") => {
                        let sub = format!("0x{next_id:x}");
                        next_id += 1;
                        match params.and_then(|p| p.get(0)).and_then(Value::as_str) {
                            Some("newHeads") => {
                                heads_sub = Some(sub.clone());
                                Some(json!({"jsonrpc": "2.0", "id": id, "result": sub}))
                            }
                            Some("events") => match events_sub(&shared, sub.clone(), params.and_then(|p| p.get(1))) {
                                Ok(s) => {
                                    events = Some(s);
                                    Some(json!({"jsonrpc": "2.0", "id": id, "result": sub}))
                                }
                                Err(e) => Some(e.to_json(&id)),
                            },
                            other => Some(RpcError::params(format!("unknown subscription {other:?} (newHeads or events)")).to_json(&id)),
                        }
                    }
                    Some("mm_unsubscribe") => {
                        let which = params.and_then(|p| p.get(0)).and_then(Value::as_str);
                        let mut found = false;
                        if which.is_some() && heads_sub.as_deref() == which {
                            heads_sub = None;
                            found = true;
                        }
                        if which.is_some() && events.as_ref().map(|e| e.id.as_str()) == which {
                            events = None;
                            found = true;
                        }
                        Some(json!({"jsonrpc": "2.0", "id": id, "result": found}))
                    }
                    _ => {
                        let node = shared.clone();
                        let text = text.to_string();
                        tokio::task::spawn_blocking(move || crate::server::answer_body(&node, text.as_bytes(), admin))
                            .await.ok().flatten()
                    }
                };
                if let Some(reply) = reply && !send(&mut socket, reply).await {
                    return;
                }
            }
            head = heads.recv() => {
                // A lagging receiver skips heads; events are read from the chain below.
                if let (Ok(head), Some(sub)) = (head, &heads_sub) {
                    let suite = shared.node.suite();
                    if !send(&mut socket, note(sub, j::header(&head, suite))).await {
                        return;
                    }
                }
            }
            _ = tick.tick() => {}
        }
        if let Some(sub) = events.as_mut()
            && !pump(&shared, &mut socket, sub).await
        {
            return;
        }
    }
}

/// Sends every event past the subscriber's cursor, a batch at a time. The reads run on the
/// blocking pool, on a view of the chain: no lock is held while the client is slow.
async fn pump(shared: &Shared, socket: &mut WebSocket, sub: &mut EventsSub) -> bool {
    loop {
        let Some(mut follower) = sub.follower.take() else {
            return false;
        };
        let view = shared.node.chain_view();
        let before = follower.cursor();
        let polled = tokio::task::spawn_blocking(move || {
            let batch = follower.poll(&view, BATCH);
            (follower, batch)
        })
        .await;
        let Ok((follower, batch)) = polled else {
            return false;
        };
        let caught_up = follower.caught_up();
        let moved = follower.cursor() != before;
        sub.follower = Some(follower);
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let error = RpcError::rejected(format!("the event stream cannot go on: {e}"));
                let _ = send(socket, note(&sub.id, json!({"error": error.message}))).await;
                return false;
            }
        };
        if batch.is_empty() && (caught_up || !moved) {
            return true;
        }
        for d in batch.iter().filter(|d| sub.filter.wants(&d.event.event)) {
            if !send(socket, note(&sub.id, delivered(d))).await {
                return false;
            }
        }
    }
}
