//! A job file: a task graph in TOML, read into the chain's shapes. Wasm tasks name a program
//! file or CID; process and Slurm tasks a command over software the provider offers.

use std::collections::BTreeMap;

use metamesh_primitives::{
    Amount, Hash,
    compute::{
        ACCELERATOR_KINDS, AcceleratorNeed, Comparator, EXECUTORS, LINK_KINDS, PRESETS,
        PinnedClaim, Resources, VERIFY_ZK,
    },
};
use serde::Deserialize;

use crate::inventory::{FileError, Size, amount, err, index_of, no_size};

/// A task's GPU (or other accelerator) ask: `gpu = 1` or `gpu = { count = 1, model = "A100" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DeviceAsk {
    Count(u64),
    Detail {
        count: u64,
        #[serde(default)]
        model: String,
        #[serde(default = "no_size")]
        memory: Size,
    },
}

/// A task's resource package in a job file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesFile {
    #[serde(default)]
    pub cpu: u64,
    pub memory: Option<Size>,
    pub disk: Option<Size>,
    pub gpu: Option<DeviceAsk>,
    pub npu: Option<DeviceAsk>,
    pub tpu: Option<DeviceAsk>,
    pub gpgpu: Option<DeviceAsk>,
    pub fpga: Option<DeviceAsk>,
    pub link: Option<String>,
}

impl ResourcesFile {
    pub fn resolve(&self, task: &str) -> Result<Resources, FileError> {
        let what = |f: &str| format!("task {task}: resources.{f}");
        let mut accelerators = Vec::new();
        for (kind, ask) in [
            (0u8, &self.gpu),
            (1, &self.npu),
            (2, &self.tpu),
            (3, &self.gpgpu),
            (4, &self.fpga),
        ] {
            let Some(ask) = ask else { continue };
            let (count, model, memory) = match ask {
                DeviceAsk::Count(n) => (*n, String::new(), 0),
                DeviceAsk::Detail {
                    count,
                    model,
                    memory,
                } => (
                    *count,
                    model.clone(),
                    memory.bytes(&what(ACCELERATOR_KINDS[kind as usize]))?,
                ),
            };
            if count == 0 {
                return err(format!(
                    "{}: a count of 0",
                    what(ACCELERATOR_KINDS[kind as usize])
                ));
            }
            accelerators.push(AcceleratorNeed {
                kind,
                model,
                memory,
                count,
            });
        }
        let link = match &self.link {
            None => 0,
            Some(l) => index_of(&LINK_KINDS, l, &what("link"))? + 1,
        };
        Ok(Resources {
            cpu: self.cpu,
            memory: self
                .memory
                .as_ref()
                .map(|m| m.bytes(&what("memory")))
                .transpose()?
                .unwrap_or(0),
            disk: self
                .disk
                .as_ref()
                .map(|m| m.bytes(&what("disk")))
                .transpose()?
                .unwrap_or(0),
            accelerators,
            link,
        })
    }
}

/// `verification = { replicas = 2 }`, with a tolerance comparator
/// `comparator = { json = "result.json", rtol = 1e-6, atol = 1e-9 }`, `"requester"`, or a
/// proof for a registered circuit: `{ zk = "0x…circuit id" }`, optionally pinning claims the
/// result must carry by the circuit's input names: `claims = { commitment = "1234…" }`
/// (decimal, as snarkjs writes public inputs).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawVerification")]
pub enum VerificationFile {
    Mode(String),
    Quorum {
        replicas: u64,
        comparator: Option<ComparatorFile>,
    },
    Zk {
        zk: String,
        claims: BTreeMap<String, String>,
    },
}

/// What `verification` may be before it is told apart: a word or a table.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawVerification {
    Mode(String),
    Table(toml::Table),
}

impl TryFrom<RawVerification> for VerificationFile {
    type Error = String;

