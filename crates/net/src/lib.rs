//! # metamesh-net
//!
//! The libp2p transport of a node: TCP + Noise + Yamux, identify, Kademlia (peer discovery),
//! gossipsub (blocks and transactions), a request-response protocol for sync (status, header
//! and body ranges), Kademlia provider records for content routing, and a block-exchange
//! request-response protocol (want-list in, blocks out). It moves bytes and carries out decisions; it decides nothing about validity —
//! every gossip message waits for the node's verdict before it is relayed, and bans come from
//! the node's peer scoring.
//!
//! ```text
//! node ──NetCommand──▶ [swarm task] ──▶ peers
//! node ◀──NetEvent──── [swarm task] ◀── peers
//! ```

mod codec;
mod swarm;

use std::time::Duration;

pub use libp2p::{Multiaddr, PeerId, identity::Keypair};
pub use swarm::start;

/// Gossip topics are numbered in the order given in [`NetConfig::topics`].
pub type TopicIndex = usize;

/// Identifies a gossip message for its verdict.
pub type MessageId = libp2p::gossipsub::MessageId;

#[derive(Clone, Debug)]
pub struct NetConfig {
    pub keypair: Keypair,
    pub listen: Multiaddr,
    /// Peers to dial at start (`/ip4/…/tcp/…/p2p/<id>`).
    pub bootnodes: Vec<Multiaddr>,
    /// Gossip topic names, e.g. blocks then transactions.
    pub topics: Vec<String>,
    /// Dial discovered peers while connected to fewer than this.
    pub target_peers: usize,
    pub request_timeout: Duration,
}

/// What the node decided about a gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid: relay it.
    Accept,
    /// Not for relaying, but not the sender's fault.
    Ignore,
    /// Invalid: drop it and count it against the sender.
    Reject,
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    Listening(Multiaddr),
    Connected(PeerId),
    Disconnected(PeerId),
    Gossip {
        from: PeerId,
        topic: TopicIndex,
        id: MessageId,
        data: Vec<u8>,
    },
    /// A peer's request; answer with [`NetCommand::Respond`] and the same `id`.
    Request {
        from: PeerId,
        id: u64,
        data: Vec<u8>,
    },
    /// The answer to our request `id`; `None` if it failed (timeout, refused, disconnected).
    Response {
        from: PeerId,
        id: u64,
        data: Option<Vec<u8>>,
    },
    /// A peer's want-list on the block-exchange protocol; answer with
    /// [`NetCommand::SendBlocks`] and the same `id`.
    Wanted {
        from: PeerId,
        id: u64,
        data: Vec<u8>,
    },
    /// Blocks answering our want-list `id`; `None` if the request failed.
    Blocks {
        from: PeerId,
        id: u64,
        data: Option<Vec<u8>>,
    },
    /// Providers found for the content-routing query `id` (several events; the last has
    /// `done`).
    Providers {
        id: u64,
        peers: Vec<PeerId>,
        done: bool,
    },
}

/// What the node asks of the network.
#[derive(Debug)]
pub enum NetCommand {
    Publish {
        topic: TopicIndex,
        data: Vec<u8>,
    },
    Verdict {
        id: MessageId,
        from: PeerId,
        acceptance: Acceptance,
    },
    Request {
        peer: PeerId,
        id: u64,
        data: Vec<u8>,
    },
    /// `None` refuses the request (the requester sees a failure).
    Respond {
        id: u64,
        data: Option<Vec<u8>>,
    },
    /// Disconnect and refuse `peer` for this long.
    Ban {
        peer: PeerId,
        duration: Duration,
    },
    /// Lift a ban early.
    Unban {
        peer: PeerId,
    },
    /// Sends a want-list on the block-exchange protocol.
    Want {
        peer: PeerId,
        id: u64,
        data: Vec<u8>,
    },
    /// Answers a want-list (`None` refuses it).
    SendBlocks {
        id: u64,
        data: Option<Vec<u8>>,
    },
    /// Announces in the DHT that this node provides `key` (a CID's bytes).
    Provide {
        key: Vec<u8>,
    },
    /// Looks up providers of `key` in the DHT.
    FindProviders {
        id: u64,
        key: Vec<u8>,
    },
}

/// The running network: send commands, receive events.
pub struct NetHandle {
    pub local_peer_id: PeerId,
    pub commands: tokio::sync::mpsc::UnboundedSender<NetCommand>,
    pub events: tokio::sync::mpsc::Receiver<NetEvent>,
    pub task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("listening on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("setting up the transport: {0}")]
    Transport(String),
    #[error("bootnode {0} has no /p2p/<peer id> part")]
    BootnodeWithoutId(Multiaddr),
}

/// Reads the node's libp2p key from `bytes` (protobuf encoding), as written by
/// [`encode_keypair`].
pub fn decode_keypair(bytes: &[u8]) -> Result<Keypair, NetError> {
    Keypair::from_protobuf_encoding(bytes).map_err(|e| NetError::Transport(e.to_string()))
}

pub fn encode_keypair(key: &Keypair) -> Vec<u8> {
    key.to_protobuf_encoding()
        .expect("ed25519 keys always encode")
}

/// A new ed25519 node key.
pub fn generate_keypair() -> Keypair {
    Keypair::generate_ed25519()
}

/// The peer id at the end of a multiaddress, if it has one.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}
