//! Keystore conformance: the Web3 Secret Storage v3 spec vectors decrypt, and property tests
//! show round trips and clean wrong-password errors in both suites.

use std::path::Path;

use metamesh_crypto::{
    SecretKey, Suite,
    keystore::{KeyFile, KeystoreError, ScryptParams, read_key_file},
};
use proptest::prelude::*;

const SPEC_KEY: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const SPEC_ADDRESS: &str = "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b";

fn fixture(name: &str) -> KeyFile {
    read_key_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn web3_v3_spec_vectors_decrypt() {
    for name in ["web3_v3_scrypt.json", "web3_v3_pbkdf2.json"] {
        let file = fixture(name);
        let key = file.decrypt(b"testpassword").unwrap();
        assert_eq!(key.suite(), Suite::Eth);
        assert_eq!(hex::encode(*key.to_bytes()), SPEC_KEY, "{name}");
        assert_eq!(key.public_key().address().to_string(), SPEC_ADDRESS);
        assert!(matches!(
            file.decrypt(b"wrong"),
            Err(KeystoreError::WrongPassword)
        ));
    }
}

#[test]
fn absurd_kdf_cost_is_refused_before_work() {
    let mut file = fixture("web3_v3_scrypt.json");
    let text = serde_json::to_string(&file)
        .unwrap()
        .replace("262144", "1073741824");
    file = serde_json::from_str(&text).unwrap();
    let err = file.decrypt(b"testpassword").unwrap_err();
    assert!(matches!(err, KeystoreError::Format(_)), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn key_files_round_trip(seed in any::<[u8; 32]>(), eth in any::<bool>(), password in ".{0,24}") {
        let suite = if eth { Suite::Eth } else { Suite::Sm };
        let key = match SecretKey::from_bytes(suite, &seed) {
            Ok(k) => k,
            Err(_) => return Ok(()), // zero or ≥ n: not a key
        };
        let file = KeyFile::encrypt(&key, password.as_bytes(), ScryptParams::LIGHT).unwrap();
        let json = serde_json::to_string(&file).unwrap();
        prop_assert!(!json.contains(&hex::encode(seed)));
        let back: KeyFile = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(*back.decrypt(password.as_bytes()).unwrap().to_bytes(), *key.to_bytes());
        let wrong = format!("{password}!");
        prop_assert!(matches!(back.decrypt(wrong.as_bytes()), Err(KeystoreError::WrongPassword)));
    }
}
