//! A holder's answer to its challenge: the proof is checked against the deal's root and size,
//! the blocks it went through are recorded per deal (a block at a second offset stops the
//! deal's rewards), then the epoch's price is paid from escrow and the reward from the pool.

use metamesh_crypto::Address;
use metamesh_primitives::{Amount, Hash};
use metamesh_storage::{ProvenBlocks, StorageProof, cid_from_bytes, verify_proof};
use metamesh_trie::NodeStore;

use super::{Deal, GIB, StorageEvent, StorageNode, escrow_account, fault_code};
use crate::{Code, CollectionId, Event, Exec, Outcome, Payout, domains::accounts, exec::reject};

pub(super) fn prove<S: NodeStore + Clone>(
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
    if ex.env().number > ch.deadline {
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
    let Ok(root) = cid_from_bytes(&deal.cid) else {
        return reject(Code::BadCid, &[]);
    };
    let blocks = match verify_proof(&root, deal.size, ch.offset, &proof) {
        Ok(blocks) => blocks,
        Err(f) => return reject(fault_code(f), &[]),
    };
    if let Some(block) = record_blocks(ex, id, &blocks)?
        && deal.rewarded
    {
        deal.rewarded = false;
        ex.emit(Event::Storage(StorageEvent::BlockRepeated {
            deal: *id,
            provider: me,
            block,
        }))?;
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
    let reward = if deal.rewarded {
        let due = ex
            .params()
            .storage_reward
            .0
            .saturating_mul(u128::from(deal.size))
            / u128::from(GIB);
        accounts::pay_from_pool(ex, Payout::Storage, &me, Amount(due))?
    } else {
        Amount::ZERO
    };
    ex.emit(Event::Storage(StorageEvent::Proved {
        deal: *id,
        provider: me,
        epoch,
        paid,
        reward,
    }))
}

/// Records where each proven block starts; the first block already seen at another offset,
/// if any (as a binary CID).
fn record_blocks<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    id: &Hash,
    blocks: &ProvenBlocks,
) -> Outcome<Option<Vec<u8>>> {
    let mut repeated = None;
    for (cid, start) in blocks {
        let cid = cid.to_bytes();
        let mut key = id.to_vec();
        key.extend(&cid);
        let start = start.to_be_bytes();
        match ex.entry(CollectionId::DealBlocks, &key)? {
            None => ex.put_entry(CollectionId::DealBlocks, &key, &start)?,
            Some(seen) if seen == start => {}
            Some(_) => {
                repeated.get_or_insert(cid);
            }
        }
    }
    Ok(repeated)
}
