//! The block store: content blocks, pins and a garbage collector, in `blocks.redb` beside the
//! chain database (content is large and written in bulk; keeping it in its own file keeps the
//! chain's per-block transactions small).
//!
//! Adds go through an [`AddSession`]: each block is marked in use before it is written, blocks
//! are committed in batches, and the root is pinned at the end in one transaction. The
//! collector runs in one write transaction (so no add commits in between), marks everything
//! reachable from a pin plus everything an open session has marked, and deletes the rest: a
//! pinned or in-use block is never removed. A crash mid-add leaves unpinned blocks that the next
//! collection removes.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{Arc, Mutex, atomic::AtomicU64},
};

use cid::Cid;
use redb::{
    Database, ReadableDatabase as _, ReadableTable as _, ReadableTableMetadata as _,
    TableDefinition,
};
use serde::{Deserialize, Serialize};

use crate::{Block, BlockSource, StorageError, block, importer::BlockSink};

const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
const PINS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pins");

/// Bytes an add session buffers before committing a batch.
const BATCH_BYTES: usize = 32 << 20;

/// Inside `txn`: every block of the DAG under `root` is stored (blocks whose links are `known`
/// are not read back).
fn check_complete(
    txn: &redb::WriteTransaction,
    root: &Cid,
    known: &HashMap<Cid, Vec<Cid>>,
) -> Result<(), StorageError> {
    let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
    let mut stack = vec![*root];
    let mut seen = HashSet::new();
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        if let Some(links) = known.get(&cid) {
            stack.extend(links.iter().copied());
            continue;
        }
        let key = cid.to_bytes();
        let Some(data) = blocks.get(key.as_slice()).map_err(db_err)? else {
            return Err(StorageError::Missing(cid.to_string()));
        };
        stack.extend(block::links(&cid, data.value())?);
    }
    Ok(())
}

fn db_err(e: impl Into<redb::Error>) -> StorageError {
    StorageError::Db(e.into().to_string())
}

/// What is known of a pinned root.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinInfo {
    /// A file or directory name, when added from one.
    pub name: String,
    /// Plaintext bytes (file size; for directories the sum of files).
    pub size: u64,
    /// The import profile (`unixfs-v0-2015`, …).
    pub profile: String,
    pub encrypted: bool,
}

/// What a collection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    pub removed_blocks: u64,
    pub removed_bytes: u64,
    pub kept_blocks: u64,
}

/// Counts of what is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    pub blocks: u64,
    pub bytes: u64,
    pub pins: u64,
}

#[derive(Default)]
struct InUse {
    sessions: HashMap<u64, HashSet<Cid>>,
}

/// Content blocks by CID, with pins.
#[derive(Clone)]
pub struct BlockStore {
    db: Arc<Database>,
    in_use: Arc<Mutex<InUse>>,
    next_session: Arc<AtomicU64>,
}

impl BlockStore {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        // A bounded cache rather than redb's default 1 GiB: adds run at about half the speed
        // (docs/BENCHMARKS.md) but a node's memory stays bounded whatever it stores.
        let db = Database::builder()
            .set_cache_size(256 << 20)
            .create(path.as_ref())
            .map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(BLOCKS).map_err(db_err)?;
        txn.open_table(PINS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(BlockStore {
            db: Arc::new(db),
            in_use: Default::default(),
            next_session: Default::default(),
        })
    }

