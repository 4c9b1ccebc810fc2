//! One module per top-level command.

pub mod account;
pub mod attest;
pub mod bench;
pub mod bmci;
pub mod bmci_chain;
pub mod client;
pub mod data;
pub mod devnet;
pub mod hash;
pub mod init;
pub mod job;
mod job_build;
mod job_live;
mod job_view;
pub mod key;
pub mod kg;
pub mod kg_bases;
pub mod node;
pub mod provider;
mod provider_run;
pub mod sim;
pub mod storage;
pub mod tools;
pub mod zk;
mod zk_chain;

use std::path::Path;

use anyhow::Context as _;

/// Reads a whole input file, `-` meaning standard input.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("reading stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes an output file, `-` meaning standard output.
pub fn write_output(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        std::io::Write::write_all(&mut std::io::stdout(), bytes).context("writing stdout")?;
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Writes a file only its owner can read (keys, passwords), replacing any old one.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    // The mode above applies only to a new file: an existing one is narrowed too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", path.display()))?;
    }
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}
