//! What a node does with its peers' messages: answers requests, takes in gossip, scores peers,
//! and catches up (headers first, then bodies, each block executed on import). A sans-I/O
//! state machine: the transport (libp2p in `metamesh-net`, the virtual network in
//! `metamesh-sim`) feeds it events with the time and carries out the [`Action`]s it returns.
//!
//! ```text
//! connected ─▶ Status ⇄ Status ─▶ peer ahead? ─▶ probe: Headers(from) … parent known?
//!                                                  │ no: step back ×8      │ yes
//!                                                  ▼                       ▼
//!                                            Headers(next) ◀── import ◀── Bodies(≤32)
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use metamesh_primitives::{Block, Hash};
use metamesh_state::Code;

mod scoring;
mod sync;

use scoring::{Bucket, Peer, penalty};
use sync::Sync;

use crate::{
    ImportError, Imported, NodeService, SubmitError,
    protocol::{Request, Response, Status},
};

/// Bodies asked for in one request during sync.
const BODIES_PER_REQUEST: usize = 32;
/// Future blocks held back until their time comes.
const MAX_FUTURE: usize = 64;
/// How far ahead of our clock a block may be and still be held (geth allows the same 15 s).
const MAX_DRIFT_S: u64 = 15;
/// Most body bytes one answer carries.
const MAX_BODIES_BYTES: usize = 16 * 1024 * 1024;

/// Tuning of a [`Handler`].
#[derive(Clone, Debug)]
pub struct HandlerConfig {
    pub request_timeout_ms: u64,
    /// How often each peer's status is asked again (this is how a node notices it fell behind).
    pub status_interval_ms: u64,
    pub ban_ms: u64,
    /// Gossip messages a peer may send per second, and the burst allowed.
    pub gossip_per_second: u64,
    pub gossip_burst: u64,
    /// Requests a peer may make per second, and the burst allowed.
    pub requests_per_second: u64,
    pub requests_burst: u64,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            request_timeout_ms: 10_000,
            status_interval_ms: 2_000,
            ban_ms: 600_000,
            gossip_per_second: 5_000,
            gossip_burst: 20_000,
            requests_per_second: 100,
            requests_burst: 400,
        }
    }
}

/// What the transport should do with a gossip message: relay it, drop it quietly, or drop it and
/// hold it against the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Ignore,
    Reject,
}

/// What the handler asks of the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<P> {
    Send {
        peer: P,
        id: u64,
        request: Request,
    },
    /// Disconnect `peer` and refuse it until `until_ms`.
    Ban {
        peer: P,
        until_ms: u64,
        reason: String,
    },
}

/// One node's peer-facing logic. `P` names a peer (a libp2p `PeerId`, a simulator index).
pub struct Handler<P> {
    node: Arc<NodeService>,
    config: HandlerConfig,
    peers: BTreeMap<P, Peer>,
    banned: BTreeMap<P, u64>,
    /// Outstanding requests: id → (peer, deadline).
    inflight: BTreeMap<u64, (P, u64)>,
    next_id: u64,
    sync: Sync<P>,
    /// Blocks from a little ahead of our clock, with the peer that sent them.
    future: BTreeMap<(u64, Hash), (P, Block)>,
    actions: Vec<Action<P>>,
    /// The latest time any event brought (for decisions made outside an event's own time).
    clock: u64,
}

impl<P: Copy + Ord + Debug> Handler<P> {
    pub fn new(node: Arc<NodeService>, config: HandlerConfig) -> Self {
        Handler {
            node,
            config,
            peers: BTreeMap::new(),
            banned: BTreeMap::new(),
            inflight: BTreeMap::new(),
            next_id: 0,
            sync: Sync::Idle,
            future: BTreeMap::new(),
            actions: Vec::new(),
            clock: 0,
        }
    }

    pub fn node(&self) -> &Arc<NodeService> {
        &self.node
    }

    /// The actions decided since the last call.
    pub fn take_actions(&mut self) -> Vec<Action<P>> {
        std::mem::take(&mut self.actions)
    }

