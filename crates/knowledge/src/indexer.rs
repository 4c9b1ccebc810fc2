//! The indexer: follows the chain's events with a cursor ([`EventFollower`], the same stream
//! the RPC's `events` subscription serves), writes each record's graph as its event arrives
//! and drops it when a reorg retracts the event. The cursor is committed with the graph
//! changes it covers, and saved with the snapshot, so after a restart the indexer replays
//! exactly the events the snapshot has not seen — none missed, none doubled.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use metamesh_primitives::Hash;

use metamesh_node::{ChainView, Cursor, EventFollower, NodeService};
use tokio::sync::watch;

use crate::{
    KnowledgeGraph,
    graph::{Change, GraphError},
    read::Reader,
    records, vocab,
};

/// Events one step takes at most (one store transaction).
const BATCH: usize = 2_000;
/// Changes after which a snapshot is written, and the longest a change waits for one.
const SAVE_EVERY: usize = 20_000;
const SAVE_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("reading the chain: {0}")]
    Chain(String),
}

/// What the indexer has done since it started.
#[derive(Clone, Copy, Debug, Default)]
pub struct IndexStats {
    pub events: u64,
    pub written: u64,
    pub retracted: u64,
}

pub struct Indexer {
    kg: Arc<KnowledgeGraph>,
    /// BMCI's entries, read once: the graph holds them as RDF, OPTIMADE serves them with
    /// the values verified runs computed.
    bmci: Arc<crate::optimade::Bmci>,
    follower: EventFollower,
    reader: Reader,
    snapshot: Option<PathBuf>,
    unsaved: usize,
    saved_at: Instant,
    /// Knowledge bases registered whose content is not loaded yet, with when it was last
    /// asked for.
    pending: BTreeMap<Hash, Waiting>,
    /// The external store the graphs are mirrored to, if any.
    mirror: Option<crate::mirror::Mirror>,
    pub stats: IndexStats,
}

/// How long a base whose content no peer gave waits before it is asked for again: doubling
/// from the first to the last (it is asked for as long as it stays registered, so every node
/// loads it once someone serves it).
const CONTENT_RETRY: Duration = Duration::from_secs(30);
const CONTENT_RETRY_MAX: Duration = Duration::from_secs(3600);
/// The longest one fetch of a base's content may take (one is made per pass, and only when
/// the chain's events are indexed, so bases never hold the chain's records back for long).
const CONTENT_FETCH: Duration = Duration::from_secs(20);

/// A base waiting for its content: when it was last asked for, and how many times.
type Waiting = (crate::bases::Pending, Option<Instant>, u32);

/// What fetching a base's content gave.
pub enum Content {
    Bytes(Vec<u8>),
    /// Fetched, but not a file of the registered size (larger, a directory, a malformed
    /// DAG): recorded, not asked for again.
    Invalid(String),
    /// Nobody had it (yet): ask again later.
    Unavailable(String),
}

impl Indexer {
    /// An indexer over a graph loaded from `snapshot` (if the file exists and names a block
    /// this node stores), else an empty graph from genesis. A snapshot that cannot be read is
    /// moved aside (`.bad`), never deleted, and the graph is rebuilt from the chain.
    pub fn open(view: &ChainView, snapshot: Option<&Path>) -> Result<Self, IndexError> {
        let loaded = match snapshot {
            Some(path) if path.exists() => match KnowledgeGraph::load(path) {
                Ok(kg) if kg.cursor().is_none_or(|c| view.header(&c.hash).is_some()) => Some(kg),
                Ok(_) => {
                    tracing::warn!(path = %path.display(), "the knowledge snapshot's block is not on this node's chain: rebuilding from genesis");
                    None
                }
                Err(e) => {
                    let aside = path.with_extension("nq.bad");
                    tracing::warn!(%e, aside = %aside.display(), "unreadable knowledge snapshot: kept aside, rebuilding from genesis");
                    let _ = std::fs::rename(path, &aside);
                    None
                }
            },
            _ => None,
        };
        let kg = match loaded {
            Some(kg) => kg,
            None => KnowledgeGraph::new()?,
        };
        // BMCI's seed is part of every node's graph (written again on each start, so a new
        // release's seed replaces the old).
        let seed = crate::optimade::Database::seed().map_err(IndexError::Chain)?;
        let graph = crate::optimade::database::seed_graph();
        kg.apply(
            &[Change::Put {
                quads: seed.quads(&graph),
                graph,
            }],
            None,
        )?;
        let bmci = Arc::new(crate::optimade::Bmci::new(seed));
        bmci.reset(crate::bmci::computed(kg.store(), None));
        let follower = match kg.cursor() {
            Some(c) => EventFollower::from_cursor(c),
            None => EventFollower::from_genesis(view),
        };
        let pending = unloaded_bases(&kg, view)?;
        Ok(Indexer {
            kg: Arc::new(kg),
            reader: Reader::new(bmci.seed()),
            bmci,
            follower,
            snapshot: snapshot.map(Path::to_path_buf),
            unsaved: 0,
            saved_at: Instant::now(),
            pending,
            mirror: None,
            stats: IndexStats::default(),
        })
    }

