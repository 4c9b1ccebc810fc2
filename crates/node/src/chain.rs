//! One node's chain: import (full validation, execution, root checks, one atomic write, fork
//! choice and reorgs) and block building for a signer. Synchronous and clock-free: the caller
//! passes the time; networking, timers and RPC live around it.

use std::{collections::HashMap, path::Path, sync::Arc};

use metamesh_consensus::{
    ChainReader, Clique, CliqueConfig, CliqueError, ForkCandidate, Snapshot, SnapshotStore,
    checkpoint_extra, compare, recover_signer,
};
use metamesh_crypto::{Address, Suite};
use metamesh_db::{ChainDb, ChainDbConfig, DbError, HeadChange, StoredBlock};
use metamesh_primitives::{Block, Hash, Header, rlp::CodecError};
use metamesh_state::{
    BlockError, Genesis, Receipt, State, StateError, VerifiedTx, apply_block, params_at,
    receipts_root, transactions_root,
};

mod next;

pub use next::{Built, Tip};

/// Why a block was not imported (or built). Nothing is written when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("consensus: {0}")]
    Consensus(#[from] CliqueError),
    #[error("malformed block: {0}")]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Block(BlockError),
    #[error("gas used mismatch: header says {header}, execution gives {computed}")]
    GasUsed { header: u64, computed: u64 },
    #[error("unknown parent block 0x{}", hex::encode(.0))]
    UnknownParent(Hash),
    #[error("transactions root mismatch: header says 0x{}, body gives 0x{}", hex::encode(.header), hex::encode(.computed))]
    TransactionsRoot { header: Hash, computed: Hash },
    #[error("state root mismatch: header says 0x{}, execution gives 0x{}", hex::encode(.header), hex::encode(.computed))]
    StateRoot { header: Hash, computed: Hash },
    #[error("receipts root mismatch: header says 0x{}, execution gives 0x{}", hex::encode(.header), hex::encode(.computed))]
    ReceiptsRoot { header: Hash, computed: Hash },
    #[error("this data directory holds another chain (genesis 0x{}), not 0x{}", hex::encode(.stored), hex::encode(.ours))]
    OtherChain { stored: Hash, ours: Hash },
    #[error("a block body of {bytes} bytes is over the {max}-byte limit")]
    TooLarge { bytes: usize, max: usize },
    #[error("the signing key is an {key} key but the chain uses the {chain} suite")]
    WrongSuite { key: Suite, chain: Suite },
}

/// What importing a block did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Imported {
    /// Already stored; nothing changed.
    Known,
    /// Stored; `head` says whether it is now the canonical head (`change` lists the moves).
    New {
        hash: Hash,
        head: bool,
        change: HeadChange,
        receipts: Vec<Receipt>,
    },
}

impl From<BlockError> for ImportError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::State(e) => ImportError::State(e),
            other => ImportError::Block(other),
        }
    }
}

/// Largest block body (its transactions' RLP) any parameters allow, so every block fits one
/// gossip message and one sync answer; the chain's own limit is the `maxBlockBytes` parameter.
pub const MAX_BLOCK_BODY_BYTES: usize = metamesh_state::MAX_BLOCK_BYTES as usize;

/// Headers for the consensus engine, read from the database.
struct DbHeaders<'a>(&'a ChainDb);

impl ChainReader for DbHeaders<'_> {
    fn header(&self, hash: &Hash) -> Option<Header> {
        let raw = self.0.header(hash).ok()??;
        Header::decode_exact(&raw).ok()
    }
}

/// Clique snapshots in the database. They are a cache (recomputable from headers), so a failed
/// save costs only time.
struct DbSnapshots<'a>(&'a ChainDb);

impl SnapshotStore for DbSnapshots<'_> {
    fn load(&self, hash: &Hash) -> Option<Vec<u8>> {
        self.0.load_snapshot(hash).ok().flatten()
    }

    fn save(&mut self, hash: Hash, snapshot_json: Vec<u8>) {
        let _ = self.0.save_snapshot(&hash, &snapshot_json);
    }
}

