//! The RPC server against a real node on loopback: every method answers, malformed calls get
//! named JSON-RPC errors and the server keeps serving, proofs from `mm_getProof` verify against
//! the block's state root, and WebSocket subscribers hear of new heads.

use std::{
    io::{Read as _, Write as _},
    net::SocketAddr,
    sync::Arc,
};

use metamesh_crypto::{SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_node::{Chain, NodeService, PoolConfig, SealPlan};
use metamesh_primitives::{Action, Amount, Transaction, WorkKind};
use metamesh_rpc::RpcConfig;
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};
use serde_json::{Value, json};

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(Suite::Sm, &Suite::Sm.hash(&[b'r', i])).unwrap()
}

/// A plain HTTP/1.1 POST, so the test depends on no client library's idea of JSON-RPC.
fn post(addr: SocketAddr, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    serde_json::from_str(&post(addr, &body)).unwrap()
}

struct Fixture {
    addr: SocketAddr,
    node: Arc<NodeService>,
    user: SecretKey,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Fixture {
    let (signer, user) = (key(1), key(2));
    let genesis = Genesis {
        chain_id: 9,
        suite: Suite::Sm,
        timestamp: 1_000,
        clique: CliqueParams {
            period: 1,
            epoch: 30_000,
            signers: vec![signer.public_key().address()],
        },
        params: Params::default(),
        grants: vec![Grant {
            address: user.public_key().address(),
            amount: Amount::from_mmt(50),
            pool: Pool::Airdrops,
        }],
    };
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::open(
        &dir.path().join("chain.redb"),
        genesis,
        ChainDbConfig::default(),
    )
    .unwrap();
    let node = NodeService::new(chain, Some(signer), PoolConfig::default());
    let blocks = metamesh_storage::BlockStore::open(dir.path().join("blocks.redb")).unwrap();
    node.attach_content(Arc::new(metamesh_node::Content::new(blocks)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = node.clone();
    tokio::spawn(async move {
        metamesh_rpc::serve(listener, served, RpcConfig::default(), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Fixture {
        addr,
        node,
        user,
        _dir: dir,
        _stop: stop,
    }
}

fn seal(node: &NodeService, now: u64) {
    let SealPlan::Seal { parent, .. } = node.plan(now, 0).unwrap() else {
        panic!("not ready to seal")
    };
    node.seal(parent, now).unwrap().unwrap();
}

const METHODS: [&str; 27] = [
    "mm_chainId",
    "data_ls",
    "data_has",
    "data_stat",
    "data_unpin",
    "data_gc",
    "data_grants",
    "storage_provider",
    "storage_deal",
    "storage_deals",
    "mm_blockNumber",
    "mm_getBlockByNumber",
    "mm_getBlockByHash",
    "mm_getTransactionByHash",
    "mm_getTransactionReceipt",
    "mm_getBalance",
    "mm_getNonce",
    "mm_sendRawTransaction",
    "mm_getRecord",
    "mm_getProof",
    "clique_getSigners",
    "clique_getSignersAtHash",
    "clique_getSnapshot",
    "clique_proposals",
    "clique_propose",
    "clique_discard",
    "clique_status",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_survives_malformed_params() {
    let f = start().await;
    let addr = f.addr;
    tokio::task::spawn_blocking(move || {
        let bad_params = [json!([5]), json!(["zz"]), json!(["0x12"]), json!([{"a": 1}]), json!([true, "x", -1]), json!({"not": "an array"}), json!(["0x", 9999999999999999u64])];
        for method in METHODS {
            for params in &bad_params {
                let reply = call(addr, method, params.clone());
                assert_eq!(reply["jsonrpc"], "2.0", "{method} {params}: {reply}");
                assert!(reply.get("error").is_some() || reply.get("result").is_some(), "{method} {params}: {reply}");
                if let Some(e) = reply.get("error") {
                    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
                }
            }
        }
        let parse = serde_json::from_str::<Value>(&post(addr, "{not json")).unwrap();
        assert_eq!(parse["error"]["code"], -32700);
        let unknown = call(addr, "mm_nope", json!([]));
        assert_eq!(unknown["error"]["code"], -32601);
        let missing = call(addr, "mm_getBalance", json!([]));
        assert_eq!(missing["error"]["code"], -32602);
        let batch: Value = serde_json::from_str(&post(addr, r#"[{"jsonrpc":"2.0","id":1,"method":"mm_chainId"},{"jsonrpc":"2.0","method":"mm_chainId"},{"jsonrpc":"1.0","id":3,"method":"x"}]"#)).unwrap();
        assert_eq!(batch.as_array().unwrap().len(), 2, "the notification gets no answer");
        assert_eq!(batch[0]["result"], 9);
        assert_eq!(batch[1]["error"]["code"], -32600);
        // Still serving.
        assert_eq!(call(addr, "mm_blockNumber", json!([]))["result"], 0);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_and_an_attestation_round_trip_with_proof() {
    let f = start().await;
    let (addr, node, user) = (f.addr, f.node.clone(), f.user.clone());
    tokio::task::spawn_blocking(move || {
        let friend = key(3).public_key().address();
        let tx = |nonce, action| {
            Transaction {
                chain_id: 9,
                nonce,
                fee: "0.01".parse().unwrap(),
                action,
            }
            .sign(&user)
            .unwrap()
        };
        let transfer = tx(
            0,
            Action::Transfer {
                to: friend,
                amount: Amount::from_mmt(4),
            },
        );
        let attest = tx(
            1,
            Action::Attest {
                digest: [7; 32],
                kind: WorkKind::Paper,
                metadata: b"doi:10.1/x".to_vec(),
            },
        );
        for t in [&transfer, &attest] {
            let reply = call(
                addr,
                "mm_sendRawTransaction",
                json!([format!("0x{}", hex::encode(t.to_rlp()))]),
            );
            assert_eq!(
                reply["result"],
                format!("0x{}", hex::encode(t.hash(Suite::Sm)))
            );
        }
        let again = call(
            addr,
            "mm_sendRawTransaction",
            json!([format!("0x{}", hex::encode(transfer.to_rlp()))]),
        );
        assert_eq!(again["error"]["message"], "already in the pool");
        let pending = call(
            addr,
            "mm_getTransactionByHash",
            json!([format!("0x{}", hex::encode(transfer.hash(Suite::Sm)))]),
        );
        assert_eq!(pending["result"]["blockHash"], Value::Null);

        seal(&node, 1_001);
        let block = call(addr, "mm_getBlockByNumber", json!(["latest", true]));
        assert_eq!(block["result"]["number"], 1);
        assert_eq!(block["result"]["transactions"].as_array().unwrap().len(), 2);
        let receipt = call(
            addr,
            "mm_getTransactionReceipt",
            json!([format!("0x{}", hex::encode(attest.hash(Suite::Sm)))]),
        );
        assert_eq!(receipt["result"]["status"], "applied", "{receipt}");
        assert_eq!(receipt["result"]["events"][1]["type"], "attested");
        let balance = call(addr, "mm_getBalance", json!([friend.to_string(), 1]));
        assert_eq!(balance["result"]["mmt"], "4 MMT");
        assert_eq!(
            call(
                addr,
                "mm_getNonce",
                json!([user.public_key().address().to_string()])
            )["result"],
            2
        );

        let record_key = format!("0x03{}", hex::encode([7u8; 32]));
        let record = call(addr, "mm_getRecord", json!([record_key]));
        assert_eq!(record["result"]["kind"], "paper");
        assert_eq!(record["result"]["block"], 1);

        let proof = call(addr, "mm_getProof", json!([record_key, "latest"]))["result"].clone();
        let unhex = |v: &Value| hex::decode(&v.as_str().unwrap()[2..]).unwrap();
        let root: [u8; 32] = unhex(&proof["stateRoot"]).try_into().unwrap();
        assert_eq!(proof["stateRoot"], block["result"]["stateRoot"]);
        let nodes: Vec<Vec<u8>> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(unhex)
            .collect();
        let value = metamesh_trie::verify_proof::<metamesh_trie::Sm3>(
            &root,
            &unhex(&proof["trieKey"]),
            &nodes,
        )
        .unwrap();
        assert_eq!(
            value.map(|v| format!("0x{}", hex::encode(v))),
            proof["value"].as_str().map(str::to_owned)
        );

        // The independent verifier (Python, written from docs/FORMATS.md) agrees.
        let script = format!(
            "{}/../../tests/independent/mpt_verify.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut python = std::process::Command::new("python3")
            .args([script.as_str(), "sm3"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 (scripts/install-deps.sh)");
        python
            .stdin
            .take()
            .unwrap()
            .write_all(proof.to_string().as_bytes())
            .unwrap();
        let out = python.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            proof["value"].as_str().unwrap()
        );

        let signers = call(addr, "clique_getSigners", json!([]));
        assert_eq!(signers["result"].as_array().unwrap().len(), 1);
        assert_eq!(
            call(addr, "clique_propose", json!([friend.to_string(), true]))["result"],
            true
        );
        assert_eq!(
            call(addr, "clique_proposals", json!([]))["result"][friend.to_string()],
            true
        );
        assert_eq!(
            call(addr, "clique_discard", json!([friend.to_string()]))["result"],
            true
        );
        assert_eq!(
            call(addr, "clique_status", json!([]))["result"]["numBlocks"],
            1
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscribers_hear_new_heads() {
    use futures_util::{SinkExt as _, StreamExt as _};
    let f = start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", f.addr))
        .await
        .unwrap();
    let send = |v: Value| tokio_tungstenite::tungstenite::Message::Text(v.to_string().into());
    ws.send(send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "mm_subscribe", "params": ["newHeads"]}),
    ))
    .await
    .unwrap();
    let reply: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert!(reply["result"].is_string(), "{reply}");
    ws.send(send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "mm_chainId"}),
    ))
    .await
    .unwrap();
    let reply: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply["result"], 9);
    let node = f.node.clone();
    tokio::task::spawn_blocking(move || seal(&node, 1_001))
        .await
        .unwrap();
    let note: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(note["method"], "mm_subscription");
    assert_eq!(note["params"]["result"]["number"], 1);
}

/// A raw HTTP/1.1 request: the status code and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut rest = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        rest = dechunk(&rest);
    }
    (status, rest)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..line]).unwrap().trim(), 16).unwrap();
        raw = &raw[line + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_endpoints_store_serve_and_refuse_bad_input() {
    let f = start().await;
    let addr = f.addr;
    tokio::task::spawn_blocking(move || {
        let kubo = std::fs::read(
            metamesh_testkit::vectors_dir().join("unixfs_hello-world-nl_kubo-default.car"),
        )
        .unwrap();
        let cid = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        let (status, body) = http(addr, "POST", "/content/car", b"not a car file");
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("CAR"));
        let mut truncated = kubo.clone();
        truncated.truncate(kubo.len() - 5);
        let (status, body) = http(addr, "POST", "/content/car", &truncated);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        let (status, body) = http(addr, "POST", "/content/car?pin=bogus", &kubo);
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("pin=bogus"));
        // Nothing of the refused uploads is pinned.
        assert_eq!(call(addr, "data_ls", json!([]))["result"], json!([]));

        let (status, body) = http(addr, "POST", "/content/car?name=hello.txt", &kubo);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["pinned"][0], cid);
        let (status, body) = http(addr, "GET", &format!("/content/car/{cid}"), b"");
        assert_eq!(status, 200);
        assert_eq!(body, kubo, "the exported CAR is Kubo's, byte for byte");
        let ls = call(addr, "data_ls", json!([]));
        assert_eq!(ls["result"][0]["cid"], cid);
        assert_eq!(ls["result"][0]["name"], "hello.txt");
        let has = call(addr, "data_has", json!([cid]));
        assert_eq!(has["result"]["size"], 12);

        let (status, body) = http(addr, "GET", "/content/car/not-a-cid", b"");
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        // Nobody provides this one: a clear 404 after the fetch gives up.
        let absent = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
        let (status, body) = http(addr, "GET", &format!("/content/car/{absent}"), b"");
        assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
        assert!(call(addr, "data_unpin", json!([cid]))["result"] == json!(true));
        let gc = call(addr, "data_gc", json!([]));
        assert_eq!(gc["result"]["removedBlocks"], 1);
        assert_eq!(
            call(addr, "mm_blockNumber", json!([]))["result"],
            0,
            "still serving"
        );
    })
    .await
    .unwrap();
}
