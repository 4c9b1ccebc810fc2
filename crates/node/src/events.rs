//! The chain's events as a stream a consumer can follow without missing or repeating one:
//! every event of every canonical block in order (block-level events after the block's
//! transactions' events), and on a reorg the retracted ones again with `removed` before the
//! new ones, as Ethereum's log subscriptions do. A [`Cursor`] says how far a consumer has got,
//! so one that reconnects resumes exactly there. Provider agents, the RPC's `events`
//! subscription and the simulator's checks all use [`EventFollower`].

use metamesh_primitives::Hash;
use metamesh_state::{Event, Receipt};

use crate::Chain;

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
pub fn block_events(chain: &Chain, hash: &Hash) -> Result<Vec<BlockEvent>, String> {
    let raw = chain
        .db()
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
    /// The events of the cursor's block, read once.
    cached: Option<(Hash, Vec<BlockEvent>)>,
}

impl EventFollower {
    /// From a consumer's cursor (the block must be stored on this node, on any branch).
    pub fn from_cursor(cursor: Cursor) -> Self {
        EventFollower {
            cursor,
            cached: None,
        }
    }

    /// From the very first block: every event the chain ever had.
    pub fn from_genesis(chain: &Chain) -> Self {
        Self::from_cursor(Cursor {
            number: 0,
            hash: chain.genesis_hash(),
            index: 0,
        })
    }

    /// From now on: only events of blocks after the current head.
    pub fn from_head(chain: &Chain) -> Result<Self, String> {
        let head = chain.head().clone();
        let hash = head.hash(chain.suite());
        let count = block_events(chain, &hash)?.len() as u32;
        Ok(Self::from_cursor(Cursor {
            number: head.number,
            hash,
            index: count,
        }))
    }

    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    fn events_of(&mut self, chain: &Chain, hash: &Hash) -> Result<Vec<BlockEvent>, String> {
        if let Some((h, events)) = &self.cached
            && h == hash
        {
            return Ok(events.clone());
        }
        let events = block_events(chain, hash)?;
        self.cached = Some((*hash, events.clone()));
        Ok(events)
    }

    /// Up to `max` events: retractions first if the cursor's block left the canonical chain,
    /// then what the canonical chain has past the cursor.
    pub fn poll(&mut self, chain: &Chain, max: usize) -> Result<Vec<Delivered>, String> {
        let db = chain.db();
        let canonical = |n: u64| db.canonical_hash(n).map_err(|e| e.to_string());
        let mut out = Vec::new();
        while out.len() < max {
            let c = self.cursor;
            if canonical(c.number)? == Some(c.hash) {
                break;
            }
            // Take back what was delivered of this block, newest first, then step to its parent.
            let events = self.events_of(chain, &c.hash)?;
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
            let header = chain
                .header(&c.hash)
                .ok_or_else(|| format!("block 0x{} is not stored here", hex::encode(c.hash)))?;
            if header.number == 0 {
                return Err("the cursor is on another chain".into());
            }
            let parent = header.parent_hash;
            let count = self.events_of(chain, &parent)?.len() as u32;
            self.cursor = Cursor {
                number: header.number - 1,
                hash: parent,
                index: count,
            };
        }
        let head = chain.head().number;
        while out.len() < max {
            let c = self.cursor;
            if canonical(c.number)? != Some(c.hash) {
                break; // a reorg since the loop above: the next poll retracts
            }
            let events = self.events_of(chain, &c.hash)?;
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
                break;
            }
            let Some(next) = canonical(c.number + 1)? else {
                break;
            };
            self.cursor = Cursor {
                number: c.number + 1,
                hash: next,
                index: 0,
            };
        }
        Ok(out)
    }
}
