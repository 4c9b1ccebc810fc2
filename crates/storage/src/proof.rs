//! Storage proofs: the leaf holding a challenged byte of a file and its DAG path to the root,
//! and the checks the chain runs on a file's root block and on a proof.
//!
//! The chain knows a file by its root CID and the size its root block declares ([`file_size`],
//! run when a deal opens). A proof for an offset is checked from those two alone: each node on
//! the path hashes to the link its parent chose for the offset, is a UnixFS file node whose
//! `filesize` is the sum of its `blocksizes`, links no child twice, and is as large as its
//! parent says; the leaf hashes to the last link, is as large as its parent says, and holds the
//! offset. So a DAG that repeats one child, or claims more bytes than its leaves hold, answers
//! no challenge. Pure; the state transition runs it.

use cid::Cid;

use crate::{
    BlockSource, StorageError,
    block::{DAG_PB, RAW, SHA2_256, verify},
    exporter::{Node, fetch, parse_node},
    pb::DataType,
};

/// A proof of holding the leaf under an offset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageProof {
    /// The dag-pb nodes from the root down to the leaf's parent (empty for a one-leaf file).
    pub path: Vec<Vec<u8>>,
    /// The leaf block's bytes.
    pub leaf: Vec<u8>,
}

/// The blocks a checked proof went through below the root, each with the file offset where
/// its bytes start: the chain records them per deal, so a block shown at two places (a DAG
/// that repeats itself, holding fewer bytes than it claims) is caught.
pub type ProvenBlocks = Vec<(Cid, u64)>;

/// Why a file root or a proof is refused. Stable: the chain maps each to a rejection code, so
/// the words never reach consensus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofFault {
    #[error("the CID is not a canonical sha2-256 dag-pb or raw CID")]
    BadCid,
    #[error("a block does not hash to the CID that names it")]
    Hash,
    #[error("a node is not a readable UnixFS node")]
    NotUnixfs,
    #[error("the CID names a directory, symlink or shard, not a file")]
    NotAFile,
    #[error("a node links the same child more than once")]
    DuplicateLinks,
    #[error("a node's filesize is not the sum of its block sizes")]
    Sizes,
    #[error("a node is not as large as its parent says")]
    ChildSize,
    #[error("the file is empty")]
    Empty,
    #[error("the offset is past the end of the file")]
    PastEnd,
    #[error("the proof stops above the leaf")]
    TooShort,
    #[error("the proof goes on below a leaf")]
    TooLong,
}

/// Reads a CID from its binary form, refusing any but a canonical sha2-256 dag-pb or raw CID
/// (so one CID has one spelling on chain).
pub fn cid_from_bytes(bytes: &[u8]) -> Result<Cid, ProofFault> {
    let cid = Cid::try_from(bytes).map_err(|_| ProofFault::BadCid)?;
    let canonical = cid.to_bytes() == bytes;
    let hash = cid.hash().code() == SHA2_256 && cid.hash().size() == 32;
    if !canonical || !hash || ![DAG_PB, RAW].contains(&cid.codec()) {
        return Err(ProofFault::BadCid);
    }
    Ok(cid)
}

/// A file node's shape: bytes held inline, and its children with their sizes.
struct FileNode {
    inline: u64,
    children: Vec<(Cid, u64)>,
}

impl FileNode {
    fn total(&self) -> u64 {
        self.children
            .iter()
            .fold(self.inline, |t, (_, s)| t.saturating_add(*s))
    }
}

/// Checks one block against its CID and reads it as a UnixFS file node.
fn file_node(cid: &Cid, bytes: &[u8]) -> Result<FileNode, ProofFault> {
    verify(cid, bytes).map_err(|_| ProofFault::Hash)?;
    let (data, links) = match parse_node(cid, bytes.to_vec()).map_err(|_| ProofFault::NotUnixfs)? {
        Node::Raw(b) => {
            return Ok(FileNode {
                inline: b.len() as u64,
                children: Vec::new(),
            });
        }
        Node::Pb { data, links } => (data, links),
    };
    if !matches!(data.kind(), Some(DataType::File | DataType::Raw)) {
        return Err(ProofFault::NotAFile);
    }
    if data.blocksizes.len() != links.len() {
        return Err(ProofFault::Sizes);
    }
    let mut seen: Vec<&Cid> = links.iter().map(|(_, c, _)| c).collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(ProofFault::DuplicateLinks);
    }
    let node = FileNode {
        inline: data.data.as_ref().map_or(0, |d| d.len() as u64),
        children: links
            .into_iter()
            .zip(&data.blocksizes)
            .map(|((_, c, _), s)| (c, *s))
            .collect(),
    };
    let sum = node
        .children
        .iter()
        .try_fold(node.inline, |t, (_, s)| t.checked_add(*s));
    match (sum, data.filesize) {
        (Some(sum), Some(declared)) if sum == declared => Ok(node),
        // A leaf node may leave `filesize` out; its inline data is its size.
        (Some(sum), None) if node.children.is_empty() => Ok(FileNode {
            inline: sum,
            ..node
        }),
        _ => Err(ProofFault::Sizes),
    }
}

