//! The world state: one secure trie over the chain's suite hash, holding accounts and records.

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::Hash;
use metamesh_trie::{Keccak256, NodeStore, SecureTrie, Sm3, TrieCommit, TrieError};

use crate::{Account, Attestation, DataRecord, StateKey};

/// What can stop the state transition (never a bad transaction: those get receipts).
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

enum Tries<S: NodeStore> {
    Sm(SecureTrie<Sm3, S>),
    Eth(SecureTrie<Keccak256, S>),
}

/// Accounts and records under one root.
pub struct State<S: NodeStore> {
    trie: Tries<S>,
    suite: Suite,
}

macro_rules! each {
    ($self:expr, $t:ident => $e:expr) => {
        match &$self.trie {
            Tries::Sm($t) => $e,
            Tries::Eth($t) => $e,
        }
    };
    (mut $self:expr, $t:ident => $e:expr) => {
        match &mut $self.trie {
            Tries::Sm($t) => $e,
            Tries::Eth($t) => $e,
        }
    };
}

impl<S: NodeStore> State<S> {
    /// The state under a committed root (the empty root for a new chain).
    pub fn open(suite: Suite, store: S, root: Hash) -> Self {
        let trie = match suite {
            Suite::Sm => Tries::Sm(SecureTrie::open(store, root)),
            Suite::Eth => Tries::Eth(SecureTrie::open(store, root)),
        };
        State { trie, suite }
    }

    pub fn empty(suite: Suite, store: S) -> Self {
        let root = match suite {
            Suite::Sm => <Sm3 as metamesh_trie::TrieHasher>::empty_root(),
            Suite::Eth => <Keccak256 as metamesh_trie::TrieHasher>::empty_root(),
        };
        Self::open(suite, store, root)
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The raw RLP stored under `key`.
    pub fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        let k = key.to_bytes();
        Ok(each!(self, t => t.get(&k))?)
    }

    fn set(&mut self, key: &StateKey, value: &[u8]) -> Result<(), StateError> {
        let k = key.to_bytes();
        Ok(each!(mut self, t => t.insert(&k, value))?)
    }

    fn corrupt(what: &'static str, key: &StateKey, e: alloy_rlp::Error) -> StateError {
        StateError::Corrupt {
            what,
            key: format!("0x{}", hex::encode(key.to_bytes())),
            reason: e.to_string(),
        }
    }

    /// An account; absent accounts are empty.
    pub fn account(&self, address: &Address) -> Result<Account, StateError> {
        let key = StateKey::Account(*address);
        match self.get(&key)? {
            None => Ok(Account::default()),
            Some(raw) => Account::decode(&raw).map_err(|e| Self::corrupt("account", &key, e)),
        }
    }

    pub fn set_account(&mut self, address: &Address, account: &Account) -> Result<(), StateError> {
        self.set(&StateKey::Account(*address), &account.encode())
    }

    pub fn data(&self, digest: &Hash) -> Result<Option<DataRecord>, StateError> {
        let key = StateKey::Data(*digest);
        self.get(&key)?
            .map(|raw| DataRecord::decode(&raw).map_err(|e| Self::corrupt("data record", &key, e)))
            .transpose()
    }

    pub fn set_data(&mut self, digest: &Hash, record: &DataRecord) -> Result<(), StateError> {
        self.set(&StateKey::Data(*digest), &record.encode())
    }

    pub fn attestation(&self, digest: &Hash) -> Result<Option<Attestation>, StateError> {
        let key = StateKey::Attestation(*digest);
        self.get(&key)?
            .map(|raw| Attestation::decode(&raw).map_err(|e| Self::corrupt("attestation", &key, e)))
            .transpose()
    }

    pub fn set_attestation(
        &mut self,
        digest: &Hash,
        record: &Attestation,
    ) -> Result<(), StateError> {
        self.set(&StateKey::Attestation(*digest), &record.encode())
    }

    /// A storage-market record under `key`.
    pub fn record<T: crate::Record>(&self, key: &StateKey) -> Result<Option<T>, StateError> {
        self.get(key)?
            .map(|raw| T::decode(&raw).map_err(|e| Self::corrupt(T::WHAT, key, e)))
            .transpose()
    }

    pub fn set_record<T: crate::Record>(
        &mut self,
        key: &StateKey,
        value: &T,
    ) -> Result<(), StateError> {
        self.set(key, &value.encode())
    }

    /// The root the state would commit to now.
    pub fn root(&self) -> Hash {
        each!(self, t => t.root_hash())
    }

    pub fn commit(&mut self) -> TrieCommit {
        each!(mut self, t => t.commit())
    }

    /// The trie path of a key: `H(key)`.
    pub fn trie_key(&self, key: &StateKey) -> Hash {
        self.suite.hash(&key.to_bytes())
    }

    /// The EIP-1186-shaped proof of `key` under the committed root.
    pub fn prove(&self, key: &StateKey) -> Result<Vec<Vec<u8>>, StateError> {
        let k = key.to_bytes();
        Ok(each!(self, t => t.prove(&k))?)
    }
}
