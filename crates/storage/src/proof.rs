//! Storage proofs: the leaf holding a challenged byte of a file and its DAG path to the root.
//!
//! The verifier needs only the root CID and the challenged offset: each node on the path must
//! hash to the link its parent chose for that offset (by the parent's UnixFS `blocksizes`), and
//! the leaf must hash to the last link and hold the offset. Pure; the state transition runs it.

use cid::Cid;

use crate::{
    BlockSource, StorageError,
    block::verify,
    exporter::{Node, fetch, parse_node},
};

/// A proof of holding the leaf under `offset`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageProof {
    /// The dag-pb nodes from the root down to the leaf's parent (empty for a one-leaf file).
    pub path: Vec<Vec<u8>>,
    /// The leaf block's bytes.
    pub leaf: Vec<u8>,
}

impl StorageProof {
    pub fn size(&self) -> usize {
        self.leaf.len() + self.path.iter().map(Vec::len).sum::<usize>()
    }
}

/// Which child of a file node holds `offset`, and the offset within it.
fn descend(cid: &Cid, node: Node, offset: u64) -> Result<Step, StorageError> {
    let malformed = |reason: String| StorageError::Malformed {
        cid: cid.to_string(),
        reason,
    };
    let (data, links) = match node {
        Node::Raw(bytes) => return Ok(Step::Leaf(bytes.len() as u64)),
        Node::Pb { data, links } => (data, links),
    };
    let inline = data.data.as_ref().map_or(0, |d| d.len() as u64);
    if links.is_empty() {
        return Ok(Step::Leaf(inline));
    }
    if data.blocksizes.len() != links.len() {
        return Err(malformed("links and block sizes differ in number".into()));
    }
    if offset < inline {
        return Ok(Step::Leaf(inline));
    }
    let mut at = offset - inline;
    for ((_, child, _), size) in links.iter().zip(&data.blocksizes) {
        if at < *size {
            return Ok(Step::Child(*child, at));
        }
        at -= size;
    }
    Err(malformed(format!(
        "offset {offset} is past the end of the file"
    )))
}

enum Step {
    /// The node itself holds the bytes: this many.
    Leaf(u64),
    Child(Cid, u64),
}

/// Builds the proof for `offset` from local blocks; a missing block is an error naming it.
pub fn build_proof(
    source: &dyn BlockSource,
    root: &Cid,
    offset: u64,
) -> Result<StorageProof, StorageError> {
    let mut proof = StorageProof::default();
    let (mut cid, mut at) = (*root, offset);
    loop {
        let bytes = fetch(source, &cid)?;
        match descend(&cid, parse_node(&cid, bytes.clone())?, at)? {
            Step::Leaf(len) if at < len => {
                proof.leaf = bytes;
                return Ok(proof);
            }
            Step::Leaf(_) => {
                return Err(StorageError::Malformed {
                    cid: root.to_string(),
                    reason: format!("offset {offset} is past the end of the file"),
                });
            }
            Step::Child(child, rest) => {
                proof.path.push(bytes);
                cid = child;
                at = rest;
            }
        }
    }
}

/// Checks a proof for `offset` under `root`; the error says which step failed, in words of
/// this crate only (they end up in receipts, which every node must hash alike).
pub fn verify_proof(root: &Cid, offset: u64, proof: &StorageProof) -> Result<(), String> {
    let (mut cid, mut at) = (*root, offset);
    for (depth, bytes) in proof.path.iter().enumerate() {
        verify(&cid, bytes).map_err(|_| format!("path node {depth} does not hash to {cid}"))?;
        let node = parse_node(&cid, bytes.clone())
            .map_err(|_| format!("path node {depth} is not a UnixFS node"))?;
        match descend(&cid, node, at).map_err(|e| e.to_string())? {
            Step::Child(child, rest) => {
                cid = child;
                at = rest;
            }
            Step::Leaf(_) => return Err(format!("path node {depth} is a leaf, not a parent")),
        }
    }
    verify(&cid, &proof.leaf).map_err(|_| format!("the leaf does not hash to {cid}"))?;
    let node = parse_node(&cid, proof.leaf.clone())
        .map_err(|_| "the leaf is not a UnixFS node".to_string())?;
    match descend(&cid, node, at).map_err(|e| e.to_string())? {
        Step::Leaf(len) if at < len => Ok(()),
        Step::Leaf(len) => Err(format!("the leaf holds {len} bytes, not offset {at}")),
        Step::Child(..) => Err("the proof stops above the leaf".into()),
    }
}
