//! Against the JS IPFS tools from npm (installed by `scripts/install-deps.sh` into
//! `tools/js`): the JS UnixFS importer gives our CIDs on data of our choosing, and a CAR file
//! we write is read back by `@ipld/car` and `ipfs-unixfs-exporter` byte for byte.

use std::{collections::HashMap, path::PathBuf, process::Command};

use metamesh_storage::{Cid, Profile, car::CarWriter, import_bytes, walk};

fn tools() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/js");
    assert!(
        dir.join("node_modules/ipfs-unixfs-importer").is_dir(),
        "the JS tools are not installed: run scripts/install-deps.sh"
    );
    dir
}

fn node(script: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new("node")
        .arg(tools().join(script))
        .args(args)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) as u8
        })
        .collect()
}

#[test]
fn js_importer_agrees_and_js_reads_our_car_files() {
    let dir = tempfile::tempdir().unwrap();
    for (i, size) in [1usize, 262_145, 3_000_000, 174 * 262_144 + 7]
        .into_iter()
        .enumerate()
    {
        let bytes = data(size, i as u64 + 1);
        let file = dir.path().join(format!("in{i}"));
        std::fs::write(&file, &bytes).unwrap();
        for (profile, version) in [(Profile::KUBO_DEFAULT, "0"), (Profile::KUBO_CIDV1, "1")] {
            let mut blocks = Vec::new();
            let root = import_bytes(profile, &bytes, &mut blocks).unwrap();
            let js = node("add.mjs", &[file.to_str().unwrap(), version]);
            assert_eq!(js[0], root.cid.to_string(), "size {size}, CIDv{version}");

            let source: HashMap<Cid, Vec<u8>> =
                blocks.into_iter().map(|b| (b.cid, b.data)).collect();
            let car = dir.path().join(format!("in{i}-{version}.car"));
            let mut writer =
                CarWriter::new(std::fs::File::create(&car).unwrap(), &[root.cid]).unwrap();
            walk(&source, &root.cid, &mut |c, d| writer.write(c, d)).unwrap();
            writer.finish().unwrap();
            let out = dir.path().join(format!("out{i}-{version}"));
            let read = node(
                "car-cat.mjs",
                &[car.to_str().unwrap(), out.to_str().unwrap()],
            );
            assert_eq!(read[0], root.cid.to_string());
            assert_eq!(
                std::fs::read(&out).unwrap(),
                bytes,
                "size {size}, CIDv{version}"
            );
        }
    }
}

/// A directory of `n` small files whose names are `len` characters long.
fn directory(root: &std::path::Path, name: &str, n: usize, len: usize) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let name = format!("{i:06}-{}", "x".repeat(len.saturating_sub(7)));
        std::fs::write(dir.join(name), format!("entry {i}\n")).unwrap();
    }
    dir
}

#[test]
fn js_importer_agrees_on_directories_kubo_would_shard() {
    let scratch = tempfile::tempdir().unwrap();
    // 3,000 links of 12 + 34 bytes: 138,000 bytes, a flat directory; 3,600 of 40 + 34 bytes:
    // 266,400, just past 256 KiB, a HAMT (in every profile's estimate); and that HAMT inside
    // another directory.
    let flat = directory(scratch.path(), "flat", 3_000, 12);
    let sharded = directory(scratch.path(), "sharded", 3_600, 40);
    let outer = scratch.path().join("outer");
    std::fs::create_dir(&outer).unwrap();
    std::fs::rename(
        directory(scratch.path(), "inner", 3_600, 40),
        outer.join("inner"),
    )
    .unwrap();
    std::fs::write(outer.join("readme.txt"), b"a sharded directory inside\n").unwrap();
    for dir in [&flat, &sharded, &outer] {
        for (profile, mode) in [
            (Profile::KUBO_DEFAULT, "0"),
            (Profile::KUBO_CIDV1, "1"),
            (Profile::UNIXFS_V1_2025, "unixfs-v1-2025"),
        ] {
            let mut blocks = Vec::new();
            let root = metamesh_storage::import_dir(
                profile,
                dir,
                metamesh_storage::DirOptions::default(),
                &mut blocks,
                &mut |_| {},
            )
            .unwrap();
            let js = node("add-dir.mjs", &[dir.to_str().unwrap(), mode]);
            assert_eq!(js[0], root.cid.to_string(), "{} in {mode}", dir.display());
        }
    }
}
