//! Proofs from `metamesh tools trie-proof` checked by an independent verifier written in Python
//! from docs/FORMATS.md alone (`tests/independent/mpt_verify.py`, hashing with Python's own SM3
//! and Keccak), for present and absent keys, plain and secure tries, both hashes; a changed
//! proof byte is refused there too.

mod common;

use std::{
    io::Write as _,
    process::{Command, Stdio},
};

use common::Scratch;

fn verifier() -> String {
    format!(
        "{}/../../tests/independent/mpt_verify.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs the Python verifier on proof documents: one line per document, a value, `absent`, or
/// `bad proof: …`.
fn python_verify(hash: &str, docs: &[serde_json::Value]) -> Vec<String> {
    let mut child = Command::new("python3")
        .args([&verifier(), hash])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let input = serde_json::Value::Array(docs.to_vec()).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.stderr.is_empty(),
        "verifier crashed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn python_verifies_our_proofs() {
    let s = Scratch::new();
    let mut seed = 0x1234_5678_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..6 {
        let n = [0, 1, 2, 7, 40, 120][round];
        let mut pairs = serde_json::Map::new();
        let mut keys = Vec::new();
        for _ in 0..n {
            // Short keys share prefixes; long values force hashed (not inline) nodes.
            let key = format!("0x{:04x}", next() % 4096);
            let value = format!("0x{}", "ab".repeat(1 + (next() % 40) as usize));
            keys.push(key.clone());
            pairs.insert(key, serde_json::Value::String(value));
        }
        let file = s.write(
            &format!("pairs{round}.json"),
            serde_json::Value::Object(pairs.clone())
                .to_string()
                .as_bytes(),
        );
        keys.push("0xffff".into()); // absent (the generator stays below 0x1000)
        for hash in ["sm3", "keccak"] {
            for secure in [false, true] {
                let mut docs = Vec::new();
                let mut expected = Vec::new();
                let mut tampered = Vec::new();
                for key in keys.iter().take(10).chain(keys.last()) {
                    let mut args =
                        vec!["--json", "tools", "trie-proof", "--hash", hash, &file, key];
                    if secure {
                        args.push("--secure");
                    }
                    let doc = s.mm(&args).ok().json();
                    let want = pairs
                        .get(key)
                        .and_then(|v| v.as_str())
                        .unwrap_or("absent")
                        .to_owned();
                    assert_eq!(doc["value"].as_str().unwrap_or("absent"), want);
                    if let Some(first) = doc["proof"][0].as_str() {
                        let mut bad = doc.clone();
                        let flipped = if first.ends_with('0') { "1" } else { "0" };
                        bad["proof"][0] = format!("{}{flipped}", &first[..first.len() - 1]).into();
                        tampered.push(bad);
                    }
                    docs.push(doc);
                    expected.push(want);
                }
                assert_eq!(
                    python_verify(hash, &docs),
                    expected,
                    "{hash} secure={secure} round {round}"
                );
                for line in python_verify(hash, &tampered) {
                    assert!(
                        line.starts_with("bad proof"),
                        "tampered proof accepted: {line}"
                    );
                }
            }
        }
    }
}
