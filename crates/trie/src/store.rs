//! Where committed nodes live: the [`NodeStore`] seam, and an in-memory store.

use std::{collections::HashMap, sync::RwLock};

use crate::{H256, TrieCommit};

/// A failure of the store behind a trie (I/O, corruption), as its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node store: {0}")]
pub struct StoreError(pub String);

/// Read access to committed nodes by hash. Writing is the owner's business: a commit returns
/// its nodes ([`TrieCommit`]) and the owner stores them (atomically, in the `db` crate).
pub trait NodeStore {
    fn get(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError>;
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn get(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for std::sync::Arc<T> {
    fn get(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(hash)
    }
}

/// Nodes in a hash map, for tests, tools and light clients.
#[derive(Debug, Default)]
pub struct MemoryStore {
    nodes: RwLock<HashMap<H256, Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a commit's new nodes (nothing is ever removed from a memory store).
    pub fn apply(&self, commit: &TrieCommit) {
        let mut nodes = self.nodes.write().expect("memory store lock");
        for (hash, bytes) in &commit.nodes {
            nodes.insert(*hash, bytes.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.read().expect("memory store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NodeStore for MemoryStore {
    fn get(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.nodes.read().expect("memory store lock").get(hash).cloned())
    }
}
