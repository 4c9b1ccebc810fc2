//! `metamesh account new|list|import|export|inspect`: keys in the encrypted keystore.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use metamesh_crypto::{
    Address, SecretKey, Suite,
    keystore::{AccountEntry, ScryptParams, read_key_file},
    pem::{PemKey, PrivateKeyFormat, parse_pem, public_to_pem, secret_to_pem},
};
use serde::Serialize;

use crate::{Context, keyref::KeyRef, password::PasswordArgs};

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account with a fresh random key.
    New {
        /// Crypto suite of the key: sm (SM2) or eth (secp256k1).
        #[arg(long, default_value = "sm")]
        suite: Suite,
        /// Cheaper scrypt (n=4096, p=6) as geth's --lightkdf: for tests and small devices.
        #[arg(long)]
        light_kdf: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List the accounts in the keystore.
    List,
    /// Import a private key: PEM (PKCS#8 or SEC1), a JSON key file, or 64 hex digits.
    Import {
        /// The key file to import.
        file: PathBuf,
        /// Suite of a bare hex key (PEM and key files name their own curve).
        #[arg(long)]
        suite: Option<Suite>,
        #[arg(long)]
        light_kdf: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Export an account's key as PEM (private by default: handle the output with care).
    Export {
        /// The account's address.
        account: Address,
        /// Private-key container: pkcs8 (OpenSSL's default) or sec1.
        #[arg(long, default_value = "pkcs8")]
        format: PrivateKeyFormat,
        /// Export the public key (SPKI) instead of the private key.
        #[arg(long)]
        public: bool,
        /// Write to this file (mode 0600) instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Show a key's suite, address and public key: a PEM file, key file or account.
    Inspect {
        /// PEM file, JSON key file, or account address.
        key: String,
        #[arg(long)]
        suite: Option<Suite>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountView {
    address: Address,
    suite: Suite,
    path: String,
}

impl From<&AccountEntry> for AccountView {
    fn from(e: &AccountEntry) -> Self {
        AccountView {
            address: e.address,
            suite: e.suite,
            path: e.path.display().to_string(),
        }
    }
}

pub fn run(ctx: &Context, cmd: AccountCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AccountCommand::New {
            suite,
            light_kdf,
            password,
        } => {
            let pw = password.read("the new account", true)?;
            let key = SecretKey::generate(suite)?;
            let entry = ctx
                .keystore()?
                .store(&key, pw.as_bytes(), cost(light_kdf))?;
            print_entry(ctx, &entry);
        }
        AccountCommand::List => {
            let entries = ctx.keystore()?.list()?;
            let views: Vec<AccountView> = entries.iter().map(AccountView::from).collect();
            ctx.out.emit(&views, || {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| vec![v.address.to_string(), v.suite.to_string(), v.path.clone()])
                    .collect();
                crate::output::table(&["ADDRESS", "SUITE", "FILE"], &rows)
            });
        }
        AccountCommand::Import {
            file,
            suite,
            light_kdf,
            password,
        } => {
            let key = read_importable(&file, suite, &password)?;
            let pw = password.read("the imported account", true)?;
            let entry = ctx
                .keystore()?
                .store(&key, pw.as_bytes(), cost(light_kdf))?;
            print_entry(ctx, &entry);
        }
        AccountCommand::Export {
            account,
            format,
            public,
            out,
            password,
        } => {
            let pw = password.read(&account.to_string(), false)?;
            let key = ctx.keystore()?.unlock(&account, pw.as_bytes())?;
            let pem = if public {
                zeroize::Zeroizing::new(public_to_pem(&key.public_key())?)
            } else {
                secret_to_pem(&key, format)?
            };
            if let Some(path) = &out {
                super::write_private(path, pem.as_bytes())?;
            }
            let view = ExportView {
                address: account,
                suite: key.suite(),
                kind: if public {
                    "public key (spki)"
                } else {
                    format.label()
                },
                out: out.as_ref().map(|p| p.display().to_string()),
                pem: out.is_none().then(|| pem.as_str()),
            };
            ctx.out.emit(&view, || match out {
                Some(_) => String::new(),
                None => pem.trim_end().to_owned(),
            });
        }
        AccountCommand::Inspect { key, suite } => inspect(ctx, &key, suite)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ExportView<'a> {
    address: Address,
    suite: Suite,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pem: Option<&'a str>,
}

fn cost(light: bool) -> ScryptParams {
    if light {
        ScryptParams::LIGHT
    } else {
        ScryptParams::STANDARD
    }
}

fn print_entry(ctx: &Context, entry: &AccountEntry) {
    let view = AccountView::from(entry);
    ctx.out.emit(&view, || {
        format!("{} ({}) saved in {}", view.address, view.suite, view.path)
    });
}

/// Reads a private key to import from PEM, a key file (asking its password) or hex.
fn read_importable(
    path: &PathBuf,
    suite: Option<Suite>,
    password: &PasswordArgs,
) -> anyhow::Result<SecretKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let trimmed = text.trim();
    if trimmed.starts_with("-----BEGIN") {
        return match parse_pem(trimmed, suite)? {
            PemKey::Secret(k) => Ok(k),
            PemKey::Public(_) => bail!(
                "{} holds a public key; import needs a private key",
                path.display()
            ),
        };
    }
    if trimmed.starts_with('{') {
        let pw = password.read(&path.display().to_string(), false)?;
        return Ok(read_key_file(path)?.decrypt(pw.as_bytes())?);
    }
    let hex_key = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    let bytes = hex::decode(hex_key).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a PEM key, a JSON key file or 64 hex digits",
            path.display()
        )
    })?;
    Ok(SecretKey::from_bytes(suite.unwrap_or_default(), &bytes)?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyView {
    kind: &'static str,
    suite: Suite,
    address: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_uncompressed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kdf: Option<String>,
}

fn inspect(ctx: &Context, key: &str, suite: Option<Suite>) -> anyhow::Result<()> {
    let view = match KeyRef::parse(ctx, key, suite)? {
        KeyRef::Pem(pem) => {
            let (kind, public) = match &pem {
                PemKey::Secret(k) => ("private key", k.public_key()),
                PemKey::Public(k) => ("public key", *k),
            };
            KeyView {
                kind,
                suite: public.suite(),
                address: Some(public.address()),
                public_key: Some(format!("0x{}", hex::encode(public.to_compressed()))),
                public_key_uncompressed: Some(format!(
                    "0x{}",
                    hex::encode(public.to_uncompressed())
                )),
                path: None,
                cipher: None,
                kdf: None,
            }
        }
        KeyRef::File(path) => key_file_view(&path)?,
        KeyRef::Account(address) => key_file_view(&ctx.keystore()?.find(&address)?.path)?,
    };
    ctx.out.emit(&view, || {
        let mut lines = vec![
            format!("kind:         {}", view.kind),
            format!("suite:        {}", view.suite),
        ];
        if let Some(a) = view.address {
            lines.push(format!("address:      {a}"));
        }
        for (label, value) in [
            ("public key:   ", &view.public_key),
            ("uncompressed: ", &view.public_key_uncompressed),
            ("file:         ", &view.path),
            ("cipher:       ", &view.cipher),
            ("kdf:          ", &view.kdf),
        ] {
            if let Some(v) = value {
                lines.push(format!("{label}{v}"));
            }
        }
        lines.join("\n")
    });
    Ok(())
}

fn key_file_view(path: &std::path::Path) -> anyhow::Result<KeyView> {
    let file = read_key_file(path)?;
    Ok(KeyView {
        kind: "encrypted key file",
        suite: file.suite()?,
        address: file.address()?,
        public_key: None,
        public_key_uncompressed: None,
        path: Some(path.display().to_string()),
        cipher: Some(file.crypto.cipher.clone()),
        kdf: Some(file.crypto.kdf.clone()),
    })
}
