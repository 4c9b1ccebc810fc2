//! Replaying voting scenarios (`metamesh tools clique-replay`): the format of
//! `shared/vectors/clique_scenarios_format.json`, where letters name generated keys.
//!
//! Each scenario builds a real chain: a genesis with the initial signers, then one sealed
//! header per block (period 1, increasing timestamps, the difficulty each signer's turn
//! implies), imported through full header verification in the batches the scenario asks for.
//! Between batches the engine forgets its cached snapshots, as a restart would.

use std::collections::BTreeMap;

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_primitives::Header;
use serde::{Deserialize, Serialize};

use crate::{
    Clique, CliqueConfig, CliqueError, Snapshot, checkpoint_extra,
    memory::{MemoryChain, MemorySnapshots},
};

/// A file of scenarios.
#[derive(Clone, Debug, Deserialize)]
pub struct ScenarioFile {
    pub scenarios: Vec<Scenario>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Scenario {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub epoch: Option<u64>,
    pub initial_signers: Vec<String>,
    pub blocks: Vec<ScenarioBlock>,
    pub expect: Expect,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ScenarioBlock {
    pub signer: String,
    #[serde(default)]
    pub voted: Option<String>,
    #[serde(default)]
    pub auth: bool,
    #[serde(default)]
    pub checkpoint: Option<Vec<String>>,
    #[serde(default)]
    pub new_batch: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    Signers { signers: Vec<String> },
    Error { error: String, message: String },
}

/// What replaying a scenario produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// The signer set after the last block, as sorted letters.
    Signers { id: u64, signers: Vec<String> },
    /// The error that stopped the import.
    Error { id: u64, error: String },
}

impl Outcome {
    /// Does this outcome match the scenario's expectation (signers as a set, errors by message)?
    pub fn matches(&self, expect: &Expect) -> bool {
        match (self, expect) {
            (Outcome::Signers { signers, .. }, Expect::Signers { signers: want }) => {
                let mut want = want.clone();
                want.sort();
                *signers == want
            }
            (Outcome::Error { error, .. }, Expect::Error { message, .. }) => error == message,
            _ => false,
        }
    }
}

/// The key a letter names: fixed per suite and letter, so replays are reproducible.
pub fn letter_key(suite: Suite, letter: &str) -> SecretKey {
    let seed = suite.hash(format!("metamesh clique-replay key {letter}").as_bytes());
    SecretKey::from_bytes(suite, &seed).expect("a hash is a valid scalar but with negligible odds")
}

struct Keys {
    suite: Suite,
    by_letter: BTreeMap<String, SecretKey>,
}

impl Keys {
    fn key(&mut self, letter: &str) -> &SecretKey {
        let suite = self.suite;
        self.by_letter
            .entry(letter.to_owned())
            .or_insert_with(|| letter_key(suite, letter))
    }

    fn address(&mut self, letter: &str) -> Address {
        self.key(letter).public_key().address()
    }

    fn letter_of(&self, address: &Address) -> String {
        self.by_letter
            .iter()
            .find(|(_, k)| k.public_key().address() == *address)
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| address.to_string())
    }

    fn sorted_addresses(&mut self, letters: &[String]) -> Vec<Address> {
        let mut out: Vec<Address> = letters.iter().map(|l| self.address(l)).collect();
        out.sort();
        out
    }
}

/// Replays one scenario in `suite`.
pub fn replay(scenario: &Scenario, suite: Suite) -> Outcome {
    let id = scenario.id;
    match run(scenario, suite) {
        Ok(signers) => Outcome::Signers { id, signers },
        Err(e) => Outcome::Error {
            id,
            error: e.to_string(),
        },
    }
}

fn run(scenario: &Scenario, suite: Suite) -> Result<Vec<String>, CliqueError> {
    let config = CliqueConfig {
        period: 1,
        epoch: scenario.epoch.unwrap_or(CliqueConfig::DEFAULT_EPOCH),
        suite,
    };
    let mut engine = Clique::new(config)?;
    let mut keys = Keys {
        suite,
        by_letter: BTreeMap::new(),
    };
    let initial = keys.sorted_addresses(&scenario.initial_signers);
    let genesis = Header {
        extra: checkpoint_extra(&[], &initial, suite),
        ..Header::default()
    };
    let mut chain = MemoryChain::default();
    let mut store = MemorySnapshots::default();
    let genesis_hash = chain.insert(genesis.clone(), suite);

    // Build every header first (as the original test does), tracking the expected snapshot
    // only to choose each block's difficulty; once that fails, later difficulties are moot.
    let mut headers = Vec::new();
    let mut builder: Option<Snapshot> =
        Some(engine.snapshot(&chain, &mut store, 0, genesis_hash, &[])?);
    let mut parent = genesis;
    for (i, block) in scenario.blocks.iter().enumerate() {
        let number = i as u64 + 1;
        let signer = keys.address(&block.signer);
        let vote = block.voted.as_ref().map(|v| (keys.address(v), block.auth));
        let mut header = Header {
            parent_hash: parent.hash(suite),
            number,
            timestamp: parent.timestamp + config.period,
            ..Header::default()
        };
        match &builder {
            Some(snap) => engine.prepare(snap, &mut header, &signer, vote),
            None => engine.prepare(
                &Snapshot::new(0, [0; 32], [signer])?,
                &mut header,
                &signer,
                vote,
            ),
        }
        if number.is_multiple_of(config.epoch) {
            // The scenario states the checkpoint list it expects; write exactly that.
            let listed = keys.sorted_addresses(block.checkpoint.as_deref().unwrap_or_default());
            header.extra = checkpoint_extra(&[], &listed, suite);
        }
        if builder
            .as_ref()
            .is_some_and(|s| !s.in_turn(number, &signer))
            || builder.is_none()
        {
            header.difficulty = metamesh_primitives::header::DIFF_NO_TURN;
        }
        engine.seal(&mut header, keys.key(&block.signer))?;
        builder = builder.and_then(|s| {
            s.apply(std::slice::from_ref(&header), suite, config.epoch)
                .ok()
        });
        parent = header.clone();
        headers.push(header);
    }

    // Import in batches, each header fully verified.
    let mut start = 0;
    while start < headers.len() {
        let end = (start + 1..headers.len())
            .find(|&i| scenario.blocks[i].new_batch)
            .unwrap_or(headers.len());
        let batch = &headers[start..end];
        for (i, header) in batch.iter().enumerate() {
            engine.verify_header(&chain, &mut store, header, &batch[..i], u64::MAX)?;
        }
        for header in batch {
            chain.insert(header.clone(), suite);
        }
        engine.clear_cache();
        start = end;
    }
    let head = headers.last().cloned().unwrap_or_else(|| parent.clone());
    let snap = engine.snapshot(&chain, &mut store, head.number, head.hash(suite), &[])?;
    let mut letters: Vec<String> = snap.signers.iter().map(|a| keys.letter_of(a)).collect();
    letters.sort();
    Ok(letters)
}
