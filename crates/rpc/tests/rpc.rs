//! The RPC server against a real node on loopback: every method answers, malformed calls get
//! named JSON-RPC errors and the server keeps serving, proofs from `mm_getProof` verify against
//! the block's state root, WebSocket subscribers hear of new heads and follow every event with
//! a cursor, admin calls need the token (and a page of another origin, or a rebinding host,
//! gets nothing), and batches are capped.

use std::{
    io::{Read as _, Write as _},
    net::SocketAddr,
    sync::Arc,
};

use metamesh_crypto::{SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_node::{Chain, NodeService, PoolConfig, SealPlan};
use metamesh_primitives::{AccountAction, Action, Amount, DataAction, Transaction, WorkKind};
use metamesh_rpc::RpcConfig;
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};
use serde_json::{Value, json};

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(Suite::Sm, &Suite::Sm.hash(&[b'r', i])).unwrap()
}

const TOKEN: &str = "a-test-token";

/// A plain HTTP/1.1 POST with extra header lines, so the test depends on no client library's
/// idea of JSON-RPC: the status and the body.
fn post_with(addr: SocketAddr, headers: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

/// A POST from a local tool that holds the token.
fn post(addr: SocketAddr, body: &str) -> String {
    let auth = format!("Host: localhost\r\nAuthorization: Bearer {TOKEN}\r\n");
    post_with(addr, &auth, body).1
}

fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    serde_json::from_str(&post(addr, &body)).unwrap()
}

