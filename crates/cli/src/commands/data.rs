//! `metamesh data …`: research data in and out of the node's content store — UnixFS with Kubo's
//! CIDs, optional encryption (the node only ever receives ciphertext), key sharing on chain,
//! registration, CAR export and import.

use std::{
    fs,
    io::{BufWriter, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use metamesh_crypto::{
    AeadAlgorithm, PublicKey, SecretKey, Suite, SuiteHasher, unwrap_key, wrap_key,
};
use metamesh_primitives::Action;
use metamesh_storage::{
    BlockSink, Cid, DirOptions, FileImporter, HashOnly, Linked, Profile, car::CarReader,
    car::CarWriter, envelope, import_dir, parse_cid,
};
use serde_json::{Value, json};

use super::client::{RpcArgs, SenderArgs, send_and_wait, sender_key};
use crate::{Context, output::table};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Add a file or directory (prints its CID; Kubo's `ipfs add` CIDs).
    Add(AddArgs),
    /// Write the file or directory under a CID to PATH (decrypting when a key was shared).
    Get(GetArgs),
    /// List what the node has pinned.
    Ls {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Keep a DAG on the node (fetching it from providers when missing).
    Pin {
        cid: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Stop keeping a DAG (the next `data gc` may remove its blocks).
    Unpin {
        cid: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Remove every block no pin reaches.
    Gc {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Give another key access to encrypted data (the data is not re-encrypted).
    Share(ShareArgs),
    /// Write a CAR v1 file of the DAG under a CID.
    Export {
        cid: String,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Store the blocks of a CAR v1 file and pin its roots.
    Import {
        file: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// A file, or a directory (added recursively like `ipfs add -r`).
    path: PathBuf,
    /// Encrypt before adding (SM4-GCM in the sm suite, AES-256-GCM in eth); the data key is
    /// shared on chain with the sender and each --recipient.
    #[arg(long)]
    encrypt: bool,
    /// Another public key (SEC1 hex, or a PEM file) that may decrypt; repeatable.
    #[arg(long = "recipient", requires = "encrypt")]
    recipients: Vec<String>,
    /// Register the data on chain (digest of the plaintext, CID, size, profile).
    #[arg(long)]
    register: bool,
    #[arg(long, requires = "register")]
    title: Option<String>,
    #[arg(long, default_value = "", requires = "register")]
    licence: String,
    /// 0 (Kubo's default) or 1 (CIDv1 with raw leaves).
    #[arg(long)]
    cid_version: Option<u8>,
    /// unixfs-v0-2015, unixfs-v1-2025, or cidv{0,1}-{raw,pb}-CHUNK-LINKS.
    #[arg(long)]
    profile: Option<String>,
    /// Only print the CID: nothing is stored and no node is needed.
    #[arg(long)]
    only_hash: bool,
    /// Include files whose names start with a dot (directories only).
    #[arg(long)]
    hidden: bool,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    cid: String,
    #[arg(short, long)]
    output: PathBuf,
    /// Write encrypted data as stored, without decrypting.
    #[arg(long)]
    raw: bool,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

#[derive(clap::Args, Debug)]
pub struct ShareArgs {
    cid: String,
    /// The recipient's public key (SEC1 hex, compressed or not, or a PEM file).
    #[arg(long)]
    to: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

/// `http://host:port/content/…` beside the JSON-RPC URL.
pub(crate) fn content_url(rpc: &RpcArgs, path: &str) -> String {
    format!("{}/content/{path}", rpc.url.trim_end_matches('/'))
}

fn encode_query(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn progress(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    // Drawn only for work that lasts (the bar appears after a second).
    bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    bar
}

fn show_after_a_second(bar: &indicatif::ProgressBar, started: std::time::Instant) {
    if bar.is_hidden() && started.elapsed().as_secs() >= 1 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
}

/// A public key from SEC1 hex, or from a PEM file (SPKI, as `account export --public` writes).
pub(crate) fn parse_public(text: &str, suite: Suite) -> anyhow::Result<PublicKey> {
    let path = Path::new(text);
    if path.is_file() {
        let pem = fs::read_to_string(path).with_context(|| format!("reading {text}"))?;
        let key = match metamesh_crypto::pem::parse_pem(&pem, Some(suite))? {
            metamesh_crypto::pem::PemKey::Public(k) => k,
            metamesh_crypto::pem::PemKey::Secret(k) => k.public_key(),
        };
        if key.suite() != suite {
            bail!(
                "{text} holds an {} key; this chain uses {suite}",
                key.suite()
            );
        }
        return Ok(key);
    }
    let bytes = hex::decode(text.trim_start_matches("0x"))
        .map_err(|_| anyhow!("`{text}` is not a hex public key"))?;
    PublicKey::from_sec1(suite, &bytes)
        .map_err(|e| anyhow!("`{text}` is not a {suite} public key: {e}"))
}

/// Feeds written bytes to the importer.
struct ToImporter<S: BlockSink>(FileImporter<S>);

impl<S: BlockSink> Write for ToImporter<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What an add produced.
struct Imported {
    root: Linked,
    plain_size: u64,
    digest: Option<[u8; 32]>,
    key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

/// Imports `path` into `sink`: optionally hashing the plaintext, optionally encrypting.
fn import(
    args: &AddArgs,
    profile: Profile,
    suite: Suite,
    sink: &mut dyn BlockSink,
) -> anyhow::Result<Imported> {
    let meta =
        fs::metadata(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    let started = std::time::Instant::now();
    if meta.is_dir() {
        if args.encrypt {
            bail!("--encrypt takes one file; archive the directory first (tar) and add that");
        }
        let bar = progress(0, "adding");
        let mut done = 0;
        let root = import_dir(
            profile,
            &args.path,
            DirOptions {
                hidden: args.hidden,
            },
            sink,
            &mut |n| {
                done += n;
                bar.set_position(done);
                show_after_a_second(&bar, started);
            },
        )?;
        bar.finish_and_clear();
        return Ok(Imported {
            root,
            plain_size: done,
            digest: None,
            key: None,
        });
    }
    let mut file =
        fs::File::open(&args.path).with_context(|| format!("opening {}", args.path.display()))?;
    let bar = progress(meta.len(), "adding");
    let mut hasher: Option<SuiteHasher> = args.register.then(|| suite.hasher());
    let importer = FileImporter::new(profile, sink);
    let algorithm = AeadAlgorithm::for_suite(suite);
    let key = if args.encrypt {
        Some(envelope::data_key(algorithm)?)
    } else {
        None
    };
    let mut pump = |w: &mut dyn Write| -> anyhow::Result<u64> {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .with_context(|| format!("reading {}", args.path.display()))?;
            if n == 0 {
                return Ok(total);
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&buf[..n]);
            }
            w.write_all(&buf[..n]).map_err(envelope::from_io)?;
            total += n as u64;
            bar.set_position(total);
            show_after_a_second(&bar, started);
        }
    };
    let (plain_size, importer) = match &key {
        Some(k) => {
            let header = envelope::Header::new(algorithm, profile.chunk_size)?;
            let mut enc = envelope::Encryptor::new(header, k, ToImporter(importer))?;
            let total = pump(&mut enc)?;
            (total, enc.finish()?.0)
        }
        None => {
            let mut w = ToImporter(importer);
            (pump(&mut w)?, w.0)
        }
    };
    bar.finish_and_clear();
    let (root, _) = importer.finish()?;
    Ok(Imported {
        root,
        plain_size,
        digest: hasher.map(SuiteHasher::finalize),
        key,
    })
}

/// The read end of the upload pipe: its end of input is an error unless the writer finished.
struct Completed {
    inner: std::io::PipeReader,
    complete: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Read for Completed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.complete.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("the upload was abandoned"));
        }
        Ok(n)
    }
}

/// Streams a CAR file to the node on another thread; what `write` produces is the body.
fn upload<T>(
    url: String,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<(T, Value)> {
    let (reader, writer) = std::io::pipe().context("creating a pipe")?;
    let complete = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = Completed {
        inner: reader,
        complete: complete.clone(),
    };
    let sender = std::thread::spawn(move || -> anyhow::Result<Value> {
        let mut response = ureq::post(&url)
            .header("Content-Type", "application/vnd.ipld.car")
            .config()
            .http_status_as_error(false)
            .build()
            .send(ureq::SendBody::from_owned_reader(reader))
            .with_context(|| format!("no node answers at {url}"))?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .context("reading the node's answer")?;
        let body: Value = serde_json::from_str(&text).unwrap_or(json!({"error": text}));
        if !status.is_success() {
            bail!(
                "the node refused the data: {}",
                body["error"].as_str().unwrap_or("?")
            );
        }
        Ok(body)
    });
    let mut out = BufWriter::with_capacity(1 << 20, writer);
    let written = write(&mut out).and_then(|v| {
        out.flush().context("sending to the node")?;
        Ok(v)
    });
    // Only a finished stream ends cleanly; otherwise the upload is cut and the node stores
    // nothing under a pin.
    complete.store(written.is_ok(), std::sync::atomic::Ordering::SeqCst);
    drop(out);
    let answer = sender
        .join()
        .map_err(|_| anyhow!("the upload thread failed"))?;
    // The node's refusal explains a broken pipe better than the pipe does.
    let answer = answer?;
    Ok((written?, answer))
}

fn add(ctx: &Context, args: AddArgs) -> anyhow::Result<ExitCode> {
    let profile =
        Profile::from_flags(args.cid_version, args.profile.as_deref()).map_err(|e| anyhow!(e))?;
    profile.check().map_err(|e| anyhow!(e))?;
    let needs_key = args.encrypt || args.register;
    let key = if needs_key && !args.only_hash {
        Some(sender_key(ctx, &args.sender)?)
    } else {
        None
    };
    let suite = key.as_ref().map_or(Suite::Sm, SecretKey::suite);
    let recipients = args
        .recipients
        .iter()
        .map(|r| parse_public(r, suite))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let name = args
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let imported = if args.only_hash {
        import(&args, profile, suite, &mut HashOnly)?
    } else {
        let size = fs::metadata(&args.path).map(|m| m.len()).unwrap_or(0);
        let url = content_url(
            &args.rpc,
            &format!(
                "car?pin=last&name={}&size={size}&profile={profile}&encrypted={}",
                encode_query(&name),
                args.encrypt
            ),
        );
        let (imported, answer) = upload(url, |out| {
            let mut car = CarWriter::new(out, &[])?;
            let imported = import(&args, profile, suite, &mut car)?;
            car.finish()?;
            Ok(imported)
        })?;
        let pinned = answer["pinned"][0].as_str().unwrap_or_default();
        if pinned != imported.root.cid.to_string() {
            bail!("the node pinned {pinned}, not {}", imported.root.cid);
        }
        imported
    };
    let cid = imported.root.cid.to_string();
    let mut view = json!({
        "cid": cid, "name": name, "size": imported.plain_size, "profile": profile.to_string(),
        "encrypted": args.encrypt, "stored": !args.only_hash,
    });
    if let (Some(k), Some(data_key)) = (&key, &imported.key) {
        let mut shared = Vec::new();
        for to in std::iter::once(k.public_key()).chain(recipients) {
            let wrapped = wrap_key(&to, data_key)?;
            send_and_wait(
                ctx,
                &args.rpc,
                &args.sender,
                Action::ShareKey {
                    cid: cid.clone(),
                    recipient: to.to_uncompressed().to_vec(),
                    wrapped,
                },
            )?;
            shared.push(to.address().to_string());
        }
        view["sharedWith"] = json!(shared);
    }
    if args.register && !args.only_hash {
        let digest = imported
            .digest
            .ok_or_else(|| anyhow!("--register takes a file: a directory has no single digest"))?;
        let metadata = serde_json::to_vec(
            &json!({"title": args.title.clone().unwrap_or_else(|| name.clone())}),
        )?;
        let receipt = send_and_wait(
            ctx,
            &args.rpc,
            &args.sender,
            Action::RegisterData {
                digest,
                size: imported.plain_size,
                cid: cid.clone(),
                encrypted: args.encrypt,
                profile: profile.to_string(),
                title: args.title.clone().unwrap_or(name.clone()),
                licence: args.licence.clone(),
                metadata,
            },
        )?;
        view["registered"] = json!({"digest": format!("0x{}", hex::encode(digest)), "block": receipt["blockNumber"]});
    }
    ctx.out.emit(&view, || {
        let mut text = format!("added {cid} {name}");
        if let Some(s) = view.get("sharedWith") {
            text.push_str(&format!(
                "\nencrypted; key shared with {}",
                s.as_array().map_or(0, Vec::len)
            ));
        }
        if let Some(r) = view.get("registered") {
            text.push_str(&format!("\nregistered in block {}", r["block"]));
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

/// Downloaded blocks in a temporary file, indexed by CID (removed on drop): the exporter reads
/// them back by position, with no database in between.
struct Scratch {
    path: PathBuf,
    file: fs::File,
    index: std::collections::HashMap<Cid, (u64, usize)>,
    end: u64,
}

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let path = std::env::temp_dir().join(format!(
            "metamesh-get-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch {
            path,
            file,
            index: Default::default(),
            end: 0,
        })
    }

    fn add(&mut self, block: &metamesh_storage::Block) -> anyhow::Result<()> {
        use std::os::unix::fs::FileExt as _;
        self.file
            .write_all_at(&block.data, self.end)
            .context("writing the download")?;
        self.index.insert(block.cid, (self.end, block.data.len()));
        self.end += block.data.len() as u64;
        Ok(())
    }
}

impl metamesh_storage::BlockSource for Scratch {
    fn block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, metamesh_storage::StorageError> {
        use std::os::unix::fs::FileExt as _;
        let Some(&(at, len)) = self.index.get(cid) else {
            return Ok(None);
        };
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, at)
            .map_err(|e| metamesh_storage::StorageError::Io(e.to_string()))?;
        Ok(Some(buf))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Downloads the DAG under `cid` from the node as a CAR stream, checking every block.
fn download(
    rpc: &RpcArgs,
    cid: &Cid,
    mut each: impl FnMut(&metamesh_storage::Block) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let url = content_url(rpc, &format!("car/{cid}"));
    let mut response = ureq::get(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .with_context(|| format!("no node answers at {url}"))?;
    if !response.status().is_success() {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(json!({"error": text}));
        bail!("{cid}: {}", v["error"].as_str().unwrap_or("?"));
    }
    let reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut car = CarReader::new(std::io::BufReader::with_capacity(1 << 20, reader))?;
    if car.roots() != [*cid] {
        bail!("the node sent a CAR file for {:?}, not {cid}", car.roots());
    }
    for block in car.by_ref() {
        each(&block?)?;
    }
    Ok(())
}

fn fetch_into(rpc: &RpcArgs, cid: &Cid, scratch: &mut Scratch) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = progress(0, "fetching");
    download(rpc, cid, |b| {
        bar.inc(b.data.len() as u64);
        show_after_a_second(&bar, started);
        scratch.add(b)
    })?;
    bar.finish_and_clear();
    Ok(())
}

/// The first bytes of the file under `root` (empty for a directory): enough for the header.
fn head_bytes(store: &dyn metamesh_storage::BlockSource, root: &Cid) -> Vec<u8> {
    struct Capture(Vec<u8>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let room = envelope::HEADER_LEN - self.0.len();
            self.0.extend_from_slice(&buf[..room.min(buf.len())]);
            if self.0.len() == envelope::HEADER_LEN {
                // Stops the export: nothing more is needed.
                return Err(std::io::Error::other("enough"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut capture = Capture(Vec::new());
    let _ = metamesh_storage::export_file(store, root, &mut capture);
    capture.0
}

fn get(ctx: &Context, args: GetArgs) -> anyhow::Result<ExitCode> {
    let cid = parse_cid(&args.cid)?;
    if args.output.exists() {
        bail!("{} exists; choose a new path", args.output.display());
    }
    let mut scratch = Scratch::new()?;
    fetch_into(&args.rpc, &cid, &mut scratch)?;
    let head = head_bytes(&scratch, &cid);
    let encrypted = !args.raw && envelope::Header::decode(&head).is_ok();
    let result = if encrypted {
        decrypt_to(ctx, &args, &cid, &scratch)
    } else {
        metamesh_storage::export_path(&scratch, &cid, &args.output).map_err(Into::into)
    };
    let size = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_file(&args.output);
            return Err(e);
        }
    };
    let view =
        json!({"cid": cid.to_string(), "path": args.output, "size": size, "decrypted": encrypted});
    ctx.out.emit(&view, || {
        format!(
            "wrote {} ({size} bytes{})",
            args.output.display(),
            if encrypted { ", decrypted" } else { "" }
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// Whether `key` opens the first segment of the encrypted file under `root`.
fn opens(store: &dyn metamesh_storage::BlockSource, root: &Cid, key: &[u8]) -> bool {
    let Some(leaf_cid) = first_leaf(store, root) else {
        return false;
    };
    let leaf = match metamesh_storage::node(store, &leaf_cid) {
        Ok(metamesh_storage::Node::Raw(b)) => b,
        Ok(metamesh_storage::Node::Pb { data, .. }) => data.data.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(header) = envelope::Header::decode(&leaf) else {
        return false;
    };
    let last = leaf_cid == *root;
    envelope::open_segment(&header, key, 0, &leaf[envelope::HEADER_LEN..], last).is_ok()
}

fn first_leaf(store: &dyn metamesh_storage::BlockSource, root: &Cid) -> Option<Cid> {
    let mut cid = *root;
    loop {
        let data = store.block(&cid).ok()??;
        match metamesh_storage::links(&cid, &data).ok()?.first() {
            Some(child) => cid = *child,
            None => return Some(cid),
        }
    }
}

/// The data key of `cid` wrapped for `key`, from the grants on chain: the sender's own grants
/// first, and with `store`, only a key that opens the data (anyone may post a grant).
fn shared_key(
    rpc: &RpcArgs,
    cid: &Cid,
    key: &SecretKey,
    store: Option<&dyn metamesh_storage::BlockSource>,
) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
    let me = key.public_key();
    let grants = rpc.call(
        "data_grants",
        json!([
            cid.to_string(),
            format!("0x{}", hex::encode(me.to_uncompressed()))
        ]),
    )?;
    let mut grants = grants.as_array().cloned().unwrap_or_default();
    let mine = me.address().to_string();
    grants.sort_by_key(|g| g["granter"].as_str() != Some(mine.as_str()));
    if grants.is_empty() {
        bail!(
            "{cid} is encrypted and no key was shared with {} (use --raw for the ciphertext)",
            me.address()
        );
    }
    for g in &grants {
        let wrapped = hex::decode(g["wrapped"].as_str().unwrap_or("").trim_start_matches("0x"))?;
        if let Ok(k) = unwrap_key(key, &wrapped)
            && store.is_none_or(|s| opens(s, cid, &k))
        {
            return Ok(k);
        }
    }
    bail!(
        "none of the {} keys shared with {} for {cid} opens with this key",
        grants.len(),
        me.address()
    )
}

fn decrypt_to(
    ctx: &Context,
    args: &GetArgs,
    cid: &Cid,
    store: &dyn metamesh_storage::BlockSource,
) -> anyhow::Result<u64> {
    let key = sender_key(ctx, &args.sender)?;
    let data_key = shared_key(&args.rpc, cid, &key, Some(store))?;
    let file = fs::File::create_new(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut dec = envelope::Decryptor::new(&data_key, BufWriter::new(file));
    metamesh_storage::export_file(store, cid, &mut dec).map_err(|e| match e {
        metamesh_storage::StorageError::Io(_) => {
            anyhow!("decrypting {cid}: wrong key, or the data was altered")
        }
        other => other.into(),
    })?;
    let mut out = dec.finish()?;
    out.flush()?;
    Ok(fs::metadata(&args.output)?.len())
}

fn share(ctx: &Context, args: ShareArgs) -> anyhow::Result<ExitCode> {
    let cid = parse_cid(&args.cid)?;
    let key = sender_key(ctx, &args.sender)?;
    let to = parse_public(&args.to, key.suite())?;
    let data_key = shared_key(&args.rpc, &cid, &key, None)?;
    let receipt = send_and_wait(
        ctx,
        &args.rpc,
        &args.sender,
        Action::ShareKey {
            cid: cid.to_string(),
            recipient: to.to_uncompressed().to_vec(),
            wrapped: wrap_key(&to, &data_key)?,
        },
    )?;
    let view = json!({"cid": cid.to_string(), "recipient": to.address().to_string(), "block": receipt["blockNumber"]});
    ctx.out.emit(&view, || {
        format!(
            "shared {cid} with {} in block {}",
            to.address(),
            receipt["blockNumber"]
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn export(ctx: &Context, cid: &str, output: &Path, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let cid = parse_cid(cid)?;
    let file =
        fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut car = CarWriter::new(BufWriter::with_capacity(1 << 20, file), &[cid])?;
    let (mut blocks, mut bytes) = (0u64, 0u64);
    let result = download(rpc, &cid, |b| {
        blocks += 1;
        bytes += b.data.len() as u64;
        car.write(&b.cid, &b.data).map_err(Into::into)
    })
    .and_then(|()| car.finish().map(|_| ()).map_err(Into::into));
    if let Err(e) = result {
        let _ = fs::remove_file(output);
        return Err(e);
    }
    let view = json!({"cid": cid.to_string(), "path": output, "blocks": blocks, "bytes": bytes});
    ctx.out.emit(&view, || {
        format!(
            "wrote {} ({blocks} blocks, {bytes} bytes)",
            output.display()
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn import_car(ctx: &Context, file: &Path, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let mut input = fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    // Read the header here first: a file that is not CAR gets a clear error before any upload.
    CarReader::new(fs::File::open(file)?)
        .with_context(|| format!("{} is not a CAR v1 file", file.display()))?;
    let (_, answer) = upload(content_url(rpc, "car?pin=roots"), |out| {
        std::io::copy(&mut input, out).context("sending the CAR file")?;
        Ok(())
    })?;
    ctx.out.emit(&answer, || {
        format!(
            "imported {} blocks ({} bytes); pinned {}",
            answer["blocks"],
            answer["bytes"],
            answer["pinned"]
                .as_array()
                .map(|r| r
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn pin(ctx: &Context, cid: &str, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
    let cid = parse_cid(cid)?;
    let url = content_url(rpc, &format!("fetch/{cid}?pin=true"));
    let mut response = ureq::post(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .send_empty()
        .with_context(|| format!("no node answers at {url}"))?;
    let ok = response.status().is_success();
    let text = response.body_mut().read_to_string()?;
    let v: Value = serde_json::from_str(&text).unwrap_or(json!({"error": text}));
    if !ok {
        bail!("pinning {cid}: {}", v["error"].as_str().unwrap_or("?"));
    }
    ctx.out.emit(&v, || {
        format!("pinned {cid} ({} blocks fetched)", v["fetchedBlocks"])
    });
    Ok(ExitCode::SUCCESS)
}

pub fn run(ctx: &Context, cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Add(args) => add(ctx, args),
        DataCommand::Get(args) => get(ctx, args),
        DataCommand::Share(args) => share(ctx, args),
        DataCommand::Export { cid, output, rpc } => export(ctx, &cid, &output, &rpc),
        DataCommand::Import { file, rpc } => import_car(ctx, &file, &rpc),
        DataCommand::Pin { cid, rpc } => pin(ctx, &cid, &rpc),
        DataCommand::Unpin { cid, rpc } => {
            let cid = parse_cid(&cid)?;
            let removed = rpc.call("data_unpin", json!([cid.to_string()]))?;
            ctx.out.emit(
                &json!({"cid": cid.to_string(), "unpinned": removed}),
                || {
                    if removed == json!(true) {
                        format!("unpinned {cid}")
                    } else {
                        format!("{cid} was not pinned")
                    }
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Gc { rpc } => {
            let report = rpc.call("data_gc", json!([]))?;
            ctx.out.emit(&report, || {
                format!(
                    "removed {} blocks ({} bytes); kept {}",
                    report["removedBlocks"], report["removedBytes"], report["keptBlocks"]
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Ls { rpc } => {
            let pins = rpc.call("data_ls", json!([]))?;
            ctx.out.emit(&pins, || {
                let rows: Vec<Vec<String>> = pins
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|p| {
                                vec![
                                    p["cid"].as_str().unwrap_or("").to_string(),
                                    p["size"].to_string(),
                                    p["profile"].as_str().unwrap_or("").to_string(),
                                    if p["encrypted"] == json!(true) {
                                        "yes".into()
                                    } else {
                                        "no".into()
                                    },
                                    p["name"].as_str().unwrap_or("").to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(&["CID", "SIZE", "PROFILE", "ENCRYPTED", "NAME"], &rows)
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}
