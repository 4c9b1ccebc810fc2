//! The world state: one secure trie over the chain's suite hash holding accounts and records,
//! and the ordered collections, each a plain trie whose root is a record of the main one.
//!
//! Changes stay in memory until [`State::commit`], which returns one [`TrieCommit`] for the
//! main trie and every collection together (the database stores it in the block's write).

use std::collections::BTreeMap;

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::Hash;
use metamesh_trie::{
    Keccak256, NodeStore, SecureTrie, Sm3, Trie, TrieCommit, TrieError, TrieHasher,
};

use crate::{Account, CollectionId, Record, StateKey};

/// What can stop the state transition (never a bad transaction: those get codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Trie(#[from] TrieError),
    #[error("stored {what} under {key} is unreadable: {reason}")]
    Corrupt {
        what: &'static str,
        key: String,
        reason: String,
    },
    #[error("invalid genesis: {0}")]
    Genesis(String),
}

enum Main<S: NodeStore> {
    Sm(SecureTrie<Sm3, S>),
    Eth(SecureTrie<Keccak256, S>),
}

enum Plain<S: NodeStore> {
    Sm(Trie<Sm3, S>),
    Eth(Trie<Keccak256, S>),
}

macro_rules! each {
    ($trie:expr, $t:ident => $e:expr) => {
        match $trie {
            Main::Sm($t) => $e,
            Main::Eth($t) => $e,
        }
    };
}

macro_rules! plain {
    ($trie:expr, $t:ident => $e:expr) => {
        match $trie {
            Plain::Sm($t) => $e,
            Plain::Eth($t) => $e,
        }
    };
}

/// Entries of a collection: key and value.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Accounts, records and collections under one root.
pub struct State<S: NodeStore + Clone> {
    suite: Suite,
    store: S,
    trie: Main<S>,
    /// Collections changed since the last commit.
    collections: BTreeMap<CollectionId, Plain<S>>,
}

fn empty_root(suite: Suite) -> Hash {
    match suite {
        Suite::Sm => Sm3::empty_root(),
        Suite::Eth => Keccak256::empty_root(),
    }
}

impl<S: NodeStore + Clone> State<S> {
    /// The state under a committed root (the empty root for a new chain).
    pub fn open(suite: Suite, store: S, root: Hash) -> Self {
        let trie = match suite {
            Suite::Sm => Main::Sm(SecureTrie::open(store.clone(), root)),
            Suite::Eth => Main::Eth(SecureTrie::open(store.clone(), root)),
        };
        State {
            suite,
            store,
            trie,
            collections: BTreeMap::new(),
        }
    }

    pub fn empty(suite: Suite, store: S) -> Self {
        Self::open(suite, store, empty_root(suite))
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The raw RLP stored under `key`.
    pub fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        self.get_raw(&key.to_bytes())
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(each!(&self.trie, t => t.get(key))?)
    }

    /// Writes (or, for `None`, deletes) the raw value under a key.
    pub(crate) fn put_raw(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        match value {
            Some(v) => Ok(each!(&mut self.trie, t => t.insert(key, v))?),
            None => each!(&mut self.trie, t => t.remove(key))
                .map(|_| ())
                .map_err(Into::into),
        }
    }

    pub(crate) fn corrupt(what: &'static str, key: &StateKey, reason: impl ToString) -> StateError {
        StateError::Corrupt {
            what,
            key: format!("0x{}", hex::encode(key.to_bytes())),
            reason: reason.to_string(),
        }
    }

    /// The record of type `R` named `id`.
    pub fn load<R: Record>(&self, id: &R::Id) -> Result<Option<R>, StateError> {
        let key = R::key(id);
        self.get(&key)?
            .map(|raw| R::decode(&raw).map_err(|e| Self::corrupt(R::WHAT, &key, e)))
            .transpose()
    }

    pub(crate) fn save<R: Record>(&mut self, id: &R::Id, value: &R) -> Result<(), StateError> {
        self.put_raw(&R::key(id).to_bytes(), Some(&value.encode()))
    }

    /// An account; absent accounts are empty.
    pub fn account(&self, address: &Address) -> Result<Account, StateError> {
        Ok(self.load::<Account>(address)?.unwrap_or_default())
    }

    pub(crate) fn set_account(
        &mut self,
        address: &Address,
        account: &Account,
    ) -> Result<(), StateError> {
        self.save(address, account)
    }