/// The chain of one node.
pub struct Chain {
    db: Arc<ChainDb>,
    engine: Clique,
    genesis: Genesis,
    genesis_hash: Hash,
    head: Header,
    /// The parameters of the block after the head: read on every transaction's entry, so
    /// kept rather than read from the trie each time.
    next_params: metamesh_state::Params,
}

impl Chain {
    /// The genesis block of `genesis`: its state root commits to every genesis account and the
    /// parameters record, its vanity to the hash of the genesis record's canonical bytes, so
    /// chains with other parameters differ.
    pub fn genesis_block(
        genesis: &Genesis,
    ) -> Result<(Block, metamesh_trie::TrieCommit), ImportError> {
        let suite = genesis.suite;
        let store = metamesh_trie::MemoryStore::new();
        let mut state = State::empty(suite, &store);
        genesis.apply(&mut state)?;
        let commit = state.commit()?;
        let vanity = suite.hash(&genesis.canonical_bytes());
        let header = Header {
            state_root: commit.root,
            transactions_root: transactions_root(suite, &[]),
            receipts_root: receipts_root(suite, &[]),
            number: 0,
            gas_limit: genesis.params.block_gas_limit,
            timestamp: genesis.timestamp,
            extra: checkpoint_extra(&vanity, &genesis.clique.signers, suite),
            difficulty: 1,
            ..Header::default()
        };
        Ok((
            Block {
                header,
                transactions: vec![],
            },
            commit,
        ))
    }

    /// Opens the chain in `path`, writing the genesis block on first use and refusing a
    /// directory that holds another chain.
    pub fn open(path: &Path, genesis: Genesis, config: ChainDbConfig) -> Result<Self, ImportError> {
        genesis.validate()?;
        Self::from_db(ChainDb::open(path, config)?, genesis)
    }

    /// [`Self::open`] on a database already opened (in memory, for the simulator).
    pub fn from_db(db: ChainDb, genesis: Genesis) -> Result<Self, ImportError> {
        genesis.validate()?;
        let suite = genesis.suite;
        let db = Arc::new(db);
        let (block, commit) = Self::genesis_block(&genesis)?;
        let genesis_hash = block.hash(suite);
        match db.canonical_hash(0)? {
            Some(stored) if stored != genesis_hash => {
                return Err(ImportError::OtherChain {
                    stored,
                    ours: genesis_hash,
                });
            }
            Some(_) => {}
            None => {
                db.insert_block(
                    &StoredBlock {
                        hash: genesis_hash,
                        number: 0,
                        parent: [0; 32],
                        header: &block.header.to_rlp(),
                        body: &block.body_rlp(),
                        receipts: &[0xc0],
                        tx_hashes: &[],
                        total_difficulty: block.header.difficulty as u128,
                        state: &commit,
                    },
                    true,
                )?;
            }
        }
        let (_, head_hash) = db.head()?.expect("genesis is stored");
        let head = DbHeaders(&db)
            .header(&head_hash)
            .ok_or_else(|| DbError::Corrupt("head header missing".into()))?;
        let engine = Clique::new(CliqueConfig {
            period: genesis.clique.period,
            epoch: genesis.clique.epoch,
            suite,
        })?;
        let next_params = params_at(&State::open(suite, &*db, head.state_root), head.number + 1)?;
        Ok(Chain {
            db,
            engine,
            genesis,
            genesis_hash,
            head,
            next_params,
        })
    }

