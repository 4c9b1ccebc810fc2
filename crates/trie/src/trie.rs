//! The mutable trie: get, insert, remove and a batched commit.

use std::marker::PhantomData;

use crate::{
    H256, NodeStore, TrieError, TrieHasher,
    nibbles::{self, common_prefix},
    node::{self, Child, EMPTY_REF, Node, hash_ref},
};

/// What a commit produced: the root it started from, the new root, the nodes to store
/// (hash → RLP), and the stored nodes that the new root no longer reaches through the changed
/// paths (for reference-counted pruning; each occurrence once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrieCommit {
    pub parent: H256,
    pub root: H256,
    pub nodes: Vec<(H256, Vec<u8>)>,
    pub removed: Vec<H256>,
}

/// A Merkle Patricia Trie over a [`NodeStore`], hashed with `H`.
///
/// Changes stay in memory until [`Trie::commit`], which returns the new root and nodes; the
/// caller must write those nodes to the store before reading through the trie again. If the
/// store fails mid-operation, the trie returns to its last committed root (uncommitted changes
/// are dropped) so it never holds a half-applied change.
pub struct Trie<H: TrieHasher, S: NodeStore> {
    pub(crate) root: Child,
    committed_root: H256,
    pub(crate) store: S,
    removed: Vec<H256>,
    _hasher: PhantomData<H>,
}

impl<H: TrieHasher, S: NodeStore> Trie<H, S> {
    /// An empty trie.
    pub fn new(store: S) -> Self {
        Self::open(store, H::empty_root())
    }

    /// The trie under a committed root. Nodes are read lazily; a root that is not in the store
    /// shows up as [`TrieError::MissingNode`] on first access.
    pub fn open(store: S, root: H256) -> Self {
        Trie {
            root: Self::root_child(root),
            committed_root: root,
            store,
            removed: Vec::new(),
            _hasher: PhantomData,
        }
    }

    fn root_child(root: H256) -> Child {
        if root == H::empty_root() {
            Child::Empty
        } else {
            Child::Hash(root)
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The root of the last commit (or of `open`).
    pub fn committed_root(&self) -> H256 {
        self.committed_root
    }

    /// True when there are changes not yet committed.
    pub fn is_dirty(&self) -> bool {
        !self.removed.is_empty() || self.root != Self::root_child(self.committed_root)
    }

    pub(crate) fn load(&self, hash: &H256) -> Result<Node, TrieError> {
        let mut decoded = None;
        if !self
            .store
            .read_node(hash, &mut |bytes| decoded = Some(node::decode_node(bytes)))?
        {
            return Err(TrieError::MissingNode(*hash));
        }
        decoded.expect("read_node called back")
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.lookup(&self.root, &nibbles::from_bytes(key))
    }

    fn lookup(&self, child: &Child, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        match child {
            Child::Empty => Ok(None),
            Child::Hash(h) => self.lookup_node(&self.load(h)?, path),
            Child::Node(n) => self.lookup_node(n, path),
        }
    }

    fn lookup_node(&self, node: &Node, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        match node {
            Node::Leaf { path: p, value } => Ok((p.as_slice() == path).then(|| value.clone())),
            Node::Extension { path: p, child } => match path.strip_prefix(p.as_slice()) {
                Some(rest) => self.lookup(child, rest),
                None => Ok(None),
            },
            Node::Branch { children, value } => match path.split_first() {
                None => Ok(value.clone()),
                Some((i, rest)) => self.lookup(&children[*i as usize], rest),
            },
        }
    }

    /// Sets `key` to `value`; an empty value removes the key, as in Ethereum.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove(key).map(|_| ());
        }
        let path = nibbles::from_bytes(key);
        let mut root = std::mem::take(&mut self.root);
        let outcome = self.insert_at(&mut root, &path, value.to_vec());
        self.root = root;
        outcome.map_err(|e| self.reset(e))
    }

