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

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
