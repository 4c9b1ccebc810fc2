//! Resolving a `--key KEY` argument: a PEM file (public or private), a key file (JSON), or the
//! address of an account in the keystore.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use metamesh_crypto::{
    Address, PublicKey, SecretKey, Suite,
    keystore::read_key_file,
    pem::{PemKey, parse_pem},
};

use crate::{Context, password::PasswordArgs};

/// What `--key` named, before any password is asked for.
pub enum KeyRef {
    /// Read from a PEM file.
    Pem(PemKey),
    /// A JSON key file given by path.
    File(std::path::PathBuf),
    /// An account in the keystore.
    Account(Address),
}

impl KeyRef {
    pub fn parse(ctx: &Context, key: &str, suite: Option<Suite>) -> anyhow::Result<Self> {
        let path = Path::new(key);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading key {}", path.display()))?;
            if text.trim_start().starts_with('{') {
                return Ok(KeyRef::File(path.to_owned()));
            }
            let pem = parse_pem(&text, suite).with_context(|| format!("key {}", path.display()))?;
            return Ok(KeyRef::Pem(pem));
        }
        match key.parse::<Address>() {
            Ok(address) => {
                ctx.keystore()?.find(&address)?;
                Ok(KeyRef::Account(address))
            }
            Err(_) => bail!(
                "KEY `{key}` is neither a readable file nor an account address (0x + 40 hex digits)"
            ),
        }
    }

    /// The private key, unlocking a key file or account with a password if needed.
    pub fn secret(&self, ctx: &Context, password: &PasswordArgs) -> anyhow::Result<SecretKey> {
        match self {
            KeyRef::Pem(PemKey::Secret(k)) => Ok(k.clone()),
            KeyRef::Pem(PemKey::Public(_)) => {
                bail!("this operation needs a private key, but KEY is a public key")
            }
            KeyRef::File(path) => {
                let pw = password.read(&path.display().to_string(), false)?;
                Ok(read_key_file(path)?.decrypt(pw.as_bytes())?)
            }
            KeyRef::Account(address) => {
                let pw = password.read(&address.to_string(), false)?;
                Ok(ctx.keystore()?.unlock(address, pw.as_bytes())?)
            }
        }
    }

    /// The public key; only a key file or account needs unlocking for it.
    pub fn public(&self, ctx: &Context, password: &PasswordArgs) -> anyhow::Result<PublicKey> {
        match self {
            KeyRef::Pem(PemKey::Secret(k)) => Ok(k.public_key()),
            KeyRef::Pem(PemKey::Public(k)) => Ok(*k),
            _ => Ok(self.secret(ctx, password)?.public_key()),
        }
    }

    /// The address, when it is known without a password.
    pub fn address(&self) -> Option<Address> {
        match self {
            KeyRef::Pem(PemKey::Secret(k)) => Some(k.public_key().address()),
            KeyRef::Pem(PemKey::Public(k)) => Some(k.address()),
            KeyRef::Account(a) => Some(*a),
            KeyRef::File(path) => read_key_file(path).ok()?.address().ok()?,
        }
    }
}

/// Refuses a key of another suite than the one asked for.
pub fn check_suite(actual: Suite, requested: Option<Suite>) -> anyhow::Result<()> {
    match requested {
        Some(s) if s != actual => Err(anyhow!("KEY is an {actual} key but --suite {s} was given")),
        _ => Ok(()),
    }
}
