//! HAMT-sharded directories, as Kubo (boxo's `hamt`) and the JS importer write them: a directory
//! whose links grow past the sharding threshold becomes a hash-array-mapped trie of dag-pb
//! `HAMTShard` nodes with fanout 256.
//!
//! A name's slot at depth *d* is byte *d* of the first 64 bits (big-endian `h1`) of its
//! murmur3-x64-128 hash (seed 0); past eight levels the name ‖ [level/8] is hashed again. A slot
//! holds one entry, or a child shard once two names meet there. A shard node's links are in
//! slot order, named by the slot as two upper-case hex digits (a child shard) or those digits
//! followed by the entry's name; its UnixFS data is `{type: HAMTShard, data: the bitfield of
//! occupied slots as a minimal big-endian integer, hashType: 0x22 (murmur3-x64-64), fanout: 256}`.

use std::collections::BTreeMap;

use cid::Cid;
use prost::Message as _;

use crate::{
    Block, BlockSink, Linked, StorageError,
    block::DAG_PB,
    pb::{DataType, PbLink, PbNode, UnixFsData},
    profile::Profile,
};

/// Slots per shard node.
pub const FANOUT: usize = 256;
/// Multihash code of murmur3-x64-64, the hash a shard names.
pub const HASH_TYPE: u64 = 0x22;

/// The bits of a name's hash, one byte (one level) at a time.
fn slot(name: &str, depth: usize) -> u8 {
    let mut input = name.as_bytes().to_vec();
    let round = depth / 8;
    if round > 0 {
        input.push(round as u8);
    }
    let h = murmur3::murmur3_x64_128(&mut input.as_slice(), 0).expect("reading a slice");
    let h1 = h as u64;
    (h1 >> (56 - 8 * (depth % 8))) as u8
}

enum Child {
    Entry(String, PbLink),
    Shard(Box<Shard>),
}

#[derive(Default)]
struct Shard {
    slots: BTreeMap<u8, Child>,
}

impl Shard {
    fn insert(&mut self, name: String, link: PbLink, depth: usize) {
        let at = slot(&name, depth);
        match self.slots.remove(&at) {
            None => {
                self.slots.insert(at, Child::Entry(name, link));
            }
            Some(Child::Shard(mut below)) => {
                below.insert(name, link, depth + 1);
                self.slots.insert(at, Child::Shard(below));
            }
            Some(Child::Entry(other, other_link)) => {
                let mut below = Box::<Shard>::default();
                below.insert(other, other_link, depth + 1);
                below.insert(name, link, depth + 1);
                self.slots.insert(at, Child::Shard(below));
            }
        }
    }

    /// Writes this shard and those below it; returns the link fields of this node.
    fn write(self, profile: Profile, sink: &mut dyn BlockSink) -> Result<Linked, StorageError> {
        let mut bitfield = [0u8; FANOUT / 8];
        let mut links = Vec::with_capacity(self.slots.len());
        let mut below = 0u64;
        for (at, child) in self.slots {
            bitfield[FANOUT / 8 - 1 - at as usize / 8] |= 1 << (at % 8);
            let prefix = format!("{at:02X}");
            let link = match child {
                Child::Entry(name, mut link) => {
                    link.name = Some(format!("{prefix}{name}"));
                    link
                }
                Child::Shard(shard) => {
                    let linked = shard.write(profile, sink)?;
                    PbLink {
                        hash: Some(linked.cid.to_bytes()),
                        name: Some(prefix),
                        tsize: Some(linked.tsize),
                    }
                }
            };
            below += link.tsize.unwrap_or(0);
            links.push(link);
        }
        let first = bitfield
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(FANOUT / 8 - 1);
        let data = UnixFsData {
            r#type: DataType::HamtShard as i32,
            data: Some(bitfield[first..].to_vec()),
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: Some(HASH_TYPE),
            fanout: Some(FANOUT as u64),
        };
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
}

/// Writes a sharded directory of `entries` (name, link), returning its root.
pub fn write_sharded(
    profile: Profile,
    entries: Vec<(String, PbLink)>,
    sink: &mut dyn BlockSink,
) -> Result<Linked, StorageError> {
    let mut root = Shard::default();
    for (name, link) in entries {
        root.insert(name, link, 0);
    }
    root.write(profile, sink)
}

/// A node's links: name, CID and cumulative size.
pub type Links = Vec<(String, Cid, u64)>;

/// The entries of a sharded directory rooted at `links` (its root node's links), by name,
/// walking child shards through `child` (which reads and checks a shard node and returns its
/// links).
pub fn entries(
    root: &Cid,
    links: Links,
    child: &mut dyn FnMut(&Cid) -> Result<Links, StorageError>,
) -> Result<Links, StorageError> {
    let malformed = |reason: String| StorageError::Malformed {
        cid: root.to_string(),
        reason,
    };
    let mut out = Vec::new();
    // A name's hash fixes its path, so an honest HAMT never links one shard twice; a hostile
    // one that did would list 256× more entries per level than it holds blocks.
    let mut seen = std::collections::HashSet::from([*root]);
    let mut stack = vec![(links, 0usize)];
    while let Some((links, depth)) = stack.pop() {
        if depth > 64 {
            return Err(malformed("a HAMT deeper than 64 levels".into()));
        }
        for (name, cid, tsize) in links {
            if name.len() < 2 || !name.is_char_boundary(2) {
                return Err(malformed(format!("a shard link named {name:?}")));
            }
            if name.len() == 2 {
                if !seen.insert(cid) {
                    return Err(malformed(format!("the shard {cid} is linked twice")));
                }
                stack.push((child(&cid)?, depth + 1));
            } else {
                out.push((name[2..].to_string(), cid, tsize));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(malformed(format!(
            "the name {:?} is in the directory twice",
            w[0].0
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_murmur3_x64_128_h1_big_endian() {
        // murmur3-x64-128("hello", seed 0) = cbd8a7b341bd9b02 5b1e906a48ae1d19 (h1 ‖ h2).
        assert_eq!(slot("hello", 0), 0xcb);
        assert_eq!(slot("hello", 1), 0xd8);
        assert_eq!(slot("hello", 7), 0x02);
    }
}
