//! `data get` and `data share`: the data key from the grants on chain, checked against the data,
//! and decryption.

use super::{
    transfer::{Scratch, fetch_into},
    *,
};

/// The first bytes of the file under `root` (empty for a directory): enough for the header.
pub(super) fn head_bytes(store: &dyn metamesh_storage::BlockSource, root: &Cid) -> Vec<u8> {
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

pub(super) fn get(ctx: &Context, args: GetArgs) -> anyhow::Result<ExitCode> {
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
pub(super) fn opens(store: &dyn metamesh_storage::BlockSource, root: &Cid, key: &[u8]) -> bool {
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

pub(super) fn first_leaf(store: &dyn metamesh_storage::BlockSource, root: &Cid) -> Option<Cid> {
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
pub(super) fn shared_key(
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

pub(super) fn decrypt_to(
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

pub(super) fn share(ctx: &Context, args: ShareArgs) -> anyhow::Result<ExitCode> {
    let cid = parse_cid(&args.cid)?;
    let key = sender_key(ctx, &args.sender)?;
    let to = parse_public(&args.to, key.suite())?;
    let data_key = shared_key(&args.rpc, &cid, &key, None)?;
    let receipt = send_and_wait(
        ctx,
        &args.rpc,
        &args.sender,
        DataAction::ShareKey {
            cid: cid.to_bytes(),
            recipient: to.to_uncompressed().to_vec(),
            wrapped: wrap_key(&to, &data_key)?,
        }
        .into(),
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

/// The content under `cid` in memory, decrypted with a key shared with the sender when it is
/// encrypted: for commands that use data without writing it out (`kg query --private`).
pub(crate) fn content_bytes(
    ctx: &Context,
    rpc: &RpcArgs,
    sender: &SenderArgs,
    cid: &str,
    max: u64,
) -> anyhow::Result<Vec<u8>> {
    let cid = parse_cid(cid)?;
    let mut scratch = Scratch::new()?;
    fetch_into(rpc, &cid, &mut scratch)?;
    let head = head_bytes(&scratch, &cid);
    /// Refuses to grow past the limit.
    struct Capped(Vec<u8>, u64);
    impl Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len() as u64 + buf.len() as u64 > self.1 {
                return Err(std::io::Error::other("over the size limit"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let too_big = |e| match e {
        metamesh_storage::StorageError::Io(_) => {
            anyhow!("{cid}: over {max} bytes, wrong key, or altered")
        }
        other => other.into(),
    };
    if envelope::Header::decode(&head).is_err() {
        let mut out = Capped(Vec::new(), max);
        metamesh_storage::export_file(&scratch, &cid, &mut out).map_err(too_big)?;
        return Ok(out.0);
    }
    let key = sender_key(ctx, sender)?;
    let data_key = shared_key(rpc, &cid, &key, Some(&scratch))?;
    let mut dec = envelope::Decryptor::new(&data_key, Capped(Vec::new(), max));
    metamesh_storage::export_file(&scratch, &cid, &mut dec).map_err(too_big)?;
    Ok(dec.finish()?.0)
}
