//! The Clique engine: header verification against the snapshot at the parent, snapshot
//! retrieval (walking back to the nearest known snapshot), and the sealing side.
//!
//! Sans-I/O: headers come from a [`ChainReader`] the caller provides, stored snapshots from a
//! [`SnapshotStore`], the current time and any randomness are arguments.

use std::{collections::HashMap, time::Duration};

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::{
    Hash, Header,
    header::{DIFF_IN_TURN, DIFF_NO_TURN, EXTRA_VANITY, NONCE_AUTH, NONCE_DROP},
};

use crate::{CliqueError, Snapshot, snapshot::recover_signer};

/// Chain parameters of Clique (from the genesis file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CliqueConfig {
    /// Minimum seconds between blocks.
    pub period: u64,
    /// Blocks between checkpoints, where votes reset and the signer list is written out.
    pub epoch: u64,
    pub suite: Suite,
}

impl CliqueConfig {
    pub const DEFAULT_EPOCH: u64 = 30_000;
}

/// Snapshots are stored every this many blocks so a restart does not replay history.
pub const CHECKPOINT_INTERVAL: u64 = 1024;
/// Snapshots kept in memory.
const CACHED_SNAPSHOTS: usize = 128;

/// Headers the engine may look up (the node's database, or a test's map).
pub trait ChainReader {
    fn header(&self, hash: &Hash) -> Option<Header>;
}

/// Durable snapshots (the node's database, or a test's map).
pub trait SnapshotStore {
    fn load(&self, hash: &Hash) -> Option<Vec<u8>>;
    fn save(&mut self, hash: Hash, snapshot_json: Vec<u8>);
}

/// The engine. It owns only a cache of snapshots; everything else is passed in.
#[derive(Debug)]
pub struct Clique {
    config: CliqueConfig,
    cache: HashMap<Hash, Snapshot>,
}

/// The `extra` of a checkpoint (or genesis) header: vanity (padded or cut to 32 bytes), the
/// signers in ascending order, and zeroed room for the seal.
pub fn checkpoint_extra(vanity: &[u8], signers: &[Address], suite: Suite) -> Vec<u8> {
    let mut sorted = signers.to_vec();
    sorted.sort();
    let mut extra = vanity.get(..EXTRA_VANITY).unwrap_or(vanity).to_vec();
    extra.resize(EXTRA_VANITY, 0);
    for s in sorted {
        extra.extend_from_slice(&s.0);
    }
    extra.resize(extra.len() + suite.signature_len(), 0);
    extra
}

/// Signer addresses from a checkpoint header's `extra`.
pub fn checkpoint_signers(header: &Header, suite: Suite) -> Result<Vec<Address>, CliqueError> {
    let seal = suite.signature_len();
    if header.extra.len() < EXTRA_VANITY + seal {
        return Err(CliqueError::MissingSignature(seal));
    }
    let list = &header.extra[EXTRA_VANITY..header.extra.len() - seal];
    if !list.len().is_multiple_of(20) {
        return Err(CliqueError::InvalidCheckpointSigners);
    }
    Ok(list
        .chunks(20)
        .map(|c| Address(c.try_into().expect("20 bytes")))
        .collect())
}

impl Clique {
    pub fn new(config: CliqueConfig) -> Result<Self, CliqueError> {
        if config.epoch == 0 {
            return Err(CliqueError::ZeroEpoch);
        }
        Ok(Clique {
            config,
            cache: HashMap::new(),
        })
    }

    pub fn config(&self) -> &CliqueConfig {
        &self.config
    }

    /// Forgets cached snapshots (what a restart does); stored ones remain.
    pub fn clear_cache(&mut self) {
        self.cache.clear();
    }

