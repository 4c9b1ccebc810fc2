//! The storage node's agent: with a registered offer (`storage offer`) and a signer key, it
//! takes deals that pay its price and fit its free capacity and stake ([`take`]: fetching the
//! data and checking every block of it as the chain will check proofs, then pinning it), and
//! answers each challenge to it with a proof built from its own store, resent at a higher gas
//! price while the challenge stays open. It follows the chain's events ([`EventFollower`]):
//! `dealOpened` brings candidates, `challengeIssued` for this node brings work. It unpins the
//! data of deals that ended or that others took. If the data is gone it cannot answer, and the
//! chain records the miss and slashes part of its bond.

mod pins;
mod take;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use metamesh_crypto::Address;
use metamesh_primitives::{Hash, StorageAction};
use metamesh_state::{CollectionId, Deal, Event, StorageEvent, StorageNode};
use metamesh_storage::{build_proof, cid_from_bytes};
use tokio::sync::watch;

use crate::{EventFollower, NodeService, OwnTx};
use take::{MAX_TAKING, Room, Taking};

/// A challenge this node has to answer, and its proof's last sending.
#[derive(Clone)]
struct Open {
    deadline: u64,
    offset: u64,
    sent: Option<(u64, OwnTx)>,
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
    taking: Arc<Mutex<Taking>>,
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
                                sent: None,
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
        match self.follower.drain(&view, 100_000) {
            Ok(batch) => {
                for d in batch.into_iter().filter(|d| !d.removed) {
                    self.on_event(d.event.event);
                }
            }
            Err(e) => tracing::warn!("storage agent: events: {e}"),
        }
        let head = view.head();
        self.answer(head);
        self.take();
        pins::release(&self.node, &self.content, &self.me, head);
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
                        sent: None,
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

    /// Sends a proof for each open challenge, and again at every block while it stays open
    /// (a proof can be dropped, or crowded out of blocks: the resend replaces it at twice the
    /// gas price, so within a proof window it outbids up to 16 × the minimum).
    fn answer(&mut self, head: u64) {
        self.open.retain(|_, o| head <= o.deadline);
        let due: Vec<((Hash, u64), Open)> = self
            .open
            .iter()
            .filter(|(k, o)| {
                !self.unanswerable.contains(k) && o.sent.as_ref().is_none_or(|(at, _)| head > *at)
            })
            .map(|(k, o)| (*k, o.clone()))
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
            let proof = match build_proof(self.content.store(), &root, open.offset) {
                Ok(proof) => proof,
                Err(e) => {
                    self.unanswerable.insert((id, epoch));
                    tracing::warn!(deal = %hex::encode(id), epoch, "cannot answer the storage challenge: {e}");
                    continue;
                }
            };
            let action = StorageAction::Prove {
                deal: id,
                epoch,
                path: proof.path,
                leaf: proof.leaf,
            }
            .into();
            let sent = match &open.sent {
                Some((_, previous)) => self.node.resend_own(action, previous),
                None => self.node.submit_own_tx(action),
            };
            match sent {
                Ok(tx) => {
                    tracing::info!(deal = %hex::encode(id), epoch, gas_price = %tx.gas_price, "storage proof sent");
                    if let Some(o) = self.open.get_mut(&(id, epoch)) {
                        o.sent = Some((head, tx));
                    }
                }
                Err(e) => {
                    tracing::warn!(deal = %hex::encode(id), "storage proof refused: {e}");
                }
            }
        }
    }

    /// Starts taking candidate deals this node wants, at most [`MAX_TAKING`] at a time (in the
    /// background: fetching takes time); a candidate it cannot take now stays one.
    fn take(&mut self) {
        let me = self.me;
        let Some((record, stake_per_gib)) = self.node.with_chain(|c| {
            let record = c.state().load::<StorageNode>(&me).ok().flatten()?;
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
            let mut t = self.taking.lock().expect("lock");
            let full = deal.ended() || deal.holders.len() as u64 >= deal.replicas;
            if full || t.refused.contains(&id) || deal.holders.iter().any(|h| h.provider == me) {
                self.candidates.remove(&id);
                continue;
            }
            let bond = take::bond_for(&deal, stake_per_gib);
            let room = Room::of(&record, &t.in_flight);
            if t.in_flight.len() >= MAX_TAKING
                || t.in_flight.contains_key(&id)
                || !take::wants(&me, record.price, room, &deal, bond)
            {
                continue;
            }
            t.in_flight.insert(id, (deal.size, bond));
            drop(t);
            take::spawn_take(
                self.node.clone(),
                self.content.clone(),
                self.taking.clone(),
                id,
                deal,
            );
        }
    }
}
