//! The storage node's agent: with a registered offer (`storage offer`) and a signer key, it
//! takes deals that pay its price and fit its free capacity and stake (fetching the data and
//! checking every block of it as the chain will check proofs, then pinning it), and answers
//! each challenge to it with a proof built from its own store. It
//! follows the chain's events ([`EventFollower`]): `dealOpened` brings candidates,
//! `challengeIssued` for this node brings work, `dealEnded` lets it unpin. If the data is gone
//! it cannot answer, and the chain records the miss and slashes part of its bond.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use metamesh_crypto::Address;
use metamesh_primitives::{Amount, Hash, StorageAction};
use metamesh_state::{CollectionId, Deal, Event, StorageEvent, StorageNode};
use metamesh_storage::{PinInfo, build_proof, check_file, cid_from_bytes};
use tokio::sync::watch;

use crate::{EventFollower, NodeService};

const GIB: u64 = 1 << 30;

/// Whether a node with record `node` would take a replica of `deal` at block `head`.
fn wants(me: &Address, node: &StorageNode, deal: &Deal, stake_per_gib: Amount) -> bool {
    let gib = u128::from(deal.size.div_ceil(GIB));
    let asks = node.price.0.saturating_mul(gib);
    let bond = stake_per_gib.0.saturating_mul(gib);
    let free_stake = node.stake.0.saturating_sub(node.bonded.0);
    (deal.holders.len() as u64) < deal.replicas
        && !deal.ended()
        && !deal.holders.iter().any(|h| h.provider == *me)
        && deal.owner != *me
        && node.capacity.saturating_sub(node.committed) >= deal.size
        && deal.price.0 >= asks
        && free_stake >= bond
}

/// A challenge this node has to answer, and when its proof last went out.
#[derive(Clone, Copy)]
struct Open {
    deadline: u64,
    offset: u64,
    sent_at: Option<u64>,
}

struct Agent {
    node: Arc<NodeService>,
    content: Arc<crate::Content>,
    me: Address,
    follower: EventFollower,
    /// Deals worth a look (opened, or not taken yet).
    candidates: HashSet<Hash>,
    open: HashMap<(Hash, u64), Open>,
    unanswerable: HashSet<(Hash, u64)>,
    taking: Arc<std::sync::Mutex<HashSet<Hash>>>,
    /// Deals whose data failed the check: never tried again.
    refused: Arc<std::sync::Mutex<HashSet<Hash>>>,
}

