//! The storage market in the state transition: key grants, storage offers, deals with escrow,
//! challenges drawn from the parent block's hash at every epoch boundary, and proofs checked
//! on chain.
//!
//! At a boundary block (number divisible by `storage_epoch`): an unanswered challenge is a
//! miss (the epoch's price goes back to the owner, the node's record counts it); a deal past its
//! end returns what is left in escrow; every holder of a running deal gets a new challenge — a
//! byte offset from `H(parent hash ‖ deal ‖ holder ‖ number)` — to answer within
//! `proof_window` blocks with the leaf holding it and the DAG path to the root. A pass pays
//! the epoch's price from escrow and the storage reward from the community pool.

use metamesh_crypto::{Address, PublicKey, Suite};
use metamesh_primitives::{Action, Amount, Hash};
use metamesh_storage::{DAG_PB, RAW, StorageProof, parse_cid, verify_proof};
use metamesh_trie::NodeStore;

use crate::{
    BlockEnv, Challenge, Deal, DealIndex, Event, KeyGrant, KeyGrants, Pool, Provider, Replica,
    State, StateError, StateKey,
};

const GIB: u64 = 1 << 30;
const MAX_REPLICAS: u64 = 16;
const MAX_WRAPPED: usize = 512;
/// About a year of 2-second blocks.
const MAX_DURATION: u64 = 16_000_000;

/// The id of the deal `owner` opens with the transaction of `nonce`.
pub fn deal_id(suite: Suite, owner: &Address, nonce: u64) -> Hash {
    let mut b = b"metamesh/deal".to_vec();
    b.extend(owner.0);
    b.extend(nonce.to_be_bytes());
    suite.hash(&b)
}

/// Where the grants of `cid` for the holder of `recipient` (SEC1 bytes) live.
pub fn grants_key(suite: Suite, cid: &str, recipient: &[u8]) -> StateKey {
    let mut b = cid.as_bytes().to_vec();
    b.push(0);
    b.extend(recipient);
    StateKey::KeyGrants(suite.hash(&b))
}

/// Epoch boundaries strictly inside `(start, end)`; none for an empty or inverted range.
fn boundaries(epoch: u64, start: u64, end: u64) -> u64 {
    if end <= start + 1 {
        return 0;
    }
    ((end - 1) / epoch).saturating_sub(start / epoch)
}

/// Escrow for a deal starting at `start`: replicas × challenged epochs × price.
pub fn escrow_for(
    params: &crate::Params,
    start: u64,
    duration: u64,
    replicas: u64,
    price: Amount,
) -> Option<Amount> {
    let epochs = boundaries(params.storage_epoch, start, start.checked_add(duration)?);
    price
        .0
        .checked_mul(u128::from(replicas) * u128::from(epochs))
        .map(Amount)
}

/// Reasons end up in receipts (and so in `receipts_root`): they are our own words only, never
/// a dependency's error text, which could change between versions of a crate.
fn check_cid(text: &str) -> Result<(), String> {
    let cid = parse_cid(text).map_err(|_| format!("`{text}` is not a CID"))?;
    if cid.hash().code() != metamesh_storage::SHA2_256 || ![DAG_PB, RAW].contains(&cid.codec()) {
        return Err(format!("{text} is not a sha2-256 dag-pb or raw CID"));
    }
    Ok(())
}

/// A registration names a valid CID and import profile, or neither.
pub(crate) fn check_registration(cid: &str, profile: &str) -> Result<(), String> {
    if cid.is_empty() {
        return if profile.is_empty() {
            Ok(())
        } else {
            Err("an import profile without a CID".into())
        };
    }
    check_cid(cid)?;
    profile
        .parse::<metamesh_storage::Profile>()
        .map(|_| ())
        .map_err(|_| format!("`{profile}` is not an import profile"))
}

/// The least escrow a deal may hold: 100 minimum fees, so the bounded list of running deals
/// cannot be filled for almost nothing.
fn min_escrow(env: &BlockEnv) -> Amount {
    Amount(env.params.min_fee.0.saturating_mul(100))
}

/// MMT the action takes from the sender beyond the fee.
pub(crate) fn cost(env: &BlockEnv, action: &Action) -> Result<Amount, String> {
    match action {
        Action::StorageDeal {
            duration,
            replicas,
            price,
            ..
        } => escrow_for(&env.params, env.number, *duration, *replicas, *price)
            .ok_or_else(|| "deal escrow overflows".to_string()),
        _ => Ok(Amount::ZERO),
    }
}

