//! The chain's events as a stream a consumer can follow without missing or repeating one:
//! every event of every canonical block in order (block-level events after the block's
//! transactions' events), and on a reorg the retracted ones again with `removed` before the
//! new ones, as Ethereum's log subscriptions do. A [`Cursor`] says how far a consumer has got,
//! so one that reconnects resumes exactly there. Provider agents, the RPC's `events`
//! subscription and the simulator's checks all use [`EventFollower`].
//!
//! Readers work on a [`ChainView`] (the database and the head when it was taken), never under
//! the chain's lock, so a follower catching up from genesis does not hold up block import; and
//! one poll scans at most [`MAX_BLOCKS_PER_POLL`] blocks. Each read is its own database
//! transaction, so the chain may reorganise between two of them: a follower steps only from a
//! block to its child, and what a reorg took away is retracted by the next poll.

use std::sync::Arc;

use metamesh_db::ChainDb;
use metamesh_primitives::{Hash, Header};
use metamesh_state::{Event, Receipt};

use crate::Chain;

/// Blocks one [`EventFollower::poll`] steps through at most (empty ones included).
pub const MAX_BLOCKS_PER_POLL: u64 = 2_000;

/// What event readers need of a chain, without its lock: the database (each read sees the
/// chain as one import left it) and the head at the time the view was taken.
#[derive(Clone)]
pub struct ChainView {
    db: Arc<ChainDb>,
    head: u64,
    genesis_hash: Hash,
    suite: metamesh_crypto::Suite,
}

impl ChainView {
    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn db(&self) -> &ChainDb {
        &self.db
    }

    pub fn suite(&self) -> metamesh_crypto::Suite {
        self.suite
    }

    /// The state at the view's head block.
    pub fn head_state(&self) -> Result<metamesh_state::State<&ChainDb>, String> {
        let hash = self
            .canonical(self.head)?
            .ok_or("the head block is not canonical")?;
        let header = self.header(&hash).ok_or("the head block is not stored")?;
        Ok(metamesh_state::State::open(
            self.suite,
            &self.db,
            header.state_root,
        ))
    }

    pub fn canonical(&self, number: u64) -> Result<Option<Hash>, String> {
        self.db.canonical_hash(number).map_err(|e| e.to_string())
    }

    pub fn header(&self, hash: &Hash) -> Option<Header> {
        Header::decode_exact(&self.db.header(hash).ok()??).ok()
    }

    /// The events of a stored block, in order.
    pub fn block_events(&self, hash: &Hash) -> Result<Vec<BlockEvent>, String> {
        block_events(&self.db, hash)
    }
}

impl Chain {
    /// A view for event readers (see the module docs).
    pub fn view(&self) -> ChainView {
        ChainView {
            db: self.db().clone(),
            head: self.head().number,
            genesis_hash: self.genesis_hash(),
            suite: self.suite(),
        }
    }
}

/// After the first `index` events of block (`number`, `hash`): the consumer has them, and all
/// events of that block's ancestors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub number: u64,
    pub hash: Hash,
    pub index: u32,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.number,
            hex::encode(self.hash),
            self.index
        )
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;

    /// `NUMBER-HASH-INDEX`, as [`Cursor`]'s `Display` writes it.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a cursor (NUMBER-BLOCKHASH-INDEX)");
        let mut parts = s.split('-');
        let (Some(n), Some(h), Some(i), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let hash = hex::decode(h.trim_start_matches("0x"))
            .ok()
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
            .ok_or_else(bad)?;
        Ok(Cursor {
            number: n.parse().map_err(|_| bad())?,
            hash,
            index: i.parse().map_err(|_| bad())?,
        })
    }
}

/// One event of one block, where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEvent {
    /// The transaction's hash and index; `None` for block-level events.
    pub tx: Option<(Hash, u32)>,
    /// Its position among all of the block's events.
    pub log_index: u32,
    pub event: Event,
}

/// The events of a stored block, in order.
pub fn block_events(db: &ChainDb, hash: &Hash) -> Result<Vec<BlockEvent>, String> {
    let raw = db
        .receipts(hash)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("block 0x{} is not stored", hex::encode(hash)))?;
    let receipts = Receipt::decode_list(&raw).map_err(|e| format!("stored receipts: {e}"))?;
    let mut out = Vec::new();
    for (i, r) in receipts.into_iter().enumerate() {
        let tx = (!r.is_system()).then_some((r.tx_hash, i as u32));
        for event in r.events {
            let log_index = out.len() as u32;
            out.push(BlockEvent {
                tx,
                log_index,
                event,
            });
        }
    }
    Ok(out)
}

/// An event as delivered to a follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub number: u64,
    pub block_hash: Hash,
    pub event: BlockEvent,
    /// True when the block left the canonical chain and this event is taken back.
    pub removed: bool,
    /// Where the follower stands after this one (resume from here).
    pub cursor: Cursor,
}

