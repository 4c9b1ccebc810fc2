//! `metamesh key sign|verify|encrypt|decrypt`: one-off operations with a PEM key or account,
//! in the formats OpenSSL reads and writes.

use std::{path::PathBuf, process::ExitCode};

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use metamesh_crypto::{
    Address, PublicKey, Signature, Suite,
    sm::{self, CipherLayout},
};
use serde::Serialize;

use super::{read_input, write_output};
use crate::{
    Context,
    keyref::{KeyRef, check_suite},
    password::PasswordArgs,
};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SigFormat {
    /// ASN.1 DER `SEQUENCE { r, s }`, as `openssl pkeyutl -sign` writes (binary in a file).
    Der,
    /// The suite encoding as hex: sm `pubkey(33) ‖ r ‖ s`, eth `r ‖ s ‖ v`.
    Raw,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Sign a file (SM2 with Z_A over the file in sm; ECDSA over Keccak-256 in eth).
    Sign(SignArgs),
    /// Verify a signature: prints `valid` (exit 0) or `invalid` (exit 1).
    Verify(VerifyArgs),
    /// Encrypt a file to an SM2 public key.
    Encrypt(CipherArgs),
    /// Decrypt a file with an SM2 private key.
    Decrypt(CipherArgs),
}

#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// PEM file (private), JSON key file, or account address.
    #[arg(long)]
    key: String,
    /// The file to sign; `-` reads standard input.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// SM2 distinguishing ID [default: 1234567812345678].
    #[arg(long)]
    id: Option<String>,
    /// Refuse a key of the other suite.
    #[arg(long)]
    suite: Option<Suite>,
    #[arg(long, value_enum, default_value = "der")]
    format: SigFormat,
    /// Write the signature here (DER as binary, raw as hex) instead of printing hex.
    #[arg(long, value_name = "SIG")]
    out: Option<PathBuf>,
    #[command(flatten)]
    password: PasswordArgs,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// PEM file (public or private), JSON key file, or account address.
    #[arg(long)]
    key: String,
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// DER (binary or hex) or raw hex: r‖s, or the suite encoding.
    #[arg(long, value_name = "SIG")]
    sig: PathBuf,
    #[arg(long)]
    id: Option<String>,
    #[arg(long)]
    suite: Option<Suite>,
    #[command(flatten)]
    password: PasswordArgs,
}

#[derive(clap::Args, Debug)]
pub struct CipherArgs {
    /// PEM file, JSON key file, or account address (sm suite).
    #[arg(long)]
    key: String,
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// asn1 (OpenSSL's layout) or c1c3c2 (GM/T 0003.4 raw).
    #[arg(long, default_value = "asn1")]
    layout: CipherLayout,
    #[command(flatten)]
    password: PasswordArgs,
}

pub fn run(ctx: &Context, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Sign(args) => sign(ctx, args),
        KeyCommand::Verify(args) => verify(ctx, args),
        KeyCommand::Encrypt(args) => cipher(ctx, args, true),
        KeyCommand::Decrypt(args) => cipher(ctx, args, false),
    }
}