    /// The snapshot after block (`number`, `hash`). `parents` are headers not yet in `chain`
    /// (a batch being imported), oldest first, ending at that block.
    pub fn snapshot(
        &mut self,
        chain: &impl ChainReader,
        store: &mut impl SnapshotStore,
        number: u64,
        hash: Hash,
        parents: &[Header],
    ) -> Result<Snapshot, CliqueError> {
        let suite = self.config.suite;
        let mut pending: Vec<Header> = Vec::new();
        let mut parents = parents;
        let (mut number, mut hash) = (number, hash);
        let base = loop {
            if let Some(snap) = self.cache.get(&hash) {
                break snap.clone();
            }
            if number % CHECKPOINT_INTERVAL == 0
                && let Some(bytes) = store.load(&hash)
            {
                break Snapshot::from_json(&bytes)?;
            }
            let header = match parents.split_last() {
                Some((last, rest)) => {
                    if last.number != number || last.hash(suite) != hash {
                        return Err(CliqueError::UnknownAncestor);
                    }
                    parents = rest;
                    last.clone()
                }
                None => chain.header(&hash).ok_or(CliqueError::UnknownAncestor)?,
            };
            if header.number != number {
                return Err(CliqueError::UnknownAncestor);
            }
            if number == 0 {
                // Genesis: its checkpoint list is the first signer set.
                let snap = Snapshot::new(0, hash, checkpoint_signers(&header, suite)?)?;
                store.save(hash, snap.to_json());
                break snap;
            }
            (number, hash) = (number - 1, header.parent_hash);
            pending.push(header);
        };
        pending.reverse();
        let snap = base.apply(&pending, suite, self.config.epoch)?;
        self.remember(&snap);
        if snap.number % CHECKPOINT_INTERVAL == 0 && !pending.is_empty() {
            store.save(snap.hash, snap.to_json());
        }
        Ok(snap)
    }

    fn remember(&mut self, snap: &Snapshot) {
        if self.cache.len() >= CACHED_SNAPSHOTS {
            // Keep the newest half: snapshots near the head are the ones asked for again.
            let mut numbers: Vec<u64> = self.cache.values().map(|s| s.number).collect();
            numbers.sort_unstable();
            let cut = numbers[numbers.len() / 2];
            self.cache.retain(|_, s| s.number >= cut);
        }
        self.cache.insert(snap.hash, snap.clone());
    }

    /// Checks `header` against every Clique rule. `parents` are the batch's earlier headers
    /// (not yet in `chain`); `now` is the caller's clock in seconds.
    pub fn verify_header(
        &mut self,
        chain: &impl ChainReader,
        store: &mut impl SnapshotStore,
        header: &Header,
        parents: &[Header],
        now: u64,
    ) -> Result<(), CliqueError> {
        self.verify_standalone(header, now)?;
        if header.number == 0 {
            return Ok(());
        }
        let parent = match parents.last() {
            Some(p) => p.clone(),
            None => chain
                .header(&header.parent_hash)
                .ok_or(CliqueError::UnknownAncestor)?,
        };
        if parent.number + 1 != header.number
            || parent.hash(self.config.suite) != header.parent_hash
        {
            return Err(CliqueError::UnknownAncestor);
        }
        if parent.timestamp.saturating_add(self.config.period) > header.timestamp {
            return Err(CliqueError::InvalidTimestamp);
        }
        let snap = self.snapshot(chain, store, parent.number, header.parent_hash, parents)?;
        if header.number.is_multiple_of(self.config.epoch)
            && checkpoint_signers(header, self.config.suite)? != snap.signers_sorted()
        {
            return Err(CliqueError::MismatchingCheckpointSigners);
        }
        self.verify_seal(&snap, header)
    }

    /// The rules a header must meet on its own.
    pub fn verify_standalone(&self, header: &Header, now: u64) -> Result<(), CliqueError> {
        if header.timestamp > now {
            return Err(CliqueError::FutureBlock);
        }
        let checkpoint = header.number.is_multiple_of(self.config.epoch);
        if checkpoint && header.coinbase != Address::ZERO {
            return Err(CliqueError::InvalidCheckpointBeneficiary);
        }
        if header.nonce != NONCE_AUTH && header.nonce != NONCE_DROP {
            return Err(CliqueError::InvalidVote);
        }
        if checkpoint && header.nonce != NONCE_DROP {
            return Err(CliqueError::InvalidCheckpointVote);
        }
        let seal = self.config.suite.signature_len();
        if header.extra.len() < EXTRA_VANITY {
            return Err(CliqueError::MissingVanity);
        }
        if header.extra.len() < EXTRA_VANITY + seal {
            return Err(CliqueError::MissingSignature(seal));
        }
        let list = header.extra.len() - EXTRA_VANITY - seal;
        if !checkpoint && list != 0 {
            return Err(CliqueError::ExtraSigners);
        }
        if checkpoint && !list.is_multiple_of(20) {
            return Err(CliqueError::InvalidCheckpointSigners);
        }
        if header.number > 0
            && header.difficulty != DIFF_IN_TURN
            && header.difficulty != DIFF_NO_TURN
        {
            return Err(CliqueError::InvalidDifficulty);
        }
        Ok(())
    }

