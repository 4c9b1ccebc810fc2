//! Events: what agents, indexers and the explorer react to. Each domain owns a range of type
//! bytes (as for actions) and the codec of its own events ([`DomainEvent`]); transaction events
//! sit in their receipt, block-level events (rewards, challenges, misses, ended deals,
//! parameter changes) in the block's system receipt.
//!
//! ```text
//! event = rlp([type, …fields])
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount,
    rlp::{decode_list, encode_list, finish_list},
};

use crate::domains::{
    accounts::AccountEvent, compute::ComputeEvent, data::DataEvent, knowledge::KnowledgeEvent,
    params::ParamsEvent, storage::StorageEvent, zk::ZkEvent,
};

/// One domain's events: their type bytes and names, the accounts each names, and their fields'
/// codec. A domain adds an event by adding a variant and a row to `KINDS`; the matches in its
/// impl are exhaustive, and a test checks every row is used.
pub trait DomainEvent: Sized {
    /// `(type byte, name)` of every event of the domain, within its type range.
    const KINDS: &'static [(u8, &'static str)];
    fn type_byte(&self) -> u8;
    /// The accounts it names (what an address filter matches).
    fn addresses(&self) -> Vec<Address>;
    fn encode_fields(&self, p: &mut Vec<u8>);
    /// The fields of an event of type `ty` (one of `KINDS`).
    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self>;
}

/// One event of one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Accounts(AccountEvent),
    Params(ParamsEvent),
    Data(DataEvent),
    Storage(StorageEvent),
    Compute(ComputeEvent),
    Zk(ZkEvent),
    Knowledge(KnowledgeEvent),
}

pub(crate) const UNKNOWN: alloy_rlp::Error = alloy_rlp::Error::Custom("unknown event type");

pub(crate) fn address(p: &mut &[u8]) -> alloy_rlp::Result<Address> {
    Ok(Address(Decodable::decode(p)?))
}

pub(crate) fn amount(p: &mut &[u8]) -> alloy_rlp::Result<Amount> {
    Ok(Amount(u128::decode(p)?))
}

fn name_of<E: DomainEvent>(e: &E) -> &'static str {
    let ty = e.type_byte();
    E::KINDS
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, n)| *n)
        .expect("every event type has a row in its domain's KINDS")
}

impl Event {
    /// Its type byte on the wire.
    pub fn type_byte(&self) -> u8 {
        match self {
            Event::Accounts(e) => e.type_byte(),
            Event::Params(e) => e.type_byte(),
            Event::Data(e) => e.type_byte(),
            Event::Storage(e) => e.type_byte(),
            Event::Compute(e) => e.type_byte(),
            Event::Zk(e) => e.type_byte(),
            Event::Knowledge(e) => e.type_byte(),
        }
    }

    /// Its name as RPC shows it and `mm_getEvents` filters by (`sealReward`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Accounts(e) => name_of(e),
            Event::Params(e) => name_of(e),
            Event::Data(e) => name_of(e),
            Event::Storage(e) => name_of(e),
            Event::Compute(e) => name_of(e),
            Event::Zk(e) => name_of(e),
            Event::Knowledge(e) => name_of(e),
        }
    }

    /// Every event kind, in type order, for checking filters.
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        [
            AccountEvent::KINDS,
            ParamsEvent::KINDS,
            DataEvent::KINDS,
            StorageEvent::KINDS,
            ComputeEvent::KINDS,
            ZkEvent::KINDS,
            KnowledgeEvent::KINDS,
        ]
        .into_iter()
        .flatten()
        .map(|(_, n)| *n)
    }

    /// The accounts an event names (what an address filter matches).
    pub fn addresses(&self) -> Vec<Address> {
        match self {
            Event::Accounts(e) => e.addresses(),
            Event::Params(e) => e.addresses(),
            Event::Data(e) => e.addresses(),
            Event::Storage(e) => e.addresses(),
            Event::Compute(e) => e.addresses(),
            Event::Zk(e) => e.addresses(),
            Event::Knowledge(e) => e.addresses(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut p = Vec::new();
        self.type_byte().encode(&mut p);
        match self {
            Event::Accounts(e) => e.encode_fields(&mut p),
            Event::Params(e) => e.encode_fields(&mut p),
            Event::Data(e) => e.encode_fields(&mut p),
            Event::Storage(e) => e.encode_fields(&mut p),
            Event::Compute(e) => e.encode_fields(&mut p),
            Event::Zk(e) => e.encode_fields(&mut p),
            Event::Knowledge(e) => e.encode_fields(&mut p),
        }
        encode_list(&p, out);
    }

    pub fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = decode_list(buf)?;
        let p = &mut p;
        let ty = u8::decode(p)?;
        let known = |kinds: &[(u8, &str)]| kinds.iter().any(|(t, _)| *t == ty);
        let event = if known(AccountEvent::KINDS) {
            Event::Accounts(AccountEvent::decode_fields(ty, p)?)
        } else if known(ParamsEvent::KINDS) {
            Event::Params(ParamsEvent::decode_fields(ty, p)?)
        } else if known(DataEvent::KINDS) {
            Event::Data(DataEvent::decode_fields(ty, p)?)
        } else if known(StorageEvent::KINDS) {
            Event::Storage(StorageEvent::decode_fields(ty, p)?)
        } else if known(ComputeEvent::KINDS) {
            Event::Compute(ComputeEvent::decode_fields(ty, p)?)
        } else if known(ZkEvent::KINDS) {
            Event::Zk(ZkEvent::decode_fields(ty, p)?)
        } else if known(KnowledgeEvent::KINDS) {
            Event::Knowledge(KnowledgeEvent::decode_fields(ty, p)?)
        } else {
            return Err(UNKNOWN);
        };
        finish_list(p)?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each domain's rows sit in its own type range, and no name repeats.
    #[test]
    fn kinds_are_in_range_and_unique() {
        for (kinds, range) in [
            (AccountEvent::KINDS, 0x00..=0x0f),
            (ParamsEvent::KINDS, 0x10..=0x1f),
            (DataEvent::KINDS, 0x20..=0x2f),
            (StorageEvent::KINDS, 0x30..=0x3f),
            (ComputeEvent::KINDS, 0x40..=0x4f),
            (ZkEvent::KINDS, 0x50..=0x5f),
            (KnowledgeEvent::KINDS, 0x60..=0x6f),
        ] {
            assert!(kinds.iter().all(|(t, _)| range.contains(t)), "{kinds:?}");
        }
        let mut names: Vec<&str> = Event::kinds().collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