    /// Mirrors every graph, from now on, into the external store at `url` (see
    /// [`crate::mirror`]); the names not yet sent are kept beside the snapshot.
    pub fn with_mirror(mut self, url: &str) -> Result<Self, IndexError> {
        let saved = self.snapshot.as_ref().map(|p| p.with_extension("mirror"));
        let m = crate::mirror::Mirror::new(url, &self.kg, saved.as_deref())
            .map_err(IndexError::Chain)?;
        self.mirror = Some(m);
        Ok(self)
    }

    /// Sends a batch of changed graphs to the external store, if there is one; a store that
    /// does not answer is reported once and tried again at the next flush.
    pub fn flush_mirror(&mut self) {
        if let Some(m) = &mut self.mirror
            && let Err(e) = m.flush(&self.kg, crate::mirror::FLUSH_GRAPHS)
        {
            tracing::warn!(%e, waiting = m.pending(), "mirroring the knowledge graph");
        }
    }

    /// Graph names waiting for the external store (0 without one).
    pub fn mirror_pending(&self) -> usize {
        self.mirror.as_ref().map_or(0, |m| m.pending())
    }

    /// The bases whose content is due to be fetched.
    pub fn content_due(&self) -> Vec<crate::bases::Pending> {
        self.due().map(|(p, _, _)| p.clone()).collect()
    }

    fn due(&self) -> impl Iterator<Item = &Waiting> {
        self.pending.values().filter(|(_, at, tries)| {
            let wait = CONTENT_RETRY
                .saturating_mul(1 << tries.saturating_sub(1).min(7))
                .min(CONTENT_RETRY_MAX);
            at.is_none_or(|t| t.elapsed() >= wait)
        })
    }

    /// The due base asked for least recently (never asked first), so none waits behind
    /// others for ever.
    pub fn next_content(&self) -> Option<crate::bases::Pending> {
        self.due()
            .min_by_key(|(p, at, _)| (*at, p.id))
            .map(|(p, _, _)| p.clone())
    }

    /// Loads a base's fetched content into its graph (or, when the bytes are not the
    /// registered N-Quads file — a verdict every node reaches alike — the reason into it);
    /// content nobody had is asked for again later.
    pub fn content(&mut self, id: &Hash, fetched: Content) -> Result<(), IndexError> {
        let Some((p, at, tries)) = self.pending.get_mut(id) else {
            return Ok(());
        };
        // Asked for now, whatever comes of it (a failed write is not retried at once).
        *at = Some(Instant::now());
        *tries = tries.saturating_add(1);
        let quads = match fetched {
            Content::Unavailable(why) => {
                tracing::debug!(cid = %p.cid, %why, "knowledge base content not available yet");
                return Ok(());
            }
            Content::Invalid(why) => {
                tracing::warn!(cid = %p.cid, %why, "knowledge base not loaded");
                crate::bases::failed(p, &why)
            }
            Content::Bytes(bytes) => crate::bases::load(p, &bytes).unwrap_or_else(|why| {
                tracing::warn!(cid = %p.cid, %why, "knowledge base not loaded");
                crate::bases::failed(p, &why)
            }),
        };
        let graph = crate::bases::content_graph(id);
        if let Some(m) = &mut self.mirror {
            m.mark([&graph]);
        }
        self.kg.apply(&[Change::Put { graph, quads }], None)?;
        self.pending.remove(id);
        self.unsaved += 1;
        Ok(())
    }

    pub fn graph(&self) -> Arc<KnowledgeGraph> {
        self.kg.clone()
    }

    pub fn bmci(&self) -> Arc<crate::optimade::Bmci> {
        self.bmci.clone()
    }

    pub fn cursor(&self) -> Cursor {
        self.follower.cursor()
    }

    /// Takes up to one batch of events; true when caught up with the view's head. On an error
    /// nothing of the batch is applied and the cursor stays where it was, so the next step
    /// takes the same events again.
    pub fn step(&mut self, view: &ChainView) -> Result<bool, IndexError> {
        let before = (self.follower.clone(), self.stats);
        let r = self.try_step(view);
        if r.is_err() {
            (self.follower, self.stats) = before;
        }
        r
    }

