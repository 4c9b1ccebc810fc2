//! # metamesh-rpc
//!
//! JSON-RPC 2.0 over HTTP and WebSocket on one port (axum): `mm_*` chain, state and proof
//! methods, `clique_*` signer methods, and `mm_subscribe(["newHeads"])` on WebSocket. It
//! translates JSON to calls on `NodeService` and back; it holds no rules of its own.
//!
//! ```text
//! POST /  {"jsonrpc":"2.0","id":1,"method":"mm_getBalance","params":["0x…"]}
//!   └─ server ─▶ methods::dispatch ─▶ NodeService / Chain ─▶ json ─▶ {"result": …}
//! GET /  (Upgrade: websocket) ─▶ the same, plus mm_subscription notifications
//! ```
//!
//! Malformed input gets the JSON-RPC error that names it (-32700 parse, -32600 request, -32601
//! method, -32602 params, -32000 refused by the node, -32001 admin only); the server keeps
//! serving. Admin methods (`clique_propose`, `clique_discard`) answer on loopback or with a token.

pub mod compute_json;
mod compute_methods;
mod content;
mod error;
mod events;
pub mod json;
mod knowledge_json;
mod methods;
mod optimade;
mod server;
pub mod sparql;
mod storage_methods;
mod ws;
mod zk_json;
mod zk_methods;

pub use error::RpcError;
pub use methods::{dispatch, is_admin};
pub use server::{RpcConfig, router, serve};
pub use sparql::Knowledge;
