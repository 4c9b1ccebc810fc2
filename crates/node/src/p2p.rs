//! The edge between the peer handler and libp2p: one task feeds the handler the network's
//! events with the wall clock, carries out its actions, and publishes what this node sealed or
//! was sent.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metamesh_net::{Acceptance, NetCommand, NetEvent, NetHandle, PeerId};
use tokio::sync::watch;

use crate::{
    Action, Announcement, Handler, HandlerConfig, NetControl, NetView, NodeService, PeerView,
    Verdict, protocol::Topic,
};

/// Gossip topic names in the order the network numbers them.
pub fn topic_names(genesis: &metamesh_primitives::Hash) -> Vec<String> {
    vec![
        Topic::Blocks.name(genesis),
        Topic::Transactions.name(genesis),
    ]
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn acceptance(v: Verdict) -> Acceptance {
    match v {
        Verdict::Accept => Acceptance::Accept,
        Verdict::Ignore => Acceptance::Ignore,
        Verdict::Reject => Acceptance::Reject,
    }
}

/// Runs until `shutdown` turns true or the network stops.
pub async fn run_network(
    node: Arc<NodeService>,
    mut net: NetHandle,
    config: HandlerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut handler: Handler<PeerId> = Handler::new(node.clone(), config);
    let mut news = node.announcements();
    let mut control = node.net_control();
    let mut listening = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let commands = net.commands.clone();
    let content = node.content().cloned();
    if let Some(c) = &content {
        c.attach(commands.clone());
    }
    loop {
        tokio::select! {
            _ = tick.tick() => {
                handler.tick(now_ms());
                node.set_net_view(view(&handler, &net.local_peer_id, &listening));
            }
            event = net.events.recv() => match event {
                Some(NetEvent::Listening(addr)) => {
                    tracing::info!(%addr, "listening");
                    listening.push(format!("{addr}/p2p/{}", net.local_peer_id));
                }
                Some(event) => {
                    if let Some(event) = on_content(content.as_ref(), &commands, event) {
                        on_event(&mut handler, &commands, event);
                    }
                }
                None => break,
            },
            Some(request) = control.recv() => operator(&mut handler, &commands, request),
            Some(news) = news.recv() => {
                let (topic, data) = match news {
                    Announcement::Block(block) => (0, block.to_rlp()),
                    Announcement::Transaction(raw) => (1, raw),
                };
                let _ = commands.send(NetCommand::Publish { topic, data });
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
        for action in handler.take_actions() {
            let command = match action {
                Action::Send { peer, id, request } => NetCommand::Request {
                    peer,
                    id,
                    data: request.encode(),
                },
                Action::Ban {
                    peer,
                    until_ms,
                    reason,
                } => {
                    tracing::warn!(%peer, %reason, "peer banned");
                    NetCommand::Ban {
                        peer,
                        duration: Duration::from_millis(until_ms.saturating_sub(now_ms())),
                    }
                }
            };
            let _ = commands.send(command);
        }
    }
    net.task.abort();
}

/// Takes the content events (exchange, routing) and passes everything else on; peer
/// arrivals and departures go to both. Want-lists are answered off this loop (store reads),
/// at most two at a time per peer.
fn on_content(
    content: Option<&Arc<crate::Content>>,
    commands: &tokio::sync::mpsc::UnboundedSender<NetCommand>,
    event: NetEvent,
) -> Option<NetEvent> {
    match event {
        NetEvent::Wanted { from, id, data } => {
            match content {
                Some(c) if c.begin_serving(from) => {
                    let (c, commands) = (c.clone(), commands.clone());
                    tokio::task::spawn_blocking(move || {
                        let answer = c.answer(&data);
                        c.end_serving(&from);
                        let _ = commands.send(NetCommand::SendBlocks { id, data: answer });
                    });
                }
                _ => {
                    let _ = commands.send(NetCommand::SendBlocks { id, data: None });
                }
            }
            None
        }
        NetEvent::Blocks { from, id, data } => {
            if let Some(c) = content {
                c.on_blocks(from, id, data);
            }
            None
        }
        NetEvent::Providers { id, peers, done } => {
            if let Some(c) = content {
                c.on_providers(id, peers, done);
            }
            None
        }
        NetEvent::Connected(peer) => {
            if let Some(c) = content {
                c.peer_connected(peer);
            }
            Some(NetEvent::Connected(peer))
        }
        NetEvent::Disconnected(peer) => {
            if let Some(c) = content {
                c.peer_gone(&peer);
            }
            Some(NetEvent::Disconnected(peer))
        }
        other => Some(other),
    }
}

fn view(handler: &Handler<PeerId>, me: &PeerId, listening: &[String]) -> NetView {
    let now = now_ms();
    NetView {
        peer_id: me.to_string(),
        listening: listening.to_vec(),
        peers: handler
            .peer_list()
            .into_iter()
            .map(|(id, status, score)| PeerView {
                id: id.to_string(),
                status,
                score,
            })
            .collect(),
        banned: handler
            .banned(now)
            .into_iter()
            .map(|(id, until)| (id.to_string(), until - now))
            .collect(),
    }
}

fn operator(
    handler: &mut Handler<PeerId>,
    commands: &tokio::sync::mpsc::UnboundedSender<NetCommand>,
    request: NetControl,
) {
    match request {
        NetControl::Block { peer, seconds } => {
            if let Ok(peer) = peer.parse::<PeerId>() {
                handler.ban_for(peer, seconds.saturating_mul(1000), now_ms());
            }
        }
        NetControl::Unblock { peer } => {
            if let Ok(peer) = peer.parse::<PeerId>() {
                handler.unban(peer);
                let _ = commands.send(NetCommand::Unban { peer });
            }
        }
    }
}

fn on_event(
    handler: &mut Handler<PeerId>,
    commands: &tokio::sync::mpsc::UnboundedSender<NetCommand>,
    event: NetEvent,
) {
    let now = now_ms();
    match event {
        NetEvent::Listening(_) => {}
        NetEvent::Connected(peer) => {
            tracing::info!(%peer, "peer connected");
            handler.connected(peer, now);
        }
        NetEvent::Disconnected(peer) => {
            tracing::info!(%peer, "peer disconnected");
            handler.disconnected(peer);
        }
        NetEvent::Gossip {
            from,
            topic,
            id,
            data,
        } => {
            let verdict = match topic {
                0 => handler.gossip_block(from, &data, now),
                _ => handler.gossip_transaction(from, &data, now),
            };
            let _ = commands.send(NetCommand::Verdict {
                id,
                from,
                acceptance: acceptance(verdict),
            });
        }
        NetEvent::Request { from, id, data } => {
            let data = handler.request(from, &data, now);
            let _ = commands.send(NetCommand::Respond { id, data });
        }
        NetEvent::Response { from, id, data } => handler.response(from, id, data.as_deref(), now),
        // Taken by `on_content` first.
        NetEvent::Wanted { .. } | NetEvent::Blocks { .. } | NetEvent::Providers { .. } => {}
    }
}
