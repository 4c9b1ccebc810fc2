//! The UnixFS importer: bytes in, blocks out, with exactly the CIDs Kubo's `ipfs add` gives.
//!
//! Fixed-size chunks become leaves (dag-pb `File` nodes, or raw blocks); leaves are grouped
//! `max_links` at a time under parent nodes, level by level, until one root remains (Kubo's
//! balanced layout). A file of one chunk is its leaf. Memory stays at one chunk plus one
//! pending link list per level, whatever the file size.

use std::{fs, io::Read, path::Path};

use cid::{Cid, Version};
use prost::Message as _;

use crate::{
    Block, StorageError,
    block::{DAG_PB, RAW},
    pb::{DataType, PbLink, PbNode, UnixFsData},
    profile::Profile,
};

/// Where imported blocks go: a store, a CAR file, or nowhere (`--only-hash`).
pub trait BlockSink {
    fn put(&mut self, block: Block) -> Result<(), StorageError>;
}

impl BlockSink for Vec<Block> {
    fn put(&mut self, block: Block) -> Result<(), StorageError> {
        self.push(block);
        Ok(())
    }
}

/// Discards blocks: only the CID is wanted.
pub struct HashOnly;

impl BlockSink for HashOnly {
    fn put(&mut self, _: Block) -> Result<(), StorageError> {
        Ok(())
    }
}

impl<S: BlockSink + ?Sized> BlockSink for &mut S {
    fn put(&mut self, block: Block) -> Result<(), StorageError> {
        (**self).put(block)
    }
}

/// A node of the DAG as its parent sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linked {
    pub cid: Cid,
    /// The block's bytes plus everything under it (the link's `Tsize`).
    pub tsize: u64,
    /// File bytes under it (the parent's `blocksizes` entry).
    pub filesize: u64,
}

/// Full chunks hashed together, spread over the cores: leaves are independent, so hashing is
/// the one part of an import that parallelises; links and order stay sequential.
const LEAF_BATCH: usize = 16;

/// Streams one file into blocks.
pub struct FileImporter<S: BlockSink> {
    profile: Profile,
    sink: S,
    chunk: Vec<u8>,
    /// Full chunks waiting to become leaves.
    full: Vec<Vec<u8>>,
    threads: usize,
    /// `levels[0]` holds leaves waiting for a parent, `levels[1]` their parents, …
    levels: Vec<Vec<Linked>>,
    blocks: u64,
}

impl<S: BlockSink> FileImporter<S> {
    pub fn new(profile: Profile, sink: S) -> Self {
        FileImporter {
            profile,
            sink,
            chunk: Vec::with_capacity(profile.chunk_size),
            full: Vec::with_capacity(LEAF_BATCH),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            levels: vec![Vec::new()],
            blocks: 0,
        }
    }

