//! Password-based key derivation for key files: scrypt (written and read) and PBKDF2-HMAC-SHA256
//! (read only, for Web3 v3 files made by other tools).

use serde::{Deserialize, Serialize};

use super::KeystoreError;

/// scrypt cost. geth's two presets are kept so files move freely between the tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptParams {
    /// geth's `StandardScryptN`/`StandardScryptP`: about 256 MiB and a second per unlock.
    pub const STANDARD: ScryptParams = ScryptParams {
        log_n: 18,
        r: 8,
        p: 1,
    };
    /// geth's `LightScryptN`/`LightScryptP` (`--lightkdf`): 4 MiB, for tests and small devices.
    pub const LIGHT: ScryptParams = ScryptParams {
        log_n: 12,
        r: 8,
        p: 6,
    };
}

/// Refuse files whose work factor would exhaust memory or time: 2^20 × r=8 is already 1 GiB.
const MAX_SCRYPT_LOG_N: u8 = 20;
const MAX_SCRYPT_R_TIMES_P: u64 = 1 << 12;
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

/// The `kdfparams` object of a key file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KdfParams {
    Scrypt {
        dklen: usize,
        n: u64,
        r: u32,
        p: u32,
        salt: String,
    },
    Pbkdf2 {
        dklen: usize,
        c: u32,
        prf: String,
        salt: String,
    },
}

impl KdfParams {
    pub fn scrypt(params: ScryptParams, dklen: usize, salt: &[u8]) -> Self {
        KdfParams::Scrypt {
            dklen,
            n: 1u64 << params.log_n,
            r: params.r,
            p: params.p,
            salt: hex::encode(salt),
        }
    }

    pub fn dklen(&self) -> usize {
        match self {
            KdfParams::Scrypt { dklen, .. } | KdfParams::Pbkdf2 { dklen, .. } => *dklen,
        }
    }

    /// Derives the file key from the password, after checking the parameters are sane.
    pub fn derive(&self, kdf: &str, password: &[u8]) -> Result<Vec<u8>, KeystoreError> {
        let bad = |why: String| KeystoreError::Format(format!("kdfparams: {why}"));
        match (kdf, self) {
            (
                "scrypt",
                KdfParams::Scrypt {
                    dklen,
                    n,
                    r,
                    p,
                    salt,
                },
            ) => {
                if !n.is_power_of_two() || *n < 2 {
                    return Err(bad(format!("scrypt n = {n} is not a power of two")));
                }
                let log_n = n.trailing_zeros() as u8;
                if log_n > MAX_SCRYPT_LOG_N || u64::from(*r) * u64::from(*p) > MAX_SCRYPT_R_TIMES_P
                {
                    return Err(bad(format!("scrypt cost n={n} r={r} p={p} is too high")));
                }
                check_dklen(*dklen)?;
                let salt = hex::decode(salt).map_err(|_| bad("salt is not hex".into()))?;
                let params = scrypt::Params::new(log_n, *r, *p)
                    .map_err(|_| bad(format!("invalid scrypt parameters n={n} r={r} p={p}")))?;
                let mut out = vec![0u8; *dklen];
                scrypt::scrypt(password, &salt, &params, &mut out)
                    .map_err(|_| bad("invalid scrypt output length".into()))?;
                Ok(out)
            }
            (
                "pbkdf2",
                KdfParams::Pbkdf2 {
                    dklen,
                    c,
                    prf,
                    salt,
                },
            ) => {
                if prf != "hmac-sha256" {
                    return Err(bad(format!("unsupported prf `{prf}` (only hmac-sha256)")));
                }
                if *c == 0 || *c > MAX_PBKDF2_ROUNDS {
                    return Err(bad(format!("pbkdf2 round count {c} out of range")));
                }
                check_dklen(*dklen)?;
                let salt = hex::decode(salt).map_err(|_| bad("salt is not hex".into()))?;
                let mut out = vec![0u8; *dklen];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, *c, &mut out);
                Ok(out)
            }
            (other, _) => Err(bad(format!(
                "kdf `{other}` does not match its parameters (expected scrypt or pbkdf2)"
            ))),
        }
    }
}

fn check_dklen(dklen: usize) -> Result<(), KeystoreError> {
    if !(16..=64).contains(&dklen) {
        return Err(KeystoreError::Format(format!(
            "kdfparams: dklen {dklen} out of range 16..=64"
        )));
    }
    Ok(())
}
