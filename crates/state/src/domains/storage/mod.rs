//! The storage market: storage nodes with stakes, deals with escrow, challenges, proofs
//! checked on chain, misses that slash, and the end of a deal.
//!
//! A deal's size is read on chain from its root block ([`metamesh_storage::file_size`]), never
//! taken from the owner's word. Each deal has its own boundaries, every `storageEpoch` blocks
//! from its start, kept in the ordered `DealSchedule` collection: at a boundary, a holder's
//! unanswered challenge is a miss (the epoch's price goes back to the owner and part of the
//! holder's bond to the community pool), and each holder gets a new challenge — a byte offset
//! drawn from the block's randomness (the recent seals, see `BlockEnv::randomness`) — to answer
//! within `proofWindow` blocks. At the last boundary the deal ends: the escrow left goes back to
//! the owner and the bonds are released. Each block processes at most `maxDueDeals`
//! boundaries (the rest wait a block), and a deal prepays the gas of all of its boundaries.
//! A passed challenge pays the price from escrow and `storageReward` per GiB of the verified
//! size from the community pool, within the pool's budget.

mod records;

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{Amount, Hash, StorageAction};
use metamesh_storage::{ProofFault, StorageProof, cid_from_bytes, file_size, verify_proof};
use metamesh_trie::NodeStore;

pub use records::{Challenge, Deal, Replica, StorageEvent, StorageNode};

use super::{TxContext, accounts};
use crate::{Code, CollectionId, Event, Exec, Outcome, Pool, exec::reject};

const GIB: u64 = 1 << 30;
pub const MAX_REPLICAS: u64 = 16;
/// About a year of 2-second blocks.
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
        } => prove(ex, tx.sender, deal, *epoch, path, leaf),
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
    let epoch = ex.params.storage_epoch;
    let shortest = epoch + 1;
    if !(shortest..=MAX_DURATION).contains(&duration) {
        return reject(
            Code::BadDuration,
            &[u128::from(shortest), u128::from(MAX_DURATION)],
        );
    }
    let Some(escrow) = escrow_for(epoch, duration, replicas, price) else {
        return reject(Code::EscrowOverflow, &[]);
    };
    if escrow < ex.params.min_deal_escrow {
        return reject(
            Code::EscrowTooSmall,
            &[escrow.0, ex.params.min_deal_escrow.0],
        );
    }
    // The chain's own work at every boundary of every replica, paid now.
    let n = challenges(epoch, duration);
    ex.charge(
        ex.params
            .gas_deal_epoch
            .saturating_mul(replicas)
            .saturating_mul(n + 1),
    )?;
    ex.transfer(&tx.sender, &escrow_account(ex.suite()), escrow)?;
    let id = deal_id(ex.suite(), &tx.sender, tx.nonce);
    let start = ex.env.number;
    let deal = Deal {
        owner: tx.sender,
        cid: cid.to_vec(),
        size,
        replicas,
        price,
        start,
        end: start + (n + 1) * epoch,
        escrow,
        next_due: start + epoch,
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
        ex.params
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

fn prove<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
    epoch: u64,
    path: &[Vec<u8>],
    leaf: &[u8],
) -> Outcome {
    let Some(mut deal) = ex.load::<Deal>(id)? else {
        return reject(Code::NoSuchDeal, &[]);
    };
    let Some(i) = deal.holders.iter().position(|h| h.provider == me) else {
        return reject(Code::NotAHolder, &[]);
    };
    let Some(ch) = deal.holders[i].challenge else {
        return reject(Code::NoOpenChallenge, &[]);
    };
    if ch.epoch != epoch {
        return reject(Code::WrongEpoch, &[u128::from(ch.epoch), u128::from(epoch)]);
    }
    if ex.env.number > ch.deadline {
        return reject(Code::ChallengeClosed, &[u128::from(ch.deadline)]);
    }
    for node in path {
        ex.charge_hash(node.len())?;
    }
    ex.charge_hash(leaf.len())?;
    let proof = StorageProof {
        path: path.to_vec(),
        leaf: leaf.to_vec(),
    };
    let root = cid_from_bytes(&deal.cid).expect("checked when the deal opened");
    if let Err(f) = verify_proof(&root, deal.size, ch.offset, &proof) {
        return reject(fault_code(f), &[]);
    }
    let paid = deal.price.min(deal.escrow);
    deal.escrow = deal.escrow.checked_sub(paid).expect("min");
    let holder = &mut deal.holders[i];
    holder.challenge = None;
    holder.passes += 1;
    let mut node = ex.load::<StorageNode>(&me)?.unwrap_or_default();
    node.passes += 1;
    ex.save(&me, &node)?;
    ex.save(id, &deal)?;
    ex.transfer(&escrow_account(ex.suite()), &me, paid)?;
    let due = Amount(
        ex.params
            .storage_reward
            .0
            .saturating_mul(u128::from(deal.size))
            / u128::from(GIB),
    );
    let reward = accounts::pay_from_pool(ex, Pool::Community, &me, due)?;
    ex.emit(Event::Storage(StorageEvent::Proved {
        deal: *id,
        provider: me,
        epoch,
        paid,
        reward,
    }))
}

