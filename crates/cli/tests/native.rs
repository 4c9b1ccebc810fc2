//! Native tasks on a real devnet: PySCF's Hartree–Fock energy of diborane on two providers'
//! process executors, agreeing under the tolerance comparator and paid by the hour; the same
//! with a third provider returning a perturbed energy, outvoted; and `job logs -f` streaming a
//! running task's output from its provider before the task ends.

mod common;

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
};

use common::{
    Scratch,
    net::{Net, rpc, wait_for},
};
use serde_json::{Value, json};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/b2h6-scf")
}

fn energy(j: &Value, replica: &Value) -> f64 {
    let _ = j;
    replica["result"]["values"]
        .as_array()
        .and_then(|v| {
            // energy.json's numbers in key order: basis has none; dipole (3), energy, orbitals.
            v.get(3)
        })
        .and_then(Value::as_f64)
        .unwrap()
}

#[test]
fn pyscf_replicas_agree_a_perturbed_one_is_outvoted_and_logs_stream_live() {
    let s = Scratch::new();
    let net = Net::start_with(&s, "net", 2);
    wait_for("two providers register with python3", 120, || {
        rpc(net.rpc, "mm_listProviders", json!([])).is_some_and(|v| {
            v.as_array().is_some_and(|ps| {
                ps.len() == 2
                    && ps.iter().all(|p| {
                        p["inventory"]["software"]
                            .as_array()
                            .is_some_and(|s| s.iter().any(|x| x == "pyscf"))
                    })
            })
        })
    });
    let file = example().join("job.toml");
    let id = net.submit(file.to_str().unwrap());
    let done = net.wait_done(&id, 300);
    assert_eq!(done["state"], "completed", "{done:#}");
    let task = &done["tasks"][0];
    let agreed: Vec<&Value> = task["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "agreed")
        .collect();
    assert_eq!(agreed.len(), 2, "{task:#}");
    for r in &agreed {
        let e = energy(&done, r);
        assert!((e - -52.162_592_234).abs() < 1e-6, "E = {e}");
        assert!(r["result"]["usage"]["wallMs"].as_u64().unwrap() > 0, "{r}");
        assert!(r["paid"].as_str().unwrap() != "0", "paid by the hour: {r}");
    }
    let out = s.path("result");
    net.client(
        net.rpc,
        &["job", "result", &id, "-o", out.to_str().unwrap()],
    )
    .ok();
    let file: Value =
        serde_json::from_slice(&std::fs::read(out.join("scf/energy.json")).unwrap()).unwrap();
    assert_eq!(file["molecule"], "B2H6");

    // A third provider that perturbs its energy, and a job every provider must run.
    let _liar = net.agent(3, &["--fault", "perturb"]);
    wait_for("the third provider registers", 120, || {
        rpc(net.rpc, "mm_listProviders", json!([])).and_then(|v| v.as_array().map(Vec::len))
            == Some(3)
    });
    let three = std::fs::read_to_string(example().join("job.toml"))
        .unwrap()
        .replace("replicas = 2", "replicas = 3")
        .replace(
            "\"scf.py\" = \"scf.py\"",
            &format!("\"scf.py\" = \"{}\"", example().join("scf.py").display()),
        )
        .replace(
            "\"b2h6.xyz\" = \"b2h6.xyz\"",
            &format!(
                "\"b2h6.xyz\" = \"{}\"",
                example().join("b2h6.xyz").display()
            ),
        );
    let three = s.write("three.toml", three.as_bytes());
    let id = net.submit(&three);
    let done = net.wait_done(&id, 300);
    assert_eq!(done["state"], "completed", "{done:#}");
    let states: Vec<&str> = done["tasks"][0]["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    let mut sorted = states.clone();
    sorted.sort();
    assert_eq!(sorted, ["agreed", "agreed", "outvoted"], "{done:#}");

    // Logs while the task runs: the first line arrives before the task is done.
    let slow = s.write(
        "slow.toml",
        b"name = \"slow\"\nmax_price = \"1 MMT\"\n[[tasks]]\nname = \"count\"\nprogram = { command = [\"python3\", \"-u\", \"-c\", \"import time\\nfor i in range(3):\\n    print('step', i)\\n    time.sleep(2)\"] }\nwalltime = 60\ntimeout = 100\nverification = { replicas = 1 }\n",
    );
    let id = net.submit(&slow);
    let mut follow = Command::new(env!("CARGO_BIN_EXE_metamesh"))
        .arg("--data-dir")
        .arg(net.dir(0))
        .args(["job", "logs", &id, "-f"])
        .env("METAMESH_RPC", format!("http://127.0.0.1:{}", net.rpc))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let first_seen_running = loop {
        let line = lines.next().expect("logs -f ended early").unwrap();
        seen.push(line.clone());
        if line.contains("step 0") {
            break net.job(&id)["tasks"][0]["state"] == "running";
        }
    };
    assert!(
        first_seen_running,
        "step 0 came while the task ran: {seen:?}"
    );
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("step 2") {
            break;
        }
    }
    let _ = follow.wait();
    assert_eq!(
        seen.iter().filter(|l| l.contains("step 0")).count(),
        1,
        "no line twice: {seen:?}"
    );
    assert!(seen.iter().any(|l| l.contains("step 2")), "{seen:?}");
}
