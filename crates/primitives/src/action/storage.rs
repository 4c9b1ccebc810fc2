//! The storage market's actions (types 0x30–0x3f).

use alloy_rlp::{Decodable, Encodable};

use super::UNKNOWN;
use crate::{
    Amount, Hash,
    rlp::{decode_bytes as bytes, decode_list, encode_list},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageAction {
    /// `0x30 [capacity, price, stake]`: registers or updates a storage node — bytes offered,
    /// MMT asked per GiB (rounded up) per epoch, and the stake it keeps locked (raised or
    /// lowered to this; stake bonded to running deals cannot be withdrawn).
    Offer {
        capacity: u64,
        price: Amount,
        stake: Amount,
    },
    /// `0x31 [cid, root, replicas, duration, price]`: asks for `replicas` copies of the file
    /// `cid` for `duration` blocks at `price` per replica per epoch, paid into escrow now.
    /// `root` is the root block's bytes: the chain reads the file's size from it.
    Deal {
        cid: Vec<u8>,
        root: Vec<u8>,
        replicas: u64,
        duration: u64,
        price: Amount,
    },
    /// `0x32 [deal]`: a registered storage node takes one replica of a deal.
    Accept { deal: Hash },
    /// `0x33 [deal, epoch, [node, …], leaf]`: answers a challenge with the challenged leaf and
    /// its DAG path from the root.
    Prove {
        deal: Hash,
        epoch: u64,
        path: Vec<Vec<u8>>,
        leaf: Vec<u8>,
    },
}

/// Nodes a storage proof's path may have: a balanced DAG of 174 links per node is deeper than
/// this only past 10^140 bytes. Bounds what a hostile transaction makes a decoder allocate.
pub const MAX_PROOF_PATH: usize = 64;

impl StorageAction {
    pub const OFFER: u8 = 0x30;
    pub const DEAL: u8 = 0x31;
    pub const ACCEPT: u8 = 0x32;
    pub const PROVE: u8 = 0x33;

    pub fn type_byte(&self) -> u8 {
        match self {
            StorageAction::Offer { .. } => Self::OFFER,
            StorageAction::Deal { .. } => Self::DEAL,
            StorageAction::Accept { .. } => Self::ACCEPT,
            StorageAction::Prove { .. } => Self::PROVE,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            StorageAction::Offer { .. } => "storageOffer",
            StorageAction::Deal { .. } => "storageDeal",
            StorageAction::Accept { .. } => "acceptDeal",
            StorageAction::Prove { .. } => "proveStorage",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            StorageAction::Offer {
                capacity,
                price,
                stake,
            } => {
                capacity.encode(p);
                price.0.encode(p);
                stake.0.encode(p);
            }
            StorageAction::Deal {
                cid,
                root,
                replicas,
                duration,
                price,
            } => {
                cid.as_slice().encode(p);
                root.as_slice().encode(p);
                replicas.encode(p);
                duration.encode(p);
                price.0.encode(p);
            }
            StorageAction::Accept { deal } => deal.encode(p),
            StorageAction::Prove {
                deal,
                epoch,
                path,
                leaf,
            } => {
                deal.encode(p);
                epoch.encode(p);
                let mut nodes = Vec::new();
                for node in path {
                    node.as_slice().encode(&mut nodes);
                }
                encode_list(&nodes, p);
                leaf.as_slice().encode(p);
            }
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            Self::OFFER => StorageAction::Offer {
                capacity: u64::decode(p)?,
                price: Amount(u128::decode(p)?),
                stake: Amount(u128::decode(p)?),
            },
            Self::DEAL => StorageAction::Deal {
                cid: bytes(p)?,
                root: bytes(p)?,
                replicas: u64::decode(p)?,
                duration: u64::decode(p)?,
                price: Amount(u128::decode(p)?),
            },
            Self::ACCEPT => StorageAction::Accept {
                deal: Decodable::decode(p)?,
            },
            Self::PROVE => {
                let deal = Decodable::decode(p)?;
                let epoch = u64::decode(p)?;
                let mut nodes = decode_list(p)?;
                let mut path = Vec::new();
                while !nodes.is_empty() {
                    if path.len() == MAX_PROOF_PATH {
                        return Err(alloy_rlp::Error::Custom("a proof path of over 64 nodes"));
                    }
                    path.push(bytes(&mut nodes)?);
                }
                StorageAction::Prove {
                    deal,
                    epoch,
                    path,
                    leaf: bytes(p)?,
                }
            }
            _ => return Err(UNKNOWN),
        })
    }
}
