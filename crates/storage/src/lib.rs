//! # metamesh-storage
//!
//! Research data as content: the UnixFS importer and exporter that give exactly Kubo's CIDs,
//! CAR v1 archives, the encrypted envelope (chunked SM4-GCM or AES-256-GCM, one segment per
//! leaf), the block store with pins and a garbage collector, and storage proofs.
//!
//! ```text
//! file ──▶ [Encryptor] ──▶ FileImporter (Profile) ──▶ BlockSink: AddSession | CarWriter | HashOnly
//!                                 │ root CID                        │
//! BlockStore ◀── put_many ◀── CarReader / peers (checked)           ▼
//!     │ pins, gc                                               BlockStore (blocks.redb)
//!     └──▶ BlockSource ──▶ export_file / export_path / walk ──▶ [Decryptor] ──▶ file
//!                     └──▶ build_proof ──▶ StorageProof ──▶ verify_proof (state transition)
//! ```
//!
//! Pure except for the store and the file helpers; knows nothing of the chain.

mod block;
pub mod car;
pub mod envelope;
mod exporter;
mod hamt;
mod importer;
mod pb;
mod profile;
mod proof;
mod store;

pub use block::{Block, DAG_PB, RAW, SHA2_256, links, parse_cid, sha2_256, verify};
pub use cid::{Cid, Version as CidVersion};
pub use exporter::{
    BlockSource, DirEntry, ExportLimits, MAX_FILE_DEPTH, Node, export_file, export_path,
    export_path_within, fetch, list_dir, node, walk,
};
pub use importer::{
    BlockSink, DirOptions, FileImporter, HashOnly, Linked, import_bytes, import_dir, import_file,
};
pub use pb::{DataType, PbLink, PbNode, UnixFsData};
pub use profile::Profile;
pub use proof::{
    FileCheck, ProofFault, ProvenBlocks, StorageProof, build_proof, check_file, cid_from_bytes,
    file_size, verify_proof,
};
pub use store::{AddSession, BlockStore, GcReport, PinInfo, StoreStats};

/// What can go wrong with content.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("`{text}` is not a CID: {reason}")]
    BadCid { text: String, reason: String },
    #[error("{cid} uses hash 0x{code:x}; only sha2-256 is supported")]
    UnsupportedHash { cid: String, code: u64 },
    #[error("{cid} uses codec 0x{codec:x}; only dag-pb and raw are supported")]
    UnsupportedCodec { cid: String, codec: u64 },
    #[error("block {0} does not hash to its CID")]
    HashMismatch(String),
    #[error("block {0} is not available")]
    Missing(String),
    #[error("{cid} is malformed: {reason}")]
    Malformed { cid: String, reason: String },
    #[error("{0} is a directory")]
    IsDirectory(String),
    #[error("CAR file, at byte {offset}: {reason}")]
    Car { offset: u64, reason: String },
    #[error("encryption: {0}")]
    Envelope(String),
    #[error(transparent)]
    Crypto(#[from] metamesh_crypto::CryptoError),
    #[error("block store: {0}")]
    Db(String),
    #[error("{0}")]
    Io(String),
}

impl StorageError {
    pub(crate) fn io(e: std::io::Error) -> StorageError {
        StorageError::Io(e.to_string())
    }
}