    /// The seal: an authorised signer, not too recent, with the difficulty its turn implies.
    pub fn verify_seal(&self, snap: &Snapshot, header: &Header) -> Result<(), CliqueError> {
        if header.number == 0 {
            return Err(CliqueError::UnknownBlock);
        }
        let signer = recover_signer(header, self.config.suite)?;
        if !snap.signers.contains(&signer) {
            return Err(CliqueError::UnauthorizedSigner);
        }
        if snap.recently_signed(header.number, &signer) {
            return Err(CliqueError::RecentlySigned);
        }
        let expected = if snap.in_turn(header.number, &signer) {
            DIFF_IN_TURN
        } else {
            DIFF_NO_TURN
        };
        if header.difficulty != expected {
            return Err(CliqueError::WrongDifficulty);
        }
        Ok(())
    }

    /// Fills the Clique fields of a header `signer` is about to seal on top of `snap`: the vote
    /// (none on checkpoints), difficulty, and `extra` with room for the seal.
    pub fn prepare(
        &self,
        snap: &Snapshot,
        header: &mut Header,
        signer: &Address,
        vote: Option<(Address, bool)>,
    ) {
        let checkpoint = header.number.is_multiple_of(self.config.epoch);
        (header.coinbase, header.nonce) = match vote {
            Some((address, true)) if !checkpoint => (address, NONCE_AUTH),
            Some((address, false)) if !checkpoint => (address, NONCE_DROP),
            _ => (Address::ZERO, NONCE_DROP),
        };
        header.difficulty = if snap.in_turn(header.number, signer) {
            DIFF_IN_TURN
        } else {
            DIFF_NO_TURN
        };
        let mut extra = header
            .extra
            .get(..EXTRA_VANITY)
            .unwrap_or_default()
            .to_vec();
        extra.resize(EXTRA_VANITY, 0);
        if checkpoint {
            for s in snap.signers_sorted() {
                extra.extend_from_slice(&s.0);
            }
        }
        extra.resize(extra.len() + self.config.suite.signature_len(), 0);
        header.extra = extra;
    }

    /// Writes the seal into a prepared header.
    pub fn seal(&self, header: &mut Header, key: &SecretKey) -> Result<(), CliqueError> {
        let suite = self.config.suite;
        if key.suite() != suite {
            return Err(CliqueError::InvalidSeal(format!(
                "a {} key cannot seal a {suite} chain",
                key.suite()
            )));
        }
        let seal_hash = header
            .seal_hash(suite)
            .ok_or(CliqueError::MissingSignature(suite.signature_len()))?;
        let signature = key
            .sign_hash(&seal_hash)
            .map_err(|e| CliqueError::InvalidSeal(e.to_string()))?;
        let cut = header.extra.len() - suite.signature_len();
        header.extra[cut..].copy_from_slice(signature.as_bytes());
        Ok(())
    }
}

/// How long an out-of-turn signer waits before sealing, so the in-turn signer's block usually
/// arrives first: EIP-225's rand(N · 500 ms), with the randomness passed in. In-turn: none.
pub fn out_of_turn_wait(in_turn: bool, signer_count: usize, random: u64) -> Duration {
    if in_turn || signer_count == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(random % (signer_count as u64 * 500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_turn_wait_stays_below_n_times_half_a_second() {
        assert_eq!(out_of_turn_wait(true, 5, 12345), Duration::ZERO);
        for random in [0, 1, 2_499, 2_500, u64::MAX] {
            let wait = out_of_turn_wait(false, 5, random);
            assert!(wait < Duration::from_millis(2_500), "{wait:?}");
        }
        assert_eq!(out_of_turn_wait(false, 5, 2_501), Duration::from_millis(1));
    }
}
