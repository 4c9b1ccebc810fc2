//! CAR streams between the CLI and the node: uploads through a pipe, downloads into an indexed
//! temporary file, and `data export` / `data import`.

use super::*;

/// The read end of the upload pipe: its end of input is an error unless the writer finished.
pub(super) struct Completed {
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
pub(super) fn upload<T>(
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
        let mut response = crate::commands::client::authorized(&url, ureq::post(&url))
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

/// Downloaded blocks in a temporary file, indexed by CID (removed on drop): the exporter reads
/// them back by position, with no database in between.
pub(super) struct Scratch {
    path: PathBuf,
    file: fs::File,
    index: std::collections::HashMap<Cid, (u64, usize)>,
    end: u64,
}

impl Scratch {
    pub(super) fn new() -> anyhow::Result<Scratch> {
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
pub(super) fn download(
    rpc: &RpcArgs,
    cid: &Cid,
    mut each: impl FnMut(&metamesh_storage::Block) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let url = content_url(rpc, &format!("car/{cid}"));
    let mut response = crate::commands::client::authorized(&url, ureq::get(&url))
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

pub(super) fn fetch_into(rpc: &RpcArgs, cid: &Cid, scratch: &mut Scratch) -> anyhow::Result<()> {
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

pub(super) fn export(
    ctx: &Context,
    cid: &str,
    output: &Path,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
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

pub(super) fn import_car(ctx: &Context, file: &Path, rpc: &RpcArgs) -> anyhow::Result<ExitCode> {
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

/// Adds `bytes` as one file (the default profile, Kubo's CIDs) to the node, pinned as `name`.
pub(crate) fn add_bytes(rpc: &RpcArgs, name: &str, bytes: &[u8]) -> anyhow::Result<Cid> {
    let profile = Profile::KUBO_DEFAULT;
    let url = content_url(
        rpc,
        &format!(
            "car?pin=last&name={}&size={}&profile={profile}&encrypted=false",
            encode_query(name),
            bytes.len()
        ),
    );
    let (root, answer) = upload(url, |out| {
        let mut car = CarWriter::new(out, &[])?;
        let mut importer = FileImporter::new(profile, &mut car);
        importer.write(bytes)?;
        let (root, _) = importer.finish()?;
        car.finish()?;
        Ok(root.cid)
    })?;
    if answer["pinned"][0].as_str() != Some(root.to_string().as_str()) {
        bail!("the node pinned {}, not {root}", answer["pinned"][0]);
    }
    Ok(root)
}

/// The file under `cid`, fetched by the node from the network if need be; at most `max` bytes.
pub(crate) fn get_bytes(rpc: &RpcArgs, cid: &Cid, max: u64) -> anyhow::Result<Vec<u8>> {
    let mut scratch = Scratch::new()?;
    let mut total = 0u64;
    download(rpc, cid, |b| {
        total += b.data.len() as u64;
        if total > max.saturating_mul(2).saturating_add(1 << 20) {
            bail!("{cid} is larger than the {max} bytes allowed");
        }
        scratch.add(b)
    })?;
    let mut out = Vec::new();
    metamesh_storage::export_file(&scratch, cid, &mut out)?;
    if out.len() as u64 > max {
        bail!("{cid} is {} bytes, over the {max} allowed", out.len());
    }
    Ok(out)
}
