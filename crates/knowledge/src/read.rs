//! What the chain says about one delivered event: its block's provenance (sealer, the
//! transaction and its sender) and the record the event names, read from the state at the
//! view's head. Records are immutable once written (a dataset, a job's spec, an accepted
//! result, a circuit), so the head's copy is the one the event wrote; a record the head no
//! longer has leaves only what the event itself carries.

use metamesh_crypto::Address;
use metamesh_db::ChainDb;
use metamesh_node::{ChainView, Delivered};
use metamesh_primitives::{Block, Hash, Header};
use std::sync::Arc;

use metamesh_state::{
    Algorithm, Attestation, Circuit, ComputeEvent, ComputeResult, DataEvent, DataRecord, Event,
    Job, KnowledgeBase, KnowledgeEvent, Record, State, Statement, ZkEvent,
    domains::compute::JOB_STATES,
};

use crate::{
    optimade::Database,
    records::{Facts, Provenance},
};

/// The block an event belongs to, read once for all of its events.
struct BlockInfo {
    hash: Hash,
    header: Header,
    sealer: Option<Address>,
    senders: Vec<Option<Address>>,
}

/// Reads events' records from one node's chain.
pub struct Reader {
    block: Option<BlockInfo>,
    /// BMCI's materials, which a verified run must be about.
    bmci: Arc<Database>,
}

impl Reader {
    pub fn new(bmci: Arc<Database>) -> Self {
        Reader { block: None, bmci }
    }

    /// The provenance and facts of `d`, or `None` for an event that is no record (transfers,
    /// fees, rewards, storage challenges …).
    pub fn read(
        &mut self,
        view: &ChainView,
        state: &State<&ChainDb>,
        d: &Delivered,
    ) -> Result<Option<(Provenance, Facts)>, String> {
        let Some(facts) = facts(state, &d.event.event, &self.bmci)? else {
            return Ok(None);
        };
        let info = self.block(view, &d.block_hash)?;
        let prov = Provenance {
            block: d.block_hash,
            number: info.header.number,
            time: info.header.timestamp,
            sealer: info.sealer,
            tx: d
                .event
                .tx
                .map(|(h, i)| (h, i, info.senders.get(i as usize).copied().flatten())),
            log_index: d.event.log_index,
            event: d.event.event.kind(),
        };
        Ok(Some((prov, facts)))
    }

    fn block(&mut self, view: &ChainView, hash: &Hash) -> Result<&BlockInfo, String> {
        if self.block.as_ref().is_none_or(|b| &b.hash != hash) {
            let suite = view.suite();
            let header = view
                .header(hash)
                .ok_or_else(|| format!("block 0x{} is not stored", hex::encode(hash)))?;
            let sealer = (header.number > 0)
                .then(|| metamesh_consensus::recover_signer(&header, suite).ok())
                .flatten();
            let body = view
                .db()
                .body(hash)
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            let senders = Block::decode_body(&body, suite)
                .map_err(|e| format!("stored body: {e}"))?
                .iter()
                .map(|tx| tx.sender().ok())
                .collect();
            self.block = Some(BlockInfo {
                hash: *hash,
                header,
                sealer,
                senders,
            });
        }
        Ok(self.block.as_ref().expect("just read"))
    }
}

/// A record the event names; one that cannot be read is left out (logged), so a damaged
/// record never stops the indexer — the event's own facts still make its graph.
fn load<R: Record>(state: &State<&ChainDb>, id: &R::Id) -> Option<R> {
    state.load::<R>(id).unwrap_or_else(|e| {
        tracing::warn!(%e, what = R::WHAT, "knowledge indexer: reading a record");
        None
    })
}