/// The size of the file whose root block is `root` (checked against `cid`): what a deal is
/// judged by. Refuses directories, empty files, repeated links and sizes that do not add up.
pub fn file_size(cid: &Cid, root: &[u8]) -> Result<u64, ProofFault> {
    let size = file_node(cid, root)?.total();
    if size == 0 {
        return Err(ProofFault::Empty);
    }
    Ok(size)
}

/// Which child of a file node holds `offset`, and the offset within it; `None` when the
/// node's own inline bytes hold it.
fn descend(node: &FileNode, offset: u64) -> Result<Option<(Cid, u64, u64)>, ProofFault> {
    if offset < node.inline {
        return Ok(None);
    }
    let mut at = offset - node.inline;
    for (child, size) in &node.children {
        if at < *size {
            return Ok(Some((*child, at, *size)));
        }
        at -= size;
    }
    Err(ProofFault::PastEnd)
}

/// Builds the proof for `offset` from local blocks; a missing block is an error naming it.
pub fn build_proof(
    source: &dyn BlockSource,
    root: &Cid,
    offset: u64,
) -> Result<StorageProof, StorageError> {
    let malformed = |fault: ProofFault| StorageError::Malformed {
        cid: root.to_string(),
        reason: fault.to_string(),
    };
    let mut proof = StorageProof::default();
    let (mut cid, mut at) = (*root, offset);
    loop {
        let bytes = fetch(source, &cid)?;
        let node = file_node(&cid, &bytes).map_err(malformed)?;
        match descend(&node, at).map_err(malformed)? {
            None => {
                proof.leaf = bytes;
                return Ok(proof);
            }
            Some((child, rest, _)) => {
                proof.path.push(bytes);
                if proof.path.len() > crate::exporter::MAX_FILE_DEPTH {
                    return Err(malformed(ProofFault::TooLong));
                }
                (cid, at) = (child, rest);
            }
        }
    }
}

/// Checks a proof for `offset` in the file `root` of `size` bytes (as [`file_size`] read it).
/// The leaf must hold the offset inline: a node above it that holds it inline is a leaf.
/// Returns the blocks below the root the proof went through, with where each starts.
pub fn verify_proof(
    root: &Cid,
    size: u64,
    offset: u64,
    proof: &StorageProof,
) -> Result<ProvenBlocks, ProofFault> {
    if offset >= size {
        return Err(ProofFault::PastEnd);
    }
    let (mut cid, mut at, mut expected) = (*root, offset, size);
    let mut blocks = ProvenBlocks::new();
    for bytes in &proof.path {
        let node = file_node(&cid, bytes)?;
        if node.total() != expected {
            return Err(ProofFault::ChildSize);
        }
        match descend(&node, at)? {
            None => return Err(ProofFault::TooLong),
            Some((child, rest, child_size)) => {
                blocks.push((child, offset - rest));
                (cid, at, expected) = (child, rest, child_size);
            }
        }
    }
    let leaf = file_node(&cid, &proof.leaf)?;
    if leaf.total() != expected {
        return Err(ProofFault::ChildSize);
    }
    match descend(&leaf, at)? {
        None => Ok(blocks),
        Some(_) => Err(ProofFault::TooShort),
    }
}

/// What [`check_file`] found in a whole file DAG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileCheck {
    pub size: u64,
    pub blocks: u64,
    /// Some block sits at two places in the file (a sparse file's zero runs do this too): the
    /// chain pays no storage reward for such a deal once a proof shows it.
    pub repeats: bool,
}

/// Checks every block of the file `root` from local blocks, as the chain will check each proof
/// (hashes, UnixFS file nodes, distinct links, sizes that add up to what each parent says), so
/// a storage node knows before it bonds stake that every challenge can be answered.
pub fn check_file(source: &dyn BlockSource, root: &Cid) -> Result<FileCheck, StorageError> {
    let malformed = |cid: &Cid, fault: ProofFault| StorageError::Malformed {
        cid: cid.to_string(),
        reason: fault.to_string(),
    };
    let mut starts: std::collections::HashMap<Cid, u64> = std::collections::HashMap::new();
    let mut check = FileCheck {
        size: 0,
        blocks: 0,
        repeats: false,
    };
    // (block, where it starts, the size its parent gave it; None for the root)
    let mut stack = vec![(*root, 0u64, None::<u64>)];
    while let Some((cid, start, expected)) = stack.pop() {
        if let Some(seen) = starts.get(&cid) {
            // The same block at the same place was checked already; elsewhere it repeats.
            check.repeats |= *seen != start;
            continue;
        }
        let bytes = fetch(source, &cid)?;
        let node = file_node(&cid, &bytes).map_err(|f| malformed(&cid, f))?;
        let total = node.total();
        match expected {
            Some(e) if e != total => return Err(malformed(&cid, ProofFault::ChildSize)),
            None if total == 0 => return Err(malformed(&cid, ProofFault::Empty)),
            None => check.size = total,
            Some(_) => {}
        }
        starts.insert(cid, start);
        check.blocks += 1;
        let mut at = start.saturating_add(node.inline);
        let mut children = Vec::with_capacity(node.children.len());
        for (child, size) in node.children {
            children.push((child, at, Some(size)));
            at = at.saturating_add(size);
        }
        stack.extend(children.into_iter().rev());
    }
    Ok(check)
}
