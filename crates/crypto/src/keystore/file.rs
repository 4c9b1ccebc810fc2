//! The key-file JSON: Web3 Secret Storage v3 (geth, ethers) for `eth`, and the same shape with
//! an AEAD cipher for `sm`.
//!
//! ```text
//! eth: cipher aes-128-ctr, key = dk[0..16], mac = Keccak-256(dk[16..32] ‖ ciphertext)
//! sm:  cipher sm4-gcm,     key = dk[0..16], ciphertext ‖ tag, aad = address; no mac field
//! ```

use aes::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KeystoreError, kdf::KdfParams, kdf::ScryptParams};
use crate::{Address, AeadAlgorithm, SecretKey, Suite};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// A key file as stored on disk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    /// Lower-case hex without `0x`, as geth writes it; the Web3 spec's own examples omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Absent in files from Ethereum tools, which are all `eth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    #[serde(alias = "Crypto")]
    pub crypto: CryptoSection,
    pub id: String,
    pub version: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CryptoSection {
    pub cipher: String,
    pub ciphertext: String,
    pub cipherparams: CipherParams,
    pub kdf: String,
    pub kdfparams: KdfParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CipherParams {
    /// The CTR IV (16 bytes) or the GCM nonce (12 bytes).
    pub iv: String,
}

fn random<const N: usize>() -> Result<[u8; N], KeystoreError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| KeystoreError::Crypto(crate::CryptoError::Rng))?;
    Ok(out)
}

fn unhex(field: &str, value: &str) -> Result<Vec<u8>, KeystoreError> {
    hex::decode(value.trim_start_matches("0x"))
        .map_err(|_| KeystoreError::Format(format!("`{field}` is not hex")))
}

impl KeyFile {
    /// Encrypts `key` under `password`.
    pub fn encrypt(
        key: &SecretKey,
        password: &[u8],
        cost: ScryptParams,
    ) -> Result<Self, KeystoreError> {
        let suite = key.suite();
        let address = key.public_key().address();
        let salt = random::<32>()?;
        let id = uuid::Builder::from_random_bytes(random::<16>()?).into_uuid();
        let secret = key.to_bytes();
        let crypto = match suite {
            Suite::Eth => {
                let kdfparams = KdfParams::scrypt(cost, 32, &salt);
                let dk = Zeroizing::new(kdfparams.derive("scrypt", password)?);
                let iv = random::<16>()?;
                let mut ciphertext = secret.to_vec();
                Aes128Ctr::new_from_slices(&dk[..16], &iv)
                    .expect("16-byte key and iv")
                    .apply_keystream(&mut ciphertext);
                let mac = v3_mac(&dk, &ciphertext);
                CryptoSection {
                    cipher: "aes-128-ctr".into(),
                    ciphertext: hex::encode(&ciphertext),
                    cipherparams: CipherParams {
                        iv: hex::encode(iv),
                    },
                    kdf: "scrypt".into(),
                    kdfparams,
                    mac: Some(hex::encode(mac)),
                }
            }
            Suite::Sm => {
                let aead = AeadAlgorithm::Sm4Gcm;
                let kdfparams = KdfParams::scrypt(cost, aead.key_len(), &salt);
                let dk = Zeroizing::new(kdfparams.derive("scrypt", password)?);
                let nonce = random::<12>()?;
                let sealed = aead.seal(&dk, &nonce, &address.0, secret.as_ref())?;
                CryptoSection {
                    cipher: aead.name().into(),
                    ciphertext: hex::encode(sealed),
                    cipherparams: CipherParams {
                        iv: hex::encode(nonce),
                    },
                    kdf: "scrypt".into(),
                    kdfparams,
                    mac: None,
                }
            }
        };
        Ok(KeyFile {
            address: Some(hex::encode(address.0)),
            suite: (suite == Suite::Sm).then(|| suite.name().to_owned()),
            crypto,
            id: id.to_string(),
            version: 3,
        })
    }

    /// The suite named in the file (`eth` when absent, as in every Ethereum tool's files).
    pub fn suite(&self) -> Result<Suite, KeystoreError> {
        match &self.suite {
            None => Ok(Suite::Eth),
            Some(name) => name
                .parse()
                .map_err(|_| KeystoreError::Format(format!("unknown suite `{name}`"))),
        }
    }

    /// The address the file claims, if any; checked against the decrypted key on
    /// [`Self::decrypt`].
    pub fn address(&self) -> Result<Option<Address>, KeystoreError> {
        self.address
            .as_deref()
            .map(|a| {
                a.parse()
                    .map_err(|_| KeystoreError::Format(format!("bad address `{a}`")))
            })
            .transpose()
    }

    /// Decrypts the key; a wrong password is [`KeystoreError::WrongPassword`].
    pub fn decrypt(&self, password: &[u8]) -> Result<SecretKey, KeystoreError> {
        if self.version != 3 {
            return Err(KeystoreError::Format(format!(
                "version {} (only version 3 is supported)",
                self.version
            )));
        }
        let suite = self.suite()?;
        let c = &self.crypto;
        let ciphertext = unhex("ciphertext", &c.ciphertext)?;
        let iv = unhex("cipherparams.iv", &c.cipherparams.iv)?;
        let dk = Zeroizing::new(c.kdfparams.derive(&c.kdf, password)?);
        let secret = Zeroizing::new(match (suite, c.cipher.as_str()) {
            (Suite::Eth, "aes-128-ctr") => {
                let mac = unhex("mac", c.mac.as_deref().unwrap_or_default())?;
                if dk.len() < 32 || iv.len() != 16 {
                    return Err(KeystoreError::Format(
                        "aes-128-ctr needs dklen 32 and a 16-byte iv".into(),
                    ));
                }
                if v3_mac(&dk, &ciphertext).as_slice() != mac.as_slice() {
                    return Err(KeystoreError::WrongPassword);
                }
                let mut plain = ciphertext;
                Aes128Ctr::new_from_slices(&dk[..16], &iv)
                    .expect("16-byte key and iv")
                    .apply_keystream(&mut plain);
                plain
            }
            (Suite::Sm, name) if AeadAlgorithm::from_name(name) == Some(AeadAlgorithm::Sm4Gcm) => {
                let address = self.address()?.ok_or_else(|| {
                    KeystoreError::Format("an sm key file must name its address".into())
                })?;
                AeadAlgorithm::Sm4Gcm
                    .open(&dk, &iv, &address.0, &ciphertext)
                    .map_err(|_| KeystoreError::WrongPassword)?
            }
            (suite, cipher) => {
                return Err(KeystoreError::Format(format!(
                    "cipher `{cipher}` is not used by the {suite} suite"
                )));
            }
        });
        let key = SecretKey::from_bytes(suite, &secret)?;
        if self
            .address()?
            .is_some_and(|claimed| claimed != key.public_key().address())
        {
            return Err(KeystoreError::Format(
                "the decrypted key does not match the file's address".into(),
            ));
        }
        Ok(key)
    }
}

fn v3_mac(dk: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let mut input = Vec::with_capacity(16 + ciphertext.len());
    input.extend_from_slice(&dk[16..32]);
    input.extend_from_slice(ciphertext);
    Suite::Eth.hash(&input)
}
