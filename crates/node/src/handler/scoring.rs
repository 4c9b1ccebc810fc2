//! Peer scores, rate limits and bans.

use std::fmt::Debug;

use super::{Action, Handler, Sync};
use crate::protocol::Status;

/// Score changes. A peer at or below [`BAN_SCORE`] is banned; scores recover by one a second.
pub(super) mod penalty {
    pub const INVALID_BLOCK: i64 = 100;
    pub const MALFORMED: i64 = 50;
    pub const BAD_RESPONSE: i64 = 50;
    pub const INVALID_TX: i64 = 25;
    pub const STALE_CLAIM: i64 = 20;
    pub const SYNC_TIMEOUT: i64 = 5;
    pub const TIMEOUT: i64 = 2;
    pub const FLOOD: i64 = 1;
}
const BAN_SCORE: i64 = -100;

/// A rate limit in thousandths of a message, so it stays exact and deterministic.
#[derive(Clone, Debug)]
pub(super) struct Bucket {
    milli: u64,
    at_ms: u64,
}

impl Bucket {
    pub(super) fn full(burst: u64, now: u64) -> Self {
        Bucket {
            milli: burst * 1000,
            at_ms: now,
        }
    }

    pub(super) fn take(&mut self, now: u64, per_second: u64, burst: u64) -> bool {
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
pub(super) struct Peer {
    pub(super) status: Option<Status>,
    pub(super) score: i64,
    pub(super) scored_at: u64,
    pub(super) gossip: Bucket,
    pub(super) requests: Bucket,
    pub(super) next_status_ms: u64,
    /// The outstanding status request, so a silent peer is not asked again and again.
    pub(super) status_request: Option<u64>,
    /// Syncs from this peer that failed since it last delivered a block, and until when its
    /// claims to be ahead are not acted on (2 s, doubling per failure, at most 8 s). After a
    /// failure its claims no longer hold our sealing; an honest peer on a lossy link is simply
    /// asked again a little later.
    pub(super) failed_syncs: u32,
    pub(super) doubted_until: u64,
}

impl<P: Copy + Ord + Debug> Handler<P> {
    /// A sync from `peer` failed: its claim is set aside for a while, longer each time.
    pub(super) fn sync_failed(&mut self, peer: P, now: u64) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.status = None;
            p.failed_syncs = p.failed_syncs.saturating_add(1);
            let backoff = 1_000u64 << p.failed_syncs.min(3);
            p.doubted_until = now + backoff;
        }
    }

    /// A sync from `peer` delivered a block.
    pub(super) fn sync_delivered(&mut self, peer: P) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.failed_syncs = 0;
            p.doubted_until = 0;
        }
    }

    pub(super) fn bad_response(&mut self, peer: P, reason: &str, now: u64) {
        if self.sync.request().is_some_and(|(p, _)| p == peer) {
            self.sync = Sync::Idle;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.status = None;
        }
        self.penalise(peer, penalty::BAD_RESPONSE, reason, now);
    }

    pub(super) fn penalise(&mut self, peer: P, amount: i64, reason: &str, now: u64) {
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

    pub(super) fn ban(&mut self, peer: P, reason: String, now: u64) {
        self.ban_until(peer, now + self.config.ban_ms, reason);
    }

    pub(super) fn ban_until(&mut self, peer: P, until_ms: u64, reason: String) {
        // One ban per peer: the later end wins.
        let until_ms = self
            .banned
            .get(&peer)
            .map_or(until_ms, |u| (*u).max(until_ms));
        self.disconnected(peer);
        self.banned.insert(peer, until_ms);
        self.actions.push(Action::Ban {
            peer,
            until_ms,
            reason,
        });
    }
}
