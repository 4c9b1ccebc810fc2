//! The zero-knowledge domain's actions (types 0x50–0x5f): circuits registered by their
//! verifying keys, and Groth16 proofs checked by the chain.
//!
//! Public inputs travel as 32-byte big-endian integers (both engines' scalar fields are below
//! 2^256); the chain refuses one that is not below the field modulus rather than reduce it.

use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

use super::UNKNOWN;
use crate::Hash;

/// What `RegisterCircuit` stores besides the key: a name, what each public input means, and
/// where the circuit's source, constraint system, proving key and witness generator (circom's
/// `.wasm`) can be fetched (binary CIDs, each optional; a zk task's provider needs the last
/// two).
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CircuitSpec {
    /// 1 = BN254 (snarkjs `bn128`), 2 = BLS12-381 (`bls12381`).
    pub engine: u8,
    /// The verifying key in its canonical encoding (`metamesh-zk`'s
    /// `VerifyingKey::canonical_bytes`); the circuit id is the suite hash of these bytes.
    pub vk: Vec<u8>,
    pub name: String,
    /// One name per public input, in order (`commitment`, `sum`, …).
    pub inputs: Vec<String>,
    pub source: Vec<u8>,
    pub r1cs: Vec<u8>,
    pub zkey: Vec<u8>,
    pub wasm: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkAction {
    /// `0x50 [spec]`: registers a circuit under `H(vk)`. Anyone may; the first wins.
    RegisterCircuit { spec: CircuitSpec },
    /// `0x51 [circuit, proof, inputs]`: the chain verifies `proof` (A, B, C compressed) of the
    /// statement (circuit, inputs) and records the statement as proven. The statement, never
    /// the proof bytes, is the identity: proofs are malleable.
    VerifyProof {
        circuit: Hash,
        proof: Vec<u8>,
        inputs: Vec<[u8; 32]>,
    },
}

impl ZkAction {
    pub const REGISTER_CIRCUIT: u8 = 0x50;
    pub const VERIFY_PROOF: u8 = 0x51;

    pub fn type_byte(&self) -> u8 {
        match self {
            ZkAction::RegisterCircuit { .. } => Self::REGISTER_CIRCUIT,
            ZkAction::VerifyProof { .. } => Self::VERIFY_PROOF,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ZkAction::RegisterCircuit { .. } => "registerCircuit",
            ZkAction::VerifyProof { .. } => "verifyProof",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ZkAction::RegisterCircuit { spec } => spec.encode(p),
            ZkAction::VerifyProof {
                circuit,
                proof,
                inputs,
            } => {
                circuit.encode(p);
                proof.as_slice().encode(p);
                inputs.encode(p);
            }
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            Self::REGISTER_CIRCUIT => ZkAction::RegisterCircuit {
                spec: CircuitSpec::decode(p)?,
            },
            Self::VERIFY_PROOF => ZkAction::VerifyProof {
                circuit: Decodable::decode(p)?,
                proof: crate::rlp::decode_bytes(p)?,
                inputs: Decodable::decode(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}
