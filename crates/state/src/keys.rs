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
    /// `0x04 ‖ address (20)` → [`crate::Provider`], a storage node.
    Provider(Address),
    /// `0x05 ‖ H(cid ‖ recipient public key)` → [`crate::KeyGrants`].
    KeyGrants(Hash),
    /// `0x06 ‖ deal id (32)` → [`crate::Deal`].
    Deal(Hash),
    /// `0x07` → [`crate::DealIndex`], the deals still running.
    DealIndex,
}

impl StateKey {
    pub const ACCOUNT: u8 = 0x01;
    pub const DATA: u8 = 0x02;
    pub const ATTESTATION: u8 = 0x03;
    pub const PROVIDER: u8 = 0x04;
    pub const KEY_GRANTS: u8 = 0x05;
    pub const DEAL: u8 = 0x06;
    pub const DEAL_INDEX: u8 = 0x07;

    pub fn to_bytes(&self) -> Vec<u8> {
        let (tag, id): (u8, &[u8]) = match self {
            StateKey::Account(a) => (Self::ACCOUNT, &a.0),
            StateKey::Data(d) => (Self::DATA, d),
            StateKey::Attestation(d) => (Self::ATTESTATION, d),
            StateKey::Provider(a) => (Self::PROVIDER, &a.0),
            StateKey::KeyGrants(h) => (Self::KEY_GRANTS, h),
            StateKey::Deal(h) => (Self::DEAL, h),
            StateKey::DealIndex => (Self::DEAL_INDEX, &[]),
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
            (Some(&Self::PROVIDER), 21) => Ok(StateKey::Provider(Address(
                bytes[1..].try_into().expect("20"),
            ))),
            (Some(&Self::KEY_GRANTS), 33) => {
                Ok(StateKey::KeyGrants(bytes[1..].try_into().expect("32")))
            }
            (Some(&Self::DEAL), 33) => Ok(StateKey::Deal(bytes[1..].try_into().expect("32"))),
            (Some(&Self::DEAL_INDEX), 1) => Ok(StateKey::DealIndex),
            _ => Err(format!(
                "not a state key: expected an address (20 bytes) or tag ‖ id (0x01‖address, 0x02‖digest, 0x03‖digest, 0x04‖address, 0x05‖hash, 0x06‖deal, 0x07), got {} bytes",
                bytes.len()
            )),
        }
    }
}
