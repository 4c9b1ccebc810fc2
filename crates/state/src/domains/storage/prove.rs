//! A holder's answer to its challenge: the proof is checked against the deal's root and size,
//! the blocks it went through are recorded per file, across all its deals (a block at a second
//! offset stops the rewards of every deal on the file), then the epoch's price is paid from
//! escrow and the reward from the pool.

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
    let shown = path.iter().map(Vec::len).sum::<usize>() + leaf.len();
    deal.proof_bytes = deal.proof_bytes.max(shown as u64);
    if let Some(block) = record_blocks(ex, &deal.cid, &blocks)?
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

/// Records where each proven block of the file `root` starts. Returns the block already seen
/// at another offset (as a binary CID) if this proof shows one, or an empty CID if an earlier
/// proof of the file did (the file's mark, `H(root)` alone, is set then).
fn record_blocks<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    root: &[u8],
    blocks: &ProvenBlocks,
) -> Outcome<Option<Vec<u8>>> {
    ex.charge_hash(root.len())?;
    let file = ex.suite().hash(root).to_vec();
    if ex.entry(CollectionId::FileBlocks, &file)?.is_some() {
        return Ok(Some(Vec::new()));
    }
    let mut repeated = None;
    for (cid, start) in blocks {
        let cid = cid.to_bytes();
        let mut key = file.clone();
        key.extend(&cid);
        let start = start.to_be_bytes();
        match ex.entry(CollectionId::FileBlocks, &key)? {
            None => ex.put_entry(CollectionId::FileBlocks, &key, &start)?,
            Some(seen) if seen == start => {}
            Some(_) => {
                repeated.get_or_insert(cid);
            }
        }
    }
    if repeated.is_some() {
        ex.put_entry(CollectionId::FileBlocks, &file, &[1])?;
    }
    Ok(repeated)
}
