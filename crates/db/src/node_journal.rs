//! Reference-counted trie nodes with a journal per commit, written inside the caller's redb
//! transaction so a block's state lands atomically with everything else about the block.
//!
//! Each commit is journalled under `(number, id)` with the nodes it created and the stored nodes
//! it made unreachable from its parent's root. A node's count is how many retained commits
//! created it. When a commit falls behind the pruning depth:
//! - on the canonical chain, its *removed* nodes lose a reference (the parent's state goes);
//! - off it (a losing fork), its *inserted* nodes lose a reference (its own state goes).
//!
//! A node is deleted at zero. Counting rather than sweeping generations is what lets identical
//! nodes be shared between versions and forks.

use std::sync::Arc;

use metamesh_trie::{H256, TrieCommit};
use redb::{ReadableTable as _, TableDefinition, WriteTransaction};

use crate::DbError;

pub(crate) const NODES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("trie_nodes");
pub(crate) const REFS: TableDefinition<&[u8; 32], u64> = TableDefinition::new("trie_node_refs");
/// `number (8, big-endian) ‖ id (32)` → `inserted count (4) ‖ inserted hashes ‖ removed hashes`.
pub(crate) const JOURNAL: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("trie_journal");

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), DbError> {
    txn.open_table(NODES)?;
    txn.open_table(REFS)?;
    txn.open_table(JOURNAL)?;
    Ok(())
}

fn journal_key(number: u64, id: &H256) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&number.to_be_bytes());
    key[8..].copy_from_slice(id);
    key
}

/// Stores `commit`'s nodes and journals it as `(number, id)`.
pub(crate) fn store_commit(
    txn: &WriteTransaction,
    number: u64,
    id: &H256,
    commit: &TrieCommit,
) -> Result<(), DbError> {
    let mut nodes = txn.open_table(NODES)?;
    let mut refs = txn.open_table(REFS)?;
    let mut entry = Vec::with_capacity(4 + 32 * (commit.nodes.len() + commit.removed.len()));
    entry.extend_from_slice(&(commit.nodes.len() as u32).to_be_bytes());
    for (hash, bytes) in &commit.nodes {
        let count = refs.get(hash)?.map(|c| c.value()).unwrap_or(0);
        if count == 0 {
            nodes.insert(hash, bytes.as_slice())?;
        }
        refs.insert(hash, count + 1)?;
        entry.extend_from_slice(hash);
    }
    for hash in &commit.removed {
        entry.extend_from_slice(hash);
    }
    txn.open_table(JOURNAL)?
        .insert(&journal_key(number, id), entry.as_slice())?;
    Ok(())
}

/// Applies and drops every journal entry numbered `max_number` or lower. `on_canonical_chain`
/// tells which of them survived. Returns the hashes of deleted nodes (for cache eviction).
pub(crate) fn prune_through(
    txn: &WriteTransaction,
    max_number: u64,
    mut on_canonical_chain: impl FnMut(u64, &H256) -> Result<bool, DbError>,
) -> Result<Vec<H256>, DbError> {
    let mut journal = txn.open_table(JOURNAL)?;
    let end = journal_key(max_number, &[0xff; 32]);
    let due: Vec<([u8; 40], Vec<u8>)> = journal
        .range::<&[u8; 40]>(..=&end)?
        .map(|e| e.map(|(k, v)| (*k.value(), v.value().to_vec())))
        .collect::<Result<_, _>>()?;
    let mut nodes = txn.open_table(NODES)?;
    let mut refs = txn.open_table(REFS)?;
    let mut deleted = Vec::new();
    for (key, entry) in due {
        journal.remove(&key)?;
        let number = u64::from_be_bytes(key[..8].try_into().expect("8 bytes"));
        let id: H256 = key[8..].try_into().expect("32 bytes");
        let corrupt = || DbError::Corrupt(format!("journal entry of version {number}"));
        let count_bytes: [u8; 4] = entry.get(..4).ok_or_else(corrupt)?.try_into().expect("4");
        let inserted = u32::from_be_bytes(count_bytes) as usize;
        let hashes = &entry[4..];
        if hashes.len() % 32 != 0 || hashes.len() / 32 < inserted {
            return Err(corrupt());
        }
        let (created, removed) = hashes.split_at(inserted * 32);
        let released = if on_canonical_chain(number, &id)? {
            removed
        } else {
            created
        };
        for hash in released.chunks(32) {
            let hash: &[u8; 32] = hash.try_into().expect("32 bytes");
            let count = refs.get(hash)?.map(|c| c.value()).unwrap_or(0);
            if count <= 1 {
                refs.remove(hash)?;
                nodes.remove(hash)?;
                deleted.push(*hash);
            } else {
                refs.insert(hash, count - 1)?;
            }
        }
    }
    Ok(deleted)
}

/// A node's bytes from a read transaction.
pub(crate) fn read_node(db: &redb::Database, hash: &H256) -> Result<Option<Arc<[u8]>>, DbError> {
    use redb::ReadableDatabase as _;
    let txn = db.begin_read()?;
    let nodes = txn.open_table(NODES)?;
    Ok(nodes.get(hash)?.map(|g| Arc::from(g.value())))
}

/// Node count, for tests and metrics.
pub(crate) fn node_count(db: &redb::Database) -> Result<u64, DbError> {
    use redb::{ReadableDatabase as _, ReadableTableMetadata as _};
    let txn = db.begin_read()?;
    Ok(txn.open_table(NODES)?.len()?)
}
