//! The voting state at a block: who may sign, who signed recently, and the votes in flight.
//! Applying headers to a snapshot is a pure function; it is the heart of Clique.

use std::collections::{BTreeMap, BTreeSet};

use metamesh_crypto::{Address, Signature, Suite};
use metamesh_primitives::{
    Hash, Header,
    header::{NONCE_AUTH, NONCE_DROP},
};
use serde::{Deserialize, Serialize};

use crate::CliqueError;

/// One signer's vote on one address, kept until it passes, is replaced, or an epoch ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub signer: Address,
    pub block: u64,
    pub address: Address,
    pub authorize: bool,
}

/// The running count of votes on one address (all in the same direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub authorize: bool,
    pub votes: u64,
}

/// Signers and votes as of block `number` (hash `hash`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub number: u64,
    #[serde(with = "hex_hash")]
    pub hash: Hash,
    pub signers: BTreeSet<Address>,
    /// Block number → who sealed it, for the last ⌊N/2⌋+1 blocks.
    pub recents: BTreeMap<u64, Address>,
    pub votes: Vec<Vote>,
    pub tally: BTreeMap<Address, Tally>,
}

mod hex_hash {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(hash)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim_start_matches("0x"), &mut out)
            .map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

/// Who sealed `header`: the signature at the end of `extra` over the seal hash.
pub fn recover_signer(header: &Header, suite: Suite) -> Result<Address, CliqueError> {
    let seal_len = suite.signature_len();
    let (Some(seal_hash), Some(seal)) = (header.seal_hash(suite), header.seal(suite)) else {
        return Err(CliqueError::MissingSignature(seal_len));
    };
    let signature =
        Signature::from_bytes(suite, seal).map_err(|e| CliqueError::InvalidSeal(e.to_string()))?;
    let signer = signature
        .recover_hash_signer(&seal_hash)
        .map_err(|e| CliqueError::InvalidSeal(e.to_string()))?;
    Ok(signer.address())
}

impl Snapshot {
    /// The snapshot at a genesis or trusted checkpoint header. An empty set is refused: no one
    /// could ever seal again.
    pub fn new(
        number: u64,
        hash: Hash,
        signers: impl IntoIterator<Item = Address>,
    ) -> Result<Self, CliqueError> {
        let signers: BTreeSet<Address> = signers.into_iter().collect();
        if signers.is_empty() {
            return Err(CliqueError::EmptySignerSet);
        }
        Ok(Snapshot {
            number,
            hash,
            signers,
            recents: BTreeMap::new(),
            votes: Vec::new(),
            tally: BTreeMap::new(),
        })
    }

    /// A signer may seal one block in any `limit()` consecutive blocks.
    pub fn limit(&self) -> u64 {
        self.signers.len() as u64 / 2 + 1
    }

    /// Signers in ascending address order (the order of the checkpoint list and of turns).
    pub fn signers_sorted(&self) -> Vec<Address> {
        self.signers.iter().copied().collect()
    }

    /// Is it `signer`'s turn at block `number`?
    pub fn in_turn(&self, number: u64, signer: &Address) -> bool {
        self.turn_distance(number, signer) == Some(0)
    }

    /// How many blocks ago `signer` was last in turn, as of block `number` (0: in turn now).
    /// EIP-3436 prefers, among equal chains, the one sealed by the signer least recently in turn.
    pub fn turn_distance(&self, number: u64, signer: &Address) -> Option<u64> {
        let n = self.signers.len() as u64;
        let index = self.signers.iter().position(|s| s == signer)? as u64;
        Some((number % n + n - index) % n)
    }

    /// True if `signer` sealed one of the last `limit() - 1` blocks before `number`.
    pub fn recently_signed(&self, number: u64, signer: &Address) -> bool {
        let limit = self.limit();
        self.recents
            .iter()
            .any(|(seen, recent)| recent == signer && (number < limit || *seen > number - limit))
    }

    /// A vote makes sense only to add a non-signer or drop a signer.
    pub fn valid_vote(&self, address: &Address, authorize: bool) -> bool {
        self.signers.contains(address) != authorize
    }

