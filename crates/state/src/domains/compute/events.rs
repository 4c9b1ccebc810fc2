//! The computing network's events (types 0x40–0x4f). Placements, timeouts and review ends are
//! block-level: they sit in the block's system receipt.

use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use metamesh_crypto::Address;
use metamesh_primitives::{Amount, Hash, compute::Bytes};

use crate::events::{DomainEvent, UNKNOWN};

/// One candidate's evaluation in an assignment: its per-strategy scores (load, idle, data,
/// price, performance, network, quality), the weighted total, and its quote.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Explained {
    pub provider: Address,
    pub scores: Bytes,
    pub total: u64,
    pub quote: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComputeEvent {
    /// `0x40 [provider, stake, cores, accelerators]`
    Registered {
        provider: Address,
        stake: Amount,
        cores: u64,
        accelerators: u64,
    },
    /// `0x41 [job, owner, tasks, escrow, reserve]`: both moved from the owner to the module.
    Submitted {
        job: Hash,
        owner: Address,
        tasks: u64,
        escrow: Amount,
        reserve: Amount,
    },
    /// `0x42 [job, task, feasible]`: block-level; no placement fits yet, the task waits.
    Queued { job: Hash, task: u64, feasible: u64 },
    /// `0x43 [job, task, [provider, …], deadline, feasible, [candidate, …]]`: block-level;
    /// `candidates` are the best `computeExplainCandidates` of the `feasible`, with scores.
    Assigned {
        job: Hash,
        task: u64,
        providers: Vec<Address>,
        deadline: u64,
        feasible: u64,
        candidates: Vec<Explained>,
    },
    /// `0x44 [job, task, provider]`
    Committed {
        job: Hash,
        task: u64,
        provider: Address,
    },
    /// `0x45 [job, task, provider, digest]`
    Revealed {
        job: Hash,
        task: u64,
        provider: Address,
        digest: Hash,
    },
    /// `0x46 [job, task, digest, [provider, …], fuel, paid, reward]`: the result stands; the
    /// providers named were paid (`paid` from escrow, `reward` from the community pool).
    Accepted {
        job: Hash,
        task: u64,
        digest: Hash,
        providers: Vec<Address>,
        fuel: u64,
        paid: Amount,
        reward: Amount,
    },
    /// `0x47 [job, task, provider, slashed]`: its digest lost to the majority.
    Outvoted {
        job: Hash,
        task: u64,
        provider: Address,
        slashed: Amount,
    },
    /// `0x48 [job, task, provider, slashed]`: block-level; it missed its deadline.
    TimedOut {
        job: Hash,
        task: u64,
        provider: Address,
        slashed: Amount,
    },
    /// `0x49 [job, task, code, [arg, …]]`
    TaskFailed {
        job: Hash,
        task: u64,
        code: u16,
        args: Vec<u128>,
    },
    /// `0x4a [job, owner, state, refund, reserve]`: what was left went back to the owner.
    JobEnded {
        job: Hash,
        owner: Address,
        state: u8,
        refund: Amount,
        reserve: Amount,
    },
    /// `0x4b [job, task, provider, code, slashed]`: a zk task's result whose proof does not
    /// stand (the code says why); its provider is slashed and the task placed again.
    ProofRejected {
        job: Hash,
        task: u64,
        provider: Address,
        code: u16,
        slashed: Amount,
    },
}

