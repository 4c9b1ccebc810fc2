//! The provider agent: follows `taskAssigned` events naming this provider, runs each task on
//! its inputs, adds the outputs and logs to the content network, commits `H(digest ‖ salt ‖
//! provider)`, reveals once every replica has committed, and heartbeats. Its queue (the event
//! cursor and each task's stage, result and salt) is a file written atomically after every
//! change, so an agent killed at any point resumes where it was: a salt is on disk before its
//! commitment is sent, and a commitment already on chain is not sent again.
//!
//! Wasm tasks run in the agent's loop; process tasks run on threads of their own (the loop
//! goes on heartbeating, and cancels them when their job ends); Slurm tasks are batch jobs the
//! loop submits and polls, their ids kept in the queue so a restarted agent picks them up.
//! A process run cut short by the agent's death is run again when it restarts.
//!
//! It reaches the chain and the content store only through a [`Port`] (the CLI's is JSON-RPC
//! to a node), and reads jobs in the shape `mm_getJob` gives.

mod logs;
mod prove;
mod run;

use std::{collections::BTreeMap, path::PathBuf};

use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    ComputeAction, Hash,
    compute::{Bytes, RunResult},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use logs::{LogAccess, serve_logs};
pub use prove::ZK_INPUT;

/// Counts the devices of each accelerator entry of an inventory (as `mm_getProvider` gives it)
/// that answer now.
pub type DeviceCounter = Box<dyn FnMut(&Value) -> Vec<u64>>;
pub use run::Fault;

use crate::{Native, slurm::Slurm};

/// What the agent needs of a node.
pub trait Port {
    fn head(&mut self) -> Result<u64, String>;
    /// A page of `taskAssigned` events naming this provider after `cursor` (from
    /// `from_block` when none), the cursor to go on from next time (`None`: keep the one
    /// given), and whether more pages follow now.
    fn events(
        &mut self,
        from_block: u64,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>, bool), String>;
    /// `mm_getJob`.
    fn job(&mut self, id: &str) -> Result<Value, String>;
    /// `mm_getCircuit` (an error when there is none).
    fn circuit(&mut self, id: &str) -> Result<Value, String>;
    /// `mm_getProvider` of this provider.
    fn provider(&mut self) -> Result<Value, String>;
    /// The file under `cid` (text), at most `max` bytes.
    fn fetch(&mut self, cid: &str, max: u64) -> Result<Vec<u8>, String>;
    /// Adds a file; its CID as text and bytes.
    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(String, Vec<u8>), String>;
    /// Sends a transaction signed by this provider and waits for it to be applied.
    fn send(&mut self, action: ComputeAction) -> Result<(), String>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stage {
    Assigned,
    Ran,
    Committed,
    Revealed,
}

/// One replica this provider holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Work {
    job: String,
    task: u64,
    stage: Stage,
    /// Hex of the result's RLP, the salt and the logs CID, once run.
    result: Option<String>,
    salt: Option<String>,
    logs: Option<String>,
    /// Rounds its inputs could not be fetched in (it reports `bad-input` after many).
    #[serde(default)]
    fetch_failures: u32,
    /// The Slurm job running it, once submitted.
    #[serde(default)]
    slurm: Option<String>,
    /// A zk task's proof of its result (hex), once run.
    #[serde(default)]
    proof: Option<String>,
}

/// Rounds an agent keeps trying to fetch a task's inputs before it reports them bad (a
/// network glitch must not make an honest replica disagree), while three blocks remain
/// before its deadline.
pub(super) const FETCH_TRIES: u32 = 30;
/// The most memory a task may ask of the executor: the same for every agent, so replicas'
/// runs agree.
pub(super) const MAX_TASK_MEMORY: usize = 4 << 30;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    from_block: u64,
    cursor: Option<String>,
    work: Vec<Work>,
    last_heartbeat: u64,
}

/// What the agent did in one step, for its log.
#[derive(Debug, Default)]
pub struct Step {
    pub lines: Vec<String>,
}

