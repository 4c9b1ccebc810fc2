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

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;

use metamesh_primitives::{Block, Hash, Header};

use crate::{
    ImportError, Imported, NodeService, SubmitError,
    protocol::{MAX_HEADERS, Request, Response, Status},
};

/// Bodies asked for in one request during sync.
const BODIES_PER_REQUEST: usize = 32;
/// Future blocks held back until their time comes.
const MAX_FUTURE: usize = 64;

/// Score changes. A peer at or below [`BAN_SCORE`] is banned; scores recover by one a second.
mod penalty {
    pub const INVALID_BLOCK: i64 = 100;
    pub const MALFORMED: i64 = 50;
    pub const BAD_RESPONSE: i64 = 50;
    pub const INVALID_TX: i64 = 25;
    pub const TIMEOUT: i64 = 2;
    pub const FLOOD: i64 = 1;
}
const BAN_SCORE: i64 = -100;

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

/// A rate limit in thousandths of a message, so it stays exact and deterministic.
#[derive(Clone, Debug)]
struct Bucket {
    milli: u64,
    at_ms: u64,
}

impl Bucket {
    fn full(burst: u64, now: u64) -> Self {
        Bucket {
            milli: burst * 1000,
            at_ms: now,
        }
    }

    fn take(&mut self, now: u64, per_second: u64, burst: u64) -> bool {
        let elapsed = now.saturating_sub(self.at_ms);
        self.milli = (self.milli + elapsed * per_second).min(burst * 1000);
        self.at_ms = now.max(self.at_ms);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

#[derive(Clone, Debug)]
struct Peer {
    status: Option<Status>,
    score: i64,
    scored_at: u64,
    gossip: Bucket,
    requests: Bucket,
    next_status_ms: u64,
    /// The outstanding status request, so a silent peer is not asked again and again.
    status_request: Option<u64>,
}

#[derive(Clone, Debug)]
enum Sync<P> {
    Idle,
    /// Asked for headers after `probe` to find where the peer's chain meets ours.
    Probe {
        peer: P,
        id: u64,
        back: u64,
    },
    /// Asked for the next headers, which must build on `parent`.
    Headers {
        peer: P,
        id: u64,
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
    fn request(&self) -> Option<(P, u64)> {
        match self {
            Sync::Idle => None,
            Sync::Probe { peer, id, .. }
            | Sync::Headers { peer, id, .. }
            | Sync::Bodies { peer, id, .. } => Some((*peer, *id)),
        }
    }
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
        self.ban_until(peer, now + ms, "blocked by the operator".into());
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
        let expired: Vec<(u64, P)> = self
            .inflight
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(id, (peer, _))| (*id, *peer))
            .collect();
        for (id, peer) in expired {
            self.inflight.remove(&id);
            self.penalise(peer, penalty::TIMEOUT, "request timed out", now);
            if self.sync.request() == Some((peer, id)) {
                self.sync = Sync::Idle;
            }
        }
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
                hashes
                    .iter()
                    .map_while(|h| c.db().body(h).ok().flatten())
                    .collect()
            })),
        };
        Some(response.encode())
    }

    /// The answer to request `id`; `None` if the request failed (the peer went away, refused).
    pub fn response(&mut self, peer: P, id: u64, raw: Option<&[u8]>, now: u64) {
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
        match Response::decode(raw) {
            Err(e) => {
                self.bad_response(peer, &e.to_string(), now);
            }
            Ok(Response::Status(theirs)) => self.learn_status(peer, theirs, now),
            Ok(Response::Headers(headers)) if is_sync => self.on_headers(peer, headers, now),
            Ok(Response::Bodies(bodies)) if is_sync => self.on_bodies(peer, bodies, now),
            Ok(_) => self.bad_response(peer, "an answer of the wrong kind", now),
        }
        self.maybe_sync(now);
    }

    /// A gossiped block from `peer`.
    pub fn gossip_block(&mut self, peer: P, raw: &[u8], now: u64) -> Verdict {
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
                if self.future.len() < MAX_FUTURE {
                    let key = (block.header.timestamp, block.hash(self.node.suite()));
                    self.future.insert(key, (peer, block.clone()));
                }
                Verdict::Ignore
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

    /// A gossiped transaction from `peer`.
    pub fn gossip_transaction(&mut self, peer: P, raw: &[u8], now: u64) -> Verdict {
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

    /// The peer whose chain we should fetch, if any: more total difficulty than ours, or as
    /// much on a head we do not have (fork choice then settles the tie the same way everywhere).
    fn sync_target(&self) -> Option<P> {
        let ours = self.node.status();
        self.peers
            .iter()
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

    fn maybe_sync(&mut self, now: u64) {
        if matches!(self.sync, Sync::Idle)
            && let Some(peer) = self.sync_target()
        {
            self.probe(peer, 0, now);
        }
        self.update_gate();
    }

    /// Sealing waits while we catch up, or while a peer is known to be ahead.
    fn update_gate(&self) {
        let behind = self.syncing() || self.sync_target().is_some();
        self.node.set_syncing(behind);
    }

    fn probe(&mut self, peer: P, back: u64, now: u64) {
        let Some(theirs) = self.peers.get(&peer).and_then(|p| p.status) else {
            self.sync = Sync::Idle;
            return;
        };
        let ours = self.node.status();
        let from = ours
            .head_number
            .min(theirs.head_number.saturating_sub(1))
            .saturating_sub(back);
        let id = self.send(
            peer,
            Request::Headers {
                start: from + 1,
                count: MAX_HEADERS,
            },
            now,
        );
        self.sync = Sync::Probe { peer, id, back };
    }

    fn on_headers(&mut self, peer: P, headers: Vec<Header>, now: u64) {
        let suite = self.node.suite();
        let sync = std::mem::replace(&mut self.sync, Sync::Idle);
        let linked = headers
            .windows(2)
            .all(|w| w[1].number == w[0].number + 1 && w[1].parent_hash == w[0].hash(suite));
        if !linked {
            return self.bad_response(peer, "headers that do not form a chain", now);
        }
        let Some(first) = headers.first() else {
            // Nothing after our probe: the peer moved (or claimed too much). Ask again later.
            if let Some(p) = self.peers.get_mut(&peer) {
                p.status = None;
            }
            return;
        };
        match sync {
            Sync::Probe { back, .. } if !self.node.knows(&first.parent_hash) => {
                if first.number <= 1 {
                    return self.bad_response(peer, "a chain not rooted in our genesis", now);
                }
                let back = if back == 0 { 16 } else { back * 8 };
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

    fn continue_headers(&mut self, peer: P, last_number: u64, last_hash: Hash, now: u64) {
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
                parent: last_hash,
            };
        } else {
            self.sync = Sync::Idle;
            self.poll_status(peer, now);
        }
    }

    fn request_bodies(&mut self, peer: P, mut queue: VecDeque<Header>, now: u64) {
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

    fn on_bodies(&mut self, peer: P, bodies: Vec<Vec<u8>>, now: u64) {
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
                Ok(_) => {}
                Err(ImportError::Consensus(metamesh_consensus::CliqueError::FutureBlock))
                | Err(ImportError::Db(_) | ImportError::State(_)) => return,
                Err(e) => {
                    let reason = format!("invalid block {} in sync: {e}", header.number);
                    return self.penalise(peer, penalty::INVALID_BLOCK, &reason, now);
                }
            }
        }
        for header in asked.into_iter().skip(got).rev() {
            queue.push_front(header);
        }
        match queue.back().cloned() {
            Some(_) => self.request_bodies(peer, queue, now),
            None => {
                let last = &self.node.status();
                self.continue_headers(peer, last.head_number, last.head_hash, now);
            }
        }
    }

    fn bad_response(&mut self, peer: P, reason: &str, now: u64) {
        if self.sync.request().is_some_and(|(p, _)| p == peer) {
            self.sync = Sync::Idle;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.status = None;
        }
        self.penalise(peer, penalty::BAD_RESPONSE, reason, now);
    }

    fn penalise(&mut self, peer: P, amount: i64, reason: &str, now: u64) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        // Forgive a point a second, up to a clean slate.
        let recovered = (now.saturating_sub(p.scored_at) / 1000) as i64;
        p.score = (p.score + recovered).min(0) - amount;
        p.scored_at = now;
        if p.score <= BAN_SCORE {
            self.ban(peer, reason.to_owned(), now);
        }
    }

    fn ban(&mut self, peer: P, reason: String, now: u64) {
        self.ban_until(peer, now + self.config.ban_ms, reason);
    }

    fn ban_until(&mut self, peer: P, until_ms: u64, reason: String) {
        self.disconnected(peer);
        self.banned.insert(peer, until_ms);
        self.actions.push(Action::Ban {
            peer,
            until_ms,
            reason,
        });
    }
}
