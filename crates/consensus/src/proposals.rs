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

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(b: u8) -> Address {
        Address([b; 20])
    }

    #[test]
    fn choice_is_valid_deterministic_and_withdrawable() {
        let snap = Snapshot::new(0, [0; 32], [addr(1), addr(2)]).unwrap();
        let mut p = Proposals::default();
        p.propose(addr(1), true); // already a signer: makes no sense, never chosen
        assert_eq!(p.choose(&snap, &[0; 32]), None);
        p.propose(addr(3), true);
        p.propose(addr(2), false);
        let first = p.choose(&snap, &[7; 32]);
        assert!(matches!(first, Some((a, _)) if a == addr(3) || a == addr(2)));
        assert_eq!(p.choose(&snap, &[7; 32]), first, "same parent, same choice");
        let picks: BTreeMap<_, _> = (0u8..32)
            .filter_map(|i| p.choose(&snap, &[i; 32]))
            .collect();
        assert_eq!(
            picks.len(),
            2,
            "both valid proposals get their turn across parents"
        );
        assert!(p.discard(&addr(3)));
        assert!(!p.discard(&addr(3)));
        assert_eq!(p.choose(&snap, &[7; 32]), Some((addr(2), false)));
        p.prune_enacted(&Snapshot::new(1, [1; 32], [addr(1)]).unwrap());
        assert!(p.list().is_empty());
    }
}
