//! RLP of receipts and events, and the ordered-trie roots a header commits to.
//!
//! ```text
//! receipt = rlp([tx_hash, status (0 applied | 1 rejected), reason, [event, …]])
//! event   = rlp([type, …fields])  0 Transfer [from, to, amount]  1 Fee [from, sealer, amount]
//!           2 DataRegistered [digest, owner]  3 Attested [digest, owner, kind]
//!           4 SealReward [sealer, amount]
//! transactions_root = root of the trie { rlp(i) → rlp(tx_i) }, receipts_root likewise
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_crypto::Suite;
use metamesh_primitives::{
    Amount, Hash, SignedTransaction, WorkKind,
    rlp::{decode_list, decode_text, encode_list as list, finish_list},
};
use metamesh_trie::{Keccak256, MemoryStore, Sm3, Trie, TrieHasher};

use crate::{Event, Receipt};

impl Event {
    pub const TRANSFER: u8 = 0;
    pub const FEE: u8 = 1;
    pub const DATA_REGISTERED: u8 = 2;
    pub const ATTESTED: u8 = 3;
    pub const SEAL_REWARD: u8 = 4;
    pub const KEY_SHARED: u8 = 5;
    pub const STORAGE_OFFERED: u8 = 6;
    pub const DEAL_OPENED: u8 = 7;
    pub const DEAL_ACCEPTED: u8 = 8;
    pub const STORAGE_PROVED: u8 = 9;
    pub const CHALLENGE_MISSED: u8 = 10;
    pub const DEAL_ENDED: u8 = 11;

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
            Event::KeyShared { granter, recipient } => {
                Self::KEY_SHARED.encode(&mut p);
                granter.0.encode(&mut p);
                recipient.0.encode(&mut p);
            }
            Event::StorageOffered { provider } => {
                Self::STORAGE_OFFERED.encode(&mut p);
                provider.0.encode(&mut p);
            }
            Event::DealOpened {
                deal,
                owner,
                escrow,
            } => {
                Self::DEAL_OPENED.encode(&mut p);
                deal.encode(&mut p);
                owner.0.encode(&mut p);
                escrow.0.encode(&mut p);
            }
            Event::DealAccepted { deal, provider } => {
                Self::DEAL_ACCEPTED.encode(&mut p);
                deal.encode(&mut p);
                provider.0.encode(&mut p);
            }
            Event::StorageProved {
                deal,
                provider,
                epoch,
                paid,
                reward,
            } => {
                Self::STORAGE_PROVED.encode(&mut p);
                deal.encode(&mut p);
                provider.0.encode(&mut p);
                epoch.encode(&mut p);
                paid.0.encode(&mut p);
                reward.0.encode(&mut p);
            }
            Event::ChallengeMissed {
                deal,
                provider,
                epoch,
            } => {
                Self::CHALLENGE_MISSED.encode(&mut p);
                deal.encode(&mut p);
                provider.0.encode(&mut p);
                epoch.encode(&mut p);
            }
            Event::DealEnded { deal, refund } => {
                Self::DEAL_ENDED.encode(&mut p);
                deal.encode(&mut p);
                refund.0.encode(&mut p);
            }
        }
        list(&p, out);
    }
}

impl Event {
    pub fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = decode_list(buf)?;
        let address =
            |p: &mut &[u8]| -> alloy_rlp::Result<Address> { Ok(Address(Decodable::decode(p)?)) };
        let amount = |p: &mut &[u8]| -> alloy_rlp::Result<Amount> { Ok(Amount(u128::decode(p)?)) };
        let event = match u8::decode(&mut p)? {
            Self::TRANSFER => Event::Transfer {
                from: address(&mut p)?,
                to: address(&mut p)?,
                amount: amount(&mut p)?,
            },
            Self::FEE => Event::Fee {
                from: address(&mut p)?,
                sealer: address(&mut p)?,
                amount: amount(&mut p)?,
            },
            Self::DATA_REGISTERED => Event::DataRegistered {
                digest: Decodable::decode(&mut p)?,
                owner: address(&mut p)?,
            },
            Self::ATTESTED => Event::Attested {
                digest: Decodable::decode(&mut p)?,
                owner: address(&mut p)?,
                kind: WorkKind::from_u8(u8::decode(&mut p)?)
                    .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
            },
            Self::SEAL_REWARD => Event::SealReward {
                sealer: address(&mut p)?,
                amount: amount(&mut p)?,
            },
            Self::KEY_SHARED => Event::KeyShared {
                granter: address(&mut p)?,
                recipient: address(&mut p)?,
            },
            Self::STORAGE_OFFERED => Event::StorageOffered {
                provider: address(&mut p)?,
            },
            Self::DEAL_OPENED => Event::DealOpened {
                deal: Decodable::decode(&mut p)?,
                owner: address(&mut p)?,
                escrow: amount(&mut p)?,
            },
            Self::DEAL_ACCEPTED => Event::DealAccepted {
                deal: Decodable::decode(&mut p)?,
                provider: address(&mut p)?,
            },
            Self::STORAGE_PROVED => Event::StorageProved {
                deal: Decodable::decode(&mut p)?,
                provider: address(&mut p)?,
                epoch: u64::decode(&mut p)?,
                paid: amount(&mut p)?,
                reward: amount(&mut p)?,
            },
            Self::CHALLENGE_MISSED => Event::ChallengeMissed {
                deal: Decodable::decode(&mut p)?,
                provider: address(&mut p)?,
                epoch: u64::decode(&mut p)?,
            },
            Self::DEAL_ENDED => Event::DealEnded {
                deal: Decodable::decode(&mut p)?,
                refund: amount(&mut p)?,
            },
            _ => return Err(alloy_rlp::Error::Custom("unknown event type")),
        };
        finish_list(p)?;
        Ok(event)
    }
}

impl Receipt {
    /// Reads one receipt from the front of `buf`.
    pub fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = decode_list(buf)?;
        let tx_hash = Decodable::decode(&mut p)?;
        let status = u8::decode(&mut p)?;
        let reason = decode_text(&mut p)?;
        let mut events_payload = decode_list(&mut p)?;
        let mut events = Vec::new();
        while !events_payload.is_empty() {
            events.push(Event::decode(&mut events_payload)?);
        }
        finish_list(p)?;
        let outcome = match status {
            0 => Ok(()),
            1 => Err(reason),
            _ => return Err(alloy_rlp::Error::Custom("unknown receipt status")),
        };
        Ok(Receipt {
            tx_hash,
            outcome,
            events,
        })
    }

    /// Reads the stored list of a block's receipts.
    pub fn decode_list(raw: &[u8]) -> alloy_rlp::Result<Vec<Receipt>> {
        let mut buf = raw;
        let mut payload = decode_list(&mut buf)?;
        let mut out = Vec::new();
        while !payload.is_empty() {
            out.push(Receipt::decode(&mut payload)?);
        }
        Ok(out)
    }

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
        let both = [r(None), r(Some("stale nonce"))];
        let stored = metamesh_primitives::rlp::list(
            &both.iter().flat_map(Receipt::to_rlp).collect::<Vec<_>>(),
        );
        assert_eq!(Receipt::decode_list(&stored).unwrap(), both);
    }
}
