//! Receipts and the ordered-trie roots a header commits to.
//!
//! ```text
//! receipt = rlp([tx_hash, status (0 applied, else the rejection code), gas_used, [arg, …], [event, …]])
//! the system receipt (last in every block): tx_hash = 32 zero bytes, status 0, gas 0, [], its
//!   block-level events (parameter changes and deal boundaries first, then the sealing reward)
//! transactions_root = root of the trie { rlp(i) → rlp(tx_i) }, receipts_root likewise
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Suite;
use metamesh_primitives::{
    Hash, SignedTransaction,
    rlp::{decode_list, encode_list as list, finish_list},
};
use metamesh_trie::{Keccak256, MemoryStore, Sm3, Trie, TrieHasher};

use crate::{Code, Event, Rejection};

/// What happened to one transaction (or, for the system receipt, to the block itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction's hash; zero for the system receipt.
    pub tx_hash: Hash,
    /// `Ok`, or why it failed (it still paid for its gas).
    pub outcome: Result<(), Rejection>,
    pub gas_used: u64,
    /// The fee first, then (if it applied) the action's events.
    pub events: Vec<Event>,
}

impl Receipt {
    /// The hash the system receipt carries.
    pub const SYSTEM: Hash = [0; 32];

    pub fn system(events: Vec<Event>) -> Receipt {
        Receipt {
            tx_hash: Self::SYSTEM,
            outcome: Ok(()),
            gas_used: 0,
            events,
        }
    }

    pub fn is_system(&self) -> bool {
        self.tx_hash == Self::SYSTEM
    }

    /// Reads one receipt from the front of `buf`.
    pub fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = decode_list(buf)?;
        let tx_hash = Decodable::decode(&mut p)?;
        let status = u16::decode(&mut p)?;
        let gas_used = u64::decode(&mut p)?;
        let mut args_payload = decode_list(&mut p)?;
        let mut args = Vec::new();
        while !args_payload.is_empty() {
            args.push(u128::decode(&mut args_payload)?);
        }
        let mut events_payload = decode_list(&mut p)?;
        let mut events = Vec::new();
        while !events_payload.is_empty() {
            events.push(Event::decode(&mut events_payload)?);
        }
        finish_list(p)?;
        let outcome = match status {
            0 if args.is_empty() => Ok(()),
            0 => {
                return Err(alloy_rlp::Error::Custom(
                    "an applied receipt with arguments",
                ));
            }
            n => Err(Rejection {
                code: Code::from_u16(n)
                    .ok_or(alloy_rlp::Error::Custom("unknown rejection code"))?,
                args,
            }),
        };
        Ok(Receipt {
            tx_hash,
            outcome,
            gas_used,
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

    /// The stored form of a block's receipts: an RLP list of receipt RLPs.
    pub fn encode_list(receipts: &[Receipt]) -> Vec<u8> {
        let payload: Vec<u8> = receipts.iter().flat_map(Receipt::to_rlp).collect();
        metamesh_primitives::rlp::list(&payload)
    }

    pub fn to_rlp(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.tx_hash.encode(&mut p);
        let (status, args): (u16, &[u128]) = match &self.outcome {
            Ok(()) => (0, &[]),
            Err(r) => (r.code as u16, &r.args),
        };
        status.encode(&mut p);
        self.gas_used.encode(&mut p);
        let mut a = Vec::new();
        for arg in args {
            arg.encode(&mut a);
        }
        list(&a, &mut p);
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

/// The header's `receipts_root`: over every receipt of the block, the system receipt last.
pub fn receipts_root(suite: Suite, receipts: &[Receipt]) -> Hash {
    root_in(suite, receipts.iter().map(Receipt::to_rlp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domains::accounts::AccountEvent;
    use metamesh_crypto::Address;
    use metamesh_primitives::Amount;

    #[test]
    fn roots_commit_to_order_and_content() {
        let r = |failed: bool| Receipt {
            tx_hash: [1; 32],
            outcome: if failed {
                Err(Rejection::with(Code::InsufficientBalance, &[1, 2]))
            } else {
                Ok(())
            },
            gas_used: 21_000,
            events: vec![Event::Accounts(AccountEvent::SealReward {
                sealer: Address([2; 20]),
                amount: Amount(5),
            })],
        };
        let a = receipts_root(Suite::Sm, &[r(false), r(true)]);
        let b = receipts_root(Suite::Sm, &[r(true), r(false)]);
        assert_ne!(a, b);
        assert_eq!(a, receipts_root(Suite::Sm, &[r(false), r(true)]));
        assert_eq!(receipts_root(Suite::Eth, &[]), Keccak256::empty_root());
        let decoded = metamesh_primitives::rlp::RlpItem::decode_exact(&r(true).to_rlp());
        assert!(decoded.is_ok(), "receipts are canonical RLP");
        let all = [r(false), r(true), Receipt::system(vec![])];
        assert_eq!(
            Receipt::decode_list(&Receipt::encode_list(&all)).unwrap(),
            all
        );
    }

    #[test]
    fn unknown_codes_and_stray_arguments_are_refused() {
        let raw = |status: u16, args: &[u128]| {
            let mut p = Vec::new();
            [0u8; 32].encode(&mut p);
            status.encode(&mut p);
            0u64.encode(&mut p);
            let mut a = Vec::new();
            for x in args {
                x.encode(&mut a);
            }
            list(&a, &mut p);
            list(&[], &mut p);
            metamesh_primitives::rlp::list(&p)
        };
        assert!(Receipt::decode(&mut raw(200, &[5]).as_slice()).is_ok());
        assert!(Receipt::decode(&mut raw(999, &[]).as_slice()).is_err());
        assert!(Receipt::decode(&mut raw(0, &[1]).as_slice()).is_err());
    }
}