pub struct Agent<P: Port> {
    port: P,
    me: Address,
    suite: Suite,
    file: PathBuf,
    logs: PathBuf,
    /// Proving keys and witness generators fetched for zk tasks, by CID.
    circuits: PathBuf,
    saved: Saved,
    /// The most input bytes this agent fetches for one run.
    pub max_input: u64,
    /// Blocks between heartbeats.
    pub heartbeat_every: u64,
    /// What computing a zk task's witness may take.
    pub prove_limits: metamesh_zk::witness::Limits,
    /// Misbehaves on purpose, for testing that the network outvotes and slashes it.
    pub fault: Fault,
    /// How it runs process tasks (none: it refuses them).
    pub native: Option<Native>,
    /// How it runs Slurm tasks (none: it refuses them).
    pub slurm: Option<Slurm>,
    /// Counts the devices of each of its inventory's accelerator entries that answer now
    /// (empty: all), for heartbeats.
    pub online: DeviceCounter,
    /// Process runs going on now, by job and task.
    running: BTreeMap<(String, u64), run::Running>,
    /// The runs whose logs its log service may serve now.
    pub live_logs: LogAccess,
}

pub(super) fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).ok()
}

fn hash_of(s: &str) -> Option<Hash> {
    unhex(s)?.try_into().ok()
}

