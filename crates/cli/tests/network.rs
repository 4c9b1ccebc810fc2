//! Real processes on loopback: `metamesh devnet --nodes 4` and single `metamesh node run`s
//! talking libp2p. Transfers through different nodes, a SIGKILL and a resync, and a fifth signer
//! voted in and out with `clique_propose`.

mod common;

use std::{process::Command, time::Duration};

use common::{Scratch, net::*};
use serde_json::json;

#[test]
fn four_nodes_agree_survive_a_sigkill_and_resync() {
    let s = Scratch::new();
    let net = Net::start(&s, "net");
    let ports = net.ports();
    let genesis = net.genesis();
    let funded: Vec<String> = (0..3)
        .map(|i| genesis["grants"][i]["address"].as_str().unwrap().to_owned())
        .collect();

    // Transfers submitted to three different nodes are all included, and every node has them.
    let mut hashes = Vec::new();
    for (i, from) in funded.iter().enumerate() {
        let to = &funded[(i + 1) % 3];
        let sent = net
            .client(
                ports[i + 1],
                &[
                    "--json", "tx", "transfer", "--from", from, "--to", to, "--amount", "2MMT",
                ],
            )
            .ok()
            .json();
        assert_eq!(sent["status"], "applied", "{sent}");
        hashes.push(sent["transactionHash"].as_str().unwrap().to_owned());
    }
    for port in &ports {
        for hash in &hashes {
            wait_for("every node has every receipt", 20, || {
                rpc(*port, "mm_getTransactionReceipt", json!([hash])).is_some_and(|r| !r.is_null())
            });
        }
    }

    // SIGKILL node 2: the other three keep sealing.
    let pid: i32 = std::fs::read_to_string(net.dir(2).join("node.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) with SIGKILL on the node process the devnet started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let alive = [ports[0], ports[1], ports[3]];
    let before = head(ports[0]).unwrap();
    wait_for("the other three seal on", 30, || {
        head(ports[0]).is_some_and(|h| h >= before + 4) && agree(&alive)
    });

    // Restarted alone from its directory, it catches up and seals in its turn again.
    let restarted = node_run(&net.dir(2), &[]);
    wait_for("the restarted node answers", 30, || {
        head(ports[2]).is_some()
    });
    wait_for("the restarted node catches up", 60, || agree(&ports));
    let signer = genesis["clique"]["signers"][2].as_str().unwrap().to_owned();
    let caught_up = head(ports[2]).unwrap();
    wait_sealed_by(ports[2], &signer, caught_up, 60);
    wait_for("all four heads agree", 30, || agree(&ports));
    restarted.stop();
}

#[test]
fn a_fifth_signer_is_voted_in_then_out() {
    let s = Scratch::new();
    let net = Net::start(&s, "vote");
    let ports = net.ports();
    let password_file = net.dir(0).join("password.txt");
    let pw = password_file.to_str().unwrap();

    // A fifth node: the same genesis, its own key, node 0 as bootnode.
    let fifth = net.root.join("node-4");
    let genesis_file = net.dir(0).join("genesis.json");
    let run = |args: &[&str]| {
        common::Run::from_output(
            Command::new(env!("CARGO_BIN_EXE_metamesh"))
                .arg("--data-dir")
                .arg(&fifth)
                .args(args)
                .output()
                .unwrap(),
        )
    };
    run(&["init", "--genesis", genesis_file.to_str().unwrap()]).ok();
    let created = run(&["--json", "account", "new", "--password-file", pw])
        .ok()
        .json();
    let address = created["address"].as_str().unwrap().to_lowercase();
    let boot: toml::Value =
        toml::from_str(&std::fs::read_to_string(net.dir(1).join("config.toml")).unwrap()).unwrap();
    let bootnode = boot["bootnodes"][0].as_str().unwrap().to_owned();
    let rpc5 = net.rpc + 4;
    let p2p5 = free_ports(1);
    let node5 = node_run(
        &fifth,
        &[
            "--signer",
            &address,
            "--password-file",
            pw,
            "--rpc-addr",
            &format!("127.0.0.1:{rpc5}"),
            "--p2p-addr",
            &format!("/ip4/127.0.0.1/tcp/{p2p5}"),
            "--bootnodes",
            &bootnode,
        ],
    );
    let all: Vec<u16> = ports.iter().copied().chain([rpc5]).collect();
    wait_for("the fifth node syncs", 60, || agree(&all));

    // Three of four signers vote it in.
    for i in 0..3 {
        assert!(
            net.admin(i, "clique_propose", json!([address, true]))
                .is_some()
        );
    }
    wait_for("every node lists five signers", 90, || {
        all.iter().all(|p| signers(*p).contains(&address))
    });
    let joined = head(rpc5).unwrap();
    wait_sealed_by(rpc5, &address, joined, 60);

    // And out again: more than half of five is three.
    for i in 0..3 {
        assert!(
            net.admin(i, "clique_propose", json!([address, false]))
                .is_some()
        );
    }
    wait_for("every node is back to four signers", 90, || {
        all.iter()
            .all(|p| signers(*p).len() == 4 && !signers(*p).contains(&address))
    });
    node5.stop();
}

#[test]
fn a_two_two_split_stalls_both_halves_then_heals() {
    let s = Scratch::new();
    let net = Net::start(&s, "split");
    let ports = net.ports();
    let ids: Vec<String> = (0..ports.len())
        .map(|i| {
            net.admin(i, "admin_nodeInfo", json!([])).unwrap()["peerId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let cut = [(0, 2), (0, 3), (1, 2), (1, 3)];
    for (a, b) in cut {
        assert_eq!(
            net.admin(a, "admin_blockPeer", json!([ids[b], 600])),
            Some(json!(true))
        );
        assert_eq!(
            net.admin(b, "admin_blockPeer", json!([ids[a], 600])),
            Some(json!(true))
        );
    }
    let split = ports.iter().filter_map(|p| head(*p)).max().unwrap();
    // Two of four signers may seal one block each, then the recently-signed rule stops them.
    std::thread::sleep(Duration::from_secs(8));
    for side in [[0, 1], [2, 3]] {
        let top = side.iter().filter_map(|i| head(ports[*i])).max().unwrap();
        assert!(top <= split + 2, "side {side:?} went from {split} to {top}");
    }
    let stalled: Vec<Option<u64>> = ports.iter().map(|p| head(*p)).collect();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(stalled, ports.iter().map(|p| head(*p)).collect::<Vec<_>>());

    for (a, b) in cut {
        net.admin(a, "admin_unblockPeer", json!([ids[b]]));
        net.admin(b, "admin_unblockPeer", json!([ids[a]]));
    }
    wait_for("the halves reconnect, converge and seal on", 60, || {
        agree(&ports) && head(ports[0]).is_some_and(|h| h >= split + 5)
    });
}
