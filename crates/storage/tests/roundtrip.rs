//! Round trips through the store, CAR files and the encrypted envelope; GC beside adds; proofs.

use metamesh_testkit::random_bytes as random;
use std::io::Write as _;

use metamesh_crypto::{AeadAlgorithm, SecretKey, Suite, unwrap_key, wrap_key};
use metamesh_storage::{
    BlockSource as _, BlockStore, Cid, DataType, DirOptions, FileImporter, PbLink, PbNode, PinInfo,
    Profile, ProofFault, StorageProof, UnixFsData, build_proof,
    car::{CarReader, CarWriter},
    check_file, cid_from_bytes,
    envelope::{Decryptor, Encryptor, Header, from_io},
    export_file, export_path, file_size, import_dir, verify_proof, walk,
};

const SIZES: [usize; 7] = [0, 1, 262_143, 262_144, 262_145, 3 << 20, (5 << 20) + 17];

fn store() -> (tempfile::TempDir, BlockStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path().join("blocks.redb")).unwrap();
    (dir, store)
}

fn add(store: &BlockStore, profile: Profile, bytes: &[u8]) -> Cid {
    let mut importer = FileImporter::new(profile, store.session());
    importer.write(bytes).unwrap();
    let (root, session) = importer.finish().unwrap();
    session.commit(&root.cid, &PinInfo::default()).unwrap();
    root.cid
}

fn get(store: &BlockStore, cid: &Cid) -> Vec<u8> {
    let mut out = Vec::new();
    export_file(store, cid, &mut out).unwrap();
    out
}

#[test]
fn files_come_back_byte_identical_through_store_and_car() {
    let (_d, a) = store();
    let (_e, b) = store();
    for profile in [
        Profile::KUBO_DEFAULT,
        Profile::KUBO_CIDV1,
        Profile::UNIXFS_V1_2025,
    ] {
        for (i, size) in SIZES.into_iter().enumerate() {
            let bytes = random(size, i as u64);
            let cid = add(&a, profile, &bytes);
            assert_eq!(get(&a, &cid), bytes, "{profile} {size}");
            let mut car = CarWriter::new(Vec::new(), &[cid]).unwrap();
            walk(&a, &cid, &mut |c, d| car.write(c, d)).unwrap();
            let car = car.finish().unwrap();
            let reader = CarReader::new(car.as_slice()).unwrap();
            assert_eq!(reader.roots(), &[cid]);
            let blocks = reader.collect::<Result<Vec<_>, _>>().unwrap();
            b.put_many(&blocks).unwrap();
            b.pin(&cid, &PinInfo::default()).unwrap();
            assert_eq!(get(&b, &cid), bytes, "{profile} {size} via CAR");
        }
    }
}

#[test]
fn nested_directory_round_trip() {
    let (_d, store) = store();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("top.txt"), b"top").unwrap();
    std::fs::write(root.join("a/one.bin"), random(300_000, 1)).unwrap();
    std::fs::write(root.join("a/b/c/deep.bin"), random(1 << 20, 2)).unwrap();
    std::fs::write(root.join("a/b/zero"), b"").unwrap();
    let mut session = store.session();
    let linked = import_dir(
        Profile::KUBO_DEFAULT,
        &root,
        DirOptions::default(),
        &mut session,
        &mut |_| {},
    )
    .unwrap();
    session.commit(&linked.cid, &PinInfo::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("copy");
    export_path(&store, &linked.cid, &dest).unwrap();
    for rel in ["top.txt", "a/one.bin", "a/b/c/deep.bin", "a/b/zero"] {
        assert_eq!(
            std::fs::read(root.join(rel)).unwrap(),
            std::fs::read(dest.join(rel)).unwrap(),
            "{rel}"
        );
    }
    assert!(dest.join("empty").is_dir());
    let mut sink = Vec::new();
    assert!(matches!(
        export_file(&store, &linked.cid, &mut sink),
        Err(metamesh_storage::StorageError::IsDirectory(_))
    ));
}

fn encrypt(alg: AeadAlgorithm, profile: Profile, key: &[u8], plain: &[u8]) -> Vec<u8> {
    let header = Header::new(alg, profile.chunk_size).unwrap();
    let mut enc = Encryptor::new(header, key, Vec::new()).unwrap();
    enc.write_all(plain).map_err(from_io).unwrap();
    enc.finish().unwrap()
}