impl<P: Port> Agent<P> {
    /// An agent keeping its queue in `dir` (created if missing).
    pub fn open(port: P, me: Address, suite: Suite, dir: PathBuf) -> Result<Self, String> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
        let file = dir.join("queue.json");
        let saved = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not a provider queue: {e}", file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(e) => return Err(format!("reading {}: {e}", file.display())),
        };
        Ok(Agent {
            port,
            me,
            suite,
            file,
            logs,
            circuits: dir.join("circuits"),
            saved,
            max_input: 1 << 30,
            heartbeat_every: 5,
            prove_limits: Default::default(),
            fault: Fault::None,
            native: None,
            slurm: None,
            online: Box::new(|_| Vec::new()),
            running: BTreeMap::new(),
            live_logs: LogAccess::default(),
        })
    }

    /// Tasks in the queue, for status.
    pub fn queued(&self) -> usize {
        self.saved.work.len()
    }

    fn save(&self) -> Result<(), String> {
        let tmp = self.file.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&self.saved).map_err(|e| e.to_string())?;
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.file)
        };
        write().map_err(|e| format!("saving {}: {e}", self.file.display()))
    }

    /// One round: new assignments, every queued task one stage on, a heartbeat when due.
    pub fn step(&mut self) -> Result<Step, String> {
        let mut step = Step::default();
        self.follow(&mut step)?;
        let work = self.saved.work.clone();
        for w in work {
            if let Err(e) = self.advance(&w, &mut step) {
                step.lines
                    .push(format!("job {} task {}: {e}", w.job, w.task));
            }
        }
        self.heartbeat(&mut step)?;
        Ok(step)
    }

    fn follow(&mut self, step: &mut Step) -> Result<(), String> {
        loop {
            let page = self
                .port
                .events(self.saved.from_block, self.saved.cursor.as_deref());
            let (events, next, more) = match page {
                Ok(page) => page,
                // A reorg took the cursor's block: read again from the start (known
                // assignments are not added twice).
                Err(e) if e.contains("no longer canonical") => {
                    self.saved.cursor = None;
                    self.save()?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for e in &events {
                let ev = &e["event"];
                if ev["type"] != "taskAssigned" {
                    continue;
                }
                let mine = ev["providers"].as_array().is_some_and(|p| {
                    p.iter().any(|a| {
                        a.as_str().and_then(|s| s.parse::<Address>().ok()) == Some(self.me)
                    })
                });
                let (Some(job), Some(task)) = (ev["job"].as_str(), ev["task"].as_u64()) else {
                    continue;
                };
                if mine
                    && !self
                        .saved
                        .work
                        .iter()
                        .any(|w| w.job == job && w.task == task)
                {
                    step.lines.push(format!("assigned job {job} task {task}"));
                    self.saved.work.push(Work {
                        job: job.to_owned(),
                        task,
                        stage: Stage::Assigned,
                        result: None,
                        salt: None,
                        logs: None,
                        fetch_failures: 0,
                        slurm: None,
                        proof: None,
                    });
                }
            }
            if next.is_some() {
                self.saved.cursor = next;
            }
            self.save()?;
            if !more {
                return Ok(());
            }
        }
    }

    fn set(&mut self, w: &Work, f: impl FnOnce(&mut Work)) -> Result<(), String> {
        if let Some(x) = self
            .saved
            .work
            .iter_mut()
            .find(|x| x.job == w.job && x.task == w.task)
        {
            f(x);
        }
        self.save()
    }

    fn drop_work(&mut self, w: &Work) -> Result<(), String> {
        // Whatever still runs for it stops: its job was cancelled or ended without it.
        self.stop(w);
        self.saved
            .work
            .retain(|x| !(x.job == w.job && x.task == w.task));
        self.save()
    }

    fn advance(&mut self, w: &Work, step: &mut Step) -> Result<(), String> {
        let job = self.port.job(&w.job)?;
        let task = &job["tasks"][w.task as usize];
        let me = self.me.to_string();
        let mine = task["replicas"].as_array().and_then(|rs| {
            rs.iter()
                .rev()
                .find(|r| r["provider"].as_str() == Some(me.as_str()))
                .cloned()
        });
        let running = task["state"] == "running" || task["state"] == "review";
        let Some(mine) = mine.filter(|r| r["state"] == "active" && running) else {
            step.lines.push(format!(
                "job {} task {}: done ({})",
                w.job, w.task, task["state"]
            ));
            return self.drop_work(w);
        };
        match w.stage {
            Stage::Assigned => {
                let deadline = mine["deadline"].as_u64().unwrap_or(0);
                self.run(w, &job, deadline, step)
            }
            Stage::Ran if mine["committed"] == true => self.set(w, |x| x.stage = Stage::Committed),
            Stage::Ran => {
                let (result, salt) = self.opened(w)?;
                let digest = metamesh_state::result_digest(self.suite, &result);
                let commitment = metamesh_state::commitment(self.suite, &digest, &salt, &self.me);
                self.port.send(ComputeAction::Commit {
                    job: self.job_hash(w)?,
                    task: w.task,
                    commitment,
                })?;
                step.lines
                    .push(format!("job {} task {}: committed", w.job, w.task));
                self.set(w, |x| x.stage = Stage::Committed)
            }
            Stage::Committed if mine["revealed"] == true => {
                self.set(w, |x| x.stage = Stage::Revealed)
            }
            Stage::Committed => {
                let replicas = task["replicas"].as_array().cloned().unwrap_or_default();
                let active: Vec<&Value> =
                    replicas.iter().filter(|r| r["state"] == "active").collect();
                let wanted = task["wanted"].as_u64().unwrap_or(0) as usize;
                let committed = active.iter().filter(|r| r["committed"] == true).count();
                if committed < wanted {
                    return Ok(());
                }
                // Every replica is bound to its result: the log may be watched now.
                self.open_log(w)?;
                let (result, salt) = self.opened(w)?;
                let logs = w.logs.as_deref().and_then(unhex).unwrap_or_default();
                let proof = w.proof.as_deref().and_then(unhex).unwrap_or_default();
                self.port.send(ComputeAction::Reveal {
                    job: self.job_hash(w)?,
                    task: w.task,
                    salt,
                    result,
                    logs: Bytes(logs),
                    proof: Bytes(proof),
                })?;
                step.lines
                    .push(format!("job {} task {}: revealed", w.job, w.task));
                self.set(w, |x| x.stage = Stage::Revealed)
            }
            Stage::Revealed => Ok(()),
        }
    }

    fn job_hash(&self, w: &Work) -> Result<Hash, String> {
        hash_of(&w.job).ok_or_else(|| format!("{} is not a job id", w.job))
    }

    fn opened(&self, w: &Work) -> Result<(RunResult, Hash), String> {
        let raw = w
            .result
            .as_deref()
            .and_then(unhex)
            .ok_or("no result saved")?;
        let result = alloy_rlp::Decodable::decode(&mut raw.as_slice())
            .map_err(|e| format!("saved result: {e}"))?;
        let salt = w.salt.as_deref().and_then(hash_of).ok_or("no salt saved")?;
        Ok((result, salt))
    }

    fn heartbeat(&mut self, step: &mut Step) -> Result<(), String> {
        let head = self.port.head()?;
        if head < self.saved.last_heartbeat + self.heartbeat_every {
            return Ok(());
        }
        let p = self.port.provider()?;
        if p.is_null() {
            return Ok(());
        }
        let cores = p["inventory"]["cpu"]["cores"].as_u64().unwrap_or(1).max(1);
        let memory = p["inventory"]["memory"].as_u64().unwrap_or(0);
        let load = (self.saved.work.len() as u64 * 1000 / cores).min(1000);
        let entries = p["inventory"]["accelerators"]
            .as_array()
            .map_or(0, Vec::len);
        let online = (self.online)(&p["inventory"]);
        let online = if online.len() == entries {
            online
        } else {
            Vec::new()
        };
        self.port.send(ComputeAction::Heartbeat {
            load,
            // All it can give the network: nothing else runs on an agent's machine here.
            free_cpu: cores,
            free_memory: memory,
            online: online.clone(),
        })?;
        step.lines.push(format!(
            "heartbeat at block {head} (load {load}‰, devices online {online:?})"
        ));
        self.saved.last_heartbeat = head;
        self.save()
    }
}
