//! JSON-RPC 2.0 errors: the standard codes, and a message that names the problem.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// Structured detail (a rejection's code and name).
    pub data: Option<Value>,
}

impl RpcError {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    /// The request was understood but refused (a pool rejection, an unknown block state…).
    pub const REJECTED: i64 = -32000;
    pub const UNAUTHORIZED: i64 = -32001;
    /// A limit of the server was reached (a batch's answers too large).
    pub const LIMIT: i64 = -32005;

    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn params(message: impl Into<String>) -> Self {
        Self::new(
            Self::INVALID_PARAMS,
            format!("invalid params: {}", message.into()),
        )
    }

    pub fn rejected(message: impl ToString) -> Self {
        Self::new(Self::REJECTED, message.to_string())
    }

    pub fn internal(message: impl ToString) -> Self {
        Self::new(Self::INTERNAL, message.to_string())
    }

    /// A transaction the node refuses: the message rendered from its rejection code, and the
    /// code itself as data (`{"code": 103, "error": "stale-nonce"}`).
    pub fn refused(r: &metamesh_state::Rejection) -> Self {
        RpcError {
            code: Self::REJECTED,
            message: r.message(),
            data: Some(json!({"code": r.code as u16, "error": r.code.name()})),
        }
    }

    pub fn to_json(&self, id: &Value) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({"jsonrpc": "2.0", "id": id, "error": error})
    }
}