/// The SM2 ID to use; giving one to an eth key is a mistake worth naming.
fn resolve_id(suite: Suite, id: Option<String>) -> anyhow::Result<String> {
    match (suite, id) {
        (Suite::Eth, Some(_)) => bail!("--id is an SM2 distinguishing ID; eth keys take none"),
        (_, id) => Ok(id.unwrap_or_else(|| sm::DEFAULT_ID.to_owned())),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignView {
    suite: Suite,
    signer: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    format: &'static str,
    signature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<String>,
}

fn sign(ctx: &Context, args: SignArgs) -> anyhow::Result<ExitCode> {
    let SignArgs {
        key,
        input,
        id,
        suite,
        format,
        out,
        password,
    } = args;
    let secret = KeyRef::parse(ctx, &key, suite)?.secret(ctx, &password)?;
    check_suite(secret.suite(), suite)?;
    let id = resolve_id(secret.suite(), id)?;
    let msg = read_input(&input)?;
    let sig = secret.sign_message_with_id(&msg, &id)?;
    let (bytes, name) = match format {
        SigFormat::Der => (sig.to_der(), "der"),
        SigFormat::Raw => (sig.as_bytes().to_vec(), "raw"),
    };
    if let Some(path) = &out {
        match format {
            SigFormat::Der => write_output(path, &bytes)?,
            SigFormat::Raw => write_output(path, format!("{}\n", hex::encode(&bytes)).as_bytes())?,
        }
    }
    let view = SignView {
        suite: secret.suite(),
        signer: secret.public_key().address(),
        id: (secret.suite() == Suite::Sm).then_some(id),
        format: name,
        signature: hex::encode(&bytes),
        out: out.as_ref().map(|p| p.display().to_string()),
    };
    ctx.out.emit(&view, || match &out {
        Some(_) => String::new(),
        None => view.signature.clone(),
    });
    Ok(ExitCode::SUCCESS)
}

/// A signature as read from a file.
enum ReadSignature {
    /// A bare (r, s): DER or 64 raw bytes.
    Rs([u8; 32], [u8; 32]),
    /// The suite encoding, which names or recovers its signer.
    Suite(Signature),
}

fn read_signature(bytes: &[u8], suite: Suite) -> anyhow::Result<ReadSignature> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    let raw = match text {
        Some(t)
            if !t.is_empty()
                && t.trim_start_matches("0x")
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit()) =>
        {
            hex::decode(t.trim_start_matches("0x"))
                .map_err(|_| anyhow::anyhow!("signature hex has an odd number of digits"))?
        }
        _ => bytes.to_vec(),
    };
    let split = |rs: &[u8]| -> ([u8; 32], [u8; 32]) {
        (rs[..32].try_into().unwrap(), rs[32..].try_into().unwrap())
    };
    if raw.first() == Some(&0x30) && raw.len() != suite.signature_len() {
        let rs = match suite {
            Suite::Sm => sm::signature_from_der(&raw)?.to_bytes().to_vec(),
            Suite::Eth => metamesh_crypto::eth::signature_from_der(&raw)?
                .to_bytes()
                .to_vec(),
        };
        let (r, s) = split(&rs);
        return Ok(ReadSignature::Rs(r, s));
    }
    match raw.len() {
        64 => {
            let (r, s) = split(&raw);
            Ok(ReadSignature::Rs(r, s))
        }
        n if n == suite.signature_len() => {
            Ok(ReadSignature::Suite(Signature::from_bytes(suite, &raw)?))
        }
        n => bail!(
            "signature is {n} bytes: expected DER, 64 bytes (r‖s) or the {suite} encoding ({} bytes)",
            suite.signature_len()
        ),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifyView {
    valid: bool,
    suite: Suite,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn verify(ctx: &Context, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let VerifyArgs {
        key,
        input,
        sig: sig_path,
        id,
        suite,
        password,
    } = args;
    let password = &password;
    let key = KeyRef::parse(ctx, &key, suite)?;
    // A self-identifying signature checks against an account's address without unlocking it.
    let known_address = key.address();
    let public: Option<PublicKey> = match &key {
        KeyRef::Pem(_) => Some(key.public(ctx, password)?),
        _ => None,
    };
    let key_suite = match (&public, &key) {
        (Some(p), _) => p.suite(),
        (None, KeyRef::Account(_)) => {
            ctx.keystore()?
                .find(&known_address.expect("accounts have addresses"))?
                .suite
        }
        (None, KeyRef::File(path)) => metamesh_crypto::keystore::read_key_file(path)?.suite()?,
        (None, KeyRef::Pem(_)) => unreachable!("PEM keys resolved above"),
    };
    check_suite(key_suite, suite)?;
    let id = resolve_id(key_suite, id)?;
    let msg = read_input(&input)?;
    let sig = read_signature(&read_input(&sig_path)?, key_suite)?;

    let outcome = match sig {
        ReadSignature::Suite(sig) => match (&public, known_address) {
            (Some(p), _) => p
                .verify_message_with_id(&msg, &id, &sig)
                .map(|()| p.address()),
            (None, Some(address)) => sig
                .recover_message_signer(&msg, &id)
                .map(|signer| signer.address())
                .and_then(|a| {
                    if a == address {
                        Ok(a)
                    } else {
                        Err(metamesh_crypto::CryptoError::BadSignature)
                    }
                }),
            (None, None) => {
                let p = key.public(ctx, password)?;
                p.verify_message_with_id(&msg, &id, &sig)
                    .map(|()| p.address())
            }
        },
        ReadSignature::Rs(r, s) => {
            let p = match public {
                Some(p) => p,
                None => key.public(ctx, password)?,
            };
            p.verify_rs(&msg, &id, &r, &s).map(|()| p.address())
        }
    };
    let view = VerifyView {
        valid: outcome.is_ok(),
        suite: key_suite,
        signer: outcome.as_ref().ok().copied(),
        reason: outcome.as_ref().err().map(ToString::to_string),
    };
    ctx.out.emit(&view, || {
        if view.valid { "valid" } else { "invalid" }.to_owned()
    });
    Ok(if view.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CipherView {
    operation: &'static str,
    layout: String,
    input_bytes: usize,
    output_bytes: usize,
    out: String,
}

fn cipher(ctx: &Context, args: CipherArgs, encrypt: bool) -> anyhow::Result<ExitCode> {
    let key = KeyRef::parse(ctx, &args.key, None)?;
    let input = read_input(&args.input)?;
    let output = if encrypt {
        let public = key.public(ctx, &args.password)?;
        let PublicKey::Sm(public) = public else {
            bail!(
                "SM2 encryption needs an sm key; KEY is an {} key",
                public.suite()
            )
        };
        sm::encrypt(&public, &input, args.layout)?
    } else {
        let secret = key.secret(ctx, &args.password)?;
        let Some(sm2_secret) = secret.as_sm2() else {
            bail!(
                "SM2 decryption needs an sm key; KEY is an {} key",
                secret.suite()
            )
        };
        sm::decrypt(sm2_secret, &input, args.layout)?
    };
    write_output(&args.out, &output)?;
    let view = CipherView {
        operation: if encrypt { "encrypt" } else { "decrypt" },
        layout: format!("{:?}", args.layout).to_lowercase(),
        input_bytes: input.len(),
        output_bytes: output.len(),
        out: args.out.display().to_string(),
    };
    if args.out.as_os_str() != "-" {
        ctx.out.emit(&view, String::new);
    }
    Ok(ExitCode::SUCCESS)
}
