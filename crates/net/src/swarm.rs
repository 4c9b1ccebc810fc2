//! The swarm task: one tokio task owns the libp2p swarm, turns its events into [`NetEvent`]s
//! and carries out [`NetCommand`]s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p::{
    StreamProtocol, Swarm, allow_block_list, connection_limits, gossipsub, identify, kad, noise,
    request_response,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::{
    Acceptance, NetCommand, NetConfig, NetError, NetEvent, NetHandle, codec::Framed, peer_of,
};

const SYNC_PROTOCOL: &str = "/metamesh/sync/1";
const EXCHANGE_PROTOCOL: &str = "/metamesh/blocks/1";
const KAD_PROTOCOL: &str = "/metamesh/kad/1.0.0";
const IDENTIFY_PROTOCOL: &str = "/metamesh/id/1.0.0";
const MAX_GOSSIP: usize = 16 * 1024 * 1024;

/// Inbound connections accepted at once, and connections to one peer.
const MAX_INBOUND: u32 = 64;
const MAX_PER_PEER: u32 = 2;
/// Peers remembered for redialling.
const MAX_KNOWN: usize = 256;

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<Framed>,
    exchange: request_response::Behaviour<Framed>,
}

fn behaviour(key: &libp2p::identity::Keypair, config: &NetConfig) -> Result<Behaviour, NetError> {
    let peer = key.public().to_peer_id();
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .max_transmit_size(MAX_GOSSIP)
        .heartbeat_interval(Duration::from_millis(700))
        // The same bytes are the same message, whoever published them.
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec())
        })
        .build()
        .map_err(|e| NetError::Transport(e.to_string()))?;
    let gossip = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_config,
    )
    .map_err(|e| NetError::Transport(e.to_string()))?;
    let mut kad = kad::Behaviour::with_config(
        peer,
        kad::store::MemoryStore::new(peer),
        kad::Config::new(StreamProtocol::new(KAD_PROTOCOL)),
    );
    kad.set_mode(Some(kad::Mode::Server));
    let sync = request_response::Behaviour::with_codec(
        Framed,
        [(
            StreamProtocol::new(SYNC_PROTOCOL),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default().with_request_timeout(config.request_timeout),
    );
    let exchange = request_response::Behaviour::with_codec(
        Framed,
        [(
            StreamProtocol::new(EXCHANGE_PROTOCOL),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default().with_request_timeout(config.request_timeout * 3),
    );
    Ok(Behaviour {
        exchange,
        limits: connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established_incoming(Some(MAX_INBOUND))
                .with_max_established_per_peer(Some(MAX_PER_PEER)),
        ),
        blocked: Default::default(),
        identify: identify::Behaviour::new(identify::Config::new(
            IDENTIFY_PROTOCOL.into(),
            key.public(),
        )),
        kad,
        gossip,
        sync,
    })
}

/// Starts listening, dials the bootnodes and runs the swarm in a task.
pub async fn start(config: NetConfig) -> Result<NetHandle, NetError> {
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_behaviour(|key| behaviour(key, &config).map_err(|e| e.to_string().into()))
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    let topics: Vec<gossipsub::IdentTopic> = config
        .topics
        .iter()
        .map(|t| gossipsub::IdentTopic::new(t.clone()))
        .collect();
    for topic in &topics {
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(topic)
            .map_err(|e| NetError::Transport(e.to_string()))?;
    }
    swarm
        .listen_on(config.listen.clone())
        .map_err(|e| NetError::Listen {
            addr: config.listen.clone(),
            reason: e.to_string(),
        })?;
    for addr in &config.bootnodes {
        let peer = peer_of(addr).ok_or_else(|| NetError::BootnodeWithoutId(addr.clone()))?;
        swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
        let _ = swarm.dial(addr.clone());
    }
    let local_peer_id = *swarm.local_peer_id();
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (event_tx, events) = mpsc::channel(4096);
    let task = tokio::spawn(
        Task {
            swarm,
            topics,
            events: event_tx,
            target_peers: config.target_peers,
            outbound: HashMap::new(),
            inbound: HashMap::new(),
            wants_out: HashMap::new(),
            wants_in: HashMap::new(),
            queries: HashMap::new(),
            next_inbound: 0,
            bans: HashMap::new(),
            bootnodes: config.bootnodes.clone(),
            known: HashMap::new(),
            ticks: 0,
        }
        .run(command_rx),
    );
    Ok(NetHandle {
        local_peer_id,
        commands,
        events,
        task,
    })
}

/// The two request-response protocols and the events each one's traffic becomes.
#[derive(Clone, Copy)]
enum Protocol {
    Sync,
    Exchange,
}

impl Protocol {
    fn request(self, from: libp2p::PeerId, id: u64, data: Vec<u8>) -> NetEvent {
        match self {
            Protocol::Sync => NetEvent::Request { from, id, data },
            Protocol::Exchange => NetEvent::Wanted { from, id, data },
        }
    }

    fn answer(self, from: libp2p::PeerId, id: u64, data: Option<Vec<u8>>) -> NetEvent {
        match self {
            Protocol::Sync => NetEvent::Response { from, id, data },
            Protocol::Exchange => NetEvent::Blocks { from, id, data },
        }
    }
}

struct Task {
    swarm: Swarm<Behaviour>,
    topics: Vec<gossipsub::IdentTopic>,
    events: mpsc::Sender<NetEvent>,
    target_peers: usize,
    outbound: HashMap<request_response::OutboundRequestId, u64>,
    inbound: HashMap<u64, request_response::ResponseChannel<Vec<u8>>>,
    /// The same two maps for the block exchange.
    wants_out: HashMap<request_response::OutboundRequestId, u64>,
    wants_in: HashMap<u64, request_response::ResponseChannel<Vec<u8>>>,
    /// Provider lookups in flight.
    queries: HashMap<kad::QueryId, u64>,
    next_inbound: u64,
    /// When each banned peer may come back.
    bans: HashMap<libp2p::PeerId, Instant>,
    bootnodes: Vec<libp2p::Multiaddr>,
    /// Where peers said they listen (identify), to dial them again after they went away.
    known: HashMap<libp2p::PeerId, libp2p::Multiaddr>,
    ticks: u64,
}

impl Task {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<NetCommand>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        let mut discovery = tokio::time::interval(Duration::from_secs(30));
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => {
                    if self.on_swarm(event).await.is_err() {
                        return; // the node stopped listening
                    }
                }
                command = commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                _ = housekeeping.tick() => {
                    self.lift_bans();
                    self.ticks += 1;
                    if self.ticks.is_multiple_of(5) {
                        self.redial();
                    }
                }
                _ = discovery.tick() => {
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
            }
        }
    }

    async fn emit(&mut self, event: NetEvent) -> Result<(), ()> {
        self.events.send(event).await.map_err(|_| ())
    }

    async fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) -> Result<(), ()> {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                self.emit(NetEvent::Listening(address)).await?;
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } if num_established.get() == 1 => {
                self.emit(NetEvent::Connected(peer_id)).await?;
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.emit(NetEvent::Disconnected(peer_id)).await?;
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                ..
            } if !self.is_bootnode(&peer) => {
                // Gone, or never there: stop redialling it (identify will tell us again).
                self.known.remove(&peer);
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour(event).await?,
            _ => {}
        }
        Ok(())
    }

    async fn on_behaviour(&mut self, event: BehaviourEvent) -> Result<(), ()> {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                if let Some(addr) = info.listen_addrs.first()
                    && (self.known.len() < MAX_KNOWN || self.known.contains_key(&peer_id))
                {
                    self.known.insert(peer_id, addr.clone());
                }
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, addresses, ..
            }) => {
                let connected = self.swarm.connected_peers().count();
                if connected < self.target_peers && !self.swarm.is_connected(&peer) {
                    let _ = self.swarm.dial(addresses.first().clone());
                }
            }
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => {
                if let Some(topic) = self.topics.iter().position(|t| t.hash() == message.topic) {
                    self.emit(NetEvent::Gossip {
                        from: propagation_source,
                        topic,
                        id: message_id,
                        data: message.data,
                    })
                    .await?;
                }
            }
            BehaviourEvent::Sync(event) => self.on_request_response(Protocol::Sync, event).await?,
            BehaviourEvent::Exchange(event) => {
                self.on_request_response(Protocol::Exchange, event).await?
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            }) => {
                if let kad::QueryResult::GetProviders(found) = result
                    && let Some(&ours) = self.queries.get(&id)
                {
                    let peers = match found {
                        Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) => {
                            providers.into_iter().collect()
                        }
                        _ => Vec::new(),
                    };
                    if step.last {
                        self.queries.remove(&id);
                    }
                    self.emit(NetEvent::Providers {
                        id: ours,
                        peers,
                        done: step.last,
                    })
                    .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Both request-response protocols: requests get an id for the node's answer, answers and
    /// failures go back under the node's own request id.
    async fn on_request_response(
        &mut self,
        protocol: Protocol,
        event: request_response::Event<Vec<u8>, Vec<u8>>,
    ) -> Result<(), ()> {
        use request_response::{Event, Message};
        let (inbound, outbound) = match protocol {
            Protocol::Sync => (&mut self.inbound, &mut self.outbound),
            Protocol::Exchange => (&mut self.wants_in, &mut self.wants_out),
        };
        let event = match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                self.next_inbound += 1;
                let id = self.next_inbound;
                inbound.insert(id, channel);
                protocol.request(peer, id, request)
            }
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => match outbound.remove(&request_id) {
                Some(id) => protocol.answer(peer, id, Some(response)),
                None => return Ok(()),
            },
            Event::OutboundFailure {
                peer, request_id, ..
            } => match outbound.remove(&request_id) {
                Some(id) => protocol.answer(peer, id, None),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        self.emit(event).await
    }

    fn on_command(&mut self, command: NetCommand) {
        let behaviour = self.swarm.behaviour_mut();
        match command {
            NetCommand::Publish { topic, data } => {
                if let Some(t) = self.topics.get(topic) {
                    // No peers yet, or a duplicate: nothing to do either way.
                    let _ = behaviour.gossip.publish(t.clone(), data);
                }
            }
            NetCommand::Verdict {
                id,
                from,
                acceptance,
            } => {
                let acceptance = match acceptance {
                    Acceptance::Accept => gossipsub::MessageAcceptance::Accept,
                    Acceptance::Ignore => gossipsub::MessageAcceptance::Ignore,
                    Acceptance::Reject => gossipsub::MessageAcceptance::Reject,
                };
                behaviour
                    .gossip
                    .report_message_validation_result(&id, &from, acceptance);
            }
            NetCommand::Request { peer, id, data } => {
                let request_id = behaviour.sync.send_request(&peer, data);
                self.outbound.insert(request_id, id);
            }
            NetCommand::Respond { id, data } => {
                if let (Some(channel), Some(data)) = (self.inbound.remove(&id), data) {
                    let _ = behaviour.sync.send_response(channel, data);
                }
            }
            NetCommand::Want { peer, id, data } => {
                let request_id = behaviour.exchange.send_request(&peer, data);
                self.wants_out.insert(request_id, id);
            }
            NetCommand::SendBlocks { id, data } => {
                if let (Some(channel), Some(data)) = (self.wants_in.remove(&id), data) {
                    let _ = behaviour.exchange.send_response(channel, data);
                }
            }
            NetCommand::Provide { key } => {
                let _ = behaviour.kad.start_providing(kad::RecordKey::new(&key));
            }
            NetCommand::FindProviders { id, key } => {
                let query = behaviour.kad.get_providers(kad::RecordKey::new(&key));
                self.queries.insert(query, id);
            }
            NetCommand::Unban { peer } => {
                behaviour.blocked.unblock_peer(peer);
                self.bans.remove(&peer);
            }
            NetCommand::Ban { peer, duration } => {
                behaviour.blocked.block_peer(peer);
                self.known.remove(&peer);
                let until = Instant::now() + duration;
                let entry = self.bans.entry(peer).or_insert(until);
                *entry = (*entry).max(until);
            }
        }
    }

    fn is_bootnode(&self, peer: &libp2p::PeerId) -> bool {
        self.bootnodes.iter().any(|a| peer_of(a) == Some(*peer))
    }

    /// Below the target, dial the bootnodes and the peers we knew that are not connected (a
    /// restarted node finds its way back without waiting for discovery).
    fn redial(&mut self) {
        if self.swarm.connected_peers().count() >= self.target_peers {
            return;
        }
        let mut targets: Vec<libp2p::Multiaddr> = self
            .bootnodes
            .iter()
            .filter(|a| peer_of(a).is_some_and(|p| !self.swarm.is_connected(&p)))
            .cloned()
            .collect();
        for (peer, addr) in &self.known {
            if !self.swarm.is_connected(peer) {
                targets.push(addr.clone().with_p2p(*peer).unwrap_or_else(|a| a));
            }
        }
        for addr in targets {
            let _ = self.swarm.dial(addr);
        }
    }

    fn lift_bans(&mut self) {
        let now = Instant::now();
        let over: Vec<libp2p::PeerId> = self
            .bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in over {
            self.bans.remove(&peer);
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
    }
}
