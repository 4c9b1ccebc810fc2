//! Deal boundaries, at the start of a block: judge the open challenges, pay the sealer for the
//! work from the deal's reserve, then end the deal or draw new challenges.

use metamesh_primitives::{Amount, Hash};
use metamesh_trie::NodeStore;

use super::{Challenge, Deal, StorageEvent, StorageNode, escrow_account, schedule_key};
use crate::{AccountEvent, CollectionId, Event, Exec, Fail, Outcome, Pool};

/// The deal boundaries that are due, oldest first: at most `maxDueDeals` of them, and no more
/// than the challenges they draw can be answered in (`maxChallengeBytes` of proofs); those
/// that do not fit wait a block. Each runs in a layer of its own: one that fails is dropped with a
/// `boundaryFailed` event and tried again an epoch later, and the block goes on (a fault in
/// one deal must not stall the chain).
pub(crate) fn begin_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome {
    let p = ex.params();
    let limit = usize::try_from(p.max_due_deals).unwrap_or(usize::MAX);
    let due = ex.entries(CollectionId::DealSchedule, &[], limit)?;
    let number = ex.env().number;
    let mut asked = 0u64;
    for (key, _) in due {
        let (Some(at), Some(id)) = (
            key.get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes),
            key.get(8..).and_then(|b| Hash::try_from(b).ok()),
        ) else {
            // Not a key this domain writes: drop it rather than stop every block on it.
            ex.remove_entry(CollectionId::DealSchedule, &key)?;
            continue;
        };
        if at > number {
            break;
        }
        let Some(deal) = ex.load::<Deal>(&id)? else {
            ex.remove_entry(CollectionId::DealSchedule, &key)?;
            continue;
        };
        let demand = challenge_bytes(&deal, number, p.max_proof_tx_bytes);
        // One that does not fit waits, and is the oldest next block; later ones that fit (an
        // end asks for nothing) go on.
        if asked > 0 && asked.saturating_add(demand) > p.max_challenge_bytes {
            continue;
        }
        asked = asked.saturating_add(demand);
        ex.remove_entry(CollectionId::DealSchedule, &key)?;
        match ex.layer(|ex| boundary(ex, &id, deal.clone())) {
            Ok(()) => {}
            Err(Fail::Reject(r)) => {
                let retry = number.saturating_add(deal.epoch.max(1));
                ex.put_entry(CollectionId::DealSchedule, &schedule_key(retry, &id), &[1])?;
                ex.save(
                    &id,
                    &Deal {
                        next_due: retry,
                        ..deal
                    },
                )?;
                ex.emit(Event::Storage(StorageEvent::BoundaryFailed {
                    deal: id,
                    code: r.code as u16,
                }))?
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The proof bytes the challenges this boundary draws will ask for: none at the end, else each
/// holder's proof as large as the deal's largest so far (the largest allowed before the first).
fn challenge_bytes(deal: &Deal, number: u64, max_proof: u64) -> u64 {
    if number >= deal.end {
        return 0;
    }
    let each = if deal.proof_bytes == 0 {
        max_proof
    } else {
        deal.proof_bytes
    };
    each.saturating_mul(deal.holders.len() as u64)
}

/// One deal's boundary.
fn boundary<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, id: &Hash, mut deal: Deal) -> Outcome {
    pay_sealer(ex, &mut deal)?;
    judge(ex, id, &mut deal)?;
    let number = ex.env().number;
    if number >= deal.end {
        return end_deal(ex, id, deal);
    }
    let epoch_len = deal.epoch;
    let epoch = (deal.next_due - deal.start) / epoch_len;
    let deadline = number.saturating_add(ex.params().proof_window);
    let suite = ex.suite();
    for h in &mut deal.holders {
        let mut seed = ex.env().randomness.to_vec();
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
    deal.next_due = deal
        .next_due
        .saturating_add(epoch_len)
        .max(deadline.saturating_add(1));
    ex.put_entry(
        CollectionId::DealSchedule,
        &schedule_key(deal.next_due, id),
        &[1],
    )?;
    ex.save(id, &deal)
}

/// The sealer's pay for running this boundary, out of the deal's reserve.
fn pay_sealer<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, deal: &mut Deal) -> Outcome {
    let fee = deal.fee.min(deal.reserve);
    if fee == Amount::ZERO {
        return Ok(());
    }
    deal.reserve = deal.reserve.checked_sub(fee).expect("min");
    let (module, sealer) = (escrow_account(ex.suite()), ex.env().sealer);
    ex.transfer(&module, &sealer, fee)?;
    ex.emit(Event::Accounts(AccountEvent::Fee {
        from: module,
        sealer,
        amount: fee,
    }))
}

/// Every unanswered challenge is a miss: the epoch's price back to the owner, a share of the
/// holder's bond to the community pool.
fn judge<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, id: &Hash, deal: &mut Deal) -> Outcome {
    let escrow = escrow_account(ex.suite());
    let pool = Pool::Community.address(ex.suite());
    let permille = u128::from(ex.params().storage_slash_permille);
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
        let slashed = Amount(holder.bond.0 / 1_000 * permille);
        holder.bond = holder.bond.checked_sub(slashed).expect("a share");
        let mut node = ex.load::<StorageNode>(&provider)?.unwrap_or_default();
        node.misses += 1;
        node.stake = node.stake.checked_sub(slashed).unwrap_or_default();
        node.bonded = node.bonded.checked_sub(slashed).unwrap_or_default();
        ex.save(&provider, &node)?;
        ex.transfer(&escrow, &pool, slashed)?;
        ex.emit(Event::Storage(StorageEvent::Missed {
            deal: *id,
            owner: deal.owner,
            provider,
            epoch: ch.epoch,
            refund,
            slashed,
        }))?;
    }
    Ok(())
}

