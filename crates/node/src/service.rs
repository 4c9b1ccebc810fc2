//! The running node: the chain, the pool and the signer's proposals behind one service, and the
//! sealing loop. This is the edge where the clock and randomness enter (the Unix time for block
//! timestamps, a random out-of-turn wait); everything it calls is deterministic.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex, MutexGuard, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use metamesh_consensus::{Proposals, out_of_turn_wait};
use metamesh_crypto::{Address, SecretKey};
use metamesh_primitives::{Amount, Block, Hash, Header, SignedTransaction};
use metamesh_state::{Rejection, Verdict, VerifiedTx};
use tokio::sync::{broadcast, mpsc, watch};

use crate::{Chain, ImportError, Imported, PoolConfig, PoolError, Tip, TxPool, protocol::Status};

/// Bytes a raw transaction may have before it is even decoded: the largest the chain's
/// parameters could allow (a block body). The chain's own limits (`maxTxBytes`,
/// `maxProofTxBytes`) are checked by the state transition.
pub const MAX_RAW_TRANSACTION_BYTES: usize = metamesh_state::MAX_BLOCK_BYTES as usize;

/// An operator's request to the network task (from the admin RPC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetControl {
    /// Disconnect the peer and refuse it for `seconds`.
    Block {
        peer: String,
        seconds: u64,
    },
    Unblock {
        peer: String,
    },
}

/// One connected peer as the node sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerView {
    pub id: String,
    pub status: Option<Status>,
    pub score: i64,
}

/// The network as last reported by its task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetView {
    pub peer_id: String,
    pub listening: Vec<String>,
    pub peers: Vec<PeerView>,
    /// Banned peers with the milliseconds their ban has left.
    pub banned: Vec<(String, u64)>,
}

/// What this node has to tell its peers: blocks it sealed, transactions submitted to it.
#[derive(Clone, Debug)]
pub enum Announcement {
    Block(Box<Block>),
    Transaction(Vec<u8>),
}

/// Why a raw transaction was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("malformed transaction: {0}")]
    Malformed(String),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("state: {0}")]
    State(String),
    /// It cannot be in the next block, or would fail there (a digest already registered, too
    /// little balance…).
    #[error("{0}")]
    Refused(Rejection),
}

/// What the sealing loop should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealPlan {
    /// Not a signer, or just sealed: look again later.
    Idle(Duration),
    /// Too early for the next block: wait this long.
    Wait(Duration),
    /// Seal on `parent` after `delay` (the out-of-turn wait; zero in turn).
    Seal { parent: Hash, delay: Duration },
}

/// A transaction this node signed and sent: what a resend replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnTx {
    pub hash: Hash,
    pub nonce: u64,
    pub gas_price: Amount,
}