    /// Removes `key`; true if it was present.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool, TrieError> {
        let path = nibbles::from_bytes(key);
        let root = std::mem::take(&mut self.root);
        match self.remove_at(root, &path) {
            Ok((root, removed)) => {
                self.root = root;
                Ok(removed)
            }
            Err(e) => Err(self.reset(e)),
        }
    }

    fn reset(&mut self, e: TrieError) -> TrieError {
        self.root = Self::root_child(self.committed_root);
        self.removed.clear();
        e
    }

    /// Takes a child for modification: a stored node is loaded and noted as replaced.
    fn take_node(&mut self, child: Child) -> Result<Option<Node>, TrieError> {
        match child {
            Child::Empty => Ok(None),
            Child::Hash(h) => {
                let node = self.load(&h)?;
                self.removed.push(h);
                Ok(Some(node))
            }
            Child::Node(n) => Ok(Some(*n)),
        }
    }

    /// Inserts below `slot`, changing nodes in place: an insert touches one path, and
    /// rebuilding every node on it would cost an allocation per level.
    fn insert_at(
        &mut self,
        slot: &mut Child,
        path: &[u8],
        value: Vec<u8>,
    ) -> Result<(), TrieError> {
        if let Child::Hash(h) = slot {
            let h = *h;
            let node = self.load(&h)?;
            self.removed.push(h);
            *slot = Child::node(node);
        }
        match slot {
            Child::Empty => {
                *slot = Child::node(Node::Leaf {
                    path: path.to_vec(),
                    value,
                });
                Ok(())
            }
            Child::Node(node) => self.insert_node(node, path, value),
            Child::Hash(_) => unreachable!("loaded above"),
        }
    }

    fn insert_node(
        &mut self,
        node: &mut Node,
        path: &[u8],
        value: Vec<u8>,
    ) -> Result<(), TrieError> {
        match node {
            Node::Branch {
                children,
                value: bv,
            } => match path.split_first() {
                None => {
                    *bv = Some(value);
                    Ok(())
                }
                Some((i, rest)) => self.insert_at(&mut children[*i as usize], rest, value),
            },
            Node::Leaf {
                path: lp,
                value: lv,
            } if lp.as_slice() == path => {
                *lv = value;
                Ok(())
            }
            Node::Extension { path: ep, child } if path.starts_with(ep) => {
                let rest = &path[ep.len()..];
                self.insert_at(child, rest, value)
            }
            _ => {
                let old = std::mem::replace(node, PLACEHOLDER);
                *node = split(old, path, value);
                Ok(())
            }
        }
    }

    fn remove_at(&mut self, child: Child, path: &[u8]) -> Result<(Child, bool), TrieError> {
        match child {
            Child::Empty => Ok((Child::Empty, false)),
            Child::Hash(h) => {
                let (new, removed) = self.remove_node(self.load(&h)?, path)?;
                if removed {
                    self.removed.push(h);
                    Ok((new, true))
                } else {
                    Ok((Child::Hash(h), false))
                }
            }
            Child::Node(n) => self.remove_node(*n, path),
        }
    }

    fn remove_node(&mut self, node: Node, path: &[u8]) -> Result<(Child, bool), TrieError> {
        match node {
            Node::Leaf { path: lp, value } => {
                if lp == path {
                    Ok((Child::Empty, true))
                } else {
                    Ok((Child::node(Node::Leaf { path: lp, value }), false))
                }
            }
            Node::Extension { path: ep, child } => {
                let Some(rest) = path.strip_prefix(ep.as_slice()) else {
                    return Ok((Child::node(Node::Extension { path: ep, child }), false));
                };
                let (child, removed) = self.remove_at(child, rest)?;
                if !removed {
                    return Ok((Child::node(Node::Extension { path: ep, child }), false));
                }
                Ok((join_path(ep, child), true))
            }
            Node::Branch {
                mut children,
                mut value,
            } => {
                match path.split_first() {
                    None if value.is_none() => {
                        return Ok((Child::node(Node::Branch { children, value }), false));
                    }
                    None => value = None,
                    Some((i, rest)) => {
                        let slot = std::mem::take(&mut children[*i as usize]);
                        let (new, removed) = self.remove_at(slot, rest)?;
                        children[*i as usize] = new;
                        if !removed {
                            return Ok((Child::node(Node::Branch { children, value }), false));
                        }
                    }
                }
                Ok((self.normalize_branch(children, value)?, true))
            }
        }
    }

    /// After a removal a branch with one entry left folds into its neighbour.
    fn normalize_branch(
        &mut self,
        mut children: Box<[Child; 16]>,
        value: Option<Vec<u8>>,
    ) -> Result<Child, TrieError> {
        let mut occupied = children.iter().enumerate().filter(|(_, c)| !c.is_empty());
        let first = occupied.next().map(|(i, _)| i);
        let more = occupied.next().is_some();
        match (first, more, value) {
            (None, _, None) => Ok(Child::Empty),
            (None, _, Some(value)) => Ok(Child::node(Node::Leaf {
                path: Vec::new(),
                value,
            })),
            (Some(i), false, None) => {
                let only = std::mem::take(&mut children[i]);
                // A stored branch below keeps its hash: only the new extension above it changes.
                if let Child::Hash(h) = &only
                    && matches!(self.load(h)?, Node::Branch { .. })
                {
                    return Ok(Child::node(Node::Extension {
                        path: vec![i as u8],
                        child: only,
                    }));
                }
                let node = self.take_node(only)?.expect("occupied slot");
                Ok(join_path(vec![i as u8], Child::node(node)))
            }
            (Some(_), _, value) => Ok(Child::node(Node::Branch { children, value })),
        }
    }

    /// Encodes every changed node, hashes those of 32 bytes or more, and returns them with the
    /// new root. The trie then refers to them by hash: store `nodes` before using it again.
    pub fn commit(&mut self) -> TrieCommit {
        let mut nodes = Vec::new();
        let root = match &mut self.root {
            Child::Empty => H::empty_root(),
            Child::Hash(h) => *h,
            Child::Node(node) => {
                let encoded = encode_committing::<H>(node, &mut nodes);
                let hash = H::hash(&encoded);
                nodes.push((hash, encoded));
                hash
            }
        };
        self.root = Self::root_child(root);
        let parent = std::mem::replace(&mut self.committed_root, root);
        TrieCommit {
            parent,
            root,
            nodes,
            removed: std::mem::take(&mut self.removed),
        }
    }

    /// The root the trie would have if committed now, without changing it.
    pub fn root_hash(&self) -> H256 {
        match &self.root {
            Child::Empty => H::empty_root(),
            Child::Hash(h) => *h,
            Child::Node(node) => H::hash(&encode_preview::<H>(node)),
        }
    }
}

