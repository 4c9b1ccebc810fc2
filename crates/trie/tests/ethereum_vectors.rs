//! ethereum/tests trie vectors (`../shared/vectors/ethereum-tests/`): every case reproduces its
//! root with Keccak-256, plain and secure, and every inserted key stays provable.

use metamesh_trie::{
    Keccak256, MemoryStore, SecureTrie, Trie, TrieHasher, secure_key, verify_proof,
    verify_secure_proof,
};
use serde_json::Value;

fn load(name: &str) -> serde_json::Map<String, Value> {
    let json = metamesh_testkit::vector_json(&format!("ethereum-tests/{name}"));
    json.as_object().expect("a JSON object of cases").clone()
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

/// Runs every case of a file: the root must match, and every key must prove its final value.
/// Secure files run through `SecureTrie`, and through a plain trie over `H(key)` as a check.
fn run_file(name: &str, secure: bool) -> usize {
    let cases = load(name);
    for (id, case) in &cases {
        let path_of = |k: &[u8]| {
            if secure {
                secure_key::<Keccak256>(k).to_vec()
            } else {
                k.to_vec()
            }
        };
        let store = MemoryStore::new();
        let mut trie = Trie::<Keccak256, _>::new(&store);
        let mut model = std::collections::BTreeMap::new();
        for (k, v) in operations(case) {
            match &v {
                Some(v) => trie.insert(&path_of(&k), v).unwrap(),
                None => drop(trie.remove(&path_of(&k)).unwrap()),
            }
            model.insert(k, v.filter(|v| !v.is_empty()));
        }
        let preview = trie.root_hash();
        let commit = trie.commit();
        assert_eq!(
            preview, commit.root,
            "{name}/{id}: root before and after commit"
        );
        assert_eq!(hex::encode(commit.root), expected_root(case), "{name}/{id}");
        store.apply(&commit);
        for (k, v) in &model {
            let proof = trie.prove(&path_of(k)).unwrap();
            let proven = verify_proof::<Keccak256>(&commit.root, &path_of(k), &proof).unwrap();
            assert_eq!(&proven, v, "{name}/{id}: proof of {k:?}");
        }
        if secure {
            let mut secure_trie = SecureTrie::<Keccak256, _>::new(&store);
            for (k, v) in operations(case) {
                match v {
                    Some(v) => secure_trie.insert(&k, &v).unwrap(),
                    None => drop(secure_trie.remove(&k).unwrap()),
                }
            }
            assert_eq!(
                secure_trie.commit().root,
                commit.root,
                "{name}/{id}: SecureTrie"
            );
            for (k, v) in &model {
                let proof = trie.prove(&path_of(k)).unwrap();
                assert_eq!(
                    &verify_secure_proof::<Keccak256>(&commit.root, k, &proof).unwrap(),
                    v
                );
            }
        }
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
