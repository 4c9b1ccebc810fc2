//! The `eth` suite's signatures: secp256k1 ECDSA over Keccak-256, recoverable, `r ‖ s ‖ v`.

use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, VerifyingKey};

use crate::{CryptoError, Digest32, Result, Suite};

pub use k256::{PublicKey as K256PublicKey, SecretKey as K256SecretKey, ecdsa::SigningKey};

/// `r (32) ‖ s (32) ‖ v (1)` with v ∈ {0, 1}, as geth's `crypto.Sign` and Clique seals use.
pub const SIGNATURE_LEN: usize = 65;

fn invalid_public(reason: &str) -> CryptoError {
    CryptoError::InvalidPublicKey {
        suite: Suite::Eth,
        reason: reason.into(),
    }
}

/// Signs a 32-byte hash; s is always low (EIP-2), v is the recovery id 0 or 1.
/// Takes a [`SigningKey`], which holds the public key, so repeated signing skips deriving it.
pub fn sign_hash(key: &SigningKey, hash: &Digest32) -> [u8; SIGNATURE_LEN] {
    let (sig, recid) = key.sign_prehash_recoverable(hash);
    let mut out = [0u8; SIGNATURE_LEN];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = recid.to_byte();
    out
}

/// Splits `r ‖ s ‖ v`, accepting only canonical low-s signatures with v ∈ {0, 1}.
pub fn parse_recoverable(bytes: &[u8; SIGNATURE_LEN]) -> Result<(EcdsaSignature, RecoveryId)> {
    let sig = signature_from_rs(&bytes[..64])?;
    if sig.normalize_s() != sig {
        return Err(CryptoError::MalformedSignature(
            "s is in the upper half of the curve order (EIP-2 forbids it)".into(),
        ));
    }
    let recid = match bytes[64] {
        v @ (0 | 1) => RecoveryId::from_byte(v).expect("0 and 1 are recovery ids"),
        v => {
            return Err(CryptoError::MalformedSignature(format!(
                "recovery id v is {v}; expected 0 or 1"
            )));
        }
    };
    Ok((sig, recid))
}

/// Recovers the public key that signed `hash`.
pub fn recover(hash: &Digest32, bytes: &[u8; SIGNATURE_LEN]) -> Result<K256PublicKey> {
    let (sig, recid) = parse_recoverable(bytes)?;
    let key = VerifyingKey::recover_from_prehash(hash, &sig, recid)
        .map_err(|_| CryptoError::BadSignature)?;
    Ok(K256PublicKey::from(&key))
}

/// Verifies a plain `(r, s)` ECDSA signature over `hash`.
pub fn verify_hash(public: &K256PublicKey, hash: &Digest32, sig: &EcdsaSignature) -> Result<()> {
    use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
    VerifyingKey::from(public)
        .verify_prehash(hash, sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// Parses `r ‖ s` (64 bytes), rejecting zero or out-of-range scalars.
pub fn signature_from_rs(rs: &[u8]) -> Result<EcdsaSignature> {
    EcdsaSignature::from_slice(rs)
        .map_err(|_| CryptoError::MalformedSignature("r or s is zero or not below n".into()))
}

/// Parses the ASN.1 `SEQUENCE { r INTEGER, s INTEGER }`.
pub fn signature_from_der(der: &[u8]) -> Result<EcdsaSignature> {
    EcdsaSignature::from_der(der)
        .map_err(|_| CryptoError::MalformedSignature("not a DER SEQUENCE of r and s".into()))
}

/// Reads a SEC1 public key (compressed or uncompressed) on secp256k1.
pub fn public_from_sec1(bytes: &[u8]) -> Result<K256PublicKey> {
    K256PublicKey::from_sec1_bytes(bytes).map_err(|_| invalid_public("not a point on secp256k1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_s_and_bad_v_are_rejected() {
        let sk = K256SecretKey::from_slice(&[9u8; 32]).unwrap();
        let hash = [1u8; 32];
        let sig = sign_hash(&SigningKey::from(&sk), &hash);
        assert_eq!(recover(&hash, &sig).unwrap(), sk.public_key());

        let mut bad_v = sig;
        bad_v[64] = 27;
        assert!(matches!(
            recover(&hash, &bad_v),
            Err(CryptoError::MalformedSignature(_))
        ));

        let parsed = signature_from_rs(&sig[..64]).unwrap();
        let (r, s) = parsed.split_scalars();
        let high = EcdsaSignature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let mut high_s = sig;
        high_s[..64].copy_from_slice(&high.to_bytes());
        assert!(matches!(
            recover(&hash, &high_s),
            Err(CryptoError::MalformedSignature(_))
        ));
    }
}
