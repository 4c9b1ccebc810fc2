//! Content on the network: this node's block store, answering peers' want-lists, announcing
//! what it holds in the DHT, and fetching a DAG it lacks from whoever provides it.
//!
//! ```text
//! want   = rlp([cid, …])                at most 256 CIDs
//! blocks = rlp([[cid, data], …])        what the peer holds of them, within 16 MiB
//! ```
//! Every received block is checked against its CID before it is stored; a peer that sends a
//! block nobody asked for or one that does not hash is not asked again during that fetch.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy_rlp::Encodable;
use metamesh_net::{NetCommand, PeerId};
use metamesh_primitives::rlp::{decode_bytes, decode_list, encode_list};
use metamesh_storage::{AddSession, Block, BlockSink as _, BlockStore, Cid, PinInfo, StorageError};
use tokio::sync::{mpsc::UnboundedSender, oneshot};

/// CIDs in one want-list.
pub const MAX_WANT: usize = 256;
/// Bytes of blocks in one answer.
pub const MAX_ANSWER: usize = 16 << 20;
/// Rounds without a new block before a fetch gives up.
const PATIENCE: u32 = 6;

enum Reply {
    Blocks(Option<Vec<u8>>),
    Providers(Vec<PeerId>),
}

/// The node's content: store, exchange and routing.
pub struct Content {
    store: BlockStore,
    commands: Mutex<Option<UnboundedSender<NetCommand>>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    /// Providers gathered so far by an unfinished lookup.
    found: Mutex<HashMap<u64, Vec<PeerId>>>,
    next: AtomicU64,
    peers: Mutex<HashSet<PeerId>>,
    /// Want-lists being answered, per peer.
    serving: Mutex<HashMap<PeerId, usize>>,
    /// Held while the storage agent changes its pins' names, so two changes never race.
    deal_pins: Mutex<()>,
}

/// Want-lists answered at once for one peer; more are refused until one is done.
const MAX_SERVING: usize = 2;

/// How a fetch went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    pub blocks: u64,
    pub bytes: u64,
    pub peers: usize,
}

pub fn encode_want(cids: &[Cid]) -> Vec<u8> {
    let mut p = Vec::new();
    for c in cids {
        c.to_bytes().as_slice().encode(&mut p);
    }
    let mut out = Vec::new();
    encode_list(&p, &mut out);
    out
}

pub fn decode_want(raw: &[u8]) -> Result<Vec<Cid>, String> {
    let mut buf = raw;
    let mut p = decode_list(&mut buf).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while !p.is_empty() {
        let bytes = decode_bytes(&mut p).map_err(|e| e.to_string())?;
        out.push(Cid::try_from(bytes.as_slice()).map_err(|e| e.to_string())?);
        if out.len() > MAX_WANT {
            return Err(format!("a want-list of more than {MAX_WANT} CIDs"));
        }
    }
    Ok(out)
}

pub fn encode_blocks(blocks: &[Block]) -> Vec<u8> {
    let mut p = Vec::new();
    for b in blocks {
        let mut e = Vec::new();
        b.cid.to_bytes().as_slice().encode(&mut e);
        b.data.as_slice().encode(&mut e);
        encode_list(&e, &mut p);
    }
    let mut out = Vec::new();
    encode_list(&p, &mut out);
    out
}