/// Runs until `shutdown` turns true.
pub async fn run_storage_agent(node: Arc<NodeService>, mut shutdown: watch::Receiver<bool>) {
    let Some(content) = node.content().cloned() else {
        return;
    };
    let Some(me) = node.signer() else {
        return;
    };
    let Ok(follower) = EventFollower::from_head(&node.chain_view()) else {
        return;
    };
    let mut agent = Agent {
        node: node.clone(),
        content,
        me,
        follower,
        candidates: HashSet::new(),
        open: HashMap::new(),
        unanswerable: HashSet::new(),
        taking: Default::default(),
        refused: Default::default(),
    };
    agent.catch_up();
    let mut heads = node.subscribe_heads();
    loop {
        tokio::select! {
            _ = heads.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
        agent.step();
    }
}

impl Agent {
    /// What happened while the agent was not running: every running deal is a candidate, and
    /// its open challenges to this node are work.
    fn catch_up(&mut self) {
        let me = self.me;
        let deals = self.node.with_chain(|chain| {
            let state = chain.state();
            let mut out = Vec::new();
            let mut start = Vec::new();
            while let Ok(page) = state.entries(CollectionId::RunningDeals, &start, 256) {
                let Some((last, _)) = page.last() else { break };
                start = last.clone();
                start.push(0);
                for (key, _) in &page {
                    if let Ok(id) = Hash::try_from(key.as_slice())
                        && let Ok(Some(deal)) = state.load::<Deal>(&id)
                    {
                        out.push((id, deal));
                    }
                }
            }
            out
        });
        for (id, deal) in deals {
            match deal.holders.iter().find(|h| h.provider == me) {
                Some(h) => {
                    if let Some(ch) = h.challenge {
                        self.open.insert(
                            (id, ch.epoch),
                            Open {
                                deadline: ch.deadline,
                                offset: ch.offset,
                                sent_at: None,
                            },
                        );
                    }
                }
                None => {
                    self.candidates.insert(id);
                }
            }
        }
    }

    fn step(&mut self) {
        let view = self.node.chain_view();
        loop {
            let before = self.follower.cursor();
            let batch = match self.follower.poll(&view, 1_000) {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!("storage agent: events: {e}");
                    break;
                }
            };
            // Empty and not moved: at the head, or waiting on a reorg the next step sees.
            if batch.is_empty() && (self.follower.caught_up() || self.follower.cursor() == before) {
                break;
            }
            for d in batch.into_iter().filter(|d| !d.removed) {
                self.on_event(d.event.event);
            }
        }
        let head = self.node.with_chain(|c| c.head().number);
        self.answer(head);
        self.take();
        release_ended(&self.node, &self.content, head);
    }

    fn on_event(&mut self, event: Event) {
        let Event::Storage(e) = event else { return };
        match e {
            StorageEvent::DealOpened { deal, .. } => {
                self.candidates.insert(deal);
            }
            StorageEvent::ChallengeIssued {
                deal,
                provider,
                epoch,
                offset,
                deadline,
            } if provider == self.me => {
                self.open.insert(
                    (deal, epoch),
                    Open {
                        deadline,
                        offset,
                        sent_at: None,
                    },
                );
            }
            StorageEvent::Offered { .. }
            | StorageEvent::DealAccepted { .. }
            | StorageEvent::ChallengeIssued { .. }
            | StorageEvent::Proved { .. }
            | StorageEvent::Missed { .. }
            | StorageEvent::DealEnded { .. }
            | StorageEvent::BlockRepeated { .. }
            | StorageEvent::BoundaryFailed { .. } => {}
        }
    }

    /// Sends a proof for each open challenge, again if it is still open two blocks later (a
    /// proof can be dropped or crowded out of blocks).
    fn answer(&mut self, head: u64) {
        self.open.retain(|_, o| head <= o.deadline);
        let due: Vec<((Hash, u64), Open)> = self
            .open
            .iter()
            .filter(|(k, o)| {
                !self.unanswerable.contains(k) && o.sent_at.is_none_or(|at| head >= at + 2)
            })
            .map(|(k, o)| (*k, *o))
            .collect();
        for ((id, epoch), open) in due {
            let deal = self
                .node
                .with_chain(|c| c.state().load::<Deal>(&id).ok().flatten());
            let still_open = deal.as_ref().is_some_and(|d| {
                d.holders
                    .iter()
                    .any(|h| h.provider == self.me && h.challenge.is_some_and(|c| c.epoch == epoch))
            });
            let (Some(deal), true) = (deal, still_open) else {
                self.open.remove(&(id, epoch));
                continue;
            };
            let Ok(root) = cid_from_bytes(&deal.cid) else {
                continue;
            };
            match build_proof(self.content.store(), &root, open.offset) {
                Ok(proof) => {
                    let action = StorageAction::Prove {
                        deal: id,
                        epoch,
                        path: proof.path,
                        leaf: proof.leaf,
                    };
                    match self.node.submit_own(action.into()) {
                        Ok(_) => {
                            tracing::info!(deal = %hex::encode(id), epoch, "storage proof sent")
                        }
                        Err(e) => {
                            tracing::warn!(deal = %hex::encode(id), "storage proof refused: {e}")
                        }
                    }
                    if let Some(o) = self.open.get_mut(&(id, epoch)) {
                        o.sent_at = Some(head);
                    }
                }
                Err(e) => {
                    self.unanswerable.insert((id, epoch));
                    tracing::warn!(deal = %hex::encode(id), epoch, "cannot answer the storage challenge: {e}");
                }
            }
        }
    }

    /// Starts taking each candidate deal this node wants (in the background: fetching takes
    /// time); a candidate it cannot take now stays one.
    fn take(&mut self) {
        let me = self.me;
        let Some((node_record, stake_per_gib)) = self.node.with_chain(|c| {
            let state = c.state();
            let record = state.load::<StorageNode>(&me).ok().flatten()?;
            Some((record, c.next_params().ok()?.storage_stake_per_gib))
        }) else {
            return;
        };
        let candidates: Vec<Hash> = self.candidates.iter().copied().collect();
        for id in candidates {
            let Some(deal) = self
                .node
                .with_chain(|c| c.state().load::<Deal>(&id).ok().flatten())
            else {
                self.candidates.remove(&id);
                continue;
            };
            let full = deal.ended() || deal.holders.len() as u64 >= deal.replicas;
            let refused = self.refused.lock().expect("lock").contains(&id);
            if full || refused || deal.holders.iter().any(|h| h.provider == me) {
                self.candidates.remove(&id);
                continue;
            }
            if !wants(&me, &node_record, &deal, stake_per_gib)
                || !self.taking.lock().expect("lock").insert(id)
            {
                continue;
            }
            let (node, content, taking, refused) = (
                self.node.clone(),
                self.content.clone(),
                self.taking.clone(),
                self.refused.clone(),
            );
            tokio::spawn(async move {
                match take(&node, &content, &id, &deal).await {
                    Ok(()) => {}
                    Err(NotTaken::Refuse(e)) => {
                        tracing::warn!(deal = %hex::encode(id), "refusing the deal: {e}");
                        refused.lock().expect("lock").insert(id);
                    }
                    Err(NotTaken::Retry(e)) => {
                        tracing::warn!(deal = %hex::encode(id), "not taking the deal yet: {e}");
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                }
                taking.lock().expect("lock").remove(&id);
            });
        }
    }
}

/// Unpins the data of deals this agent took that have ended (the next collection frees it).
fn release_ended(node: &NodeService, content: &crate::Content, head: u64) {
    let Ok(pins) = content.store().pins() else {
        return;
    };
    for (cid, info) in pins {
        let Some(id) = info
            .name
            .strip_prefix("deal 0x")
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
        else {
            continue;
        };
        let ended = node.with_chain(|chain| {
            chain
                .state()
                .load::<Deal>(&id)
                .ok()
                .flatten()
                .is_some_and(|d| d.ended() && head >= d.end)
        });
        if ended && content.store().unpin(&cid).is_ok() {
            tracing::info!(deal = %hex::encode(id), %cid, "deal ended; data unpinned");
        }
    }
}

/// Why a deal was not taken: for now (the data did not arrive, the chain refused), or for good
/// (the data is not a file every challenge of which can be answered).
enum NotTaken {
    Retry(String),
    Refuse(String),
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
    .map_err(|e| NotTaken::Retry(e.to_string()))?;
    // Bonding stake to a file with one bad block would lose a share of it at every challenge
    // that lands there: check it all now, as the chain will check each proof.
    let store = content.store().clone();
    let check = tokio::task::spawn_blocking(move || check_file(&store, &root))
        .await
        .map_err(|e| NotTaken::Retry(e.to_string()))?
        .map_err(|e| NotTaken::Refuse(e.to_string()))?;
    if check.size != deal.size {
        return Err(NotTaken::Refuse(format!(
            "the file holds {} bytes, the deal says {}",
            check.size, deal.size
        )));
    }
    if check.repeats {
        tracing::info!(deal = %hex::encode(id), "the file repeats a block: the pool will pay no storage reward for it once proofs show that");
    }
    let info = PinInfo {
        name: format!("deal 0x{}", hex::encode(id)),
        size: deal.size,
        profile: String::new(),
        encrypted: false,
    };
    content
        .store()
        .pin(&root, &info)
        .map_err(|e| NotTaken::Retry(e.to_string()))?;
    content.provide(&root);
    node.submit_own(StorageAction::Accept { deal: *id }.into())
        .map_err(|e| NotTaken::Retry(e.to_string()))?;
    tracing::info!(deal = %hex::encode(id), blocks = fetched.blocks, "deal taken");
    Ok(())
}
