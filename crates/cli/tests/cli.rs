//! The command line as a user meets it: results in text and JSON, exit codes, and one-line
//! errors for every kind of bad input.

mod common;

use common::Scratch;

fn fixture(name: &str) -> String {
    format!(
        "{}/../crypto/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn hash_matches_the_standard_examples() {
    let s = Scratch::new();
    let abc = s.write("abc", b"abc");
    let run = s.mm(&["hash", "--suite", "sm", &abc]).ok();
    assert!(
        run.stdout
            .starts_with("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  ")
    );
    let run = s
        .mm(&["--json", "hash", "--suite", "eth", &abc])
        .ok()
        .json();
    assert_eq!(
        run["digest"],
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    );
    assert_eq!(run["algorithm"], "keccak256");
    let both = s.mm(&["--json", "hash", &abc, &abc]).ok().json();
    assert_eq!(both.as_array().unwrap().len(), 2);
}

#[test]
fn accounts_are_created_listed_and_unlocked_with_env_password() {
    let s = Scratch::new();
    let mut addresses = Vec::new();
    for suite in ["sm", "eth"] {
        let run = s
            .mm(&[
                "--json",
                "account",
                "new",
                "--suite",
                suite,
                "--light-kdf",
                "--password-file",
                "pw.txt",
            ])
            .ok();
        addresses.push(run.json()["address"].as_str().unwrap().to_owned());
    }
    let list = s.mm(&["--json", "account", "list"]).ok().json();
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    for a in &addresses {
        assert!(listed.contains(&a.as_str()));
    }
    let text = s.mm(&["account", "list"]).ok().stdout;
    assert!(text.starts_with("ADDRESS"));

    // Keys on disk are never in plaintext.
    let keystore = s.path("data/keystore");
    for entry in std::fs::read_dir(&keystore).unwrap() {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        assert!(json["crypto"]["ciphertext"].is_string());
    }

    s.write("m", b"sealed block");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_metamesh"))
        .args([
            "key",
            "sign",
            "--key",
            &addresses[0],
            "--in",
            "m",
            "--format",
            "raw",
        ])
        .env("METAMESH_DATA_DIR", s.path("data"))
        .env("METAMESH_PASSWORD", "correct horse")
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sig = String::from_utf8(out.stdout).unwrap();
    assert_eq!(sig.trim().len(), 97 * 2);
    s.write("m.sig", sig.as_bytes());
    // A self-identifying signature checks against the account without its password.
    let run = s
        .mm(&[
            "--json",
            "key",
            "verify",
            "--key",
            &addresses[0],
            "--in",
            "m",
            "--sig",
            "m.sig",
        ])
        .ok();
    assert_eq!(run.json()["valid"], true);
}

#[test]
fn geth_style_v3_key_file_imports() {
    let s = Scratch::new();
    s.write("pw-spec", b"testpassword\n");
    let run = s
        .mm(&[
            "--json",
            "account",
            "import",
            &fixture("web3_v3_pbkdf2.json"),
            "--light-kdf",
            "--password-file",
            "pw-spec",
        ])
        .ok();
    assert_eq!(
        run.json()["address"],
        "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b"
    );
    assert_eq!(run.json()["suite"], "eth");
}

#[test]
fn verify_says_invalid_with_exit_one() {
    let s = Scratch::new();
    s.mm(&["account", "new", "--light-kdf", "--password-file", "pw.txt"])
        .ok();
    s.openssl(&["genpkey", "-algorithm", "SM2", "-out", "key.pem"])
        .ok();
    s.write("m", b"original");
    s.write("m2", b"tampered");
    s.mm(&[
        "key", "sign", "--key", "key.pem", "--in", "m", "--out", "m.der",
    ])
    .ok();
    let run = s.mm(&[
        "key", "verify", "--key", "key.pem", "--in", "m2", "--sig", "m.der",
    ]);
    assert_eq!((run.code, run.stdout.trim()), (1, "invalid"));
    let run = s.mm(&[
        "--json", "key", "verify", "--key", "key.pem", "--in", "m2", "--sig", "m.der",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["valid"], false);
}

/// Each bad input: exit 2 and exactly one line naming the problem.
#[test]
fn bad_input_gets_one_line_errors() {
    let s = Scratch::new();
    s.openssl(&["genpkey", "-algorithm", "SM2", "-out", "key.pem"])
        .ok();
    s.mm(&["account", "new", "--light-kdf", "--password-file", "pw.txt"])
        .ok();
    let account = s.mm(&["--json", "account", "list"]).ok().json()[0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    s.write("m", b"m");
    s.write("garbage.sig", b"not a signature at all");
    s.write("short.sig", b"abcd");
    s.write("wrong-pw", b"nope\n");
    s.write(
        "not-a-key.pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["key", "sign", "--key", "missing.pem", "--in", "m"],
            "neither a readable file nor an account",
        ),
        (
            vec!["key", "sign", "--key", "key.pem", "--in", "missing.bin"],
            "reading missing.bin",
        ),
        (
            vec!["key", "sign", "--key", "not-a-key.pem", "--in", "m"],
            "unsupported PEM label",
        ),
        (
            vec![
                "key", "sign", "--key", "key.pem", "--in", "m", "--suite", "eth",
            ],
            "but --suite eth was given",
        ),
        (
            vec![
                "key",
                "verify",
                "--key",
                "key.pem",
                "--in",
                "m",
                "--sig",
                "garbage.sig",
            ],
            "signature is",
        ),
        (
            vec![
                "key",
                "verify",
                "--key",
                "key.pem",
                "--in",
                "m",
                "--sig",
                "short.sig",
            ],
            "signature is 2 bytes",
        ),
        (
            vec![
                "key",
                "sign",
                "--key",
                &account,
                "--in",
                "m",
                "--password-file",
                "wrong-pw",
            ],
            "wrong password",
        ),
        (
            vec!["key", "sign", "--key", &account, "--in", "m"],
            "no password given",
        ),
        (
            vec![
                "account",
                "export",
                "0x0000000000000000000000000000000000000001",
                "--password-file",
                "pw.txt",
            ],
            "no account",
        ),
        (
            vec!["account", "import", "m", "--password-file", "pw.txt"],
            "not a PEM key, a JSON key file or 64 hex digits",
        ),
        (
            vec!["hash", "--suite", "sm3", "m"],
            "unknown crypto suite `sm3`",
        ),
    ];
    for (args, expected) in cases {
        let run = s.mm(&args);
        assert_eq!(
            run.code, 2,
            "{args:?}: stdout {} stderr {}",
            run.stdout, run.stderr
        );
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        if args[0] != "hash" {
            assert_eq!(
                run.stderr.trim_end().lines().count(),
                1,
                "{args:?}: {}",
                run.stderr
            );
        }
    }
    let run = s.mm(&["--json", "key", "sign", "--key", "missing.pem", "--in", "m"]);
    let err: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert!(err["error"].as_str().unwrap().contains("missing.pem"));
}

/// `tools trie-root` reproduces ethereum/tests' hex-encoded secure-trie roots, and names bad input.
#[test]
fn trie_root_matches_ethereum_vectors() {
    let s = Scratch::new();
    let json = metamesh_testkit::vector_json("ethereum-tests/hex_encoded_securetrie_test.json");
    let cases = json.as_object().unwrap();
    for (name, case) in cases {
        let file = s.write(&format!("{name}.json"), case["in"].to_string().as_bytes());
        let run = s
            .mm(&["tools", "trie-root", "--hash", "keccak", "--secure", &file])
            .ok();
        assert_eq!(run.stdout.trim(), case["root"].as_str().unwrap(), "{name}");
    }
    let empty = s.write("empty.json", b"{}");
    let run = s
        .mm(&["--json", "tools", "trie-root", "--hash", "sm3", &empty])
        .ok()
        .json();
    assert_eq!(run["entries"], 0);
    let bad = s.write("bad.json", br#"{"0x01": 5}"#);
    let run = s.mm(&["tools", "trie-root", "--hash", "keccak", &bad]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("key `0x01` must be a 0x-hex string"),
        "{}",
        run.stderr
    );
}

/// `tools clique-replay` passes EIP-225's cases in both suites and exits 1 on a wrong `expect`.
#[test]
fn clique_replay_checks_expectations() {
    let s = Scratch::new();
    let file = format!(
        "{}/../../tests/clique/eip225.json",
        env!("CARGO_MANIFEST_DIR")
    );
    for suite in ["sm", "eth"] {
        let run = s
            .mm(&["tools", "clique-replay", &file, "--suite", suite])
            .ok();
        assert!(
            run.stdout.contains("24 scenarios, 24 as expected, 0 not"),
            "{}",
            run.stdout
        );
    }
    let json = s
        .mm(&["--json", "tools", "clique-replay", &file])
        .ok()
        .json();
    assert_eq!(json[20]["error"], "unauthorized signer");
    assert_eq!(json[1]["signers"], serde_json::json!(["A", "B"]));

    let mut wrong: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    wrong["scenarios"][1]["expect"] = serde_json::json!({"signers": ["A"]});
    let wrong_file = s.write("wrong.json", wrong.to_string().as_bytes());
    let run = s.mm(&["tools", "clique-replay", &wrong_file]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("differs from expect"), "{}", run.stdout);

    let junk = s.write("junk.json", b"{\"scenarios\": 5}");
    let run = s.mm(&["tools", "clique-replay", &junk]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is not a Clique scenario file"),
        "{}",
        run.stderr
    );
}

/// `init` creates the chain from a genesis file, is idempotent, and refuses another genesis or
/// a bad one with a one-line reason.
#[test]
fn init_creates_and_guards_the_chain() {
    let s = Scratch::new();
    let example = format!(
        "{}/../../docs/genesis.example.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let first = s.mm(&["--json", "init", "--genesis", &example]).ok().json();
    assert_eq!(first["chainId"], 2026);
    assert_eq!(first["head"], 0);
    let again = s.mm(&["--json", "init", "--genesis", &example]).ok().json();
    assert_eq!(again["genesisHash"], first["genesisHash"]);

    let other = std::fs::read_to_string(&example)
        .unwrap()
        .replace("2026", "2027");
    let other = s.write("other.json", other.as_bytes());
    let run = s.mm(&["init", "--genesis", &other]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("holds another chain"), "{}", run.stderr);

    let empty = s.write(
        "empty.json",
        br#"{"chainId": 1, "clique": {"period": 1, "signers": []}}"#,
    );
    let run = s.mm(&["--data-dir", "fresh", "init", "--genesis", &empty]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("needs at least one signer"),
        "{}",
        run.stderr
    );
    let greedy = std::fs::read_to_string(&example)
        .unwrap()
        .replace("1000 MMT", "400000000 MMT");
    let greedy = s.write("greedy.json", greedy.as_bytes());
    let run = s.mm(&["--data-dir", "fresh2", "init", "--genesis", &greedy]);
    assert!(
        run.stderr.contains("grants exceed the airdrops pool"),
        "{}",
        run.stderr
    );
}

/// `bench tps` runs end to end on a small load and reports its figures (timing is not asserted).
#[test]
fn bench_tps_reports_throughput_beside_the_ceiling() {
    let s = Scratch::new();
    let report = s
        .mm(&[
            "--json",
            "bench",
            "tps",
            "--txs",
            "300",
            "--accounts",
            "10",
            "--suite",
            "eth",
        ])
        .ok()
        .json();
    assert_eq!(report["transactions"], 300);
    assert!(report["includedTps"].as_f64().unwrap() > 0.0);
    assert!(report["verifyCeilingTps"].as_f64().unwrap() > 0.0);
    assert!(report["blocks"].as_u64().unwrap() >= 1);
    let run = s.mm(&["bench", "tps", "--txs", "1000", "--accounts", "1"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("at most 256 transactions per account"),
        "{}",
        run.stderr
    );
}

#[test]
fn kg_extract_proposes_statements_with_confidences() {
    let s = Scratch::new();
    let paper = s.write(
        "paper.txt",
        "Boron carbide (B4C) is one of the hardest ceramics. Its Vickers hardness is 38 GPa. \
         Hexagonal boron nitride has a band gap of 5.96 eV."
            .as_bytes(),
    );
    let c = s.mm(&["--json", "kg", "extract", &paper]).ok().json();
    let c = c.as_array().unwrap();
    assert!(
        c.iter().any(|c| c["formula"] == "B4C"
            && c["property"] == "hardness"
            && c["value"] == 38.0
            && c["unit"] == "GigaPA"),
        "{c:#?}"
    );
    assert!(
        c.iter()
            .any(|c| c["formula"] == "BN" && c["property"] == "bandGap")
    );
    let nq = s.mm(&["kg", "extract", &paper, "--nquads"]).ok().stdout;
    assert!(nq.contains("<urn:metamesh:ns:confidence>"), "{nq}");
    assert!(nq.contains("<http://qudt.org/vocab/unit/EV>"));
    assert!(nq.lines().all(|l| l.ends_with(" .")), "{nq}");
    let high = s
        .mm(&[
            "--json",
            "kg",
            "extract",
            &paper,
            "--min-confidence",
            "0.99",
        ])
        .ok()
        .json();
    assert!(high.as_array().unwrap().is_empty());

    let binary = s.write("paper.pdf", &[0xff, 0xfe, 0x00, 0x9f]);
    let r = s.mm(&["kg", "extract", &binary]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not UTF-8"), "{}", r.stderr);
    let r = s.mm(&["kg", "extract", &paper, "--source", "not an iri"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--source"), "{}", r.stderr);
}