fn decrypt(key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, metamesh_storage::StorageError> {
    let mut dec = Decryptor::new(key, Vec::new());
    // Odd pieces, so segment boundaries never line up with writes.
    for piece in sealed.chunks(100_003) {
        dec.write_all(piece).map_err(from_io)?;
    }
    dec.finish()
}

#[test]
fn encrypted_share_decrypt_by_a_second_key() {
    for (suite, alg) in [
        (Suite::Sm, AeadAlgorithm::Sm4Gcm),
        (Suite::Eth, AeadAlgorithm::Aes256Gcm),
    ] {
        let (_d, store) = store();
        let owner = SecretKey::generate(suite).unwrap();
        let friend = SecretKey::generate(suite).unwrap();
        let stranger = SecretKey::generate(suite).unwrap();
        for (i, size) in SIZES.into_iter().enumerate() {
            let plain = random(size, 100 + i as u64);
            let key = metamesh_storage::envelope::data_key(alg).unwrap();
            let sealed = encrypt(alg, Profile::KUBO_DEFAULT, &key, &plain);
            let header = Header::new(alg, 262_144).unwrap();
            assert_eq!(sealed.len() as u64, header.sealed_len(size as u64));
            let cid = add(&store, Profile::KUBO_DEFAULT, &sealed);
            // Every full leaf is exactly one segment.
            let stored = get(&store, &cid);
            assert_eq!(stored, sealed);
            let wrapped_owner = wrap_key(&owner.public_key(), &key).unwrap();
            // Sharing wraps the same key again: the data is not touched.
            let shared = unwrap_key(&owner, &wrapped_owner).unwrap();
            let wrapped_friend = wrap_key(&friend.public_key(), &shared).unwrap();
            let friend_key = unwrap_key(&friend, &wrapped_friend).unwrap();
            assert_eq!(
                decrypt(&friend_key, &stored).unwrap(),
                plain,
                "{suite} {size}"
            );
            assert!(unwrap_key(&stranger, &wrapped_friend).is_err());
            // A wrong key or a flipped byte anywhere: an error, never other plaintext.
            let wrong = metamesh_storage::envelope::data_key(alg).unwrap();
            let err = decrypt(&wrong, &stored).unwrap_err().to_string();
            assert!(err.contains("does not authenticate"), "{err}");
            for at in [17, stored.len() / 2, stored.len() - 1] {
                let mut bad = stored.clone();
                bad[at] ^= 0x40;
                assert!(decrypt(&friend_key, &bad).is_err(), "flip at {at}");
            }
            if size > 262_144 {
                let cut = &stored[..262_144];
                let err = decrypt(&friend_key, cut).unwrap_err().to_string();
                assert!(err.contains("truncated"), "{err}");
            }
        }
    }
}

#[test]
fn gc_never_removes_pinned_or_in_use_blocks() {
    let (_d, store) = store();
    let kept = add(&store, Profile::KUBO_DEFAULT, &random(1 << 20, 7));
    let dropped = add(&store, Profile::KUBO_DEFAULT, &random(600_000, 8));
    assert!(store.unpin(&dropped).unwrap());
    let report = store.gc().unwrap();
    assert!(report.removed_blocks >= 3, "{report:?}");
    assert!(store.missing(&kept).unwrap().is_empty());
    assert!(!store.missing(&dropped).unwrap().is_empty());

    // Adds and collections at the same time: every add's DAG is whole when it ends.
    let adders: Vec<_> = (0..3)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..6)
                    .map(|i| {
                        let bytes = random(200_000 + 150_000 * i, 1000 * t + i as u64);
                        let mut importer =
                            FileImporter::new(Profile::KUBO_DEFAULT, store.session());
                        for piece in bytes.chunks(65_536) {
                            importer.write(piece).unwrap();
                            std::thread::yield_now();
                        }
                        let (root, session) = importer.finish().unwrap();
                        session.commit(&root.cid, &PinInfo::default()).unwrap();
                        (root.cid, bytes)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let collector = {
        let store = store.clone();
        std::thread::spawn(move || {
            (0..40)
                .map(|_| store.gc().unwrap().removed_blocks)
                .sum::<u64>()
        })
    };
    let added: Vec<_> = adders.into_iter().flat_map(|h| h.join().unwrap()).collect();
    collector.join().unwrap();
    store.gc().unwrap();
    for (cid, bytes) in added {
        assert_eq!(get(&store, &cid), bytes);
    }
    assert_eq!(get(&store, &kept), random(1 << 20, 7));
}

#[test]
fn storage_proofs_check_every_step() {
    let (_d, store) = store();
    for profile in [
        Profile::KUBO_DEFAULT,
        Profile::KUBO_CIDV1,
        Profile {
            max_links: 3,
            ..Profile::KUBO_DEFAULT
        },
    ] {
        let size = 262_144 * 11 + 5;
        let cid = add(&store, profile, &random(size, 3));
        let root = store.block(&cid).unwrap().unwrap();
        assert_eq!(file_size(&cid, &root), Ok(size as u64));
        let size = size as u64;
        let whole = check_file(&store, &cid).unwrap();
        assert_eq!((whole.size, whole.repeats), (size, false));
        for offset in [0, 262_143, 262_144, 1_000_000, size - 1] {
            let proof = build_proof(&store, &cid, offset).unwrap();
            let blocks = verify_proof(&cid, size, offset, &proof).unwrap();
            // One block per level below the root, each starting at or before the offset.
            assert_eq!(blocks.len(), proof.path.len());
            assert!(blocks.windows(2).all(|w| w[0].1 <= w[1].1));
            assert!(
                blocks
                    .last()
                    .is_none_or(|b| b.1 <= offset && offset - b.1 < 262_144)
            );
            // The same proof does not answer another leaf's offset.
            let other = (offset + 262_144 * 2) % size;
            if other / 262_144 != offset / 262_144 {
                assert!(verify_proof(&cid, size, other, &proof).is_err());
            }
            // Nor a file of another size.
            assert_eq!(
                verify_proof(&cid, size + 1, offset, &proof),
                Err(ProofFault::ChildSize)
            );
            let mut bad = proof.clone();
            bad.leaf[0] ^= 1;
            assert_eq!(
                verify_proof(&cid, size, offset, &bad),
                Err(ProofFault::Hash)
            );
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                bad.path.pop();
                assert!(verify_proof(&cid, size, offset, &bad).is_err());
            }
        }
        assert!(build_proof(&store, &cid, size).is_err());
        assert_eq!(
            verify_proof(&cid, size, size, &StorageProof::default()),
            Err(ProofFault::PastEnd)
        );
        assert!(verify_proof(&cid, size, 0, &StorageProof::default()).is_err());
    }
    // A one-leaf file proves with the leaf alone.
    let small = add(&store, Profile::KUBO_DEFAULT, b"hello world\n");
    let proof = build_proof(&store, &small, 3).unwrap();
    assert!(proof.path.is_empty());
    assert_eq!(verify_proof(&small, 12, 3, &proof), Ok(vec![]));
    // A lost block: the proof cannot be built.
    let cid = add(&store, Profile::KUBO_DEFAULT, &random(600_000, 4));
    let proof = build_proof(&store, &cid, 300_000).unwrap();
    let leaf = metamesh_storage::Block::new(cid::Version::V0, 0x70, proof.leaf.clone()).cid;
    assert!(store.delete(&leaf).unwrap());
    let err = build_proof(&store, &cid, 300_000).unwrap_err().to_string();
    assert!(err.contains("not available"), "{err}");
}

/// A File node over `children` (CID, size), with `filesize` as given.
fn file_node(children: &[(Cid, u64)], filesize: u64) -> metamesh_storage::Block {
    use prost::Message as _;
    let data = UnixFsData {
        r#type: DataType::File as i32,
        data: None,
        filesize: Some(filesize),
        blocksizes: children.iter().map(|c| c.1).collect(),
        hash_type: None,
        fanout: None,
    };
    let node = PbNode {
        links: children
            .iter()
            .map(|(c, s)| PbLink {
                hash: Some(c.to_bytes()),
                name: Some(String::new()),
                tsize: Some(*s),
            })
            .collect(),
        data: Some(data.encode_to_vec()),
    };
    metamesh_storage::Block::new(cid::Version::V1, 0x70, node.encode_to_vec())
}

#[test]
fn repeated_children_and_inflated_sizes_prove_nothing() {
    let a = metamesh_storage::Block::new(cid::Version::V1, 0x55, random(1000, 1));
    let b = metamesh_storage::Block::new(cid::Version::V1, 0x55, random(1000, 2));
    // One child twice: a thousand bytes stored, two thousand claimed.
    let twice = file_node(&[(a.cid, 1000), (a.cid, 1000)], 2000);
    assert_eq!(
        file_size(&twice.cid, &twice.data),
        Err(ProofFault::DuplicateLinks)
    );
    // A filesize that is not the sum of the block sizes.
    let inflated = file_node(&[(a.cid, 1000), (b.cid, 1000)], 1 << 40);
    assert_eq!(
        file_size(&inflated.cid, &inflated.data),
        Err(ProofFault::Sizes)
    );
    // Block sizes that add up but overstate a leaf: the proof fails at the leaf.
    let overstated = file_node(&[(a.cid, 1000), (b.cid, 5000)], 6000);
    assert_eq!(file_size(&overstated.cid, &overstated.data), Ok(6000));
    let proof = StorageProof {
        path: vec![overstated.data.clone()],
        leaf: b.data.clone(),
    };
    assert_eq!(
        verify_proof(&overstated.cid, 6000, 1500, &proof),
        Err(ProofFault::ChildSize)
    );
    // The honest version of the same file proves.
    let honest = file_node(&[(a.cid, 1000), (b.cid, 1000)], 2000);
    let proof = StorageProof {
        path: vec![honest.data.clone()],
        leaf: b.data.clone(),
    };
    assert_eq!(
        verify_proof(&honest.cid, 2000, 1500, &proof),
        Ok(vec![(b.cid, 1000)])
    );
    // A root block that is not the CID's, an empty file, a directory.
    assert_eq!(file_size(&honest.cid, &a.data), Err(ProofFault::Hash));
    let empty = metamesh_storage::Block::new(cid::Version::V1, 0x55, Vec::new());
    assert_eq!(file_size(&empty.cid, &empty.data), Err(ProofFault::Empty));
    let dir = metamesh_storage::Block::new(cid::Version::V0, 0x70, vec![0x0a, 0x02, 0x08, 0x01]);
    assert_eq!(file_size(&dir.cid, &dir.data), Err(ProofFault::NotAFile));
}

#[test]
fn cids_on_chain_have_one_spelling() {
    let c = metamesh_storage::Block::new(cid::Version::V1, 0x55, b"x".to_vec()).cid;
    assert_eq!(cid_from_bytes(&c.to_bytes()), Ok(c));
    let v0 = metamesh_storage::Block::new(cid::Version::V0, 0x70, b"x".to_vec()).cid;
    assert_eq!(cid_from_bytes(&v0.to_bytes()), Ok(v0));
    let mut trailing = c.to_bytes();
    trailing.push(0);
    assert_eq!(cid_from_bytes(&trailing), Err(ProofFault::BadCid));
    assert_eq!(cid_from_bytes(b"Qm"), Err(ProofFault::BadCid));
    let cbor = cid::Cid::new_v1(0x71, *c.hash());
    assert_eq!(cid_from_bytes(&cbor.to_bytes()), Err(ProofFault::BadCid));
}

#[test]
fn a_directory_kubo_would_shard_becomes_a_hamt_and_comes_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    // 1,200 links of ~234 estimated bytes each: past Kubo's 256 KiB sharding threshold.
    for i in 0..1200 {
        let name = format!("{i:04}-{}", "x".repeat(195));
        std::fs::write(tree.join(name), format!("{i}")).unwrap();
    }
    std::fs::create_dir(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/inside.txt"), b"deeper").unwrap();
    let (_d, store) = store();
    let mut session = store.session();
    let root = import_dir(
        Profile::KUBO_DEFAULT,
        &tree,
        DirOptions::default(),
        &mut session,
        &mut |_| {},
    )
    .unwrap();
    session.commit(&root.cid, &PinInfo::default()).unwrap();
    match metamesh_storage::node(&store, &root.cid).unwrap() {
        metamesh_storage::Node::Pb { data, links } => {
            assert_eq!(data.kind(), Some(DataType::HamtShard));
            assert_eq!(data.fanout, Some(256));
            assert!(links.len() <= 256 && links.len() > 200, "{}", links.len());
        }
        other => panic!("not a shard: {other:?}"),
    }
    let entries = metamesh_storage::list_dir(&store, &root.cid)
        .unwrap()
        .unwrap();
    assert_eq!(entries.len(), 1201);
    assert!(entries.windows(2).all(|w| w[0].name < w[1].name));
    let out = dir.path().join("out");
    export_path(&store, &root.cid, &out).unwrap();
    for i in [0, 599, 1199] {
        let name = format!("{i:04}-{}", "x".repeat(195));
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            format!("{i}").into_bytes()
        );
    }
    assert_eq!(
        std::fs::read(out.join("sub/inside.txt")).unwrap(),
        b"deeper"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1201);
}

