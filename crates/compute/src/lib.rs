//! # metamesh-compute
//!
//! The provider's side of the computing network: executors that run a task's program on its
//! inputs (Wasm under wasmi, native processes in a sandbox, Slurm batch jobs), the inventory file a provider registers, and the provider
//! agent that follows assignments on chain, runs them, and commits and reveals the results.
//! It decides no placement and no payment: the chain does.

pub mod agent;
pub mod cgroups;
pub mod detect;
pub mod executor;
pub mod inventory;
pub mod jobfile;
pub mod process;
pub mod sandbox;
pub mod slurm;
pub mod wasi;

pub use agent::{Agent, Port, Step};
pub use executor::{Limits, Run, run_wasm};
pub use process::{Native, ProcessTask, Software};