fn call_as(addr: SocketAddr, headers: &str, method: &str, params: Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (status, text) = post_with(addr, headers, &body);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

struct Fixture {
    addr: SocketAddr,
    node: Arc<NodeService>,
    user: SecretKey,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Fixture {
    start_with(RpcConfig {
        admin_token: Some(TOKEN.into()),
        ..RpcConfig::default()
    })
    .await
}

async fn start_with(config: RpcConfig) -> Fixture {
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
        metamesh_rpc::serve(listener, served, config, async {
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

const METHODS: [&str; 33] = [
    "mm_chainId",
    "mm_getEntryProof",
    "mm_getParams",
    "mm_estimateGas",
    "mm_getEvents",
    "data_block",
    "storage_providers",
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
        let tx = |nonce, action: Action| {
            Transaction {
                chain_id: 9,
                nonce,
                gas_price: Params::default().min_gas_price,
                gas_limit: 100_000,
                action,
            }
            .sign(&user)
            .unwrap()
        };
        let transfer = tx(
            0,
            AccountAction::Transfer {
                to: friend,
                amount: Amount::from_mmt(4),
            }
            .into(),
        );
        let attest = tx(
            1,
            DataAction::Attest {
                digest: [7; 32],
                kind: WorkKind::Paper,
                metadata: b"doi:10.1/x".to_vec(),
            }
            .into(),
        );
        // The gas a transfer needs, as a dry run gives it.
        let estimate = call(
            addr,
            "mm_estimateGas",
            json!([format!("0x{}", hex::encode(transfer.to_rlp()))]),
        );
        let gas = estimate["result"].as_u64().unwrap();
        assert!((15_000..30_000).contains(&gas), "{estimate}");
        let params = call(addr, "mm_getParams", json!([]));
        assert_eq!(params["result"]["blockGasLimit"], 100_000_000);
        assert_eq!(params["result"]["pending"], Value::Null);
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
        let sent = call(
            addr,
            "mm_getTransactionReceipt",
            json!([format!("0x{}", hex::encode(transfer.hash(Suite::Sm)))]),
        );
        let used = sent["result"]["gasUsed"].as_u64().unwrap();
        // Equal but for the bytes of the gas limit itself (16 gas each).
        assert!(gas.abs_diff(used) <= 128, "estimated {gas}, used {used}");
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

        let record_key = format!("0x21{}", hex::encode([7u8; 32]));
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

        // A collection entry (the storage node the user registers) proves in two steps: the
        // collection's root under the state root, the entry under the collection's root.
        let offer = tx(
            2,
            metamesh_primitives::StorageAction::Offer {
                capacity: 1 << 30,
                price: Amount::ZERO,
                stake: Amount::from_mmt(1),
            }
            .into(),
        );
        let reply = call(
            addr,
            "mm_sendRawTransaction",
            json!([format!("0x{}", hex::encode(offer.to_rlp()))]),
        );
        assert!(reply.get("result").is_some(), "{reply}");
        seal(&node, 1_002);
        let me = user.public_key().address();
        let p = call(
            addr,
            "mm_getEntryProof",
            json!(["storageNodes", format!("0x{}", hex::encode(me.0)), "latest"]),
        )["result"]
            .clone();
        assert_eq!(p["value"], "0x01", "{p}");
        let nodes =
            |v: &Value| -> Vec<Vec<u8>> { v.as_array().unwrap().iter().map(unhex).collect() };
        let state_root: [u8; 32] = unhex(&p["stateRoot"]).try_into().unwrap();
        let root = metamesh_trie::verify_proof::<metamesh_trie::Sm3>(
            &state_root,
            &unhex(&p["rootTrieKey"]),
            &nodes(&p["rootProof"]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(format!("0x{}", hex::encode(&root)), p["collectionRoot"]);
        let root: [u8; 32] = root.try_into().unwrap();
        let entry = metamesh_trie::verify_proof::<metamesh_trie::Sm3>(
            &root,
            &me.0,
            &nodes(&p["entryProof"]),
        )
        .unwrap();
        assert_eq!(entry, Some(vec![1]));
        let none = call(addr, "mm_getEntryProof", json!(["noSuch", "0x00"]));
        assert!(
            none["error"]["message"]
                .as_str()
                .unwrap()
                .contains("storageNodes")
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

/// A raw HTTP/1.1 request with the admin token: the status code and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    http_with(
        addr,
        &format!("Authorization: Bearer {TOKEN}\r\n"),
        method,
        path,
        body,
    )
}

fn http_with(
    addr: SocketAddr,
    headers: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_need_the_token_and_foreign_pages_get_nothing() {
    let f = start().await;
    let addr = f.addr;
    let friend = key(3).public_key().address().to_string();
    tokio::task::spawn_blocking(move || {
        let propose = |headers: &str| call_as(addr, headers, "clique_propose", json!([friend, true]));
        // From loopback but without the token: refused.
        let (status, reply) = propose("Host: 127.0.0.1\r\n");
        assert_eq!((status, reply["error"]["code"].clone()), (200, json!(-32001)), "{reply}");
        // A wrong token, and a token without the Bearer scheme.
        let (_, reply) = propose("Host: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n");
        assert_eq!(reply["error"]["code"], -32001);
        let (_, reply) = propose(&format!("Host: 127.0.0.1\r\nAuthorization: {TOKEN}\r\n"));
        assert_eq!(reply["error"]["code"], -32001);
        // A page of another origin: its text/plain POST carries the origin, and is refused
        // whole, token or not, whatever the method.
        let foreign = format!("Host: 127.0.0.1:8545\r\nOrigin: https://evil.example\r\nAuthorization: Bearer {TOKEN}\r\n");
        assert_eq!(propose(&foreign).0, 403);
        assert_eq!(call_as(addr, &foreign, "mm_chainId", json!([])).0, 403);
        // DNS rebinding: the page's own name in Host.
        assert_eq!(propose(&format!("Host: rebind.evil.example:8545\r\nAuthorization: Bearer {TOKEN}\r\n")).0, 403);
        // The content routes are behind the same guard.
        let (status, _) = http_with(addr, "Origin: https://evil.example\r\n", "GET", "/content/car/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", b"");
        assert_eq!(status, 403);
        let (status, _) = http_with(addr, "", "POST", "/content/car", b"x");
        assert_eq!(status, 403, "a content write without the token");
        // The node's own origin, and the token: accepted.
        let own = format!("Host: 127.0.0.1:{}\r\nOrigin: http://127.0.0.1:{}\r\nAuthorization: Bearer {TOKEN}\r\n", addr.port(), addr.port());
        let (status, reply) = propose(&own);
        assert_eq!((status, reply["result"].clone()), (200, json!(true)), "{reply}");
        // Public methods need no token.
        let (_, reply) = call_as(addr, "Host: localhost\r\n", "mm_chainId", json!([]));
        assert_eq!(reply["result"], 9);
    })
    .await
    .unwrap();
    // A WebSocket from a foreign page is refused at the upgrade.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/",
            f.addr
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    // An operator who allows loopback: admin calls from loopback pass without a token — when
    // they name this machine. With every host allowed, a rebinding page's name still does not
    // get the exemption.
    let open = start_with(RpcConfig {
        admin_loopback: true,
        vhosts: vec!["*".into()],
        ..RpcConfig::default()
    })
    .await;
    let addr = open.addr;
    tokio::task::spawn_blocking(move || {
        let discard = json!([key(3).public_key().address().to_string()]);
        let (_, reply) = call_as(
            addr,
            "Host: localhost\r\n",
            "clique_discard",
            discard.clone(),
        );
        assert!(reply.get("result").is_some(), "{reply}");
        let (_, reply) = call_as(
            addr,
            "Host: rebind.evil.example:8545\r\n",
            "clique_discard",
            discard,
        );
        assert!(reply.get("error").is_some(), "{reply}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_capped_in_calls_and_in_bytes() {
    let f = start_with(RpcConfig {
        max_batch_bytes: 3_000,
        ..RpcConfig::default()
    })
    .await;
    let addr = f.addr;
    tokio::task::spawn_blocking(move || {
        let batch = |n: usize, method: &str, params: Value| {
            let calls: Vec<Value> = (0..n)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
                .collect();
            let text = post_with(
                addr,
                "Host: localhost\r\n",
                &Value::Array(calls).to_string(),
            )
            .1;
            serde_json::from_str::<Value>(&text).unwrap()
        };
        let over = batch(1_001, "mm_chainId", json!([]));
        assert_eq!(over["error"]["code"], -32600, "{over}");
        assert!(over["error"]["message"].as_str().unwrap().contains("1000"));
        let answers = batch(1_000, "mm_chainId", json!([]));
        assert_eq!(answers.as_array().unwrap().len(), 1_000);
        // Blocks are big answers: past 3,000 bytes the rest are refused, each by its id.
        let blocks = batch(40, "mm_getBlockByNumber", json!([0, true]));
        let list = blocks.as_array().unwrap();
        assert_eq!(list.len(), 40);
        assert!(list[0].get("result").is_some());
        assert_eq!(list[39]["error"]["code"], -32005, "{}", list[39]);
        assert_eq!(list[39]["id"], 39);
        // Calls that can cost a block's work are capped per batch, the rest answered.
        let scans = batch(2, "mm_getEvents", json!([{"fromBlock": 0}]));
        assert!(scans[0].get("result").is_some(), "{}", scans[0]);
        assert_eq!(scans[1]["error"]["code"], -32005, "{}", scans[1]);
        let dry_runs = batch(17, "mm_estimateGas", json!([]));
        let list = dry_runs.as_array().unwrap();
        assert_eq!(list[15]["error"]["code"], -32602, "{}", list[15]);
        assert_eq!(list[16]["error"]["code"], -32005, "{}", list[16]);
        assert!(
            list[16]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 16")
        );
    })
    .await
    .unwrap();
}

/// A signed transfer of 1 MMT from the fixture's user at `nonce`.
fn transfer(user: &SecretKey, nonce: u64) -> String {
    let tx = Transaction {
        chain_id: 9,
        nonce,
        gas_price: Params::default().min_gas_price,
        gas_limit: 50_000,
        action: AccountAction::Transfer {
            to: key(9).public_key().address(),
            amount: Amount::from_mmt(1),
        }
        .into(),
    }
    .sign(user)
    .unwrap();
    format!("0x{}", hex::encode(tx.to_rlp()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_from_genesis_a_page_at_a_time_and_over_a_resumable_subscription() {
    use futures_util::{SinkExt as _, StreamExt as _};
    let f = start().await;
    let (addr, node, user) = (f.addr, f.node.clone(), f.user.clone());
    let connect = |addr: SocketAddr, cursor: Value| async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        let params = json!(["events", {"cursor": cursor}]);
        let sub = json!({"jsonrpc": "2.0", "id": 1, "method": "mm_subscribe", "params": params});
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            sub.to_string().into(),
        ))
        .await
        .unwrap();
        let reply: Value =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        assert!(reply["result"].is_string(), "{reply}");
        ws
    };
    let genesis_cursor = json!(format!("0-{}-0", hex::encode(node.genesis_hash())));
    let mut ws = connect(addr, genesis_cursor).await;
    // Five blocks, with one or two transfers in each.
    let (n2, u2) = (node.clone(), user.clone());
    tokio::task::spawn_blocking(move || {
        let mut nonce = 0;
        for b in 1..=5u64 {
            for _ in 0..(b % 2 + 1) {
                let r = call(addr, "mm_sendRawTransaction", json!([transfer(&u2, nonce)]));
                assert!(r.get("result").is_some(), "{r}");
                nonce += 1;
            }
            seal(&n2, 1_000 + b);
        }
    })
    .await
    .unwrap();
    // mm_getEvents from genesis: every sealing reward and every transaction's events.
    let all = tokio::task::spawn_blocking(move || {
        let all = call(addr, "mm_getEvents", json!([{"fromBlock": 0}]))["result"].clone();
        assert_eq!(all["cursor"], Value::Null, "{all}");
        let events = all["events"].as_array().unwrap().clone();
        let kinds = |k: &str| events.iter().filter(|e| e["event"]["type"] == k).count();
        assert_eq!(kinds("sealReward"), 5);
        assert_eq!(kinds("fee"), 8);
        assert_eq!(kinds("transfer"), 8);
        let rewards = call(
            addr,
            "mm_getEvents",
            json!([{"kinds": ["sealReward"], "toBlock": 3}]),
        );
        assert_eq!(rewards["result"]["events"].as_array().unwrap().len(), 3);
        let mine = call(
            addr,
            "mm_getEvents",
            json!([{"address": key(9).public_key().address().to_string()}]),
        );
        assert_eq!(mine["result"]["events"].as_array().unwrap().len(), 8);
        // Page by page: the same list.
        let mut paged = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let page = call(
                addr,
                "mm_getEvents",
                json!([{"limit": 3, "cursor": cursor}]),
            )["result"]
                .clone();
            paged.extend(page["events"].as_array().unwrap().clone());
            cursor = page["cursor"].clone();
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(paged, events);
        let bad = call(addr, "mm_getEvents", json!([{"kinds": ["noSuchKind"]}]));
        assert_eq!(bad["error"]["code"], -32602);
        events
    })
    .await
    .unwrap();
    // The subscription from genesis saw the same events; half way, the client reconnects
    // with its cursor and sees the rest exactly once.
    let mut seen = Vec::new();
    let half = all.len() / 2;
    while seen.len() < half {
        let note: Value =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        assert_eq!(note["params"]["result"]["removed"], false);
        seen.push(note["params"]["result"].clone());
    }
    drop(ws);
    let mut ws = connect(addr, seen.last().unwrap()["cursor"].clone()).await;
    while seen.len() < all.len() {
        let note: Value =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        seen.push(note["params"]["result"].clone());
    }
    for (got, want) in seen.iter().zip(&all) {
        assert_eq!(got["event"], want["event"]);
        assert_eq!(got["cursor"], want["cursor"]);
    }
    // Nothing more comes until there is more.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(1_500), ws.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");
}