impl DomainEvent for ComputeEvent {
    const KINDS: &'static [(u8, &'static str)] = &[
        (0x40, "providerRegistered"),
        (0x41, "jobSubmitted"),
        (0x42, "taskQueued"),
        (0x43, "taskAssigned"),
        (0x44, "resultCommitted"),
        (0x45, "resultRevealed"),
        (0x46, "resultAccepted"),
        (0x47, "replicaOutvoted"),
        (0x48, "replicaTimedOut"),
        (0x49, "taskFailed"),
        (0x4a, "jobEnded"),
        (0x4b, "proofRejected"),
    ];

    fn type_byte(&self) -> u8 {
        match self {
            ComputeEvent::Registered { .. } => 0x40,
            ComputeEvent::Submitted { .. } => 0x41,
            ComputeEvent::Queued { .. } => 0x42,
            ComputeEvent::Assigned { .. } => 0x43,
            ComputeEvent::Committed { .. } => 0x44,
            ComputeEvent::Revealed { .. } => 0x45,
            ComputeEvent::Accepted { .. } => 0x46,
            ComputeEvent::Outvoted { .. } => 0x47,
            ComputeEvent::TimedOut { .. } => 0x48,
            ComputeEvent::TaskFailed { .. } => 0x49,
            ComputeEvent::JobEnded { .. } => 0x4a,
            ComputeEvent::ProofRejected { .. } => 0x4b,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            ComputeEvent::Registered { provider, .. }
            | ComputeEvent::Committed { provider, .. }
            | ComputeEvent::Revealed { provider, .. }
            | ComputeEvent::Outvoted { provider, .. }
            | ComputeEvent::TimedOut { provider, .. }
            | ComputeEvent::ProofRejected { provider, .. } => vec![*provider],
            ComputeEvent::Submitted { owner, .. } | ComputeEvent::JobEnded { owner, .. } => {
                vec![*owner]
            }
            ComputeEvent::Assigned { providers, .. } | ComputeEvent::Accepted { providers, .. } => {
                providers.clone()
            }
            ComputeEvent::Queued { .. } | ComputeEvent::TaskFailed { .. } => Vec::new(),
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ComputeEvent::Registered {
                provider,
                stake,
                cores,
                accelerators,
            } => {
                provider.encode(p);
                stake.encode(p);
                cores.encode(p);
                accelerators.encode(p);
            }
            ComputeEvent::Submitted {
                job,
                owner,
                tasks,
                escrow,
                reserve,
            } => {
                job.encode(p);
                owner.encode(p);
                tasks.encode(p);
                escrow.encode(p);
                reserve.encode(p);
            }
            ComputeEvent::Queued {
                job,
                task,
                feasible,
            } => {
                job.encode(p);
                task.encode(p);
                feasible.encode(p);
            }
            ComputeEvent::Assigned {
                job,
                task,
                providers,
                deadline,
                feasible,
                candidates,
            } => {
                job.encode(p);
                task.encode(p);
                providers.encode(p);
                deadline.encode(p);
                feasible.encode(p);
                candidates.encode(p);
            }
            ComputeEvent::Committed {
                job,
                task,
                provider,
            } => {
                job.encode(p);
                task.encode(p);
                provider.encode(p);
            }
            ComputeEvent::Revealed {
                job,
                task,
                provider,
                digest,
            } => {
                job.encode(p);
                task.encode(p);
                provider.encode(p);
                digest.encode(p);
            }
            ComputeEvent::Accepted {
                job,
                task,
                digest,
                providers,
                fuel,
                paid,
                reward,
            } => {
                job.encode(p);
                task.encode(p);
                digest.encode(p);
                providers.encode(p);
                fuel.encode(p);
                paid.encode(p);
                reward.encode(p);
            }
            ComputeEvent::Outvoted {
                job,
                task,
                provider,
                slashed,
            }
            | ComputeEvent::TimedOut {
                job,
                task,
                provider,
                slashed,
            } => {
                job.encode(p);
                task.encode(p);
                provider.encode(p);
                slashed.encode(p);
            }
            ComputeEvent::TaskFailed {
                job,
                task,
                code,
                args,
            } => {
                job.encode(p);
                task.encode(p);
                code.encode(p);
                args.encode(p);
            }
            ComputeEvent::JobEnded {
                job,
                owner,
                state,
                refund,
                reserve,
            } => {
                job.encode(p);
                owner.encode(p);
                state.encode(p);
                refund.encode(p);
                reserve.encode(p);
            }
            ComputeEvent::ProofRejected {
                job,
                task,
                provider,
                code,
                slashed,
            } => {
                job.encode(p);
                task.encode(p);
                provider.encode(p);
                code.encode(p);
                slashed.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        fn d<T: Decodable>(p: &mut &[u8]) -> alloy_rlp::Result<T> {
            T::decode(p)
        }
        Ok(match ty {
            0x40 => ComputeEvent::Registered {
                provider: d(p)?,
                stake: d(p)?,
                cores: d(p)?,
                accelerators: d(p)?,
            },
            0x41 => ComputeEvent::Submitted {
                job: d(p)?,
                owner: d(p)?,
                tasks: d(p)?,
                escrow: d(p)?,
                reserve: d(p)?,
            },
            0x42 => ComputeEvent::Queued {
                job: d(p)?,
                task: d(p)?,
                feasible: d(p)?,
            },
            0x43 => ComputeEvent::Assigned {
                job: d(p)?,
                task: d(p)?,
                providers: d(p)?,
                deadline: d(p)?,
                feasible: d(p)?,
                candidates: d(p)?,
            },
            0x44 => ComputeEvent::Committed {
                job: d(p)?,
                task: d(p)?,
                provider: d(p)?,
            },
            0x45 => ComputeEvent::Revealed {
                job: d(p)?,
                task: d(p)?,
                provider: d(p)?,
                digest: d(p)?,
            },
            0x46 => ComputeEvent::Accepted {
                job: d(p)?,
                task: d(p)?,
                digest: d(p)?,
                providers: d(p)?,
                fuel: d(p)?,
                paid: d(p)?,
                reward: d(p)?,
            },
            0x4b => ComputeEvent::ProofRejected {
                job: d(p)?,
                task: d(p)?,
                provider: d(p)?,
                code: d(p)?,
                slashed: d(p)?,
            },
            0x47 => ComputeEvent::Outvoted {
                job: d(p)?,
                task: d(p)?,
                provider: d(p)?,
                slashed: d(p)?,
            },
            0x48 => ComputeEvent::TimedOut {
                job: d(p)?,
                task: d(p)?,
                provider: d(p)?,
                slashed: d(p)?,
            },
            0x49 => ComputeEvent::TaskFailed {
                job: d(p)?,
                task: d(p)?,
                code: d(p)?,
                args: d(p)?,
            },
            0x4a => ComputeEvent::JobEnded {
                job: d(p)?,
                owner: d(p)?,
                state: d(p)?,
                refund: d(p)?,
                reserve: d(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}
