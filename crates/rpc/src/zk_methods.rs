//! `mm_getCircuit`, `mm_listCircuits`, `mm_getStatement`: registered circuits and proven
//! statements at the head.

use metamesh_node::Chain;
use metamesh_state::{Circuit, CollectionId, Statement, statement_id};
use serde_json::Value;

use crate::{RpcError, methods::Params, zk_json as zj};

type Result<T> = std::result::Result<T, RpcError>;

pub fn is_zk(method: &str) -> bool {
    matches!(
        method,
        "mm_getCircuit" | "mm_listCircuits" | "mm_getStatement"
    )
}

/// Circuits one `mm_listCircuits` call returns.
const PAGE: usize = 1_000;

pub fn dispatch(chain: &mut Chain, method: &str, p: &Params) -> Result<Value> {
    let state = chain.state();
    let read = |e: metamesh_state::StateError| RpcError::internal(e);
    match method {
        "mm_getCircuit" => {
            let id = p.hash(0, "circuit id")?;
            let c = state.load::<Circuit>(&id).map_err(read)?;
            Ok(c.map_or(Value::Null, |c| zj::circuit(&id, &c)))
        }
        "mm_listCircuits" => crate::methods::list_records::<Circuit>(
            &state,
            CollectionId::Circuits,
            p,
            PAGE,
            zj::circuit,
        ),
        "mm_getStatement" => {
            // [circuit, [input, …]] with inputs as 0x-hex 32-byte big-endian integers.
            let circuit = p.hash(0, "circuit id")?;
            let Some(Value::Array(items)) = p.0.get(1) else {
                return Err(RpcError::params(
                    "params[1] (inputs) must be an array of 0x-hex 32-byte integers",
                ));
            };
            let mut inputs = Vec::new();
            for (i, v) in items.iter().enumerate() {
                let bad =
                    || RpcError::params(format!("params[1][{i}] must be a 0x-hex 32-byte integer"));
                let s = v
                    .as_str()
                    .and_then(|s| s.strip_prefix("0x"))
                    .ok_or_else(bad)?;
                let b = hex::decode(s).map_err(|_| bad())?;
                inputs.push(<[u8; 32]>::try_from(b.as_slice()).map_err(|_| bad())?);
            }
            let id = statement_id(state.suite(), &circuit, &inputs);
            let s = state.load::<Statement>(&id).map_err(read)?;
            Ok(s.map_or(Value::Null, |s| zj::statement(&id, &s)))
        }
        other => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!("method {other} does not exist"),
        )),
    }
}
