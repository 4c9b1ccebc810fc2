//! Taking deals: which candidates this node wants (its price, its free capacity and stake less
//! what it is already taking), fetching and checking the data in the background — at most
//! [`MAX_TAKING`] at a time — and what happens to a deal that could not be taken: tried again
//! later, a few times, or refused for good when the data is not an answerable file.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use metamesh_crypto::Address;
use metamesh_primitives::{Amount, Hash, StorageAction};
use metamesh_state::{Deal, StorageNode};
use metamesh_storage::{StorageError, check_file, cid_from_bytes};

use crate::NodeService;

const GIB: u64 = 1 << 30;
/// Deals fetched at once.
pub(super) const MAX_TAKING: usize = 2;
/// Failed tries (the data did not arrive, the chain refused) before a deal is left alone.
const MAX_TRIES: u32 = 5;

/// What the node's record leaves free, less what it is already taking.
#[derive(Clone, Copy, Debug)]
pub(super) struct Room {
    pub bytes: u64,
    pub stake: Amount,
}

impl Room {
    pub(super) fn of(node: &StorageNode, taking: &HashMap<Hash, (u64, Amount)>) -> Self {
        let (bytes, bonds) = taking.values().fold((0u64, 0u128), |(b, s), (size, bond)| {
            (b.saturating_add(*size), s.saturating_add(bond.0))
        });
        Room {
            bytes: node
                .capacity
                .saturating_sub(node.committed)
                .saturating_sub(bytes),
            stake: Amount(
                node.stake
                    .0
                    .saturating_sub(node.bonded.0)
                    .saturating_sub(bonds),
            ),
        }
    }
}

/// The bond a replica of `deal` takes.
pub(super) fn bond_for(deal: &Deal, stake_per_gib: Amount) -> Amount {
    Amount(
        stake_per_gib
            .0
            .saturating_mul(u128::from(deal.size.div_ceil(GIB))),
    )
}

/// Whether a node asking `price` with `room` would take a replica of `deal`.
pub(super) fn wants(me: &Address, price: Amount, room: Room, deal: &Deal, bond: Amount) -> bool {
    let asks = price.0.saturating_mul(u128::from(deal.size.div_ceil(GIB)));
    (deal.holders.len() as u64) < deal.replicas
        && !deal.ended()
        && !deal.holders.iter().any(|h| h.provider == *me)
        && deal.owner != *me
        && room.bytes >= deal.size
        && deal.price.0 >= asks
        && room.stake >= bond
}

/// The agent's bookkeeping of deals being taken, shared with the background tasks.
#[derive(Default)]
pub(super) struct Taking {
    /// In flight: the deal's size and the bond it will take.
    pub in_flight: HashMap<Hash, (u64, Amount)>,
    /// Failed tries so far.
    pub tries: HashMap<Hash, u32>,
    /// Deals never to try again.
    pub refused: HashSet<Hash>,
}

/// Why a deal was not taken: for now (the data did not arrive, the chain refused), or for good
/// (the data is not a file every challenge of which can be answered).
enum NotTaken {
    Retry(String),
    Refuse(String),
}

/// Takes `deal` in the background and records how it went.
pub(super) fn spawn_take(
    node: Arc<NodeService>,
    content: Arc<crate::Content>,
    taking: Arc<Mutex<Taking>>,
    id: Hash,
    deal: Deal,
) {
    tokio::spawn(async move {
        let result = take(&node, &content, &id, &deal).await;
        let mut t = taking.lock().expect("lock");
        t.in_flight.remove(&id);
        match result {
            Ok(()) => {
                t.tries.remove(&id);
            }
            Err(NotTaken::Refuse(e)) => {
                tracing::warn!(deal = %hex::encode(id), "refusing the deal: {e}");
                t.refused.insert(id);
            }
            Err(NotTaken::Retry(e)) => {
                let tries = t.tries.entry(id).or_default();
                *tries += 1;
                if *tries >= MAX_TRIES {
                    tracing::warn!(deal = %hex::encode(id), "giving up on the deal after {MAX_TRIES} tries: {e}");
                    t.refused.insert(id);
                } else {
                    tracing::warn!(deal = %hex::encode(id), "not taking the deal yet: {e}");
                }
            }
        }
    });
}

/// Fetches the deal's data, checks every block of it, pins it, then accepts the deal on chain.
async fn take(
    node: &NodeService,
    content: &crate::Content,
    id: &Hash,
    deal: &Deal,
) -> Result<(), NotTaken> {
    let root = cid_from_bytes(&deal.cid).map_err(|e| NotTaken::Refuse(e.to_string()))?;
    // Internal nodes add well under 1/64 of a file; anything bigger is not the deal's file.
    let bound = deal.size + deal.size / 64 + (1 << 20);
    let fetched = tokio::time::timeout(
        Duration::from_secs(300),
        content.fetch_bounded(&root, None, bound),
    )
    .await
    .map_err(|_| NotTaken::Retry("fetching the data took over 5 minutes".into()))?
    .map_err(|e| match e {
        // Blocks that do not hash or a DAG bigger than its size: fetching again changes nothing.
        StorageError::Malformed { .. } => NotTaken::Refuse(e.to_string()),
        other => NotTaken::Retry(other.to_string()),
    })?;
    // Bonding stake to a file with one bad block would lose a share of it at every challenge
    // that lands there: check it all now, as the chain will check each proof.
    let store = content.store().clone();
    let check = tokio::task::spawn_blocking(move || check_file(&store, &root))
        .await
        .map_err(|e| NotTaken::Retry(e.to_string()))?
        .map_err(|e| match e {
            StorageError::Malformed { .. } => NotTaken::Refuse(e.to_string()),
            other => NotTaken::Retry(other.to_string()),
        })?;
    if check.size != deal.size {
        return Err(NotTaken::Refuse(format!(
            "the file holds {} bytes, the deal says {}",
            check.size, deal.size
        )));
    }
    if check.repeats {
        tracing::info!(deal = %hex::encode(id), "the file repeats a block: the pool will pay no storage reward for it once proofs show that");
    }
    super::pins::hold(content, &root, id, deal.size).map_err(|e| NotTaken::Retry(e.to_string()))?;
    content.provide(&root);
    node.submit_own(StorageAction::Accept { deal: *id }.into())
        .map_err(|e| NotTaken::Retry(e.to_string()))?;
    tracing::info!(deal = %hex::encode(id), blocks = fetched.blocks, "deal taken");
    Ok(())
}
