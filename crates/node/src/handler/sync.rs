//! Catching up: find where a peer's chain meets ours (probing back ×8), then headers in batches
//! of 256 and bodies in batches of 32, each block executed as it arrives.

use std::collections::VecDeque;
use std::fmt::Debug;

use metamesh_primitives::{Block, Hash, Header};

use super::{BODIES_PER_REQUEST, Handler, penalty};
use crate::{
    ImportError,
    protocol::{MAX_HEADERS, Request},
};

#[derive(Clone, Debug)]
pub(super) enum Sync<P> {
    Idle,
    /// Asked for headers from `start` (`back` below our head) to find where the peer's chain
    /// meets ours.
    Probe {
        peer: P,
        id: u64,
        back: u64,
        start: u64,
    },
    /// Asked for the next headers from `start`, which must build on `parent`.
    Headers {
        peer: P,
        id: u64,
        start: u64,
        parent: Hash,
    },
    /// Asked for the bodies of `asked`; `queue` holds the headers after them.
    Bodies {
        peer: P,
        id: u64,
        asked: Vec<Header>,
        queue: VecDeque<Header>,
    },
}

impl<P: Copy> Sync<P> {
    pub(super) fn request(&self) -> Option<(P, u64)> {
        match self {
            Sync::Idle => None,
            Sync::Probe { peer, id, .. }
            | Sync::Headers { peer, id, .. }
            | Sync::Bodies { peer, id, .. } => Some((*peer, *id)),
        }
    }
}

impl<P: Copy + Ord + Debug> Handler<P> {
    /// The peer whose chain we should fetch, if any: more total difficulty than ours, or as
    /// much on a head we do not have (fork choice then settles the tie the same way everywhere).
    /// A peer whose last syncs failed is asked again only after its backoff.
    pub(super) fn sync_target(&self) -> Option<P> {
        self.best_claim(|p| p.doubted_until <= self.clock)
    }

    fn best_claim(&self, usable: impl Fn(&super::Peer) -> bool) -> Option<P> {
        let ours = self.node.status();
        self.peers
            .iter()
            .filter(|(_, p)| usable(p))
            .filter_map(|(id, p)| p.status.map(|s| (id, s)))
            .filter(|(_, s)| {
                s.total_difficulty > ours.total_difficulty
                    || (s.total_difficulty == ours.total_difficulty
                        && s.head_hash != ours.head_hash
                        && !self.node.knows(&s.head_hash))
            })
            .max_by(|a, b| {
                a.1.total_difficulty
                    .cmp(&b.1.total_difficulty)
                    .then(b.0.cmp(a.0))
            })
            .map(|(id, _)| *id)
    }

    pub(super) fn maybe_sync(&mut self, now: u64) {
        if matches!(self.sync, Sync::Idle)
            && let Some(peer) = self.sync_target()
        {
            self.probe(peer, 0, now);
        }
        self.update_gate();
    }

    /// Sealing waits while we catch up, or while a peer is known to be ahead — but only on the
    /// word of peers that have not failed a sync since they last delivered: a peer that claims
    /// a heavier chain and cannot show it holds our sealing once, not again and again.
    pub(super) fn update_gate(&self) {
        let trusted = |p: &super::Peer| p.failed_syncs == 0;
        let fetching = self
            .sync
            .request()
            .is_some_and(|(peer, _)| self.peers.get(&peer).is_some_and(trusted));
        let behind = fetching || self.best_claim(trusted).is_some();
        self.node.set_syncing(behind);
    }

    pub(super) fn probe(&mut self, peer: P, back: u64, now: u64) {
        let Some(theirs) = self.peers.get(&peer).and_then(|p| p.status) else {
            self.sync = Sync::Idle;
            return;
        };
        let ours = self.node.status();
        let from = ours
            .head_number
            .min(theirs.head_number.saturating_sub(1))
            .saturating_sub(back);
        let start = from + 1;
        let id = self.send(
            peer,
            Request::Headers {
                start,
                count: MAX_HEADERS,
            },
            now,
        );
        self.sync = Sync::Probe {
            peer,
            id,
            back,
            start,
        };
    }