pub struct NodeService {
    suite: metamesh_crypto::Suite,
    chain: Mutex<Chain>,
    /// The head for entry checks, readable without the chain's lock.
    tip: RwLock<Arc<Tip>>,
    pool: Mutex<TxPool>,
    proposals: Mutex<Proposals>,
    signer: Option<SecretKey>,
    heads: broadcast::Sender<Header>,
    announcer: Mutex<Option<mpsc::UnboundedSender<Announcement>>>,
    /// Set while the node catches up with a peer that is ahead: sealing waits.
    syncing: AtomicBool,
    net_view: Mutex<Option<NetView>>,
    control: Mutex<Option<mpsc::UnboundedSender<NetControl>>>,
    content: std::sync::OnceLock<Arc<crate::Content>>,
    /// Serializes the node's own submissions, so two never take the same nonce.
    own: Mutex<()>,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock is a bug; the data is still consistent (writes are atomic in
    // the database), so keep serving rather than poisoning every later call.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl NodeService {
    pub fn new(chain: Chain, signer: Option<SecretKey>, pool: PoolConfig) -> Arc<Self> {
        let g = chain.genesis();
        let mut pool = TxPool::new(pool, g.chain_id, chain.suite());
        if let Some(key) = &signer {
            pool.set_local(key.public_key().address());
        }
        pool.set_head(chain.head().number);
        let (heads, _) = broadcast::channel(64);
        Arc::new(NodeService {
            suite: chain.suite(),
            tip: RwLock::new(Arc::new(chain.tip())),
            chain: Mutex::new(chain),
            pool: Mutex::new(pool),
            proposals: Mutex::new(Proposals::default()),
            signer,
            heads,
            announcer: Mutex::new(None),
            syncing: AtomicBool::new(false),
            net_view: Mutex::new(None),
            control: Mutex::new(None),
            content: std::sync::OnceLock::new(),
            own: Mutex::new(()),
        })
    }

    /// Gives the node its content store (once, at start).
    pub fn attach_content(&self, content: Arc<crate::Content>) {
        let _ = self.content.set(content);
    }

    /// The content store, when the node keeps one.
    pub fn content(&self) -> Option<&Arc<crate::Content>> {
        self.content.get()
    }

    /// Signs `action` with this node's key at its next nonce, the chain's minimum gas price and
    /// the gas a dry run says it needs (padded), and submits it.
    pub fn submit_own(&self, action: metamesh_primitives::Action) -> Result<Hash, SubmitError> {
        self.send_own(action, None).map(|o| o.hash)
    }

    /// [`Self::submit_own`], telling what was sent (for [`Self::resend_own`]).
    pub fn submit_own_tx(&self, action: metamesh_primitives::Action) -> Result<OwnTx, SubmitError> {
        self.send_own(action, None)
    }

    /// Sends `action` again in place of `previous` while that still waits in the pool: the same
    /// nonce at twice the gas price (at most 16 × the minimum), so a proof crowded out of
    /// blocks outbids what crowds it; once `previous` has left the pool, as a new transaction.
    pub fn resend_own(
        &self,
        action: metamesh_primitives::Action,
        previous: &OwnTx,
    ) -> Result<OwnTx, SubmitError> {
        self.send_own(action, Some(previous))
    }

    fn send_own(
        &self,
        action: metamesh_primitives::Action,
        previous: Option<&OwnTx>,
    ) -> Result<OwnTx, SubmitError> {
        let key = self
            .signer
            .as_ref()
            .ok_or_else(|| SubmitError::Malformed("this node has no signer key".into()))?;
        let me = key.public_key().address();
        let _one_at_a_time = lock(&self.own);
        let state_error = |e: metamesh_state::StateError| SubmitError::State(e.to_string());
        let (chain_id, params, account) = {
            let chain = lock(&self.chain);
            let account = chain.state().account(&me).map_err(state_error)?;
            let params = chain.next_params().map_err(state_error)?;
            (chain.genesis().chain_id, params, account)
        };
        let min = params.min_gas_price;
        let waiting = previous.filter(|p| lock(&self.pool).get(&p.hash).is_some());
        let (nonce, gas_price) = match waiting {
            Some(p) => {
                let cap = Amount(min.0.saturating_mul(16));
                let price = Amount(p.gas_price.0.saturating_mul(2)).min(cap);
                if price.0 < p.gas_price.0.saturating_add(p.gas_price.0.div_ceil(10)) {
                    return Ok(p.clone()); // at the cap: it waits as it is
                }
                (p.nonce, price.max(min))
            }
            None => (lock(&self.pool).next_nonce(&me, account.nonce), min),
        };
        let mut tx = metamesh_primitives::Transaction {
            chain_id,
            nonce: account.nonce,
            gas_price,
            gas_limit: params.block_gas_limit,
            action,
        };
        let verdict = self.tip().estimate_gas(&tx, me).map_err(state_error)?;
        let used = match verdict {
            Verdict::Applies { gas_used } => gas_used,
            Verdict::Fails { rejection, .. } | Verdict::Invalid(rejection) => {
                return Err(SubmitError::Refused(rejection));
            }
        };
        tx.nonce = nonce;
        tx.gas_limit = metamesh_state::padded_gas(used, params.block_gas_limit);
        let tx = tx
            .sign(key)
            .map_err(|e| SubmitError::Malformed(e.to_string()))?;
        let hash = self.submit(&tx.to_rlp())?;
        Ok(OwnTx {
            hash,
            nonce,
            gas_price,
        })
    }

    /// The first nonce of `sender` neither used on chain nor waiting in the pool.
    pub fn next_nonce(&self, sender: &Address) -> u64 {
        let account = lock(&self.chain)
            .state()
            .account(sender)
            .map_or(0, |a| a.nonce);
        lock(&self.pool).next_nonce(sender, account)
    }

    /// Runs `f` with the chain (the lock is held meanwhile: keep it short).
    pub fn with_chain<R>(&self, f: impl FnOnce(&mut Chain) -> R) -> R {
        f(&mut lock(&self.chain))
    }

    /// A view for event readers, taken under the lock for an instant; they read without it.
    pub fn chain_view(&self) -> crate::ChainView {
        lock(&self.chain).view()
    }

    pub fn signer(&self) -> Option<Address> {
        self.signer.as_ref().map(|k| k.public_key().address())
    }

    pub fn subscribe_heads(&self) -> broadcast::Receiver<Header> {
        self.heads.subscribe()
    }

    pub fn suite(&self) -> metamesh_crypto::Suite {
        self.suite
    }

    pub fn genesis_hash(&self) -> Hash {
        lock(&self.chain).genesis_hash()
    }

    /// Head, total difficulty and genesis, as peers see them.
    pub fn status(&self) -> Status {
        let chain = lock(&self.chain);
        let head_hash = chain.head().hash(self.suite);
        Status {
            genesis: chain.genesis_hash(),
            head_number: chain.head().number,
            head_hash,
            total_difficulty: chain
                .db()
                .block_info(&head_hash)
                .ok()
                .flatten()
                .map_or(0, |i| i.total_difficulty),
        }
    }

    /// Whether the block is stored (on any branch).
    pub fn knows(&self, hash: &Hash) -> bool {
        lock(&self.chain)
            .db()
            .block_info(hash)
            .ok()
            .flatten()
            .is_some()
    }

    /// Holds sealing back (true) while the node catches up with its peers.
    pub fn set_syncing(&self, syncing: bool) {
        self.syncing.store(syncing, Ordering::Relaxed);
    }

    pub fn is_syncing(&self) -> bool {
        self.syncing.load(Ordering::Relaxed)
    }

    /// From now on, sealed blocks and submitted transactions are sent here (to be gossiped).
    pub fn announcements(&self) -> mpsc::UnboundedReceiver<Announcement> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.announcer) = Some(tx);
        rx
    }

    /// The network's last report; `None` when the node runs without one.
    pub fn net_view(&self) -> Option<NetView> {
        lock(&self.net_view).clone()
    }

    pub fn set_net_view(&self, view: NetView) {
        *lock(&self.net_view) = Some(view);
    }

    /// From now on, operator requests for the network arrive here.
    pub fn net_control(&self) -> mpsc::UnboundedReceiver<NetControl> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.control) = Some(tx);
        rx
    }

    /// Passes an operator request to the network task.
    pub fn control_network(&self, request: NetControl) -> Result<(), String> {
        lock(&self.control)
            .as_ref()
            .ok_or_else(|| "this node runs without a network".to_owned())?
            .send(request)
            .map_err(|_| "the network task has stopped".to_owned())
    }

    fn announce(&self, what: Announcement) {
        if let Some(tx) = lock(&self.announcer).as_ref() {
            let _ = tx.send(what);
        }
    }

    pub fn pool_len(&self) -> usize {
        lock(&self.pool).len()
    }

    /// A pending transaction by hash.
    pub fn pending_transaction(&self, hash: &Hash) -> Option<SignedTransaction> {
        lock(&self.pool).get(hash).map(|t| t.tx.clone())
    }

    /// Pools a transaction submitted to this node and announces it to the peers.
    pub fn submit(&self, raw: &[u8]) -> Result<Hash, SubmitError> {
        let hash = self.receive(raw)?;
        self.announce(Announcement::Transaction(raw.to_vec()));
        Ok(hash)
    }

    /// Decodes, verifies and pools a raw transaction. The signature is checked before any lock
    /// is taken, so concurrent callers verify on all cores; it is never checked again.
    pub fn receive(&self, raw: &[u8]) -> Result<Hash, SubmitError> {
        if raw.len() > MAX_RAW_TRANSACTION_BYTES {
            return Err(SubmitError::Malformed(format!(
                "a transaction of {} bytes is over the {MAX_RAW_TRANSACTION_BYTES}-byte limit",
                raw.len()
            )));
        }
        let state_error = |e: metamesh_state::StateError| SubmitError::State(e.to_string());
        let mut tip = self.tip();
        // The chain's own limit before decoding: a decoder allocates per field it reads.
        let max = tip.params().max_proof_tx_bytes;
        if raw.len() as u64 > max {
            return Err(SubmitError::Malformed(format!(
                "a transaction of {} bytes is over the chain's {max}-byte limit",
                raw.len()
            )));
        }
        let tx = SignedTransaction::decode(raw, self.suite)
            .map_err(|e| SubmitError::Malformed(e.to_string()))?;
        let verified = VerifiedTx::new(tx, self.suite);
        // What it is on its own first: those are the clearest reasons, and a peer's fault.
        tip.check_alone(&verified).map_err(SubmitError::Refused)?;
        // Checked against the tip without the chain's lock, so entries go on while a block is
        // built and written; the pool takes it only if no block came in meanwhile.
        loop {
            let state = tip.state();
            let params = tip.params();
            // The sender's account, read once for both of the pool's checks.
            let account = match verified.sender {
                Some(sender) => state.account(&sender).map_err(state_error)?,
                None => Default::default(),
            };
            lock(&self.pool).admit(&verified, params.min_gas_price, |_| account)?;
            // The pool's rules passed; now a dry run against the state, before anything changes
            // (so a failing replacement never evicts what it meant to replace). A later nonce
            // may well become valid; anything else would only be refused or fail in a block.
            match tip.check(&state, &verified).map_err(state_error)? {
                Verdict::Invalid(r) if r.code != metamesh_state::Code::NonceTooHigh => {
                    return Err(SubmitError::Refused(r));
                }
                Verdict::Fails { rejection, .. } => return Err(SubmitError::Refused(rejection)),
                // A transaction over the ordinary size must be checkable now: no queue of big
                // unchecked transactions behind a nonce gap.
                Verdict::Invalid(r) if raw.len() as u64 > params.max_tx_bytes => {
                    return Err(SubmitError::Refused(r));
                }
                Verdict::Invalid(_) | Verdict::Applies { .. } => {}
            }
            let mut pool = lock(&self.pool);
            let now = self.tip();
            if !Arc::ptr_eq(&now, &tip) {
                drop((pool, state));
                tip = now;
                continue;
            }
            return Ok(pool.add_verified(verified, params.min_gas_price, |_| account)?);
        }
    }

    /// The head as the pool's checks see it (replaced, under the pool's lock, by every import
    /// that moves the head).
    pub fn tip(&self) -> Arc<Tip> {
        self.tip
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn propose(&self, address: Address, authorize: bool) {
        lock(&self.proposals).propose(address, authorize);
    }

    pub fn discard(&self, address: &Address) -> bool {
        lock(&self.proposals).discard(address)
    }

    pub fn proposals(&self) -> BTreeMap<Address, bool> {
        lock(&self.proposals).list().clone()
    }

    /// Checks a block that is ahead of our clock as far as can be done before its time: every
    /// header rule but the time, and its transactions root.
    pub fn check_ahead(&self, block: &Block) -> Result<(), ImportError> {
        lock(&self.chain).check_ahead(block)
    }

    /// Imports a block from elsewhere; transactions of retracted blocks go back to the pool.
    pub fn import(&self, block: &Block, now: u64) -> Result<Imported, ImportError> {
        let known: HashMap<Hash, Address> = {
            let pool = lock(&self.pool);
            block
                .transactions
                .iter()
                .filter_map(|t| {
                    let hash = t.hash(self.suite);
                    pool.get(&hash).and_then(|v| v.sender).map(|s| (hash, s))
                })
                .collect()
        };
        let mut chain = lock(&self.chain);
        let imported = chain.import_with_senders(block, now, &known)?;
        self.after_import(&mut chain, &imported)?;
        Ok(imported)
    }

    /// Pool and proposal upkeep once a block is stored, and the new-head announcement.
    fn after_import(&self, chain: &mut Chain, imported: &Imported) -> Result<(), ImportError> {
        if let Imported::New {
            head: true, change, ..
        } = &imported
        {
            let suite = chain.suite();
            let tip = Arc::new(chain.tip());
            let state = tip.state();
            let mut pool = lock(&self.pool);
            pool.prune(
                |a| state.account(a).unwrap_or_default(),
                tip.number(),
                tip.params(),
            );
            *self
                .tip
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = tip.clone();
            drop(pool);
            // The block is in: a retracted body that cannot be read only loses its
            // transactions' place in the pool (they were gossiped, and can be sent again).
            let mut retracted = Vec::new();
            for hash in &change.retracted {
                match chain
                    .db()
                    .body(hash)
                    .map(|b| b.map(|b| Block::decode_body(&b, suite)))
                {
                    Ok(Some(Ok(txs))) => retracted.extend(txs),
                    Ok(None) => {}
                    Ok(Some(Err(e))) => {
                        tracing::warn!(block = %hex::encode(hash), "a retracted body does not decode: {e}")
                    }
                    Err(e) => {
                        tracing::warn!(block = %hex::encode(hash), "reading a retracted body: {e}")
                    }
                }
            }
            if !retracted.is_empty() {
                lock(&self.pool).reinject(retracted, tip.params().min_gas_price, |a| {
                    state.account(a).unwrap_or_default()
                });
            }
            drop(state);
            let head = chain.head().hash(suite);
            if let Ok(snap) = chain.snapshot(&head) {
                // A proposal that came true is done; keeping it would vote it back out.
                lock(&self.proposals).prune_enacted(&snap);
            }
            let _ = self.heads.send(chain.head().clone());
        }
        Ok(())
    }

    /// Decides the sealing loop's next step at time `now`, with `random` for the out-of-turn wait.
    pub fn plan(&self, now: u64, random: u64) -> Result<SealPlan, ImportError> {
        let Some(me) = self.signer() else {
            return Ok(SealPlan::Idle(Duration::from_secs(3600)));
        };
        let mut chain = lock(&self.chain);
        let head = chain.head().clone();
        let parent = head.hash(chain.suite());
        let snap = chain.snapshot(&parent)?;
        let period = chain.genesis().clique.period;
        let number = head.number + 1;
        if !snap.signers.contains(&me) || snap.recently_signed(number, &me) || self.is_syncing() {
            return Ok(SealPlan::Idle(Duration::from_millis(500)));
        }
        let earliest = head.timestamp + period;
        if now < earliest {
            return Ok(SealPlan::Wait(Duration::from_secs(earliest - now)));
        }
        let delay = out_of_turn_wait(snap.in_turn(number, &me), snap.signers.len(), random);
        Ok(SealPlan::Seal { parent, delay })
    }

    /// Seals a block on `parent` if it is still the head (and no peer is known to be ahead),
    /// imports it and announces it.
    pub fn seal(&self, parent: Hash, now: u64) -> Result<Option<Block>, ImportError> {
        let Some(key) = &self.signer else {
            return Ok(None);
        };
        if self.is_syncing() {
            return Ok(None);
        }
        let block = {
            let mut chain = lock(&self.chain);
            if chain.head().hash(chain.suite()) != parent {
                return Ok(None);
            }
            let snap = chain.snapshot(&parent)?;
            let state = chain.state();
            let pending = lock(&self.pool).pending(|a| state.account(a).unwrap_or_default(), 2_000);
            drop(state);
            let vote = lock(&self.proposals).choose(&snap, &parent);
            let mut built = chain.build_block(key, &pending, vote, now)?;
            let block = built.block.clone();
            let refused = std::mem::take(&mut built.refused);
            let imported = chain.import_built(built, now)?;
            // What no block would take goes, so it cannot hold the top of the pool forever.
            let mut pool = lock(&self.pool);
            for hash in &refused {
                pool.remove(hash);
            }
            drop(pool);
            self.after_import(&mut chain, &imported)?;
            block
        };
        self.announce(Announcement::Block(Box::new(block.clone())));
        Ok(Some(block))
    }

    /// The sealing loop: waits for the period, the out-of-turn delay or a new head, then seals.
    /// Ends when `shutdown` turns true.
    pub async fn run_sealer(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut heads = self.subscribe_heads();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let mut random = [0u8; 8];
            let _ = getrandom::fill(&mut random);
            let wait = match self.plan(unix_now(), u64::from_le_bytes(random)) {
                Ok(SealPlan::Idle(d)) | Ok(SealPlan::Wait(d)) => Some((d, None)),
                Ok(SealPlan::Seal { parent, delay }) => Some((delay, Some(parent))),
                Err(_) => Some((Duration::from_secs(1), None)),
            };
            let Some((delay, seal_on)) = wait else {
                continue;
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {
                    if let Some(parent) = seal_on {
                        let _ = self.seal(parent, unix_now());
                    }
                }
                _ = heads.recv() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
