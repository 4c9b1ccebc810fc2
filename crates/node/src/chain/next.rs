//! The next block: dry runs on top of the head (the pool's check, gas estimates), the block
//! environment and its randomness, and building a block for a signer.

use std::sync::Arc;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::ChainDb;
use metamesh_primitives::{Block, Hash, Header};
use metamesh_state::{
    BlockEnv, BlockExecutor, Code, Params, Receipt, State, StateError, TxError, Verdict,
    VerifiedTx, params_at, receipts_root, transactions_root,
};

use super::{Chain, ImportError};

/// The head as the pool's checks need it, taken under the chain's lock for an instant and used
/// without it: the head's state (pruning keeps it for many blocks) and the next block's
/// environment and parameters. Checking against a tip the chain has since left is harmless:
/// the pool re-checks the sender and a block refuses what no longer fits.
#[derive(Clone)]
pub struct Tip {
    db: Arc<ChainDb>,
    suite: Suite,
    state_root: Hash,
    number: u64,
    env: BlockEnv,
    params: Params,
}

impl Tip {
    /// The head's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The head's state.
    pub fn state(&self) -> State<&ChainDb> {
        State::open(self.suite, &*self.db, self.state_root)
    }

    /// The parameters of the next block.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// What `tx` would do in the next block on top of `state` (the tip's: a dry run, nothing
    /// changes).
    pub fn check(&self, state: &State<&ChainDb>, tx: &VerifiedTx) -> Result<Verdict, StateError> {
        metamesh_state::check_tx_with(state, &self.env, &self.params, tx)
    }

    /// The rules `tx` meets on its own in the next block (see `state::check_alone`).
    pub fn check_alone(&self, tx: &VerifiedTx) -> Result<Address, metamesh_state::Rejection> {
        metamesh_state::check_alone(&self.params, self.env.chain_id, self.suite, tx)
    }

    /// The gas `tx` from `from` would use in the next block (see `state::estimate_gas`).
    pub fn estimate_gas(
        &self,
        tx: &metamesh_primitives::Transaction,
        from: Address,
    ) -> Result<Verdict, StateError> {
        metamesh_state::estimate_gas(&self.state(), &self.env, tx, from)
    }
}

impl Chain {
    /// The head for the pool's checks (see [`Tip`]).
    pub fn tip(&self) -> Tip {
        Tip {
            db: self.db.clone(),
            suite: self.suite(),
            state_root: self.head.state_root,
            number: self.head.number,
            env: self.dry_run_env(),
            params: self.next_params.clone(),
        }
    }

    /// The parameters of the block after the head.
    pub fn next_params(&self) -> Result<metamesh_state::Params, StateError> {
        Ok(self.next_params.clone())
    }

    /// The next block as a dry run sees it: on the head, one period later, no sealer yet and
    /// no randomness (a dry run draws no challenge).
    fn dry_run_env(&self) -> BlockEnv {
        let number = self.head.number + 1;
        let next = Header {
            parent_hash: self.head.hash(self.suite()),
            number,
            timestamp: self.head.timestamp + self.genesis.clique.period,
            gas_limit: self.next_params.block_gas_limit,
            ..Header::default()
        };
        self.env(&next, Address::ZERO, [0; 32])
    }

    pub(super) fn env(&self, header: &Header, sealer: Address, randomness: Hash) -> BlockEnv {
        BlockEnv {
            chain_id: self.genesis.chain_id,
            number: header.number,
            timestamp: header.timestamp,
            parent_hash: header.parent_hash,
            sealer,
            gas_limit: header.gas_limit,
            randomness,
        }
    }

    /// The randomness of the block after `parent`: the suite hash of the seals of the last
    /// ⌊N/2⌋+1 blocks up to `parent` (N signers), which Clique's recency rule makes the work of
    /// as many distinct signers. Fewer near genesis, whose seal is empty.
    pub(super) fn randomness(&mut self, parent: &Header) -> Result<Hash, ImportError> {
        let suite = self.suite();
        let signers = self.snapshot(&parent.hash(suite))?.signers.len();
        let mut seals = Vec::new();
        let mut header = parent.clone();
        for _ in 0..signers / 2 + 1 {
            seals.extend_from_slice(header.seal(suite).unwrap_or_default());
            if header.number == 0 {
                break;
            }
            header = self
                .header(&header.parent_hash)
                .ok_or(ImportError::UnknownParent(header.parent_hash))?;
        }
        Ok(suite.hash(&seals))
    }

    /// Builds and seals a block on the head with the candidates that are valid in turn (in
    /// order; invalid ones and those over the size or gas left are left out; valid ones that
    /// fail are included and pay), casting `vote` if it is not a checkpoint. The caller imports
    /// it (`import_built`, or `import` anywhere else).
    pub fn build_block(
        &mut self,
        key: &SecretKey,
        candidates: &[VerifiedTx],
        vote: Option<(Address, bool)>,
        now: u64,
    ) -> Result<Built, ImportError> {
        let suite = self.suite();
        if key.suite() != suite {
            return Err(ImportError::WrongSuite {
                key: key.suite(),
                chain: suite,
            });
        }
        let signer = key.public_key().address();
        let parent = self.head.clone();
        let parent_hash = parent.hash(suite);
        let snap = self.snapshot(&parent_hash)?;
        let db = self.db.clone();
        let mut state = State::open(suite, &*db, parent.state_root);
        let params = params_at(&state, parent.number + 1)?;
        let mut header = Header {
            parent_hash,
            number: parent.number + 1,
            gas_limit: params.block_gas_limit,
            timestamp: now.max(parent.timestamp + self.genesis.clique.period),
            ..Header::default()
        };
        self.engine.prepare(&snap, &mut header, &signer, vote);
        let randomness = self.randomness(&parent)?;
        let env = self.env(&header, signer, randomness);
        let mut block = BlockExecutor::begin(&mut state, &env)?;
        // A list header of up to 5 bytes aside.
        let mut room = (params.max_block_bytes as usize).saturating_sub(5);
        let (mut included, mut refused) = (Vec::new(), Vec::new());
        for tx in candidates {
            if tx.size > room {
                continue;
            }
            match block.push(tx) {
                Ok(_) => {
                    room -= tx.size;
                    included.push(tx.clone());
                }
                // Too big for what this block has left, or behind an earlier nonce that was
                // left out: another block may take it.
                Err(TxError::Invalid(r))
                    if matches!(r.code, Code::BlockGasExceeded | Code::NonceTooHigh) => {}
                Err(TxError::Invalid(_)) => refused.push(tx.hash),
                Err(TxError::State(e)) => return Err(e.into()),
            }
        }
        let outcome = block.finish()?;
        let transactions: Vec<_> = included.iter().map(|t| t.tx.clone()).collect();
        header.gas_used = outcome.gas_used;
        header.state_root = state.root()?;
        header.transactions_root = transactions_root(suite, &transactions);
        header.receipts_root = receipts_root(suite, &outcome.receipts);
        self.engine.seal(&mut header, key)?;
        Ok(Built {
            block: Block {
                header,
                transactions,
            },
            commit: state.commit()?,
            receipts: outcome.receipts,
            txs: included,
            refused,
        })
    }
}

/// A block built by this node with the result of executing it.
pub struct Built {
    pub block: Block,
    pub commit: metamesh_trie::TrieCommit,
    pub receipts: Vec<Receipt>,
    pub txs: Vec<VerifiedTx>,
    /// Candidates no block would take as they stand (a stale nonce, an unpayable gas limit…):
    /// the pool drops them.
    pub refused: Vec<Hash>,
}