/// The storage reward of one passed challenge: `storage_reward` per GiB held (pro rata), so a
/// tiny deal earns next to nothing from the pool.
fn reward_for(env: &BlockEnv, size: u64) -> Amount {
    Amount(env.params.storage_reward.0.saturating_mul(u128::from(size)) / u128::from(GIB))
}

/// The rules of the storage actions, checked before anything is written.
pub(crate) fn check<S: NodeStore>(
    state: &State<S>,
    env: &BlockEnv,
    sender: &Address,
    action: &Action,
) -> Result<Result<(), String>, StateError> {
    let suite = state.suite();
    Ok(match action {
        Action::ShareKey {
            cid,
            recipient,
            wrapped,
        } => (|| {
            check_cid(cid)?;
            PublicKey::from_sec1(suite, recipient)
                .map_err(|_| format!("recipient is not a {suite} public key"))?;
            if wrapped.is_empty() || wrapped.len() > MAX_WRAPPED {
                return Err(format!("a wrapped key must be 1..={MAX_WRAPPED} bytes"));
            }
            Ok(())
        })()
        .and_then(|()| {
            let grants: KeyGrants = state
                .record(&grants_key(suite, cid, recipient))
                .ok()
                .flatten()
                .unwrap_or_default();
            let mine = grants.0.iter().any(|g| g.granter == *sender);
            if !mine && grants.0.len() >= KeyGrants::MAX {
                return Err(format!(
                    "{cid} already has {} grants for this recipient",
                    KeyGrants::MAX
                ));
            }
            Ok(())
        }),
        Action::StorageOffer { capacity, .. } => {
            let committed = state
                .record::<Provider>(&StateKey::Provider(*sender))?
                .map_or(0, |p| p.committed);
            if *capacity < committed {
                Err(format!(
                    "capacity {capacity} is below the {committed} bytes held under deals"
                ))
            } else {
                Ok(())
            }
        }
        Action::StorageDeal {
            cid,
            size,
            replicas,
            duration,
            ..
        } => {
            let index: DealIndex = state.record(&StateKey::DealIndex)?.unwrap_or_default();
            check_cid(cid).and_then(|()| {
                if *size == 0 {
                    Err("a deal needs a file of at least one byte".into())
                } else if !(1..=MAX_REPLICAS).contains(replicas) {
                    Err(format!("replicas must be 1..={MAX_REPLICAS}"))
                } else if *duration < env.params.storage_epoch || *duration > MAX_DURATION {
                    Err(format!(
                        "duration must be {}..={MAX_DURATION} blocks",
                        env.params.storage_epoch
                    ))
                } else if cost(env, action).is_ok_and(|e| e < min_escrow(env)) {
                    Err(format!(
                        "a deal's escrow must be at least {}",
                        min_escrow(env)
                    ))
                } else if index.0.len() >= DealIndex::MAX {
                    Err(format!(
                        "{} deals are running, the most the chain holds",
                        DealIndex::MAX
                    ))
                } else {
                    Ok(())
                }
            })
        }
        Action::AcceptDeal { deal } => {
            let d: Option<Deal> = state.record(&StateKey::Deal(*deal))?;
            let p: Option<Provider> = state.record(&StateKey::Provider(*sender))?;
            match (d, p) {
                (None, _) => Err(format!("no deal 0x{}", hex::encode(deal))),
                (_, None) => {
                    Err("only a registered storage node (storage offer) can accept".into())
                }
                (Some(d), Some(p)) => {
                    let asks = p.price.0.saturating_mul(u128::from(d.size.div_ceil(GIB)));
                    if env.number >= d.end {
                        Err("the deal has ended".into())
                    } else if d.holders.len() as u64 >= d.replicas {
                        Err("every replica of the deal is taken".into())
                    } else if d.holders.iter().any(|h| h.provider == *sender) {
                        Err("already holds a replica of this deal".into())
                    } else if d.owner == *sender {
                        Err("the owner of a deal cannot hold it".into())
                    } else if p.capacity.saturating_sub(p.committed) < d.size {
                        Err(format!(
                            "{} free bytes cannot hold {}",
                            p.capacity - p.committed,
                            d.size
                        ))
                    } else if d.price.0 < asks {
                        Err(format!(
                            "the deal pays {} per epoch; this node asks {}",
                            d.price,
                            Amount(asks)
                        ))
                    } else {
                        Ok(())
                    }
                }
            }
        }
        Action::ProveStorage {
            deal,
            epoch,
            path,
            leaf,
        } => match state.record::<Deal>(&StateKey::Deal(*deal))? {
            None => Err(format!("no deal 0x{}", hex::encode(deal))),
            Some(d) => match d.holders.iter().find(|h| h.provider == *sender) {
                None => Err("not a holder of this deal".into()),
                Some(Replica {
                    challenge: None, ..
                }) => Err("no open challenge".into()),
                Some(Replica {
                    challenge: Some(ch),
                    ..
                }) => {
                    if ch.epoch != *epoch {
                        Err(format!(
                            "the open challenge is of epoch {}, not {epoch}",
                            ch.epoch
                        ))
                    } else if env.number > ch.deadline {
                        Err(format!("the challenge closed at block {}", ch.deadline))
                    } else {
                        let proof = StorageProof {
                            path: path.clone(),
                            leaf: leaf.clone(),
                        };
                        match parse_cid(&d.cid) {
                            Ok(root) => verify_proof(&root, ch.offset, &proof)
                                .map_err(|e| format!("proof rejected: {e}")),
                            Err(_) => Err("the deal's CID is unreadable".into()),
                        }
                    }
                }
            },
        },
        _ => Ok(()),
    })
}

