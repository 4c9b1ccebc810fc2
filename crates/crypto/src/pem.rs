//! PEM import and export of keys: PKCS#8 and SEC1 private keys, SPKI public keys — the files
//! `openssl genpkey -algorithm SM2` and `openssl ecparam -name secp256k1` write.

use k256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use zeroize::Zeroizing;

use crate::{CryptoError, PublicKey, Result, SecretKey, Suite, eth, sm};

/// What a PEM file held.
#[derive(Clone, Debug)]
pub enum PemKey {
    Secret(SecretKey),
    Public(PublicKey),
}

/// The private-key container to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrivateKeyFormat {
    /// `-----BEGIN PRIVATE KEY-----` (RFC 5208), what OpenSSL 3 writes by default.
    #[default]
    Pkcs8,
    /// `-----BEGIN EC PRIVATE KEY-----` (RFC 5915).
    Sec1,
}

impl PrivateKeyFormat {
    pub const fn label(self) -> &'static str {
        match self {
            PrivateKeyFormat::Pkcs8 => "private key (pkcs8)",
            PrivateKeyFormat::Sec1 => "private key (sec1)",
        }
    }
}

impl std::str::FromStr for PrivateKeyFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pkcs8" => Ok(PrivateKeyFormat::Pkcs8),
            "sec1" => Ok(PrivateKeyFormat::Sec1),
            _ => Err(format!("unknown key format `{s}` (expected pkcs8 or sec1)")),
        }
    }
}

fn pem_label(text: &str) -> Result<&str> {
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| CryptoError::Pem("no `-----BEGIN …-----` line found".into()))?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let end = rest
        .find("-----")
        .ok_or_else(|| CryptoError::Pem("unterminated BEGIN line".into()))?;
    Ok(&rest[..end])
}

/// Parses a PEM key. The curve OID inside the key decides the suite; `hint` only orders the
/// attempts, so a key is never read on the wrong curve.
pub fn parse_pem(text: &str, hint: Option<Suite>) -> Result<PemKey> {
    let label = pem_label(text)?;
    let first = hint.unwrap_or_default();
    let order = [
        first,
        if first == Suite::Sm {
            Suite::Eth
        } else {
            Suite::Sm
        },
    ];
    let mut last_error = String::new();
    for suite in order {
        let parsed = match label {
            "PRIVATE KEY" => parse_pkcs8(text, suite).map(PemKey::Secret),
            "EC PRIVATE KEY" => parse_sec1(text, suite).map(PemKey::Secret),
            // OpenSSL 3 labels SEC1 keys on the SM2 curve so (`openssl ec -in sm2.pem`); the
            // DER inside is the same RFC 5915 structure.
            "SM2 PRIVATE KEY" => parse_sec1(
                &text.replace("SM2 PRIVATE KEY", "EC PRIVATE KEY"),
                Suite::Sm,
            )
            .map(PemKey::Secret),
            "PUBLIC KEY" => parse_spki(text, suite).map(PemKey::Public),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(CryptoError::Pem(
                    "encrypted PKCS#8 is not supported; export it with `openssl pkey -in KEY -out PLAIN.pem` first".into(),
                ));
            }
            other => {
                return Err(CryptoError::Pem(format!(
                    "unsupported PEM label `{other}` (expected PRIVATE KEY, EC PRIVATE KEY, SM2 PRIVATE KEY or PUBLIC KEY)"
                )));
            }
        };
        match parsed {
            Ok(key) => return Ok(key),
            Err(e) => last_error = e,
        }
    }
    Err(CryptoError::Pem(format!(
        "not an SM2 (sm2p256v1) or secp256k1 key: {last_error}"
    )))
}

fn parse_pkcs8(text: &str, suite: Suite) -> std::result::Result<SecretKey, String> {
    match suite {
        Suite::Sm => sm::Sm2SecretKey::from_pkcs8_pem(text).map(SecretKey::from),
        Suite::Eth => eth::K256SecretKey::from_pkcs8_pem(text).map(SecretKey::from),
    }
    .map_err(|e| e.to_string())
}

fn parse_sec1(text: &str, suite: Suite) -> std::result::Result<SecretKey, String> {
    match suite {
        Suite::Sm => sm::Sm2SecretKey::from_sec1_pem(text).map(SecretKey::from),
        Suite::Eth => eth::K256SecretKey::from_sec1_pem(text).map(SecretKey::from),
    }
    .map_err(|e| e.to_string())
}

fn parse_spki(text: &str, suite: Suite) -> std::result::Result<PublicKey, String> {
    match suite {
        Suite::Sm => sm::Sm2PublicKey::from_public_key_pem(text).map(PublicKey::Sm),
        Suite::Eth => eth::K256PublicKey::from_public_key_pem(text).map(PublicKey::Eth),
    }
    .map_err(|e| e.to_string())
}

/// Writes a private key as PEM (LF line endings).
pub fn secret_to_pem(key: &SecretKey, format: PrivateKeyFormat) -> Result<Zeroizing<String>> {
    let failed = |e: String| CryptoError::Pem(format!("cannot encode the key: {e}"));
    let out = match (key.as_sm2(), key.as_k256(), format) {
        (Some(k), _, PrivateKeyFormat::Pkcs8) => k.to_pkcs8_pem(LineEnding::LF),
        (_, Some(k), PrivateKeyFormat::Pkcs8) => k.to_pkcs8_pem(LineEnding::LF),
        (Some(k), _, PrivateKeyFormat::Sec1) => {
            return k
                .to_sec1_pem(LineEnding::LF)
                .map_err(|e| failed(e.to_string()));
        }
        (_, Some(k), PrivateKeyFormat::Sec1) => {
            return k
                .to_sec1_pem(LineEnding::LF)
                .map_err(|e| failed(e.to_string()));
        }
        (None, None, _) => unreachable!("a secret key is of one suite"),
    };
    out.map_err(|e| failed(e.to_string()))
}

/// Writes a public key as SPKI PEM.
pub fn public_to_pem(key: &PublicKey) -> Result<String> {
    match key {
        PublicKey::Sm(k) => k.to_public_key_pem(LineEnding::LF),
        PublicKey::Eth(k) => k.to_public_key_pem(LineEnding::LF),
    }
    .map_err(|e| CryptoError::Pem(format!("cannot encode the public key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_in_every_format_and_suite() {
        for suite in Suite::ALL {
            let sk = SecretKey::generate(suite).unwrap();
            for format in [PrivateKeyFormat::Pkcs8, PrivateKeyFormat::Sec1] {
                let pem = secret_to_pem(&sk, format).unwrap();
                // Without a hint, and with the wrong hint, the curve OID still decides.
                for hint in [None, Some(Suite::Sm), Some(Suite::Eth)] {
                    match parse_pem(&pem, hint).unwrap() {
                        PemKey::Secret(back) => {
                            assert_eq!(back.suite(), suite);
                            assert_eq!(*back.to_bytes(), *sk.to_bytes());
                        }
                        PemKey::Public(_) => panic!("private key read as public"),
                    }
                }
            }
            let pub_pem = public_to_pem(&sk.public_key()).unwrap();
            match parse_pem(&pub_pem, None).unwrap() {
                PemKey::Public(p) => assert_eq!(p, sk.public_key()),
                PemKey::Secret(_) => panic!("public key read as private"),
            }
        }
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(matches!(parse_pem("hello", None), Err(CryptoError::Pem(_))));
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = parse_pem(bad, None).unwrap_err().to_string();
        assert!(err.contains("CERTIFICATE"), "{err}");
    }
}
