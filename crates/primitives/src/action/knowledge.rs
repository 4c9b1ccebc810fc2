//! The knowledge domain's actions (types 0x60–0x6f): roles the parameters authority grants
//! (curators of checked knowledge, BMCI contributors), and BMCI's algorithms — programs by
//! CID whose verified runs on a material become computed properties of it.

use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

use super::UNKNOWN;
use crate::{Address, compute::Bytes};

/// Registers curated knowledge bases.
pub const ROLE_CURATOR: u8 = 1;
/// Registers BMCI algorithms and cases.
pub const ROLE_BMCI: u8 = 2;
/// Role names by number (0 is none). Consensus reads its length (a role past it is
/// `unknown-role`): a new role is a new chain rule, to be introduced with the chain's upgrade.
pub const ROLES: [&str; 3] = ["", "curator", "bmci"];

/// One property an algorithm computes: a key of its output JSON, a QUDT unit (its local
/// name, `GM-PER-CentiM3`; empty for a number without one) and what it means.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AlgorithmProperty {
    pub name: String,
    pub unit: String,
    pub description: String,
}

/// A BMCI algorithm: how to run it on one material, and what it gives. A run is a task with
/// this program, executor, arguments and software, the material's `structure.json` and
/// `structure.xyz` as inputs, and a comparator on `output` — a JSON object of one number per
/// property, so the values replicas agreed on are on chain in the properties' (sorted) order.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AlgorithmSpec {
    pub name: String,
    pub description: String,
    /// Binary CID of the program (a Wasm module; or a file a native command runs).
    pub program: Bytes,
    /// An index into `compute::EXECUTORS`.
    pub executor: u8,
    /// A Wasm program's arguments, or a native task's whole command.
    pub args: Vec<String>,
    /// Software a native run needs (sorted), as a task names it.
    pub software: Vec<String>,
    /// The output file the properties are read from.
    pub output: String,
    /// Sorted by name, distinct.
    pub properties: Vec<AlgorithmProperty>,
    /// The most fuel (Wasm) or wall seconds (native) one run may take.
    pub fuel: u64,
    pub walltime: u64,
    /// The widest tolerances (IEEE-754 bits of finite, non-negative numbers) a run's replicas
    /// may be compared under: a run compared more loosely is no run of this algorithm.
    pub rtol: u64,
    pub atol: u64,
}

/// The fewest replicas that must agree for a run to count.
pub const MIN_RUN_REPLICAS: u64 = 2;

/// Checked statements from a curator.
pub const KB_CURATED: u8 = 0;
/// Machine-extracted statements (each with a confidence) from a named source.
pub const KB_EXTRACTED: u8 = 1;
/// Knowledge base kinds by number.
pub const KB_KINDS: [&str; 2] = ["curated", "extracted"];

/// A knowledge base: an N-Quads (or N-Triples) file registered as public research data, which
/// every node's graph loads into a named graph of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct KnowledgeBaseSpec {
    /// [`KB_CURATED`] (needs the curator role) or [`KB_EXTRACTED`].
    pub kind: u8,
    pub name: String,
    pub description: String,
    /// Binary CID of the file: registered data, not encrypted.
    pub content: Bytes,
    /// What the statements were checked against or extracted from (a DOI, `ipfs://CID`, a
    /// URL); an extracted base names one.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnowledgeAction {
    /// `0x60 [account, role, granted]`: the parameters authority grants or revokes a role.
    GrantRole {
        account: Address,
        role: u8,
        granted: bool,
    },
    /// `0x61 [spec]`: a holder of the `bmci` role registers an algorithm under
    /// `H(owner ‖ spec)`.
    RegisterAlgorithm { spec: AlgorithmSpec },
    /// `0x62 [algorithm]`: its owner or the parameters authority retires an algorithm: jobs
    /// submitted from the next block on are no runs of it (earlier runs stand).
    RetireAlgorithm { algorithm: crate::Hash },
    /// `0x63 [base]`: registers a knowledge base under `H(kind ‖ content)`.
    RegisterKnowledgeBase { base: KnowledgeBaseSpec },
}

impl KnowledgeAction {
    pub const GRANT_ROLE: u8 = 0x60;
    pub const REGISTER_ALGORITHM: u8 = 0x61;
    pub const RETIRE_ALGORITHM: u8 = 0x62;
    pub const REGISTER_KNOWLEDGE_BASE: u8 = 0x63;

    pub fn type_byte(&self) -> u8 {
        match self {
            KnowledgeAction::GrantRole { .. } => Self::GRANT_ROLE,
            KnowledgeAction::RegisterAlgorithm { .. } => Self::REGISTER_ALGORITHM,
            KnowledgeAction::RetireAlgorithm { .. } => Self::RETIRE_ALGORITHM,
            KnowledgeAction::RegisterKnowledgeBase { .. } => Self::REGISTER_KNOWLEDGE_BASE,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            KnowledgeAction::GrantRole { .. } => "grantRole",
            KnowledgeAction::RegisterAlgorithm { .. } => "registerAlgorithm",
            KnowledgeAction::RetireAlgorithm { .. } => "retireAlgorithm",
            KnowledgeAction::RegisterKnowledgeBase { .. } => "registerKnowledgeBase",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            KnowledgeAction::GrantRole {
                account,
                role,
                granted,
            } => {
                account.0.encode(p);
                role.encode(p);
                granted.encode(p);
            }
            KnowledgeAction::RegisterAlgorithm { spec } => spec.encode(p),
            KnowledgeAction::RetireAlgorithm { algorithm } => algorithm.encode(p),
            KnowledgeAction::RegisterKnowledgeBase { base } => base.encode(p),
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            Self::GRANT_ROLE => KnowledgeAction::GrantRole {
                account: Address(Decodable::decode(p)?),
                role: u8::decode(p)?,
                granted: bool::decode(p)?,
            },
            Self::REGISTER_ALGORITHM => KnowledgeAction::RegisterAlgorithm {
                spec: AlgorithmSpec::decode(p)?,
            },
            Self::RETIRE_ALGORITHM => KnowledgeAction::RetireAlgorithm {
                algorithm: Decodable::decode(p)?,
            },
            Self::REGISTER_KNOWLEDGE_BASE => KnowledgeAction::RegisterKnowledgeBase {
                base: KnowledgeBaseSpec::decode(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}
