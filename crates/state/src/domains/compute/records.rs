//! The computing network's records. Each is one RLP list of its fields in declaration order
//! (derived), under its own key tag:
//!
//! ```text
//! 0x40 ‖ address        Provider        0x42 ‖ job ‖ index (8)   Task
//! 0x41 ‖ job id         Job             0x43 ‖ job ‖ index (8)   ComputeResult (evidence)
//! ```

use alloy_rlp::{RlpDecodable, RlpEncodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Amount, Hash,
    compute::{Bytes, Inventory, JobSpec, Output, RunResult},
};

use crate::{Record, StateKey};

macro_rules! derived_record {
    ($ty:ty, $what:literal, $id:ty, $key:expr) => {
        impl Record for $ty {
            const WHAT: &'static str = $what;
            type Id = $id;

            fn key(id: &$id) -> StateKey {
                $key(id)
            }

            fn encode(&self) -> Vec<u8> {
                alloy_rlp::encode(self)
            }

            fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
                let mut buf = raw;
                let v = <$ty as alloy_rlp::Decodable>::decode(&mut buf)?;
                if !buf.is_empty() {
                    return Err(alloy_rlp::Error::UnexpectedLength);
                }
                Ok(v)
            }
        }
    };
}

/// What running replicas hold of a provider's inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Used {
    pub cpu: u64,
    pub memory: u64,
    pub disk: u64,
    /// Devices, one count per entry of the inventory's accelerators.
    pub accelerators: Vec<u64>,
}

/// A computing provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Provider {
    pub inventory: Inventory,
    /// MMT locked in the compute module's account (slashed for timeouts and wrong results).
    pub stake: Amount,
    pub used: Used,
    /// Replicas it holds now.
    pub running: u64,
    /// From its last heartbeat: load in thousandths, cores and memory free of other work.
    pub load: u64,
    pub free_cpu: u64,
    pub free_memory: u64,
    /// Devices of each accelerator entry that answered at its last heartbeat (empty: all).
    pub online: Vec<u64>,
    /// The block of its last registration or heartbeat.
    pub last_seen: u64,
    /// Thousandths, and the block it was last updated (it decays toward 500 from there).
    pub quality: u64,
    pub quality_at: u64,
    /// Replicas in an accepted majority, timed out, and outvoted.
    pub agreed: u64,
    pub timeouts: u64,
    pub outvoted: u64,
}

derived_record!(Provider, "provider", Address, |a: &Address| {
    StateKey::Provider(*a)
});

pub const JOB_RUNNING: u8 = 0;
pub const JOB_COMPLETED: u8 = 1;
pub const JOB_FAILED: u8 = 2;
pub const JOB_CANCELLED: u8 = 3;
pub const JOB_STATES: [&str; 4] = ["running", "completed", "failed", "cancelled"];

/// A job and what it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Job {
    pub owner: Address,
    pub spec: JobSpec,
    /// One of `JOB_*`.
    pub state: u8,
    /// What is left of the price escrowed at submission (in the compute module's account).
    pub escrow: Amount,
    /// The most the active replicas may still be paid (at most `escrow`): a replica is placed
    /// only when the escrow can pay it.
    pub held: Amount,
    /// Set aside to pay sealers for placing its tasks (the chain's own work for it), at…
    pub reserve: Amount,
    /// …the submission's gas price.
    pub gas_price: Amount,
    pub submitted: u64,
    /// The block it ended (0 while running).
    pub ended: u64,
    /// Tasks completed.
    pub completed: u64,
    /// Paid to providers so far.
    pub paid: Amount,
    /// Why it failed: a rejection code, and the task.
    pub code: u64,
    pub failed_task: u64,
}

derived_record!(Job, "job", Hash, |h: &Hash| StateKey::Job(*h));