    pub(super) fn on_headers(&mut self, peer: P, headers: Vec<Header>, now: u64) {
        let suite = self.node.suite();
        let sync = std::mem::replace(&mut self.sync, Sync::Idle);
        let linked = headers
            .windows(2)
            .all(|w| w[1].number == w[0].number + 1 && w[1].parent_hash == w[0].hash(suite));
        if !linked {
            return self.bad_response(peer, "headers that do not form a chain", now);
        }
        let (start, claimed) = match &sync {
            Sync::Probe { start, .. } | Sync::Headers { start, .. } => (
                *start,
                self.peers
                    .get(&peer)
                    .and_then(|p| p.status)
                    .map_or(0, |s| s.head_number),
            ),
            _ => return,
        };
        let Some(first) = headers.first() else {
            // Nothing from where we asked. Past the head it claimed, that claim was hollow (or
            // it reorganised onto a shorter chain): either way, set it aside for a while.
            self.sync_failed(peer, now);
            if claimed >= start {
                self.penalise(
                    peer,
                    penalty::STALE_CLAIM,
                    "claimed blocks it did not send",
                    now,
                );
            }
            return;
        };
        if first.number != start {
            return self.bad_response(peer, "headers from another height than asked", now);
        }
        match sync {
            Sync::Probe { back, .. } if !self.node.knows(&first.parent_hash) => {
                if start <= 1 {
                    return self.bad_response(peer, "a chain not rooted in our genesis", now);
                }
                let back = if back == 0 {
                    16
                } else {
                    back.saturating_mul(8)
                };
                return self.probe(peer, back, now);
            }
            Sync::Headers { parent, .. } if first.parent_hash != parent => {
                // The peer reorganised since the last batch: look for the meeting point again.
                return self.probe(peer, 16, now);
            }
            _ => {}
        }
        let last_number = headers.last().map_or(0, |h| h.number);
        let last_hash = headers.last().map(|h| h.hash(suite)).unwrap_or_default();
        let queue: VecDeque<Header> = headers
            .into_iter()
            .skip_while(|h| self.node.knows(&h.hash(suite)))
            .collect();
        if queue.is_empty() {
            self.continue_headers(peer, last_number, last_hash, now);
        } else {
            self.request_bodies(peer, queue, now);
        }
    }

    pub(super) fn continue_headers(
        &mut self,
        peer: P,
        last_number: u64,
        last_hash: Hash,
        now: u64,
    ) {
        let their_head = self
            .peers
            .get(&peer)
            .and_then(|p| p.status)
            .map_or(0, |s| s.head_number);
        if last_number < their_head {
            let id = self.send(
                peer,
                Request::Headers {
                    start: last_number + 1,
                    count: MAX_HEADERS,
                },
                now,
            );
            self.sync = Sync::Headers {
                peer,
                id,
                start: last_number + 1,
                parent: last_hash,
            };
        } else {
            self.sync = Sync::Idle;
            self.poll_status(peer, now);
        }
    }

    pub(super) fn request_bodies(&mut self, peer: P, mut queue: VecDeque<Header>, now: u64) {
        let take = queue.len().min(BODIES_PER_REQUEST);
        let asked: Vec<Header> = queue.drain(..take).collect();
        let suite = self.node.suite();
        let hashes = asked.iter().map(|h| h.hash(suite)).collect();
        let id = self.send(peer, Request::Bodies(hashes), now);
        self.sync = Sync::Bodies {
            peer,
            id,
            asked,
            queue,
        };
    }

    pub(super) fn on_bodies(&mut self, peer: P, bodies: Vec<Vec<u8>>, now: u64) {
        let Sync::Bodies {
            asked, mut queue, ..
        } = std::mem::replace(&mut self.sync, Sync::Idle)
        else {
            return;
        };
        if bodies.is_empty() {
            return; // the peer no longer has them (it reorganised): try again later
        }
        if bodies.len() > asked.len() {
            return self.bad_response(peer, "bodies that do not match the request", now);
        }
        let suite = self.node.suite();
        let got = bodies.len();
        // Where the next headers continue: after the last block of this answer, which may be on
        // a branch still lighter than our head.
        let last = (asked[got - 1].number, asked[got - 1].hash(suite));
        for (header, body) in asked.iter().zip(bodies) {
            let transactions = match Block::decode_body(&body, suite) {
                Ok(t) => t,
                Err(e) => return self.bad_response(peer, &format!("bad body: {e}"), now),
            };
            let block = Block {
                header: header.clone(),
                transactions,
            };
            match self.node.import(&block, now / 1000) {
                Ok(_) => self.sync_delivered(peer),
                Err(ImportError::Consensus(metamesh_consensus::CliqueError::FutureBlock)) => {
                    // Its time will come: held like a gossiped one, and the sync resumes after.
                    return self.hold_future(peer, block);
                }
                Err(ImportError::Db(_) | ImportError::State(_)) => return,
                Err(e) => {
                    let reason = format!("invalid block {} in sync: {e}", header.number);
                    return self.penalise(peer, penalty::INVALID_BLOCK, &reason, now);
                }
            }
        }
        for header in asked.into_iter().skip(got).rev() {
            queue.push_front(header);
        }
        if queue.is_empty() {
            self.continue_headers(peer, last.0, last.1, now);
        } else {
            self.request_bodies(peer, queue, now);
        }
    }
}
