//! `data add`: a file or directory imported here (optionally hashed and encrypted) and streamed
//! to the node as a CAR file.

use super::{transfer::upload, *};

/// Feeds written bytes to the importer.
pub(super) struct ToImporter<S: BlockSink>(FileImporter<S>);

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
pub(super) struct Imported {
    root: Linked,
    plain_size: u64,
    digest: Option<[u8; 32]>,
    key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

/// Imports `path` into `sink`: optionally hashing the plaintext, optionally encrypting.
pub(super) fn import(
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
    let mut hasher: Option<SuiteHasher> = (args.register || args.encrypt).then(|| suite.hasher());
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

pub(super) fn add(ctx: &Context, args: AddArgs) -> anyhow::Result<ExitCode> {
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
    if args.commitment.is_some() && !(args.register || args.encrypt) {
        bail!("--commitment is stored with the registration: add --register (or --encrypt)");
    }
    // Registered first: only the registered owner may post the wrapped keys.
    if (args.register || args.encrypt) && !args.only_hash {
        let digest = imported
            .digest
            .ok_or_else(|| anyhow!("--register takes a file: a directory has no single digest"))?;
        let mut meta = json!({"title": args.title.clone().unwrap_or_else(|| name.clone())});
        if let Some(c) = &args.commitment {
            if c.is_empty() || c.len() > 80 || !c.bytes().all(|b| b.is_ascii_digit()) {
                bail!("--commitment must be a decimal field element, got {c:?}");
            }
            meta["commitment"] = json!(c);
        }
        let metadata = serde_json::to_vec(&meta)?;
        let receipt = send_and_wait(
            ctx,
            &args.rpc,
            &args.sender,
            DataAction::Register {
                digest,
                size: imported.plain_size,
                cid: imported.root.cid.to_bytes(),
                encrypted: args.encrypt,
                profile: profile.to_string(),
                title: args.title.clone().unwrap_or(name.clone()),
                licence: args.licence.clone(),
                metadata,
            }
            .into(),
        )?;
        view["registered"] = json!({"digest": format!("0x{}", hex::encode(digest)), "block": receipt["blockNumber"]});
    }
    if let (Some(k), Some(data_key)) = (&key, &imported.key) {
        let mut shared = Vec::new();
        for to in std::iter::once(k.public_key()).chain(recipients) {
            let wrapped = wrap_key(&to, data_key)?;
            send_and_wait(
                ctx,
                &args.rpc,
                &args.sender,
                DataAction::ShareKey {
                    cid: imported.root.cid.to_bytes(),
                    recipient: to.to_uncompressed().to_vec(),
                    wrapped,
                }
                .into(),
            )?;
            shared.push(to.address().to_string());
        }
        view["sharedWith"] = json!(shared);
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
