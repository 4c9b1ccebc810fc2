//! Votes a signer wants to cast (`clique_propose` / `clique_discard`), one per sealed block.

use std::collections::BTreeMap;

use metamesh_crypto::Address;
use metamesh_primitives::Hash;

use crate::Snapshot;

/// The local signer's standing proposals: address → authorize (true) or drop (false).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proposals {
    pending: BTreeMap<Address, bool>,
}

impl Proposals {
    pub fn propose(&mut self, address: Address, authorize: bool) {
        self.pending.insert(address, authorize);
    }

    /// Withdraws a proposal; true if there was one.
    pub fn discard(&mut self, address: &Address) -> bool {
        self.pending.remove(address).is_some()
    }

    pub fn list(&self) -> &BTreeMap<Address, bool> {
        &self.pending
    }

    /// The vote to put in the next block: among proposals that still make sense against
    /// `snap`, one chosen from the parent hash, so every replay of the chain picks the same.
    pub fn choose(&self, snap: &Snapshot, parent_hash: &Hash) -> Option<(Address, bool)> {
        let valid: Vec<(Address, bool)> = self
            .pending
            .iter()
            .filter(|(a, auth)| snap.valid_vote(a, **auth))
            .map(|(a, auth)| (*a, *auth))
            .collect();
        if valid.is_empty() {
            return None;
        }
        let seed = u64::from_be_bytes(parent_hash[..8].try_into().expect("8 bytes"));
        Some(valid[(seed % valid.len() as u64) as usize])
    }

    /// Drops proposals that have come true (the address is in, or out, as proposed).
    pub fn prune_enacted(&mut self, snap: &Snapshot) {
        self.pending.retain(|a, auth| snap.valid_vote(a, *auth));
    }
}
