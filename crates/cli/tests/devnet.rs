//! The README's walk-through as a test: `metamesh devnet` starts sealing, a transfer, an
//! attestation and `verify-attestation` work from a second process, and after a SIGKILL the
//! restarted devnet has the same head, balances and records and seals on.

mod common;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::Scratch;
use serde_json::Value;

struct Devnet {
    child: Child,
    rpc: String,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(s: &Scratch, port: u16, p2p: u16) -> Devnet {
    let child = Command::new(env!("CARGO_BIN_EXE_metamesh"))
        .args([
            "--data-dir",
            &s.p("devnet"),
            "devnet",
            "--rpc-port",
            &port.to_string(),
            "--p2p-port",
            &p2p.to_string(),
            "--period",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let devnet = Devnet {
        child,
        rpc: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client(s, &devnet, &["signers"]).code == 0 {
            return devnet;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the devnet did not answer within 30 s");
}

/// A client command against the devnet, with its data dir (keystore) and password.
fn client(s: &Scratch, devnet: &Devnet, args: &[&str]) -> common::Run {
    let password =
        std::fs::read_to_string(s.path("devnet/node-0/password.txt")).unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_metamesh"))
        .args(["--data-dir", &s.p("devnet/node-0")])
        .args(args)
        .env("METAMESH_RPC", &devnet.rpc)
        .env("METAMESH_PASSWORD", password.trim())
        .output()
        .unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn head(s: &Scratch, devnet: &Devnet) -> u64 {
    client(s, devnet, &["--json", "block", "latest"])
        .ok()
        .json()["number"]
        .as_u64()
        .unwrap()
}

#[test]
fn devnet_walkthrough_survives_sigkill() {
    let s = Scratch::new();
    let (port, p2p) = (free_port(), free_port());
    let devnet = start(&s, port, p2p);
    let first = head(&s, &devnet);
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(head(&s, &devnet) > first, "blocks appear every period");

    let genesis: Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("devnet/node-0/genesis.json")).unwrap(),
    )
    .unwrap();
    let from = genesis["grants"][0]["address"].as_str().unwrap().to_owned();
    let to = genesis["grants"][1]["address"].as_str().unwrap().to_owned();
    let sent = client(
        &s,
        &devnet,
        &[
            "--json", "tx", "transfer", "--from", &from, "--to", &to, "--amount", "12.5MMT",
        ],
    )
    .ok()
    .json();
    assert_eq!(sent["status"], "applied");

    let paper = s.write("paper.txt", b"B12 icosahedra under pressure, run 7\n");
    let attested = client(
        &s,
        &devnet,
        &[
            "--json", "attest", &paper, "--kind", "paper", "--title", "Boron", "--from", &from,
        ],
    )
    .ok()
    .json();
    let block = attested["block"].as_u64().unwrap();
    let again = client(
        &s,
        &devnet,
        &[
            "attest", &paper, "--kind", "paper", "--title", "again", "--from", &from,
        ],
    );
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("already attested"),
        "{}",
        again.stderr
    );
    let verified = client(&s, &devnet, &["--json", "verify-attestation", &paper])
        .ok()
        .json();
    assert_eq!(
        verified["owner"].as_str().unwrap().to_lowercase(),
        from.to_lowercase()
    );
    assert_eq!(verified["block"], block);
    let stranger = s.write("other.txt", b"never attested");
    assert_eq!(
        client(&s, &devnet, &["verify-attestation", &stranger]).code,
        1
    );

    // SIGKILL, then the same command resumes the same chain.
    let balance_before =
        client(&s, &devnet, &["--json", "balance", &to]).ok().json()["balance"]["wei"].clone();
    let head_before = head(&s, &devnet);
    drop(devnet); // Child::kill sends SIGKILL
    let devnet = start(&s, port, p2p);
    assert!(head(&s, &devnet) >= head_before, "the head survived");
    let balance_after =
        client(&s, &devnet, &["--json", "balance", &to]).ok().json()["balance"]["wei"].clone();
    assert_eq!(balance_after, balance_before);
    let verified = client(&s, &devnet, &["--json", "verify-attestation", &paper])
        .ok()
        .json();
    assert_eq!(verified["block"], block);
    let resumed = head(&s, &devnet);
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(
        head(&s, &devnet) > resumed,
        "sealing continues after the restart"
    );
}
