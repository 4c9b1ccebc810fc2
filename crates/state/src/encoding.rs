//! RLP of receipts and events, and the ordered-trie roots a header commits to.
//!
//! ```text
//! receipt = rlp([tx_hash, status (0 applied | 1 rejected), reason, [event, …]])
//! event   = rlp([type, …fields])  0 Transfer [from, to, amount]  1 Fee [from, sealer, amount]
//!           2 DataRegistered [digest, owner]  3 Attested [digest, owner, kind]
//!           4 SealReward [sealer, amount]
//! transactions_root = root of the trie { rlp(i) → rlp(tx_i) }, receipts_root likewise
//! ```

use alloy_rlp::Encodable;
use metamesh_crypto::Suite;
use metamesh_primitives::{Hash, SignedTransaction, rlp::encode_list as list};
use metamesh_trie::{Keccak256, MemoryStore, Sm3, Trie, TrieHasher};

use crate::{Event, Receipt};

impl Event {
    pub const TRANSFER: u8 = 0;
    pub const FEE: u8 = 1;
    pub const DATA_REGISTERED: u8 = 2;
    pub const ATTESTED: u8 = 3;
    pub const SEAL_REWARD: u8 = 4;

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut p = Vec::new();
        match self {
            Event::Transfer { from, to, amount } => {
                Self::TRANSFER.encode(&mut p);
                from.0.encode(&mut p);
                to.0.encode(&mut p);
                amount.0.encode(&mut p);
            }
            Event::Fee {
                from,
                sealer,
                amount,
            } => {
                Self::FEE.encode(&mut p);
                from.0.encode(&mut p);
                sealer.0.encode(&mut p);
                amount.0.encode(&mut p);
            }
            Event::DataRegistered { digest, owner } => {
                Self::DATA_REGISTERED.encode(&mut p);
                digest.encode(&mut p);
                owner.0.encode(&mut p);
            }
            Event::Attested {
                digest,
                owner,
                kind,
            } => {
                Self::ATTESTED.encode(&mut p);
                digest.encode(&mut p);
                owner.0.encode(&mut p);
                (*kind as u8).encode(&mut p);
            }
            Event::SealReward { sealer, amount } => {
                Self::SEAL_REWARD.encode(&mut p);
                sealer.0.encode(&mut p);
                amount.0.encode(&mut p);
            }
        }
        list(&p, out);
    }
}

impl Receipt {
    pub fn to_rlp(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.tx_hash.encode(&mut p);
        let (status, reason) = match &self.outcome {
            Ok(()) => (0u8, ""),
            Err(reason) => (1u8, reason.as_str()),
        };
        status.encode(&mut p);
        reason.as_bytes().encode(&mut p);
        let mut events = Vec::new();
        for e in &self.events {
            e.encode(&mut events);
        }
        list(&events, &mut p);
        let mut out = Vec::new();
        list(&p, &mut out);
        out
    }
}

fn ordered_root<H: TrieHasher>(items: impl Iterator<Item = Vec<u8>>) -> Hash {
    let store = MemoryStore::new();
    let mut trie = Trie::<H, _>::new(&store);
    for (i, item) in items.enumerate() {
        let key = alloy_rlp::encode(i as u64);
        trie.insert(&key, &item)
            .expect("a memory trie has every node");
    }
    trie.root_hash()
}

fn root_in(suite: Suite, items: impl Iterator<Item = Vec<u8>>) -> Hash {
    match suite {
        Suite::Sm => ordered_root::<Sm3>(items),
        Suite::Eth => ordered_root::<Keccak256>(items),
    }
}

/// The header's `transactions_root`.
pub fn transactions_root(suite: Suite, txs: &[SignedTransaction]) -> Hash {
    root_in(suite, txs.iter().map(SignedTransaction::to_rlp))
}

/// The header's `receipts_root`.
pub fn receipts_root(suite: Suite, receipts: &[Receipt]) -> Hash {
    root_in(suite, receipts.iter().map(Receipt::to_rlp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use metamesh_crypto::Address;
    use metamesh_primitives::Amount;

    #[test]
    fn roots_commit_to_order_and_content() {
        let r = |reason: Option<&str>| Receipt {
            tx_hash: [1; 32],
            outcome: reason.map_or(Ok(()), |s| Err(s.to_owned())),
            events: vec![Event::SealReward {
                sealer: Address([2; 20]),
                amount: Amount(5),
            }],
        };
        let a = receipts_root(Suite::Sm, &[r(None), r(Some("stale nonce"))]);
        let b = receipts_root(Suite::Sm, &[r(Some("stale nonce")), r(None)]);
        assert_ne!(a, b);
        assert_eq!(
            a,
            receipts_root(Suite::Sm, &[r(None), r(Some("stale nonce"))])
        );
        assert_eq!(receipts_root(Suite::Eth, &[]), Keccak256::empty_root());
        let decoded = metamesh_primitives::rlp::RlpItem::decode_exact(&r(None).to_rlp());
        assert!(decoded.is_ok(), "receipts are canonical RLP");
    }
}