    pub fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        Ok(table
            .get(cid.to_bytes().as_slice())
            .map_err(db_err)?
            .map(|v| v.value().to_vec()))
    }

    pub fn has(&self, cid: &Cid) -> Result<bool, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        Ok(table
            .get(cid.to_bytes().as_slice())
            .map_err(db_err)?
            .is_some())
    }

    /// Stores checked blocks in one transaction (blocks from a peer or a CAR file). They stay
    /// unpinned, so collectable, until a pin reaches them.
    pub fn put_many(&self, blocks: &[Block]) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(BLOCKS).map_err(db_err)?;
            for b in blocks {
                block::verify(&b.cid, &b.data)?;
                table
                    .insert(b.cid.to_bytes().as_slice(), b.data.as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Starts an add: blocks put through the session are protected from collection until it
    /// ends.
    pub fn session(&self) -> AddSession {
        let id = self
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.in_use
            .lock()
            .expect("lock")
            .sessions
            .insert(id, HashSet::new());
        AddSession {
            store: self.clone(),
            id,
            links: HashMap::new(),
            batch: Vec::new(),
            batch_bytes: 0,
            writer: None,
        }
    }

    /// CIDs under `root` that are not stored (empty when the DAG is complete).
    pub fn missing(&self, root: &Cid) -> Result<Vec<Cid>, StorageError> {
        let mut missing = Vec::new();
        let mut stack = vec![*root];
        let mut seen = HashSet::new();
        while let Some(cid) = stack.pop() {
            if !seen.insert(cid) {
                continue;
            }
            match self.get(&cid)? {
                Some(data) => stack.extend(block::links(&cid, &data)?),
                None => missing.push(cid),
            }
        }
        Ok(missing)
    }

    /// Pins a complete DAG. Completeness is checked inside the pin's write transaction, so a
    /// collection cannot remove a block between the check and the pin.
    pub fn pin(&self, root: &Cid, info: &PinInfo) -> Result<(), StorageError> {
        self.pin_knowing(root, info, &HashMap::new())
    }

    /// [`Self::pin`] where the links of some blocks are already known (an add session's own
    /// blocks, which it holds): those are not read back.
    fn pin_knowing(
        &self,
        root: &Cid,
        info: &PinInfo,
        known: &HashMap<Cid, Vec<Cid>>,
    ) -> Result<(), StorageError> {
        let value = serde_json::to_vec(info).expect("plain struct");
        let txn = self.db.begin_write().map_err(db_err)?;
        check_complete(&txn, root, known)?;
        txn.open_table(PINS)
            .map_err(db_err)?
            .insert(root.to_bytes().as_slice(), value.as_slice())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Changes the pin of `root` only while its name is still `expected` (`None`: no pin), in
    /// one write transaction: to `to`, or away when `to` is `None`. `false`, and nothing
    /// changed, when the name was not `expected` — someone else (an operator, another agent
    /// step) changed it meanwhile. A new pin checks the DAG is complete, as [`Self::pin`] does.
    pub fn swap_pin(
        &self,
        root: &Cid,
        expected: Option<&str>,
        to: Option<&PinInfo>,
    ) -> Result<bool, StorageError> {
        let key = root.to_bytes();
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut pins = txn.open_table(PINS).map_err(db_err)?;
            let current = pins.get(key.as_slice()).map_err(db_err)?.map(|v| {
                serde_json::from_slice::<PinInfo>(v.value())
                    .ok()
                    .map(|i| i.name)
            });
            let matches = match (&current, expected) {
                (None, None) => true,
                (Some(Some(name)), Some(want)) => name == want,
                _ => false,
            };
            if !matches {
                return Ok(false);
            }
            match to {
                Some(info) => {
                    if current.is_none() {
                        check_complete(&txn, root, &HashMap::new())?;
                    }
                    let value = serde_json::to_vec(info).expect("plain struct");
                    pins.insert(key.as_slice(), value.as_slice())
                        .map_err(db_err)?;
                }
                None => {
                    pins.remove(key.as_slice()).map_err(db_err)?;
                }
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(true)
    }

    /// Removes a pin; `false` when there was none.
    pub fn unpin(&self, root: &Cid) -> Result<bool, StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let removed = txn
            .open_table(PINS)
            .map_err(db_err)?
            .remove(root.to_bytes().as_slice())
            .map_err(db_err)?
            .is_some();
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }

    pub fn pin_info(&self, root: &Cid) -> Result<Option<PinInfo>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(PINS).map_err(db_err)?;
        let raw = table.get(root.to_bytes().as_slice()).map_err(db_err)?;
        Ok(raw.and_then(|v| serde_json::from_slice(v.value()).ok()))
    }

    /// Every pin, in CID byte order.
    pub fn pins(&self) -> Result<Vec<(Cid, PinInfo)>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(PINS).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            let cid = Cid::try_from(k.value())
                .map_err(|e| StorageError::Db(format!("stored pin: {e}")))?;
            out.push((cid, serde_json::from_slice(v.value()).unwrap_or_default()));
        }
        Ok(out)
    }

    pub fn stats(&self) -> Result<StoreStats, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        let mut bytes = 0;
        for entry in blocks.iter().map_err(db_err)? {
            bytes += entry.map_err(db_err)?.1.value().len() as u64;
        }
        Ok(StoreStats {
            blocks: blocks.len().map_err(db_err)?,
            bytes,
            pins: txn
                .open_table(PINS)
                .map_err(db_err)?
                .len()
                .map_err(db_err)?,
        })
    }

    /// Deletes every block that no pin reaches and no open add session holds.
    pub fn gc(&self) -> Result<GcReport, StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let mut report = GcReport::default();
        {
            let pins = txn.open_table(PINS).map_err(db_err)?;
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            // Taken inside the write transaction: every block already committed by a session
            // was marked before its commit, so it is in this snapshot.
            let mut live: HashSet<Vec<u8>> = {
                let in_use = self.in_use.lock().expect("lock");
                in_use
                    .sessions
                    .values()
                    .flatten()
                    .map(|c| c.to_bytes())
                    .collect()
            };
            let mut stack = Vec::new();
            for entry in pins.iter().map_err(db_err)? {
                stack.push(entry.map_err(db_err)?.0.value().to_vec());
            }
            let mut reached = HashSet::new();
            while let Some(key) = stack.pop() {
                if !reached.insert(key.clone()) {
                    continue;
                }
                let Some(data) = blocks.get(key.as_slice()).map_err(db_err)? else {
                    continue;
                };
                let cid = Cid::try_from(key.as_slice())
                    .map_err(|e| StorageError::Db(format!("stored CID: {e}")))?;
                for link in block::links(&cid, data.value())? {
                    stack.push(link.to_bytes());
                }
            }
            live.extend(reached);
            let mut dead = Vec::new();
            for entry in blocks.iter().map_err(db_err)? {
                let (k, v) = entry.map_err(db_err)?;
                if live.contains(k.value()) {
                    report.kept_blocks += 1;
                } else {
                    report.removed_bytes += v.value().len() as u64;
                    dead.push(k.value().to_vec());
                }
            }
            for key in &dead {
                blocks.remove(key.as_slice()).map_err(db_err)?;
            }
            report.removed_blocks = dead.len() as u64;
        }
        txn.commit().map_err(db_err)?;
        Ok(report)
    }

    /// Deletes one block whatever holds it (an operator's tool, and how tests lose data).
    pub fn delete(&self, cid: &Cid) -> Result<bool, StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let removed = txn
            .open_table(BLOCKS)
            .map_err(db_err)?
            .remove(cid.to_bytes().as_slice())
            .map_err(db_err)?
            .is_some();
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }
}

