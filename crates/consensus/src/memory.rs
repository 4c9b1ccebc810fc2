//! In-memory [`ChainReader`] and [`SnapshotStore`], for tools, tests and the simulator.

use std::collections::HashMap;

use metamesh_crypto::Suite;
use metamesh_primitives::{Hash, Header};

use crate::{ChainReader, SnapshotStore};

/// Headers by hash.
#[derive(Debug, Default, Clone)]
pub struct MemoryChain {
    headers: HashMap<Hash, Header>,
}

impl MemoryChain {
    pub fn insert(&mut self, header: Header, suite: Suite) -> Hash {
        let hash = header.hash(suite);
        self.headers.insert(hash, header);
        hash
    }
}

impl ChainReader for MemoryChain {
    fn header(&self, hash: &Hash) -> Option<Header> {
        self.headers.get(hash).cloned()
    }
}

/// Snapshots by block hash.
#[derive(Debug, Default, Clone)]
pub struct MemorySnapshots {
    pub saved: HashMap<Hash, Vec<u8>>,
}

impl SnapshotStore for MemorySnapshots {
    fn load(&self, hash: &Hash) -> Option<Vec<u8>> {
        self.saved.get(hash).cloned()
    }

    fn save(&mut self, hash: Hash, snapshot_json: Vec<u8>) {
        self.saved.insert(hash, snapshot_json);
    }
}
