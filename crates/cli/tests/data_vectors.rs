//! `metamesh data add --only-hash` (no node) prints Kubo's CIDs for the conformance vectors:
//! both the CIDv0 default and `--cid-version 1`, past 174 chunks, and the 2025 profile; and it
//! refuses bad flags with a message.

mod common;

use std::io::Write as _;

use common::Scratch;
use metamesh_testkit::{unixfs_input, vector_json};

#[test]
fn data_add_prints_kubos_cids() {
    let s = Scratch::new();
    let v = vector_json("unixfs_cids.json");
    let wanted = [
        "hello-world-nl",
        "empty",
        "pattern-262145",
        "pattern-174x262144+1",
        "chacha-v0-seed-174x262144+1",
        "chacha-chunk-v1-seed-1MiB+1",
    ];
    let mut checked = 0;
    for input in v["inputs"].as_array().unwrap() {
        let id = input["id"].as_str().unwrap();
        if !wanted.contains(&id) {
            continue;
        }
        let path = s.path(id);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        assert!(unixfs_input(input, &mut |b| file.write_all(b).unwrap()));
        file.flush().unwrap();
        drop(file);
        for row in v["vectors"].as_array().unwrap() {
            if row["input"] != id {
                continue;
            }
            let flags: &[&str] = match row["setting"].as_str().unwrap() {
                "kubo-default" => &[],
                "kubo-cidv1" => &["--cid-version", "1"],
                "unixfs-v1-2025" => &["--profile", "unixfs-v1-2025"],
                _ => continue,
            };
            let mut args = vec![
                "--json",
                "data",
                "add",
                "--only-hash",
                path.to_str().unwrap(),
            ];
            args.extend_from_slice(flags);
            let out = s.mm(&args).ok().json();
            assert_eq!(out["cid"], row["cid"], "{id} {flags:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 11);

    let bad = s.mm(&[
        "data",
        "add",
        "--only-hash",
        "--cid-version",
        "2",
        &s.p("empty"),
    ]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("--cid-version must be 0 or 1"),
        "{}",
        bad.stderr
    );
    let bad = s.mm(&[
        "data",
        "add",
        "--only-hash",
        "--profile",
        "nope",
        &s.p("empty"),
    ]);
    assert!(bad.stderr.contains("unknown profile"), "{}", bad.stderr);
    let missing = s.mm(&["data", "add", "--only-hash", &s.p("no-such-file")]);
    assert!(
        missing.stderr.contains("no-such-file"),
        "{}",
        missing.stderr
    );
}
