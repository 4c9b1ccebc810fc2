//! The `eth` keystore against a real peer: Python's eth-keyfile (what web3.py and eth-account
//! use) decrypts key files `metamesh` writes, and `metamesh` imports files eth-keyfile writes,
//! with scrypt and with pbkdf2.

mod common;

use std::process::Command;

use common::Scratch;
use metamesh_crypto::pem::{PemKey, parse_pem};

/// Runs a Python snippet with eth-keyfile and returns its standard output.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "python failed (is eth-keyfile installed? run scripts/install-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn exported_secret_hex(s: &Scratch, address: &str) -> String {
    let run = s
        .mm(&["account", "export", address, "--password-file", "pw.txt"])
        .ok();
    let PemKey::Secret(key) = parse_pem(&run.stdout, None).unwrap() else {
        panic!("export gave a public key")
    };
    hex::encode(*key.to_bytes())
}

#[test]
fn eth_keyfile_decrypts_our_key_files() {
    let s = Scratch::new();
    let created = s
        .mm(&[
            "--json",
            "account",
            "new",
            "--suite",
            "eth",
            "--light-kdf",
            "--password-file",
            "pw.txt",
        ])
        .ok()
        .json();
    let address = created["address"].as_str().unwrap();
    let path = created["path"].as_str().unwrap();
    let theirs = python(
        "import sys, eth_keyfile; print(eth_keyfile.extract_key_from_keyfile(sys.argv[1], b'correct horse').hex())",
        &[path],
    );
    assert_eq!(theirs, exported_secret_hex(&s, address));
    let wrong = Command::new("python3")
        .args([
            "-c",
            "import sys, eth_keyfile; eth_keyfile.extract_key_from_keyfile(sys.argv[1], b'nope')",
            path,
        ])
        .output()
        .unwrap();
    assert!(
        !wrong.status.success(),
        "eth-keyfile accepted a wrong password"
    );
}

#[test]
fn we_import_eth_keyfile_files() {
    let s = Scratch::new();
    let secret = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    for kdf in ["scrypt", "pbkdf2"] {
        let file = s.p(&format!("{kdf}.json"));
        let address = python(
            "import sys, json, eth_keyfile\n\
             k = eth_keyfile.create_keyfile_json(bytes.fromhex(sys.argv[1]), b'correct horse', kdf=sys.argv[2], iterations=(4096 if sys.argv[2] == 'scrypt' else 1000))\n\
             open(sys.argv[3], 'w').write(json.dumps(k))\n\
             print(k['address'])",
            &[secret, kdf, &file],
        );
        let data = format!("data-{kdf}");
        let imported = s
            .mm(&[
                "--data-dir",
                &data,
                "--json",
                "account",
                "import",
                &file,
                "--light-kdf",
                "--password-file",
                "pw.txt",
            ])
            .ok()
            .json();
        // eth-keyfile writes the address without 0x, in whatever case: compare the bytes.
        let theirs = format!("0x{}", address.trim_start_matches("0x")).to_lowercase();
        assert_eq!(imported["address"].as_str().unwrap().to_lowercase(), theirs);
        let run = s
            .mm(&[
                "--data-dir",
                &data,
                "account",
                "export",
                imported["address"].as_str().unwrap(),
                "--password-file",
                "pw.txt",
            ])
            .ok();
        let PemKey::Secret(key) = parse_pem(&run.stdout, None).unwrap() else {
            panic!("export gave a public key")
        };
        assert_eq!(hex::encode(*key.to_bytes()), secret);
    }
}