/// Stands in a slot for the moment a node is rebuilt; never committed.
const PLACEHOLDER: Node = Node::Leaf {
    path: Vec::new(),
    value: Vec::new(),
};

/// Splits a leaf or extension whose path diverges from `path` into a branch (under an
/// extension for the shared prefix) holding both.
fn split(old: Node, path: &[u8], value: Vec<u8>) -> Node {
    let mut children: Box<[Child; 16]> = Default::default();
    let mut branch_value = None;
    match old {
        Node::Leaf {
            path: lp,
            value: lv,
        } => {
            let c = common_prefix(&lp, path);
            place(&mut children, &mut branch_value, &lp[c..], lv);
            place(&mut children, &mut branch_value, &path[c..], value);
            with_prefix(&path[..c], children, branch_value)
        }
        Node::Extension { path: ep, child } => {
            let c = common_prefix(&ep, path);
            let rest = &ep[c + 1..];
            children[ep[c] as usize] = if rest.is_empty() {
                child
            } else {
                Child::node(Node::Extension {
                    path: rest.to_vec(),
                    child,
                })
            };
            place(&mut children, &mut branch_value, &path[c..], value);
            with_prefix(&ep[..c], children, branch_value)
        }
        Node::Branch { .. } => unreachable!("branches never split"),
    }
}