    fn try_step(&mut self, view: &ChainView) -> Result<bool, IndexError> {
        let delivered = self.follower.poll(view, BATCH).map_err(IndexError::Chain)?;
        if delivered.is_empty() {
            return Ok(self.follower.caught_up());
        }
        let state = view.head_state().map_err(IndexError::Chain)?;
        let mut changes = Vec::new();
        // What BMCI's served view must hear of: the run graphs written and every graph
        // dropped (one may have held a run).
        let (mut runs, mut dropped) = (Vec::new(), Vec::new());
        let (mut bases, mut gone) = (Vec::new(), Vec::new());
        for d in &delivered {
            self.stats.events += 1;
            let graph = vocab::record_graph(&d.block_hash, d.event.log_index);
            if d.removed {
                self.stats.retracted += 1;
                dropped.push(graph.as_str().to_owned());
                runs.retain(|g: &oxigraph::model::NamedNode| g != &graph);
                changes.push(Change::Drop { graph });
                if let metamesh_state::Event::Knowledge(
                    metamesh_state::KnowledgeEvent::KnowledgeBaseRegistered { base, .. },
                ) = &d.event.event
                {
                    // Its content goes with its registration.
                    changes.push(Change::Drop {
                        graph: crate::bases::content_graph(base),
                    });
                    bases.retain(|p: &crate::bases::Pending| p.id != *base);
                    gone.push(*base);
                }
                continue;
            }
            if let Some((prov, facts)) = self
                .reader
                .read(view, &state, d)
                .map_err(IndexError::Chain)?
            {
                self.stats.written += 1;
                if matches!(facts, records::Facts::Result { bmci: Some(_), .. }) {
                    runs.push(graph.clone());
                }
                if let records::Facts::KnowledgeBase {
                    id,
                    record: Some(kb),
                    ..
                } = &facts
                    && let Some(p) = crate::bases::Pending::of(*id, kb, state.suite())
                {
                    bases.push(p);
                }
                changes.push(Change::Put {
                    graph,
                    quads: records::quads(&prov, &facts),
                });
            }
        }
        self.kg.apply(&changes, Some(self.follower.cursor()))?;
        if let Some(m) = &mut self.mirror {
            m.mark(changes.iter().map(|c| match c {
                Change::Put { graph, .. } | Change::Drop { graph } => graph,
            }));
        }
        let written = runs
            .iter()
            .flat_map(|g| crate::bmci::computed(self.kg.store(), Some(g)))
            .collect();
        self.bmci.update(written, &dropped);
        for id in gone {
            self.pending.remove(&id);
        }
        for p in bases {
            self.pending.insert(p.id, (p, None, 0));
        }
        self.unsaved += changes.len();
        if self.unsaved >= SAVE_EVERY {
            self.save()?;
        }
        Ok(self.follower.caught_up())
    }

    /// Steps until caught up with the view's head.
    pub fn catch_up(&mut self, view: &ChainView) -> Result<(), IndexError> {
        while !self.step(view)? {}
        Ok(())
    }

    /// Writes the snapshot if anything changed since the last.
    pub fn save(&mut self) -> Result<(), IndexError> {
        // The mirror's waiting names first: a crash between the two then resends, never
        // forgets.
        if let Some(m) = &self.mirror
            && let Err(e) = m.save()
        {
            tracing::warn!(%e, "saving the knowledge mirror's waiting graphs");
        }
        if let Some(path) = &self.snapshot
            && self.unsaved > 0
        {
            self.kg.save(path)?;
        }
        self.unsaved = 0;
        self.saved_at = Instant::now();
        Ok(())
    }

    fn save_due(&self) -> bool {
        self.unsaved > 0 && self.saved_at.elapsed() >= SAVE_AFTER
    }
}

/// The bases whose registration the graph holds but whose content graph it lacks.
fn unloaded_bases(
    kg: &KnowledgeGraph,
    view: &ChainView,
) -> Result<BTreeMap<Hash, Waiting>, IndexError> {
    let state = view.head_state().map_err(IndexError::Chain)?;
    let mut out = BTreeMap::new();
    let predicate = vocab::mm("contentGraph");
    for q in kg
        .store()
        .quads_for_pattern(None, Some(predicate.as_ref()), None, None)
        .filter_map(Result::ok)
    {
        let oxigraph::model::Term::NamedNode(g) = &q.object else {
            continue;
        };
        let Some(id) = g
            .as_str()
            .strip_prefix("urn:metamesh:kb:0x")
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <Hash>::try_from(b).ok())
        else {
            continue;
        };
        if kg.contains_graph(g) {
            continue;
        }
        let record = state
            .load::<metamesh_state::KnowledgeBase>(&id)
            .map_err(|e| IndexError::Chain(e.to_string()))?;
        if let Some(p) = record.and_then(|kb| crate::bases::Pending::of(id, &kb, state.suite())) {
            out.insert(id, (p, None, 0));
        }
    }
    Ok(out)
}

