//! JSON-RPC 2.0 over HTTP (POST, single or batch) and WebSocket (GET with upgrade) on one port,
//! beside the content routes, all behind one guard:
//!
//! * a `Host` that is a name must be in `vhosts` (IP literals always pass), so a page on a
//!   rebinding domain cannot reach a node on loopback;
//! * a request with an `Origin` must come from an allowed origin or the node's own;
//! * admin methods and content writes need the bearer token (compared in constant time), even
//!   on loopback unless the operator allows loopback (and then only for requests whose `Host`
//!   is a loopback address or `localhost`);
//! * a batch holds at most 1,000 calls, 25 MB of answers, one `mm_getEvents` and 16 each of
//!   `mm_estimateGas` and `mm_sendRawTransaction`.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, DefaultBodyLimit, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use metamesh_node::NodeService;
use serde_json::Value;
use subtle::ConstantTimeEq as _;

use crate::{RpcError, methods};

/// Settings of the RPC server.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// Admin methods and content writes answer to `Authorization: Bearer TOKEN`.
    pub admin_token: Option<String>,
    /// Loopback callers may use admin methods without the token (`--rpc-admin-loopback`).
    pub admin_loopback: bool,
    /// Host names requests may name (`--rpc-vhosts`); IP literals always pass, `*` passes all.
    pub vhosts: Vec<String>,
    /// Origins browsers may call from (`--rpc-cors`), besides the node's own; `*` for any.
    pub cors: Vec<String>,
    /// Calls in one batch.
    pub max_batch: usize,
    /// Bytes of answers to one batch.
    pub max_batch_bytes: usize,
    /// The knowledge graph `/sparql` serves (none: 404).
    pub knowledge: Option<crate::sparql::Knowledge>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            admin_token: None,
            admin_loopback: false,
            vhosts: vec!["localhost".into(), "127.0.0.1".into()],
            cors: Vec::new(),
            max_batch: 1_000,
            max_batch_bytes: 25_000_000,
            knowledge: None,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) node: Arc<NodeService>,
    pub(crate) config: Arc<RpcConfig>,
}

/// The HTTP + WebSocket router.
pub fn router(node: Arc<NodeService>, config: RpcConfig) -> Router {
    let shared = Shared {
        node,
        config: Arc::new(config),
    };
    Router::new()
        .route("/", get(websocket).post(http))
        .route("/content/car", axum::routing::post(car_in))
        .route("/content/car/{cid}", get(car_out))
        .route("/content/fetch/{cid}", axum::routing::post(fetch))
        .route("/sparql", get(crate::sparql::get).post(crate::sparql::post))
        .route("/optimade", get(crate::optimade::get))
        .route("/optimade/{*rest}", get(crate::optimade::get))
        // A 1.25 MiB proof is 2.5 MB of hex; content uploads stream past this limit.
        .layer(DefaultBodyLimit::max(8 << 20))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({"error": message}).to_string(),
    )
        .into_response()
}

/// The host part of a `Host` header or an origin's authority (port and brackets removed).
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Why a request may not be served, if it may not.
fn foreign(config: &RpcConfig, headers: &HeaderMap) -> Option<String> {
    let host = headers.get("host").and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        let name = host_of(host);
        let ip = name.parse::<std::net::IpAddr>().is_ok();
        let listed = config
            .vhosts
            .iter()
            .any(|v| v == "*" || v.eq_ignore_ascii_case(name));
        if !ip && !listed {
            return Some(format!(
                "host `{name}` is not one this node answers to (--rpc-vhosts)"
            ));
        }
    }
    if let Some(origin) = headers.get("origin") {
        let origin = origin.to_str().unwrap_or("");
        let authority = origin.split_once("://").map_or("", |(_, a)| a);
        let own = host.is_some_and(|h| h.eq_ignore_ascii_case(authority));
        let allowed = config.cors.iter().any(|c| c == "*" || c == origin);
        if !own && !allowed {
            return Some(format!(
                "requests from origin `{origin}` are refused (--rpc-cors)"
            ));
        }
    }
    None
}

async fn guard(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    match foreign(&shared.config, request.headers()) {
        Some(reason) => refuse(StatusCode::FORBIDDEN, reason),
        None => next.run(request).await,
    }
}

/// May this caller use admin methods? The loopback exemption also needs a `Host` that names
/// this machine (a loopback IP or `localhost`): a page on a rebinding domain reaches loopback
/// too, but its requests name the domain.
pub(crate) fn admin_allowed(shared: &Shared, peer: &SocketAddr, headers: &HeaderMap) -> bool {
    let local_host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(host_of)
        .is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    if shared.config.admin_loopback && peer.ip().is_loopback() && local_host {
        return true;
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&shared.config.admin_token, presented) {
        (Some(t), Some(p)) => bool::from(t.as_bytes().ct_eq(p.as_bytes())),
        _ => false,
    }
}