    pub fn is_banned(&self, peer: &P, now: u64) -> bool {
        self.banned.get(peer).is_some_and(|until| *until > now)
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Connected peers with their last status and score.
    pub fn peer_list(&self) -> Vec<(P, Option<Status>, i64)> {
        self.peers
            .iter()
            .map(|(id, p)| (*id, p.status, p.score))
            .collect()
    }

    /// Banned peers and when their bans end.
    pub fn banned(&self, now: u64) -> Vec<(P, u64)> {
        self.banned
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(p, until)| (*p, *until))
            .collect()
    }

    /// An operator's ban (`admin_blockPeer`).
    pub fn ban_for(&mut self, peer: P, ms: u64, now: u64) {
        self.ban_until(
            peer,
            now.saturating_add(ms),
            "blocked by the operator".into(),
        );
    }

    /// Lifts a ban; the transport reconnects when it next dials the peer.
    pub fn unban(&mut self, peer: P) {
        self.banned.remove(&peer);
    }

    /// Whether a sync is running.
    pub fn syncing(&self) -> bool {
        !matches!(self.sync, Sync::Idle)
    }

    pub fn connected(&mut self, peer: P, now: u64) {
        self.clock = self.clock.max(now);
        if let Some(until) = self.banned.get(&peer).copied() {
            if until > now {
                self.actions.push(Action::Ban {
                    peer,
                    until_ms: until,
                    reason: "still banned".into(),
                });
                return;
            }
            self.banned.remove(&peer);
        }
        let c = &self.config;
        self.peers.entry(peer).or_insert(Peer {
            status: None,
            score: 0,
            scored_at: now,
            gossip: Bucket::full(c.gossip_burst, now),
            requests: Bucket::full(c.requests_burst, now),
            next_status_ms: now,
            status_request: None,
            failed_syncs: 0,
            doubted_until: 0,
        });
        self.poll_status(peer, now);
    }

    pub fn disconnected(&mut self, peer: P) {
        self.peers.remove(&peer);
        self.inflight.retain(|_, (p, _)| *p != peer);
        if self.sync.request().is_some_and(|(p, _)| p == peer) {
            self.sync = Sync::Idle;
        }
        self.update_gate();
    }

    /// Time passes: requests time out, statuses are polled, held-back blocks come due.
    pub fn tick(&mut self, now: u64) {
        self.clock = self.clock.max(now);
        let expired: Vec<(u64, P)> = self
            .inflight
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(id, (peer, _))| (*id, *peer))
            .collect();
        for (id, peer) in expired {
            self.inflight.remove(&id);
            if self.sync.request() == Some((peer, id)) {
                // A peer that claims to be ahead but does not deliver loses the claim (until its
                // next status) and more score than a slow status answer would.
                self.sync = Sync::Idle;
                self.sync_failed(peer, now);
                self.penalise(peer, penalty::SYNC_TIMEOUT, "sync request timed out", now);
            } else {
                self.penalise(peer, penalty::TIMEOUT, "request timed out", now);
            }
        }
        self.banned.retain(|_, until| *until > now);
        let due: Vec<P> = self
            .peers
            .iter()
            .filter(|(_, p)| p.next_status_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for peer in due {
            self.poll_status(peer, now);
        }
        let ready: Vec<(u64, Hash)> = self
            .future
            .range(..(now / 1000 + 1, [0; 32]))
            .map(|(k, _)| *k)
            .collect();
        for key in ready {
            if let Some((peer, block)) = self.future.remove(&key) {
                let result = self.node.import(&block, now / 1000);
                self.judge(peer, &block, result, now);
            }
        }
        self.maybe_sync(now);
    }