/// The last boundary: what is left of the escrow and the reserve goes back to the owner, and
/// the holders' bonds and capacity are released.
fn end_deal<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, id: &Hash, mut deal: Deal) -> Outcome {
    let (refund, reserve) = (deal.escrow, deal.reserve);
    let back = refund.checked_add(reserve).expect("both within the supply");
    ex.transfer(&escrow_account(ex.suite()), &deal.owner, back)?;
    for h in &deal.holders {
        let mut node = ex.load::<StorageNode>(&h.provider)?.unwrap_or_default();
        node.committed = node.committed.saturating_sub(deal.size);
        node.bonded = node.bonded.checked_sub(h.bond).unwrap_or_default();
        ex.save(&h.provider, &node)?;
    }
    deal.escrow = Amount::ZERO;
    deal.reserve = Amount::ZERO;
    deal.next_due = 0;
    ex.save(id, &deal)?;
    ex.remove_entry(CollectionId::RunningDeals, id)?;
    ex.emit(Event::Storage(StorageEvent::DealEnded {
        deal: *id,
        owner: deal.owner,
        refund,
        reserve,
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use metamesh_crypto::{Address, Suite};
    use metamesh_trie::MemoryStore;

    use super::*;
    use crate::{BlockEnv, Challenge, Code, Genesis, Replica, State, apply_block};

    /// A deal whose escrow the module does not hold (no honest history leads here): its
    /// boundary fails alone, the block and the other boundaries go on.
    #[test]
    fn a_failing_boundary_does_not_stall_the_block() {
        let suite = Suite::Sm;
        let mut state = State::empty(suite, Arc::new(MemoryStore::new()));
        let genesis = Genesis::dev(1, suite, 0, 1, vec![Address([1; 20])], &[], Amount::ZERO);
        genesis.apply(&mut state).unwrap();
        let holder = |challenge| Replica {
            provider: Address([2; 20]),
            bond: Amount::ZERO,
            passes: 0,
            misses: 0,
            challenge,
        };
        let open = Challenge {
            epoch: 0,
            offset: 0,
            deadline: 0,
        };
        let deal = |escrow, challenge| Deal {
            owner: Address([3; 20]),
            cid: vec![],
            size: 1,
            replicas: 1,
            price: Amount(5),
            epoch: 10,
            start: 0,
            end: 100,
            escrow: Amount(escrow),
            fee: Amount::ZERO,
            reserve: Amount::ZERO,
            next_due: 1,
            proof_bytes: 0,
            rewarded: true,
            holders: vec![holder(challenge)],
        };
        let (broken, fine) = ([0xb; 32], [0xf; 32]);
        state.save(&broken, &deal(5, Some(open))).unwrap();
        state.save(&fine, &deal(0, None)).unwrap();
        for id in [broken, fine] {
            let key = schedule_key(1, &id);
            state
                .put_entry(CollectionId::DealSchedule, &key, Some(&[1]))
                .unwrap();
        }
        let env = BlockEnv {
            chain_id: 1,
            number: 1,
            timestamp: 1,
            parent_hash: [0; 32],
            sealer: Address([1; 20]),
            gas_limit: genesis.params.block_gas_limit,
            randomness: [9; 32],
        };
        let out = apply_block(&mut state, &env, &[]).unwrap();
        assert!(
            out.system_events()
                .contains(&Event::Storage(StorageEvent::BoundaryFailed {
                    deal: broken,
                    code: Code::InsufficientBalance as u16
                }))
        );
        // The broken deal is as it was, and is tried again an epoch later; the other one drew
        // its challenge.
        let stuck = state.load::<Deal>(&broken).unwrap().unwrap();
        assert_eq!((stuck.escrow, stuck.next_due), (Amount(5), 11));
        assert!(
            state
                .entry(CollectionId::DealSchedule, &schedule_key(11, &broken))
                .unwrap()
                .is_some()
        );
        let fine = state.load::<Deal>(&fine).unwrap().unwrap();
        assert!(fine.holders[0].challenge.is_some() && fine.next_due > 1);
    }
}
