//! Authenticated encryption of the suites: SM4-GCM (`sm`) and AES-256-GCM (`eth`).

use aes_gcm::{
    Aes256Gcm, AesGcm, KeyInit,
    aead::{Aead as _, Payload, consts::U12},
};

use crate::{CryptoError, Result, Suite};

/// GCM over SM4 with a 96-bit nonce, as RFC 8998 defines `TLS_SM4_GCM_SM3`.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// An AEAD algorithm; both use 12-byte nonces and append a 16-byte tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlgorithm {
    Sm4Gcm,
    Aes256Gcm,
}

impl AeadAlgorithm {
    pub const NONCE_LEN: usize = 12;
    pub const TAG_LEN: usize = 16;

    pub const fn for_suite(suite: Suite) -> Self {
        match suite {
            Suite::Sm => AeadAlgorithm::Sm4Gcm,
            Suite::Eth => AeadAlgorithm::Aes256Gcm,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            AeadAlgorithm::Sm4Gcm => "sm4-gcm",
            AeadAlgorithm::Aes256Gcm => "aes-256-gcm",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [AeadAlgorithm::Sm4Gcm, AeadAlgorithm::Aes256Gcm]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// 16 bytes for SM4, 32 for AES-256.
    pub const fn key_len(self) -> usize {
        match self {
            AeadAlgorithm::Sm4Gcm => 16,
            AeadAlgorithm::Aes256Gcm => 32,
        }
    }

    fn check_lengths(self, key: &[u8], nonce: &[u8]) -> Result<()> {
        if key.len() != self.key_len() || nonce.len() != Self::NONCE_LEN {
            return Err(CryptoError::Encrypt(format!(
                "{} takes a {}-byte key and a {}-byte nonce, got {} and {}",
                self.name(),
                self.key_len(),
                Self::NONCE_LEN,
                key.len(),
                nonce.len()
            )));
        }
        Ok(())
    }

    /// Returns `ciphertext ‖ tag`.
    pub fn seal(self, key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        self.check_lengths(key, nonce)?;
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        let nonce = nonce.try_into().expect("length checked");
        let out = match self {
            AeadAlgorithm::Sm4Gcm => Sm4Gcm::new_from_slice(key)
                .expect("length checked")
                .encrypt(nonce, payload),
            AeadAlgorithm::Aes256Gcm => Aes256Gcm::new_from_slice(key)
                .expect("length checked")
                .encrypt(nonce, payload),
        };
        out.map_err(|_| CryptoError::Encrypt(format!("{} failed", self.name())))
    }

    /// Opens `ciphertext ‖ tag`; any change to key, nonce, aad or ciphertext is refused.
    pub fn open(self, key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        self.check_lengths(key, nonce)?;
        let payload = Payload { msg: sealed, aad };
        let nonce = nonce.try_into().expect("length checked");
        let out = match self {
            AeadAlgorithm::Sm4Gcm => Sm4Gcm::new_from_slice(key)
                .expect("length checked")
                .decrypt(nonce, payload),
            AeadAlgorithm::Aes256Gcm => Aes256Gcm::new_from_slice(key)
                .expect("length checked")
                .decrypt(nonce, payload),
        };
        out.map_err(|_| {
            CryptoError::Decrypt(format!(
                "{} authentication failed: wrong key or altered data",
                self.name()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8998 Appendix A.1, the SM4-GCM example of the TLS 1.3 ShangMi suites.
    #[test]
    fn sm4_gcm_matches_rfc8998() {
        let h = |s: &str| hex::decode(s).unwrap();
        let key = h("0123456789abcdeffedcba9876543210");
        let nonce = h("00001234567800000000abcd");
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let plaintext = h(concat!(
            "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd",
            "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
        ));
        let expected = concat!(
            "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735",
            "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d",
            "83de3541e4c2b58177e065a9bf7b62ec"
        );
        let sealed = AeadAlgorithm::Sm4Gcm
            .seal(&key, &nonce, &aad, &plaintext)
            .unwrap();
        assert_eq!(hex::encode(&sealed), expected);
        assert_eq!(
            AeadAlgorithm::Sm4Gcm
                .open(&key, &nonce, &aad, &sealed)
                .unwrap(),
            plaintext
        );
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        for alg in [AeadAlgorithm::Sm4Gcm, AeadAlgorithm::Aes256Gcm] {
            let key = vec![3u8; alg.key_len()];
            let nonce = [5u8; 12];
            let sealed = alg.seal(&key, &nonce, b"hdr", b"secret").unwrap();
            assert_eq!(sealed.len(), 6 + AeadAlgorithm::TAG_LEN);
            assert_eq!(alg.open(&key, &nonce, b"hdr", &sealed).unwrap(), b"secret");
            assert!(alg.open(&key, &nonce, b"other", &sealed).is_err());
            let mut bad = sealed.clone();
            bad[0] ^= 1;
            assert!(alg.open(&key, &nonce, b"hdr", &bad).is_err());
        }
    }
}
