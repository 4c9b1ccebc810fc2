//! The UnixFS exporter: a root CID and a block source in, file bytes or a directory tree out.
//! Every block is checked against its CID before it is read, and a file's declared sizes
//! against what its leaves hold, so a wrong block can never become wrong output.

use std::{fs, io::Write, path::Path};

use cid::Cid;
use prost::Message as _;

use crate::{
    StorageError,
    block::{DAG_PB, RAW, decode_node, link_cid, verify},
    pb::{DataType, UnixFsData},
};

/// Anything that can hand out blocks by CID (the store, a CAR file read into memory, …).
pub trait BlockSource {
    fn block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StorageError>;
}

impl BlockSource for std::collections::HashMap<Cid, Vec<u8>> {
    fn block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.get(cid).cloned())
    }
}

/// A block checked against its CID, or an error naming the missing one.
pub fn fetch(source: &dyn BlockSource, cid: &Cid) -> Result<Vec<u8>, StorageError> {
    let data = source
        .block(cid)?
        .ok_or_else(|| StorageError::Missing(cid.to_string()))?;
    verify(cid, &data)?;
    Ok(data)
}

/// What a UnixFS node is.
#[derive(Debug)]
pub enum Node {
    /// A raw leaf.
    Raw(Vec<u8>),
    /// A dag-pb node with its decoded UnixFS data and links (name, CID, tsize).
    Pb {
        data: UnixFsData,
        links: Vec<(String, Cid, u64)>,
    },
}

/// Reads and decodes one node.
pub fn node(source: &dyn BlockSource, cid: &Cid) -> Result<Node, StorageError> {
    let bytes = fetch(source, cid)?;
    parse_node(cid, bytes)
}

pub(crate) fn parse_node(cid: &Cid, bytes: Vec<u8>) -> Result<Node, StorageError> {
    match cid.codec() {
        RAW => Ok(Node::Raw(bytes)),
        DAG_PB => {
            let pb = decode_node(cid, &bytes)?;
            let malformed = |reason: String| StorageError::Malformed {
                cid: cid.to_string(),
                reason,
            };
            let raw = pb
                .data
                .ok_or_else(|| malformed("a dag-pb node without UnixFS data".into()))?;
            let data = UnixFsData::decode(raw.as_slice())
                .map_err(|e| malformed(format!("unreadable UnixFS data: {e}")))?;
            let links = pb
                .links
                .iter()
                .map(|l| {
                    Ok((
                        l.name.clone().unwrap_or_default(),
                        link_cid(cid, l.hash.as_deref())?,
                        l.tsize.unwrap_or(0),
                    ))
                })
                .collect::<Result<_, StorageError>>()?;
            Ok(Node::Pb { data, links })
        }
        other => Err(StorageError::UnsupportedCodec {
            cid: cid.to_string(),
            codec: other,
        }),
    }
}

/// Writes the file under `root` to `out`; returns its size.
pub fn export_file(
    source: &dyn BlockSource,
    root: &Cid,
    out: &mut dyn Write,
) -> Result<u64, StorageError> {
    let mut written = 0;
    write_file(source, root, None, out, &mut written, 0)?;
    Ok(written)
}

/// The deepest file DAG the exporter follows: a balanced DAG of 174 links is this deep only
/// past 10^140 bytes, and a hostile chain of nodes would otherwise recurse until the stack ends.
pub const MAX_FILE_DEPTH: usize = 64;

fn write_file(
    source: &dyn BlockSource,
    cid: &Cid,
    expected: Option<u64>,
    out: &mut dyn Write,
    written: &mut u64,
    depth: usize,
) -> Result<(), StorageError> {
    let start = *written;
    let malformed = |reason: String| StorageError::Malformed {
        cid: cid.to_string(),
        reason,
    };
    if depth > MAX_FILE_DEPTH {
        return Err(malformed(format!(
            "a file DAG deeper than {MAX_FILE_DEPTH} levels"
        )));
    }
    let declared = match node(source, cid)? {
        Node::Raw(bytes) => {
            out.write_all(&bytes).map_err(StorageError::io)?;
            *written += bytes.len() as u64;
            bytes.len() as u64
        }
        Node::Pb { data, links } => {
            match data.kind() {
                Some(DataType::File | DataType::Raw) => {}
                Some(DataType::Directory | DataType::HamtShard) => {
                    return Err(StorageError::IsDirectory(cid.to_string()));
                }
                other => return Err(malformed(format!("unsupported UnixFS type {other:?}"))),
            }
            if !links.is_empty() && data.blocksizes.len() != links.len() {
                return Err(malformed(format!(
                    "{} links but {} block sizes",
                    links.len(),
                    data.blocksizes.len()
                )));
            }
            let inline = data.data.unwrap_or_default();
            out.write_all(&inline).map_err(StorageError::io)?;
            *written += inline.len() as u64;
            for ((_, child, _), size) in links.iter().zip(&data.blocksizes) {
                write_file(source, child, Some(*size), out, written, depth + 1)?;
            }
            data.filesize.unwrap_or(*written - start)
        }
    };
    let got = *written - start;
    if got != declared || expected.is_some_and(|e| e != got) {
        return Err(malformed(format!(
            "declares {} bytes but holds {got}",
            expected.unwrap_or(declared)
        )));
    }
    Ok(())
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub cid: Cid,
    pub tsize: u64,
}

