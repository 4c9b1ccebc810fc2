//! JSON-RPC 2.0 over HTTP (POST, single or batch) and WebSocket (GET with upgrade) on one port.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, State, WebSocketUpgrade, ws::Message},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::get,
};
use metamesh_node::NodeService;
use serde_json::{Value, json};

use crate::{RpcError, json as j, methods};

/// Settings of the RPC server.
#[derive(Clone, Debug, Default)]
pub struct RpcConfig {
    /// Admin methods answer on loopback, or to a caller presenting this token
    /// (`Authorization: Bearer TOKEN`).
    pub admin_token: Option<String>,
}

#[derive(Clone)]
struct Shared {
    node: Arc<NodeService>,
    config: RpcConfig,
}

/// The HTTP + WebSocket router.
pub fn router(node: Arc<NodeService>, config: RpcConfig) -> Router {
    Router::new()
        .route("/", get(websocket).post(http))
        .route("/content/car", axum::routing::post(car_in))
        .route("/content/car/{cid}", get(car_out))
        .route("/content/fetch/{cid}", axum::routing::post(fetch))
        .with_state(Shared { node, config })
}

fn forbidden() -> Response {
    (
        axum::http::StatusCode::FORBIDDEN,
        "content writes answer only on loopback or with the admin token",
    )
        .into_response()
}

async fn car_in(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<crate::content::AddQuery>,
    body: axum::body::Body,
) -> Response {
    if !admin_allowed(&shared, &peer, &headers) {
        return forbidden();
    }
    crate::content::add_car(shared.node, query, body).await
}

async fn car_out(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    cid: axum::extract::Path<String>,
) -> Response {
    let admin = admin_allowed(&shared, &peer, &headers);
    crate::content::export_car(shared.node, crate::content::path_of(cid), admin).await
}

async fn fetch(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    cid: axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<crate::content::AddQuery>,
) -> Response {
    if !admin_allowed(&shared, &peer, &headers) {
        return forbidden();
    }
    crate::content::fetch(shared.node, crate::content::path_of(cid), query).await
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: Arc<NodeService>,
    config: RpcConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(node, config).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn admin_allowed(shared: &Shared, peer: &SocketAddr, headers: &HeaderMap) -> bool {
    if peer.ip().is_loopback() {
        return true;
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    matches!((&shared.config.admin_token, presented), (Some(t), Some(p)) if t == p)
}

/// Answers one request object; `None` for a notification (no id).
fn answer(shared: &Shared, request: &Value, admin: bool) -> Option<Value> {
    let id = request.get("id").cloned();
    let reply = |result: Result<Value, RpcError>| {
        let id = id.clone().unwrap_or(Value::Null);
        match result {
            Ok(v) => json!({"jsonrpc": "2.0", "id": id, "result": v}),
            Err(e) => e.to_json(&id),
        }
    };
    let Some(object) = request.as_object() else {
        return Some(reply(Err(RpcError::new(
            RpcError::INVALID_REQUEST,
            "a request is a JSON object",
        ))));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(reply(Err(RpcError::new(
            RpcError::INVALID_REQUEST,
            "jsonrpc must be \"2.0\"",
        ))));
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        return Some(reply(Err(RpcError::new(
            RpcError::INVALID_REQUEST,
            "method must be a string",
        ))));
    };
    let result = if methods::is_admin(method) && !admin {
        Err(RpcError::new(
            RpcError::UNAUTHORIZED,
            format!("{method} answers only on loopback or with the admin token"),
        ))
    } else {
        methods::dispatch(
            &shared.node,
            method,
            object.get("params").unwrap_or(&Value::Null),
        )
    };
    id.is_some().then(|| reply(result))
}

/// A whole HTTP body: a request or a batch.
fn answer_body(shared: &Shared, body: &[u8], admin: bool) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                RpcError::new(RpcError::PARSE, format!("parse error: {e}")).to_json(&Value::Null),
            );
        }
    };
    match parsed {
        Value::Array(batch) if batch.is_empty() => {
            Some(RpcError::new(RpcError::INVALID_REQUEST, "empty batch").to_json(&Value::Null))
        }
        Value::Array(batch) => {
            let answers: Vec<Value> = batch
                .iter()
                .filter_map(|r| answer(shared, r, admin))
                .collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        single => answer(shared, &single, admin),
    }
}

