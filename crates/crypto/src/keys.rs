//! Suite-generic keys and signatures: what the rest of MetaMesh signs and verifies with.

use std::fmt;

use k256::elliptic_curve::sec1::ToSec1Point as _;
use zeroize::Zeroizing;

use crate::{Address, CryptoError, Digest32, Result, Suite, eth, sm};

/// A private key of either suite. It keeps the signing key for the default SM2 ID (or the
/// secp256k1 signing key) beside the scalar, so signing never re-derives the public key.
#[derive(Clone)]
pub struct SecretKey(Inner);

#[derive(Clone)]
enum Inner {
    Sm {
        secret: sm::Sm2SecretKey,
        signer: sm2::dsa::SigningKey,
    },
    Eth {
        secret: eth::K256SecretKey,
        signer: eth::SigningKey,
    },
}

impl From<sm::Sm2SecretKey> for SecretKey {
    fn from(secret: sm::Sm2SecretKey) -> Self {
        let signer = sm2::dsa::SigningKey::new(sm::DEFAULT_ID, &secret)
            .expect("the default ID is valid and the scalar is non-zero");
        SecretKey(Inner::Sm { secret, signer })
    }
}

impl From<eth::K256SecretKey> for SecretKey {
    fn from(secret: eth::K256SecretKey) -> Self {
        let signer = eth::SigningKey::from(&secret);
        SecretKey(Inner::Eth { secret, signer })
    }
}

/// A public key of either suite.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PublicKey {
    Sm(sm::Sm2PublicKey),
    Eth(eth::K256PublicKey),
}

/// A signature in its suite's on-chain encoding: `sm` is `pubkey(33) ‖ r ‖ s`, `eth` is
/// `r ‖ s ‖ v`. Built only through [`Signature::from_bytes`] or signing, so every value
/// holds a valid point and in-range scalars.
#[derive(Clone, PartialEq, Eq)]
pub enum Signature {
    Sm([u8; sm::SIGNATURE_LEN]),
    Eth([u8; eth::SIGNATURE_LEN]),
}

impl SecretKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(suite: Suite) -> Result<Self> {
        // A random 32-byte string is a valid scalar with probability 1 - 2^-128; loop anyway.
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut()).map_err(|_| CryptoError::Rng)?;
            if let Ok(key) = Self::from_bytes(suite, bytes.as_ref()) {
                return Ok(key);
            }
        }
    }

    /// Reads a big-endian 32-byte scalar in `[1, n-1]`.
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<Self> {
        let invalid = || CryptoError::InvalidSecretKey {
            suite,
            reason: "expected 32 bytes holding a scalar in [1, n-1]".into(),
        };
        if bytes.len() != 32 {
            return Err(invalid());
        }
        Ok(match suite {
            Suite::Sm => sm::Sm2SecretKey::from_slice(bytes)
                .map_err(|_| invalid())?
                .into(),
            Suite::Eth => eth::K256SecretKey::from_slice(bytes)
                .map_err(|_| invalid())?
                .into(),
        })
    }

    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        match &self.0 {
            Inner::Sm { secret, .. } => out.copy_from_slice(&secret.to_bytes()),
            Inner::Eth { secret, .. } => out.copy_from_slice(&secret.to_bytes()),
        }
        out
    }

    pub fn suite(&self) -> Suite {
        match &self.0 {
            Inner::Sm { .. } => Suite::Sm,
            Inner::Eth { .. } => Suite::Eth,
        }
    }

    /// The SM2 key, for SM2 decryption and PEM export.
    pub fn as_sm2(&self) -> Option<&sm::Sm2SecretKey> {
        match &self.0 {
            Inner::Sm { secret, .. } => Some(secret),
            Inner::Eth { .. } => None,
        }
    }

    /// The secp256k1 key, for PEM export.
    pub fn as_k256(&self) -> Option<&eth::K256SecretKey> {
        match &self.0 {
            Inner::Eth { secret, .. } => Some(secret),
            Inner::Sm { .. } => None,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match &self.0 {
            Inner::Sm { signer, .. } => PublicKey::Sm(signer.verifying_key().into()),
            Inner::Eth { signer, .. } => PublicKey::Eth(signer.verifying_key().into()),
        }
    }

    /// Signs a message with the default SM2 ID in `sm`; see [`Self::sign_message_with_id`].
    pub fn sign_message(&self, msg: &[u8]) -> Result<Signature> {
        self.sign_message_with_id(msg, sm::DEFAULT_ID)
    }

    /// `sm`: SM2 over `Z_A(id) ‖ msg`. `eth`: ECDSA over Keccak-256(msg); `id` is unused.
    pub fn sign_message_with_id(&self, msg: &[u8], id: &str) -> Result<Signature> {
        use sm2::dsa::signature::Signer as _;
        match &self.0 {
            Inner::Sm { secret, signer } => {
                let sig = if id == sm::DEFAULT_ID {
                    signer
                        .try_sign(msg)
                        .map_err(|_| CryptoError::MalformedSignature("SM2 signing failed".into()))?
                } else {
                    sm::sign(secret, id, msg)?
                };
                Ok(Signature::from_sm_parts(
                    &signer.verifying_key().into(),
                    &sig,
                ))
            }
            Inner::Eth { .. } => self.sign_hash(&Suite::Eth.hash(msg)),
        }
    }

    /// Signs a suite hash (a seal hash, a transaction hash). In `eth` the hash is the ECDSA
    /// pre-hash, as Clique does. In `sm` the hash is the *message* of an SM2 signature with
    /// the default ID, so Z_A is never skipped.
    pub fn sign_hash(&self, hash: &Digest32) -> Result<Signature> {
        match &self.0 {
            Inner::Sm { .. } => self.sign_message_with_id(hash, sm::DEFAULT_ID),
            Inner::Eth { signer, .. } => Ok(Signature::Eth(eth::sign_hash(signer, hash))),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey({}, {})",
            self.suite(),
            self.public_key().address()
        )
    }
}

