//! # metamesh-crypto
//!
//! The crypto suites of MetaMesh, chosen by name in the genesis file (`sm` by default, or
//! `eth`), and the keystore that holds their keys.
//!
//! ```text
//!            ┌──── Suite::hash ──── SM3 | Keccak-256
//! bytes ─────┤
//!            └──── SecretKey::sign_message / sign_hash ──▶ Signature (97 B sm | 65 B eth)
//!                                                         │
//!                  PublicKey::verify_message ◀────────────┘  Signature::recover_*_signer
//! data key ──▶ sm::encrypt (SM2, ASN.1 or C1C3C2) ──▶ wrapped key    AeadAlgorithm::seal
//! ```
//!
//! * [`Suite`] — hash, signature length, AEAD of each suite.
//! * [`SecretKey`], [`PublicKey`], [`Signature`] — suite-generic keys; addresses via
//!   [`PublicKey::address`] (last 20 bytes of the suite hash of `X ‖ Y`).
//! * [`sm`] — SM2 with Z_A (never over a caller's pre-hash), SM2 encryption; [`eth`] —
//!   secp256k1 recoverable signatures with low s.
//! * [`AeadAlgorithm`] — SM4-GCM and AES-256-GCM.
//! * [`pem`] — PKCS#8 / SEC1 / SPKI PEM, the files OpenSSL reads and writes.
//! * [`keystore`] — scrypt-encrypted key files; `eth` files are Web3 Secret Storage v3.
//!
//! Errors are [`CryptoError`] (one variant per mistake) and [`keystore::KeystoreError`].
//!
//! ```
//! use metamesh_crypto::{SecretKey, Suite};
//! let key = SecretKey::generate(Suite::Sm).unwrap();
//! let sig = key.sign_message(b"dataset v1").unwrap();
//! key.public_key().verify_message(b"dataset v1", &sig).unwrap();
//! assert_eq!(sig.as_bytes().len(), 97);
//! ```
//!
//! This crate knows nothing of blocks or transactions; all primitives come from RustCrypto.

mod address;
mod aead;
mod error;
pub mod eth;
mod keys;
pub mod keystore;
pub mod pem;
pub mod sm;
mod suite;
mod wrap;

pub use address::Address;
pub use aead::AeadAlgorithm;
pub use error::{CryptoError, Result};
pub use keys::{PublicKey, SecretKey, Signature};
pub use suite::{Digest32, Suite, SuiteHasher};
pub use wrap::{ECIES_SCHEME, unwrap_key, wrap_key};
