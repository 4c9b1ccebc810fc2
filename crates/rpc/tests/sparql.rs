//! `/sparql` on a real server: the SPARQL 1.1 Protocol's GET and both POST forms, the four
//! result formats, the service description; bad queries, updates, unknown formats and media
//! types refused by name; a query past its time limit answered with 503 while the server
//! keeps serving.

use std::{
    io::{Read as _, Write as _},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};

mod common;

use common::serve;
use metamesh_crypto::Address;
use metamesh_knowledge::{Change, Facts, KnowledgeGraph, Limits, Provenance, records, vocab};
use metamesh_state::DataRecord;

/// One HTTP/1.1 exchange: the status, the content type and the body.
fn exchange(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (status, content_type, body.to_owned())
}

fn get(addr: SocketAddr, query_string: &str, accept: &str) -> (u16, String, String) {
    exchange(
        addr,
        &format!(
            "GET /sparql{query_string} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn post(addr: SocketAddr, content_type: &str, body: &str) -> (u16, String, String) {
    exchange(
        addr,
        &format!(
            "POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A graph of `n` registered datasets, as the indexer would write them.
fn graph(n: u8) -> Arc<KnowledgeGraph> {
    let kg = KnowledgeGraph::new().unwrap();
    let changes: Vec<Change> = (0..n)
        .map(|i| {
            let prov = Provenance {
                block: [i; 32],
                number: u64::from(i) + 1,
                time: 1_700_000_000,
                sealer: Some(Address([1; 20])),
                tx: Some(([i + 100; 32], 0, Some(Address([2; 20])))),
                log_index: 0,
                event: "dataRegistered",
            };
            let facts = Facts::Dataset {
                digest: [i; 32],
                owner: Address([2; 20]),
                record: Some(DataRecord {
                    owner: Address([2; 20]),
                    block: u64::from(i) + 1,
                    time: 1_700_000_000,
                    size: 1_000 + u64::from(i),
                    cid: Vec::new(),
                    encrypted: false,
                    profile: String::new(),
                    title: format!("boron carbide hardness series {i}"),
                    licence: "CC-BY-4.0".into(),
                    metadata: Vec::new(),
                }),
            };
            Change::Put {
                graph: vocab::record_graph(&prov.block, 0),
                quads: records::quads(&prov, &facts),
            }
        })
        .collect();
    kg.apply(&changes, None).unwrap();
    Arc::new(kg)
}

const TITLES: &str = "SELECT ?t WHERE { ?d a dcat:Dataset ; dct:title ?t } ORDER BY ?t";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_answers_and_refuses_by_name() {
    let (addr, _dir) = serve(graph(12), Limits::default()).await;
    let run = move |f: Box<dyn FnOnce(SocketAddr) -> (u16, String, String) + Send>| {
        tokio::task::spawn_blocking(move || f(addr))
    };

    let (status, ct, body) = run(Box::new(|a| {
        get(
            a,
            &format!("?query={}", encode(TITLES)),
            "application/sparql-results+json",
        )
    }))
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "application/sparql-results+json");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"]["bindings"].as_array().unwrap().len(), 12);

    for (accept, prefix) in [
        ("application/sparql-results+xml", "<?xml"),
        ("text/csv", "t\r\n"),
        ("text/tab-separated-values", "?t\n"),
    ] {
        let body = format!("query={}", encode(TITLES));
        let (status, ct, text) = run(Box::new(move |a| {
            exchange(
                a,
                &format!(
                    "POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
            )
        }))
        .await
        .unwrap();
        assert_eq!(status, 200);
        assert!(ct.starts_with(accept), "{ct}");
        assert!(text.starts_with(prefix), "{accept}: {text}");
    }

    let (status, _, text) = run(Box::new(|a| {
        post(
            a,
            "application/sparql-query",
            "ASK { ?s dct:title \"boron carbide hardness series 3\" }",
        )
    }))
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("true"), "{text}");

    let (status, ct, text) = run(Box::new(|a| get(a, "", "*/*"))).await.unwrap();
    assert_eq!((status, ct.as_str()), (200, "text/turtle"));
    assert!(text.contains("sd:Service"));

    // Refusals name the problem.
    let (status, _, text) = run(Box::new(|a| {
        get(
            a,
            &format!("?query={}", encode("SELECT ?s WHERE { ?s ?p")),
            "*/*",
        )
    }))
    .await
    .unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("SPARQL syntax"), "{text}");
    let (status, _, text) = run(Box::new(|a| {
        post(a, "application/sparql-update", "DROP ALL")
    }))
    .await
    .unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("read-only"), "{text}");
    let (status, _, text) = run(Box::new(|a| post(a, "text/plain", TITLES)))
        .await
        .unwrap();
    assert_eq!(status, 415, "{text}");
    let (status, _, text) = run(Box::new(|a| {
        get(a, &format!("?query={}", encode(TITLES)), "image/png")
    }))
    .await
    .unwrap();
    assert_eq!(status, 406, "{text}");
    let (status, _, text) = run(Box::new(|a| {
        get(
            a,
            &format!(
                "?query={}",
                encode("SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }")
            ),
            "*/*",
        )
    }))
    .await
    .unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("not offered"), "{text}");

    // Full text through the SERVICE.
    let q = "SELECT ?s WHERE { SERVICE mm:search { ?s mm:matches \"hardness series 7\" ; mm:limit 1 } }";
    let (status, _, text) = run(Box::new(move |a| {
        get(
            a,
            &format!("?query={}", encode(q)),
            "application/sparql-results+json",
        )
    }))
    .await
    .unwrap();
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["results"]["bindings"].as_array().unwrap().len(), 1);

    // Bombs that would grow without reading the store are refused up front.
    let mut doubling = String::from("SELECT * { BIND(\"xxxxxxxx\" AS ?a0)");
    for i in 0..40 {
        doubling.push_str(&format!(" BIND(CONCAT(?a{i}, ?a{i}) AS ?a{})", i + 1));
    }
    doubling.push('}');
    let nested = format!(
        "SELECT * {{ {} ?s ?p ?o {} }}",
        "{".repeat(5_000),
        "}".repeat(5_000)
    );
    for bomb in [doubling, nested] {
        let (status, _, text) = run(Box::new(move |a| {
            post(a, "application/sparql-query", &bomb)
        }))
        .await
        .unwrap();
        assert_eq!(status, 400, "{text}");
    }
    // A format asked for by name that the answer has no form in.
    let (status, _, _) = run(Box::new(|a| {
        get(
            a,
            &format!("?query={}&format=turtle", encode(TITLES)),
            "*/*",
        )
    }))
    .await
    .unwrap();
    assert_eq!(status, 406);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_limit_is_cancelled_and_the_node_keeps_serving() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, _dir) = serve(graph(40), limits).await;
    let heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?p ?d . ?e ?p ?f . ?g ?p ?h . ?i ?p ?j . ?k ?p ?l }";
    // More heavy queries than the endpoint runs at once, one after another: each is stopped
    // at its limit and gives its slot back (a query left running would keep it, and the
    // fifth would find the endpoint busy).
    for _ in 0..5 {
        let (status, _, text) = tokio::task::spawn_blocking(move || {
            get(addr, &format!("?query={}", encode(heavy)), "*/*")
        })
        .await
        .unwrap();
        assert_eq!(status, 503, "{text}");
        assert!(text.contains("time limit"), "{text}");
    }
    let (status, _, _) = tokio::task::spawn_blocking(move || {
        get(addr, &format!("?query={}", encode(TITLES)), "*/*")
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "the endpoint still answers");
}
