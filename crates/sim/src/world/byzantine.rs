//! The Byzantine signer's behaviours: a block that breaks a rule, or two valid blocks at one
//! height shown to different halves of its peers.

use metamesh_consensus::{Clique, CliqueConfig};
use metamesh_crypto::{SecretKey, Suite};
use metamesh_node::protocol::Topic;
use metamesh_primitives::Block;

use super::{Msg, Sim, key};
use crate::scenario::Byzantine;

impl Sim {
    pub(super) fn equivocate(&mut self, i: usize, block: &Block, twin: &Block) {
        self.report.equivocations += 1;
        let peers: Vec<usize> = (0..self.sc.nodes).filter(|j| *j != i).collect();
        let half = peers.len() / 2;
        for (n, peer) in peers.into_iter().enumerate() {
            let data = if n < half { block } else { twin }.to_rlp();
            let id = self.genesis.suite.hash(&data);
            let msg = Msg::Gossip {
                topic: Topic::Blocks,
                id,
                data: std::sync::Arc::new(data),
            };
            self.send(i, peer, msg);
        }
    }

    /// A Byzantine signer's block that breaks a rule, sent to every peer.
    pub(super) fn attack(&mut self, i: usize, now_ms: u64) {
        let Some(kind) = self.byzantine(i) else {
            return;
        };
        let Some(live) = self.nodes[i].live.as_ref() else {
            return;
        };
        let node = live.handler.node().clone();
        let key = self.signers[i].clone();
        let me = key.public_key().address();
        let engine = Clique::new(CliqueConfig {
            period: self.genesis.clique.period,
            epoch: self.genesis.clique.epoch,
            suite: self.genesis.suite,
        })
        .expect("valid Clique parameters");
        let rogue = key_for_rogue(self.genesis.suite);
        let block = node.with_chain(|c| -> Option<Block> {
            let head = c.head().clone();
            let snap = c.snapshot(&head.hash(c.suite())).ok()?;
            let now = (now_ms / 1000).max(head.timestamp + c.genesis().clique.period);
            let mut block = c.build_block(&key, &[], None, now).ok()?.block;
            match kind {
                Byzantine::SealsTooOften if snap.recently_signed(head.number + 1, &me) => {}
                Byzantine::SealsTooOften | Byzantine::Equivocates => return None,
                Byzantine::BadSeal => engine.seal(&mut block.header, &rogue).ok()?,
                Byzantine::WrongDifficulty => {
                    block.header.difficulty = 3 - block.header.difficulty;
                    engine.seal(&mut block.header, &key).ok()?;
                }
            }
            Some(block)
        });
        if let Some(block) = block {
            self.report.attacks += 1;
            self.gossip(i, Topic::Blocks, block.to_rlp(), None);
        }
    }
}

/// A key no signer holds.
fn key_for_rogue(suite: Suite) -> SecretKey {
    key(suite, "rogue", 0)
}