#[test]
fn a_whole_file_is_checked_before_a_deal_is_taken() {
    let blocks = |list: &[&metamesh_storage::Block]| -> std::collections::HashMap<Cid, Vec<u8>> {
        list.iter().map(|b| (b.cid, b.data.clone())).collect()
    };
    let a = metamesh_storage::Block::new(cid::Version::V1, 0x55, random(1000, 1));
    let b = metamesh_storage::Block::new(cid::Version::V1, 0x55, random(1000, 2));
    let c = metamesh_storage::Block::new(cid::Version::V1, 0x55, random(1000, 3));
    // Every link distinct within each node, yet `b` sits at two places: 4000 bytes claimed,
    // 3000 held. The chain's proofs see it only when two of them land on `b`; the check sees
    // it at once.
    let x = file_node(&[(a.cid, 1000), (b.cid, 1000)], 2000);
    let y = file_node(&[(b.cid, 1000), (c.cid, 1000)], 2000);
    let root = file_node(&[(x.cid, 2000), (y.cid, 2000)], 4000);
    let source = blocks(&[&a, &b, &c, &x, &y, &root]);
    let check = check_file(&source, &root.cid).unwrap();
    assert_eq!((check.size, check.blocks, check.repeats), (4000, 6, true));
    // Both proofs through `b` pass alone, and name `b` at its two starts.
    let at = |offset| {
        let proof = build_proof(&source, &root.cid, offset).unwrap();
        verify_proof(&root.cid, 4000, offset, &proof).unwrap()
    };
    assert_eq!(at(1500).last(), Some(&(b.cid, 1000)));
    assert_eq!(at(2500).last(), Some(&(b.cid, 2000)));
    // A leaf smaller than its parent says, deep in the file: refused before any stake is bonded.
    let short = file_node(&[(a.cid, 1000), (c.cid, 1500)], 2500);
    let root = file_node(&[(x.cid, 2000), (short.cid, 2500)], 4500);
    let source = blocks(&[&a, &b, &c, &x, &short, &root]);
    let err = check_file(&source, &root.cid).unwrap_err().to_string();
    assert!(err.contains(&c.cid.to_string()), "{err}");
    // A missing block is named.
    let source = blocks(&[&a, &x, &y, &root]);
    let err = check_file(
        &source,
        &file_node(&[(x.cid, 2000), (y.cid, 2000)], 4000).cid,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not available"), "{err}");
}

/// A dag-pb directory (or HAMT shard) node over named links.
fn dir_node(kind: DataType, links: &[(&str, Cid)]) -> metamesh_storage::Block {
    use prost::Message as _;
    let data = UnixFsData {
        r#type: kind as i32,
        data: None,
        filesize: None,
        blocksizes: vec![],
        hash_type: (kind == DataType::HamtShard).then_some(0x22),
        fanout: (kind == DataType::HamtShard).then_some(256),
    };
    let node = PbNode {
        links: links
            .iter()
            .map(|(name, c)| PbLink {
                hash: Some(c.to_bytes()),
                name: Some(name.to_string()),
                tsize: Some(1),
            })
            .collect(),
        data: Some(data.encode_to_vec()),
    };
    metamesh_storage::Block::new(cid::Version::V1, 0x70, node.encode_to_vec())
}

#[test]
fn hostile_directory_trees_stop_with_a_reason() {
    let file = metamesh_storage::Block::new(cid::Version::V1, 0x55, b"x".to_vec());
    let mut blocks: std::collections::HashMap<Cid, Vec<u8>> =
        [(file.cid, file.data.clone())].into();
    let mut keep = |b: &metamesh_storage::Block| {
        blocks.insert(b.cid, b.data.clone());
        b.cid
    };
    // One shard linked under two slots: an honest HAMT never repeats a shard.
    let shard = dir_node(DataType::HamtShard, &[("AAname", file.cid)]);
    let shard = keep(&shard);
    let root = dir_node(DataType::HamtShard, &[("00", shard), ("01", shard)]);
    let root = keep(&root);
    // One subdirectory linked ten times: 10 entries, then 10 × 3 more.
    let sub = dir_node(
        DataType::Directory,
        &[("a", file.cid), ("b", file.cid), ("c", file.cid)],
    );
    let sub = keep(&sub);
    let names: Vec<String> = (0..10).map(|i| format!("d{i}")).collect();
    let links: Vec<(&str, Cid)> = names.iter().map(|n| (n.as_str(), sub)).collect();
    let wide = dir_node(DataType::Directory, &links);
    let wide = keep(&wide);
    // 300 directories, each inside the last.
    let mut deep = keep(&dir_node(DataType::Directory, &[("f", file.cid)]));
    for _ in 0..300 {
        deep = keep(&dir_node(DataType::Directory, &[("d", deep)]));
    }
    let out = tempfile::tempdir().unwrap();
    let err = metamesh_storage::list_dir(&blocks, &root)
        .unwrap_err()
        .to_string();
    assert!(err.contains("linked twice"), "{err}");
    let limits = metamesh_storage::ExportLimits {
        depth: 256,
        entries: 20,
    };
    let err = metamesh_storage::export_path_within(&blocks, &wide, &out.path().join("w"), limits)
        .unwrap_err()
        .to_string();
    assert!(err.contains("over 20 entries"), "{err}");
    // Within the default limits the same tree comes out whole.
    assert_eq!(
        export_path(&blocks, &wide, &out.path().join("w2")).unwrap(),
        30
    );
    let err = export_path(&blocks, &deep, &out.path().join("deep"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("256 levels"), "{err}");
    // A file of one byte under 100 nodes of one link each: refused, not a stack overflow.
    let mut chain = file.cid;
    for _ in 0..100 {
        let node = file_node(&[(chain, 1)], 1);
        blocks.insert(node.cid, node.data.clone());
        chain = node.cid;
    }
    let err = export_file(&blocks, &chain, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("deeper than 64"), "{err}");
    assert!(build_proof(&blocks, &chain, 0).is_err());
}

#[test]
fn a_pin_changes_only_while_it_is_as_it_was_read() {
    let (_d, store) = store();
    let root = add(&store, Profile::KUBO_DEFAULT, &random(300_000, 3));
    let named = |name: &str| PinInfo {
        name: name.into(),
        ..PinInfo::default()
    };
    let name_now = || store.pin_info(&root).unwrap().map(|i| i.name);
    let first = name_now().expect("add pins");
    // Read as `first`, renamed: it changes.
    assert!(
        store
            .swap_pin(&root, Some(&first), Some(&named("deal 0xaa")))
            .unwrap()
    );
    // The operator pinned it under their own name in between: nothing changes.
    store.pin(&root, &named("my results")).unwrap();
    assert!(!store.swap_pin(&root, Some("deal 0xaa"), None).unwrap());
    assert_eq!(name_now().as_deref(), Some("my results"));
    // The operator unpinned it in between: it is not pinned back.
    assert!(store.unpin(&root).unwrap());
    assert!(
        !store
            .swap_pin(&root, Some("my results"), Some(&named("x")))
            .unwrap()
    );
    assert_eq!(name_now(), None);
    // No pin expected and none there: a new pin, checked for completeness.
    assert!(
        store
            .swap_pin(&root, None, Some(&named("deal 0xbb")))
            .unwrap()
    );
    assert!(
        !store
            .swap_pin(&root, None, Some(&named("deal 0xcc")))
            .unwrap()
    );
    let absent: Cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
        .parse()
        .unwrap();
    assert!(
        store.swap_pin(&absent, None, Some(&named("y"))).is_err(),
        "not stored"
    );
}
