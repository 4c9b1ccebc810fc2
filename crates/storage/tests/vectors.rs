//! Kubo's CIDs (`shared/vectors/unixfs_cids.json`) and CAR files, reproduced.

use std::collections::HashMap;

use metamesh_storage::{
    Block, BlockSink, Cid, DirOptions, FileImporter, HashOnly, Profile, StorageError,
    car::{CarReader, CarWriter},
    import_dir, walk,
};
use metamesh_testkit::{unixfs_input, vector_json};
use sha2::Digest as _;

fn profile(setting: &str) -> Profile {
    let mut p = match setting {
        "kubo-default" => Profile::KUBO_DEFAULT,
        "kubo-cidv1" => Profile::KUBO_CIDV1,
        "unixfs-v1-2025" => Profile::UNIXFS_V1_2025,
        "kubo-v0-raw-leaves" => Profile {
            raw_leaves: true,
            ..Profile::KUBO_DEFAULT
        },
        "kubo-cidv1-no-raw-leaves" => Profile {
            raw_leaves: false,
            ..Profile::KUBO_CIDV1
        },
        "kubo-default-max-links-1024" => Profile {
            max_links: 1024,
            ..Profile::KUBO_DEFAULT
        },
        other => panic!("unknown setting {other}"),
    };
    p.check().unwrap();
    if setting == "kubo-default" {
        p = "unixfs-v0-2015".parse().unwrap();
    }
    p
}

struct Counting(u64);

impl BlockSink for Counting {
    fn put(&mut self, _: Block) -> Result<(), StorageError> {
        self.0 += 1;
        HashOnly.put(Block::new(cid::Version::V1, 0x55, Vec::new()))
    }
}

#[test]
fn every_vector_gives_kubos_cid() {
    let v = vector_json("unixfs_cids.json");
    let inputs: HashMap<&str, &serde_json::Value> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i))
        .collect();
    let (mut checked, mut needs_go) = (0, Vec::new());
    for row in v["vectors"].as_array().unwrap() {
        let id = row["input"].as_str().unwrap();
        let input = inputs[id];
        let setting = row["setting"].as_str().unwrap();
        let mut importer = FileImporter::new(profile(setting), Counting(0));
        let mut sha = sha2::Sha256::new();
        let generated = unixfs_input(input, &mut |bytes| {
            sha.update(bytes);
            importer.write(bytes).unwrap();
        });
        if !generated {
            needs_go.push(format!("{id}/{setting}"));
            continue;
        }
        assert_eq!(
            hex::encode(sha.finalize()),
            input["sha256"].as_str().unwrap(),
            "input {id} regenerated wrongly"
        );
        let (root, Counting(blocks)) = importer.finish().unwrap();
        assert_eq!(
            root.cid.to_string(),
            row["cid"].as_str().unwrap(),
            "{id} / {setting}"
        );
        assert_eq!(
            blocks,
            row["blocks_emitted"].as_u64().unwrap(),
            "{id} / {setting}"
        );
        assert_eq!(root.filesize, input["size"].as_u64().unwrap());
        checked += 1;
    }
    // The Go math/rand inputs need Go's generator; every other row is checked.
    assert_eq!(needs_go.len(), 6, "{needs_go:?}");
    assert_eq!(checked, v["vectors"].as_array().unwrap().len() - 6);
}

#[test]
fn exact_block_bytes() {
    let v = vector_json("unixfs_cids.json");
    let bb = &v["block_bytes"];
    let mut blocks = Vec::new();
    let pattern: Vec<u8> = (0..262_145usize)
        .map(|i| ((i * 31 + 7) % 251) as u8)
        .collect();
    let root =
        metamesh_storage::import_bytes(Profile::KUBO_DEFAULT, &pattern, &mut blocks).unwrap();
    let case = &bb["pattern-262145|kubo-default"];
    assert_eq!(root.cid.to_string(), case["root"].as_str().unwrap());
    let root_block = blocks.iter().find(|b| b.cid == root.cid).unwrap();
    assert_eq!(
        hex::encode(&root_block.data),
        case["root_block_hex"].as_str().unwrap()
    );
    for (link, want) in metamesh_storage::links(&root.cid, &root_block.data)
        .unwrap()
        .iter()
        .zip(case["links"].as_array().unwrap())
    {
        assert_eq!(link.to_string(), want["cid"].as_str().unwrap());
    }
    let mut blocks = Vec::new();
    let root = metamesh_storage::import_bytes(Profile::KUBO_CIDV1, &pattern, &mut blocks).unwrap();
    let case = &bb["pattern-262145|kubo-cidv1"];
    assert_eq!(root.cid.to_string(), case["root"].as_str().unwrap());
    let root_block = blocks.iter().find(|b| b.cid == root.cid).unwrap();
    assert_eq!(
        hex::encode(&root_block.data),
        case["root_block_hex"].as_str().unwrap()
    );
}

