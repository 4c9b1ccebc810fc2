//! Wrapping a data key for a recipient's public key.
//!
//! * `sm`: SM2 public-key encryption (GM/T 0003.4) in the `C1 ‖ C3 ‖ C2` layout.
//! * `eth`: [`ECIES_SCHEME`] — an ephemeral secp256k1 key E, the ECDH x-coordinate with the
//!   recipient's key as input keying material, HKDF-SHA256 with salt `E ‖ R` (both compressed)
//!   and info `metamesh/ecies/v1` giving a 32-byte AES key and a 12-byte nonce, then
//!   AES-256-GCM. Output: `E (33) ‖ ciphertext ‖ tag (16)`. Fresh E per wrap, so the derived
//!   nonce is never reused under a key.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{
    AeadAlgorithm, CryptoError, PublicKey, Result, SecretKey,
    sm::{self, CipherLayout},
};

/// The name of the `eth` suite's key-wrapping scheme.
pub const ECIES_SCHEME: &str = "ECIES-secp256k1-HKDF-SHA256-AES-256-GCM";

const ECIES_INFO: &[u8] = b"metamesh/ecies/v1";

/// Encrypts `key` so only the holder of `recipient`'s secret key can read it.
pub fn wrap_key(recipient: &PublicKey, key: &[u8]) -> Result<Vec<u8>> {
    match recipient {
        PublicKey::Sm(public) => sm::encrypt(public, key, CipherLayout::C1C3C2),
        PublicKey::Eth(public) => {
            let ephemeral = SecretKey::generate(crate::Suite::Eth)?;
            let e = ephemeral.as_k256().expect("eth key");
            let shared = k256::elliptic_curve::ecdh::diffie_hellman(
                e.to_nonzero_scalar(),
                public.as_affine(),
            );
            let e_pub = ephemeral.public_key().to_compressed();
            let r_pub = recipient.to_compressed();
            let (aes_key, nonce) = derive(shared.raw_secret_bytes(), &e_pub, &r_pub)?;
            let sealed = AeadAlgorithm::Aes256Gcm.seal(aes_key.as_slice(), &nonce, &[], key)?;
            let mut out = e_pub.to_vec();
            out.extend(sealed);
            Ok(out)
        }
    }
}

/// Recovers a wrapped key; a key wrapped for someone else, or altered, is refused.
pub fn unwrap_key(secret: &SecretKey, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(sk) = secret.as_sm2() {
        return sm::decrypt(sk, wrapped, CipherLayout::C1C3C2).map(Zeroizing::new);
    }
    let sk = secret.as_k256().expect("one of the two suites");
    if wrapped.len() < 33 + AeadAlgorithm::TAG_LEN {
        return Err(CryptoError::Decrypt(format!(
            "a wrapped key of {} bytes is too short for {ECIES_SCHEME}",
            wrapped.len()
        )));
    }
    let (e_bytes, sealed) = wrapped.split_at(33);
    let e_pub = k256::PublicKey::from_sec1_bytes(e_bytes).map_err(|_| {
        CryptoError::Decrypt("the wrapped key's ephemeral point is not on secp256k1".into())
    })?;
    let shared =
        k256::elliptic_curve::ecdh::diffie_hellman(sk.to_nonzero_scalar(), e_pub.as_affine());
    let r_pub = secret.public_key().to_compressed();
    let (aes_key, nonce) = derive(shared.raw_secret_bytes(), e_bytes, &r_pub)?;
    AeadAlgorithm::Aes256Gcm
        .open(aes_key.as_slice(), &nonce, &[], sealed)
        .map(Zeroizing::new)
        .map_err(|_| {
            CryptoError::Decrypt(
                "the data key was not wrapped for this key, or it was altered".into(),
            )
        })
}

fn derive(shared: &[u8], e_pub: &[u8], r_pub: &[u8]) -> Result<(Zeroizing<[u8; 32]>, [u8; 12])> {
    let salt = [e_pub, r_pub].concat();
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut okm = Zeroizing::new([0u8; 44]);
    hk.expand(ECIES_INFO, okm.as_mut())
        .map_err(|_| CryptoError::Encrypt("HKDF output length".into()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&okm[..32]);
    let nonce = okm[32..].try_into().expect("12 bytes");
    Ok((key, nonce))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Suite;

    #[test]
    fn wrap_round_trip_and_wrong_key() {
        for suite in [Suite::Sm, Suite::Eth] {
            let alice = SecretKey::generate(suite).unwrap();
            let bob = SecretKey::generate(suite).unwrap();
            let data_key = [9u8; 32];
            let wrapped = wrap_key(&alice.public_key(), &data_key).unwrap();
            assert_eq!(unwrap_key(&alice, &wrapped).unwrap().as_slice(), data_key);
            assert!(unwrap_key(&bob, &wrapped).is_err());
            let mut bad = wrapped.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(unwrap_key(&alice, &bad).is_err());
            assert_ne!(wrap_key(&alice.public_key(), &data_key).unwrap(), wrapped);
        }
    }
}
