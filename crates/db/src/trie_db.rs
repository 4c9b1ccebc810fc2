//! A trie node store on its own: numbered versions on one line of history, with
//! reference-counted pruning (the counting itself lives in `node_journal`).
//!
//! Every commit is numbered (its *version*: the block number, later) and journals the stored
//! nodes it made unreachable from its new root (`TrieCommit::removed`). A node's reference
//! count is the number of times commits created it; when the journal of version `v` falls
//! more than `prune_depth` versions behind the newest, each node it lists loses one reference
//! and is deleted at zero. So the roots `newest - prune_depth ..= newest` stay complete, and an
//! identical node created again later (same hash) survives the pruning of its first copy.
//! Counting beats generations here because trie nodes are shared between versions.

use std::path::Path;

use metamesh_trie::{H256, NodeStore, StoreError, TrieCommit};
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

use crate::{DbError, node_cache::NodeCache, node_journal};

/// version → root, for every version whose trie is still complete.
const ROOTS: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("trie_roots");

/// Tuning of a [`TrieDb`].
#[derive(Clone, Copy, Debug)]
pub struct TrieDbConfig {
    /// Nodes kept in the in-memory cache.
    pub cache_nodes: usize,
    /// Keep the tries of this many versions behind the newest; `None` keeps every version.
    pub prune_depth: Option<u64>,
}

impl Default for TrieDbConfig {
    fn default() -> Self {
        TrieDbConfig {
            cache_nodes: 200_000,
            prune_depth: Some(128),
        }
    }
}

/// Trie nodes in a redb file.
pub struct TrieDb {
    db: Database,
    cache: NodeCache,
    config: TrieDbConfig,
}

impl TrieDb {
    /// Opens or creates the database file.
    pub fn open(path: impl AsRef<Path>, config: TrieDbConfig) -> Result<Self, DbError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        node_journal::create_tables(&txn)?;
        txn.open_table(ROOTS)?;
        txn.commit()?;
        Ok(TrieDb {
            db,
            cache: NodeCache::new(config.cache_nodes),
            config,
        })
    }

    /// The newest committed version and its root.
    pub fn latest(&self) -> Result<Option<(u64, H256)>, DbError> {
        let txn = self.db.begin_read()?;
        let roots = txn.open_table(ROOTS)?;
        Ok(roots.last()?.map(|(v, r)| (v.value(), *r.value())))
    }

    /// The root of `version`, while it is retained.
    pub fn root_at(&self, version: u64) -> Result<Option<H256>, DbError> {
        let txn = self.db.begin_read()?;
        let roots = txn.open_table(ROOTS)?;
        Ok(roots.get(version)?.map(|r| *r.value()))
    }

    /// The oldest version whose trie is still complete.
    pub fn oldest_retained(&self) -> Result<Option<u64>, DbError> {
        let txn = self.db.begin_read()?;
        let roots = txn.open_table(ROOTS)?;
        Ok(roots.first()?.map(|(v, _)| v.value()))
    }

    /// Number of stored nodes.
    pub fn node_count(&self) -> Result<u64, DbError> {
        node_journal::node_count(&self.db)
    }

    /// Stores a trie commit as `version` in one atomic, durable transaction, then prunes.
    /// Versions are consecutive (the first may be any number, each next one is one more) and
    /// each commit must start from the newest version's root: the reference counts assume one
    /// line of history. (Forks are the chain's business: it commits only the canonical line.)
    pub fn commit(&self, version: u64, commit: &TrieCommit) -> Result<(), DbError> {
        if let Some((latest, latest_root)) = self.latest()? {
            if version != latest + 1 {
                return Err(DbError::VersionOutOfOrder {
                    latest,
                    got: version,
                });
            }
            if commit.parent != latest_root {
                return Err(DbError::NotOnLatest {
                    latest,
                    latest_root,
                    parent: commit.parent,
                });
            }
        }
        let txn = self.db.begin_write()?;
        node_journal::store_commit(&txn, version, &commit.root, commit)?;
        txn.open_table(ROOTS)?.insert(version, &commit.root)?;
        let mut deleted = Vec::new();
        if let Some(depth) = self.config.prune_depth {
            // One line of history: every journalled version is on it.
            let keep_from = version.saturating_sub(depth);
            deleted = node_journal::prune_through(&txn, keep_from, |_, _| Ok(true))?;
            let mut roots = txn.open_table(ROOTS)?;
            let stale: Vec<u64> = roots
                .range(..keep_from)?
                .map(|e| e.map(|(v, _)| v.value()))
                .collect::<Result<_, _>>()?;
            for v in stale {
                roots.remove(v)?;
            }
        }
        txn.commit()?;
        self.cache.evict(&deleted);
        Ok(())
    }
}

impl NodeStore for TrieDb {
    fn read_node(&self, hash: &H256, read: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        self.cache
            .read(&self.db, hash, read)
            .map_err(|e| StoreError(e.to_string()))
    }
}
