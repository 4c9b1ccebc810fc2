//! Research data on a real devnet: add and get through the CLI (plain, encrypted and shared,
//! CAR export/import), a file added on node 0 fetched by CID on node 3, and a storage deal
//! whose keeper passes its challenges and is paid while a node that deleted the data misses.

mod common;

use metamesh_testkit::random_bytes as random;
use std::{path::Path, process::Command};

use common::{Run, Scratch, net::*};
use serde_json::{Value, json};

/// The CLI with node `i`'s data directory (its keystore) against RPC port `via`.
fn as_node(net: &Net, i: usize, via: u16, args: &[&str]) -> Run {
    Run::from_output(
        Command::new(env!("CARGO_BIN_EXE_metamesh"))
            .arg("--data-dir")
            .arg(net.dir(i))
            .args(args)
            .env("METAMESH_RPC", format!("http://127.0.0.1:{via}"))
            .env("METAMESH_PASSWORD", net.password())
            .output()
            .unwrap(),
    )
}

fn add(net: &Net, via: u16, path: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--json", "data", "add", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = net.client(via, &args).ok().json();
    out["cid"].as_str().unwrap().to_owned()
}

fn get(net: &Net, via: u16, cid: &str, to: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--json", "data", "get", cid, "-o", to.to_str().unwrap()];
    args.extend_from_slice(extra);
    net.client(via, &args)
}

fn provider(port: u16, address: &str) -> Value {
    rpc(port, "storage_provider", json!([address])).unwrap_or(Value::Null)
}

