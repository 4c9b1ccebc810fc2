//! Event followers, one per node, as an indexer or a provider agent would run them: each polls
//! its node's chain at every check, keeps the events it was given (taking back the `removed`
//! ones, which must be the newest it holds), reconnects once from its cursor, and at the end
//! must hold exactly the node's canonical events — each once, in order.

use metamesh_node::{EventFollower, NodeService};
use metamesh_primitives::Hash;
use metamesh_state::Event;

use super::Sim;

/// What one follower was given: (block number, block hash, log index, event).
pub(super) struct Follower {
    follower: EventFollower,
    log: Vec<(u64, Hash, u32, Event)>,
}

impl Follower {
    pub(super) fn new(node: &NodeService) -> Self {
        Follower {
            follower: EventFollower::from_genesis(&node.chain_view()),
            log: Vec::new(),
        }
    }
}

/// The checks at which every follower drops its connection and resumes from its cursor.
const RECONNECT_AT_CHECK: u64 = 6;

impl Sim {
    pub(super) fn follow_events(&mut self, check: u64) {
        for i in 0..self.sc.nodes {
            if !self.sc.is_honest(i) {
                continue;
            }
            let Some(live) = self.nodes[i].live.as_ref() else {
                continue;
            };
            let node = live.handler.node().clone();
            let f = self.followers[i].get_or_insert_with(|| Follower::new(&node));
            if check == RECONNECT_AT_CHECK {
                f.follower = EventFollower::from_cursor(f.follower.cursor());
            }
            let mut problems = Vec::new();
            let view = node.chain_view();
            let batch = match f.follower.drain(&view, usize::MAX) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(format!("node {i}: the event stream broke: {e}"));
                    Vec::new()
                }
            };
            for d in batch {
                self.report.events_delivered += 1;
                let entry = (d.number, d.block_hash, d.event.log_index, d.event.event);
                if d.removed {
                    self.report.events_removed += 1;
                    if f.log.pop().as_ref() != Some(&entry) {
                        problems.push(format!(
                            "node {i}: a removed event is not the newest one delivered (block {})",
                            d.number
                        ));
                    }
                } else {
                    f.log.push(entry);
                }
            }
            self.report.violations.extend(problems);
        }
    }

    /// At the end: each follower holds exactly its node's canonical events.
    pub(super) fn check_followers(&mut self) {
        self.follow_events(u64::MAX);
        for i in 0..self.sc.nodes {
            let (Some(live), Some(f)) = (self.nodes[i].live.as_ref(), self.followers[i].as_ref())
            else {
                continue;
            };
            let node = live.handler.node().clone();
            let view = node.chain_view();
            let mut fresh = EventFollower::from_genesis(&view);
            let canonical: Vec<_> = fresh
                .drain(&view, usize::MAX)
                .unwrap_or_default()
                .into_iter()
                .map(|d| (d.number, d.block_hash, d.event.log_index, d.event.event))
                .collect();
            if canonical != f.log {
                self.report.violations.push(format!(
                    "node {i}: the follower holds {} events, the chain has {}; first difference at {:?}",
                    f.log.len(),
                    canonical.len(),
                    canonical.iter().zip(&f.log).position(|(a, b)| a != b)
                ));
            }
            if i == 0 || self.report.proofs_included == 0 {
                self.report.proofs_included = canonical
                    .iter()
                    .filter(|e| e.3.kind() == "storageProved")
                    .count() as u64;
            }
        }
    }
}
