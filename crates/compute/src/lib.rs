//! # metamesh-compute
//!
//! The provider's side of the computing network: executors that run a task's program on its
//! inputs (Wasm under wasmi today), the inventory file a provider registers, and the provider
//! agent that follows assignments on chain, runs them, and commits and reveals the results.
//! It decides no placement and no payment: the chain does.

pub mod agent;
pub mod executor;
pub mod inventory;
pub mod wasi;

pub use agent::{Agent, Port, Step};
pub use executor::{Limits, Run, run_wasm};