impl PublicKey {
    /// Reads a SEC1 point (33 or 65 bytes) on the suite's curve.
    pub fn from_sec1(suite: Suite, bytes: &[u8]) -> Result<Self> {
        Ok(match suite {
            Suite::Sm => PublicKey::Sm(sm::public_from_sec1(bytes)?),
            Suite::Eth => PublicKey::Eth(eth::public_from_sec1(bytes)?),
        })
    }

    pub fn suite(&self) -> Suite {
        match self {
            PublicKey::Sm(_) => Suite::Sm,
            PublicKey::Eth(_) => Suite::Eth,
        }
    }

    pub fn to_compressed(&self) -> [u8; 33] {
        self.sec1_bytes(true)
            .try_into()
            .expect("compressed point is 33 bytes")
    }

    pub fn to_uncompressed(&self) -> [u8; 65] {
        self.sec1_bytes(false)
            .try_into()
            .expect("uncompressed point is 65 bytes")
    }

    fn sec1_bytes(&self, compress: bool) -> Vec<u8> {
        match self {
            PublicKey::Sm(k) => k.to_sec1_point(compress).as_bytes().to_vec(),
            PublicKey::Eth(k) => k.to_sec1_point(compress).as_bytes().to_vec(),
        }
    }

    /// The last 20 bytes of the suite hash of `X ‖ Y`.
    pub fn address(&self) -> Address {
        let point = self.to_uncompressed();
        Address::from_digest(&self.suite().hash(&point[1..]))
    }

    pub fn verify_message(&self, msg: &[u8], sig: &Signature) -> Result<()> {
        self.verify_message_with_id(msg, sm::DEFAULT_ID, sig)
    }

    /// Checks a suite signature over `msg`; in `sm` the key inside the signature must be this
    /// key, in `eth` the recovered key must be.
    pub fn verify_message_with_id(&self, msg: &[u8], id: &str, sig: &Signature) -> Result<()> {
        let signer = sig.recover_message_signer(msg, id)?;
        if signer != *self {
            return Err(CryptoError::BadSignature);
        }
        Ok(())
    }

    /// Checks a bare `(r, s)` pair, as OpenSSL writes it: SM2 under `id`, or secp256k1 ECDSA
    /// over Keccak-256(msg).
    pub fn verify_rs(&self, msg: &[u8], id: &str, r: &[u8; 32], s: &[u8; 32]) -> Result<()> {
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(r);
        rs[32..].copy_from_slice(s);
        match self {
            PublicKey::Sm(k) => sm::verify(k, id, msg, &sm::signature_from_rs(&rs)?),
            PublicKey::Eth(k) => {
                eth::verify_hash(k, &Suite::Eth.hash(msg), &eth::signature_from_rs(&rs)?)
            }
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({}, 0x{})",
            self.suite(),
            hex::encode(self.to_compressed())
        )
    }
}

impl Signature {
    fn from_sm_parts(public: &sm::Sm2PublicKey, sig: &sm2::dsa::Signature) -> Self {
        let mut out = [0u8; sm::SIGNATURE_LEN];
        out[..33].copy_from_slice(PublicKey::Sm(*public).to_compressed().as_slice());
        out[33..].copy_from_slice(&sig.to_bytes());
        Signature::Sm(out)
    }

