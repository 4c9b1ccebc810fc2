//! The simulated network: links that partitions cut and bans close, messages delayed and
//! dropped by the scenario's link model, gossip, and each node's handler fed what arrives.

use metamesh_node::{Action, Announcement, Verdict, protocol::Topic};

use super::{Event, Msg, Sim};

impl Sim {
    pub(super) fn banned(&self, a: usize, b: usize) -> bool {
        let now = self.now;
        [(a, b), (b, a)]
            .iter()
            .any(|k| self.bans.get(k).is_some_and(|until| *until > now))
    }

    pub(super) fn connect(&mut self, a: usize, b: usize) {
        if self.nodes[a].live.is_none() || self.nodes[b].live.is_none() || self.banned(a, b) {
            return;
        }
        let (ta, tb) = (self.clock(a), self.clock(b));
        self.nodes[a]
            .live
            .as_mut()
            .expect("live")
            .handler
            .connected(b, ta);
        self.nodes[b]
            .live
            .as_mut()
            .expect("live")
            .handler
            .connected(a, tb);
        self.process(a);
        self.process(b);
    }

    pub(super) fn partitioned(&self, a: usize, b: usize) -> bool {
        self.sc.faults.partitions.iter().any(|p| {
            (p.from_ms..p.to_ms).contains(&self.now) && p.side.contains(&a) != p.side.contains(&b)
        })
    }

    pub(super) fn link_up(&self, a: usize, b: usize) -> bool {
        self.nodes[a].live.is_some()
            && self.nodes[b].live.is_some()
            && !self.banned(a, b)
            && !self.partitioned(a, b)
    }

    pub(super) fn send(&mut self, from: usize, to: usize, msg: Msg) {
        if !self.link_up(from, to) {
            self.report.dropped += 1;
            return;
        }
        let f = &self.sc.faults;
        let faulty = self.now < self.sc.fault_ms;
        let (lo, hi, loss, dup) = (
            f.min_delay_ms,
            f.max_delay_ms,
            f.loss_permille,
            f.duplicate_permille,
        );
        if faulty && self.rng.chance(loss) {
            self.report.dropped += 1;
            return;
        }
        self.report.messages += 1;
        let copies = if faulty && self.rng.chance(dup) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.rng.range(lo, hi);
            self.at(
                self.now + delay,
                Event::Deliver {
                    from,
                    to,
                    msg: msg.clone(),
                },
            );
        }
    }

    pub(super) fn gossip(
        &mut self,
        from: usize,
        topic: Topic,
        data: Vec<u8>,
        except: Option<usize>,
    ) {
        let id = self.genesis.suite.hash(&data);
        if let Some(live) = self.nodes[from].live.as_mut() {
            live.seen.insert(id);
        }
        let data = std::sync::Arc::new(data);
        for to in 0..self.sc.nodes {
            if to != from && Some(to) != except {
                let msg = Msg::Gossip {
                    topic,
                    id,
                    data: data.clone(),
                };
                self.send(from, to, msg);
            }
        }
    }

    pub(super) fn deliver(&mut self, from: usize, to: usize, msg: Msg) {
        if !self.link_up(from, to) {
            self.report.dropped += 1;
            return;
        }
        let now = self.clock(to);
        let live = self.nodes[to].live.as_mut().expect("link up");
        match msg {
            Msg::Gossip { topic, id, data } => {
                if !live.seen.insert(id) {
                    return;
                }
                let verdict = match topic {
                    Topic::Blocks => live.handler.gossip_block(from, &data, now),
                    Topic::Transactions => live.handler.gossip_transaction(from, &data, now),
                };
                if verdict == Verdict::Accept {
                    self.gossip(to, topic, data.to_vec(), Some(from));
                }
            }
            Msg::Request { id, data } => {
                let answer = live.handler.request(from, &data, now);
                self.send(to, from, Msg::Response { id, data: answer });
            }
            Msg::Response { id, data } => live.handler.response(from, id, data.as_deref(), now),
        }
        self.process(to);
    }

    /// Carries out what node `i` decided: requests, bans, and gossip of what it sealed or was
    /// sent.
    pub(super) fn process(&mut self, i: usize) {
        let Some(live) = self.nodes[i].live.as_mut() else {
            return;
        };
        let actions = live.handler.take_actions();
        let mut news = Vec::new();
        while let Ok(n) = live.news.try_recv() {
            news.push(n);
        }
        let twin = live.twin.take();
        for action in actions {
            match action {
                Action::Send { peer, id, request } => {
                    let data = request.encode();
                    self.send(i, peer, Msg::Request { id, data });
                }
                Action::Ban {
                    peer,
                    until_ms,
                    reason,
                } => self.ban(i, peer, until_ms, reason),
            }
        }
        for n in news {
            match n {
                Announcement::Block(block) => match &twin {
                    Some(twin) => self.equivocate(i, &block, twin),
                    None => self.gossip(i, Topic::Blocks, block.to_rlp(), None),
                },
                Announcement::Transaction(raw) => self.gossip(i, Topic::Transactions, raw, None),
            }
        }
    }

    pub(super) fn ban(&mut self, by: usize, peer: usize, until_ms: u64, reason: String) {
        let until = self.now + until_ms.saturating_sub(self.clock(by));
        self.bans.insert((by, peer), until);
        self.report.bans.push(format!(
            "t={}ms node {by} banned node {peer}: {reason}",
            self.now
        ));
        if self.sc.is_honest(by) && self.sc.is_honest(peer) {
            self.report.violations.push(format!(
                "t={}ms honest node {by} banned honest node {peer}: {reason}",
                self.now
            ));
        }
        if let Some(live) = self.nodes[peer].live.as_mut() {
            live.handler.disconnected(by);
        }
        self.at(until + 1, Event::Reconnect(by, peer));
    }
}
