//! # metamesh-testkit
//!
//! Helpers that the workspace's tests share (a dev-dependency only): finding and reading the
//! conformance vectors in `../shared/vectors`.

use std::path::PathBuf;

/// The conformance vectors: `$METAMESH_VECTORS`, or `shared/vectors` beside the repository.
pub fn vectors_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("METAMESH_VECTORS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

/// Reads a vector file (a path relative to the vectors directory), failing the test with the
/// path when it is missing: conformance tests never pass by skipping.
pub fn vector_text(relative: &str) -> String {
    let path = vectors_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("conformance vectors missing at {}: {e}", path.display()))
}

/// [`vector_text`] parsed as JSON.
pub fn vector_json(relative: &str) -> serde_json::Value {
    serde_json::from_str(&vector_text(relative))
        .unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}
