//! The `sm` suite's public-key operations: SM2 signatures with Z_A and SM2 encryption.
//!
//! Signing always hashes `Z_A ‖ M` inside: there is deliberately no function here that signs a
//! caller's pre-hash, because that silently drops Z_A and no other SM2 implementation would
//! verify the result.

use sm2::{
    dsa::{Signature as DsaSignature, SigningKey, VerifyingKey, signature::Signer as _},
    elliptic_curve::sec1::ToSec1Point,
    pke::{DecryptingKey, EncryptingKey, Mode},
};
use sm3::{Digest as _, Sm3};

use crate::{CryptoError, Digest32, Result, Suite};

pub use sm2::{PublicKey as Sm2PublicKey, SecretKey as Sm2SecretKey};

/// GM/T 0009-2012's default distinguishing ID. Note that OpenSSL 3 uses an *empty* ID unless
/// `-pkeyopt distid:…` is given, so interop always passes the ID explicitly.
pub const DEFAULT_ID: &str = "1234567812345678";

/// `compressed public key (33) ‖ r (32) ‖ s (32)`: SM2 public keys cannot be recovered from a
/// signature, so the signature carries its key.
pub const SIGNATURE_LEN: usize = 97;

/// ENTL is a 16-bit count of ID *bits*.
const MAX_ID_LEN: usize = (u16::MAX as usize) / 8;

/// The curve parameters a, b, xG, yG of sm2p256v1 as they enter Z_A (GB/T 32918.5).
const CURVE_ZA_PARAMS: [[u8; 32]; 4] = [
    hex32("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc"),
    hex32("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93"),
    hex32("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"),
    hex32("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"),
];

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("constant is not lower-case hex"),
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// The layout of an SM2 ciphertext.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CipherLayout {
    /// `SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }`, the
    /// layout OpenSSL's `pkeyutl -encrypt` reads and writes.
    #[default]
    Asn1,
    /// The raw `C1 ‖ C3 ‖ C2` of GM/T 0003.4-2012, with C1 = `04 ‖ x ‖ y`.
    C1C3C2,
}

impl std::str::FromStr for CipherLayout {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "asn1" | "der" => Ok(CipherLayout::Asn1),
            "c1c3c2" => Ok(CipherLayout::C1C3C2),
            _ => Err(format!(
                "unknown ciphertext layout `{s}` (expected asn1 or c1c3c2)"
            )),
        }
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.len() > MAX_ID_LEN {
        return Err(CryptoError::IdTooLong(id.len()));
    }
    Ok(())
}

fn invalid_public(reason: impl ToString) -> CryptoError {
    CryptoError::InvalidPublicKey {
        suite: Suite::Sm,
        reason: reason.to_string(),
    }
}

/// Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), the signer's identity hash.
pub fn z_a(id: &str, public: &Sm2PublicKey) -> Result<Digest32> {
    let point = public.to_sec1_point(false);
    let xy = &point.as_bytes()[1..];
    let (x, y) = xy.split_at(32);
    z_a_for_curve(
        id,
        &CURVE_ZA_PARAMS,
        x.try_into().expect("32 bytes"),
        y.try_into().expect("32 bytes"),
    )
}

/// Z_A for any 256-bit curve given as `[a, b, xG, yG]`; only the standard's test-curve example
/// needs another curve than sm2p256v1.
pub fn z_a_for_curve(
    id: &str,
    curve: &[[u8; 32]; 4],
    x: &[u8; 32],
    y: &[u8; 32],
) -> Result<Digest32> {
    check_id(id)?;
    let entl = ((id.len() * 8) as u16).to_be_bytes();
    let mut hasher = Sm3::new();
    hasher.update(entl);
    hasher.update(id.as_bytes());
    for param in curve {
        hasher.update(param);
    }
    hasher.update(x);
    hasher.update(y);
    Ok(hasher.finalize().into())
}

/// e = SM3(Z_A ‖ M), the value an SM2 signature actually signs.
pub fn message_digest(id: &str, public: &Sm2PublicKey, msg: &[u8]) -> Result<Digest32> {
    let mut hasher = Sm3::new();
    hasher.update(z_a(id, public)?);
    hasher.update(msg);
    Ok(hasher.finalize().into())
}

/// Signs `msg` under distinguishing ID `id` (k from RFC 6979, so signing is deterministic).
pub fn sign(secret: &Sm2SecretKey, id: &str, msg: &[u8]) -> Result<DsaSignature> {
    check_id(id)?;
    let key = SigningKey::new(id, secret).map_err(|_| CryptoError::InvalidSecretKey {
        suite: Suite::Sm,
        reason: "not a valid SM2 scalar".into(),
    })?;
    key.try_sign(msg)
        .map_err(|_| CryptoError::MalformedSignature("SM2 signing failed".into()))
}

