//! `metamesh hash --suite sm|eth FILE…`: SM3 or Keccak-256 of files, streamed.

use std::{io::Read as _, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use metamesh_crypto::Suite;
use serde::Serialize;

use crate::Context;

#[derive(clap::Args, Debug)]
pub struct HashArgs {
    /// Crypto suite whose hash to use: sm (SM3) or eth (Keccak-256).
    #[arg(long, default_value = "sm")]
    suite: Suite,
    /// Files to hash; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Digest {
    file: String,
    suite: Suite,
    algorithm: &'static str,
    digest: String,
}

fn hash_file(suite: Suite, path: &PathBuf) -> anyhow::Result<[u8; 32]> {
    let mut hasher = suite.hasher();
    let mut reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buf[..n]);
    }
}

pub fn run(ctx: &Context, args: HashArgs) -> anyhow::Result<ExitCode> {
    let mut digests = Vec::new();
    for path in &args.files {
        digests.push(Digest {
            file: path.display().to_string(),
            suite: args.suite,
            algorithm: args.suite.hash_name(),
            digest: hex::encode(hash_file(args.suite, path)?),
        });
    }
    let text = || {
        digests
            .iter()
            .map(|d| format!("{}  {}", d.digest, d.file))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if digests.len() == 1 {
        ctx.out.emit(&digests[0], text);
    } else {
        ctx.out.emit(&digests, text);
    }
    Ok(ExitCode::SUCCESS)
}