async fn http(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let admin = admin_allowed(&shared, &peer, &headers);
    let node = shared.clone();
    // Execution may take a moment (proofs, blocks): keep it off the async workers.
    let answer = tokio::task::spawn_blocking(move || answer_body(&node, &body, admin)).await;
    match answer {
        Ok(Some(v)) => ([("content-type", "application/json")], v.to_string()).into_response(),
        Ok(None) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Err(_) => RpcError::internal("request handler failed")
            .to_json(&Value::Null)
            .to_string()
            .into_response(),
    }
}

async fn websocket(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let admin = admin_allowed(&shared, &peer, &headers);
    upgrade.on_upgrade(move |socket| session(shared, socket, admin))
}

/// The events of a block's transactions, each with where it happened.
fn block_events(
    shared: &Shared,
    head: &metamesh_primitives::Header,
    suite: metamesh_crypto::Suite,
) -> Vec<Value> {
    let hash = head.hash(suite);
    let raw = shared
        .node
        .with_chain(|c| c.db().receipts(&hash).ok().flatten())
        .unwrap_or_default();
    let receipts = metamesh_state::Receipt::decode_list(&raw).unwrap_or_default();
    receipts
        .iter()
        .flat_map(|r| {
            r.events.iter().map(move |e| {
                json!({"blockNumber": head.number, "blockHash": j::hex0x(&hash),
                    "transactionHash": j::hex0x(&r.tx_hash), "event": j::event(e)})
            })
        })
        .collect()
}

/// One WebSocket session: requests as on HTTP, plus `mm_subscribe(["newHeads"])` and
/// `mm_subscribe(["events"])` (every event of every new block's transactions).
async fn session(shared: Shared, mut socket: axum::extract::ws::WebSocket, admin: bool) {
    let mut heads = shared.node.subscribe_heads();
    let mut subscribed_heads: Option<String> = None;
    let mut subscribed_events: Option<String> = None;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let Message::Text(text) = message else { continue };
                let request: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let reply = if request.get("method").and_then(Value::as_str) == Some("mm_subscribe") {
                    let id = request.get("id").cloned().unwrap_or(Value::Null);
                    match request.get("params").and_then(|p| p.get(0)).and_then(Value::as_str) {
                        Some(kind @ ("newHeads" | "events")) => {
                            let sub = format!("0x{}{:x}", if kind == "events" { "e" } else { "" }, shared.node.with_chain(|c| c.head().number) + 1);
                            let slot = if kind == "events" { &mut subscribed_events } else { &mut subscribed_heads };
                            *slot = Some(sub.clone());
                            Some(json!({"jsonrpc": "2.0", "id": id, "result": sub}))
                        }
                        other => Some(RpcError::params(format!("unknown subscription {other:?} (newHeads or events)")).to_json(&id)),
                    }
                } else {
                    let node = shared.clone();
                    let text = text.to_string();
                    tokio::task::spawn_blocking(move || answer_body(&node, text.as_bytes(), admin)).await.ok().flatten()
                };
                if let Some(reply) = reply
                    && socket.send(Message::Text(reply.to_string().into())).await.is_err()
                {
                    return;
                }
            }
            head = heads.recv() => {
                let Ok(head) = head else { continue };
                let suite = shared.node.with_chain(|c| c.suite());
                let mut notes = Vec::new();
                if let Some(sub) = &subscribed_heads {
                    notes.push(json!({"jsonrpc": "2.0", "method": "mm_subscription",
                        "params": {"subscription": sub, "result": j::header(&head, suite)}}));
                }
                if let Some(sub) = &subscribed_events {
                    for event in block_events(&shared, &head, suite) {
                        notes.push(json!({"jsonrpc": "2.0", "method": "mm_subscription",
                            "params": {"subscription": sub, "result": event}}));
                    }
                }
                for note in notes {
                    if socket.send(Message::Text(note.to_string().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