#[test]
fn directories_match_kubo() {
    let v = vector_json("unixfs_cids.json");
    let empty = tempfile::tempdir().unwrap();
    let mut sink = Vec::new();
    let root = import_dir(
        Profile::KUBO_DEFAULT,
        empty.path(),
        DirOptions::default(),
        &mut sink,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        root.cid.to_string(),
        v["other_known"][0]["cid"].as_str().unwrap()
    );
    let root = import_dir(
        Profile::KUBO_CIDV1,
        empty.path(),
        DirOptions::default(),
        &mut sink,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        root.cid.to_string(),
        v["other_known"][1]["cid"].as_str().unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello world\n").unwrap();
    std::fs::write(dir.path().join(".hidden"), "not added by default").unwrap();
    let mut blocks = Vec::new();
    let root = import_dir(
        Profile::KUBO_CIDV1,
        dir.path(),
        DirOptions::default(),
        &mut blocks,
        &mut |_| {},
    )
    .unwrap();
    let case = &v["block_bytes"]["wrapped-hello-txt|kubo-cidv1 (directory node)"];
    assert_eq!(root.cid.to_string(), case["cid"].as_str().unwrap());
    let node = blocks.iter().find(|b| b.cid == root.cid).unwrap();
    assert_eq!(hex::encode(&node.data), case["hex"].as_str().unwrap());
}

fn read_car(name: &str) -> (Vec<Cid>, Vec<Block>) {
    let bytes = std::fs::read(metamesh_testkit::vectors_dir().join(name)).unwrap();
    let mut reader = CarReader::new(bytes.as_slice()).unwrap();
    let roots = reader.roots().to_vec();
    let blocks = reader.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    (roots, blocks)
}

#[test]
fn car_files_read_and_written_byte_for_byte() {
    let v = vector_json("unixfs_cids.json");
    for car in v["car_files"].as_array().unwrap() {
        let (roots, blocks) = read_car(car["file"].as_str().unwrap());
        let want_roots: Vec<String> = car["roots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            roots.iter().map(Cid::to_string).collect::<Vec<_>>(),
            want_roots
        );
        let got: Vec<String> = blocks.iter().map(|b| b.cid.to_string()).collect();
        let want: Vec<&str> = car["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        assert_eq!(got, want);
        // Written back root-first, the file is identical.
        let source: HashMap<Cid, Vec<u8>> =
            blocks.iter().map(|b| (b.cid, b.data.clone())).collect();
        let mut writer = CarWriter::new(Vec::new(), &roots).unwrap();
        walk(&source, &roots[0], &mut |cid, data| writer.write(cid, data)).unwrap();
        let out = writer.finish().unwrap();
        assert_eq!(hex::encode(out), car["hex"].as_str().unwrap());
    }
}

#[test]
fn bad_car_files_are_refused_with_the_reason() {
    let bytes = std::fs::read(
        metamesh_testkit::vectors_dir().join("unixfs_hello-world-nl_kubo-default.car"),
    )
    .unwrap();
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let err = CarReader::new(flipped.as_slice())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(err.to_string().contains("does not hash"), "{err}");
    let truncated = &bytes[..bytes.len() - 3];
    let err = CarReader::new(truncated)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert!(CarReader::new(&b""[..]).is_err());
    assert!(CarReader::new(&bytes[1..]).is_err());
}
