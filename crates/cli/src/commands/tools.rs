//! `metamesh tools …`: debugging and interop helpers.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context as _, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use metamesh_consensus::replay::{Outcome, ScenarioFile, replay};
use metamesh_crypto::Suite;
use metamesh_trie::{H256, Keccak256, MemoryStore, SecureTrie, Sm3, Trie, TrieHasher};
use serde::Serialize;

use super::read_input;
use crate::Context;

#[derive(Subcommand, Debug)]
pub enum ToolsCommand {
    /// Root of a Merkle Patricia Trie holding the pairs of a JSON object {"0x…key": "0x…value"}.
    TrieRoot {
        /// Hash of the trie: sm3 (sm suite) or keccak (eth suite, Ethereum's tries).
        #[arg(long, value_enum)]
        hash: TrieHash,
        /// Hash keys before inserting them (Ethereum's secure trie, as world state uses).
        #[arg(long)]
        secure: bool,
        /// The JSON file; `-` reads standard input.
        file: PathBuf,
    },

    /// The Merkle proof of one key in the trie of a JSON object {"0x…key": "0x…value"}, as JSON
    /// `{root, key, trieKey, value, proof}` (a `null` value proves absence).
    TrieProof {
        #[arg(long, value_enum)]
        hash: TrieHash,
        #[arg(long)]
        secure: bool,
        /// The JSON file of pairs; `-` reads standard input.
        file: PathBuf,
        /// The key to prove, 0x-hex.
        key: String,
    },
    /// Replay Clique voting scenarios (the shared scenario format) and check their outcomes.
    CliqueReplay {
        /// The scenario file; `-` reads standard input.
        file: PathBuf,
        /// Crypto suite of the generated keys and seals.
        #[arg(long, default_value = "sm")]
        suite: Suite,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TrieHash {
    Sm3,
    Keccak,
}

#[derive(Serialize)]
struct RootView {
    root: String,
    hash: &'static str,
    secure: bool,
    entries: usize,
}

pub fn run(ctx: &Context, cmd: ToolsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ToolsCommand::TrieRoot { hash, secure, file } => {
            let pairs = read_pairs(&file)?;
            let (root, name) = match hash {
                TrieHash::Sm3 => (trie_root::<Sm3>(&pairs, secure)?, Sm3::NAME),
                TrieHash::Keccak => (trie_root::<Keccak256>(&pairs, secure)?, Keccak256::NAME),
            };
            let view = RootView {
                root: format!("0x{}", hex::encode(root)),
                hash: name,
                secure,
                entries: pairs.len(),
            };
            ctx.out.emit(&view, || view.root.clone());
            Ok(ExitCode::SUCCESS)
        }
        ToolsCommand::TrieProof {
            hash,
            secure,
            file,
            key,
        } => {
            let pairs = read_pairs(&file)?;
            let key = unhex("key", &key)?;
            let view = match hash {
                TrieHash::Sm3 => trie_proof::<Sm3>(&pairs, secure, &key)?,
                TrieHash::Keccak => trie_proof::<Keccak256>(&pairs, secure, &key)?,
            };
            ctx.out
                .emit(&view, || serde_json::to_string_pretty(&view).expect("json"));
            Ok(ExitCode::SUCCESS)
        }
        ToolsCommand::CliqueReplay { file, suite } => clique_replay(ctx, &file, suite),
    }
}

/// Prints each scenario's outcome; exit 1 if any differs from its `expect`.
fn clique_replay(ctx: &Context, file: &std::path::Path, suite: Suite) -> anyhow::Result<ExitCode> {
    let bytes = read_input(file)?;
    let scenarios: ScenarioFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a Clique scenario file", file.display()))?;
    let mut outcomes = Vec::new();
    let mut lines = Vec::new();
    let mut failed = 0;
    for scenario in &scenarios.scenarios {
        let outcome = replay(scenario, suite);
        let ok = outcome.matches(&scenario.expect);
        failed += usize::from(!ok);
        let shown = match &outcome {
            Outcome::Signers { signers, .. } => signers.join(","),
            Outcome::Error { error, .. } => format!("error: {error}"),
        };
        let mark = if ok { "" } else { "   <- differs from expect" };
        lines.push(format!("{:>3}  {shown}{mark}", scenario.id));
        outcomes.push(outcome);
    }
    ctx.out.emit(&outcomes, || {
        lines.push(format!(
            "{} scenarios, {} as expected, {failed} not ({suite} suite)",
            scenarios.scenarios.len(),
            scenarios.scenarios.len() - failed
        ));
        lines.join("\n")
    });
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn unhex(what: &str, s: &str) -> anyhow::Result<Vec<u8>> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| anyhow!("{what} `{s}` must be 0x-prefixed hex"))?;
    hex::decode(digits).map_err(|e| anyhow!("{what} `{s}` is not hex: {e}"))
}

/// Reads `{"0x…": "0x…"}`; every key and value must be 0x-prefixed hex.
fn read_pairs(file: &std::path::Path) -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let bytes = read_input(file)?;
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", file.display()))?;
    let Some(object) = json.as_object() else {
        bail!(
            "{} must hold a JSON object of \"0x…key\": \"0x…value\" pairs",
            file.display()
        );
    };
    object
        .iter()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .ok_or_else(|| anyhow!("the value of key `{k}` must be a 0x-hex string"))?;
            Ok((unhex("key", k)?, unhex("value", value)?))
        })
        .collect()
}

/// Builds and commits the trie of `pairs` in a memory store.
fn build_trie<H: TrieHasher>(
    pairs: &[(Vec<u8>, Vec<u8>)],
    secure: bool,
) -> anyhow::Result<(MemoryStore, H256)> {
    let store = MemoryStore::new();
    let commit = if secure {
        let mut trie = SecureTrie::<H, _>::new(&store);
        for (k, v) in pairs {
            trie.insert(k, v)?;
        }
        trie.commit()
    } else {
        let mut trie = Trie::<H, _>::new(&store);
        for (k, v) in pairs {
            trie.insert(k, v)?;
        }
        trie.commit()
    };
    let root = store.apply_owned(commit);
    Ok((store, root))
}

fn trie_root<H: TrieHasher>(pairs: &[(Vec<u8>, Vec<u8>)], secure: bool) -> anyhow::Result<H256> {
    Ok(build_trie::<H>(pairs, secure)?.1)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProofView {
    root: String,
    key: String,
    trie_key: String,
    value: Option<String>,
    proof: Vec<String>,
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn trie_proof<H: TrieHasher>(
    pairs: &[(Vec<u8>, Vec<u8>)],
    secure: bool,
    key: &[u8],
) -> anyhow::Result<ProofView> {
    let (store, root) = build_trie::<H>(pairs, secure)?;
    let path = if secure {
        H::hash(key).to_vec()
    } else {
        key.to_vec()
    };
    let trie = Trie::<H, _>::open(&store, root);
    let value = trie.get(&path)?;
    Ok(ProofView {
        root: hex0x(&root),
        key: hex0x(key),
        trie_key: hex0x(&path),
        value: value.as_deref().map(hex0x),
        proof: trie.prove(&path)?.iter().map(|n| hex0x(n)).collect(),
    })
}
