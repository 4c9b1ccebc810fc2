//! The storage market: storage nodes with stakes, deals with escrow, challenges, proofs
//! checked on chain, misses that slash, and the end of a deal.
//!
//! A deal's size is read on chain from its root block ([`metamesh_storage::file_size`]), never
//! taken from the owner's word. Each deal has its own boundaries, every `storageEpoch` blocks
//! from its start, kept in the ordered `DealSchedule` collection ([`boundary`]): at a
//! boundary, a holder's unanswered challenge is a miss (the epoch's price goes back to the
//! owner and part of the holder's bond to the community pool), and each holder gets a new
//! challenge — a byte offset drawn from the block's randomness (the recent seals, see
//! `BlockEnv::randomness`) — to answer within `proofWindow` blocks. At the last boundary the
//! deal ends: what is left of the escrow goes back to the owner and the bonds are released.
//! Until a first holder takes a deal only its end is scheduled. Each block processes at most
//! `maxDueDeals` boundaries, whose challenges ask at most `maxChallengeBytes` of proofs (the rest
//! wait a block), so what is challenged can be answered; the sealer of the block that runs a
//! boundary is paid for the work from the deal's reserve. A deal's epoch is fixed when it opens.
//!
//! A passed challenge ([`prove`]) pays the price from escrow and `storageReward` per GiB of
//! the size from the community pool, within `storageBudget` per reward epoch. The chain cannot
//! tell stored bytes from bytes that can be rebuilt on demand (there is no proof of
//! replication yet), so the reward is bounded three ways: the budget, the holder's bond
//! (`storageStakePerGib`, slashed on misses), and the blocks proofs have shown: a DAG that
//! reuses one block at two offsets earns nothing once two proofs land on it.

mod boundary;
mod events;
mod prove;
mod records;

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, Hash, StorageAction};
use metamesh_storage::{ProofFault, cid_from_bytes, file_size};
use metamesh_trie::NodeStore;

pub use events::StorageEvent;
pub use records::{Challenge, Deal, Replica, StorageNode};

pub(crate) use boundary::begin_block;

use super::{TxContext, accounts};
use crate::{Code, CollectionId, Event, Exec, Outcome, exec::reject};

const GIB: u64 = 1 << 30;
pub const MAX_REPLICAS: u64 = 16;
/// The longest deal: about a year of 2-second blocks. Its boundaries are paid from a reserve
/// in MMT, not in the opening transaction's gas, so a deal this long fits in a block.
pub const MAX_DURATION: u64 = 16_000_000;

/// The account that holds every escrow and stake of the market.
pub fn escrow_account(suite: Suite) -> Address {
    accounts::module_address(suite, "storage")
}

/// The id of the deal `owner` opens with the transaction of `nonce`.
pub fn deal_id(suite: Suite, owner: &Address, nonce: u64) -> Hash {
    let mut b = b"metamesh/deal".to_vec();
    b.extend(owner.0);
    b.extend(nonce.to_be_bytes());
    suite.hash(&b)
}

/// Challenges per replica of a deal lasting `duration` blocks: one at each boundary strictly
/// before the last (where the last one is judged).
pub fn challenges(epoch: u64, duration: u64) -> u64 {
    duration.saturating_sub(1) / epoch
}

/// Escrow of a deal: replicas × challenges × price.
pub fn escrow_for(epoch: u64, duration: u64, replicas: u64, price: Amount) -> Option<Amount> {
    price
        .0
        .checked_mul(u128::from(replicas) * u128::from(challenges(epoch, duration)))
        .map(Amount)
}

fn gib(size: u64) -> u128 {
    u128::from(size.div_ceil(GIB))
}

/// What a deal sets aside to pay the sealers of its boundaries: per boundary,
/// `gasDealEpoch` × replicas at the opening transaction's gas price; and the whole reserve.
pub fn boundary_reserve(
    gas_deal_epoch: u64,
    gas_price: Amount,
    epoch: u64,
    duration: u64,
    replicas: u64,
) -> Option<(Amount, Amount)> {
    let fee = gas_price
        .0
        .checked_mul(u128::from(gas_deal_epoch))?
        .checked_mul(u128::from(replicas))?;
    let reserve = fee.checked_mul(u128::from(challenges(epoch, duration)) + 1)?;
    Some((Amount(fee), Amount(reserve)))
}

