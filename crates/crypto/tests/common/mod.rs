//! Shared helpers of the crypto crate's conformance tests.

use std::path::PathBuf;

/// `../shared/vectors` beside the repository, or `$METAMESH_VECTORS`.
pub fn vectors_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("METAMESH_VECTORS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub fn load_json(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("conformance vectors missing at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn unhex(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

pub fn hex32(v: &serde_json::Value) -> [u8; 32] {
    unhex(v).try_into().expect("32 bytes")
}
