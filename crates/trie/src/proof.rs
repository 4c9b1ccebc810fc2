//! Merkle proofs in the EIP-1186 shape: the RLP of every stored node on the key's path, root
//! first. A verifier that trusts only the root learns the value, or that the key is absent.

use std::collections::HashMap;

use crate::{
    H256, NodeStore, Trie, TrieError, TrieHasher, nibbles,
    node::{self, Child, Node},
};

/// Why a proof does not establish anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof lacks node 0x{} on the key's path", hex::encode(.0))]
    MissingNode(H256),
    #[error("a proof node is malformed: {0}")]
    Malformed(String),
    #[error("the proof shows a different value than the one claimed")]
    ValueMismatch,
}

/// Where a walk through one node ends.
enum Step<'n> {
    Value(Option<Vec<u8>>),
    Next(H256, &'n [u8]),
}

/// Follows `path` through `node` and any nodes inlined in it.
fn walk<'p>(mut node: Node, mut path: &'p [u8]) -> Step<'p> {
    loop {
        let child = match node {
            Node::Leaf { path: p, value } => return Step::Value((p == path).then_some(value)),
            Node::Extension { path: p, child } => match path.strip_prefix(p.as_slice()) {
                Some(rest) => {
                    path = rest;
                    child
                }
                None => return Step::Value(None),
            },
            Node::Branch {
                mut children,
                value,
            } => match path.split_first() {
                None => return Step::Value(value),
                Some((i, rest)) => {
                    path = rest;
                    std::mem::take(&mut children[*i as usize])
                }
            },
        };
        match child {
            Child::Empty => return Step::Value(None),
            Child::Hash(h) => return Step::Next(h, path),
            Child::Node(n) => node = *n,
        }
    }
}

impl<H: TrieHasher, S: NodeStore> Trie<H, S> {
    /// The proof for `key` under the committed root. Commit first: a proof is about a root.
    pub fn prove(&self, key: &[u8]) -> Result<Vec<Vec<u8>>, TrieError> {
        if self.is_dirty() {
            return Err(TrieError::Uncommitted);
        }
        let full = nibbles::from_bytes(key);
        let mut path = full.as_slice();
        let mut proof = Vec::new();
        let Child::Hash(mut next) = self.root else {
            return Ok(proof);
        };
        loop {
            let bytes = self.store.get(&next)?.ok_or(TrieError::MissingNode(next))?;
            let node = node::decode_node(&bytes)?;
            proof.push(bytes);
            match walk(node, path) {
                Step::Value(_) => return Ok(proof),
                Step::Next(h, rest) => {
                    next = h;
                    path = rest;
                }
            }
        }
    }
}

/// Checks `proof` against `root` and returns the value under `key`, or `None` when the proof
/// shows the key is absent.
pub fn verify_proof<H: TrieHasher>(
    root: &H256,
    key: &[u8],
    proof: &[Vec<u8>],
) -> Result<Option<Vec<u8>>, ProofError> {
    if *root == H::empty_root() {
        return Ok(None);
    }
    let by_hash: HashMap<H256, &[u8]> = proof.iter().map(|n| (H::hash(n), n.as_slice())).collect();
    let full = nibbles::from_bytes(key);
    let mut path = full.as_slice();
    let mut next = *root;
    loop {
        let bytes = by_hash.get(&next).ok_or(ProofError::MissingNode(next))?;
        let node = node::decode_node(bytes).map_err(|e| ProofError::Malformed(e.to_string()))?;
        match walk(node, path) {
            Step::Value(v) => return Ok(v),
            Step::Next(h, rest) => {
                next = h;
                path = rest;
            }
        }
    }
}

/// Checks that `proof` shows exactly `expected` (`None`: absence) under `key`.
pub fn verify_proof_value<H: TrieHasher>(
    root: &H256,
    key: &[u8],
    expected: Option<&[u8]>,
    proof: &[Vec<u8>],
) -> Result<(), ProofError> {
    if verify_proof::<H>(root, key, proof)?.as_deref() == expected {
        Ok(())
    } else {
        Err(ProofError::ValueMismatch)
    }
}
