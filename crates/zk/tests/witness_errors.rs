//! A witness's failures say whose they are: an input that does not fit the circuit is
//! `Error::Input` (the writer of the input is at fault), while the calculator's files and
//! limits are `Error::Malformed` (whoever runs it is), and a proving key for another
//! verifying key is refused before any work.

use std::path::PathBuf;

use ark_bn254::Fr;
use metamesh_zk::{
    Error,
    prove::prove_files,
    snarkjs,
    witness::{Limits, calculate},
};
use serde_json::json;

fn file(dir: &str, f: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir)
            .join(f),
    )
    .unwrap()
}

#[test]
fn input_faults_and_file_faults_are_told_apart() {
    let wasm = file("multiplier-bn128", "circuit.wasm");
    let ok = json!({"a": "3", "b": "11", "k": "5"});
    assert!(calculate::<Fr>(&wasm, &ok, Limits::default()).is_ok());
    for bad in [
        json!({"a": "3", "b": "11", "k": "5", "e": "1"}),
        json!({"a": "3", "b": "11"}),
        json!({"a": ["3", "4"], "b": "11", "k": "5"}),
        json!({"a": "x", "b": "11", "k": "5"}),
    ] {
        match calculate::<Fr>(&wasm, &bad, Limits::default()) {
            Err(Error::Input(m)) => assert!(m.starts_with("input: "), "{m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let starved = Limits {
        fuel: 10,
        ..Limits::default()
    };
    assert!(matches!(
        calculate::<Fr>(&wasm, &ok, starved),
        Err(Error::Malformed(m)) if m.contains("fuel")
    ));
    assert!(matches!(
        calculate::<Fr>(b"not wasm", &ok, Limits::default()),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn a_proving_key_for_another_key_is_refused() {
    let zkey = file("multiplier-bn128", "circuit.zkey");
    let wasm = file("multiplier-bn128", "circuit.wasm");
    let input = json!({"a": "3", "b": "11", "k": "5"});
    let vk = |dir: &str| {
        let doc = serde_json::from_slice(&file(dir, "verification_key.json")).unwrap();
        snarkjs::read_vk::<ark_bn254::Bn254>(&doc)
            .unwrap()
            .canonical_bytes()
    };
    let own = vk("multiplier-bn128");
    let (proof, public) = prove_files(&zkey, &wasm, &input, Limits::default(), Some(&own)).unwrap();
    assert!(
        metamesh_zk::verify::verify_bytes(metamesh_zk::Engine::Bn254, &own, &proof, &public)
            .unwrap()
    );
    let other = vk("data-stat-bn128");
    match prove_files(&zkey, &wasm, &input, Limits::default(), Some(&other)) {
        Err(Error::Malformed(m)) => assert!(m.contains("another verifying key"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert!(
        !metamesh_zk::verify::verify_bytes(metamesh_zk::Engine::Bn254, &other, &proof, &public)
            .unwrap_or(false)
    );
}