fn place(
    children: &mut [Child; 16],
    branch_value: &mut Option<Vec<u8>>,
    suffix: &[u8],
    value: Vec<u8>,
) {
    match suffix.split_first() {
        None => *branch_value = Some(value),
        Some((i, rest)) => {
            children[*i as usize] = Child::node(Node::Leaf {
                path: rest.to_vec(),
                value,
            })
        }
    }
}

fn with_prefix(prefix: &[u8], children: Box<[Child; 16]>, value: Option<Vec<u8>>) -> Node {
    let branch = Node::Branch { children, value };
    if prefix.is_empty() {
        branch
    } else {
        Node::Extension {
            path: prefix.to_vec(),
            child: Child::node(branch),
        }
    }
}

/// Puts `prefix` in front of a (changed) child: paths of leaves and extensions merge.
fn join_path(mut prefix: Vec<u8>, child: Child) -> Child {
    match child {
        Child::Empty => Child::Empty,
        Child::Node(node) => match *node {
            Node::Leaf { path, value } => {
                prefix.extend(path);
                Child::node(Node::Leaf {
                    path: prefix,
                    value,
                })
            }
            Node::Extension { path, child } => {
                prefix.extend(path);
                Child::node(Node::Extension {
                    path: prefix,
                    child,
                })
            }
            branch => Child::node(Node::Extension {
                path: prefix,
                child: Child::Node(Box::new(branch)),
            }),
        },
        hash @ Child::Hash(_) => Child::node(Node::Extension {
            path: prefix,
            child: hash,
        }),
    }
}

/// The bytes a committed child contributes to its parent; hashed children are collected and
/// the slot is replaced by their hash.
fn commit_child<H: TrieHasher>(child: &mut Child, nodes: &mut Vec<(H256, Vec<u8>)>) -> ChildRef {
    match child {
        Child::Empty => ChildRef::Empty,
        Child::Hash(h) => ChildRef::Hash(hash_ref(h)),
        Child::Node(node) => {
            let encoded = encode_committing::<H>(node, nodes);
            if encoded.len() < 32 {
                ChildRef::Inline(encoded)
            } else {
                let hash = H::hash(&encoded);
                nodes.push((hash, encoded));
                *child = Child::Hash(hash);
                ChildRef::Hash(hash_ref(&hash))
            }
        }
    }
}

enum ChildRef {
    Empty,
    Hash([u8; 33]),
    Inline(Vec<u8>),
}

impl AsRef<[u8]> for ChildRef {
    fn as_ref(&self) -> &[u8] {
        match self {
            ChildRef::Empty => &EMPTY_REF,
            ChildRef::Hash(h) => h,
            ChildRef::Inline(v) => v,
        }
    }
}

fn encode_committing<H: TrieHasher>(node: &mut Node, nodes: &mut Vec<(H256, Vec<u8>)>) -> Vec<u8> {
    match node {
        Node::Leaf { path, value } => node::encode_leaf(path, value),
        Node::Extension { path, child } => {
            let r = commit_child::<H>(child, nodes);
            node::encode_extension(path, r.as_ref())
        }
        Node::Branch { children, value } => {
            let refs = children.each_mut().map(|c| commit_child::<H>(c, nodes));
            node::encode_branch(&refs, value.as_deref())
        }
    }
}

/// Like [`encode_committing`] but leaves the trie as it is.
fn encode_preview<H: TrieHasher>(node: &Node) -> Vec<u8> {
    let child_ref = |child: &Child| match child {
        Child::Empty => ChildRef::Empty,
        Child::Hash(h) => ChildRef::Hash(hash_ref(h)),
        Child::Node(n) => {
            let encoded = encode_preview::<H>(n);
            if encoded.len() < 32 {
                ChildRef::Inline(encoded)
            } else {
                ChildRef::Hash(hash_ref(&H::hash(&encoded)))
            }
        }
    };
    match node {
        Node::Leaf { path, value } => node::encode_leaf(path, value),
        Node::Extension { path, child } => node::encode_extension(path, child_ref(child).as_ref()),
        Node::Branch { children, value } => {
            let refs = children.each_ref().map(child_ref);
            node::encode_branch(&refs, value.as_deref())
        }
    }
}
