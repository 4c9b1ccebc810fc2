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

/// Regenerates the bytes of an input of `unixfs_cids.json` by its rule, in pieces of at most
/// 1 MiB, and returns `false` for rules that need Go (`go-math-rand-v1`). The caller checks the
/// input's sha256.
pub fn unixfs_input(input: &serde_json::Value, out: &mut dyn FnMut(&[u8])) -> bool {
    use chacha20::cipher::{KeyIvInit as _, StreamCipher as _};
    use sha2::Digest as _;
    let rule = &input["rule"];
    let size = input["size"].as_u64().expect("size") as usize;
    const PIECE: usize = 1 << 20;
    match rule["kind"].as_str().expect("kind") {
        "literal" => out(rule["text"].as_str().expect("text").as_bytes()),
        "pattern" => {
            let mut buf = Vec::with_capacity(PIECE);
            for i in 0..size {
                buf.push(((i * 31 + 7) % 251) as u8);
                if buf.len() == PIECE {
                    out(&buf);
                    buf.clear();
                }
            }
            out(&buf);
        }
        "zeros" => {
            let zeros = vec![0u8; PIECE];
            let mut left = size;
            while left > 0 {
                let n = left.min(PIECE);
                out(&zeros[..n]);
                left -= n;
            }
        }
        "chacha20" => {
            let key: [u8; 32] =
                sha2::Sha256::digest(rule["seed"].as_str().expect("seed").as_bytes()).into();
            let mut cipher = chacha20::ChaCha20::new(&key.into(), &[0u8; 12].into());
            let mut left = size;
            let mut buf = vec![0u8; PIECE];
            while left > 0 {
                let n = left.min(PIECE);
                buf[..n].fill(0);
                cipher.apply_keystream(&mut buf[..n]);
                out(&buf[..n]);
                left -= n;
            }
        }
        _ => return false,
    }
    true
}

/// `len` pseudo-random bytes from `seed` (xorshift64): test data that is cheap, repeatable and
/// does not compress.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
