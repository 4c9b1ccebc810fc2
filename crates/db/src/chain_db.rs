//! The chain database: blocks, receipts, the canonical index, transaction locations, Clique
//! snapshots, and the state trie's nodes — one redb file, one write transaction per block.
//!
//! Values are stored as the caller encodes them (header RLP, body RLP, receipts RLP); this
//! crate only keeps the indexes consistent. `insert_block` writes a block with its state and,
//! when the block becomes the head, moves the canonical index to its chain (a reorg if it was
//! not a child of the old head), so a crash leaves either the old head or the new one whole.

use std::path::Path;

use metamesh_trie::{H256, NodeStore, StoreError, TrieCommit};
use redb::{
    Database, ReadableDatabase as _, ReadableTable as _, TableDefinition, WriteTransaction,
};

use crate::{DbError, MemoryBackend, node_cache::NodeCache, node_journal};

const HEADERS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("headers");
const BODIES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("bodies");
const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
/// block hash → `parent (32) ‖ number (8) ‖ total difficulty (16)`.
const BLOCK_INFO: TableDefinition<&[u8; 32], &[u8; 56]> = TableDefinition::new("block_info");
/// block hash → its transactions' hashes, concatenated.
const TX_HASHES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("block_tx_hashes");
const CANONICAL: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("canonical");
/// transaction hash → `block hash (32) ‖ index (4)`, for canonical blocks only.
const TX_INDEX: TableDefinition<&[u8; 32], &[u8; 36]> = TableDefinition::new("tx_index");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SNAPSHOTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("clique_snapshots");

const HEAD: &str = "head";

/// Tuning of a [`ChainDb`].
#[derive(Clone, Copy, Debug)]
pub struct ChainDbConfig {
    pub cache_nodes: usize,
    /// Keep the state of this many blocks behind the head; `None` keeps all (an archive).
    pub prune_depth: Option<u64>,
}

impl Default for ChainDbConfig {
    fn default() -> Self {
        ChainDbConfig {
            cache_nodes: 200_000,
            prune_depth: Some(128),
        }
    }
}

/// A block as stored: encoded by the caller, indexed here.
#[derive(Clone, Copy, Debug)]
pub struct StoredBlock<'a> {
    pub hash: H256,
    pub number: u64,
    pub parent: H256,
    pub header: &'a [u8],
    pub body: &'a [u8],
    pub receipts: &'a [u8],
    pub tx_hashes: &'a [H256],
    pub total_difficulty: u128,
    /// The state commit that took the parent's state root to this block's.
    pub state: &'a TrieCommit,
}

/// How the canonical chain moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadChange {
    /// Blocks that left the canonical chain (their transactions may need re-injection).
    pub retracted: Vec<H256>,
    /// Blocks that joined it, oldest first.
    pub enacted: Vec<H256>,
}

/// Where a block sits: parent, number, total difficulty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub parent: H256,
    pub number: u64,
    pub total_difficulty: u128,
}

impl BlockInfo {
    fn encode(&self) -> [u8; 56] {
        let mut out = [0u8; 56];
        out[..32].copy_from_slice(&self.parent);
        out[32..40].copy_from_slice(&self.number.to_be_bytes());
        out[40..].copy_from_slice(&self.total_difficulty.to_be_bytes());
        out
    }

    fn decode(raw: &[u8; 56]) -> Self {
        BlockInfo {
            parent: raw[..32].try_into().expect("32"),
            number: u64::from_be_bytes(raw[32..40].try_into().expect("8")),
            total_difficulty: u128::from_be_bytes(raw[40..].try_into().expect("16")),
        }
    }
}

pub struct ChainDb {
    db: Database,
    cache: NodeCache,
    config: ChainDbConfig,
}

impl ChainDb {
    pub fn open(path: impl AsRef<Path>, config: ChainDbConfig) -> Result<Self, DbError> {
        Self::init(Database::create(path)?, config)
    }