    /// Adds bytes; full chunks become leaves at once.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), StorageError> {
        while !bytes.is_empty() {
            let room = self.profile.chunk_size - self.chunk.len();
            let take = room.min(bytes.len());
            self.chunk.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.chunk.len() == self.profile.chunk_size {
                let chunk =
                    std::mem::replace(&mut self.chunk, Vec::with_capacity(self.profile.chunk_size));
                self.leaf(chunk)?;
            }
        }
        Ok(())
    }

    /// Reads `reader` to its end.
    pub fn read_from(&mut self, reader: &mut impl Read) -> Result<(), StorageError> {
        let mut buf = vec![0u8; self.profile.chunk_size.max(64 * 1024)];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StorageError::Io(e.to_string())),
            };
            self.write(&buf[..n])?;
        }
    }

    /// Ends the file: the root and the sink back.
    pub fn finish(mut self) -> Result<(Linked, S), StorageError> {
        self.leaves()?;
        let total_leaves = self.blocks;
        if !self.chunk.is_empty() || total_leaves == 0 {
            let chunk = std::mem::take(&mut self.chunk);
            self.leaf(chunk)?;
        }
        let mut level = 0;
        loop {
            let above = self.levels.len() > level + 1;
            let pending = self.levels[level].len();
            if !above && pending == 1 {
                let root = self.levels[level].pop().expect("one");
                return Ok((root, self.sink));
            }
            if pending > 0 {
                self.parent(level)?;
            }
            level += 1;
        }
    }

    fn emit(&mut self, block: Block) -> Result<(), StorageError> {
        self.blocks += 1;
        self.sink.put(block)
    }

    /// Turns the waiting full chunks into leaves, hashed on all cores, linked in order.
    fn leaves(&mut self) -> Result<(), StorageError> {
        let chunks = std::mem::take(&mut self.full);
        let profile = self.profile;
        let threads = self.threads.min(chunks.len()).max(1);
        let blocks: Vec<(Block, u64)> = if threads == 1 {
            chunks.into_iter().map(|c| leaf_block(profile, c)).collect()
        } else {
            let per = chunks.len().div_ceil(threads);
            let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut rest = chunks.into_iter();
            loop {
                let group: Vec<Vec<u8>> = rest.by_ref().take(per).collect();
                if group.is_empty() {
                    break;
                }
                groups.push(group);
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = groups
                    .into_iter()
                    .map(|g| {
                        scope.spawn(move || {
                            g.into_iter()
                                .map(|c| leaf_block(profile, c))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("hashing does not panic"))
                    .collect()
            })
        };
        for (block, filesize) in blocks {
            self.linked_leaf(block, filesize)?;
        }
        Ok(())
    }

    fn leaf(&mut self, chunk: Vec<u8>) -> Result<(), StorageError> {
        let (block, filesize) = leaf_block(self.profile, chunk);
        self.linked_leaf(block, filesize)
    }

    fn linked_leaf(&mut self, block: Block, filesize: u64) -> Result<(), StorageError> {
        let linked = Linked {
            cid: block.cid,
            tsize: block.data.len() as u64,
            filesize,
        };
        self.emit(block)?;
        self.push(0, linked)
    }

    fn push(&mut self, level: usize, linked: Linked) -> Result<(), StorageError> {
        if self.levels.len() == level {
            self.levels.push(Vec::new());
        }
        self.levels[level].push(linked);
        if self.levels[level].len() == self.profile.max_links {
            self.parent(level)?;
        }
        Ok(())
    }

    /// Replaces the pending links of `level` by one parent one level up.
    fn parent(&mut self, level: usize) -> Result<(), StorageError> {
        let children = std::mem::take(&mut self.levels[level]);
        let data = UnixFsData {
            r#type: DataType::File as i32,
            data: None,
            filesize: Some(children.iter().map(|c| c.filesize).sum()),
            blocksizes: children.iter().map(|c| c.filesize).collect(),
            hash_type: None,
            fanout: None,
        };
        let node = PbNode {
            links: children.iter().map(|c| file_link(c, "")).collect(),
            data: Some(data.encode_to_vec()),
        };
        let block = Block::new(self.profile.cid_version, DAG_PB, node.encode_to_vec());
        let linked = Linked {
            cid: block.cid,
            tsize: block.data.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>(),
            filesize: children.iter().map(|c| c.filesize).sum(),
        };
        self.emit(block)?;
        self.push(level + 1, linked)
    }
}

/// A leaf block of `chunk`: raw, or a dag-pb UnixFS File node; and the bytes it holds.
fn leaf_block(profile: Profile, chunk: Vec<u8>) -> (Block, u64) {
    let filesize = chunk.len() as u64;
    let block = if profile.raw_leaves {
        Block::new(Version::V1, RAW, chunk)
    } else {
        let data = UnixFsData {
            r#type: DataType::File as i32,
            data: (!chunk.is_empty()).then_some(chunk),
            filesize: Some(filesize),
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
        };
        let node = PbNode {
            links: Vec::new(),
            data: Some(data.encode_to_vec()),
        };
        Block::new(profile.cid_version, DAG_PB, node.encode_to_vec())
    };
    (block, filesize)
}

fn file_link(child: &Linked, name: &str) -> PbLink {
    PbLink {
        hash: Some(child.cid.to_bytes()),
        name: Some(name.to_string()),
        tsize: Some(child.tsize),
    }
}

/// Imports bytes held in memory.
pub fn import_bytes(
    profile: Profile,
    bytes: &[u8],
    sink: impl BlockSink,
) -> Result<Linked, StorageError> {
    let mut importer = FileImporter::new(profile, sink);
    importer.write(bytes)?;
    Ok(importer.finish()?.0)
}

/// Kubo's `HAMTShardingSize`: the estimated size of a directory's links beyond which it shards.
const HAMT_THRESHOLD: usize = 262_144;

/// Which directory entries `add -r` takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirOptions {
    /// Include names starting with `.` (Kubo's `--hidden`); skipped by default, as in Kubo.
    pub hidden: bool,
}

