//! Events: what agents, indexers and the explorer react to. Each domain owns a range of type
//! bytes (as for actions); transaction events sit in their receipt, block-level events (rewards,
//! challenges, misses, ended deals, parameter changes) in the block's system receipt.
//!
//! ```text
//! event = rlp([type, …fields])
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, WorkKind,
    rlp::{decode_list, encode_list, finish_list},
};

use crate::domains::{
    accounts::AccountEvent,
    data::DataEvent,
    params::{ParamsEvent, decode_names, encode_names},
    storage::StorageEvent,
};

/// One event of one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Accounts(AccountEvent),
    Params(ParamsEvent),
    Data(DataEvent),
    Storage(StorageEvent),
}

const UNKNOWN: alloy_rlp::Error = alloy_rlp::Error::Custom("unknown event type");

fn address(p: &mut &[u8]) -> alloy_rlp::Result<Address> {
    Ok(Address(Decodable::decode(p)?))
}

fn amount(p: &mut &[u8]) -> alloy_rlp::Result<Amount> {
    Ok(Amount(u128::decode(p)?))
}

impl Event {
    /// Its type byte on the wire.
    pub fn type_byte(&self) -> u8 {
        match self {
            Event::Accounts(e) => match e {
                AccountEvent::Transfer { .. } => 0x00,
                AccountEvent::Fee { .. } => 0x01,
                AccountEvent::SealReward { .. } => 0x02,
            },
            Event::Params(e) => match e {
                ParamsEvent::Scheduled { .. } => 0x10,
                ParamsEvent::Changed { .. } => 0x11,
            },
            Event::Data(e) => match e {
                DataEvent::Registered { .. } => 0x20,
                DataEvent::Attested { .. } => 0x21,
                DataEvent::KeyShared { .. } => 0x22,
            },
            Event::Storage(e) => match e {
                StorageEvent::Offered { .. } => 0x30,
                StorageEvent::DealOpened { .. } => 0x31,
                StorageEvent::DealAccepted { .. } => 0x32,
                StorageEvent::ChallengeIssued { .. } => 0x33,
                StorageEvent::Proved { .. } => 0x34,
                StorageEvent::Missed { .. } => 0x35,
                StorageEvent::DealEnded { .. } => 0x36,
            },
        }
    }

    /// Its name as RPC shows it and `mm_getEvents` filters by (`sealReward`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Accounts(e) => match e {
                AccountEvent::Transfer { .. } => "transfer",
                AccountEvent::Fee { .. } => "fee",
                AccountEvent::SealReward { .. } => "sealReward",
            },
            Event::Params(e) => match e {
                ParamsEvent::Scheduled { .. } => "paramsScheduled",
                ParamsEvent::Changed { .. } => "paramsChanged",
            },
            Event::Data(e) => match e {
                DataEvent::Registered { .. } => "dataRegistered",
                DataEvent::Attested { .. } => "attested",
                DataEvent::KeyShared { .. } => "keyShared",
            },
            Event::Storage(e) => match e {
                StorageEvent::Offered { .. } => "storageOffered",
                StorageEvent::DealOpened { .. } => "dealOpened",
                StorageEvent::DealAccepted { .. } => "dealAccepted",
                StorageEvent::ChallengeIssued { .. } => "challengeIssued",
                StorageEvent::Proved { .. } => "storageProved",
                StorageEvent::Missed { .. } => "challengeMissed",
                StorageEvent::DealEnded { .. } => "dealEnded",
            },
        }
    }

    /// Every event kind, for checking filters.
    pub const KINDS: &'static [&'static str] = &[
        "transfer",
        "fee",
        "sealReward",
        "paramsScheduled",
        "paramsChanged",
        "dataRegistered",
        "attested",
        "keyShared",
        "storageOffered",
        "dealOpened",
        "dealAccepted",
        "challengeIssued",
        "storageProved",
        "challengeMissed",
        "dealEnded",
    ];

    /// The accounts an event names (what an address filter matches).
    pub fn addresses(&self) -> Vec<Address> {
        match self {
            Event::Accounts(e) => match e {
                AccountEvent::Transfer { from, to, .. } => vec![*from, *to],
                AccountEvent::Fee { from, sealer, .. } => vec![*from, *sealer],
                AccountEvent::SealReward { sealer, .. } => vec![*sealer],
            },
            Event::Params(e) => match e {
                ParamsEvent::Scheduled { .. } | ParamsEvent::Changed { .. } => vec![],
            },
            Event::Data(e) => match e {
                DataEvent::Registered { owner, .. } | DataEvent::Attested { owner, .. } => {
                    vec![*owner]
                }
                DataEvent::KeyShared { granter, recipient } => vec![*granter, *recipient],
            },
            Event::Storage(e) => match e {
                StorageEvent::Offered { provider, .. }
                | StorageEvent::DealAccepted { provider, .. }
                | StorageEvent::ChallengeIssued { provider, .. }
                | StorageEvent::Proved { provider, .. }
                | StorageEvent::Missed { provider, .. } => vec![*provider],
                StorageEvent::DealOpened { owner, .. } => vec![*owner],
                StorageEvent::DealEnded { .. } => vec![],
            },
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut p = Vec::new();
        self.type_byte().encode(&mut p);
        match self {
            Event::Accounts(e) => match e {
                AccountEvent::Transfer { from, to, amount } => {
                    from.0.encode(&mut p);
                    to.0.encode(&mut p);
                    amount.0.encode(&mut p);
                }
                AccountEvent::Fee {
                    from,
                    sealer,
                    amount,
                } => {
                    from.0.encode(&mut p);
                    sealer.0.encode(&mut p);
                    amount.0.encode(&mut p);
                }
                AccountEvent::SealReward { sealer, amount } => {
                    sealer.0.encode(&mut p);
                    amount.0.encode(&mut p);
                }
            },
            Event::Params(e) => match e {
                ParamsEvent::Scheduled { block, names } => {
                    block.encode(&mut p);
                    encode_names(names, &mut p);
                }
                ParamsEvent::Changed { names } => encode_names(names, &mut p),
            },
            Event::Data(e) => match e {
                DataEvent::Registered { digest, owner } => {
                    digest.encode(&mut p);
                    owner.0.encode(&mut p);
                }
                DataEvent::Attested {
                    digest,
                    owner,
                    kind,
                } => {
                    digest.encode(&mut p);
                    owner.0.encode(&mut p);
                    (*kind as u8).encode(&mut p);
                }
                DataEvent::KeyShared { granter, recipient } => {
                    granter.0.encode(&mut p);
                    recipient.0.encode(&mut p);
                }
            },
            Event::Storage(e) => encode_storage(e, &mut p),
        }
        encode_list(&p, out);
    }

    pub fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = decode_list(buf)?;
        let p = &mut p;
        let event = match u8::decode(p)? {
            0x00 => Event::Accounts(AccountEvent::Transfer {
                from: address(p)?,
                to: address(p)?,
                amount: amount(p)?,
            }),
            0x01 => Event::Accounts(AccountEvent::Fee {
                from: address(p)?,
                sealer: address(p)?,
                amount: amount(p)?,
            }),
            0x02 => Event::Accounts(AccountEvent::SealReward {
                sealer: address(p)?,
                amount: amount(p)?,
            }),
            0x10 => Event::Params(ParamsEvent::Scheduled {
                block: u64::decode(p)?,
                names: decode_names(p)?,
            }),
            0x11 => Event::Params(ParamsEvent::Changed {
                names: decode_names(p)?,
            }),
            0x20 => Event::Data(DataEvent::Registered {
                digest: Decodable::decode(p)?,
                owner: address(p)?,
            }),
            0x21 => Event::Data(DataEvent::Attested {
                digest: Decodable::decode(p)?,
                owner: address(p)?,
                kind: WorkKind::from_u8(u8::decode(p)?)
                    .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
            }),
            0x22 => Event::Data(DataEvent::KeyShared {
                granter: address(p)?,
                recipient: address(p)?,
            }),
            ty @ 0x30..=0x3f => Event::Storage(decode_storage(ty, p)?),
            _ => return Err(UNKNOWN),
        };
        finish_list(p)?;
        Ok(event)
    }
}

