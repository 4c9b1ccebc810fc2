//! `Exec`: what a domain sees while it runs one action or one block hook — the state behind
//! layers of pending writes, a gas meter, and the events it emits.
//!
//! Nothing reaches the state until the caller takes the writes ([`Exec::finish`]); a layer
//! ([`Exec::layer`]) is dropped whole when the action in it fails, so a failed transaction
//! changes nothing but its fee and nonce, and a dry run (the pool's check, `mm_estimateGas`)
//! changes nothing at all. Every read, write and event is metered from the parameters record.

use std::collections::BTreeMap;

use metamesh_crypto::Address;
use metamesh_primitives::Amount;
use metamesh_trie::NodeStore;

use crate::{
    Account, BlockEnv, Code, CollectionId, Event, Params, Record, Rejection, State, StateError,
    StateKey,
};

/// Why a domain stopped: the transaction is refused (its writes are dropped), or the store
/// failed (the whole block is abandoned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    Reject(Rejection),
    State(StateError),
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Self {
        Fail::Reject(r)
    }
}

impl From<Code> for Fail {
    fn from(c: Code) -> Self {
        Fail::Reject(Rejection::new(c))
    }
}

impl From<StateError> for Fail {
    fn from(e: StateError) -> Self {
        Fail::State(e)
    }
}

/// A domain rule's result.
pub type Outcome<T = ()> = Result<T, Fail>;

/// A refusal with arguments, as a `Fail`.
pub fn reject<T>(code: Code, args: &[u128]) -> Outcome<T> {
    Err(Fail::Reject(Rejection::with(code, args)))
}

/// Where a pending write goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    Main(Vec<u8>),
    Entry(CollectionId, Vec<u8>),
}

type Writes = BTreeMap<Slot, Option<Vec<u8>>>;

struct Layer {
    writes: Writes,
    events: Vec<Event>,
}

/// Gas: a limit and what has been used.
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    pub limit: u64,
    pub used: u64,
}

impl Meter {
    /// No limit: the chain's own work at block boundaries.
    pub fn unlimited() -> Self {
        Meter {
            limit: u64::MAX,
            used: 0,
        }
    }
}

/// A domain's view of the state while it runs (see the module docs).
pub struct Exec<'a, S: NodeStore + Clone> {
    state: &'a State<S>,
    layers: Vec<Layer>,
    // Private: a domain reads the block and the parameters and spends gas, and cannot swap
    // either or wind the meter back.
    gas: Meter,
    env: &'a BlockEnv,
    params: &'a Params,
    /// The block's proofs, verified together before it ran.
    verdicts: Option<&'a crate::domains::zk::Verdicts>,
}

/// What a finished run leaves: its writes and events, in order.
pub(crate) struct Finished {
    pub writes: Writes,
    pub events: Vec<Event>,
}

impl<'a, S: NodeStore + Clone> Exec<'a, S> {
    pub fn new(state: &'a State<S>, env: &'a BlockEnv, params: &'a Params, gas: Meter) -> Self {
        Exec {
            state,
            layers: vec![Layer {
                writes: Writes::new(),
                events: Vec::new(),
            }],
            gas,
            env,
            params,
            verdicts: None,
        }
    }

    /// Uses the block's batch verdicts for the proofs it checks.
    pub(crate) fn with_verdicts(mut self, v: &'a crate::domains::zk::Verdicts) -> Self {
        self.verdicts = Some(v);
        self
    }

    /// The batch verdict on a proof, when the block computed one.
    pub fn verdict(&self, key: &metamesh_primitives::Hash) -> Option<bool> {
        self.verdicts.and_then(|v| v.get(key))
    }

    pub fn suite(&self) -> metamesh_crypto::Suite {
        self.state.suite()
    }

