//! `/optimade` on a real server: the OPTIMADE validator (optimade-python-tools 1.5.0, installed
//! by scripts/install-deps.sh) passes in full, and bad filters and parameters get 400 with
//! the reason, unknown entries 404, other major versions 553.

use std::{
    io::{Read as _, Write as _},
    net::SocketAddr,
    sync::Arc,
};

mod common;

use metamesh_knowledge::{KnowledgeGraph, Limits};
use serde_json::Value;

/// A node whose graph is empty: `/optimade` serves BMCI's seed.
async fn serve() -> (SocketAddr, tempfile::TempDir) {
    common::serve(Arc::new(KnowledgeGraph::new().unwrap()), Limits::default()).await
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optimade_validator_passes_in_full() {
    let (addr, _dir) = serve().await;
    let url = format!("http://127.0.0.1:{}/optimade", addr.port());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; from optimade.validator import validate; sys.argv = ['optimade-validator', sys.argv[1]]; validate()",
                &url,
            ])
            .output()
            .expect("python3 with optimade 1.5.0 (scripts/install-deps.sh)")
    })
    .await
    .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let passed = text
        .lines()
        .find(|l| l.contains("Passed") && l.contains("out of"))
        .unwrap_or_else(|| panic!("no summary: {text}"));
    let numbers: Vec<u32> = passed
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        numbers.len() >= 2 && numbers[0] == numbers[1] && numbers[0] > 50,
        "{passed}"
    );
    assert!(
        text.contains("optional tests") && !text.to_lowercase().contains("failed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_named() {
    let (addr, _dir) = serve().await;
    let run = move |path: &'static str| tokio::task::spawn_blocking(move || get(addr, path));
    let (status, v) = run("/optimade/v1/structures?filter=elements%20HAS%20ALL%20%22B%22,%22N%22")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(!v["data"].as_array().unwrap().is_empty(), "{v}");
    for s in v["data"].as_array().unwrap() {
        let e = s["attributes"]["elements"].as_array().unwrap();
        assert!(e.contains(&"B".into()) && e.contains(&"N".into()));
    }
    for (path, status, says) in [
        (
            "/optimade/v1/structures?filter=nelements%20%3D",
            400,
            "expected a value",
        ),
        (
            "/optimade/v1/structures?filter=colour%3D2",
            400,
            "not a property",
        ),
        ("/optimade/v1/structures?page_limit=0", 400, "page_limit"),
        ("/optimade/v1/structures?sort=species", 400, "sortable"),
        (
            "/optimade/v1/structures?response_fields=a,B%20C,c",
            400,
            "response_fields",
        ),
        (
            "/optimade/v1/structures/no-such-id",
            404,
            "no structures entry",
        ),
        ("/optimade/v2/info", 553, "not served"),
        ("/optimade/v1/calculations", 404, "no OPTIMADE endpoint"),
    ] {
        let (got, v) = run(path).await.unwrap();
        assert_eq!(got, status, "{path}: {v}");
        let detail = v["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{path}: {detail}");
        assert!(v.get("data").is_none(), "an error has no data");
    }
    let (status, v) = run("/optimade/v1/structures?filter=_other_field%3D2")
        .await
        .unwrap();
    assert_eq!(
        status, 200,
        "another provider's field is unknown here, not an error"
    );
    assert_eq!(v["meta"]["data_returned"], 0);
}
