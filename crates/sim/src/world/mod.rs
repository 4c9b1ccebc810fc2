//! The simulated world: nodes (the real chain, pool, sealing plan and peer handler, each on its
//! own in-memory database), a virtual clock, one seeded event queue, and a network that delays,
//! loses, duplicates, reorders and partitions messages.

use std::collections::{BTreeMap, HashMap, HashSet};

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::{ChainDb, ChainDbConfig, MemoryBackend};
use metamesh_node::{
    Announcement, Chain, Handler, HandlerConfig, NodeService, PoolConfig, SealPlan, protocol::Topic,
};
use metamesh_primitives::{Amount, Block, Hash};
use metamesh_state::Genesis;

mod byzantine;
mod events;
mod network;
mod traffic;

use crate::{
    invariants::Checker,
    report::Report,
    rng::Rng,
    scenario::{Byzantine, Scenario},
};

/// Genesis time of every simulated chain (seconds); the virtual clock starts one second later.
const GENESIS_TIME: u64 = 1_750_000_000;
const TICK_MS: u64 = 200;
const CHECK_MS: u64 = 5_000;
const USERS: usize = 8;

#[derive(Clone, Debug)]
enum Msg {
    Gossip {
        topic: Topic,
        id: Hash,
        data: std::sync::Arc<Vec<u8>>,
    },
    Request {
        id: u64,
        data: Vec<u8>,
    },
    Response {
        id: u64,
        data: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug)]
enum Event {
    Tick(usize),
    Seal { node: usize, parent: Hash },
    Deliver { from: usize, to: usize, msg: Msg },
    Crash(usize),
    Restart(usize),
    Reconnect(usize, usize),
    Traffic,
    StorageTick,
    ParamsChange,
    Check,
}

struct Live {
    handler: Handler<usize>,
    news: tokio::sync::mpsc::UnboundedReceiver<Announcement>,
    /// Gossip ids already seen (gossipsub's duplicate cache).
    seen: HashSet<Hash>,
    sealing_on: Option<Hash>,
    /// An equivocator's second block for the height it is sealing.
    twin: Option<Block>,
}

struct SimNode {
    backend: MemoryBackend,
    skew_ms: i64,
    rng: Rng,
    live: Option<Live>,
}

/// One simulated run.
pub struct Sim {
    pub(crate) sc: Scenario,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    pub(crate) genesis: Genesis,
    signers: Vec<SecretKey>,
    users: Vec<SecretKey>,
    nodes: Vec<SimNode>,
    /// (banning node, banned node) → until (virtual ms).
    bans: BTreeMap<(usize, usize), u64>,
    pub(crate) report: Report,
    checker: Checker,
    /// Per partition: not begun, running, checked.
    partition_heads: Vec<PartitionWatch>,
    /// When each block was sealed (virtual ms), for the partition check.
    sealed_at: HashMap<Hash, u64>,
    /// The files storage deals are opened on.
    files: Vec<(
        metamesh_storage::Cid,
        HashMap<metamesh_storage::Cid, Vec<u8>>,
    )>,
    followers: Vec<Option<events::Follower>>,
    checks: u64,
}

fn key(suite: Suite, label: &str, i: usize) -> SecretKey {
    let seed = suite.hash(format!("metamesh/sim/{label}/{i}").as_bytes());
    SecretKey::from_bytes(suite, &seed).expect("a hash is a valid key with overwhelming odds")
}

impl Sim {
    pub fn new(sc: Scenario) -> Self {
        let suite = Suite::Sm;
        let mut rng = Rng::new(sc.seed ^ 0x5eed);
        let signers: Vec<SecretKey> = (0..sc.nodes).map(|i| key(suite, "signer", i)).collect();
        let users: Vec<SecretKey> = (0..USERS).map(|i| key(suite, "user", i)).collect();
        let address = |k: &SecretKey| k.public_key().address();
        let mut genesis = Genesis::dev(
            4242,
            suite,
            GENESIS_TIME,
            sc.period_s,
            signers.iter().map(address).collect(),
            &users.iter().map(address).collect::<Vec<_>>(),
            Amount::from_mmt(1_000),
        );
        genesis.params.params_authority = address(&users[traffic::AUTHORITY]);
        let max_skew = sc.faults.max_skew_ms as i64;
        let nodes = (0..sc.nodes)
            .map(|_| SimNode {
                backend: MemoryBackend::new(),
                skew_ms: if max_skew == 0 {
                    0
                } else {
                    rng.below(2 * max_skew as u64 + 1) as i64 - max_skew
                },
                rng: rng.fork(),
                live: None,
            })
            .collect();
        let checker = Checker::new(&genesis);
        let sc_partitions = sc.faults.partitions.len();
        let sc_nodes = sc.nodes;
        Sim {
            report: Report::new(&sc),
            sc,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            genesis,
            signers,
            users,
            nodes,
            bans: BTreeMap::new(),
            checker,
            partition_heads: vec![PartitionWatch::Pending; sc_partitions],
            sealed_at: HashMap::new(),
            files: traffic::files(),
            followers: (0..sc_nodes).map(|_| None).collect(),
            checks: 0,
        }
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((time, self.seq), event);
    }