    /// A request from `peer`: the encoded response, or `None` (malformed or over its rate).
    pub fn request(&mut self, peer: P, raw: &[u8], now: u64) -> Option<Vec<u8>> {
        self.clock = self.clock.max(now);
        let c = self.config.clone();
        let allowed = self.peers.get_mut(&peer).is_some_and(|p| {
            p.requests
                .take(now, c.requests_per_second, c.requests_burst)
        });
        if !allowed {
            self.penalise(peer, penalty::FLOOD, "too many requests", now);
            return None;
        }
        let request = match Request::decode(raw) {
            Ok(r) => r,
            Err(e) => {
                self.penalise(peer, penalty::MALFORMED, &format!("bad request: {e}"), now);
                return None;
            }
        };
        let response = match request {
            Request::Status(theirs) => {
                self.learn_status(peer, theirs, now);
                Response::Status(self.node.status())
            }
            Request::Headers { start, count } => Response::Headers(self.node.with_chain(|c| {
                (start..start.saturating_add(count))
                    .map_while(|n| c.canonical_header(n))
                    .collect()
            })),
            Request::Bodies(hashes) => Response::Bodies(self.node.with_chain(|c| {
                // Stop at a byte budget well inside the transport's frame limit; the asker
                // takes a short answer and asks again for the rest.
                let mut bytes = 0;
                hashes
                    .iter()
                    .map_while(|h| c.db().body(h).ok().flatten())
                    .take_while(|b| {
                        let first = bytes == 0;
                        bytes += b.len();
                        first || bytes <= MAX_BODIES_BYTES
                    })
                    .collect()
            })),
        };
        Some(response.encode())
    }

    /// The answer to request `id`; `None` if the request failed (the peer went away, refused).
    pub fn response(&mut self, peer: P, id: u64, raw: Option<&[u8]>, now: u64) {
        self.clock = self.clock.max(now);
        match self.inflight.get(&id) {
            Some((asked, _)) if *asked == peer => {
                self.inflight.remove(&id);
            }
            _ => return, // timed out already, or not this peer's to answer
        }
        let is_sync = self.sync.request() == Some((peer, id));
        let Some(raw) = raw else {
            if is_sync {
                self.sync = Sync::Idle;
            }
            self.update_gate();
            return;
        };
        let asked_headers = matches!(self.sync, Sync::Probe { .. } | Sync::Headers { .. });
        match Response::decode(raw) {
            Err(e) => {
                self.bad_response(peer, &e.to_string(), now);
            }
            Ok(Response::Status(theirs)) if !is_sync => self.learn_status(peer, theirs, now),
            Ok(Response::Headers(headers)) if is_sync && asked_headers => {
                self.on_headers(peer, headers, now)
            }
            Ok(Response::Bodies(bodies)) if is_sync && !asked_headers => {
                self.on_bodies(peer, bodies, now)
            }
            // bad_response also ends the sync it was meant for.
            Ok(_) => self.bad_response(peer, "an answer of the wrong kind", now),
        }
        self.maybe_sync(now);
    }

    /// A gossiped block from `peer`.
    pub fn gossip_block(&mut self, peer: P, raw: &[u8], now: u64) -> Verdict {
        self.clock = self.clock.max(now);
        if !self.take_gossip(peer, now) {
            return Verdict::Ignore;
        }
        let block = match Block::decode(raw, self.node.suite()) {
            Ok(b) => b,
            Err(e) => {
                self.penalise(peer, penalty::MALFORMED, &format!("bad block: {e}"), now);
                return Verdict::Reject;
            }
        };
        let result = self.node.import(&block, now / 1000);
        let verdict = self.judge(peer, &block, result, now);
        self.update_gate();
        verdict
    }

    /// What an import's outcome says about the block and the peer that sent it.
    fn judge(
        &mut self,
        peer: P,
        block: &Block,
        result: Result<Imported, ImportError>,
        now: u64,
    ) -> Verdict {
        match result {
            Ok(Imported::New { .. }) => Verdict::Accept,
            Ok(Imported::Known) => Verdict::Ignore,
            // Our own storage failed, or the parent's state is gone: nothing the peer did.
            Err(ImportError::Db(_) | ImportError::State(_)) => Verdict::Ignore,
            Err(ImportError::UnknownParent(_)) => {
                // A gap: the peer is ahead of us; its status starts a sync.
                self.poll_status(peer, now);
                Verdict::Ignore
            }
            Err(ImportError::Consensus(metamesh_consensus::CliqueError::FutureBlock)) => {
                self.judge_future(peer, block, now)
            }
            Err(e) => {
                self.penalise(
                    peer,
                    penalty::INVALID_BLOCK,
                    &format!("invalid block: {e}"),
                    now,
                );
                Verdict::Reject
            }
        }
    }

