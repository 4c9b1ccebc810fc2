//! The zk domain's records and events.

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    Hash,
    rlp::{decode_bytes as bytes, decode_text as text, finish_list as done, list},
};

use crate::{
    Record, StateKey,
    domains::open,
    events::{DomainEvent, UNKNOWN, address},
};

/// A registered circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Circuit {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub engine: u8,
    /// The verifying key's canonical bytes (checked at registration).
    pub vk: Vec<u8>,
    pub name: String,
    pub inputs: Vec<String>,
    pub source: Vec<u8>,
    pub r1cs: Vec<u8>,
    pub zkey: Vec<u8>,
    /// circom's witness generator, which a zk task's provider runs.
    pub wasm: Vec<u8>,
}

impl Record for Circuit {
    const WHAT: &'static str = "circuit";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Circuit(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.engine.encode(&mut p);
        self.vk.as_slice().encode(&mut p);
        self.name.as_bytes().encode(&mut p);
        self.inputs.encode(&mut p);
        self.source.as_slice().encode(&mut p);
        self.r1cs.as_slice().encode(&mut p);
        self.zkey.as_slice().encode(&mut p);
        self.wasm.as_slice().encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Circuit {
            owner: Address(Decodable::decode(&mut p)?),
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            engine: u8::decode(&mut p)?,
            vk: bytes(&mut p)?,
            name: text(&mut p)?,
            inputs: Decodable::decode(&mut p)?,
            source: bytes(&mut p)?,
            r1cs: bytes(&mut p)?,
            zkey: bytes(&mut p)?,
            wasm: bytes(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// A proven statement: who proved it first, when, in which transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub circuit: Hash,
    pub prover: Address,
    pub block: u64,
    pub time: u64,
    pub tx: Hash,
}

impl Record for Statement {
    const WHAT: &'static str = "proven statement";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Statement(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.circuit.encode(&mut p);
        self.prover.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.tx.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Statement {
            circuit: Decodable::decode(&mut p)?,
            prover: address(&mut p)?,
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            tx: Decodable::decode(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// Where the statement (circuit, inputs) is recorded.
pub fn statement_id(suite: Suite, circuit: &Hash, inputs: &[[u8; 32]]) -> Hash {
    let mut b = circuit.to_vec();
    for x in inputs {
        b.extend_from_slice(x);
    }
    suite.hash(&b)
}

/// The zk domain's events (types 0x50–0x5f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkEvent {
    /// `0x50 [circuit, owner]`
    CircuitRegistered { circuit: Hash, owner: Address },
    /// `0x51 [circuit, statement, prover]`
    ProofVerified {
        circuit: Hash,
        statement: Hash,
        prover: Address,
    },
}

impl DomainEvent for ZkEvent {
    const KINDS: &'static [(u8, &'static str)] =
        &[(0x50, "circuitRegistered"), (0x51, "proofVerified")];

    fn type_byte(&self) -> u8 {
        match self {
            ZkEvent::CircuitRegistered { .. } => 0x50,
            ZkEvent::ProofVerified { .. } => 0x51,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            ZkEvent::CircuitRegistered { owner, .. } => vec![*owner],
            ZkEvent::ProofVerified { prover, .. } => vec![*prover],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ZkEvent::CircuitRegistered { circuit, owner } => {
                circuit.encode(p);
                owner.0.encode(p);
            }
            ZkEvent::ProofVerified {
                circuit,
                statement,
                prover,
            } => {
                circuit.encode(p);
                statement.encode(p);
                prover.0.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            0x50 => ZkEvent::CircuitRegistered {
                circuit: Decodable::decode(p)?,
                owner: address(p)?,
            },
            0x51 => ZkEvent::ProofVerified {
                circuit: Decodable::decode(p)?,
                statement: Decodable::decode(p)?,
                prover: address(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}