#[test]
fn data_moves_between_nodes_encrypted_and_under_deals() {
    let s = Scratch::new();
    let net = Net::start(&s, "net");
    let ports = net.ports();
    let genesis = net.genesis();
    let funded: Vec<String> = (0..3)
        .map(|i| genesis["grants"][i]["address"].as_str().unwrap().to_owned())
        .collect();

    // Plain round trips through add/get, and through export/import onto another node.
    for (i, size) in [0usize, 1, 262_143, 262_144, 262_145, (3 << 20) + 5]
        .into_iter()
        .enumerate()
    {
        let file = s.write(&format!("f{i}"), &random(size, i as u64));
        let only = net
            .client(ports[0], &["--json", "data", "add", "--only-hash", &file])
            .ok()
            .json();
        let cid = add(&net, ports[0], Path::new(&file), &[]);
        assert_eq!(only["cid"], cid);
        let back = s.path(&format!("f{i}.back"));
        get(&net, ports[0], &cid, &back, &[]).ok();
        assert_eq!(
            std::fs::read(&back).unwrap(),
            std::fs::read(&file).unwrap(),
            "size {size}"
        );
        let car = s.p(&format!("f{i}.car"));
        net.client(ports[0], &["data", "export", &cid, "-o", &car])
            .ok();
        let imported = net
            .client(ports[1], &["--json", "data", "import", &car])
            .ok()
            .json();
        assert_eq!(imported["pinned"][0], cid);
        let via_car = s.path(&format!("f{i}.car.back"));
        get(&net, ports[1], &cid, &via_car, &[]).ok();
        assert_eq!(
            std::fs::read(&via_car).unwrap(),
            std::fs::read(&file).unwrap()
        );
    }
    // Kubo's CAR file for `hello world\n`, byte for byte, from `data add` then `data export`.
    let hello = s.write("hello", b"hello world\n");
    let hello_cid = add(&net, ports[0], Path::new(&hello), &[]);
    let car = s.p("hello.car");
    net.client(ports[0], &["data", "export", &hello_cid, "-o", &car])
        .ok();
    let kubo = std::fs::read(
        metamesh_testkit::vectors_dir().join("unixfs_hello-world-nl_kubo-default.car"),
    )
    .unwrap();
    assert_eq!(std::fs::read(&car).unwrap(), kubo);

    let dir = s.path("tree");
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::write(dir.join("top.txt"), b"top").unwrap();
    std::fs::write(dir.join("a/b/deep.bin"), random(700_000, 9)).unwrap();
    let tree = add(&net, ports[0], &dir, &["--cid-version", "1"]);
    assert!(tree.starts_with("bafy"), "{tree}");
    let tree_back = s.path("tree.back");
    get(&net, ports[0], &tree, &tree_back, &[]).ok();
    assert_eq!(
        std::fs::read(tree_back.join("a/b/deep.bin")).unwrap(),
        random(700_000, 9)
    );

    // A file added on node 0 is fetched by CID on node 3 (through the DHT and block exchange).
    let shared_file = s.write("for-node-3", &random(1_500_000, 77));
    let cid = add(&net, ports[0], Path::new(&shared_file), &[]);
    let on_3 = s.path("from-node-3");
    get(&net, ports[3], &cid, &on_3, &[]).ok();
    assert_eq!(std::fs::read(&on_3).unwrap(), random(1_500_000, 77));

    // Encrypted: the owner and a recipient it shares with decrypt; a third key cannot.
    let secret = s.write("secret", &random(600_000, 5));
    let sealed = net
        .client(
            ports[0],
            &[
                "--json",
                "data",
                "add",
                &secret,
                "--encrypt",
                "--from",
                &funded[0],
                "--register",
                "--title",
                "t",
            ],
        )
        .ok()
        .json();
    let scid = sealed["cid"].as_str().unwrap().to_owned();
    assert_eq!(sealed["encrypted"], true);
    let raw = s.path("secret.raw");
    get(&net, ports[2], &scid, &raw, &["--raw"]).ok();
    assert_ne!(std::fs::read(&raw).unwrap()[..64], random(600_000, 5)[..64]);
    let pem = s.p("friend.pem");
    net.client(
        ports[0],
        &["account", "export", &funded[1], "--public", "--out", &pem],
    )
    .ok();
    let refused = get(
        &net,
        ports[0],
        &scid,
        &s.path("secret.friend0"),
        &["--from", &funded[1]],
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("no key was shared"),
        "{}",
        refused.stderr
    );
    net.client(
        ports[0],
        &["data", "share", &scid, "--to", &pem, "--from", &funded[0]],
    )
    .ok();
    for (who, port) in [(&funded[0], ports[0]), (&funded[1], ports[3])] {
        let out = s.path(&format!("secret.{port}"));
        get(&net, port, &scid, &out, &["--from", who]).ok();
        assert_eq!(std::fs::read(&out).unwrap(), random(600_000, 5));
    }
    let stranger = get(
        &net,
        ports[0],
        &scid,
        &s.path("secret.stranger"),
        &["--from", &funded[2]],
    );
    assert_ne!(stranger.code, 0);
    assert!(!s.path("secret.stranger").exists());

    // A private named graph: stored encrypted, queried only where its key is.
    let triples = s.write(
        "private.nt",
        b"<urn:lab:sample-7> <http://purl.org/dc/terms/title> \"unpublished boron sample\" .\n\
          <urn:lab:sample-7> <urn:metamesh:ns:hardness> \"41.5\"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n",
    );
    let private = net
        .client(
            ports[0],
            &[
                "--json",
                "data",
                "add",
                &triples,
                "--encrypt",
                "--from",
                &funded[0],
                "--register",
                "--title",
                "lab notes",
            ],
        )
        .ok()
        .json();
    let pcid = private["cid"].as_str().unwrap().to_owned();
    let q = "SELECT ?t ?h ?g WHERE { GRAPH ?g { ?s dct:title ?t ; mm:hardness ?h } }";
    let mine = net
        .client(
            ports[1],
            &[
                "--json",
                "kg",
                "query",
                q,
                "--private",
                &pcid,
                "--from",
                &funded[0],
            ],
        )
        .ok()
        .json();
    let rows = mine["results"]["bindings"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{mine}");
    assert_eq!(rows[0]["t"]["value"], "unpublished boron sample");
    assert_eq!(rows[0]["g"]["value"], format!("ipfs://{pcid}"));
    let theirs = net.client(
        ports[1],
        &["kg", "query", q, "--private", &pcid, "--from", &funded[2]],
    );
    assert_ne!(theirs.code, 0, "a key it was not shared with opens nothing");
    // The node indexed the registration (its public title) but holds none of the triples.
    wait_for(
        "the node indexed the private graph's registration",
        30,
        || {
            let r = net
                .client(ports[0], &["--json", "kg", "search", "lab notes"])
                .ok()
                .json();
            !r["results"]["bindings"].as_array().unwrap().is_empty()
        },
    );
    let public = net
        .client(
            ports[0],
            &[
                "--json",
                "kg",
                "query",
                "SELECT ?s WHERE { ?s ?p \"unpublished boron sample\" }",
            ],
        )
        .ok()
        .json();
    assert!(
        public["results"]["bindings"].as_array().unwrap().is_empty(),
        "{public}"
    );

    // Storage: nodes 2 and 3 offer space; a deal for two replicas is taken by both agents.
    let node_address =
        |i: usize| -> String { genesis["clique"]["signers"][i].as_str().unwrap().to_owned() };
    let keeper = node_address(3);
    let loser = node_address(2);
    for (i, who) in [(2, &loser), (3, &keeper)] {
        // The stake: 10 MMT bonds a replica of up to a GiB.
        net.client(
            ports[0],
            &[
                "tx", "transfer", "--to", who, "--amount", "20MMT", "--from", &funded[0],
            ],
        )
        .ok();
        wait_for("the storage node has MMT for its stake", 60, || {
            rpc(ports[i], "mm_getBalance", json!([who])).is_some_and(|b| {
                b["wei"].as_str().and_then(|w| w.parse::<u128>().ok()) > Some(12 * 10u128.pow(18))
            })
        });
        as_node(
            &net,
            i,
            ports[i],
            &[
                "storage",
                "offer",
                "--capacity",
                "1GiB",
                "--price",
                "0.01",
                "--stake",
                "10",
                "--from",
                who,
            ],
        )
        .ok();
    }
    let deal = net
        .client(
            ports[0],
            &[
                "--json",
                "storage",
                "deal",
                &cid,
                "--replicas",
                "2",
                "--duration",
                "21",
                "--price",
                "1",
                "--from",
                &funded[0],
            ],
        )
        .ok()
        .json();
    let deal_id = deal["deal"].as_str().unwrap().to_owned();
    assert!(
        deal["reserve"].as_str().is_some_and(|r| r != "0 MMT"),
        "the deal set a reserve aside for its boundaries: {deal}"
    );
    wait_for("both storage nodes take the deal", 90, || {
        rpc(ports[0], "storage_deal", json!([deal_id]))
            .is_some_and(|d| d["holders"].as_array().is_some_and(|h| h.len() == 2))
    });
    // Node 2 deletes the data; node 3 keeps it.
    as_node(&net, 2, ports[2], &["data", "unpin", &cid]).ok();
    let gc = as_node(&net, 2, ports[2], &["--json", "data", "gc"])
        .ok()
        .json();
    assert!(gc["removedBlocks"].as_u64().unwrap() >= 1, "{gc}");
    let start = rpc(ports[0], "mm_getBalance", json!([keeper])).unwrap();
    wait_for(
        "the keeper passes a challenge and the loser misses one",
        120,
        || {
            provider(ports[0], &keeper)["passes"].as_u64() >= Some(1)
                && provider(ports[0], &loser)["misses"].as_u64() >= Some(1)
        },
    );
    let after = rpc(ports[0], "mm_getBalance", json!([keeper])).unwrap();
    let wei = |v: &Value| v["wei"].as_str().unwrap().parse::<u128>().unwrap();
    assert!(wei(&after) > wei(&start), "the keeper was paid");
    assert_eq!(provider(ports[0], &loser)["passes"], 0);
    let status = net
        .client(ports[0], &["--json", "storage", "status", &keeper])
        .ok()
        .json();
    assert!(
        status["deals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == deal_id)
    );
    // When the deal ends, the keeper lets go of the data it held for it.
    wait_for("the deal ends and the keeper unpins its data", 90, || {
        rpc(ports[3], "data_ls", json!([])).is_some_and(|pins| {
            !pins
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"].as_str().is_some_and(|n| n.starts_with("deal 0x")))
        })
    });
    let ended = rpc(ports[0], "storage_deal", json!([deal_id])).unwrap();
    assert_eq!(ended["escrow"], "0 MMT", "{ended}");
    assert_eq!(
        ended["reserve"], "0 MMT",
        "every boundary's sealer was paid: {ended}"
    );
    assert!(head(ports[0]).unwrap() >= ended["end"].as_u64().unwrap());
}
