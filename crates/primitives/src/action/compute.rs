//! The computing network's actions (types 0x40–0x4f) and the shapes they carry: a provider's
//! inventory, a job's task graph, a replica's result.
//!
//! Every action is `[type, payload]` with the payload one RLP list derived from the struct
//! below (fields in declaration order), so a new field is a new version of the action.

use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

use super::UNKNOWN;
use crate::{Amount, Hash};

/// A byte string in RLP (a plain `Vec<u8>` would be a list of integers).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Encodable for Bytes {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.0.as_slice().encode(out)
    }
    fn length(&self) -> usize {
        self.0.as_slice().length()
    }
}

impl Decodable for Bytes {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        crate::rlp::decode_bytes(buf).map(Bytes)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Kinds of accelerator.
pub const ACCELERATOR_KINDS: [&str; 5] = ["gpu", "npu", "tpu", "gpgpu", "fpga"];
/// Kinds of network link, weakest first.
pub const LINK_KINDS: [&str; 4] = ["internet", "dedicated", "hpc-intranet", "ai-intranet"];
/// Executors a provider may run, by bit.
pub const EXECUTORS: [&str; 3] = ["wasm", "process", "slurm"];

/// A provider's CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Cpu {
    pub cores: u64,
    pub model: String,
    /// A benchmark score of one core (higher is faster).
    pub benchmark: u64,
    /// MMT per core-hour.
    pub price_hour: Amount,
}

/// One kind of accelerator a provider has.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Accelerator {
    /// An index into [`ACCELERATOR_KINDS`].
    pub kind: u8,
    pub model: String,
    /// Device memory in bytes.
    pub memory: u64,
    pub count: u64,
    pub benchmark: u64,
    /// MMT per device-hour.
    pub price_hour: Amount,
}

/// A network link a provider has.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Link {
    /// An index into [`LINK_KINDS`].
    pub kind: u8,
    /// Megabits per second.
    pub bandwidth: u64,
    /// Microseconds.
    pub latency: u64,
}

/// What a provider offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Inventory {
    pub cpu: Cpu,
    /// Bytes of memory and MMT per GiB-hour.
    pub memory: u64,
    pub memory_price_hour: Amount,
    /// Bytes of scratch disk.
    pub disk: u64,
    pub accelerators: Vec<Accelerator>,
    pub links: Vec<Link>,
    pub region: String,
    /// Bits of [`EXECUTORS`].
    pub executors: u64,
    /// MMT (wei) per unit of Wasm fuel.
    pub fuel_price: Amount,
    /// Software environments it offers process tasks (`python3`, `pyscf`, …), sorted.
    pub software: Vec<String>,
    /// Whether it lets tasks that ask for the network reach it.
    pub network: bool,
    /// Where it serves the live logs of the tasks it runs (`http://host:port`), or empty.
    pub endpoint: String,
}

/// Accelerators a task asks for: `count` devices of one kind (and model, and at least this
/// much memory, when given) on one provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AcceleratorNeed {
    pub kind: u8,
    /// Empty for any model.
    pub model: String,
    pub memory: u64,
    pub count: u64,
}

/// A task's resource package: every part must be free on one provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Resources {
    pub cpu: u64,
    pub memory: u64,
    pub disk: u64,
    pub accelerators: Vec<AcceleratorNeed>,
    /// 0 for none, else 1 + an index into [`LINK_KINDS`]: the provider must have such a link.
    pub link: u8,
}

/// One named input of a task: a CID, or (with `cid` empty) output `output` of task `task`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Input {
    pub name: String,
    pub cid: Bytes,
    pub task: u64,
    pub output: String,
}

/// Verification modes.
pub const VERIFY_QUORUM: u8 = 0;
pub const VERIFY_REQUESTER: u8 = 1;
/// One provider proves its result with a Groth16 proof for the task's circuit.
pub const VERIFY_ZK: u8 = 2;
/// Names a zk task's circuit must give the public inputs the chain fills in: the job id and
/// the two digests split into 128-bit halves (a 32-byte digest need not be below the scalar
/// field's modulus), the task's index, and the provider's address (so a proof cannot be
/// taken by another provider). Every other public input is a claim the result carries.
pub const ZK_BINDINGS: [&str; 8] = [
    "jobHi",
    "jobLo",
    "task",
    "inputsHi",
    "inputsLo",
    "outputsHi",
    "outputsLo",
    "provider",
];

