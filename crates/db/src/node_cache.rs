//! The bounded in-memory cache in front of stored trie nodes, shared by both stores.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use lru::LruCache;
use metamesh_trie::H256;

use crate::{DbError, node_journal};

pub(crate) struct NodeCache(Mutex<LruCache<H256, Arc<[u8]>>>);

impl NodeCache {
    pub(crate) fn new(nodes: usize) -> Self {
        let capacity = NonZeroUsize::new(nodes.max(1)).expect("at least one");
        NodeCache(Mutex::new(LruCache::new(capacity)))
    }

    /// Lends a node's bytes to `read`, from the cache or the database; false if not stored.
    pub(crate) fn read(
        &self,
        db: &redb::Database,
        hash: &H256,
        read: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, DbError> {
        let cached = self.0.lock().expect("cache lock").get(hash).cloned();
        let bytes = match cached {
            Some(bytes) => bytes,
            None => match node_journal::read_node(db, hash)? {
                Some(bytes) => {
                    self.0.lock().expect("cache lock").put(*hash, bytes.clone());
                    bytes
                }
                None => return Ok(false),
            },
        };
        read(&bytes);
        Ok(true)
    }

    /// Forgets nodes that pruning deleted.
    pub(crate) fn evict(&self, deleted: &[H256]) {
        let mut cache = self.0.lock().expect("cache lock");
        for hash in deleted {
            cache.pop(hash);
        }
    }
}
