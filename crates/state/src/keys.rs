//! Where each kind of record lives in the state trie.
//!
//! A record key is a one-byte domain tag followed by the record's id; the trie stores it under
//! the secure path `H(key)`. Every domain record sits under the one state root, so a header
//! alone proves any of them.

use metamesh_crypto::Address;
use metamesh_primitives::Hash;

/// A key of the state trie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKey {
    /// `0x01 ‖ address (20)` → [`crate::Account`].
    Account(Address),
    /// `0x02 ‖ content digest (32)` → [`crate::DataRecord`].
    Data(Hash),
    /// `0x03 ‖ work digest (32)` → [`crate::Attestation`].
    Attestation(Hash),
}

impl StateKey {
    pub const ACCOUNT: u8 = 0x01;
    pub const DATA: u8 = 0x02;
    pub const ATTESTATION: u8 = 0x03;

    pub fn to_bytes(&self) -> Vec<u8> {
        let (tag, id): (u8, &[u8]) = match self {
            StateKey::Account(a) => (Self::ACCOUNT, &a.0),
            StateKey::Data(d) => (Self::DATA, d),
            StateKey::Attestation(d) => (Self::ATTESTATION, d),
        };
        let mut out = Vec::with_capacity(1 + id.len());
        out.push(tag);
        out.extend_from_slice(id);
        out
    }

    /// Reads a key: a 20-byte value is an account address, otherwise tag ‖ id.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() == 20 {
            return Ok(StateKey::Account(Address(
                bytes.try_into().expect("20 bytes"),
            )));
        }
        match (bytes.first(), bytes.len()) {
            (Some(&Self::ACCOUNT), 21) => Ok(StateKey::Account(Address(
                bytes[1..].try_into().expect("20"),
            ))),
            (Some(&Self::DATA), 33) => Ok(StateKey::Data(bytes[1..].try_into().expect("32"))),
            (Some(&Self::ATTESTATION), 33) => {
                Ok(StateKey::Attestation(bytes[1..].try_into().expect("32")))
            }
            _ => Err(format!(
                "not a state key: expected an address (20 bytes), 0x01‖address, 0x02‖digest or 0x03‖digest, got {} bytes",
                bytes.len()
            )),
        }
    }
}