fn forbidden() -> Response {
    refuse(
        StatusCode::FORBIDDEN,
        "content writes need the admin token (Authorization: Bearer …)".into(),
    )
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

fn reply(id: Option<Value>, result: Result<Value, RpcError>) -> Value {
    let id = id.unwrap_or(Value::Null);
    match result {
        Ok(v) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": v}),
        Err(e) => e.to_json(&id),
    }
}

/// Answers one request object; `None` for a notification (no id).
pub(crate) fn answer(shared: &Shared, request: &Value, admin: bool) -> Option<Value> {
    let id = request.get("id").cloned();
    let Some(object) = request.as_object() else {
        return Some(reply(
            id,
            Err(RpcError::new(
                RpcError::INVALID_REQUEST,
                "a request is a JSON object",
            )),
        ));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(reply(
            id,
            Err(RpcError::new(
                RpcError::INVALID_REQUEST,
                "jsonrpc must be \"2.0\"",
            )),
        ));
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        return Some(reply(
            id,
            Err(RpcError::new(
                RpcError::INVALID_REQUEST,
                "method must be a string",
            )),
        ));
    };
    let result = if methods::is_admin(method) && !admin {
        Err(RpcError::new(
            RpcError::UNAUTHORIZED,
            format!("{method} needs the admin token (Authorization: Bearer …)"),
        ))
    } else {
        methods::dispatch(
            &shared.node,
            method,
            object.get("params").unwrap_or(&Value::Null),
        )
    };
    id.is_some()
        .then(|| reply(request.get("id").cloned(), result))
}

/// A whole HTTP body (or WebSocket message): a request or a batch.
pub(crate) fn answer_body(shared: &Shared, body: &[u8], admin: bool) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                RpcError::new(RpcError::PARSE, format!("parse error: {e}")).to_json(&Value::Null),
            );
        }
    };
    let config = &shared.config;
    match parsed {
        Value::Array(batch) if batch.is_empty() => {
            Some(RpcError::new(RpcError::INVALID_REQUEST, "empty batch").to_json(&Value::Null))
        }
        Value::Array(batch) if batch.len() > config.max_batch => Some(
            RpcError::new(
                RpcError::INVALID_REQUEST,
                format!(
                    "a batch of {} calls is over the {}-call limit",
                    batch.len(),
                    config.max_batch
                ),
            )
            .to_json(&Value::Null),
        ),
        Value::Array(batch) => {
            let mut answers = Vec::new();
            let mut bytes = 0usize;
            let mut heavy: HashMap<&str, usize> = HashMap::new();
            for request in &batch {
                // A call that may do a block's worth of work (an event scan over thousands of
                // blocks, a dry run up to the block gas limit) is capped per batch, or a batch
                // of a thousand would be a thousand times the work of one call.
                if let Some((method, cap)) = request
                    .get("method")
                    .and_then(Value::as_str)
                    .and_then(|m| per_batch(m).map(|cap| (m, cap)))
                {
                    let seen = heavy.entry(method).or_default();
                    *seen += 1;
                    if *seen > cap {
                        let e = RpcError::new(
                            RpcError::LIMIT,
                            format!(
                                "at most {cap} {method} per batch; send the others on their own"
                            ),
                        );
                        answers.push(e.to_json(request.get("id").unwrap_or(&Value::Null)));
                        continue;
                    }
                }
                if bytes > config.max_batch_bytes {
                    let e = RpcError::new(
                        RpcError::LIMIT,
                        format!(
                            "the batch's answers passed {} bytes; send the rest again",
                            config.max_batch_bytes
                        ),
                    );
                    answers.push(e.to_json(request.get("id").unwrap_or(&Value::Null)));
                    continue;
                }
                if let Some(a) = answer(shared, request, admin) {
                    bytes += a.to_string().len();
                    answers.push(a);
                }
            }
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        single => answer(shared, &single, admin),
    }
}

/// How many calls of `method` one batch may hold, for the methods that can cost a block's work.
fn per_batch(method: &str) -> Option<usize> {
    match method {
        "mm_getEvents" => Some(1),
        "mm_estimateGas" | "mm_sendRawTransaction" => Some(16),
        _ => None,
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
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
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
    upgrade
        .max_message_size(8 << 20)
        .on_upgrade(move |socket| crate::ws::session(shared, socket, admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts_and_origins() {
        let c = RpcConfig::default();
        assert_eq!(foreign(&c, &headers(&[("host", "127.0.0.1:8545")])), None);
        assert_eq!(foreign(&c, &headers(&[("host", "localhost:8545")])), None);
        assert_eq!(foreign(&c, &headers(&[("host", "[::1]:8545")])), None);
        assert_eq!(foreign(&c, &headers(&[("host", "10.1.2.3")])), None);
        assert!(foreign(&c, &headers(&[("host", "rebind.example:8545")])).is_some());
        assert_eq!(
            foreign(
                &c,
                &headers(&[
                    ("host", "127.0.0.1:8545"),
                    ("origin", "http://127.0.0.1:8545")
                ])
            ),
            None,
            "the node's own pages"
        );
        assert!(
            foreign(
                &c,
                &headers(&[
                    ("host", "127.0.0.1:8545"),
                    ("origin", "https://evil.example")
                ])
            )
            .is_some()
        );
        assert!(
            foreign(
                &c,
                &headers(&[("host", "127.0.0.1:8545"), ("origin", "null")])
            )
            .is_some()
        );
        let open = RpcConfig {
            vhosts: vec!["*".into()],
            cors: vec!["https://lab.example".into()],
            ..RpcConfig::default()
        };
        assert_eq!(
            foreign(&open, &headers(&[("host", "node.lab.example")])),
            None
        );
        assert_eq!(
            foreign(
                &open,
                &headers(&[("host", "x"), ("origin", "https://lab.example")])
            ),
            None
        );
    }
}
