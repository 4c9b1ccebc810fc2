//! JSON-RPC 2.0 errors: the standard codes, and a message that names the problem.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
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

    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
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

    pub fn to_json(&self, id: &Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": self.code, "message": self.message}})
    }
}