/// The start of every block: the deal boundaries that are due, oldest first, at most
/// `maxDueDeals` of them.
pub(crate) fn begin_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    let limit = usize::try_from(ex.params.max_due_deals).unwrap_or(usize::MAX);
    let due = ex.entries(CollectionId::DealSchedule, &[], limit)?;
    for (key, _) in due {
        let at = u64::from_be_bytes(key[..8].try_into().expect("schedule keys are 40 bytes"));
        if at > ex.env.number {
            break;
        }
        let id: Hash = key[8..].try_into().expect("schedule keys are 40 bytes");
        ex.remove_entry(CollectionId::DealSchedule, &key)?;
        boundary(ex, &id)?;
    }
    Ok(())
}

/// One deal's boundary: judge open challenges, then end the deal or draw new ones.
fn boundary<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, id: &Hash) -> Outcome {
    let Some(mut deal) = ex.load::<Deal>(id)? else {
        return Ok(());
    };
    let suite = ex.suite();
    let escrow = escrow_account(suite);
    let pool = Pool::Community.address(suite);
    for i in 0..deal.holders.len() {
        let Some(ch) = deal.holders[i].challenge.take() else {
            continue;
        };
        let provider = deal.holders[i].provider;
        let refund = deal.price.min(deal.escrow);
        deal.escrow = deal.escrow.checked_sub(refund).expect("min");
        ex.transfer(&escrow, &deal.owner, refund)?;
        let holder = &mut deal.holders[i];
        holder.misses += 1;
        let slashed = Amount(holder.bond.0 / 1_000 * u128::from(ex.params.storage_slash_permille));
        holder.bond = holder.bond.checked_sub(slashed).expect("a share");
        let mut node = ex.load::<StorageNode>(&provider)?.unwrap_or_default();
        node.misses += 1;
        node.stake = node.stake.checked_sub(slashed).unwrap_or_default();
        node.bonded = node.bonded.checked_sub(slashed).unwrap_or_default();
        ex.save(&provider, &node)?;
        ex.transfer(&escrow, &pool, slashed)?;
        ex.emit(Event::Storage(StorageEvent::Missed {
            deal: *id,
            provider,
            epoch: ch.epoch,
            slashed,
        }))?;
    }
    let number = ex.env.number;
    if number >= deal.end {
        return end_deal(ex, id, deal);
    }
    let epoch_len = ex.params.storage_epoch;
    let epoch = (deal.next_due - deal.start) / epoch_len;
    let deadline = number + ex.params.proof_window;
    for h in &mut deal.holders {
        let mut seed = ex.env.randomness.to_vec();
        seed.extend(id);
        seed.extend(h.provider.0);
        seed.extend(number.to_be_bytes());
        let draw = u64::from_be_bytes(suite.hash(&seed)[..8].try_into().expect("8"));
        let ch = Challenge {
            epoch,
            offset: draw % deal.size,
            deadline,
        };
        h.challenge = Some(ch);
        ex.emit(Event::Storage(StorageEvent::ChallengeIssued {
            deal: *id,
            provider: h.provider,
            epoch,
            offset: ch.offset,
            deadline,
        }))?;
    }
    // A late boundary (a backlog) still leaves the whole window before the next one.
    deal.next_due = (deal.next_due + epoch_len).max(deadline + 1);
    ex.put_entry(
        CollectionId::DealSchedule,
        &schedule_key(deal.next_due, id),
        &[1],
    )?;
    ex.save(id, &deal)
}

fn end_deal<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, id: &Hash, mut deal: Deal) -> Outcome {
    let refund = deal.escrow;
    ex.transfer(&escrow_account(ex.suite()), &deal.owner, refund)?;
    for h in &deal.holders {
        let mut node = ex.load::<StorageNode>(&h.provider)?.unwrap_or_default();
        node.committed = node.committed.saturating_sub(deal.size);
        node.bonded = node.bonded.checked_sub(h.bond).unwrap_or_default();
        ex.save(&h.provider, &node)?;
    }
    deal.escrow = Amount::ZERO;
    deal.next_due = 0;
    ex.save(id, &deal)?;
    ex.remove_entry(CollectionId::RunningDeals, id)?;
    ex.emit(Event::Storage(StorageEvent::DealEnded {
        deal: *id,
        refund,
    }))
}