    pub fn suite(&self) -> Suite {
        self.genesis.suite
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    pub fn head(&self) -> &Header {
        &self.head
    }

    pub fn db(&self) -> &Arc<ChainDb> {
        &self.db
    }

    pub fn header(&self, hash: &Hash) -> Option<Header> {
        DbHeaders(&self.db).header(hash)
    }

    /// The canonical header at `number`.
    pub fn canonical_header(&self, number: u64) -> Option<Header> {
        let hash = self.db.canonical_hash(number).ok()??;
        self.header(&hash)
    }

    /// The Clique snapshot after block `hash`.
    pub fn snapshot(&mut self, hash: &Hash) -> Result<Snapshot, ImportError> {
        let header = self.header(hash).ok_or(ImportError::UnknownParent(*hash))?;
        Ok(self.engine.snapshot(
            &DbHeaders(&self.db),
            &mut DbSnapshots(&self.db),
            header.number,
            *hash,
            &[],
        )?)
    }

    /// The state at the head.
    pub fn state(&self) -> State<&ChainDb> {
        State::open(self.suite(), &self.db, self.head.state_root)
    }

    /// Fork choice input for a block: total difficulty, number, its sealer's turn distance.
    fn candidate(
        &mut self,
        header: &Header,
        td: u128,
        hash: Hash,
    ) -> Result<ForkCandidate, ImportError> {
        let turn_distance = if header.number == 0 {
            0
        } else {
            let sealer = recover_signer(header, self.suite())?;
            let snap = self.snapshot(&header.parent_hash)?;
            snap.turn_distance(header.number, &sealer).unwrap_or(0)
        };
        Ok(ForkCandidate {
            total_difficulty: td,
            number: header.number,
            turn_distance,
            hash,
        })
    }

    /// Validates, executes and stores `block`; it becomes the head if fork choice prefers it.
    /// `now` is the caller's clock in seconds (blocks from the future are refused).
    pub fn import(&mut self, block: &Block, now: u64) -> Result<Imported, ImportError> {
        self.import_with_senders(block, now, &HashMap::new())
    }

    /// [`Self::import`] reusing signatures already checked (the pool's): `senders` maps
    /// transaction hashes to their verified senders; the rest are verified here, in parallel.
    pub fn import_with_senders(
        &mut self,
        block: &Block,
        now: u64,
        senders: &HashMap<Hash, Address>,
    ) -> Result<Imported, ImportError> {
        let suite = self.suite();
        let header = &block.header;
        let Some((hash, parent_info)) = self.check_header(header, now)? else {
            return Ok(Imported::Known);
        };
        let parent = self
            .header(&header.parent_hash)
            .ok_or(ImportError::UnknownParent(header.parent_hash))?;
        let body = block.body_rlp();
        let db = self.db.clone();
        let mut state = State::open(suite, &*db, parent.state_root);
        let max = params_at(&state, header.number)?.max_block_bytes as usize;
        if body.len() > max {
            return Err(ImportError::TooLarge {
                bytes: body.len(),
                max,
            });
        }
        let computed = transactions_root(suite, &block.transactions);
        if computed != header.transactions_root {
            return Err(ImportError::TransactionsRoot {
                header: header.transactions_root,
                computed,
            });
        }
        let sealer = recover_signer(header, suite)?;
        let txs = verify_all(&block.transactions, suite, senders);
        let randomness = self.randomness(&parent)?;
        let env = self.env(header, sealer, randomness);
        let outcome = apply_block(&mut state, &env, &txs)?;
        if outcome.gas_used != header.gas_used {
            return Err(ImportError::GasUsed {
                header: header.gas_used,
                computed: outcome.gas_used,
            });
        }
        let computed = state.root()?;
        if computed != header.state_root {
            return Err(ImportError::StateRoot {
                header: header.state_root,
                computed,
            });
        }
        let computed = receipts_root(suite, &outcome.receipts);
        if computed != header.receipts_root {
            return Err(ImportError::ReceiptsRoot {
                header: header.receipts_root,
                computed,
            });
        }
        let commit = state.commit()?;
        self.store(
            hash,
            parent_info.total_difficulty,
            Executed {
                block,
                body,
                commit: &commit,
                receipts: outcome.receipts,
                txs: &txs,
            },
        )
    }

    /// The checks every import starts with: `None` if the block is already stored, else its
    /// hash and its parent's info once the header meets every consensus rule.
    fn check_header(
        &mut self,
        header: &Header,
        now: u64,
    ) -> Result<Option<(Hash, metamesh_db::BlockInfo)>, ImportError> {
        let hash = header.hash(self.suite());
        if self.db.block_info(&hash)?.is_some() {
            return Ok(None);
        }
        let parent_info = self
            .db
            .block_info(&header.parent_hash)?
            .ok_or(ImportError::UnknownParent(header.parent_hash))?;
        self.engine.verify_header(
            &DbHeaders(&self.db),
            &mut DbSnapshots(&self.db),
            header,
            &[],
            now,
        )?;
        Ok(Some((hash, parent_info)))
    }

    /// Fork choice and the one atomic write of an executed block.
    fn store(
        &mut self,
        hash: Hash,
        parent_td: u128,
        executed: Executed,
    ) -> Result<Imported, ImportError> {
        let Executed {
            block,
            body,
            commit,
            receipts,
            txs,
        } = executed;
        let suite = self.suite();
        let header = &block.header;
        let td = parent_td + header.difficulty as u128;
        let ours = self.candidate(header, td, hash)?;
        let head = self.head.clone();
        let head_hash = head.hash(suite);
        let head_td = self
            .db
            .block_info(&head_hash)?
            .map_or(0, |i| i.total_difficulty);
        let theirs = self.candidate(&head, head_td, head_hash)?;
        let make_head = compare(&ours, &theirs).is_gt();
        let receipts_rlp = receipts_list(&receipts);
        let tx_hashes: Vec<Hash> = txs.iter().map(|t| t.hash).collect();
        let change = self.db.insert_block(
            &StoredBlock {
                hash,
                number: header.number,
                parent: header.parent_hash,
                header: &header.to_rlp(),
                body: &body,
                receipts: &receipts_rlp,
                tx_hashes: &tx_hashes,
                total_difficulty: td,
                state: commit,
            },
            make_head,
        )?;
        if make_head {
            self.head = header.clone();
            self.next_params = params_at(&self.state(), header.number + 1)?;
        }
        Ok(Imported::New {
            hash,
            head: make_head,
            change,
            receipts,
        })
    }

    /// Every header rule except the time (the block is ahead of our clock), and the transactions
    /// root; nothing is stored.
    pub fn check_ahead(&mut self, block: &Block) -> Result<(), ImportError> {
        let header = &block.header;
        if self.db.block_info(&header.parent_hash)?.is_none() {
            return Err(ImportError::UnknownParent(header.parent_hash));
        }
        self.engine.verify_header(
            &DbHeaders(&self.db),
            &mut DbSnapshots(&self.db),
            header,
            &[],
            header.timestamp,
        )?;
        let computed = transactions_root(self.suite(), &block.transactions);
        if computed != header.transactions_root {
            return Err(ImportError::TransactionsRoot {
                header: header.transactions_root,
                computed,
            });
        }
        Ok(())
    }

    /// Stores a block this node built (see [`Self::build_block`]) without executing it again:
    /// its header is still checked against every consensus rule.
    pub fn import_built(&mut self, built: Built, now: u64) -> Result<Imported, ImportError> {
        let header = &built.block.header;
        let Some((hash, parent_info)) = self.check_header(header, now)? else {
            return Ok(Imported::Known);
        };
        self.store(
            hash,
            parent_info.total_difficulty,
            Executed {
                block: &built.block,
                body: built.block.body_rlp(),
                commit: &built.commit,
                receipts: built.receipts,
                txs: &built.txs,
            },
        )
    }
}

/// An executed block on its way to the database (its body encoded once).
struct Executed<'a> {
    block: &'a Block,
    body: Vec<u8>,
    commit: &'a metamesh_trie::TrieCommit,
    receipts: Vec<Receipt>,
    txs: &'a [VerifiedTx],
}

/// Checks the signatures not already known, spread over the machine's cores.
fn verify_all(
    txs: &[metamesh_primitives::SignedTransaction],
    suite: Suite,
    known: &HashMap<Hash, Address>,
) -> Vec<VerifiedTx> {
    let one = |t: &metamesh_primitives::SignedTransaction| {
        let raw = t.to_rlp();
        let hash = suite.hash(&raw);
        VerifiedTx {
            sender: known.get(&hash).copied().or_else(|| t.sender().ok()),
            tx: t.clone(),
            hash,
            size: raw.len(),
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if txs.len() < 64 || cores == 1 {
        return txs.iter().map(one).collect();
    }
    let chunk = txs.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("verification thread"))
            .collect()
    })
}

/// The stored receipts: an RLP list of receipt RLPs.
fn receipts_list(receipts: &[Receipt]) -> Vec<u8> {
    Receipt::encode_list(receipts)
}
