//! Trie nodes in memory and their RLP encoding (Yellow Paper appendix D).
//!
//! ```text
//! leaf       [hex_prefix(path, leaf), value]
//! extension  [hex_prefix(path, ext),  child]
//! branch     [child0 … child15, value]       child = "" | hash (32-byte string) | inline node (< 32 bytes)
//! ```

use alloy_rlp::{Encodable, Header};

use crate::{H256, TrieError, nibbles};

/// A node. Paths are nibbles relative to the node's position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Leaf {
        path: Vec<u8>,
        value: Vec<u8>,
    },
    Extension {
        path: Vec<u8>,
        child: Child,
    },
    Branch {
        children: Box<[Child; 16]>,
        value: Option<Vec<u8>>,
    },
}

/// A reference from a parent: nothing, a stored node by hash, or a node held in memory
/// (modified since the last commit, or inline in its parent's encoding).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Child {
    #[default]
    Empty,
    Hash(H256),
    Node(Box<Node>),
}

impl Child {
    pub(crate) fn node(node: Node) -> Self {
        Child::Node(Box::new(node))
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Child::Empty)
    }
}

/// The bytes a child contributes to its parent's encoding.
pub(crate) const EMPTY_REF: [u8; 1] = [alloy_rlp::EMPTY_STRING_CODE];

/// `0xa0 ‖ hash`: the RLP string of a 32-byte hash.
pub(crate) fn hash_ref(hash: &H256) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = alloy_rlp::EMPTY_STRING_CODE + 32;
    out[1..].copy_from_slice(hash);
    out
}

/// Starts a node's encoding: a list header for `payload_length` bytes, with room for them.
fn list_with_capacity(payload_length: usize) -> Vec<u8> {
    let header = Header {
        list: true,
        payload_length,
    };
    let mut out = Vec::with_capacity(header.length() + payload_length);
    header.encode(&mut out);
    out
}

pub(crate) fn encode_leaf(path: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = list_with_capacity(nibbles::hex_prefix_rlp_len(path) + value.length());
    nibbles::hex_prefix_rlp_into(path, true, &mut out);
    value.encode(&mut out);
    out
}

pub(crate) fn encode_extension(path: &[u8], child_ref: &[u8]) -> Vec<u8> {
    let mut out = list_with_capacity(nibbles::hex_prefix_rlp_len(path) + child_ref.len());
    nibbles::hex_prefix_rlp_into(path, false, &mut out);
    out.extend_from_slice(child_ref);
    out
}

pub(crate) fn encode_branch<R: AsRef<[u8]>>(child_refs: &[R; 16], value: Option<&[u8]>) -> Vec<u8> {
    let value = value.unwrap_or_default();
    let refs_length: usize = child_refs.iter().map(|r| r.as_ref().len()).sum();
    let mut out = list_with_capacity(refs_length + value.length());
    for r in child_refs {
        out.extend_from_slice(r.as_ref());
    }
    value.encode(&mut out);
    out
}

fn malformed(why: impl Into<String>) -> TrieError {
    TrieError::Decode(why.into())
}

/// Splits one RLP item off `buf`: `(is_list, the whole item's bytes, its payload)`.
fn split_item<'a>(buf: &mut &'a [u8]) -> Result<(bool, &'a [u8], &'a [u8]), TrieError> {
    let start = *buf;
    let header = Header::decode(buf).map_err(|e| malformed(e.to_string()))?;
    if buf.len() < header.payload_length {
        return Err(malformed("item longer than its node"));
    }
    let (payload, rest) = buf.split_at(header.payload_length);
    *buf = rest;
    let whole = &start[..start.len() - rest.len()];
    Ok((header.list, whole, payload))
}

/// Decodes a child reference inside a node.
fn decode_child(item: (bool, &[u8], &[u8]), allow_empty: bool) -> Result<Child, TrieError> {
    match item {
        (true, whole, _) if whole.len() < 32 => Ok(Child::node(decode_node(whole)?)),
        (true, whole, _) => Err(malformed(format!(
            "inline node of {} bytes: nodes of 32 bytes or more are referenced by hash",
            whole.len()
        ))),
        (false, _, []) if allow_empty => Ok(Child::Empty),
        (false, _, payload) if payload.len() == 32 => {
            Ok(Child::Hash(payload.try_into().expect("32 bytes")))
        }
        (false, _, payload) => Err(malformed(format!(
            "child reference of {} bytes (expected a 32-byte hash or an inline node)",
            payload.len()
        ))),
    }
}

/// Decodes one node, which must span all of `bytes`.
pub(crate) fn decode_node(bytes: &[u8]) -> Result<Node, TrieError> {
    let mut buf = bytes;
    let (is_list, _, mut payload) = split_item(&mut buf)?;
    if !is_list {
        return Err(malformed("a node is an RLP list"));
    }
    if !buf.is_empty() {
        return Err(malformed("trailing bytes after the node"));
    }
    let mut items = Vec::with_capacity(17);
    while !payload.is_empty() {
        items.push(split_item(&mut payload)?);
        if items.len() > 17 {
            break;
        }
    }
    match items.len() {
        2 => {
            let (false, _, encoded_path) = items[0] else {
                return Err(malformed("node path is not a string"));
            };
            let (path, leaf) = nibbles::decode_hex_prefix(encoded_path)
                .ok_or_else(|| malformed("bad hex-prefix flag"))?;
            if leaf {
                let (false, _, value) = items[1] else {
                    return Err(malformed("leaf value is not a string"));
                };
                Ok(Node::Leaf {
                    path,
                    value: value.to_vec(),
                })
            } else {
                if path.is_empty() {
                    return Err(malformed("extension with an empty path"));
                }
                Ok(Node::Extension {
                    path,
                    child: decode_child(items[1], false)?,
                })
            }
        }
        17 => {
            let mut children: Box<[Child; 16]> = Default::default();
            for (slot, item) in children.iter_mut().zip(&items[..16]) {
                *slot = decode_child(*item, true)?;
            }
            let (false, _, value) = items[16] else {
                return Err(malformed("branch value is not a string"));
            };
            Ok(Node::Branch {
                children,
                value: (!value.is_empty()).then(|| value.to_vec()),
            })
        }
        n => Err(malformed(format!("a node has 2 or 17 items, not {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_round_trip() {
        let leaf = Node::Leaf {
            path: vec![1, 2, 3],
            value: b"value".to_vec(),
        };
        let encoded = encode_leaf(&[1, 2, 3], b"value");
        assert_eq!(decode_node(&encoded).unwrap(), leaf);

        let mut refs: [Vec<u8>; 16] = std::array::from_fn(|_| EMPTY_REF.to_vec());
        refs[3] = hash_ref(&[7; 32]).to_vec();
        refs[5] = encoded.clone();
        let branch = decode_node(&encode_branch(&refs, Some(b"v"))).unwrap();
        let Node::Branch { children, value } = branch else {
            panic!("not a branch")
        };
        assert_eq!(children[3], Child::Hash([7; 32]));
        assert_eq!(children[5], Child::node(leaf));
        assert_eq!(value.as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn malformed_nodes_are_named_errors() {
        for bad in [
            &[0x80][..],
            &[0xc0],
            &[0xc3, 0x80, 0x80, 0x80],
            &[0xc2, 0x80],
            &[0xc1],
        ] {
            assert!(
                matches!(decode_node(bad), Err(TrieError::Decode(_))),
                "{bad:?}"
            );
        }
    }
}
