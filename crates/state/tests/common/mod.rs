//! A chain of blocks on an in-memory state, for the state tests: genesis, signed transactions
//! with a gas limit large enough, blocks run through `apply_block` and committed.
#![allow(dead_code)]

use std::{collections::HashMap, sync::Arc};

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::{Action, Amount, TOTAL_SUPPLY, Transaction};
use metamesh_state::{
    BlockEnv, BlockError, BlockOutcome, Event, Genesis, Pool, Receipt, State, VerifiedTx,
    apply_block, escrow_account,
};
use metamesh_storage::{Cid, Profile, import_bytes};
use metamesh_trie::MemoryStore;

pub const CHAIN: u64 = 9;
/// The gas limit test transactions carry unless they say otherwise (the rest is refunded).
pub const GAS: u64 = 20_000_000;

pub struct Harness {
    pub suite: Suite,
    pub store: Arc<MemoryStore>,
    pub state: State<Arc<MemoryStore>>,
    pub genesis: Genesis,
    pub keys: Vec<SecretKey>,
    pub sealer: Address,
    pub number: u64,
    root: [u8; 32],
}

impl Harness {
    /// `users` funded accounts of 1,000 MMT; `tweak` may change the genesis first.
    pub fn new(suite: Suite, users: usize, tweak: impl FnOnce(&mut Genesis)) -> Self {
        let keys: Vec<SecretKey> = (0..users)
            .map(|i| SecretKey::from_bytes(suite, &suite.hash(&[i as u8, 0x55])).unwrap())
            .collect();
        let sealer = Address([0xee; 20]);
        let mut genesis = Genesis::dev(
            CHAIN,
            suite,
            0,
            1,
            vec![sealer],
            &keys
                .iter()
                .map(|k| k.public_key().address())
                .collect::<Vec<_>>(),
            Amount::from_mmt(1000),
        );
        tweak(&mut genesis);
        genesis.validate().unwrap();
        let store = Arc::new(MemoryStore::new());
        let mut state = State::empty(suite, store.clone());
        genesis.apply(&mut state).unwrap();
        let commit = state.commit().unwrap();
        store.apply(&commit);
        Harness {
            suite,
            store: store.clone(),
            state: State::open(suite, store, commit.root),
            genesis,
            keys,
            sealer,
            number: 0,
            root: commit.root,
        }
    }

    pub fn user(&self, i: usize) -> Address {
        self.keys[i].public_key().address()
    }

    pub fn params(&self) -> metamesh_state::Params {
        metamesh_state::params_at(&self.state, self.number + 1).unwrap()
    }

    /// The next block's environment.
    pub fn env(&self) -> BlockEnv {
        let number = self.number + 1;
        BlockEnv {
            chain_id: CHAIN,
            number,
            timestamp: 1_000 + number,
            parent_hash: self.suite.hash(&number.to_be_bytes()),
            sealer: self.sealer,
            gas_limit: self.params().block_gas_limit,
            randomness: self.suite.hash(&[number as u8, 7]),
        }
    }

    pub fn nonce(&self, a: &Address) -> u64 {
        self.state.account(a).unwrap().nonce
    }

    /// `action` from user `i` at `nonce` with gas limit `gas` at the minimum gas price.
    pub fn signed(&self, i: usize, nonce: u64, gas: u64, action: Action) -> VerifiedTx {
        let tx = Transaction {
            chain_id: CHAIN,
            nonce,
            gas_price: self.params().min_gas_price,
            gas_limit: gas,
            action,
        }
        .sign(&self.keys[i])
        .unwrap();
        VerifiedTx::new(tx, self.suite)
    }

    /// `action` from user `i` at its next nonce.
    pub fn tx(&self, i: usize, action: impl Into<Action>) -> VerifiedTx {
        self.signed(i, self.nonce(&self.user(i)), GAS, action.into())
    }

    /// Runs a block; on success it is committed, on failure the state is as before.
    pub fn block(&mut self, txs: &[VerifiedTx]) -> Result<BlockOutcome, BlockError> {
        let env = self.env();
        match apply_block(&mut self.state, &env, txs) {
            Ok(out) => {
                let commit = self.state.commit().unwrap();
                self.store.apply(&commit);
                self.root = commit.root;
                self.number += 1;
                Ok(out)
            }
            Err(e) => {
                self.state = State::open(self.suite, self.store.clone(), self.root);
                Err(e)
            }
        }
    }

    /// One transaction in a block of its own: its receipt.
    pub fn run(&mut self, i: usize, action: impl Into<Action>) -> Receipt {
        let tx = self.tx(i, action);
        self.block(&[tx]).unwrap().receipts.remove(0)
    }

    /// Empty blocks until the chain is at `number`; the block-level events of them all.
    pub fn until(&mut self, number: u64) -> Vec<Event> {
        let mut events = Vec::new();
        while self.number < number {
            events.extend(self.block(&[]).unwrap().system_events().to_vec());
        }
        events
    }

    pub fn root(&self) -> [u8; 32] {
        self.root
    }

    pub fn balance(&self, a: &Address) -> Amount {
        self.state.account(a).unwrap().balance
    }

    /// Every account that can hold MMT here: pools, users, the sealer, the storage module.
    pub fn accounts(&self) -> Vec<Address> {
        let mut all: Vec<Address> = Pool::ALL.iter().map(|p| p.address(self.suite)).collect();
        all.extend((0..self.keys.len()).map(|i| self.user(i)));
        all.push(self.sealer);
        all.push(escrow_account(self.suite));
        all.push(metamesh_state::compute_account(self.suite));
        all
    }

    /// The sum of every balance is the supply.
    pub fn assert_supply(&self) {
        let sum: u128 = self.accounts().iter().map(|a| self.balance(a).0).sum();
        assert_eq!(
            sum, TOTAL_SUPPLY.0,
            "the supply after block {}",
            self.number
        );
    }
}

/// A file of `size` bytes in the default profile: its root CID and every block.
pub fn file(size: usize, seed: u8) -> (Cid, HashMap<Cid, Vec<u8>>) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8 ^ seed).collect();
    let mut blocks = Vec::new();
    let root = import_bytes(Profile::KUBO_DEFAULT, &bytes, &mut blocks).unwrap();
    (
        root.cid,
        blocks.into_iter().map(|b| (b.cid, b.data)).collect(),
    )
}

/// The rejection code of a receipt, if it failed.
pub fn code(r: &Receipt) -> Option<metamesh_state::Code> {
    r.outcome.as_ref().err().map(|e| e.code)
}
