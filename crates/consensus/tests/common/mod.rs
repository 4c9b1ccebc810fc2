//! A small Clique network for tests: real keys, real seals, full verification.
#![allow(dead_code)] // each test binary uses part of this

use metamesh_consensus::{
    Clique, CliqueConfig, CliqueError, Snapshot, checkpoint_extra,
    memory::{MemoryChain, MemorySnapshots},
    replay::letter_key,
};
use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::Header;

pub struct Net {
    pub suite: Suite,
    pub engine: Clique,
    pub chain: MemoryChain,
    pub store: MemorySnapshots,
    pub keys: Vec<SecretKey>,
    pub genesis: Header,
    pub head: Header,
}

pub const LETTERS: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "H"];

impl Net {
    /// A chain whose genesis lists the first `signers` of `keys` (8 keys are made).
    pub fn new(suite: Suite, signers: usize, epoch: u64) -> Self {
        let keys: Vec<SecretKey> = LETTERS.iter().map(|l| letter_key(suite, l)).collect();
        let addresses: Vec<Address> = keys[..signers]
            .iter()
            .map(|k| k.public_key().address())
            .collect();
        let genesis = Header {
            extra: checkpoint_extra(&[], &addresses, suite),
            timestamp: 1_000,
            ..Header::default()
        };
        let mut chain = MemoryChain::default();
        chain.insert(genesis.clone(), suite);
        let config = CliqueConfig {
            period: 5,
            epoch,
            suite,
        };
        Net {
            suite,
            engine: Clique::new(config).unwrap(),
            chain,
            store: MemorySnapshots::default(),
            keys,
            head: genesis.clone(),
            genesis,
        }
    }

    pub fn address(&self, key: usize) -> Address {
        self.keys[key].public_key().address()
    }

    pub fn snap(&mut self) -> Snapshot {
        let (number, hash) = (self.head.number, self.head.hash(self.suite));
        self.engine
            .snapshot(&self.chain, &mut self.store, number, hash, &[])
            .unwrap()
    }

    /// Index of the key whose turn the next block is.
    pub fn in_turn_key(&mut self) -> usize {
        let snap = self.snap();
        let number = self.head.number + 1;
        (0..self.keys.len())
            .find(|&k| snap.in_turn(number, &self.address(k)))
            .expect("someone is in turn")
    }

    /// A correctly prepared and sealed next header by key `k`.
    pub fn next(&mut self, k: usize, vote: Option<(Address, bool)>) -> Header {
        let snap = self.snap();
        let mut header = Header {
            parent_hash: self.head.hash(self.suite),
            number: self.head.number + 1,
            timestamp: self.head.timestamp + self.engine.config().period,
            ..Header::default()
        };
        self.engine
            .prepare(&snap, &mut header, &self.address(k), vote);
        self.engine.seal(&mut header, &self.keys[k]).unwrap();
        header
    }

    /// Re-seals a header after a test changed it (so only the intended rule is broken).
    pub fn reseal(&self, header: &mut Header, k: usize) {
        self.engine.seal(header, &self.keys[k]).unwrap();
    }

    pub fn verify(&mut self, header: &Header) -> Result<(), CliqueError> {
        self.engine
            .verify_header(&self.chain, &mut self.store, header, &[], u64::MAX)
    }

    pub fn import(&mut self, header: Header) {
        self.verify(&header).unwrap();
        self.chain.insert(header.clone(), self.suite);
        self.head = header;
    }

    /// Imports one block sealed by whoever is in turn.
    pub fn advance(&mut self, vote: Option<(Address, bool)>) {
        let k = self.in_turn_key();
        let header = self.next(k, vote);
        self.import(header);
    }
}