    /// Opens a database kept in memory by `backend` (which outlives it: see [`MemoryBackend`]).
    pub fn open_in(backend: MemoryBackend, config: ChainDbConfig) -> Result<Self, DbError> {
        Self::init(Database::builder().create_with_backend(backend)?, config)
    }

    fn init(db: Database, config: ChainDbConfig) -> Result<Self, DbError> {
        let txn = db.begin_write()?;
        node_journal::create_tables(&txn)?;
        txn.open_table(HEADERS)?;
        txn.open_table(BODIES)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(BLOCK_INFO)?;
        txn.open_table(TX_HASHES)?;
        txn.open_table(CANONICAL)?;
        txn.open_table(TX_INDEX)?;
        txn.open_table(META)?;
        txn.open_table(SNAPSHOTS)?;
        txn.commit()?;
        Ok(ChainDb {
            db,
            cache: NodeCache::new(config.cache_nodes),
            config,
        })
    }

    /// Stores `block` with its state; if `make_head`, it becomes the canonical head.
    pub fn insert_block(
        &self,
        block: &StoredBlock,
        make_head: bool,
    ) -> Result<HeadChange, DbError> {
        let txn = self.db.begin_write()?;
        if block.number > 0 && txn.open_table(BLOCK_INFO)?.get(&block.parent)?.is_none() {
            return Err(DbError::UnknownParent(block.parent));
        }
        node_journal::store_commit(&txn, block.number, &block.hash, block.state)?;
        txn.open_table(HEADERS)?.insert(&block.hash, block.header)?;
        txn.open_table(BODIES)?.insert(&block.hash, block.body)?;
        txn.open_table(RECEIPTS)?
            .insert(&block.hash, block.receipts)?;
        txn.open_table(TX_HASHES)?
            .insert(&block.hash, block.tx_hashes.concat().as_slice())?;
        let info = BlockInfo {
            parent: block.parent,
            number: block.number,
            total_difficulty: block.total_difficulty,
        };
        txn.open_table(BLOCK_INFO)?
            .insert(&block.hash, &info.encode())?;
        let mut change = HeadChange::default();
        let mut deleted = Vec::new();
        if make_head {
            change = Self::move_head(&txn, block.hash, block.number)?;
            if let Some(depth) = self.config.prune_depth
                && block.number > depth
            {
                let canonical = txn.open_table(CANONICAL)?;
                deleted = node_journal::prune_through(&txn, block.number - depth, |n, id| {
                    Ok(canonical.get(n)?.is_some_and(|h| h.value() == id))
                })?;
            }
        }
        txn.commit()?;
        self.cache.evict(&deleted);
        Ok(change)
    }

    /// Points the canonical index at `head`'s chain and re-indexes the transactions that moved.
    fn move_head(txn: &WriteTransaction, head: H256, number: u64) -> Result<HeadChange, DbError> {
        let mut change = HeadChange::default();
        let mut canonical = txn.open_table(CANONICAL)?;
        let infos = txn.open_table(BLOCK_INFO)?;
        let old_head_number = match txn.open_table(META)?.get(HEAD)? {
            Some(h) => {
                let h: [u8; 32] = h
                    .value()
                    .try_into()
                    .map_err(|_| DbError::Corrupt("head".into()))?;
                infos.get(&h)?.map(|i| BlockInfo::decode(i.value()).number)
            }
            None => None,
        };
        let (mut hash, mut n) = (head, number);
        loop {
            let current = canonical.get(n)?.map(|h| *h.value());
            if current == Some(hash) {
                break;
            }
            if let Some(old) = current {
                change.retracted.push(old);
            }
            canonical.insert(n, &hash)?;
            change.enacted.push(hash);
            if n == 0 {
                break;
            }
            let info = infos
                .get(&hash)?
                .map(|i| BlockInfo::decode(i.value()))
                .ok_or_else(|| DbError::Corrupt(format!("no info for block {n}")))?;
            (hash, n) = (info.parent, n - 1);
        }
        for above in (number + 1)..=old_head_number.unwrap_or(0) {
            if let Some(old) = canonical.remove(above)? {
                change.retracted.push(*old.value());
            }
        }
        change.enacted.reverse();
        let tx_hashes = txn.open_table(TX_HASHES)?;
        let mut index = txn.open_table(TX_INDEX)?;
        for block in &change.retracted {
            if let Some(list) = tx_hashes.get(block)? {
                for tx in list.value().chunks(32) {
                    index.remove(&<[u8; 32]>::try_from(tx).expect("32"))?;
                }
            }
        }
        for block in &change.enacted {
            if let Some(list) = tx_hashes.get(block)? {
                for (i, tx) in list.value().chunks(32).enumerate() {
                    let mut location = [0u8; 36];
                    location[..32].copy_from_slice(block);
                    location[32..].copy_from_slice(&(i as u32).to_be_bytes());
                    index.insert(&<[u8; 32]>::try_from(tx).expect("32"), &location)?;
                }
            }
        }
        txn.open_table(META)?.insert(HEAD, head.as_slice())?;
        Ok(change)
    }