/// The entries of a directory node, or `None` when `cid` is a file.
pub fn list_dir(
    source: &dyn BlockSource,
    cid: &Cid,
) -> Result<Option<Vec<DirEntry>>, StorageError> {
    match node(source, cid)? {
        Node::Pb { data, links } if data.kind() == Some(DataType::Directory) => Ok(Some(
            links
                .into_iter()
                .map(|(name, cid, tsize)| DirEntry { name, cid, tsize })
                .collect(),
        )),
        Node::Pb { data, links } if data.kind() == Some(DataType::HamtShard) => {
            let mut child = |c: &Cid| match node(source, c)? {
                Node::Pb { data, links } if data.kind() == Some(DataType::HamtShard) => Ok(links),
                _ => Err(StorageError::Malformed {
                    cid: c.to_string(),
                    reason: "a HAMT link of two characters names no shard".into(),
                }),
            };
            Ok(Some(
                crate::hamt::entries(cid, links, &mut child)?
                    .into_iter()
                    .map(|(name, cid, tsize)| DirEntry { name, cid, tsize })
                    .collect(),
            ))
        }
        _ => Ok(None),
    }
}

/// How much of a directory tree [`export_path_within`] writes at most: a tree that links one
/// subdirectory many times can name exponentially more entries than it has blocks.
#[derive(Clone, Copy, Debug)]
pub struct ExportLimits {
    pub depth: usize,
    pub entries: u64,
}

impl Default for ExportLimits {
    fn default() -> Self {
        ExportLimits {
            depth: 256,
            entries: 1_000_000,
        }
    }
}

/// Writes a file or a directory tree under `root` to `path` (which must not exist), within
/// the default [`ExportLimits`].
pub fn export_path(source: &dyn BlockSource, root: &Cid, path: &Path) -> Result<u64, StorageError> {
    export_path_within(source, root, path, ExportLimits::default())
}

/// [`export_path`] within `limits`.
pub fn export_path_within(
    source: &dyn BlockSource,
    root: &Cid,
    path: &Path,
    limits: ExportLimits,
) -> Result<u64, StorageError> {
    let mut entries = 0;
    export_tree(source, root, path, &limits, 0, &mut entries)
}

fn export_tree(
    source: &dyn BlockSource,
    root: &Cid,
    path: &Path,
    limits: &ExportLimits,
    depth: usize,
    count: &mut u64,
) -> Result<u64, StorageError> {
    let io = |e: std::io::Error| StorageError::Io(format!("{}: {e}", path.display()));
    let malformed = |reason: String| StorageError::Malformed {
        cid: root.to_string(),
        reason,
    };
    match list_dir(source, root)? {
        Some(entries) => {
            if depth >= limits.depth {
                return Err(malformed(format!(
                    "a directory tree over {} levels deep",
                    limits.depth
                )));
            }
            *count += entries.len() as u64;
            if *count > limits.entries {
                return Err(malformed(format!(
                    "a directory tree of over {} entries",
                    limits.entries
                )));
            }
            fs::create_dir(path).map_err(io)?;
            let mut total = 0;
            for entry in entries {
                let safe = !entry.name.is_empty()
                    && entry.name != "."
                    && entry.name != ".."
                    && !entry.name.contains('/')
                    && !entry.name.contains('\0');
                if !safe {
                    return Err(malformed(format!("unsafe entry name {:?}", entry.name)));
                }
                let at = path.join(&entry.name);
                total += export_tree(source, &entry.cid, &at, limits, depth + 1, count)?;
            }
            Ok(total)
        }
        None => {
            let mut file = fs::File::create_new(path).map_err(io)?;
            let n = export_file(source, root, &mut file)?;
            file.flush().map_err(io)?;
            Ok(n)
        }
    }
}

/// Called with each block of a walk.
pub type Visit<'a> = dyn FnMut(&Cid, &[u8]) -> Result<(), StorageError> + 'a;

/// Visits every block of the DAG under `root` once, depth first in link order (the order of
/// `ipfs dag export`).
pub fn walk(
    source: &dyn BlockSource,
    root: &Cid,
    visit: &mut Visit<'_>,
) -> Result<(), StorageError> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![*root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let data = fetch(source, &cid)?;
        let links = crate::block::links(&cid, &data)?;
        visit(&cid, &data)?;
        stack.extend(links.into_iter().rev());
    }
    Ok(())
}
