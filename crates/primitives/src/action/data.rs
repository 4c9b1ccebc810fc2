//! The data domain's actions (types 0x20–0x2f): registrations, attestations and key grants.
//! CIDs travel in their binary form, so one CID written two ways is one record.

use alloy_rlp::{Decodable, Encodable};

use super::UNKNOWN;
use crate::{
    Hash,
    rlp::{decode_bytes as bytes, decode_text as text},
};

/// What kind of work an attestation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkKind {
    Paper = 0,
    Patent = 1,
    Result = 2,
    Dataset = 3,
    Program = 4,
}

impl WorkKind {
    pub const ALL: [WorkKind; 5] = [
        WorkKind::Paper,
        WorkKind::Patent,
        WorkKind::Result,
        WorkKind::Dataset,
        WorkKind::Program,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            WorkKind::Paper => "paper",
            WorkKind::Patent => "patent",
            WorkKind::Result => "result",
            WorkKind::Dataset => "dataset",
            WorkKind::Program => "program",
        }
    }

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }
}

impl std::str::FromStr for WorkKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown kind `{s}` (paper, patent, result, dataset or program)")
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataAction {
    /// `0x20 [digest, size, cid, encrypted, profile, title, licence, metadata]`: registers a
    /// dataset by the digest of its plaintext (first registration wins).
    Register {
        /// Suite hash of the plaintext: proves later what the (possibly encrypted) CID held.
        digest: Hash,
        /// Plaintext bytes.
        size: u64,
        /// Binary CID of what is stored (the ciphertext when encrypted); empty if not stored.
        cid: Vec<u8>,
        encrypted: bool,
        /// The import profile that gives `cid` from the stored bytes (`unixfs-v0-2015`, …).
        profile: String,
        title: String,
        licence: String,
        metadata: Vec<u8>,
    },
    /// `0x21 [digest, kind, metadata]`: attests a work by its digest.
    Attest {
        digest: Hash,
        kind: WorkKind,
        metadata: Vec<u8>,
    },
    /// `0x22 [cid, recipient, wrapped]`: a data key of registered encrypted data, wrapped for
    /// `recipient` (SEC1 public key). Only the registered owner or an existing grantee sends it.
    ShareKey {
        cid: Vec<u8>,
        recipient: Vec<u8>,
        wrapped: Vec<u8>,
    },
}

impl DataAction {
    pub const REGISTER: u8 = 0x20;
    pub const ATTEST: u8 = 0x21;
    pub const SHARE_KEY: u8 = 0x22;

    pub fn type_byte(&self) -> u8 {
        match self {
            DataAction::Register { .. } => Self::REGISTER,
            DataAction::Attest { .. } => Self::ATTEST,
            DataAction::ShareKey { .. } => Self::SHARE_KEY,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DataAction::Register { .. } => "registerData",
            DataAction::Attest { .. } => "attest",
            DataAction::ShareKey { .. } => "shareKey",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            DataAction::Register {
                digest,
                size,
                cid,
                encrypted,
                profile,
                title,
                licence,
                metadata,
            } => {
                digest.encode(p);
                size.encode(p);
                cid.as_slice().encode(p);
                encrypted.encode(p);
                profile.as_bytes().encode(p);
                title.as_bytes().encode(p);
                licence.as_bytes().encode(p);
                metadata.as_slice().encode(p);
            }
            DataAction::Attest {
                digest,
                kind,
                metadata,
            } => {
                digest.encode(p);
                (*kind as u8).encode(p);
                metadata.as_slice().encode(p);
            }
            DataAction::ShareKey {
                cid,
                recipient,
                wrapped,
            } => {
                cid.as_slice().encode(p);
                recipient.as_slice().encode(p);
                wrapped.as_slice().encode(p);
            }
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            Self::REGISTER => DataAction::Register {
                digest: Decodable::decode(p)?,
                size: u64::decode(p)?,
                cid: bytes(p)?,
                encrypted: bool::decode(p)?,
                profile: text(p)?,
                title: text(p)?,
                licence: text(p)?,
                metadata: bytes(p)?,
            },
            Self::ATTEST => DataAction::Attest {
                digest: Decodable::decode(p)?,
                kind: WorkKind::from_u8(u8::decode(p)?)
                    .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
                metadata: bytes(p)?,
            },
            Self::SHARE_KEY => DataAction::ShareKey {
                cid: bytes(p)?,
                recipient: bytes(p)?,
                wrapped: bytes(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}
