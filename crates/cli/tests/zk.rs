//! `metamesh zk` end to end: the local verifier's exit codes (0 valid, 1 invalid, 2 malformed)
//! and the prover on committed circuits; on a devnet, a circuit registered, a proof verified
//! on chain (its statement recorded, the same statement refused again, a tampered one found
//! invalid), and the registered key exported back as snarkjs JSON.

mod common;

use std::path::PathBuf;

use common::{Scratch, net::Net};
use serde_json::Value;

fn fx(dir: &str, file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../zk/tests/fixtures")
        .join(dir)
        .join(file)
        .display()
        .to_string()
}

fn read(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn verify_exit_codes_and_prove_locally() {
    let s = Scratch::new();
    for dir in ["multiplier-bn128", "multiplier-bls12381", "data-stat-bn128"] {
        let (vk, proof, public) = (
            fx(dir, "verification_key.json"),
            fx(dir, "proof.json"),
            fx(dir, "public.json"),
        );
        s.mm(&[
            "zk", "verify", "--vk", &vk, "--proof", &proof, "--public", &public,
        ])
        .ok();
        // Ours, from circom's Wasm and the input, verifies too.
        let (p, x) = (
            s.p(&format!("{dir}-proof.json")),
            s.p(&format!("{dir}-public.json")),
        );
        s.mm(&[
            "zk",
            "prove",
            "--zkey",
            &fx(dir, "circuit.zkey"),
            "--wasm",
            &fx(dir, "circuit.wasm"),
            "--input",
            &fx(dir, "input.json"),
            "--proof",
            &p,
            "--public",
            &x,
        ])
        .ok();
        assert_eq!(read(&x), read(&public), "{dir}: the same public signals");
        s.mm(&["zk", "verify", "--vk", &vk, "--proof", &p, "--public", &x])
            .ok();
    }
    let vk = fx("multiplier-bn128", "verification_key.json");
    let proof = fx("multiplier-bn128", "proof.json");
    // Invalid: another statement.
    let other = s.write("other.json", br#"["33", "197", "6"]"#);
    let r = s.mm(&[
        "zk", "verify", "--vk", &vk, "--proof", &proof, "--public", &other,
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("invalid"));
    // Malformed: a non-canonical input, a number instead of a string, a missing file.
    let r_plus = "21888242871839275222246405745257275088548364400416034343698204186575808495622";
    let bad = s.write(
        "bad.json",
        format!(r#"["33", "201", "{r_plus}"]"#).as_bytes(),
    );
    let r = s.mm(&[
        "zk", "verify", "--vk", &vk, "--proof", &proof, "--public", &bad,
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("not canonical"), "{}", r.stdout);
    let bad = s.write("num.json", br#"[33, "201", "5"]"#);
    let r = s.mm(&[
        "zk", "verify", "--vk", &vk, "--proof", &proof, "--public", &bad,
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("decimal strings"), "{}", r.stdout);
    let r = s.mm(&[
        "zk",
        "verify",
        "--vk",
        &vk,
        "--proof",
        "/nonexistent.json",
        "--public",
        &bad,
    ]);
    assert_eq!(r.code, 2);
    // A witness that does not satisfy the circuit is refused by the prover.
    let input = s.write("in.json", br#"{"a": 3, "b": 11}"#);
    let r = s.mm(&[
        "zk",
        "prove",
        "--zkey",
        &fx("multiplier-bn128", "circuit.zkey"),
        "--wasm",
        &fx("multiplier-bn128", "circuit.wasm"),
        "--input",
        &input,
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("input"), "{}", r.stderr);
}

#[test]
fn circuits_and_proofs_on_a_devnet() {
    let s = Scratch::new();
    let net = Net::start(&s, "zk-net");
    let from = net.genesis()["grants"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = "multiplier-bn128";
    let reg = net
        .client(
            net.rpc,
            &[
                "--json",
                "zk",
                "register",
                "--vk",
                &fx(dir, "verification_key.json"),
                "--name",
                "multiplier",
                "--inputs",
                "c,d,k",
                "--from",
                &from,
            ],
        )
        .ok()
        .json();
    let id = reg["circuit"].as_str().unwrap().to_owned();
    let list = net
        .client(net.rpc + 1, &["--json", "zk", "circuits"])
        .ok()
        .json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str() && c["inputs"][2] == "k")
    );

    let verify = |public: &str| {
        net.client(
            net.rpc + 2,
            &[
                "--json",
                "zk",
                "verify",
                "--circuit",
                &id,
                "--proof",
                &fx(dir, "proof.json"),
                "--public",
                public,
                "--from",
                &from,
            ],
        )
    };
    let r = verify(&fx(dir, "public.json")).ok();
    let statement = r.json()["statement"].as_str().unwrap().to_owned();
    assert_eq!(statement.len(), 66);
    // The same statement again: refused (recorded once), exit 2.
    let r = verify(&fx(dir, "public.json"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("was proven at block"), "{}", r.stdout);
    // Another statement with this proof: the chain finds it invalid, exit 1.
    let other = s.write("other.json", br#"["33", "197", "6"]"#);
    let r = verify(&other);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("does not verify"), "{}", r.stdout);
    // The registered key, exported, is snarkjs's file.
    let out = s.p("exported.json");
    net.client(net.rpc, &["zk", "export", "--circuit", &id, "-o", &out])
        .ok();
    assert_eq!(read(&out), read(&fx(dir, "verification_key.json")));

    // The data-integrity circuit: a data owner registers a private (encrypted) dataset with
    // its Poseidon commitment, then proves a statistic of it on chain; anyone can check the
    // proven statement names the registered commitment.
    let ds = "data-stat-bn128";
    let reg = net
        .client(
            net.rpc,
            &[
                "--json",
                "zk",
                "register",
                "--vk",
                &fx(ds, "verification_key.json"),
                "--name",
                "data-stat",
                "--inputs",
                "commitment,sum,count,threshold",
                "--from",
                &from,
            ],
        )
        .ok()
        .json();
    let stat = reg["circuit"].as_str().unwrap().to_owned();
    let (proof, public) = (s.p("ds-proof.json"), s.p("ds-public.json"));
    net.client(
        net.rpc,
        &[
            "zk",
            "prove",
            "--zkey",
            &fx(ds, "circuit.zkey"),
            "--wasm",
            &fx(ds, "circuit.wasm"),
            "--input",
            &fx(ds, "input.json"),
            "--proof",
            &proof,
            "--public",
            &public,
        ],
    )
    .ok();
    let signals = read(&public);
    let commitment = signals[0].as_str().unwrap().to_owned();
    let added = net
        .client(
            net.rpc,
            &[
                "--json",
                "data",
                "add",
                &fx(ds, "input.json"),
                "--encrypt",
                "--register",
                "--title",
                "sixteen readings",
                "--commitment",
                &commitment,
                "--from",
                &from,
            ],
        )
        .ok()
        .json();
    let digest = added["registered"]["digest"].as_str().unwrap().to_owned();
    let record = common::net::rpc(
        net.rpc,
        "mm_getRecord",
        serde_json::json!([format!("0x20{}", &digest[2..])]),
    )
    .unwrap();
    let meta = hex::decode(
        record["metadata"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    let meta: Value = serde_json::from_slice(&meta).unwrap();
    assert_eq!(meta["commitment"], commitment.as_str());
    assert_eq!(record["encrypted"], true);
    let r = net
        .client(
            net.rpc + 1,
            &[
                "--json",
                "zk",
                "verify",
                "--circuit",
                &stat,
                "--proof",
                &proof,
                "--public",
                &public,
                "--from",
                &from,
            ],
        )
        .ok();
    assert!(r.json()["statement"].is_string());
    // The sum of the committed values and how many exceed 50, now on chain.
    assert_eq!(signals[1], "1099511633699");
    assert_eq!(signals[2], "6");
}

/// A zk-verified task on a devnet: the task circuit registered with its proving key and
/// witness generator on the content network; a provider that proves its result for other
/// outputs is rejected and slashed; an honest one then runs the task alone, proves it, and the
/// chain accepts it without replicas, its claims (the commitment and the sum) in the result
/// and the private readings nowhere among the outputs.
#[test]
fn zk_verified_tasks_on_a_devnet() {
    use common::net::{rpc, wait_for};
    use serde_json::json;
    let s = Scratch::new();
    let net = Net::start(&s, "zk-tasks");
    let from = net.genesis()["grants"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = "task-sum-bn128";
    let add = |file: &str| {
        net.client(net.rpc, &["--json", "data", "add", &fx(dir, file)])
            .ok()
            .json()["cid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (zkey, wasm) = (add("circuit.zkey"), add("circuit.wasm"));
    let names = "commitment,sum,jobHi,jobLo,task,inputsHi,inputsLo,outputsHi,outputsLo,provider";
    let reg = net
        .client(
            net.rpc,
            &[
                "--json",
                "zk",
                "register",
                "--vk",
                &fx(dir, "verification_key.json"),
                "--name",
                "task-sum",
                "--inputs",
                names,
                "--zkey",
                &zkey,
                "--wasm",
                &wasm,
                "--from",
                &from,
            ],
        )
        .ok()
        .json();
    let circuit = reg["circuit"].as_str().unwrap().to_owned();
    let c = rpc(net.rpc, "mm_getCircuit", json!([circuit])).unwrap();
    assert_eq!(c["taskCircuit"], true, "{c}");

    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/zk-sum");
    let job = std::fs::read_to_string(example.join("job.toml"))
        .unwrap()
        .replace("CIRCUIT_ID", &circuit)
        .replace(
            "\"sum.py\" = \"sum.py\"",
            &format!("\"sum.py\" = \"{}\"", example.join("sum.py").display()),
        )
        .replace(
            "\"data.json\" = \"data.json\"",
            &format!(
                "\"data.json\" = \"{}\"",
                example.join("data.json").display()
            ),
        );
    let job = s.write("zk-job.toml", job.as_bytes());

    // Only a provider that proves other outputs than it reveals, at first.
    let liar = net.agent(1, &["--fault", "zk-output"]);
    wait_for("the faulty provider registers", 120, || {
        rpc(net.rpc, "mm_listProviders", json!([])).and_then(|v| v.as_array().map(Vec::len))
            == Some(1)
    });
    let id = net.submit(&job);
    wait_for("the chain rejects its proof", 120, || {
        net.job(&id)["tasks"][0]["attempts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["outcome"] == "outvoted"))
    });
    let p = rpc(net.rpc, "mm_listProviders", json!([])).unwrap();
    assert_eq!(p[0]["outvoted"], 1, "{p}");
    drop(liar);

    let _honest = net.agent(2, &[]);
    let done = net.wait_done(&id, 180);
    assert_eq!(done["state"], "completed", "{done:#}");
    let task = &done["tasks"][0];
    let agreed: Vec<&Value> = task["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "agreed")
        .collect();
    assert_eq!(agreed.len(), 1, "one provider, no replicas: {task:#}");
    let result = &agreed[0]["result"];
    // 12 + 7 + 30 + 5 + 19 + 44 + 3 + 8: the claimed sum, proven.
    assert_eq!(result["claims"][1], "128", "{result}");
    // The commitment the job file pins: the proof is about data.json's readings.
    assert_eq!(
        result["claims"][0],
        "11716983397406253843351290091926901607160597067358908038962415899792737293115"
    );
    let pins = &done["spec"]["tasks"][0]["verification"]["claims"];
    assert_eq!(pins[0]["index"], 0, "{pins}");
    assert_eq!(task["zk"]["circuit"], circuit.as_str());
    let outputs: Vec<&str> = result["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        outputs,
        ["result.json"],
        "the circuit's private inputs stay home"
    );
}