pub const TASK_WAITING: u8 = 0;
pub const TASK_QUEUED: u8 = 1;
pub const TASK_RUNNING: u8 = 2;
pub const TASK_REVIEW: u8 = 3;
pub const TASK_COMPLETED: u8 = 4;
pub const TASK_FAILED: u8 = 5;
pub const TASK_CANCELLED: u8 = 6;
pub const TASK_STATES: [&str; 7] = [
    "waiting",
    "queued",
    "running",
    "review",
    "completed",
    "failed",
    "cancelled",
];

pub const REPLICA_ACTIVE: u8 = 0;
pub const REPLICA_AGREED: u8 = 1;
pub const REPLICA_OUTVOTED: u8 = 2;
pub const REPLICA_TIMED_OUT: u8 = 3;
pub const REPLICA_DROPPED: u8 = 4;
/// Its run failed (a quorum agreed on a failure, or its lone run did) and the task was tried
/// again elsewhere.
pub const REPLICA_FAILED: u8 = 5;
pub const REPLICA_STATES: [&str; 6] = [
    "active",
    "agreed",
    "outvoted",
    "timed-out",
    "dropped",
    "failed",
];

/// One provider's run of a task.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Replica {
    pub provider: Address,
    /// One of `REPLICA_*`.
    pub state: u8,
    /// Its fuel price when it was assigned, and the most the replica may cost.
    pub fuel_price: Amount,
    pub max: Amount,
    /// A native replica's hourly rate for what the task asked (its pay is this times the
    /// agreed wall time).
    pub rate: Amount,
    /// The inventory entries of the accelerators it holds.
    pub accelerators: Vec<u64>,
    pub assigned: u64,
    /// The block timestamps of its assignment and its commitment: the chain's bound on the
    /// wall time it can claim.
    pub assigned_at: u64,
    pub committed_at: u64,
    /// The block by which it must have committed and revealed.
    pub deadline: u64,
    /// Zero until it commits.
    pub commitment: Hash,
    /// Whether it revealed: then `result`, its `digest` and its `logs` CID.
    pub revealed: bool,
    pub digest: Hash,
    pub result: RunResult,
    pub logs: Bytes,
    pub paid: Amount,
}

/// A task of a job.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Task {
    /// One of `TASK_*`.
    pub state: u8,
    /// The most one replica may cost.
    pub budget: Amount,
    /// Replicas wanted now: the spec's, plus one for each tie broken.
    pub wanted: u64,
    /// Replicas taken again after a timeout.
    pub retries: u64,
    pub replicas: Vec<Replica>,
    /// The block it is due at in `ComputeDue` (0 when nothing is), and where it sits in
    /// `ComputeQueue` (0 when not queued).
    pub due: u64,
    pub queued: u64,
    /// The accepted digest, once decided.
    pub digest: Hash,
    /// Why it failed (a rejection code).
    pub code: u64,
    /// The end of the submitter's window to reject a `requester` result.
    pub review_until: u64,
    /// The block of the task's first reveal (0: none yet). A replica assigned at or after it
    /// could have copied a revealed result: its vote counts, but it earns no pool reward.
    pub first_reveal: u64,
    /// The earliest block a retry may be placed (its back-off).
    pub not_before: u64,
}

impl Replica {
    /// Placed after a result of the task was public.
    pub fn late(&self, task_first_reveal: u64) -> bool {
        task_first_reveal != 0 && self.assigned >= task_first_reveal
    }
}

derived_record!(Task, "task", (Hash, u64), |k: &(Hash, u64)| StateKey::Task(
    k.0, k.1
));

/// An accepted result: the evidence `job lineage` reads, provable under the state root.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ComputeResult {
    pub job: Hash,
    pub task: u64,
    pub name: String,
    pub program: Bytes,
    /// Each input's name and CID (its size when a task produced it).
    pub inputs: Vec<Output>,
    pub result: RunResult,
    pub digest: Hash,
    /// The providers whose replicas agreed on it.
    pub providers: Vec<Address>,
    pub block: u64,
}

derived_record!(ComputeResult, "compute result", (Hash, u64), |k: &(
    Hash,
    u64
)| {
    StateKey::ComputeResult(k.0, k.1)
});