/// Reads an answer; every block is checked against its CID.
pub fn decode_blocks(raw: &[u8]) -> Result<Vec<Block>, String> {
    let mut buf = raw;
    let mut p = decode_list(&mut buf).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while !p.is_empty() {
        let mut e = decode_list(&mut p).map_err(|e| e.to_string())?;
        let cid = Cid::try_from(decode_bytes(&mut e).map_err(|e| e.to_string())?.as_slice())
            .map_err(|e| e.to_string())?;
        let data = decode_bytes(&mut e).map_err(|e| e.to_string())?;
        out.push(Block::checked(cid, data).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

impl Content {
    pub fn new(store: BlockStore) -> Content {
        Content {
            store,
            commands: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            found: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            peers: Mutex::new(HashSet::new()),
            serving: Mutex::new(HashMap::new()),
            deal_pins: Mutex::new(()),
        }
    }

    /// The storage agent's lock over its pins' names.
    pub(crate) fn deal_pins(&self) -> std::sync::MutexGuard<'_, ()> {
        self.deal_pins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one of `peer`'s answer slots; `false` when it has too many want-lists open.
    pub fn begin_serving(&self, peer: PeerId) -> bool {
        let mut serving = self.serving.lock().expect("lock");
        let n = serving.entry(peer).or_default();
        if *n >= MAX_SERVING {
            return false;
        }
        *n += 1;
        true
    }

    pub fn end_serving(&self, peer: &PeerId) {
        let mut serving = self.serving.lock().expect("lock");
        if let Some(n) = serving.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                serving.remove(peer);
            }
        }
    }

    pub fn store(&self) -> &BlockStore {
        &self.store
    }

    /// Connects the content service to the network's command channel.
    pub fn attach(&self, commands: UnboundedSender<NetCommand>) {
        *self.commands.lock().expect("lock") = Some(commands);
    }

    fn send(&self, command: NetCommand) -> bool {
        match &*self.commands.lock().expect("lock") {
            Some(c) => c.send(command).is_ok(),
            None => false,
        }
    }

    pub fn peer_connected(&self, peer: PeerId) {
        self.peers.lock().expect("lock").insert(peer);
    }

    pub fn peer_gone(&self, peer: &PeerId) {
        self.peers.lock().expect("lock").remove(peer);
    }

    /// Tells the DHT this node holds `cid`.
    pub fn provide(&self, cid: &Cid) {
        self.send(NetCommand::Provide {
            key: cid.to_bytes(),
        });
    }

    /// Answers a peer's want-list from the store (`None` for a malformed list).
    pub fn answer(&self, want: &[u8]) -> Option<Vec<u8>> {
        let mut cids = decode_want(want).ok()?;
        let mut seen = HashSet::new();
        cids.retain(|c| seen.insert(*c));
        let mut blocks = Vec::new();
        let mut size = 0;
        for cid in cids {
            if let Ok(Some(data)) = self.store.get(&cid) {
                size += data.len() + 64;
                if size > MAX_ANSWER {
                    break;
                }
                blocks.push(Block { cid, data });
            }
        }
        Some(encode_blocks(&blocks))
    }

    /// Routes a network answer to the fetch waiting for it.
    pub fn on_blocks(&self, from: PeerId, id: u64, data: Option<Vec<u8>>) {
        if let Some(tx) = self.pending.lock().expect("lock").remove(&id) {
            let _ = (from, tx.send(Reply::Blocks(data)));
        }
    }

    pub fn on_providers(&self, id: u64, peers: Vec<PeerId>, done: bool) {
        let mut found = self.found.lock().expect("lock");
        let all = found.entry(id).or_default();
        all.extend(peers);
        if done {
            let all = found.remove(&id).unwrap_or_default();
            if let Some(tx) = self.pending.lock().expect("lock").remove(&id) {
                let _ = tx.send(Reply::Providers(all));
            }
        }
    }

    fn ask(
        &self,
        command: impl FnOnce(u64) -> NetCommand,
    ) -> Option<(u64, oneshot::Receiver<Reply>)> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("lock").insert(id, tx);
        if !self.send(command(id)) {
            self.pending.lock().expect("lock").remove(&id);
            return None;
        }
        Some((id, rx))
    }

    async fn providers(&self, root: &Cid) -> Vec<PeerId> {
        let Some((id, rx)) = self.ask(|id| NetCommand::FindProviders {
            id,
            key: root.to_bytes(),
        }) else {
            return Vec::new();
        };
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(Reply::Providers(p))) => p,
            _ => {
                self.pending.lock().expect("lock").remove(&id);
                self.found
                    .lock()
                    .expect("lock")
                    .remove(&id)
                    .unwrap_or_default()
            }
        }
    }

    async fn want(&self, peer: PeerId, cids: &[Cid]) -> Option<Vec<u8>> {
        let (id, rx) = self.ask(|id| NetCommand::Want {
            peer,
            id,
            data: encode_want(cids),
        })?;
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(Reply::Blocks(data))) => data,
            _ => {
                self.pending.lock().expect("lock").remove(&id);
                None
            }
        }
    }

    /// Makes the DAG under `root` complete in the store, asking DHT providers of the root
    /// and connected peers, and pins it with `pin` when given. Fetched blocks are held by an
    /// add session until then, so a collection meanwhile does not remove them.
    pub async fn fetch(&self, root: &Cid, pin: Option<PinInfo>) -> Result<Fetched, StorageError> {
        self.fetch_bounded(root, pin, u64::MAX).await
    }

    /// [`Self::fetch`] that gives up once more than `max_bytes` have arrived.
    pub async fn fetch_bounded(
        &self,
        root: &Cid,
        pin: Option<PinInfo>,
        max_bytes: u64,
    ) -> Result<Fetched, StorageError> {
        let mut session = self.store.session();
        let done = self.fetch_into(root, &mut session, max_bytes).await?;
        match pin {
            Some(info) => session.commit(root, &info)?,
            None => session.finish_unpinned()?,
        }
        Ok(done)
    }

    async fn fetch_into(
        &self,
        root: &Cid,
        session: &mut AddSession,
        max_bytes: u64,
    ) -> Result<Fetched, StorageError> {
        let mut done = Fetched::default();
        let mut frontier: VecDeque<Cid> = self.store.missing(root)?.into();
        if frontier.is_empty() {
            return Ok(done);
        }
        // What the frontier holds, for a constant-time "already asked for" on wide DAGs.
        let mut queued: HashSet<Cid> = frontier.iter().copied().collect();
        let mut bad: HashSet<PeerId> = HashSet::new();
        let mut idle = 0;
        while !frontier.is_empty() {
            let mut peers = self.providers(root).await;
            peers.extend(self.peers.lock().expect("lock").iter().copied());
            peers.retain(|p| !bad.contains(p));
            peers.dedup();
            done.peers = done.peers.max(peers.len());
            let mut progress = false;
            for peer in peers {
                while !frontier.is_empty() {
                    let batch: Vec<Cid> = frontier.iter().take(MAX_WANT).copied().collect();
                    let Some(raw) = self.want(peer, &batch).await else {
                        break;
                    };
                    let Ok(blocks) = decode_blocks(&raw) else {
                        bad.insert(peer);
                        break;
                    };
                    if blocks.iter().any(|b| !batch.contains(&b.cid)) {
                        bad.insert(peer);
                        break;
                    }
                    if blocks.is_empty() {
                        break;
                    }
                    let got: HashSet<Cid> = blocks.iter().map(|b| b.cid).collect();
                    let links = blocks
                        .iter()
                        .map(|b| Ok((b.data.len() as u64, b.links()?)))
                        .collect::<Result<Vec<_>, StorageError>>()?;
                    for b in blocks {
                        session.put(b)?;
                    }
                    session.flush_now()?;
                    // The batch is the frontier's front: take it off, put back what did not come.
                    frontier.drain(..batch.len());
                    for c in batch.iter().rev().filter(|c| !got.contains(c)) {
                        frontier.push_front(*c);
                    }
                    for c in &got {
                        queued.remove(c);
                    }
                    for (len, links) in links {
                        done.blocks += 1;
                        done.bytes += len;
                        for link in links {
                            if !queued.contains(&link) && !self.store.has(&link)? {
                                queued.insert(link);
                                frontier.push_back(link);
                            }
                        }
                    }
                    progress = true;
                    if done.bytes > max_bytes {
                        return Err(StorageError::Malformed {
                            cid: root.to_string(),
                            reason: format!("more than the {max_bytes} bytes expected"),
                        });
                    }
                }
                if frontier.is_empty() {
                    break;
                }
            }
            if !progress {
                idle += 1;
                if idle >= PATIENCE {
                    return Err(StorageError::Missing(format!(
                        "{} (no peer of {} asked has it)",
                        frontier[0], done.peers
                    )));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            } else {
                idle = 0;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_messages_round_trip_and_check_hashes() {
        let block = Block::new(
            metamesh_storage::CidVersion::V1,
            metamesh_storage::RAW,
            b"abc".to_vec(),
        );
        let want = encode_want(&[block.cid]);
        assert_eq!(decode_want(&want).unwrap(), vec![block.cid]);
        let raw = encode_blocks(std::slice::from_ref(&block));
        assert_eq!(decode_blocks(&raw).unwrap(), vec![block.clone()]);
        let forged = encode_blocks(&[Block {
            cid: block.cid,
            data: b"abd".to_vec(),
        }]);
        assert!(
            decode_blocks(&forged)
                .unwrap_err()
                .contains("does not hash")
        );
        assert!(decode_want(&[0xc1, 0x80]).is_err());
        let too_many = encode_want(&vec![block.cid; MAX_WANT + 1]);
        assert!(decode_want(&too_many).is_err());
    }
}