impl BlockSource for BlockStore {
    fn block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StorageError> {
        self.get(cid)
    }
}

/// One add in progress; see [`BlockStore::session`].
pub struct AddSession {
    store: BlockStore,
    id: u64,
    /// The links of every block written through this session.
    links: HashMap<Cid, Vec<Cid>>,
    batch: Vec<Block>,
    batch_bytes: usize,
    writer: Option<Writer>,
}

/// Writes an add's batches into redb on a thread of its own, so the next batch is read and
/// checked while the last one is written.
struct Writer {
    batches: std::sync::mpsc::SyncSender<Vec<Block>>,
    done: std::thread::JoinHandle<Result<(), StorageError>>,
}

/// Writes one batch in a write transaction of its own.
fn write_batch(db: &redb::Database, batch: &[Block]) -> Result<(), StorageError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    // Batches need not reach the disk on their own: the pin's commit is durable and makes
    // them so; after a crash they would be unpinned garbage anyway.
    txn.set_durability(redb::Durability::None).map_err(db_err)?;
    {
        let mut table = txn.open_table(BLOCKS).map_err(db_err)?;
        for b in batch {
            table
                .insert(b.cid.to_bytes().as_slice(), b.data.as_slice())
                .map_err(db_err)?;
        }
    }
    txn.commit().map_err(db_err)
}

impl AddSession {
    /// Hands the buffered blocks to the writer (starting it if needed); waits only when the
    /// writer is a batch behind.
    fn flush(&mut self) -> Result<(), StorageError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let writer = self.writer.get_or_insert_with(|| {
            let (batches, incoming) = std::sync::mpsc::sync_channel::<Vec<Block>>(1);
            let store = self.store.clone();
            let done = std::thread::spawn(move || {
                for batch in incoming {
                    write_batch(&store.db, &batch)?;
                }
                Ok(())
            });
            Writer { batches, done }
        });
        if writer.batches.send(batch).is_err() {
            // The writer stopped on an error: report it.
            return self.drain();
        }
        Ok(())
    }

    /// Waits until every batch handed over is written; the writer's error, if it had one.
    fn drain(&mut self) -> Result<(), StorageError> {
        match self.writer.take() {
            None => Ok(()),
            Some(Writer { batches, done }) => {
                drop(batches);
                done.join()
                    .unwrap_or_else(|_| Err(StorageError::Db("the block writer panicked".into())))
            }
        }
    }

    /// Writes what is buffered and pins `root`; the session's blocks are then held by the pin.
    pub fn commit(mut self, root: &Cid, info: &PinInfo) -> Result<(), StorageError> {
        self.flush()?;
        self.drain()?;
        self.store.pin_knowing(root, info, &self.links)
    }

    /// Writes what is buffered now (the blocks stay protected while the session lasts).
    pub fn flush_now(&mut self) -> Result<(), StorageError> {
        self.flush()?;
        self.drain()
    }

    /// Writes what is buffered without pinning (blocks stay collectable once the session ends),
    /// durably.
    pub fn finish_unpinned(mut self) -> Result<(), StorageError> {
        self.flush()?;
        self.drain()?;
        let mut txn = self.store.db.begin_write().map_err(db_err)?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}

impl BlockSink for AddSession {
    fn put(&mut self, block: Block) -> Result<(), StorageError> {
        self.links.insert(block.cid, block.links()?);
        self.store
            .in_use
            .lock()
            .expect("lock")
            .sessions
            .get_mut(&self.id)
            .expect("open session")
            .insert(block.cid);
        self.batch_bytes += block.data.len();
        self.batch.push(block);
        if self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

impl Drop for AddSession {
    fn drop(&mut self) {
        // What was handed to the writer lands before the session's protection ends.
        let _ = self.drain();
        if let Ok(mut in_use) = self.store.in_use.lock() {
            in_use.sessions.remove(&self.id);
        }
    }
}