    fn try_from(raw: RawVerification) -> Result<Self, String> {
        let table = match raw {
            RawVerification::Mode(m) => return Ok(VerificationFile::Mode(m)),
            RawVerification::Table(t) => t,
        };
        let (zk, allowed): (bool, &[&str]) = if table.contains_key("zk") {
            (true, &["zk", "claims"])
        } else {
            (false, &["replicas", "comparator"])
        };
        if let Some(k) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
            let kind = if zk { "a zk task" } else { "a quorum" };
            return Err(format!(
                "verification: `{k}` does not belong here ({kind} takes {})",
                allowed.join(" and ")
            ));
        }
        let value = toml::Value::Table(table);
        if zk {
            #[derive(Deserialize)]
            struct Zk {
                zk: String,
                #[serde(default)]
                claims: BTreeMap<String, String>,
            }
            let z: Zk = value
                .try_into()
                .map_err(|e| format!("verification {{ zk = … }}: {e}"))?;
            return Ok(VerificationFile::Zk {
                zk: z.zk,
                claims: z.claims,
            });
        }
        #[derive(Deserialize)]
        struct Quorum {
            replicas: u64,
            comparator: Option<ComparatorFile>,
        }
        let q: Quorum = value
            .try_into()
            .map_err(|e| format!("verification {{ replicas = N }}: {e}"))?;
        Ok(VerificationFile::Quorum {
            replicas: q.replicas,
            comparator: q.comparator,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparatorFile {
    pub json: String,
    #[serde(default)]
    pub rtol: f64,
    #[serde(default)]
    pub atol: f64,
}

/// A Wasm program (a path or CID), or a native command:
/// `program = { command = ["python3", "scf.py", "--basis", "sto-3g"] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProgramFile {
    File(String),
    Command { command: Vec<String> },
}

/// Seconds, or a number with a unit (`90 s`, `30 min`, `2 h`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Duration {
    Seconds(u64),
    Text(String),
}

impl Duration {
    pub fn seconds(&self, what: &str) -> Result<u64, FileError> {
        let text = match self {
            Duration::Seconds(s) => return Ok(*s),
            Duration::Text(t) => t.trim(),
        };
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (n, unit) = text.split_at(split);
        let mult = match unit.trim() {
            "" | "s" => 1,
            "min" | "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => 0,
        };
        match n.parse::<u64>() {
            Ok(n) if mult > 0 => Ok(n.saturating_mul(mult)),
            _ => err(format!(
                "{what}: `{text}` is not a duration (say 90 s, 30 min or 2 h)"
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub name: String,
    /// A path (the CLI adds the file) or a CID; or a command for the process and Slurm
    /// executors.
    pub program: ProgramFile,
    #[serde(default)]
    pub args: Vec<String>,
    /// Name under `/in` → a path, a CID, or `TASK:OUTPUT`.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    #[serde(default)]
    pub resources: ResourcesFile,
    pub verification: Option<VerificationFile>,
    /// Blocks (default 60 for Wasm; for a command 60 plus its wall time at a second a block).
    pub timeout: Option<u64>,
    #[serde(default)]
    pub after: Vec<String>,
    /// `wasm` for a program file, `process` for a command, unless given.
    pub executor: Option<String>,
    /// The most fuel one Wasm run may burn.
    pub fuel: Option<u64>,
    /// The most wall time one native run may take (default 10 min).
    pub walltime: Option<Duration>,
    /// Packages the provider must offer beyond the command's software (`pyscf`).
    #[serde(default)]
    pub software: Vec<String>,
    /// Whether the run may reach the network.
    #[serde(default)]
    pub network: bool,
    /// Times a failed run is tried again on another provider.
    #[serde(default)]
    pub retries: u64,
}

/// What a task's fields come to on chain beyond its inputs and order.
#[derive(Debug, Clone, PartialEq)]
pub struct Native {
    pub executor: u8,
    /// The arguments on chain: a Wasm task's args, a native task's whole command.
    pub args: Vec<String>,
    pub fuel: u64,
    pub walltime: u64,
    pub software: Vec<String>,
    pub timeout: u64,
}

fn default_timeout() -> u64 {
    60
}

fn default_fuel() -> u64 {
    10_000_000_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsFile {
    #[serde(default)]
    pub load: u8,
    #[serde(default)]
    pub idle: u8,
    #[serde(default)]
    pub data: u8,
    #[serde(default)]
    pub price: u8,
    #[serde(default)]
    pub performance: u8,
    #[serde(default)]
    pub network: u8,
    #[serde(default)]
    pub quality: u8,
}

/// A job file, before its paths are added to the content store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    pub name: String,
    pub max_price: String,
    pub preset: Option<String>,
    pub weights: Option<WeightsFile>,
    #[serde(default)]
    pub gang: bool,
    pub tasks: Vec<TaskFile>,
}

/// Where one input or program comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file to add (relative to the job file's folder).
    Path(String),
    Cid(String),
    /// Output `output` of the task named `task`.
    Task {
        task: String,
        output: String,
    },
}

/// A source as written: `TASK:OUTPUT` when TASK names a task of the job, a CID when it parses
/// as one (`Qm…`, `baf…`), else a path.
pub fn source(text: &str, task_names: &[&str], is_cid: impl Fn(&str) -> bool) -> Source {
    if let Some((t, o)) = text.split_once(':')
        && task_names.contains(&t)
    {
        return Source::Task {
            task: t.to_owned(),
            output: o.to_owned(),
        };
    }
    if is_cid(text) {
        return Source::Cid(text.to_owned());
    }
    Source::Path(text.to_owned())
}

impl JobFile {
    pub fn parse(text: &str) -> Result<JobFile, FileError> {
        let job: JobFile = toml::from_str(text).map_err(|e| FileError(format!("job file: {e}")))?;
        if job.tasks.is_empty() {
            return err("job file: no [[tasks]]");
        }
        Ok(job)
    }

    /// The preset's index and the weights (empty for the preset's).
    pub fn scheduling(&self) -> Result<(u8, Vec<u8>), FileError> {
        let preset = match &self.preset {
            Some(p) => index_of(&PRESETS, p, "preset")?,
            None => 0,
        };
        let weights = match &self.weights {
            None => Vec::new(),
            Some(w) => {
                let v = vec![
                    w.load,
                    w.idle,
                    w.data,
                    w.price,
                    w.performance,
                    w.network,
                    w.quality,
                ];
                if v.iter().all(|x| *x == 0) {
                    return err("weights: at least one must be above 0");
                }
                v
            }
        };
        Ok((preset, weights))
    }

    pub fn max_price(&self) -> Result<Amount, FileError> {
        amount(&self.max_price, "max_price")
    }

    pub fn executor(t: &TaskFile) -> Result<u8, FileError> {
        let default = match t.program {
            ProgramFile::File(_) => "wasm",
            ProgramFile::Command { .. } => "process",
        };
        let what = format!("task {}: executor", t.name);
        index_of(&EXECUTORS, t.executor.as_deref().unwrap_or(default), &what)
    }

    /// The executor, arguments, fuel, wall time and software a task comes to.
    pub fn native(t: &TaskFile) -> Result<Native, FileError> {
        let executor = Self::executor(t)?;
        let what = |f: &str| format!("task {}: {f}", t.name);
        match (&t.program, executor) {
            (ProgramFile::File(_), 0) => {
                if t.walltime.is_some() || !t.software.is_empty() {
                    return err(what("a Wasm task takes fuel, not walltime or software"));
                }
                Ok(Native {
                    executor,
                    args: t.args.clone(),
                    fuel: t.fuel.unwrap_or_else(default_fuel),
                    walltime: 0,
                    software: Vec::new(),
                    timeout: t.timeout.unwrap_or_else(default_timeout),
                })
            }
            (ProgramFile::Command { command }, 1..) => {
                let Some(first) = command.first() else {
                    return err(what("program.command is empty"));
                };
                if t.fuel.is_some() || !t.args.is_empty() {
                    return err(what(
                        "a command task takes its arguments in the command, and walltime instead of fuel",
                    ));
                }
                let mut software = t.software.clone();
                if !first.starts_with("/in/") {
                    software.push(first.clone());
                }
                software.sort();
                software.dedup();
                let walltime = match &t.walltime {
                    Some(d) => d.seconds(&what("walltime"))?,
                    None => 600,
                };
                Ok(Native {
                    executor,
                    args: command.clone(),
                    fuel: 0,
                    walltime,
                    software,
                    timeout: t.timeout.unwrap_or(60 + walltime),
                })
            }
            (ProgramFile::File(_), _) => err(what(
                "a process or Slurm task names a command: program = { command = [...] }",
            )),
            (ProgramFile::Command { .. }, _) => {
                err(what("a Wasm task names a program file, not a command"))
            }
        }
    }

    /// The comparator of a task's quorum (exact when none).
    pub fn comparator(t: &TaskFile) -> Result<Comparator, FileError> {
        let Some(VerificationFile::Quorum {
            comparator: Some(c),
            ..
        }) = &t.verification
        else {
            return Ok(Comparator::default());
        };
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(c.rtol) || !ok(c.atol) {
            return err(format!(
                "task {}: comparator tolerances must be finite and not negative",
                t.name
            ));
        }
        Ok(Comparator {
            file: c.json.clone(),
            rtol: c.rtol.to_bits(),
            atol: c.atol.to_bits(),
        })
    }

    /// The verification mode and replicas of a task (2 replicas by default).
    pub fn verification(t: &TaskFile) -> Result<(u8, u64), FileError> {
        match &t.verification {
            None => Ok((0, 2)),
            Some(VerificationFile::Quorum { replicas, .. }) => Ok((0, *replicas)),
            Some(VerificationFile::Mode(m)) if m == "requester" => Ok((1, 1)),
            Some(VerificationFile::Zk { .. }) => Ok((VERIFY_ZK, 1)),
            Some(VerificationFile::Mode(m)) => err(format!(
                "task {}: verification `{m}`: say {{ replicas = N }}, \"requester\" or \
                 {{ zk = \"CIRCUIT_ID\" }}",
                t.name
            )),
        }
    }

    /// The circuit a zk task's proof is for (zero for other tasks).
    pub fn circuit(t: &TaskFile) -> Result<Hash, FileError> {
        let Some(VerificationFile::Zk { zk, .. }) = &t.verification else {
            return Ok([0; 32]);
        };
        let hex = zk.strip_prefix("0x").unwrap_or(zk);
        match hex::decode(hex).ok().and_then(|b| Hash::try_from(b).ok()) {
            Some(id) if id != [0; 32] => Ok(id),
            _ => err(format!(
                "task {}: verification {{ zk = {zk:?} }}: a circuit id is 32 bytes of hex \
                 (`metamesh zk circuits` lists them)",
                t.name
            )),
        }
    }

    /// The claims a zk task pins, by their index among `claim_names` (the circuit's public
    /// inputs other than its bindings, in order).
    pub fn pinned(t: &TaskFile, claim_names: &[String]) -> Result<Vec<PinnedClaim>, FileError> {
        let Some(VerificationFile::Zk { claims, .. }) = &t.verification else {
            return Ok(Vec::new());
        };
        let mut pinned = Vec::new();
        for (name, value) in claims {
            let Some(index) = claim_names.iter().position(|n| n == name) else {
                return err(format!(
                    "task {}: claims: the circuit has no claim `{name}` (its claims: {})",
                    t.name,
                    claim_names.join(", ")
                ));
            };
            let value = metamesh_zk::field::decimal_be(value, name)
                .map_err(|e| FileError(format!("task {}: claims: {e}", t.name)))?;
            pinned.push(PinnedClaim {
                index: index as u64,
                value,
            });
        }
        pinned.sort_by_key(|p| p.index);
        Ok(pinned)
    }
}