/// With its first holder, a deal's next regular boundary (after this block) replaces the end
/// as the one scheduled.
fn schedule_first_boundary<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    deal: &mut Deal,
) -> Outcome {
    let number = ex.env().number;
    let next = deal.start + ((number - deal.start) / deal.epoch + 1) * deal.epoch;
    if next < deal.next_due {
        ex.remove_entry(CollectionId::DealSchedule, &schedule_key(deal.next_due, id))?;
        ex.put_entry(CollectionId::DealSchedule, &schedule_key(next, id), &[1])?;
        deal.next_due = next;
    }
    Ok(())
}

fn schedule_key(due: u64, deal: &Hash) -> Vec<u8> {
    let mut k = due.to_be_bytes().to_vec();
    k.extend(deal);
    k
}

fn fault_code(f: ProofFault) -> Code {
    match f {
        ProofFault::BadCid => Code::BadCid,
        ProofFault::Hash => Code::ProofHash,
        ProofFault::NotUnixfs => Code::NotUnixfs,
        ProofFault::NotAFile => Code::NotAFile,
        ProofFault::DuplicateLinks => Code::DuplicateLinks,
        ProofFault::Sizes => Code::SizeMismatch,
        ProofFault::ChildSize => Code::ProofSize,
        ProofFault::Empty => Code::EmptyFile,
        ProofFault::PastEnd | ProofFault::TooShort | ProofFault::TooLong => Code::ProofShape,
    }
}

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &StorageAction,
) -> Outcome {
    match action {
        StorageAction::Offer {
            capacity,
            price,
            stake,
        } => offer(ex, tx.sender, *capacity, *price, *stake),
        StorageAction::Deal {
            cid,
            root,
            replicas,
            duration,
            price,
        } => open_deal(ex, tx, cid, root, *replicas, *duration, *price),
        StorageAction::Accept { deal } => accept(ex, tx.sender, deal),
        StorageAction::Prove {
            deal,
            epoch,
            path,
            leaf,
        } => prove::prove(ex, tx.sender, deal, *epoch, path, leaf),
    }
}

fn offer<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    capacity: u64,
    price: Amount,
    stake: Amount,
) -> Outcome {
    let mut node = ex.load::<StorageNode>(&me)?.unwrap_or_default();
    if capacity < node.committed {
        return reject(
            Code::CapacityBelowCommitted,
            &[u128::from(capacity), u128::from(node.committed)],
        );
    }
    if stake < node.bonded {
        return reject(Code::StakeBelowBonded, &[stake.0, node.bonded.0]);
    }
    let escrow = escrow_account(ex.suite());
    if let Some(more) = stake.checked_sub(node.stake) {
        ex.transfer(&me, &escrow, more)?;
    } else if let Some(less) = node.stake.checked_sub(stake) {
        ex.transfer(&escrow, &me, less)?;
    }
    node.capacity = capacity;
    node.price = price;
    node.stake = stake;
    ex.save(&me, &node)?;
    ex.put_entry(CollectionId::StorageNodes, &me.0, &[1])?;
    ex.emit(Event::Storage(StorageEvent::Offered {
        provider: me,
        capacity,
        price,
        stake,
    }))
}