/// The facts of one event, reading the record it names.
fn facts(state: &State<&ChainDb>, event: &Event, bmci: &Database) -> Result<Option<Facts>, String> {
    Ok(Some(match event {
        Event::Data(DataEvent::Registered { digest, owner }) => Facts::Dataset {
            digest: *digest,
            owner: *owner,
            record: load::<DataRecord>(state, digest),
        },
        Event::Data(DataEvent::Attested {
            digest,
            owner,
            kind,
        }) => Facts::Work {
            digest: *digest,
            owner: *owner,
            kind: *kind,
            record: load::<Attestation>(state, digest),
        },
        Event::Data(DataEvent::KeyShared { .. }) => return Ok(None),
        Event::Compute(e) => match compute(state, e, bmci)? {
            Some(f) => f,
            None => return Ok(None),
        },
        Event::Zk(ZkEvent::CircuitRegistered { circuit, owner }) => Facts::Circuit {
            id: *circuit,
            owner: *owner,
            record: load::<Circuit>(state, circuit),
        },
        Event::Zk(ZkEvent::ProofVerified {
            circuit,
            statement,
            prover,
        }) => Facts::Statement {
            id: *statement,
            circuit: *circuit,
            prover: *prover,
            record: load::<Statement>(state, statement),
        },
        Event::Knowledge(KnowledgeEvent::AlgorithmRegistered { algorithm, owner }) => {
            Facts::Algorithm {
                id: *algorithm,
                owner: *owner,
                spec: load::<Algorithm>(state, algorithm).map(|a| Box::new(a.spec)),
            }
        }
        Event::Knowledge(KnowledgeEvent::AlgorithmRetired { algorithm, by }) => {
            Facts::AlgorithmRetired {
                id: *algorithm,
                by: *by,
            }
        }
        Event::Knowledge(KnowledgeEvent::KnowledgeBaseRegistered { base, owner, .. }) => {
            Facts::KnowledgeBase {
                id: *base,
                owner: *owner,
                record: load::<KnowledgeBase>(state, base).map(Box::new),
            }
        }
        Event::Knowledge(KnowledgeEvent::RoleChanged { .. })
        | Event::Accounts(_)
        | Event::Params(_)
        | Event::Storage(_) => return Ok(None),
    }))
}

/// The BMCI run a verified result is, if it is one (see [`crate::bmci::run_of`]).
fn bmci_run(
    state: &State<&ChainDb>,
    result: &ComputeResult,
    db: &Database,
) -> Option<crate::bmci::Run> {
    let job = load::<Job>(state, &result.job)?;
    let id = crate::bmci::algorithm_of(&job.spec.name)?;
    let algorithm = load::<Algorithm>(state, &id)?;
    crate::bmci::run_of(
        state.suite(),
        (&job.spec, job.submitted),
        result,
        (&id, &algorithm),
        db,
    )
}

fn compute(
    state: &State<&ChainDb>,
    e: &ComputeEvent,
    bmci: &Database,
) -> Result<Option<Facts>, String> {
    Ok(Some(match e {
        ComputeEvent::Registered {
            provider,
            stake,
            cores,
            accelerators,
        } => Facts::Provider {
            address: *provider,
            stake: *stake,
            cores: *cores,
            accelerators: *accelerators,
        },
        ComputeEvent::Submitted {
            job, owner, escrow, ..
        } => Facts::Job {
            id: *job,
            owner: *owner,
            escrow: *escrow,
            spec: load::<Job>(state, job).map(|j| j.spec),
        },
        ComputeEvent::Assigned {
            job,
            task,
            providers,
            ..
        } => Facts::Assigned {
            job: *job,
            task: *task,
            providers: providers.clone(),
        },
        ComputeEvent::Accepted {
            job,
            task,
            digest,
            providers,
            fuel,
            paid,
            reward,
        } => {
            let record = load::<ComputeResult>(state, &(*job, *task))
                // Only the result this event accepted (a later one would have another digest).
                .filter(|r| r.digest == *digest);
            Facts::Result {
                job: *job,
                task: *task,
                digest: *digest,
                providers: providers.clone(),
                fuel: *fuel,
                paid: *paid,
                reward: *reward,
                bmci: record
                    .as_ref()
                    .and_then(|r| bmci_run(state, r, bmci))
                    .map(Box::new),
                record,
            }
        }
        ComputeEvent::TaskFailed {
            job, task, code, ..
        } => Facts::TaskFailed {
            job: *job,
            task: *task,
            code: *code,
        },
        ComputeEvent::JobEnded { job, state: s, .. } => Facts::JobEnded {
            job: *job,
            state: JOB_STATES.get(*s as usize).copied().unwrap_or("unknown"),
        },
        ComputeEvent::Queued { .. }
        | ComputeEvent::Committed { .. }
        | ComputeEvent::Revealed { .. }
        | ComputeEvent::Outvoted { .. }
        | ComputeEvent::TimedOut { .. }
        | ComputeEvent::ProofRejected { .. } => return Ok(None),
    }))
}