/// Runs the indexer beside a node until `shutdown`, saving its snapshot as it goes and when
/// it stops. Errors are logged and retried: the node keeps running without a fresh graph.
pub async fn run_indexer(
    node: Arc<NodeService>,
    indexer: Indexer,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut heads = node.subscribe_heads();
    let mut indexer = Some(indexer);
    loop {
        let Some(mut ix) = indexer.take() else { return };
        let view = node.chain_view();
        let (ix, caught_up) = match tokio::task::spawn_blocking(move || {
            let r = ix.step(&view);
            ix.flush_mirror();
            if ix.save_due()
                && let Err(e) = ix.save()
            {
                tracing::warn!(%e, "saving the knowledge snapshot");
            }
            (ix, r)
        })
        .await
        {
            Ok((ix, Ok(caught_up))) => (ix, caught_up),
            Ok((ix, Err(e))) => {
                tracing::warn!(%e, "knowledge indexer");
                (ix, true)
            }
            Err(e) => {
                tracing::error!(%e, "knowledge indexer stopped");
                return;
            }
        };
        let ix = if caught_up {
            match fetch_content(&node, ix, &mut shutdown).await {
                Some(ix) => ix,
                None => return,
            }
        } else {
            ix
        };
        indexer = Some(ix);
        if !caught_up && !*shutdown.borrow() {
            continue;
        }
        tokio::select! {
            _ = heads.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            if let Some(mut ix) = indexer.take() {
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = ix.save() {
                        tracing::warn!(%e, "saving the knowledge snapshot");
                    }
                })
                .await;
            }
            return;
        }
    }
}

/// Whether a storage error is a property of the DAG itself (every node that fetches it
/// finds the same), not of this node or its peers right now.
fn settled(e: &metamesh_storage::StorageError) -> bool {
    use metamesh_storage::StorageError as E;
    matches!(
        e,
        E::Malformed { .. }
            | E::IsDirectory(_)
            | E::UnsupportedCodec { .. }
            | E::UnsupportedHash { .. }
            | E::HashMismatch(_)
    )
}

/// A writer that refuses more than `max` bytes: a DAG whose file is larger than its
/// registration says (its blocks repeated, or already stored) is never expanded in memory.
struct Bounded {
    bytes: Vec<u8>,
    max: u64,
    overflowed: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() as u64 + buf.len() as u64 > self.max {
            self.overflowed = true;
            return Err(std::io::Error::other(format!(
                "the file is larger than the {} bytes registered",
                self.max
            )));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fetches the content of one due base (from this node's store, else its peers; at most
/// the registered size and a margin for the DAG's nodes), reads it back within the
/// registered size and loads it; `None` if the indexer was lost to a panic.
async fn fetch_content(
    node: &Arc<NodeService>,
    ix: Indexer,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Indexer> {
    let (Some(p), Some(content)) = (ix.next_content(), node.content().cloned()) else {
        return Some(ix);
    };
    let max = p.size.saturating_add(p.size / 4).saturating_add(1 << 20);
    let fetched = tokio::select! {
        r = tokio::time::timeout(CONTENT_FETCH, content.fetch_bounded(&p.cid, None, max)) => r,
        _ = shutdown.changed() => return Some(ix),
    };
    let id = p.id;
    let work = move || {
        let mut ix = ix;
        let fetched = match fetched {
            Ok(Ok(_)) => {
                let mut out = Bounded {
                    bytes: Vec::new(),
                    max: p.size,
                    overflowed: false,
                };
                match metamesh_storage::export_file(content.store(), &p.cid, &mut out) {
                    Ok(_) => Content::Bytes(out.bytes),
                    Err(e) if out.overflowed || settled(&e) => {
                        Content::Invalid(format!("{}: {e}", p.cid))
                    }
                    Err(e) => Content::Unavailable(e.to_string()),
                }
            }
            Ok(Err(e)) if settled(&e) => Content::Invalid(format!("{}: {e}", p.cid)),
            Ok(Err(e)) => Content::Unavailable(e.to_string()),
            Err(_) => Content::Unavailable(format!("no answer in {CONTENT_FETCH:?}")),
        };
        if let Err(e) = ix.content(&id, fetched) {
            tracing::warn!(%e, "loading a knowledge base");
        }
        ix
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(ix) => Some(ix),
        Err(e) => {
            tracing::error!(%e, "knowledge indexer stopped");
            None
        }
    }
}