    /// The block being built.
    pub fn env(&self) -> &'a BlockEnv {
        self.env
    }

    /// The parameters in force for this block.
    pub fn params(&self) -> &'a Params {
        self.params
    }

    pub fn gas_used(&self) -> u64 {
        self.gas.used
    }

    /// Uses `amount` gas, or fails with `out-of-gas` (the meter then stands at its limit).
    pub fn charge(&mut self, amount: u64) -> Outcome {
        match self.gas.used.checked_add(amount) {
            Some(used) if used <= self.gas.limit => {
                self.gas.used = used;
                Ok(())
            }
            _ => {
                self.gas.used = self.gas.limit;
                reject(Code::OutOfGas, &[u128::from(self.gas.limit)])
            }
        }
    }

    /// Gas for hashing `bytes` bytes once.
    pub fn charge_hash(&mut self, bytes: usize) -> Outcome {
        let words = (bytes as u64).div_ceil(32);
        let p = self.params;
        self.charge(
            p.gas_hash
                .saturating_add(p.gas_hash_word.saturating_mul(words)),
        )
    }

    /// Runs `f` in a layer of its own: its writes and events stay if it succeeds and are
    /// dropped if it fails (gas used stays used either way).
    pub fn layer<T>(&mut self, f: impl FnOnce(&mut Self) -> Outcome<T>) -> Outcome<T> {
        self.layers.push(Layer {
            writes: Writes::new(),
            events: Vec::new(),
        });
        let result = f(self);
        let top = self.layers.pop().expect("pushed above");
        if result.is_ok() {
            let below = self.layers.last_mut().expect("the base layer");
            below.writes.extend(top.writes);
            below.events.extend(top.events);
        }
        result
    }

    fn pending(&self, slot: &Slot) -> Option<&Option<Vec<u8>>> {
        self.layers.iter().rev().find_map(|l| l.writes.get(slot))
    }

    fn write(&mut self, slot: Slot, value: Option<Vec<u8>>) {
        let top = self.layers.last_mut().expect("the base layer");
        top.writes.insert(slot, value);
    }

    /// The raw value under a key, unmetered (fee handling, which the base gas covers).
    pub(crate) fn peek(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        let bytes = key.to_bytes();
        match self.pending(&Slot::Main(bytes.clone())) {
            Some(v) => Ok(v.clone()),
            None => self.state.get_raw(&bytes),
        }
    }

    pub(crate) fn poke(&mut self, key: &StateKey, value: Option<Vec<u8>>) {
        self.write(Slot::Main(key.to_bytes()), value);
    }

    /// The record of type `R` named `id` (a metered read).
    pub fn load<R: Record>(&mut self, id: &R::Id) -> Outcome<Option<R>> {
        self.charge(self.params.gas_read)?;
        self.load_free(id).map_err(Fail::State)
    }

    pub(crate) fn load_free<R: Record>(&self, id: &R::Id) -> Result<Option<R>, StateError> {
        let key = R::key(id);
        self.peek(&key)?
            .map(|raw| R::decode(&raw).map_err(|e| State::<S>::corrupt(R::WHAT, &key, e)))
            .transpose()
    }

    /// Writes a record (metered by its size).
    pub fn save<R: Record>(&mut self, id: &R::Id, value: &R) -> Outcome {
        let bytes = value.encode();
        self.charge_write(bytes.len())?;
        self.poke(&R::key(id), Some(bytes));
        Ok(())
    }

    pub(crate) fn save_free<R: Record>(&mut self, id: &R::Id, value: &R) {
        self.poke(&R::key(id), Some(value.encode()));
    }

    /// Deletes a record.
    pub fn delete<R: Record>(&mut self, id: &R::Id) -> Outcome {
        self.charge_write(0)?;
        self.poke(&R::key(id), None);
        Ok(())
    }

    fn charge_write(&mut self, bytes: usize) -> Outcome {
        let p = self.params;
        self.charge(
            p.gas_write
                .saturating_add(p.gas_write_byte.saturating_mul(bytes as u64)),
        )
    }

    pub fn account(&mut self, address: &Address) -> Outcome<Account> {
        Ok(self.load::<Account>(address)?.unwrap_or_default())
    }

    /// Moves MMT between two accounts; `insufficient-balance` if `from` holds too little.
    pub fn transfer(&mut self, from: &Address, to: &Address, amount: Amount) -> Outcome {
        let mut a = self.account(from)?;
        a.balance = match a.balance.checked_sub(amount) {
            Some(b) => b,
            None => return reject(Code::InsufficientBalance, &[a.balance.0, amount.0]),
        };
        self.save(from, &a)?;
        let mut b = self.account(to)?;
        b.balance = b
            .balance
            .checked_add(amount)
            .expect("no balance exceeds the fixed supply");
        self.save(to, &b)
    }

    /// One entry of a collection (metered).
    pub fn entry(&mut self, c: CollectionId, key: &[u8]) -> Outcome<Option<Vec<u8>>> {
        self.charge(self.params.gas_read)?;
        match self.pending(&Slot::Entry(c, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.state.entry(c, key)?),
        }
    }

    /// Adds or replaces an entry.
    pub fn put_entry(&mut self, c: CollectionId, key: &[u8], value: &[u8]) -> Outcome {
        self.charge_write(key.len() + value.len())?;
        self.write(Slot::Entry(c, key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    pub fn remove_entry(&mut self, c: CollectionId, key: &[u8]) -> Outcome {
        self.charge_write(0)?;
        self.write(Slot::Entry(c, key.to_vec()), None);
        Ok(())
    }

    /// Up to `limit` entries with keys ≥ `start`, pending writes included, in key order.
    /// Metered per entry read.
    pub fn entries(
        &mut self,
        c: CollectionId,
        start: &[u8],
        limit: usize,
    ) -> Outcome<crate::state::Entries> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for layer in &self.layers {
            let from = Slot::Entry(c, start.to_vec());
            for (slot, v) in layer.writes.range(from..) {
                match slot {
                    Slot::Entry(cc, k) if *cc == c => {
                        merged.insert(k.clone(), v.clone());
                    }
                    _ => break,
                }
            }
        }
        // Deleted entries may hide up to that many stored ones: read past them.
        let deleted = merged.values().filter(|v| v.is_none()).count();
        for (k, v) in self.state.entries(c, start, limit + deleted)? {
            merged.entry(k).or_insert(Some(v));
        }
        let out: Vec<(Vec<u8>, Vec<u8>)> = merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .take(limit)
            .collect();
        self.charge(self.params.gas_read.saturating_mul(out.len() as u64 + 1))?;
        Ok(out)
    }

    /// Emits an event (metered by its encoded size).
    pub fn emit(&mut self, event: Event) -> Outcome {
        let mut bytes = Vec::new();
        event.encode(&mut bytes);
        let p = self.params;
        self.charge(
            p.gas_event
                .saturating_add(p.gas_event_byte.saturating_mul(bytes.len() as u64)),
        )?;
        self.emit_free(event);
        Ok(())
    }

    pub(crate) fn emit_free(&mut self, event: Event) {
        self.layers
            .last_mut()
            .expect("the base layer")
            .events
            .push(event);
    }

    pub(crate) fn finish(mut self) -> Finished {
        let base = self.layers.swap_remove(0);
        debug_assert!(self.layers.is_empty(), "every layer closed");
        Finished {
            writes: base.writes,
            events: base.events,
        }
    }
}

impl<S: NodeStore + Clone> State<S> {
    /// Applies what a finished run wrote.
    pub(crate) fn apply(&mut self, writes: Writes) -> Result<(), StateError> {
        for (slot, value) in writes {
            match slot {
                Slot::Main(key) => self.put_raw(&key, value.as_deref())?,
                Slot::Entry(c, key) => self.put_entry(c, &key, value.as_deref())?,
            }
        }
        Ok(())
    }
}