/// How replicas of a task agree: on the exact digest (the default, `file` empty), or on the
/// numbers of one JSON output agreeing within tolerances (BOINC's fuzzy validation): two
/// numbers `a`, `b` agree when `|a − b| ≤ max(atol, rtol × max(|a|, |b|))`. Tolerances are
/// IEEE-754 doubles carried as their bits, so every node compares alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Comparator {
    pub file: String,
    pub rtol: u64,
    pub atol: u64,
}

impl Comparator {
    pub fn is_exact(&self) -> bool {
        self.file.is_empty()
    }
}

/// One task of a job.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TaskSpec {
    pub name: String,
    /// Binary CID of the program.
    pub program: Bytes,
    pub args: Vec<String>,
    pub inputs: Vec<Input>,
    pub resources: Resources,
    /// An index into [`EXECUTORS`].
    pub executor: u8,
    /// [`VERIFY_QUORUM`] (`replicas` providers agree), [`VERIFY_REQUESTER`] or
    /// [`VERIFY_ZK`] (with `circuit`).
    pub verification: u8,
    pub replicas: u64,
    /// Blocks a replica has from its assignment to commit its result.
    pub timeout: u64,
    /// Indices of the tasks it waits for.
    pub after: Vec<u64>,
    /// The most fuel one run may burn.
    pub fuel: u64,
    /// Process and Slurm tasks: the most wall-clock seconds one run may take (it is priced
    /// per resource-hour on it, and killed at it).
    pub walltime: u64,
    /// Software the provider must offer (the command's interpreter, packages), sorted.
    pub software: Vec<String>,
    /// Whether the run may reach the network (the provider must allow it).
    pub network: bool,
    /// Times a failed run is tried again on another provider (after a back-off).
    pub retries: u64,
    pub comparator: Comparator,
    /// Under [`VERIFY_ZK`]: the registered circuit whose proof the result must carry; zero
    /// otherwise.
    pub circuit: Hash,
    /// Under [`VERIFY_ZK`]: claims the result must carry, by ascending index into its claims
    /// (a dataset's registered commitment, say), so the proof is about the data the submitter
    /// means; empty otherwise.
    pub pinned: Vec<PinnedClaim>,
}

/// One claim a zk task's result must carry: `claims[index] == value`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PinnedClaim {
    pub index: u64,
    /// A 32-byte big-endian integer, as the result's claims are.
    pub value: Hash,
}

/// Scheduling presets, by index: the weights they stand for are chain parameters.
pub const PRESETS: [&str; 4] = ["balanced", "cheapest", "fastest", "data-local"];

/// A job: a directed acyclic graph of tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct JobSpec {
    pub name: String,
    /// Escrowed whole at submission; what verified work does not use is refunded.
    pub max_price: Amount,
    /// An index into [`PRESETS`], used when `weights` is empty.
    pub preset: u8,
    /// Empty, or seven integer weights: load, idle, data, price, performance, network, quality.
    pub weights: Bytes,
    /// Place every task that becomes ready in one step, all or none.
    pub gang: bool,
    pub tasks: Vec<TaskSpec>,
}

/// One output file of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, RlpEncodable, RlpDecodable)]
pub struct Output {
    pub name: String,
    pub cid: Bytes,
    pub size: u64,
}

/// How a run ended.
pub const RUN_OK: u8 = 0;
pub const RUN_EXIT: u8 = 1;
pub const RUN_TRAP: u8 = 2;
pub const RUN_OUT_OF_FUEL: u8 = 3;
pub const RUN_BAD_PROGRAM: u8 = 4;
pub const RUN_BAD_INPUT: u8 = 5;
/// A native run killed by a signal (the code is the signal's number).
pub const RUN_KILLED: u8 = 6;
/// A native run that reached its wall-time limit.
pub const RUN_TIME_LIMIT: u8 = 7;
/// A native run that used more memory than it asked for.
pub const RUN_MEMORY_LIMIT: u8 = 8;
/// A native run that tried to start more processes than its limit.
pub const RUN_PROCESS_LIMIT: u8 = 9;
/// The provider could not run it (missing software, a sandbox or cluster failure): another
/// provider may.
pub const RUN_PROVIDER: u8 = 10;
pub const RUN_STATUS: [&str; 11] = [
    "ok",
    "exit",
    "trap",
    "out-of-fuel",
    "bad-program",
    "bad-input",
    "killed",
    "time-limit",
    "memory-limit",
    "process-limit",
    "provider-failure",
];

