//! The one error type of the crypto crate: one variant per thing a caller can get wrong.

use crate::Suite;

/// Everything that can go wrong when hashing, signing, verifying or encrypting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("unknown crypto suite `{0}` (expected `sm` or `eth`)")]
    UnknownSuite(String),
    #[error("invalid {suite} private key: {reason}")]
    InvalidSecretKey { suite: Suite, reason: String },
    #[error("invalid {suite} public key: {reason}")]
    InvalidPublicKey { suite: Suite, reason: String },
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("the key is an {key} key but the signature is an {signature} signature")]
    SuiteMismatch { key: Suite, signature: Suite },
    #[error("distinguishing ID is {0} bytes long; SM2 allows at most 8191")]
    IdTooLong(usize),
    #[error("{operation} is only available in the {suite} suite")]
    WrongSuite {
        operation: &'static str,
        suite: Suite,
    },
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error("decryption failed: {0}")]
    Decrypt(String),
    #[error("invalid address `{0}`: {1}")]
    InvalidAddress(String, &'static str),
    #[error("invalid PEM key: {0}")]
    Pem(String),
    #[error("the operating system's random number generator failed")]
    Rng,
}

pub type Result<T, E = CryptoError> = std::result::Result<T, E>;