/// Follows the events of one node's chain (see the module docs).
#[derive(Clone, Debug)]
pub struct EventFollower {
    cursor: Cursor,
    /// The events of the cursor's block, read once and shared.
    cached: Option<(Hash, Arc<[BlockEvent]>)>,
    /// Whether the last poll got to the end of the head block.
    caught_up: bool,
}

impl EventFollower {
    /// From a consumer's cursor (the block must be stored on this node, on any branch).
    pub fn from_cursor(cursor: Cursor) -> Self {
        EventFollower {
            cursor,
            cached: None,
            caught_up: false,
        }
    }

    /// From the very first block: every event the chain ever had.
    pub fn from_genesis(view: &ChainView) -> Self {
        Self::from_cursor(Cursor {
            number: 0,
            hash: view.genesis_hash,
            index: 0,
        })
    }

    /// From now on: only events of blocks after the view's head.
    pub fn from_head(view: &ChainView) -> Result<Self, String> {
        let hash = view
            .canonical(view.head)?
            .ok_or("the head block is not canonical")?;
        let count = view.block_events(&hash)?.len() as u32;
        Ok(Self::from_cursor(Cursor {
            number: view.head,
            hash,
            index: count,
        }))
    }

    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Whether the last poll delivered everything up to the end of the view's head block (an
    /// empty poll that is not caught up only ran out of its block budget: poll again).
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    fn events_of(&mut self, view: &ChainView, hash: &Hash) -> Result<Arc<[BlockEvent]>, String> {
        if let Some((h, events)) = &self.cached
            && h == hash
        {
            return Ok(events.clone());
        }
        let events: Arc<[BlockEvent]> = view.block_events(hash)?.into();
        self.cached = Some((*hash, events.clone()));
        Ok(events)
    }

    /// Polls until caught up with the view's head (or stuck behind a reorg the next call
    /// retracts), at most `max` events in all: what a consumer that handles events as they
    /// come needs (one that must pace itself, as a WebSocket session does, polls on its own).
    pub fn drain(&mut self, view: &ChainView, max: usize) -> Result<Vec<Delivered>, String> {
        let mut out = Vec::new();
        while out.len() < max {
            let before = self.cursor;
            let batch = self.poll(view, max - out.len())?;
            let moved = self.cursor != before;
            out.extend(batch);
            if self.caught_up || !moved {
                break;
            }
        }
        Ok(out)
    }

    /// Up to `max` events: retractions first if the cursor's block left the canonical chain,
    /// then what the canonical chain has past the cursor, stepping through at most
    /// [`MAX_BLOCKS_PER_POLL`] blocks.
    pub fn poll(&mut self, view: &ChainView, max: usize) -> Result<Vec<Delivered>, String> {
        let canonical = |n: u64| view.canonical(n);
        let mut steps = 0u64;
        self.caught_up = false;
        let mut out = Vec::new();
        while out.len() < max {
            let c = self.cursor;
            if canonical(c.number)? == Some(c.hash) {
                break;
            }
            // Take back what was delivered of this block, newest first, then step to its parent.
            let events = self.events_of(view, &c.hash)?;
            if c.index > 0 {
                let index = c.index - 1;
                self.cursor.index = index;
                let event = events
                    .get(index as usize)
                    .cloned()
                    .ok_or("a cursor past its block's events")?;
                out.push(Delivered {
                    number: c.number,
                    block_hash: c.hash,
                    event,
                    removed: true,
                    cursor: self.cursor,
                });
                continue;
            }
            let header = view
                .header(&c.hash)
                .ok_or_else(|| format!("block 0x{} is not stored here", hex::encode(c.hash)))?;
            if header.number == 0 || header.number != c.number {
                return Err("the cursor is on another chain".into());
            }
            steps += 1;
            if steps > MAX_BLOCKS_PER_POLL {
                return Ok(out);
            }
            let parent = header.parent_hash;
            let count = self.events_of(view, &parent)?.len() as u32;
            self.cursor = Cursor {
                number: header.number - 1,
                hash: parent,
                index: count,
            };
        }
        let head = view.head;
        while out.len() < max {
            let c = self.cursor;
            if canonical(c.number)? != Some(c.hash) {
                break; // a reorg since the loop above: the next poll retracts
            }
            let events = self.events_of(view, &c.hash)?;
            if let Some(event) = events.get(c.index as usize) {
                self.cursor.index += 1;
                out.push(Delivered {
                    number: c.number,
                    block_hash: c.hash,
                    event: event.clone(),
                    removed: false,
                    cursor: self.cursor,
                });
                continue;
            }
            if c.number >= head {
                self.caught_up = true;
                break;
            }
            steps += 1;
            if steps > MAX_BLOCKS_PER_POLL {
                break;
            }
            let Some(next) = canonical(c.number + 1)? else {
                break;
            };
            // The database may move on while we read it: step only to a child of this block,
            // or the next poll retracts what a reorg took away.
            if view.header(&next).is_none_or(|h| h.parent_hash != c.hash) {
                break;
            }
            self.cursor = Cursor {
                number: c.number + 1,
                hash: next,
                index: 0,
            };
        }
        Ok(out)
    }
}