fn move_mmt<S: NodeStore>(
    state: &mut State<S>,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Result<(), StateError> {
    let mut a = state.account(from)?;
    a.balance = a
        .balance
        .checked_sub(amount)
        .expect("checked by the caller");
    state.set_account(from, &a)?;
    let mut b = state.account(to)?;
    b.balance = b
        .balance
        .checked_add(amount)
        .expect("bounded by the supply");
    state.set_account(to, &b)
}

/// Does a checked storage action. The sender's nonce and fee are already settled.
pub(crate) fn apply<S: NodeStore>(
    state: &mut State<S>,
    env: &BlockEnv,
    sender: Address,
    nonce: u64,
    action: &Action,
) -> Result<Vec<Event>, StateError> {
    let suite = state.suite();
    let mut events = Vec::new();
    match action {
        Action::ShareKey {
            cid,
            recipient,
            wrapped,
        } => {
            let key = grants_key(suite, cid, recipient);
            let mut grants: KeyGrants = state.record(&key)?.unwrap_or_default();
            grants.0.retain(|g| g.granter != sender);
            grants.0.push(KeyGrant {
                granter: sender,
                block: env.number,
                recipient: recipient.clone(),
                wrapped: wrapped.clone(),
            });
            state.set_record(&key, &grants)?;
            let to = PublicKey::from_sec1(suite, recipient)
                .expect("checked")
                .address();
            events.push(Event::KeyShared {
                granter: sender,
                recipient: to,
            });
        }
        Action::StorageOffer { capacity, price } => {
            let key = StateKey::Provider(sender);
            let mut p: Provider = state.record(&key)?.unwrap_or_default();
            p.capacity = *capacity;
            p.price = *price;
            state.set_record(&key, &p)?;
            events.push(Event::StorageOffered { provider: sender });
        }
        Action::StorageDeal {
            cid,
            size,
            replicas,
            duration,
            price,
        } => {
            let escrow = cost(env, action).expect("checked");
            let id = deal_id(suite, &sender, nonce);
            let mut owner = state.account(&sender)?;
            owner.balance = owner.balance.checked_sub(escrow).expect("checked");
            state.set_account(&sender, &owner)?;
            let deal = Deal {
                owner: sender,
                cid: cid.clone(),
                size: *size,
                replicas: *replicas,
                price: *price,
                start: env.number,
                end: env.number + duration,
                escrow,
                holders: Vec::new(),
            };
            state.set_record(&StateKey::Deal(id), &deal)?;
            let mut index: DealIndex = state.record(&StateKey::DealIndex)?.unwrap_or_default();
            index.0.push(id);
            state.set_record(&StateKey::DealIndex, &index)?;
            events.push(Event::DealOpened {
                deal: id,
                owner: sender,
                escrow,
            });
        }
        Action::AcceptDeal { deal } => {
            let mut d: Deal = state.record(&StateKey::Deal(*deal))?.expect("checked");
            d.holders.push(Replica {
                provider: sender,
                passes: 0,
                misses: 0,
                challenge: None,
            });
            let mut p: Provider = state.record(&StateKey::Provider(sender))?.expect("checked");
            p.committed += d.size;
            state.set_record(&StateKey::Provider(sender), &p)?;
            state.set_record(&StateKey::Deal(*deal), &d)?;
            events.push(Event::DealAccepted {
                deal: *deal,
                provider: sender,
            });
        }
        Action::ProveStorage { deal, epoch, .. } => {
            let mut d: Deal = state.record(&StateKey::Deal(*deal))?.expect("checked");
            let holder = d
                .holders
                .iter_mut()
                .find(|h| h.provider == sender)
                .expect("checked");
            holder.challenge = None;
            holder.passes += 1;
            let paid = d.price.min(d.escrow);
            d.escrow = d.escrow.checked_sub(paid).expect("min");
            let mut p: Provider = state
                .record(&StateKey::Provider(sender))?
                .expect("a holder");
            p.passes += 1;
            state.set_record(&StateKey::Provider(sender), &p)?;
            state.set_record(&StateKey::Deal(*deal), &d)?;
            let mut me = state.account(&sender)?;
            me.balance = me.balance.checked_add(paid).expect("bounded");
            state.set_account(&sender, &me)?;
            let pool = Pool::Community.address(suite);
            let reward = reward_for(env, d.size).min(state.account(&pool)?.balance);
            move_mmt(state, &pool, &sender, reward)?;
            events.push(Event::StorageProved {
                deal: *deal,
                provider: sender,
                epoch: *epoch,
                paid,
                reward,
            });
        }
        _ => unreachable!("not a storage action"),
    }
    Ok(events)
}

/// The epoch boundary's work: misses, ended deals, new challenges. Runs before the block's
/// transactions, so a challenge can be answered from the next block on.
pub(crate) fn epoch_boundary<S: NodeStore>(
    state: &mut State<S>,
    env: &BlockEnv,
) -> Result<Vec<Event>, StateError> {
    let epoch_len = env.params.storage_epoch;
    if env.number == 0 || !env.number.is_multiple_of(epoch_len) {
        return Ok(Vec::new());
    }
    let suite = state.suite();
    let mut events = Vec::new();
    let mut index: DealIndex = state.record(&StateKey::DealIndex)?.unwrap_or_default();
    let mut running = Vec::with_capacity(index.0.len());
    for id in index.0.drain(..) {
        let key = StateKey::Deal(id);
        let Some(mut deal) = state.record::<Deal>(&key)? else {
            continue;
        };
        for i in 0..deal.holders.len() {
            let Some(ch) = deal.holders[i].challenge.take() else {
                continue;
            };
            let provider = deal.holders[i].provider;
            deal.holders[i].misses += 1;
            let refund = deal.price.min(deal.escrow);
            deal.escrow = deal.escrow.checked_sub(refund).expect("min");
            let mut owner = state.account(&deal.owner)?;
            owner.balance = owner.balance.checked_add(refund).expect("bounded");
            state.set_account(&deal.owner, &owner)?;
            let pkey = StateKey::Provider(provider);
            if let Some(mut p) = state.record::<Provider>(&pkey)? {
                p.misses += 1;
                state.set_record(&pkey, &p)?;
            }
            events.push(Event::ChallengeMissed {
                deal: id,
                provider,
                epoch: ch.epoch,
            });
        }
        if env.number >= deal.end {
            let mut owner = state.account(&deal.owner)?;
            owner.balance = owner.balance.checked_add(deal.escrow).expect("bounded");
            state.set_account(&deal.owner, &owner)?;
            for h in &deal.holders {
                let pkey = StateKey::Provider(h.provider);
                if let Some(mut p) = state.record::<Provider>(&pkey)? {
                    p.committed = p.committed.saturating_sub(deal.size);
                    state.set_record(&pkey, &p)?;
                }
            }
            events.push(Event::DealEnded {
                deal: id,
                refund: deal.escrow,
            });
            deal.escrow = Amount::ZERO;
            state.set_record(&key, &deal)?;
            continue;
        }
        for h in &mut deal.holders {
            let mut seed = env.parent_hash.to_vec();
            seed.extend(id);
            seed.extend(h.provider.0);
            seed.extend(env.number.to_be_bytes());
            let draw = u64::from_be_bytes(suite.hash(&seed)[..8].try_into().expect("8"));
            h.challenge = Some(Challenge {
                epoch: env.number / epoch_len,
                offset: draw % deal.size,
                deadline: env.number + env.params.proof_window,
            });
        }
        state.set_record(&key, &deal)?;
        running.push(id);
    }
    index.0 = running;
    state.set_record(&StateKey::DealIndex, &index)?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::boundaries;

    #[test]
    fn boundaries_inside_a_range_never_underflow() {
        assert_eq!(boundaries(10, 2, 37), 3);
        assert_eq!(boundaries(10, 10, 10), 0);
        assert_eq!(boundaries(10, 10, 9), 0);
        assert_eq!(boundaries(10, 10, 11), 0);
        assert_eq!(boundaries(10, 10, 21), 1);
        assert_eq!(boundaries(10, u64::MAX - 1, u64::MAX), 0);
    }
}