fn encode_storage(e: &StorageEvent, p: &mut Vec<u8>) {
    match e {
        StorageEvent::Offered {
            provider,
            capacity,
            price,
            stake,
        } => {
            provider.0.encode(p);
            capacity.encode(p);
            price.0.encode(p);
            stake.0.encode(p);
        }
        StorageEvent::DealOpened {
            deal,
            owner,
            size,
            escrow,
        } => {
            deal.encode(p);
            owner.0.encode(p);
            size.encode(p);
            escrow.0.encode(p);
        }
        StorageEvent::DealAccepted {
            deal,
            provider,
            bond,
        } => {
            deal.encode(p);
            provider.0.encode(p);
            bond.0.encode(p);
        }
        StorageEvent::ChallengeIssued {
            deal,
            provider,
            epoch,
            offset,
            deadline,
        } => {
            deal.encode(p);
            provider.0.encode(p);
            epoch.encode(p);
            offset.encode(p);
            deadline.encode(p);
        }
        StorageEvent::Proved {
            deal,
            provider,
            epoch,
            paid,
            reward,
        } => {
            deal.encode(p);
            provider.0.encode(p);
            epoch.encode(p);
            paid.0.encode(p);
            reward.0.encode(p);
        }
        StorageEvent::Missed {
            deal,
            provider,
            epoch,
            slashed,
        } => {
            deal.encode(p);
            provider.0.encode(p);
            epoch.encode(p);
            slashed.0.encode(p);
        }
        StorageEvent::DealEnded { deal, refund } => {
            deal.encode(p);
            refund.0.encode(p);
        }
    }
}

fn decode_storage(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<StorageEvent> {
    Ok(match ty {
        0x30 => StorageEvent::Offered {
            provider: address(p)?,
            capacity: u64::decode(p)?,
            price: amount(p)?,
            stake: amount(p)?,
        },
        0x31 => StorageEvent::DealOpened {
            deal: Decodable::decode(p)?,
            owner: address(p)?,
            size: u64::decode(p)?,
            escrow: amount(p)?,
        },
        0x32 => StorageEvent::DealAccepted {
            deal: Decodable::decode(p)?,
            provider: address(p)?,
            bond: amount(p)?,
        },
        0x33 => StorageEvent::ChallengeIssued {
            deal: Decodable::decode(p)?,
            provider: address(p)?,
            epoch: u64::decode(p)?,
            offset: u64::decode(p)?,
            deadline: u64::decode(p)?,
        },
        0x34 => StorageEvent::Proved {
            deal: Decodable::decode(p)?,
            provider: address(p)?,
            epoch: u64::decode(p)?,
            paid: amount(p)?,
            reward: amount(p)?,
        },
        0x35 => StorageEvent::Missed {
            deal: Decodable::decode(p)?,
            provider: address(p)?,
            epoch: u64::decode(p)?,
            slashed: amount(p)?,
        },
        0x36 => StorageEvent::DealEnded {
            deal: Decodable::decode(p)?,
            refund: amount(p)?,
        },
        _ => return Err(UNKNOWN),
    })
}
