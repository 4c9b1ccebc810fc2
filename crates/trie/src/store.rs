//! Where committed nodes live: the [`NodeStore`] seam, and an in-memory store.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::RwLock,
};

use crate::{H256, TrieCommit};

/// A failure of the store behind a trie (I/O, corruption), as its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node store: {0}")]
pub struct StoreError(pub String);

/// Read access to committed nodes by hash. Writing is the owner's business: a commit returns
/// its nodes ([`TrieCommit`]) and the owner stores them (atomically, in the `db` crate).
pub trait NodeStore {
    /// Calls `read` with the node's bytes and returns true, or returns false if the node is not
    /// stored. Lending the bytes lets the trie decode in place instead of copying every node.
    fn read_node(&self, hash: &H256, read: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError>;

    /// The node's bytes, copied.
    fn get(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        let mut out = None;
        self.read_node(hash, &mut |bytes| out = Some(bytes.to_vec()))?;
        Ok(out)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn read_node(&self, hash: &H256, read: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        (**self).read_node(hash, read)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for std::sync::Arc<T> {
    fn read_node(&self, hash: &H256, read: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        (**self).read_node(hash, read)
    }
}

/// Keys are already cryptographic hashes: their first 8 bytes are as good a hash-map hash as
/// any, and far cheaper than SipHash over 32 bytes.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(prefix) = bytes.first_chunk::<8>() {
            self.0 = u64::from_le_bytes(*prefix);
        }
    }

    fn write_usize(&mut self, _length_prefix: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Nodes in a hash map, for tests, tools and light clients.
#[derive(Debug, Default)]
pub struct MemoryStore {
    nodes: RwLock<HashMap<H256, Vec<u8>, BuildHasherDefault<PrefixHasher>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a commit's new nodes (nothing is ever removed from a memory store).
    pub fn apply(&self, commit: &TrieCommit) {
        let mut nodes = self.nodes.write().expect("memory store lock");
        nodes.reserve(commit.nodes.len());
        for (hash, bytes) in &commit.nodes {
            nodes.insert(*hash, bytes.clone());
        }
    }

    /// [`Self::apply`] without copying the nodes; returns the commit's root.
    pub fn apply_owned(&self, commit: TrieCommit) -> H256 {
        let mut nodes = self.nodes.write().expect("memory store lock");
        nodes.reserve(commit.nodes.len());
        nodes.extend(commit.nodes);
        commit.root
    }

    pub fn len(&self) -> usize {
        self.nodes.read().expect("memory store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NodeStore for MemoryStore {
    fn read_node(&self, hash: &H256, read: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        match self.nodes.read().expect("memory store lock").get(hash) {
            Some(bytes) => {
                read(bytes);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
