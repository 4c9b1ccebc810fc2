//! `metamesh bench storage`: `data add` throughput on one large file beside the raw single-core
//! SHA-256 rate and the JS UnixFS importer on the same file; encrypted add beside the raw
//! SM4-GCM and AES-256-GCM speed of the same crates. Everything in one run, on one file.

use std::{
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use anyhow::{Context as _, bail};
use metamesh_crypto::AeadAlgorithm;
use metamesh_storage::{
    BlockStore, FileImporter, HashOnly, PinInfo, Profile, envelope, import_file,
};
use serde_json::json;

use crate::Context;

const MIB: f64 = 1_048_576.0;

fn rate(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / MIB / seconds
}

/// Writes `size` pseudo-random bytes (xorshift; incompressible enough for hashing).
fn make_file(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut left = size;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        for w in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

/// Reads the file through `each` in 1 MiB pieces; the seconds it took.
fn pass(path: &Path, mut each: impl FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        each(&buf[..n])?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn js_tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/js")
}

pub fn storage(ctx: &Context, size_mib: u64, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let size = size_mib << 20;
    let work = dir
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("metamesh-bench-storage-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let file = work.join("input.bin");
    eprintln!("writing a {size_mib} MiB file in {}", work.display());
    make_file(&file, size)?;
    // Warm the page cache so every measurement reads from memory alike.
    pass(&file, |_| Ok(()))?;

    let sha = pass(&file, |b| {
        std::hint::black_box(metamesh_storage::sha2_256(b));
        Ok(())
    })?;
    // The importer hashes 256 KiB chunks; the reference hashes the same-size pieces.
    let sha_chunks = pass(&file, |b| {
        for c in b.chunks(262_144) {
            std::hint::black_box(metamesh_storage::sha2_256(c));
        }
        Ok(())
    })?;
    let sha_seconds = sha.min(sha_chunks);

    let mut only_hash = FileImporter::new(Profile::KUBO_DEFAULT, HashOnly);
    let hash_seconds = pass(&file, |b| Ok(only_hash.write(b)?))?;
    let started = Instant::now();
    let (root, _) = only_hash.finish()?;
    let hash_seconds = hash_seconds + started.elapsed().as_secs_f64();

    let store = BlockStore::open(work.join("blocks.redb"))?;
    let started = Instant::now();
    let mut session = store.session();
    let stored = import_file(Profile::KUBO_DEFAULT, &file, &mut session, &mut |_| {})?;
    session.flush_now()?;
    let written_seconds = started.elapsed().as_secs_f64();
    session.commit(&stored.cid, &PinInfo::default())?;
    let store_seconds = started.elapsed().as_secs_f64();
    let pin_seconds = store_seconds - written_seconds;
    if stored.cid != root.cid {
        bail!(
            "store add gave {} but hash-only gave {}",
            stored.cid,
            root.cid
        );
    }
    drop(store);
    let _ = fs::remove_file(work.join("blocks.redb"));

    let js = Command::new("node")
        .arg(js_tools().join("add.mjs"))
        .arg(&file)
        .output()
        .context("running node (scripts/install-deps.sh installs it and the JS tools)")?;
    if !js.status.success() {
        bail!(
            "the JS importer failed: {}",
            String::from_utf8_lossy(&js.stderr)
        );
    }
    let js_out = String::from_utf8_lossy(&js.stdout).into_owned();
    let mut parts = js_out.split_whitespace();
    let js_cid = parts.next().unwrap_or_default().to_owned();
    let js_seconds: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    if js_cid != root.cid.to_string() {
        bail!("the JS importer gave {js_cid}, we gave {}", root.cid);
    }

    let mut encrypted = Vec::new();
    for alg in [AeadAlgorithm::Sm4Gcm, AeadAlgorithm::Aes256Gcm] {
        let key = envelope::data_key(alg)?;
        let seg = vec![0u8; 262_144 - 16];
        let nonce = [0u8; 12];
        let raw = pass(&file, |b| {
            for c in b.chunks(seg.len()) {
                std::hint::black_box(alg.seal(&key, &nonce, &[], c)?);
            }
            Ok(())
        })?;
        let header = envelope::Header::new(alg, Profile::KUBO_DEFAULT.chunk_size)?;
        let importer = FileImporter::new(Profile::KUBO_DEFAULT, HashOnly);
        let mut enc = envelope::Encryptor::new(header, &key, Importing(importer))?;
        let add = pass(&file, |b| {
            Ok(enc.write_all(b).map_err(envelope::from_io)?)
        })?;
        let started = Instant::now();
        enc.finish()?.0.finish()?;
        let add = add + started.elapsed().as_secs_f64();
        encrypted.push(json!({
            "algorithm": alg.name(),
            "rawMiBps": rate(size, raw),
            "encryptedAddMiBps": rate(size, add),
            "ratio": raw / add,
        }));
    }
    let _ = fs::remove_dir_all(&work);

    let view = json!({
        "sizeMiB": size_mib,
        "cid": root.cid.to_string(),
        "sha256MiBps": rate(size, sha_seconds),
        "addOnlyHashMiBps": rate(size, hash_seconds),
        "addToStoreMiBps": rate(size, store_seconds),
        "storePinSeconds": pin_seconds,
        "onlyHashVsSha256": sha_seconds / hash_seconds,
        "storeVsSha256": sha_seconds / store_seconds,
        "jsImporterMiBps": rate(size, js_seconds),
        "onlyHashVsJs": js_seconds / hash_seconds,
        "storeVsJs": js_seconds / store_seconds,
        "encrypted": encrypted,
    });
    ctx.out.emit(&view, || {
        let mut t = format!(
            "{size_mib} MiB file, {}\n\
             raw SHA-256 (one core)      {:8.0} MiB/s\n\
             data add --only-hash        {:8.0} MiB/s  {:.2}x SHA-256  {:.1}x the JS importer\n\
             data add into the store     {:8.0} MiB/s  {:.2}x SHA-256  {:.1}x the JS importer (pin check {:.2} s)\n\
             JS ipfs-unixfs-importer     {:8.0} MiB/s",
            root.cid,
            rate(size, sha_seconds),
            rate(size, hash_seconds),
            sha_seconds / hash_seconds,
            js_seconds / hash_seconds,
            rate(size, store_seconds),
            sha_seconds / store_seconds,
            js_seconds / store_seconds,
            pin_seconds,
            rate(size, js_seconds),
        );
        for e in &encrypted {
            t.push_str(&format!(
                "\n{:<12} raw {:6.0} MiB/s, encrypted add {:6.0} MiB/s ({:.2}x)",
                e["algorithm"].as_str().unwrap_or(""),
                e["rawMiBps"].as_f64().unwrap_or(0.0),
                e["encryptedAddMiBps"].as_f64().unwrap_or(0.0),
                e["ratio"].as_f64().unwrap_or(0.0)
            ));
        }
        t
    });
    Ok(ExitCode::SUCCESS)
}

/// Feeds the encryptor's output to the importer.
struct Importing(FileImporter<HashOnly>);

impl Write for Importing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
