//! Content blocks and their CIDs: sha2-256 multihashes, dag-pb or raw codecs, CIDv0 or CIDv1.

use cid::{Cid, Version};
use multihash_codetable::{Code, MultihashDigest};
use prost::Message as _;

use crate::{StorageError, pb::PbNode};

/// Multicodec of dag-pb nodes.
pub const DAG_PB: u64 = 0x70;
/// Multicodec of raw leaves.
pub const RAW: u64 = 0x55;
/// Multihash code of sha2-256, the only hash the importer writes and the store accepts.
pub const SHA2_256: u64 = 0x12;

/// sha2-256 as the importer computes it (the reference rate of `metamesh bench storage`).
pub fn sha2_256(data: &[u8]) -> [u8; 32] {
    Code::Sha2_256
        .digest(data)
        .digest()
        .try_into()
        .expect("32 bytes")
}

/// A block: bytes and the CID that names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub cid: Cid,
    pub data: Vec<u8>,
}

impl Block {
    /// Names `data` with a sha2-256 CID of the given codec; CIDv0 only exists for dag-pb.
    pub fn new(version: Version, codec: u64, data: Vec<u8>) -> Block {
        let hash = Code::Sha2_256.digest(&data);
        let cid = match (version, codec) {
            (Version::V0, DAG_PB) => Cid::new_v0(hash).expect("sha2-256 dag-pb"),
            _ => Cid::new_v1(codec, hash),
        };
        Block { cid, data }
    }

    /// A block received from elsewhere: its bytes must hash to its CID.
    pub fn checked(cid: Cid, data: Vec<u8>) -> Result<Block, StorageError> {
        verify(&cid, &data)?;
        Ok(Block { cid, data })
    }

    /// The CIDs this block links to (none for raw blocks).
    pub fn links(&self) -> Result<Vec<Cid>, StorageError> {
        links(&self.cid, &self.data)
    }
}

/// Checks that `data` hashes to `cid`.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), StorageError> {
    let mh = cid.hash();
    if mh.code() != SHA2_256 {
        return Err(StorageError::UnsupportedHash {
            cid: cid.to_string(),
            code: mh.code(),
        });
    }
    if Code::Sha2_256.digest(data).digest() != mh.digest() {
        return Err(StorageError::HashMismatch(cid.to_string()));
    }
    Ok(())
}

/// The CIDs a block links to: a dag-pb node's links, nothing for raw blocks; other codecs are
/// refused.
pub fn links(cid: &Cid, data: &[u8]) -> Result<Vec<Cid>, StorageError> {
    match cid.codec() {
        RAW => Ok(Vec::new()),
        DAG_PB => crate::pb::links_only(data)
            .map_err(|e| StorageError::Malformed {
                cid: cid.to_string(),
                reason: format!("not a dag-pb node: {e}"),
            })?
            .iter()
            .map(|l| link_cid(cid, l.hash.as_deref()))
            .collect(),
        other => Err(StorageError::UnsupportedCodec {
            cid: cid.to_string(),
            codec: other,
        }),
    }
}

pub(crate) fn decode_node(cid: &Cid, data: &[u8]) -> Result<PbNode, StorageError> {
    PbNode::decode(data).map_err(|e| StorageError::Malformed {
        cid: cid.to_string(),
        reason: format!("not a dag-pb node: {e}"),
    })
}

pub(crate) fn link_cid(parent: &Cid, hash: Option<&[u8]>) -> Result<Cid, StorageError> {
    let bytes = hash.ok_or_else(|| StorageError::Malformed {
        cid: parent.to_string(),
        reason: "a link without a hash".into(),
    })?;
    Cid::try_from(bytes).map_err(|e| StorageError::Malformed {
        cid: parent.to_string(),
        reason: format!("a link's CID is unreadable: {e}"),
    })
}

/// Parses a CID from text (`Qm…`, `bafy…`, any multibase) with an error that names it.
pub fn parse_cid(text: &str) -> Result<Cid, StorageError> {
    Cid::try_from(text.trim()).map_err(|e| StorageError::BadCid {
        text: text.to_string(),
        reason: e.to_string(),
    })
}