/// What a native run used, from the kernel's (or the cluster's) accounting. Not part of what
/// replicas must agree on; payment uses the agreeing replicas' median.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Usage {
    /// Milliseconds of wall-clock and of CPU time.
    pub wall_ms: u64,
    pub cpu_ms: u64,
    /// Peak resident bytes.
    pub memory: u64,
}

/// What a replica says its run gave. Its digest (the hash of this encoding) is what replicas
/// must agree on, so they agree on the outputs, the status and the fuel burnt too.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct RunResult {
    /// One of `RUN_*`.
    pub status: u8,
    /// The exit code (for [`RUN_EXIT`]).
    pub code: u64,
    pub fuel: u64,
    /// Sorted by name.
    pub outputs: Vec<Output>,
    pub usage: Usage,
    /// With a comparator: the numbers of its JSON file in document order (keys sorted), as
    /// IEEE-754 bits, and the hash of the file with every number taken out (its shape).
    pub values: Vec<u64>,
    pub shape: Bytes,
    /// A zk task's claims: the circuit's public inputs other than [`ZK_BINDINGS`], in the
    /// circuit's order, as 32-byte big-endian integers. Not part of the outputs digest the
    /// proof binds (they are what it proves).
    pub claims: Vec<Hash>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComputeAction {
    /// `0x40 [inventory, stake]`: registers or updates a provider; its stake is raised or
    /// lowered to `stake` (not below what running tasks hold).
    Register { inventory: Inventory, stake: Amount },
    /// `0x41 [load, cores, memory, [online, …]]`: the provider is alive; its load in
    /// thousandths and the cores and memory it can give the network in all (its inventory, or
    /// less when other work uses some); the chain's reservations come off these. `online`
    /// counts the devices of each inventory accelerator entry that answer now (empty: all).
    Heartbeat {
        load: u64,
        free_cpu: u64,
        free_memory: u64,
        online: Vec<u64>,
    },
    /// `0x42 [job]`
    Submit { job: JobSpec },
    /// `0x43 [job, task, commitment]`: `H(digest ‖ salt ‖ provider)`.
    Commit {
        job: Hash,
        task: u64,
        commitment: Hash,
    },
    /// `0x44 [job, task, salt, result, logs, proof]`: opens the commitment; a zk task's
    /// Groth16 proof (A, B, C compressed), empty for other tasks.
    Reveal {
        job: Hash,
        task: u64,
        salt: Hash,
        result: RunResult,
        logs: Bytes,
        proof: Bytes,
    },
    /// `0x45 [job, task, accept]`: the submitter's verdict on a `requester` task.
    Decide { job: Hash, task: u64, accept: bool },
    /// `0x46 [job]`: the submitter stops the job; unused escrow comes back.
    Cancel { job: Hash },
}

impl ComputeAction {
    pub const REGISTER: u8 = 0x40;
    pub const HEARTBEAT: u8 = 0x41;
    pub const SUBMIT: u8 = 0x42;
    pub const COMMIT: u8 = 0x43;
    pub const REVEAL: u8 = 0x44;
    pub const DECIDE: u8 = 0x45;
    pub const CANCEL: u8 = 0x46;

