//! The storage market's events (types 0x30–0x3f). Boundary events (challenges, misses, ends,
//! failures) are block-level: they sit in the block's system receipt.

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{Amount, Hash, rlp::decode_bytes};

use crate::events::{DomainEvent, UNKNOWN, address, amount};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageEvent {
    /// `0x30 [provider, capacity, price, stake]`
    Offered {
        provider: Address,
        capacity: u64,
        price: Amount,
        stake: Amount,
    },
    /// `0x31 [deal, owner, size, escrow, reserve]`: both moved from the owner to the module.
    DealOpened {
        deal: Hash,
        owner: Address,
        size: u64,
        escrow: Amount,
        reserve: Amount,
    },
    /// `0x32 [deal, provider, bond]`
    DealAccepted {
        deal: Hash,
        provider: Address,
        bond: Amount,
    },
    /// `0x33 [deal, provider, epoch, offset, deadline]`: block-level.
    ChallengeIssued {
        deal: Hash,
        provider: Address,
        epoch: u64,
        offset: u64,
        deadline: u64,
    },
    /// `0x34 [deal, provider, epoch, paid, reward]`
    Proved {
        deal: Hash,
        provider: Address,
        epoch: u64,
        paid: Amount,
        reward: Amount,
    },
    /// `0x35 [deal, owner, provider, epoch, refund, slashed]`: block-level; `refund` (the
    /// epoch's price) went back to the owner, `slashed` to the community pool.
    Missed {
        deal: Hash,
        owner: Address,
        provider: Address,
        epoch: u64,
        refund: Amount,
        slashed: Amount,
    },
    /// `0x36 [deal, owner, refund, reserve]`: block-level; what was left of the escrow and of
    /// the boundary reserve went back to the owner.
    DealEnded {
        deal: Hash,
        owner: Address,
        refund: Amount,
        reserve: Amount,
    },
    /// `0x37 [deal, provider, block]`: a proof showed `block` (a binary CID) at a second offset
    /// of the file; the deal earns no more storage rewards.
    BlockRepeated {
        deal: Hash,
        provider: Address,
        block: Vec<u8>,
    },
    /// `0x38 [deal, code]`: block-level; a boundary could not run (the rejection code) and was
    /// dropped, so the rest of the block went on. No honest state leads here.
    BoundaryFailed { deal: Hash, code: u16 },
}

impl DomainEvent for StorageEvent {
    const KINDS: &'static [(u8, &'static str)] = &[
        (0x30, "storageOffered"),
        (0x31, "dealOpened"),
        (0x32, "dealAccepted"),
        (0x33, "challengeIssued"),
        (0x34, "storageProved"),
        (0x35, "challengeMissed"),
        (0x36, "dealEnded"),
        (0x37, "blockRepeated"),
        (0x38, "boundaryFailed"),
    ];

    fn type_byte(&self) -> u8 {
        match self {
            StorageEvent::Offered { .. } => 0x30,
            StorageEvent::DealOpened { .. } => 0x31,
            StorageEvent::DealAccepted { .. } => 0x32,
            StorageEvent::ChallengeIssued { .. } => 0x33,
            StorageEvent::Proved { .. } => 0x34,
            StorageEvent::Missed { .. } => 0x35,
            StorageEvent::DealEnded { .. } => 0x36,
            StorageEvent::BlockRepeated { .. } => 0x37,
            StorageEvent::BoundaryFailed { .. } => 0x38,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            StorageEvent::Offered { provider, .. }
            | StorageEvent::DealAccepted { provider, .. }
            | StorageEvent::ChallengeIssued { provider, .. }
            | StorageEvent::Proved { provider, .. }
            | StorageEvent::BlockRepeated { provider, .. } => vec![*provider],
            StorageEvent::Missed {
                owner, provider, ..
            } => vec![*owner, *provider],
            StorageEvent::DealOpened { owner, .. } | StorageEvent::DealEnded { owner, .. } => {
                vec![*owner]
            }
            StorageEvent::BoundaryFailed { .. } => vec![],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
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
                reserve,
            } => {
                deal.encode(p);
                owner.0.encode(p);
                size.encode(p);
                escrow.0.encode(p);
                reserve.0.encode(p);
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
                owner,
                provider,
                epoch,
                refund,
                slashed,
            } => {
                deal.encode(p);
                owner.0.encode(p);
                provider.0.encode(p);
                epoch.encode(p);
                refund.0.encode(p);
                slashed.0.encode(p);
            }
            StorageEvent::DealEnded {
                deal,
                owner,
                refund,
                reserve,
            } => {
                deal.encode(p);
                owner.0.encode(p);
                refund.0.encode(p);
                reserve.0.encode(p);
            }
            StorageEvent::BlockRepeated {
                deal,
                provider,
                block,
            } => {
                deal.encode(p);
                provider.0.encode(p);
                block.as_slice().encode(p);
            }
            StorageEvent::BoundaryFailed { deal, code } => {
                deal.encode(p);
                code.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
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
                reserve: amount(p)?,
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
                owner: address(p)?,
                provider: address(p)?,
                epoch: u64::decode(p)?,
                refund: amount(p)?,
                slashed: amount(p)?,
            },
            0x36 => StorageEvent::DealEnded {
                deal: Decodable::decode(p)?,
                owner: address(p)?,
                refund: amount(p)?,
                reserve: amount(p)?,
            },
            0x37 => StorageEvent::BlockRepeated {
                deal: Decodable::decode(p)?,
                provider: address(p)?,
                block: decode_bytes(p)?,
            },
            0x38 => StorageEvent::BoundaryFailed {
                deal: Decodable::decode(p)?,
                code: u16::decode(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}
