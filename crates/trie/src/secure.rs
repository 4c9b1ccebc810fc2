//! The secure trie: keys are hashed before they enter the trie, so paths have a fixed length
//! and an attacker cannot build deep paths by choosing keys. World state uses it.

use crate::{H256, NodeStore, ProofError, Trie, TrieCommit, TrieError, TrieHasher, TrieIter};

/// The path a secure trie stores `key` under.
pub fn secure_key<H: TrieHasher>(key: &[u8]) -> H256 {
    H::hash(key)
}

/// A [`Trie`] whose keys are `H(key)`. Iteration yields hashed keys.
pub struct SecureTrie<H: TrieHasher, S: NodeStore> {
    inner: Trie<H, S>,
}

impl<H: TrieHasher, S: NodeStore> SecureTrie<H, S> {
    pub fn new(store: S) -> Self {
        SecureTrie {
            inner: Trie::new(store),
        }
    }

    pub fn open(store: S, root: H256) -> Self {
        SecureTrie {
            inner: Trie::open(store, root),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.inner.get(&secure_key::<H>(key))
    }

    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), TrieError> {
        self.inner.insert(&secure_key::<H>(key), value)
    }

    pub fn remove(&mut self, key: &[u8]) -> Result<bool, TrieError> {
        self.inner.remove(&secure_key::<H>(key))
    }

    pub fn commit(&mut self) -> TrieCommit {
        self.inner.commit()
    }

    pub fn root_hash(&self) -> H256 {
        self.inner.root_hash()
    }

    pub fn prove(&self, key: &[u8]) -> Result<Vec<Vec<u8>>, TrieError> {
        self.inner.prove(&secure_key::<H>(key))
    }

    /// Entries as `(H(key), value)` from the hashed key `start`.
    pub fn iter_from(&self, start: &[u8]) -> TrieIter<'_, H, S> {
        self.inner.iter_from(start)
    }

    pub fn inner(&self) -> &Trie<H, S> {
        &self.inner
    }
}

/// [`crate::verify_proof`] for a secure trie's key.
pub fn verify_secure_proof<H: TrieHasher>(
    root: &H256,
    key: &[u8],
    proof: &[Vec<u8>],
) -> Result<Option<Vec<u8>>, ProofError> {
    crate::verify_proof::<H>(root, &secure_key::<H>(key), proof)
}