fn open_deal<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    cid: &[u8],
    root: &[u8],
    replicas: u64,
    duration: u64,
    price: Amount,
) -> Outcome {
    ex.charge_hash(cid.len() + root.len())?;
    let Ok(parsed) = cid_from_bytes(cid) else {
        return reject(Code::BadCid, &[]);
    };
    let size = match file_size(&parsed, root) {
        Ok(size) => size,
        Err(ProofFault::Hash) => return reject(Code::RootHash, &[]),
        Err(f) => return reject(fault_code(f), &[]),
    };
    if !(1..=MAX_REPLICAS).contains(&replicas) {
        return reject(Code::BadReplicas, &[u128::from(MAX_REPLICAS)]);
    }
    let epoch = ex.params().storage_epoch;
    let shortest = epoch + 1;
    if !(shortest..=MAX_DURATION).contains(&duration) {
        return reject(
            Code::BadDuration,
            &[u128::from(shortest), u128::from(MAX_DURATION)],
        );
    }
    let p = ex.params();
    let reserve = boundary_reserve(p.gas_deal_epoch, tx.gas_price, epoch, duration, replicas);
    let (Some(escrow), Some((fee, reserve))) =
        (escrow_for(epoch, duration, replicas, price), reserve)
    else {
        return reject(Code::EscrowOverflow, &[]);
    };
    if escrow < p.min_deal_escrow {
        return reject(Code::EscrowTooSmall, &[escrow.0, p.min_deal_escrow.0]);
    }
    let Some(held) = escrow.checked_add(reserve) else {
        return reject(Code::EscrowOverflow, &[]);
    };
    ex.transfer(&tx.sender, &escrow_account(ex.suite()), held)?;
    let id = deal_id(ex.suite(), &tx.sender, tx.nonce);
    let start = ex.env().number;
    let n = challenges(epoch, duration);
    let end = start + (n + 1) * epoch;
    // Until a holder takes it, only its end is scheduled: a deal nobody holds costs the
    // boundary queue nothing on the way.
    let deal = Deal {
        owner: tx.sender,
        cid: cid.to_vec(),
        size,
        replicas,
        price,
        epoch,
        start,
        end,
        escrow,
        fee,
        reserve,
        next_due: end,
        proof_bytes: 0,
        rewarded: true,
        holders: Vec::new(),
    };
    ex.save(&id, &deal)?;
    ex.put_entry(CollectionId::RunningDeals, &id, &[1])?;
    ex.put_entry(
        CollectionId::DealSchedule,
        &schedule_key(deal.next_due, &id),
        &[1],
    )?;
    ex.emit(Event::Storage(StorageEvent::DealOpened {
        deal: id,
        owner: tx.sender,
        size,
        escrow,
        reserve,
    }))
}

fn accept<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, me: Address, id: &Hash) -> Outcome {
    let Some(mut deal) = ex.load::<Deal>(id)? else {
        return reject(Code::NoSuchDeal, &[]);
    };
    let Some(mut node) = ex.load::<StorageNode>(&me)? else {
        return reject(Code::NotAStorageNode, &[]);
    };
    let asks = Amount(node.price.0.saturating_mul(gib(deal.size)));
    let bond = Amount(
        ex.params()
            .storage_stake_per_gib
            .0
            .saturating_mul(gib(deal.size)),
    );
    let free_stake = node.stake.checked_sub(node.bonded).unwrap_or_default();
    let free_bytes = node.capacity.saturating_sub(node.committed);
    if deal.ended() {
        return reject(Code::DealEnded, &[u128::from(deal.end)]);
    } else if deal.holders.len() as u64 >= deal.replicas {
        return reject(Code::ReplicasTaken, &[u128::from(deal.replicas)]);
    } else if deal.holders.iter().any(|h| h.provider == me) {
        return reject(Code::AlreadyHolds, &[]);
    } else if deal.owner == me {
        return reject(Code::OwnerCannotHold, &[]);
    } else if free_bytes < deal.size {
        return reject(
            Code::NoRoom,
            &[u128::from(free_bytes), u128::from(deal.size)],
        );
    } else if deal.price < asks {
        return reject(Code::PriceBelowAsk, &[deal.price.0, asks.0]);
    } else if free_stake < bond {
        return reject(Code::StakeTooSmall, &[free_stake.0, bond.0]);
    }
    if deal.holders.is_empty() {
        schedule_first_boundary(ex, id, &mut deal)?;
    }
    deal.holders.push(Replica {
        provider: me,
        bond,
        passes: 0,
        misses: 0,
        challenge: None,
    });
    node.committed += deal.size;
    node.bonded = node.bonded.checked_add(bond).expect("within the stake");
    ex.save(&me, &node)?;
    ex.save(id, &deal)?;
    ex.emit(Event::Storage(StorageEvent::DealAccepted {
        deal: *id,
        provider: me,
        bond,
    }))
}