/// Verifies an SM2 signature `(r, s)` over `msg` under `id`.
pub fn verify(public: &Sm2PublicKey, id: &str, msg: &[u8], sig: &DsaSignature) -> Result<()> {
    use sm2::dsa::signature::Verifier as _;
    check_id(id)?;
    let key = VerifyingKey::new(id, *public).map_err(invalid_public)?;
    key.verify(msg, sig).map_err(|_| CryptoError::BadSignature)
}

/// Parses `r ‖ s` (64 bytes), rejecting zero or out-of-range scalars.
pub fn signature_from_rs(rs: &[u8]) -> Result<DsaSignature> {
    DsaSignature::from_slice(rs)
        .map_err(|_| CryptoError::MalformedSignature("r or s is zero or not below n".into()))
}

/// Parses the ASN.1 `SEQUENCE { r INTEGER, s INTEGER }` that OpenSSL writes.
pub fn signature_from_der(der: &[u8]) -> Result<DsaSignature> {
    DsaSignature::from_der(der)
        .map_err(|_| CryptoError::MalformedSignature("not a DER SEQUENCE of r and s".into()))
}

/// Reads a SEC1 public key (compressed or uncompressed) on sm2p256v1.
pub fn public_from_sec1(bytes: &[u8]) -> Result<Sm2PublicKey> {
    Sm2PublicKey::from_sec1_bytes(bytes).map_err(|_| invalid_public("not a point on sm2p256v1"))
}

/// Encrypts `plaintext` to `public` (SM2 public-key encryption with SM3, fresh randomness).
pub fn encrypt(public: &Sm2PublicKey, plaintext: &[u8], layout: CipherLayout) -> Result<Vec<u8>> {
    if plaintext.is_empty() {
        return Err(CryptoError::Encrypt(
            "SM2 cannot encrypt an empty message".into(),
        ));
    }
    let key = EncryptingKey::new_with_mode(*public, Mode::C1C3C2);
    let mut rng = getrandom::SysRng;
    let out = match layout {
        CipherLayout::Asn1 => key.encrypt_der(&mut rng, plaintext),
        CipherLayout::C1C3C2 => key.encrypt(&mut rng, plaintext),
    };
    out.map_err(|_| CryptoError::Encrypt("SM2 encryption failed".into()))
}

/// Decrypts an SM2 ciphertext; a wrong key, a changed byte or the wrong layout all fail the
/// C3 hash check and give one error.
pub fn decrypt(secret: &Sm2SecretKey, ciphertext: &[u8], layout: CipherLayout) -> Result<Vec<u8>> {
    let key = DecryptingKey::new_with_mode(secret.to_nonzero_scalar(), Mode::C1C3C2);
    let out = match layout {
        CipherLayout::Asn1 => key.decrypt_der(ciphertext),
        CipherLayout::C1C3C2 => key.decrypt(ciphertext),
    };
    out.map_err(|_| {
        CryptoError::Decrypt(format!(
            "not an SM2 {layout:?} ciphertext for this key, or it was altered"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Sm2SecretKey {
        Sm2SecretKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn signature_fails_under_another_id() {
        let sk = key();
        let sig = sign(&sk, DEFAULT_ID, b"data").unwrap();
        assert!(verify(&sk.public_key(), DEFAULT_ID, b"data", &sig).is_ok());
        assert_eq!(
            verify(&sk.public_key(), "ALICE123@YAHOO.COM", b"data", &sig),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn encryption_round_trips_in_both_layouts() {
        let sk = key();
        for layout in [CipherLayout::Asn1, CipherLayout::C1C3C2] {
            let ct = encrypt(&sk.public_key(), b"data key", layout).unwrap();
            assert_eq!(decrypt(&sk, &ct, layout).unwrap(), b"data key");
        }
    }

    #[test]
    fn altered_ciphertext_is_rejected() {
        let sk = key();
        let mut ct = encrypt(&sk.public_key(), b"data key", CipherLayout::C1C3C2).unwrap();
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert!(matches!(
            decrypt(&sk, &ct, CipherLayout::C1C3C2),
            Err(CryptoError::Decrypt(_))
        ));
    }

    #[test]
    fn overlong_id_is_refused() {
        let id = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            sign(&key(), &id, b"m").unwrap_err(),
            CryptoError::IdTooLong(id.len())
        );
    }
}