    /// A node's clock in milliseconds (its skew included).
    fn clock(&self, node: usize) -> u64 {
        ((GENESIS_TIME * 1000 + 1000 + self.now) as i64 + self.nodes[node].skew_ms) as u64
    }

    fn sealing_allowed(&self) -> bool {
        self.now < self.sc.fault_ms + self.sc.settle_ms
    }

    fn byzantine(&self, node: usize) -> Option<Byzantine> {
        self.sc
            .byzantine
            .filter(|(b, _)| *b == node)
            .map(|(_, k)| k)
    }

    /// Runs to the end and returns what happened, violations included.
    pub fn run(mut self) -> Report {
        for i in 0..self.sc.nodes {
            self.start(i);
            let offset = self.rng.below(TICK_MS);
            self.at(offset, Event::Tick(i));
        }
        for crash in self.sc.faults.crashes.clone() {
            self.at(crash.at_ms, Event::Crash(crash.node));
            let back = (crash.at_ms + crash.down_ms).min(self.sc.fault_ms);
            self.at(back, Event::Restart(crash.node));
        }
        let busy = self.sc.fault_ms + self.sc.settle_ms / 2;
        for _ in 0..self.sc.transfers {
            let t = self.rng.below(busy);
            self.at(t, Event::Traffic);
        }
        if self.sc.storage {
            let mut t = 1_000;
            while t < busy {
                self.at(t, Event::StorageTick);
                t += 2_000;
            }
        }
        if let Some(t) = self.sc.params_change_ms {
            self.at(t, Event::ParamsChange);
        }
        let mut t = CHECK_MS;
        while t <= self.sc.end_ms() {
            self.at(t, Event::Check);
            t += CHECK_MS;
        }
        while let Some(((time, _), event)) = self.queue.pop_first() {
            if time > self.sc.end_ms() {
                break;
            }
            self.now = time;
            self.track_partitions();
            self.handle(event);
        }
        self.finish()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Tick(i) => self.tick(i),
            Event::Seal { node, parent } => self.seal(node, parent),
            Event::Deliver { from, to, msg } => self.deliver(from, to, msg),
            Event::Crash(i) => self.crash(i),
            Event::Restart(i) => {
                if self.nodes[i].live.is_none() {
                    self.start(i);
                    self.at(self.now + TICK_MS, Event::Tick(i));
                }
            }
            Event::Reconnect(a, b) => self.connect(a, b),
            Event::Traffic => self.traffic(),
            Event::StorageTick => self.storage_round(),
            Event::ParamsChange => {
                self.change_params();
                if self.now + 2_000 < self.sc.fault_ms + self.sc.settle_ms / 2 {
                    self.at(self.now + 2_000, Event::ParamsChange);
                }
            }
            Event::Check => self.check(),
        }
    }

    fn start(&mut self, i: usize) {
        let config = ChainDbConfig {
            cache_nodes: 20_000,
            prune_depth: Some(128),
        };
        let db = ChainDb::open_in(self.nodes[i].backend.clone(), config)
            .expect("an in-memory database opens");
        let chain = Chain::from_db(db, self.genesis.clone()).expect("the chain opens");
        let node = NodeService::new(chain, Some(self.signers[i].clone()), PoolConfig::default());
        let news = node.announcements();
        // The virtual network's round trip stays under a second, so a lost request is given up
        // after two (a real node waits ten: a large batch of bodies takes time on a slow link).
        let config = HandlerConfig {
            request_timeout_ms: 2_000,
            ..HandlerConfig::default()
        };
        let handler = Handler::new(node, config);
        self.nodes[i].live = Some(Live {
            handler,
            news,
            seen: HashSet::new(),
            sealing_on: None,
            twin: None,
        });
        for j in 0..self.sc.nodes {
            if j != i {
                self.connect(i, j);
            }
        }
    }

    /// A crash: the node stops between two writes, and restarts from what was written.
    fn crash(&mut self, i: usize) {
        if self.nodes[i].live.is_none() {
            return;
        }
        let image = self.nodes[i].backend.image();
        self.nodes[i].live = None;
        self.nodes[i].backend = MemoryBackend::from_image(image);
        self.report.crashes += 1;
        for j in 0..self.sc.nodes {
            if let Some(live) = self.nodes[j].live.as_mut() {
                live.handler.disconnected(i);
            }
        }
    }

    fn tick(&mut self, i: usize) {
        let now = self.clock(i);
        let Some(live) = self.nodes[i].live.as_mut() else {
            return;
        };
        live.handler.tick(now);
        let attack = self.byzantine(i);
        // The greedy signer seals its turns too, and more between them; the forgers only forge.
        let honest_sealing = !matches!(
            attack,
            Some(Byzantine::BadSeal | Byzantine::WrongDifficulty)
        );
        if self.sealing_allowed() && honest_sealing {
            let random = self.nodes[i].rng.next_u64();
            let live = self.nodes[i].live.as_mut().expect("live");
            if let Ok(SealPlan::Seal { parent, delay }) =
                live.handler.node().plan(now / 1000, random)
                && live.sealing_on != Some(parent)
            {
                live.sealing_on = Some(parent);
                let delay = delay.as_millis() as u64;
                self.at(self.now + delay, Event::Seal { node: i, parent });
            }
        }
        if self.sealing_allowed() && (now / TICK_MS).is_multiple_of(5) {
            self.attack(i, now);
        }
        self.process(i);
        self.at(self.now + TICK_MS, Event::Tick(i));
    }

    fn seal(&mut self, i: usize, parent: Hash) {
        if !self.sealing_allowed() {
            return;
        }
        let now = self.clock(i) / 1000;
        let key = self.signers[i].clone();
        let equivocates = self.byzantine(i) == Some(Byzantine::Equivocates);
        let Some(live) = self.nodes[i].live.as_mut() else {
            return;
        };
        let node = live.handler.node().clone();
        if equivocates {
            // The twin: same parent, an empty body and a later timestamp, so a different hash.
            live.twin = node
                .with_chain(|c| c.build_block(&key, &[], None, now + 1))
                .ok()
                .map(|b| b.block);
        }
        match node.seal(parent, now) {
            Ok(Some(block)) => {
                self.report.sealed += 1;
                self.sealed_at
                    .insert(block.hash(self.genesis.suite), self.now);
                if let Some(twin) = &live.twin {
                    self.sealed_at
                        .insert(twin.hash(self.genesis.suite), self.now);
                }
            }
            _ => live.twin = None,
        }
        self.process(i);
    }

    fn track_partitions(&mut self) {
        for n in 0..self.partition_heads.len() {
            let p = &self.sc.faults.partitions[n];
            let (from, to) = (p.from_ms, p.to_ms);
            match &self.partition_heads[n] {
                PartitionWatch::Pending if self.now >= from => {
                    self.partition_heads[n] = PartitionWatch::Running;
                }
                PartitionWatch::Running if self.now >= to => {
                    let live = self.live_services();
                    let p = self.sc.faults.partitions[n].clone();
                    self.checker.partition_growth(
                        &self.sc,
                        &p,
                        &live,
                        &self.sealed_at,
                        &mut self.report,
                    );
                    self.partition_heads[n] = PartitionWatch::Done;
                }
                _ => {}
            }
        }
    }

    /// Every live node's head number.
    fn heads(&self) -> Vec<Option<u64>> {
        self.nodes
            .iter()
            .map(|n| {
                n.live
                    .as_ref()
                    .map(|l| l.handler.node().status().head_number)
            })
            .collect()
    }

    fn live_services(&self) -> Vec<(usize, std::sync::Arc<NodeService>)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.live.as_ref().map(|l| (i, l.handler.node().clone())))
            .collect()
    }

    fn check(&mut self) {
        self.checks += 1;
        self.follow_events(self.checks);
        let live = self.live_services();
        let all_honest_up = (0..self.sc.nodes)
            .filter(|i| self.sc.is_honest(*i))
            .all(|i| self.nodes[i].live.is_some());
        self.checker
            .check(&self.sc, &live, all_honest_up, &mut self.report);
        for (i, node) in &live {
            let s = node.status();
            self.report.timeline.push(format!(
                "t={}s node {i}: head {} 0x{} td {}{}",
                self.now / 1000,
                s.head_number,
                hex::encode(&s.head_hash[..4]),
                s.total_difficulty,
                if node.is_syncing() {
                    ", holding (a peer is ahead)"
                } else {
                    ""
                }
            ));
        }
        if self.now == self.sc.fault_ms {
            self.report.head_at_heal = self.heads().into_iter().flatten().max().unwrap_or(0);
        }
    }

    fn finish(mut self) -> Report {
        self.check_followers();
        let live = self.live_services();
        self.checker.finish(&self.sc, &live, &mut self.report);
        if self.sc.params_change_ms.is_some() {
            self.checker
                .params_change(&self.sc, &live, traffic::NEW_GAS_LIMIT, &mut self.report);
        }
        self.report
    }

    pub fn signer_addresses(&self) -> Vec<Address> {
        self.signers
            .iter()
            .map(|k| k.public_key().address())
            .collect()
    }
}

#[derive(Clone, Debug)]
enum PartitionWatch {
    Pending,
    Running,
    Done,
}