    pub fn type_byte(&self) -> u8 {
        match self {
            ComputeAction::Register { .. } => Self::REGISTER,
            ComputeAction::Heartbeat { .. } => Self::HEARTBEAT,
            ComputeAction::Submit { .. } => Self::SUBMIT,
            ComputeAction::Commit { .. } => Self::COMMIT,
            ComputeAction::Reveal { .. } => Self::REVEAL,
            ComputeAction::Decide { .. } => Self::DECIDE,
            ComputeAction::Cancel { .. } => Self::CANCEL,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ComputeAction::Register { .. } => "registerProvider",
            ComputeAction::Heartbeat { .. } => "heartbeat",
            ComputeAction::Submit { .. } => "submitJob",
            ComputeAction::Commit { .. } => "commitResult",
            ComputeAction::Reveal { .. } => "revealResult",
            ComputeAction::Decide { .. } => "decideResult",
            ComputeAction::Cancel { .. } => "cancelJob",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ComputeAction::Register { inventory, stake } => {
                inventory.encode(p);
                stake.encode(p);
            }
            ComputeAction::Heartbeat {
                load,
                free_cpu,
                free_memory,
                online,
            } => {
                load.encode(p);
                free_cpu.encode(p);
                free_memory.encode(p);
                online.encode(p);
            }
            ComputeAction::Submit { job } => job.encode(p),
            ComputeAction::Commit {
                job,
                task,
                commitment,
            } => {
                job.encode(p);
                task.encode(p);
                commitment.encode(p);
            }
            ComputeAction::Reveal {
                job,
                task,
                salt,
                result,
                logs,
                proof,
            } => {
                job.encode(p);
                task.encode(p);
                salt.encode(p);
                result.encode(p);
                logs.encode(p);
                proof.encode(p);
            }
            ComputeAction::Decide { job, task, accept } => {
                job.encode(p);
                task.encode(p);
                accept.encode(p);
            }
            ComputeAction::Cancel { job } => job.encode(p),
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            Self::REGISTER => ComputeAction::Register {
                inventory: Decodable::decode(p)?,
                stake: Decodable::decode(p)?,
            },
            Self::HEARTBEAT => ComputeAction::Heartbeat {
                load: u64::decode(p)?,
                free_cpu: u64::decode(p)?,
                free_memory: u64::decode(p)?,
                online: Decodable::decode(p)?,
            },
            Self::SUBMIT => ComputeAction::Submit {
                job: Decodable::decode(p)?,
            },
            Self::COMMIT => ComputeAction::Commit {
                job: Decodable::decode(p)?,
                task: u64::decode(p)?,
                commitment: Decodable::decode(p)?,
            },
            Self::REVEAL => ComputeAction::Reveal {
                job: Decodable::decode(p)?,
                task: u64::decode(p)?,
                salt: Decodable::decode(p)?,
                result: Decodable::decode(p)?,
                logs: Decodable::decode(p)?,
                proof: Decodable::decode(p)?,
            },
            Self::DECIDE => ComputeAction::Decide {
                job: Decodable::decode(p)?,
                task: u64::decode(p)?,
                accept: bool::decode(p)?,
            },
            Self::CANCEL => ComputeAction::Cancel {
                job: Decodable::decode(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    #[test]
    fn actions_round_trip() {
        let job = JobSpec {
            name: "boron-screen".into(),
            max_price: Amount::from_mmt(20),
            weights: Bytes(vec![1, 1, 3, 1, 1, 1, 2]),
            tasks: vec![TaskSpec {
                name: "prepare".into(),
                program: Bytes(vec![1, 0x55, 0x12, 0x20, 7]),
                args: vec!["64".into()],
                inputs: vec![Input {
                    name: "structure.json".into(),
                    cid: Bytes(vec![0x12, 0x20]),
                    ..Input::default()
                }],
                replicas: 2,
                timeout: 60,
                fuel: 1_000_000,
                ..TaskSpec::default()
            }],
            ..JobSpec::default()
        };
        for a in [
            ComputeAction::Submit { job },
            ComputeAction::Register {
                inventory: Inventory {
                    accelerators: vec![Accelerator {
                        kind: 0,
                        model: "A100".into(),
                        count: 8,
                        ..Accelerator::default()
                    }],
                    ..Inventory::default()
                },
                stake: Amount(5),
            },
            ComputeAction::Reveal {
                job: [3; 32],
                task: 1,
                salt: [4; 32],
                result: RunResult {
                    fuel: 9,
                    outputs: vec![Output {
                        name: "a".into(),
                        cid: Bytes(vec![1, 2]),
                        size: 3,
                    }],
                    claims: vec![[7; 32]],
                    ..RunResult::default()
                },
                logs: Bytes(vec![]),
                proof: Bytes(vec![1; 64]),
            },
            ComputeAction::Cancel { job: [1; 32] },
        ] {
            let action = Action::Compute(a);
            let bytes = alloy_rlp::encode(&action);
            assert_eq!(
                Action::decode(&mut bytes.as_slice()).unwrap(),
                action,
                "{}",
                action.name()
            );
        }
    }

    #[test]
    fn trailing_fields_are_refused() {
        let mut p = Vec::new();
        ComputeAction::CANCEL.encode(&mut p);
        [1u8; 32].encode(&mut p);
        7u8.encode(&mut p);
        let bytes = crate::rlp::list(&p);
        assert!(Action::decode(&mut bytes.as_slice()).is_err());
    }
}