    /// A block from ahead of our clock: within the drift, and with a seal and transactions that
    /// check out, it is held until its time and relayed now (so a slow clock does not stop it
    /// spreading); further ahead, or forged, it counts against the sender.
    fn judge_future(&mut self, peer: P, block: &Block, now: u64) -> Verdict {
        if block.header.timestamp > now / 1000 + MAX_DRIFT_S {
            let reason = format!(
                "a block {} s in the future",
                block.header.timestamp - now / 1000
            );
            self.penalise(peer, penalty::MALFORMED, &reason, now);
            return Verdict::Reject;
        }
        match self.node.check_ahead(block) {
            Ok(()) => {
                self.hold_future(peer, block.clone());
                Verdict::Accept
            }
            // Checked at its own time, so never "future" again: judged like any import error.
            Err(e) => self.judge(peer, block, Err(e), now),
        }
    }

    /// Keeps a block until its time. When full, the block furthest ahead makes way.
    fn hold_future(&mut self, peer: P, block: Block) {
        let key = (block.header.timestamp, block.hash(self.node.suite()));
        if self.future.len() >= MAX_FUTURE {
            match self.future.last_key_value() {
                Some((last, _)) if *last > key => {
                    let last = *last;
                    self.future.remove(&last);
                }
                _ => return,
            }
        }
        self.future.insert(key, (peer, block));
    }

    /// A gossiped transaction from `peer`.
    pub fn gossip_transaction(&mut self, peer: P, raw: &[u8], now: u64) -> Verdict {
        self.clock = self.clock.max(now);
        if !self.take_gossip(peer, now) {
            return Verdict::Ignore;
        }
        match self.node.receive(raw) {
            Ok(_) => Verdict::Accept,
            Err(SubmitError::Malformed(e)) => {
                self.penalise(
                    peer,
                    penalty::MALFORMED,
                    &format!("bad transaction: {e}"),
                    now,
                );
                Verdict::Reject
            }
            Err(SubmitError::Pool(
                e @ (crate::PoolError::BadSignature | crate::PoolError::WrongChain { .. }),
            )) => {
                self.penalise(
                    peer,
                    penalty::INVALID_TX,
                    &format!("invalid transaction: {e}"),
                    now,
                );
                Verdict::Reject
            }
            // Invalid whatever the state: no honest node relays it.
            Err(SubmitError::Refused(r))
                if matches!(
                    r.code,
                    Code::WrongChain | Code::WrongSuite | Code::BadSignature | Code::TooLarge
                ) =>
            {
                self.penalise(
                    peer,
                    penalty::INVALID_TX,
                    &format!("invalid transaction: {r}"),
                    now,
                );
                Verdict::Reject
            }
            // Known, stale, underpriced, would fail now: normal in a gossiping network.
            Err(_) => Verdict::Ignore,
        }
    }

    fn take_gossip(&mut self, peer: P, now: u64) -> bool {
        let c = &self.config;
        let (rate, burst) = (c.gossip_per_second, c.gossip_burst);
        let allowed = self
            .peers
            .get_mut(&peer)
            .is_some_and(|p| p.gossip.take(now, rate, burst));
        if !allowed {
            self.penalise(peer, penalty::FLOOD, "gossip over its rate", now);
        }
        allowed
    }

    fn send(&mut self, peer: P, request: Request, now: u64) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.inflight
            .insert(id, (peer, now + self.config.request_timeout_ms));
        self.actions.push(Action::Send { peer, id, request });
        id
    }

    fn poll_status(&mut self, peer: P, now: u64) {
        let interval = self.config.status_interval_ms;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.next_status_ms = now + interval;
        if p.status_request
            .is_some_and(|id| self.inflight.contains_key(&id))
        {
            return;
        }
        let ours = self.node.status();
        let id = self.send(peer, Request::Status(ours), now);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.status_request = Some(id);
        }
    }

    fn learn_status(&mut self, peer: P, theirs: Status, now: u64) {
        if theirs.genesis != self.node.genesis_hash() {
            self.ban(
                peer,
                format!(
                    "on another chain (genesis 0x{})",
                    hex::encode(theirs.genesis)
                ),
                now,
            );
            return;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.status = Some(theirs);
        }
        self.maybe_sync(now);
    }
}
