//! ethereum/tests trie vectors (`../shared/vectors/ethereum-tests/`): every case reproduces its
//! root with Keccak-256, plain and secure, and every inserted key stays provable.

use metamesh_trie::{
    Keccak256, MemoryStore, SecureTrie, Trie, TrieHasher, verify_proof, verify_secure_proof,
};
use serde_json::Value;

fn load(name: &str) -> serde_json::Map<String, Value> {
    let dir = std::env::var("METAMESH_VECTORS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
        });
    let path = dir.join("ethereum-tests").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("conformance vectors missing at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `0x…` is hex, anything else UTF-8; `null` means delete.
fn bytes(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    Some(match s.strip_prefix("0x") {
        Some(h) => hex::decode(h).unwrap(),
        None => s.as_bytes().to_vec(),
    })
}

/// The case's operations in order (objects: any order is allowed; we use the file's).
fn operations(case: &Value) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    match &case["in"] {
        Value::Array(pairs) => pairs
            .iter()
            .map(|p| (bytes(&p[0]).unwrap(), bytes(&p[1])))
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (bytes(&Value::String(k.clone())).unwrap(), bytes(v)))
            .collect(),
        other => panic!("unexpected input {other}"),
    }
}

fn expected_root(case: &Value) -> String {
    case["root"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x")
        .to_owned()
}

fn run_file(name: &str, secure: bool) -> usize {
    let cases = load(name);
    for (id, case) in &cases {
        let store = MemoryStore::new();
        let ops = operations(case);
        let final_state: std::collections::BTreeMap<_, _> = ops.iter().cloned().collect();
        let root = if secure {
            let mut trie = SecureTrie::<Keccak256, _>::new(&store);
            for (k, v) in &ops {
                match v {
                    Some(v) => trie.insert(k, v).unwrap(),
                    None => drop(trie.remove(k).unwrap()),
                }
            }
            let commit = trie.commit();
            store.apply(&commit);
            for (k, v) in &final_state {
                let proof = trie.prove(k).unwrap();
                let proven = verify_secure_proof::<Keccak256>(&commit.root, k, &proof).unwrap();
                assert_eq!(
                    proven.as_ref(),
                    v.as_ref().filter(|v| !v.is_empty()),
                    "{name}/{id}"
                );
            }
            commit.root
        } else {
            let mut trie = Trie::<Keccak256, _>::new(&store);
            for (k, v) in &ops {
                match v {
                    Some(v) => trie.insert(k, v).unwrap(),
                    None => drop(trie.remove(k).unwrap()),
                }
            }
            assert_eq!(trie.root_hash(), trie.root_hash());
            let preview = trie.root_hash();
            let commit = trie.commit();
            assert_eq!(preview, commit.root);
            store.apply(&commit);
            for (k, v) in &final_state {
                let proof = trie.prove(k).unwrap();
                let proven = verify_proof::<Keccak256>(&commit.root, k, &proof).unwrap();
                assert_eq!(
                    proven.as_ref(),
                    v.as_ref().filter(|v| !v.is_empty()),
                    "{name}/{id}"
                );
            }
            commit.root
        };
        assert_eq!(hex::encode(root), expected_root(case), "{name}/{id}");
    }
    cases.len()
}

#[test]
fn trietest() {
    assert_eq!(run_file("trietest.json", false), 5);
}

#[test]
fn trieanyorder() {
    assert_eq!(run_file("trieanyorder.json", false), 7);
}

#[test]
fn trietest_secure() {
    assert_eq!(run_file("trietest_secureTrie.json", true), 3);
}

#[test]
fn trieanyorder_secure() {
    assert_eq!(run_file("trieanyorder_secureTrie.json", true), 7);
}

#[test]
fn hex_encoded_securetrie() {
    assert_eq!(run_file("hex_encoded_securetrie_test.json", true), 3);
}

#[test]
fn empty_root_is_hash_of_empty_string() {
    assert_eq!(
        hex::encode(Keccak256::empty_root()),
        "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    );
}