    /// The root of a collection as the main trie records it (or the empty root).
    fn collection_root(&self, c: CollectionId) -> Result<Hash, StateError> {
        let key = StateKey::Collection(c);
        match self.get(&key)? {
            None => Ok(empty_root(self.suite)),
            Some(raw) => raw
                .try_into()
                .map_err(|_| Self::corrupt("collection root", &key, "not 32 bytes")),
        }
    }

    fn open_plain(&self, root: Hash) -> Plain<S> {
        match self.suite {
            Suite::Sm => Plain::Sm(Trie::open(self.store.clone(), root)),
            Suite::Eth => Plain::Eth(Trie::open(self.store.clone(), root)),
        }
    }

    /// Runs `f` on the collection as it stands (with changes not yet committed).
    fn with_collection<R>(
        &self,
        c: CollectionId,
        f: impl FnOnce(&Plain<S>) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        match self.collections.get(&c) {
            Some(t) => f(t),
            None => f(&self.open_plain(self.collection_root(c)?)),
        }
    }

    /// One entry of a collection.
    pub fn entry(&self, c: CollectionId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.with_collection(c, |t| Ok(plain!(t, t => t.get(key))?))
    }

    /// Up to `limit` entries of a collection with keys ≥ `start`, in key order: O(log n + k).
    pub fn entries(
        &self,
        c: CollectionId,
        start: &[u8],
        limit: usize,
    ) -> Result<Entries, StateError> {
        self.with_collection(c, |t| {
            plain!(t, t => t.iter_from(start).take(limit).collect::<Result<Vec<_>, _>>())
                .map_err(Into::into)
        })
    }

    /// Writes (or, for `None`, deletes) an entry of a collection.
    pub(crate) fn put_entry(
        &mut self,
        c: CollectionId,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), StateError> {
        if !self.collections.contains_key(&c) {
            let trie = self.open_plain(self.collection_root(c)?);
            self.collections.insert(c, trie);
        }
        let t = self.collections.get_mut(&c).expect("just opened");
        match value {
            Some(v) => plain!(t, t => t.insert(key, v))?,
            None => {
                plain!(t, t => t.remove(key))?;
            }
        }
        Ok(())
    }

    /// Writes each changed collection's root into the main trie (so `root` covers it).
    fn flush(&mut self) -> Result<(), StateError> {
        let roots: Vec<(CollectionId, Hash)> = self
            .collections
            .iter()
            .map(|(c, t)| (*c, plain!(t, t => t.root_hash())))
            .collect();
        let empty = empty_root(self.suite);
        for (c, root) in roots {
            let key = StateKey::Collection(c).to_bytes();
            let value = (root != empty).then_some(root);
            self.put_raw(&key, value.as_ref().map(|r| r.as_slice()))?;
        }
        Ok(())
    }

    /// The root the state would commit to now.
    pub fn root(&mut self) -> Result<Hash, StateError> {
        self.flush()?;
        Ok(each!(&self.trie, t => t.root_hash()))
    }

    /// Commits the main trie and every changed collection as one set of new nodes.
    pub fn commit(&mut self) -> Result<TrieCommit, StateError> {
        self.flush()?;
        let mut extra = TrieCommit::default();
        for (_, mut t) in std::mem::take(&mut self.collections) {
            let c = plain!(&mut t, t => t.commit());
            extra.nodes.extend(c.nodes);
            extra.removed.extend(c.removed);
        }
        let mut commit = each!(&mut self.trie, t => t.commit());
        commit.nodes.extend(extra.nodes);
        commit.removed.extend(extra.removed);
        Ok(commit)
    }

    /// The trie path of a key: `H(key)`.
    pub fn trie_key(&self, key: &StateKey) -> Hash {
        self.suite.hash(&key.to_bytes())
    }

    /// The EIP-1186-shaped proof of `key` under the committed root.
    pub fn prove(&self, key: &StateKey) -> Result<Vec<Vec<u8>>, StateError> {
        let k = key.to_bytes();
        Ok(each!(&self.trie, t => t.prove(&k))?)
    }

    /// The proof of a collection entry under the collection's committed root (which
    /// [`Self::prove`] of `StateKey::Collection` proves under the state root).
    pub fn prove_entry(&self, c: CollectionId, key: &[u8]) -> Result<Vec<Vec<u8>>, StateError> {
        let trie = self.open_plain(self.collection_root(c)?);
        Ok(plain!(&trie, t => t.prove(key))?)
    }
}