    /// The canonical head: number and hash.
    pub fn head(&self) -> Result<Option<(u64, H256)>, DbError> {
        let txn = self.db.begin_read()?;
        let Some(hash) = txn.open_table(META)?.get(HEAD)?.map(|h| h.value().to_vec()) else {
            return Ok(None);
        };
        let hash: H256 = hash
            .try_into()
            .map_err(|_| DbError::Corrupt("head".into()))?;
        let info = txn
            .open_table(BLOCK_INFO)?
            .get(&hash)?
            .map(|i| BlockInfo::decode(i.value()))
            .ok_or_else(|| DbError::Corrupt("head block has no info".into()))?;
        Ok(Some((info.number, hash)))
    }

    fn get_bytes(
        &self,
        table: TableDefinition<&[u8; 32], &[u8]>,
        key: &H256,
    ) -> Result<Option<Vec<u8>>, DbError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(table)?.get(key)?.map(|v| v.value().to_vec()))
    }

    pub fn header(&self, hash: &H256) -> Result<Option<Vec<u8>>, DbError> {
        self.get_bytes(HEADERS, hash)
    }

    pub fn body(&self, hash: &H256) -> Result<Option<Vec<u8>>, DbError> {
        self.get_bytes(BODIES, hash)
    }

    pub fn receipts(&self, hash: &H256) -> Result<Option<Vec<u8>>, DbError> {
        self.get_bytes(RECEIPTS, hash)
    }

    pub fn block_info(&self, hash: &H256) -> Result<Option<BlockInfo>, DbError> {
        let txn = self.db.begin_read()?;
        Ok(txn
            .open_table(BLOCK_INFO)?
            .get(hash)?
            .map(|i| BlockInfo::decode(i.value())))
    }

    pub fn canonical_hash(&self, number: u64) -> Result<Option<H256>, DbError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(CANONICAL)?.get(number)?.map(|h| *h.value()))
    }

    /// Where a canonical transaction is: block hash and index.
    pub fn tx_location(&self, tx_hash: &H256) -> Result<Option<(H256, u32)>, DbError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(TX_INDEX)?.get(tx_hash)?.map(|l| {
            let l = l.value();
            (
                l[..32].try_into().expect("32"),
                u32::from_be_bytes(l[32..].try_into().expect("4")),
            )
        }))
    }

    pub fn load_snapshot(&self, hash: &H256) -> Result<Option<Vec<u8>>, DbError> {
        self.get_bytes(SNAPSHOTS, hash)
    }

    pub fn save_snapshot(&self, hash: &H256, json: &[u8]) -> Result<(), DbError> {
        let txn = self.db.begin_write()?;
        txn.open_table(SNAPSHOTS)?.insert(hash, json)?;
        txn.commit()?;
        Ok(())
    }

    pub fn node_count(&self) -> Result<u64, DbError> {
        node_journal::node_count(&self.db)
    }
}

impl NodeStore for ChainDb {
    fn read_node(&self, hash: &H256, read: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        self.cache
            .read(&self.db, hash, read)
            .map_err(|e| StoreError(e.to_string()))
    }
}