    fn cast(&mut self, address: Address, authorize: bool) -> bool {
        if !self.valid_vote(&address, authorize) {
            return false;
        }
        self.tally
            .entry(address)
            .and_modify(|t| t.votes += 1)
            .or_insert(Tally {
                authorize,
                votes: 1,
            });
        true
    }

    fn uncast(&mut self, address: &Address, authorize: bool) {
        if let Some(tally) = self.tally.get_mut(address)
            && tally.authorize == authorize
        {
            if tally.votes > 1 {
                tally.votes -= 1;
            } else {
                self.tally.remove(address);
            }
        }
    }

    /// Applies a contiguous run of headers that starts right after this snapshot.
    pub fn apply(
        &self,
        headers: &[Header],
        suite: Suite,
        epoch: u64,
    ) -> Result<Snapshot, CliqueError> {
        if epoch == 0 {
            return Err(CliqueError::ZeroEpoch);
        }
        let Some(last) = headers.last() else {
            return Ok(self.clone());
        };
        for pair in headers.windows(2) {
            if pair[1].number != pair[0].number + 1 {
                return Err(CliqueError::InvalidVotingChain);
            }
        }
        if headers[0].number != self.number + 1 {
            return Err(CliqueError::InvalidVotingChain);
        }
        let mut snap = self.clone();
        for header in headers {
            snap.apply_one(header, suite, epoch)?;
        }
        snap.number = last.number;
        snap.hash = last.hash(suite);
        Ok(snap)
    }

    fn apply_one(&mut self, header: &Header, suite: Suite, epoch: u64) -> Result<(), CliqueError> {
        let number = header.number;
        if number.is_multiple_of(epoch) {
            self.votes.clear();
            self.tally.clear();
        }
        let limit = self.limit();
        if number >= limit {
            self.recents.remove(&(number - limit));
        }
        let signer = recover_signer(header, suite)?;
        if !self.signers.contains(&signer) {
            return Err(CliqueError::UnauthorizedSigner);
        }
        if self.recents.values().any(|r| *r == signer) {
            return Err(CliqueError::RecentlySigned);
        }
        self.recents.insert(number, signer);

        // A signer's new vote on an address replaces its old one.
        if let Some(i) = self
            .votes
            .iter()
            .position(|v| v.signer == signer && v.address == header.coinbase)
        {
            let old = self.votes.remove(i);
            self.uncast(&old.address, old.authorize);
        }
        let authorize = match header.nonce {
            NONCE_AUTH => true,
            NONCE_DROP => false,
            _ => return Err(CliqueError::InvalidVote),
        };
        if self.cast(header.coinbase, authorize) {
            self.votes.push(Vote {
                signer,
                block: number,
                address: header.coinbase,
                authorize,
            });
        }
        self.enact(header.coinbase, number);
        Ok(())
    }

    /// If the votes on `target` now exceed half of the signers, change the set.
    fn enact(&mut self, target: Address, number: u64) {
        let Some(tally) = self.tally.get(&target).copied() else {
            return;
        };
        if tally.votes <= self.signers.len() as u64 / 2 {
            return;
        }
        if tally.authorize {
            self.signers.insert(target);
        } else if self.signers.len() > 1 {
            self.signers.remove(&target);
            // The set shrank: the recents window shrinks with it.
            let limit = self.limit();
            if number >= limit {
                self.recents.remove(&(number - limit));
            }
            // The leaving signer's own votes go with it.
            let (gone, kept): (Vec<Vote>, Vec<Vote>) =
                self.votes.drain(..).partition(|v| v.signer == target);
            self.votes = kept;
            for v in gone {
                self.uncast(&v.address, v.authorize);
            }
        }
        // Hardened: a drop that would empty the set never passes; it is discarded like a passed one.
        self.votes.retain(|v| v.address != target);
        self.tally.remove(&target);
    }

    /// JSON, the form snapshots are stored in.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("snapshots serialise")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, CliqueError> {
        serde_json::from_slice(bytes).map_err(|e| CliqueError::CorruptSnapshot(e.to_string()))
    }
}
