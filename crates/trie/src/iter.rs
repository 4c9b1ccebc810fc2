//! In-order iteration from a start key, skipping whole subtrees that lie before it.

use std::borrow::Cow;

use crate::{
    NodeStore, Trie, TrieError, TrieHasher, nibbles,
    node::{Child, Node},
};

enum Work<'a> {
    Child(Cow<'a, Child>, Vec<u8>),
    Entry(Vec<u8>, Vec<u8>),
}

/// Iterator over `(key, value)` in key order; yields an error (once) if the store fails.
pub struct TrieIter<'a, H: TrieHasher, S: NodeStore> {
    trie: &'a Trie<H, S>,
    start: Vec<u8>,
    stack: Vec<Work<'a>>,
}

/// Can the subtree under `prefix` hold a key ≥ `start`?
fn may_reach(prefix: &[u8], start: &[u8]) -> bool {
    let n = prefix.len().min(start.len());
    prefix[..n] >= start[..n]
}

fn joined(prefix: &[u8], more: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + more.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(more);
    out
}

impl<'a, H: TrieHasher, S: NodeStore> TrieIter<'a, H, S> {
    pub(crate) fn new(trie: &'a Trie<H, S>, start: &[u8]) -> Self {
        TrieIter {
            trie,
            start: nibbles::from_bytes(start),
            stack: vec![Work::Child(Cow::Borrowed(&trie.root), Vec::new())],
        }
    }

    fn expand(&mut self, node: Cow<'a, Node>, prefix: Vec<u8>) {
        match node {
            Cow::Borrowed(node) => self.expand_borrowed(node, prefix),
            Cow::Owned(node) => self.expand_owned(node, prefix),
        }
    }

    fn expand_borrowed(&mut self, node: &'a Node, prefix: Vec<u8>) {
        match node {
            Node::Leaf { path, value } => self.push_entry(joined(&prefix, path), value.clone()),
            Node::Extension { path, child } => {
                self.push_child(Cow::Borrowed(child), joined(&prefix, path))
            }
            Node::Branch { children, value } => {
                for (i, child) in children.iter().enumerate().rev() {
                    if !child.is_empty() {
                        self.push_child(Cow::Borrowed(child), joined(&prefix, &[i as u8]));
                    }
                }
                if let Some(v) = value {
                    self.push_entry(prefix, v.clone());
                }
            }
        }
    }

    fn expand_owned(&mut self, node: Node, prefix: Vec<u8>) {
        match node {
            Node::Leaf { path, value } => self.push_entry(joined(&prefix, &path), value),
            Node::Extension { path, child } => {
                self.push_child(Cow::Owned(child), joined(&prefix, &path))
            }
            Node::Branch { children, value } => {
                for (i, child) in children.into_iter().enumerate().rev() {
                    if !child.is_empty() {
                        self.push_child(Cow::Owned(child), joined(&prefix, &[i as u8]));
                    }
                }
                if let Some(v) = value {
                    self.push_entry(prefix, v);
                }
            }
        }
    }

    /// Stops the iteration after a store error.
    fn fail(&mut self, e: TrieError) -> TrieError {
        self.stack.clear();
        e
    }

    fn push_child(&mut self, child: Cow<'a, Child>, prefix: Vec<u8>) {
        if may_reach(&prefix, &self.start) {
            self.stack.push(Work::Child(child, prefix));
        }
    }

    fn push_entry(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if key >= self.start {
            self.stack.push(Work::Entry(key, value));
        }
    }
}

impl<H: TrieHasher, S: NodeStore> Iterator for TrieIter<'_, H, S> {
    type Item = Result<(Vec<u8>, Vec<u8>), TrieError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(work) = self.stack.pop() {
            match work {
                Work::Entry(key, value) => return Some(Ok((nibbles::to_bytes(&key), value))),
                Work::Child(child, prefix) => {
                    let node = match child {
                        Cow::Borrowed(Child::Node(n)) => Cow::Borrowed(&**n),
                        Cow::Owned(Child::Node(n)) => Cow::Owned(*n),
                        Cow::Borrowed(Child::Hash(h)) => match self.trie.load(h) {
                            Ok(node) => Cow::Owned(node),
                            Err(e) => return Some(Err(self.fail(e))),
                        },
                        Cow::Owned(Child::Hash(h)) => match self.trie.load(&h) {
                            Ok(node) => Cow::Owned(node),
                            Err(e) => return Some(Err(self.fail(e))),
                        },
                        Cow::Borrowed(Child::Empty) | Cow::Owned(Child::Empty) => continue,
                    };
                    self.expand(node, prefix);
                }
            }
        }
        None
    }
}

impl<H: TrieHasher, S: NodeStore> Trie<H, S> {
    /// Entries with key ≥ `start`, in key order (including uncommitted changes).
    pub fn iter_from(&self, start: &[u8]) -> TrieIter<'_, H, S> {
        TrieIter::new(self, start)
    }

    /// All entries in key order.
    pub fn iter(&self) -> TrieIter<'_, H, S> {
        self.iter_from(&[])
    }
}