/// Imports a directory tree as UnixFS directories (links sorted by name, like Kubo's).
/// Symbolic links are refused rather than followed.
pub fn import_dir(
    profile: Profile,
    path: &Path,
    options: DirOptions,
    sink: &mut dyn BlockSink,
    progress: &mut dyn FnMut(u64),
) -> Result<Linked, StorageError> {
    let io = |e: std::io::Error| StorageError::Io(format!("{}: {e}", path.display()));
    let mut names = Vec::new();
    for entry in fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().into_string().map_err(|n| {
            StorageError::Io(format!(
                "{}: a name that is not UTF-8: {n:?}",
                path.display()
            ))
        })?;
        if name.starts_with('.') && !options.hidden {
            continue;
        }
        names.push(name);
    }
    names.sort();
    let mut links = Vec::with_capacity(names.len());
    for name in names {
        let child = path.join(&name);
        let kind = fs::symlink_metadata(&child).map_err(io)?.file_type();
        let linked = if kind.is_dir() {
            import_dir(profile, &child, options, sink, progress)?
        } else if kind.is_file() {
            import_file(profile, &child, sink, progress)?
        } else {
            return Err(StorageError::Io(format!(
                "{}: only regular files and directories can be added",
                child.display()
            )));
        };
        links.push(file_link(&linked, &name));
    }
    if needs_sharding(profile, &links) {
        let entries = links
            .into_iter()
            .map(|l| (l.name.clone().unwrap_or_default(), l))
            .collect();
        return crate::hamt::write_sharded(profile, entries, sink);
    }
    directory_node(profile, links, sink)
}

/// Whether Kubo would shard a directory with these links: when their estimated size passes
/// 256 KiB (not when it equals it) — names and CIDs (`links-bytes`, Kubo's default), or the
/// whole serialized node (`block-bytes`, the `unixfs-v1-2025` profile).
fn needs_sharding(profile: Profile, links: &[PbLink]) -> bool {
    let estimate: usize = if profile == Profile::UNIXFS_V1_2025 {
        // The node's Data field (`08 01` wrapped) and each link as a serialized PBLink.
        4 + links
            .iter()
            .map(|l| prost::encoding::message::encoded_len(2, l))
            .sum::<usize>()
    } else {
        links
            .iter()
            .map(|l| l.name.as_ref().map_or(0, String::len) + l.hash.as_ref().map_or(0, Vec::len))
            .sum()
    };
    estimate > HAMT_THRESHOLD
}

/// Imports one regular file, reporting bytes read.
pub fn import_file(
    profile: Profile,
    path: &Path,
    sink: &mut dyn BlockSink,
    progress: &mut dyn FnMut(u64),
) -> Result<Linked, StorageError> {
    let mut file =
        fs::File::open(path).map_err(|e| StorageError::Io(format!("{}: {e}", path.display())))?;
    let mut importer = FileImporter::new(profile, sink);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| StorageError::Io(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        importer.write(&buf[..n])?;
        progress(n as u64);
    }
    Ok(importer.finish()?.0)
}

fn directory_node(
    profile: Profile,
    links: Vec<PbLink>,
    sink: &mut dyn BlockSink,
) -> Result<Linked, StorageError> {
    let data = UnixFsData {
        r#type: DataType::Directory as i32,
        data: None,
        filesize: None,
        blocksizes: Vec::new(),
        hash_type: None,
        fanout: None,
    };
    let below: u64 = links.iter().filter_map(|l| l.tsize).sum();
    let node = PbNode {
        links,
        data: Some(data.encode_to_vec()),
    };
    let block = Block::new(profile.cid_version, DAG_PB, node.encode_to_vec());
    let linked = Linked {
        cid: block.cid,
        tsize: block.data.len() as u64 + below,
        filesize: 0,
    };
    sink.put(block)?;
    Ok(linked)
}