    /// Parses and checks an encoded suite signature: length, curve point, scalar ranges,
    /// low s and v in `eth`.
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != suite.signature_len() {
            return Err(CryptoError::MalformedSignature(format!(
                "a {suite} signature is {} bytes, got {}",
                suite.signature_len(),
                bytes.len()
            )));
        }
        match suite {
            Suite::Sm => {
                if !matches!(bytes[0], 0x02 | 0x03) {
                    return Err(CryptoError::MalformedSignature(
                        "the first 33 bytes must be a compressed SM2 public key".into(),
                    ));
                }
                sm::public_from_sec1(&bytes[..33])?;
                sm::signature_from_rs(&bytes[33..])?;
                Ok(Signature::Sm(bytes.try_into().expect("length checked")))
            }
            Suite::Eth => {
                let arr: [u8; eth::SIGNATURE_LEN] = bytes.try_into().expect("length checked");
                eth::parse_recoverable(&arr)?;
                Ok(Signature::Eth(arr))
            }
        }
    }

    pub fn suite(&self) -> Suite {
        match self {
            Signature::Sm(_) => Suite::Sm,
            Signature::Eth(_) => Suite::Eth,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Signature::Sm(b) => b,
            Signature::Eth(b) => b,
        }
    }

    fn rs(&self) -> &[u8] {
        match self {
            Signature::Sm(b) => &b[33..],
            Signature::Eth(b) => &b[..64],
        }
    }

    pub fn r(&self) -> [u8; 32] {
        self.rs()[..32].try_into().expect("32 bytes")
    }

    pub fn s(&self) -> [u8; 32] {
        self.rs()[32..].try_into().expect("32 bytes")
    }

    /// The ASN.1 `SEQUENCE { r INTEGER, s INTEGER }` that OpenSSL reads.
    pub fn to_der(&self) -> Vec<u8> {
        match self {
            Signature::Sm(_) => sm::signature_from_rs(self.rs())
                .expect("validated at construction")
                .to_der()
                .as_bytes()
                .to_vec(),
            Signature::Eth(_) => eth::signature_from_rs(self.rs())
                .expect("validated at construction")
                .to_der()
                .as_bytes()
                .to_vec(),
        }
    }

    /// Who signed `msg`: in `sm` the embedded key, once its signature verifies under `id`;
    /// in `eth` the key recovered from Keccak-256(msg).
    pub fn recover_message_signer(&self, msg: &[u8], id: &str) -> Result<PublicKey> {
        match self {
            Signature::Sm(b) => {
                let public = sm::public_from_sec1(&b[..33])?;
                sm::verify(&public, id, msg, &sm::signature_from_rs(&b[33..])?)?;
                Ok(PublicKey::Sm(public))
            }
            Signature::Eth(_) => self.recover_hash_signer(&Suite::Eth.hash(msg)),
        }
    }

    /// Who signed the suite hash `hash` (the counterpart of [`SecretKey::sign_hash`]).
    pub fn recover_hash_signer(&self, hash: &Digest32) -> Result<PublicKey> {
        match self {
            Signature::Sm(_) => self.recover_message_signer(hash, sm::DEFAULT_ID),
            Signature::Eth(b) => Ok(PublicKey::Eth(eth::recover(hash, b)?)),
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({}, 0x{})",
            self.suite(),
            hex::encode(self.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_hash_recovers_in_both_suites() {
        for suite in Suite::ALL {
            let sk = SecretKey::generate(suite).unwrap();
            let hash = suite.hash(b"header");
            let sig = sk.sign_hash(&hash).unwrap();
            assert_eq!(sig.as_bytes().len(), suite.signature_len());
            assert_eq!(sig.recover_hash_signer(&hash).unwrap(), sk.public_key());
            let parsed = Signature::from_bytes(suite, sig.as_bytes()).unwrap();
            assert_eq!(parsed, sig);
        }
    }

    #[test]
    fn sm_signature_carries_a_compressed_key() {
        let sk = SecretKey::generate(Suite::Sm).unwrap();
        let sig = sk.sign_message(b"m").unwrap();
        assert_eq!(&sig.as_bytes()[..33], &sk.public_key().to_compressed());
        let mut bad = sig.as_bytes().to_vec();
        bad[0] = 0x04;
        assert!(Signature::from_bytes(Suite::Sm, &bad).is_err());
    }

    #[test]
    fn der_round_trips_through_rs() {
        for suite in Suite::ALL {
            let sk = SecretKey::generate(suite).unwrap();
            let sig = sk.sign_message(b"m").unwrap();
            let der = sig.to_der();
            assert_eq!(der[0], 0x30);
            sk.public_key()
                .verify_rs(b"m", sm::DEFAULT_ID, &sig.r(), &sig.s())
                .unwrap();
        }
    }
}
