//! Groth16 zero-knowledge proofs for MetaMesh: two engines (BN254 and BLS12-381) behind one
//! verifier, snarkjs's JSON and circom's and snarkjs's binary files read strictly, batch
//! verification, and a prover for snarkjs proving keys.

pub mod binfile;
pub mod curve;
pub mod fft;
pub mod field;
pub mod groth16;
pub mod prove;
pub mod r1cs;
pub mod setup;
pub mod snarkjs;
pub mod verify;
#[cfg(feature = "witness")]
pub mod witness;
pub mod wtns;
pub mod zkey;

pub use curve::{Curve, Engine};
pub use groth16::{Proof, VerifyingKey};
pub use verify::Prepared;

/// Why a file or a proof was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The input is not well formed: the message names the file, the field and the rule.
    #[error("{0}")]
    Malformed(String),
    /// A witness's input does not fit its circuit: a signal unknown, missing or out of range,
    /// or one of the circuit's assertions failed. The circuit's files are fine; the input is
    /// not (whoever wrote it is at fault, not whoever runs the circuit).
    #[error("{0}")]
    Input(String),
}

impl Error {
    pub fn malformed(msg: impl Into<String>) -> Error {
        Error::Malformed(msg.into())
    }

    pub fn input(msg: impl Into<String>) -> Error {
        Error::Input(msg.into())
    }
}
