//! The crypto suite, chosen by name in the genesis file: `sm` (default) or `eth`.

use std::{fmt, str::FromStr};

use sha3::{Digest as _, Keccak256};
use sm3::Sm3;

use crate::CryptoError;

/// A 32-byte digest of the suite's hash function.
pub type Digest32 = [u8; 32];

/// Which family of algorithms hashes, signs and encrypts.
///
/// | suite | hash       | signature                                   | AEAD        | key wrap      |
/// |-------|------------|---------------------------------------------|-------------|---------------|
/// | `sm`  | SM3        | SM2 with Z_A, `pubkey(33) ‖ r ‖ s` (97 B)   | SM4-GCM     | SM2 encryption|
/// | `eth` | Keccak-256 | secp256k1 recoverable, `r ‖ s ‖ v` (65 B)   | AES-256-GCM | —             |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suite {
    #[default]
    Sm,
    Eth,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::Sm, Suite::Eth];

    /// The name used in genesis files, flags and key files.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::Sm => "sm",
            Suite::Eth => "eth",
        }
    }

    /// The suite's hash: SM3 or Keccak-256.
    pub fn hash(self, data: &[u8]) -> Digest32 {
        match self {
            Suite::Sm => Sm3::digest(data).into(),
            Suite::Eth => Keccak256::digest(data).into(),
        }
    }

    /// An incremental hasher, for files too large to hold in memory.
    pub fn hasher(self) -> SuiteHasher {
        match self {
            Suite::Sm => SuiteHasher::Sm(Sm3::new()),
            Suite::Eth => SuiteHasher::Eth(Keccak256::new()),
        }
    }

    /// Length in bytes of an encoded suite signature.
    pub const fn signature_len(self) -> usize {
        match self {
            Suite::Sm => crate::sm::SIGNATURE_LEN,
            Suite::Eth => crate::eth::SIGNATURE_LEN,
        }
    }

    /// Name of the hash function, for messages and JSON output.
    pub const fn hash_name(self) -> &'static str {
        match self {
            Suite::Sm => "sm3",
            Suite::Eth => "keccak256",
        }
    }
}

/// The suite hash, fed in pieces.
#[derive(Clone)]
pub enum SuiteHasher {
    Sm(Sm3),
    Eth(Keccak256),
}

impl SuiteHasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            SuiteHasher::Sm(h) => h.update(data),
            SuiteHasher::Eth(h) => h.update(data),
        }
    }

    pub fn finalize(self) -> Digest32 {
        match self {
            SuiteHasher::Sm(h) => h.finalize().into(),
            SuiteHasher::Eth(h) => h.finalize().into(),
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Suite {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Suite {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Suite {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sm" => Ok(Suite::Sm),
            "eth" => Ok(Suite::Eth),
            _ => Err(CryptoError::UnknownSuite(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_hash_equals_one_shot() {
        for suite in Suite::ALL {
            let mut h = suite.hasher();
            h.update(b"ab");
            h.update(b"c");
            assert_eq!(h.finalize(), suite.hash(b"abc"));
        }
        // Keccak-256("") — the well-known empty hash, not SHA3-256's.
        assert_eq!(
            hex::encode(Suite::Eth.hash(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }
}
