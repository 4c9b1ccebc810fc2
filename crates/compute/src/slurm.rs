//! The Slurm executor: a provider whose resources are a Slurm cluster. Each assigned task is
//! an `sbatch` job (its resources mapped to `--cpus-per-task`, `--mem`, `--gres=gpu:N` and
//! `--time` from its wall time) that runs the task's command in the same sandbox as the process
//! executor, on the node Slurm picks; the agent tracks it with `squeue`, learns how it ended
//! and what it used from Slurm's accounting (`sacct` where accounting storage is on, else
//! the controller's job record, `scontrol show job`), and collects `/out` from the job's
//! directory (shared with the nodes). Job ids are kept in the agent's queue, and each job is
//! named for its task, so a restarted agent finds the jobs it submitted before.

use std::{path::PathBuf, process::Command};

use metamesh_primitives::compute::{
    RUN_EXIT, RUN_KILLED, RUN_MEMORY_LIMIT, RUN_OK, RUN_PROVIDER, RUN_TIME_LIMIT, Usage,
};

use crate::{Native, ProcessTask, Run, process::collect_outputs};

/// A cluster to submit to.
#[derive(Clone, Debug)]
pub struct Slurm {
    /// `SLURM_CONF` for the client commands (none: theirs).
    pub conf: Option<PathBuf>,
    pub partition: Option<String>,
    /// Where job directories go: a filesystem the cluster's nodes share with the agent.
    pub dir: PathBuf,
}

/// Where a submitted job is.
#[derive(Debug)]
pub enum Polled {
    Waiting,
    Done(Run),
}

/// How a finished job ended, from accounting.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Accounted {
    pub state: String,
    pub exit: i32,
    pub signal: i32,
    pub elapsed_s: u64,
    pub cpu_ms: u64,
}

fn hms(text: &str) -> u64 {
    // [DD-]HH:MM:SS[.mmm] or MM:SS.mmm (sacct's TotalCPU)
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().unwrap_or(0), r),
        None => (0, text),
    };
    let mut ms = 0u64;
    for part in rest.split(':') {
        let (whole, frac) = part.split_once('.').unwrap_or((part, ""));
        ms = ms * 60 + whole.parse::<u64>().unwrap_or(0) * 1000;
        if !frac.is_empty() {
            ms += frac
                .get(..3.min(frac.len()))
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    days * 86_400_000 + ms
}

/// Reads `sacct -n -P -o State,ExitCode,ElapsedRaw,TotalCPU` lines (the job's own first).
pub fn parse_sacct(text: &str) -> Option<Accounted> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let f: Vec<&str> = line.split('|').collect();
    let (exit, signal) = f.get(1)?.split_once(':')?;
    Some(Accounted {
        state: f[0].split_whitespace().next()?.to_owned(),
        exit: exit.parse().ok()?,
        signal: signal.parse().ok()?,
        elapsed_s: f.get(2)?.parse().ok()?,
        cpu_ms: f.get(3).map_or(0, |t| hms(t)),
    })
}

/// Reads `scontrol show job -o ID`: `JobState=`, `ExitCode=a:b`, `RunTime=`.
pub fn parse_scontrol(text: &str) -> Option<Accounted> {
    let field = |k: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let (exit, signal) = field("ExitCode")?.split_once(':')?;
    Some(Accounted {
        state: field("JobState")?.to_owned(),
        exit: exit.parse().ok()?,
        signal: signal.parse().ok()?,
        elapsed_s: hms(field("RunTime")?) / 1000,
        cpu_ms: 0,
    })
}

impl Slurm {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        if let Some(conf) = &self.conf {
            c.env("SLURM_CONF", conf);
        }
        c
    }

    fn output(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| format!("running {program}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{program} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn job_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn job_name(name: &str) -> String {
        format!("mm-{name}")
    }

    /// A job already submitted for this task (an agent that died before saving its id).
    pub fn find(&self, name: &str) -> Option<String> {
        if let Ok(id) = std::fs::read_to_string(self.job_dir(name).join("jobid")) {
            return Some(id.trim().to_owned());
        }
        let out = self
            .output(
                "squeue",
                &["-h", "--me", "-n", &Self::job_name(name), "-o", "%i"],
            )
            .ok()?;
        out.lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
    }

    /// Submits the task; the Slurm job's id.
    pub fn submit(&self, native: &Native, task: &ProcessTask, gpus: u64) -> Result<String, String> {
        if let Some(id) = self.find(&task.name) {
            return Ok(id);
        }
        let dir = self.job_dir(&task.name);
        let _ = std::fs::remove_dir_all(&dir);
        let (plan, _) = native.prepare(&dir, task)?;
        let plan_file = dir.join("plan.json");
        let bytes = serde_json::to_vec(&plan).map_err(|e| e.to_string())?;
        std::fs::write(&plan_file, bytes).map_err(|e| format!("writing the plan: {e}"))?;
        let mut script =
            String::from("#!/bin/sh\n# A MetaMesh task: its command, in the sandbox.\nexec");
        for a in native
            .launcher
            .iter()
            .map(String::as_str)
            .chain([plan_file.to_str().ok_or("a path that is not UTF-8")?])
        {
            script.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
        }
        script.push('\n');
        let script_file = dir.join("job.sh");
        std::fs::write(&script_file, script)
            .map_err(|e| format!("writing the batch script: {e}"))?;
        let log = dir.join("slurm.log");
        let minutes = task.walltime.div_ceil(60).max(1);
        let mut args = vec![
            "--parsable".to_owned(),
            format!("--job-name={}", Self::job_name(&task.name)),
            format!("--chdir={}", dir.display()),
            format!("--output={}", log.display()),
            format!("--cpus-per-task={}", task.cpu.max(1)),
            format!("--mem={}M", task.memory.div_ceil(1 << 20).max(1)),
            format!("--time={minutes}"),
        ];
        if gpus > 0 {
            args.push(format!("--gres=gpu:{gpus}"));
        }
        if let Some(p) = &self.partition {
            args.push(format!("--partition={p}"));
        }
        args.push(script_file.to_string_lossy().into_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.output("sbatch", &refs)?;
        let id = out.trim().split(';').next().unwrap_or_default().to_owned();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("sbatch answered `{}`", out.trim()));
        }
        std::fs::write(dir.join("jobid"), &id).map_err(|e| format!("keeping the job id: {e}"))?;
        Ok(id)
    }

    /// How a finished job ended: accounting storage (`sacct`, with slurmdbd) first, then the
    /// controller's record (`scontrol show job`), then the job completion log (`sacct -c`).
    pub fn accounted(&self, id: &str) -> Option<Accounted> {
        let sacct = self.output(
            "sacct",
            &[
                "-n",
                "-P",
                "-X",
                "-j",
                id,
                "-o",
                "State,ExitCode,ElapsedRaw,TotalCPU",
            ],
        );
        if let Some(a) = sacct.ok().as_deref().and_then(parse_sacct) {
            return Some(a);
        }
        let record = self.output("scontrol", &["show", "job", "-o", id]);
        if let Some(a) = record.ok().as_deref().and_then(parse_scontrol) {
            return Some(a);
        }
        // A cluster without slurmdbd keeps only its job completion log after `MinJobAge`.
        let fields = [
            "-c",
            "-n",
            "-P",
            "-j",
            id,
            "-o",
            "State,ExitCode,ElapsedRaw",
        ];
        self.output("sacct", &fields)
            .ok()
            .as_deref()
            .and_then(parse_sacct)
    }

    /// Where the job is; when it has ended, its run.
    pub fn poll(&self, id: &str, name: &str) -> Result<Polled, String> {
        let queued = self
            .output("squeue", &["-h", "-j", id, "-o", "%T"])
            .unwrap_or_default();
        let state = queued.trim();
        if matches!(
            state,
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "SUSPENDED"
                | "REQUEUED"
                | "RESIZING"
        ) {
            return Ok(Polled::Waiting);
        }
        let Some(a) = self.accounted(id) else {
            return Err(format!(
                "Slurm job {id}: not in the queue, and no accounting record"
            ));
        };
        if matches!(
            a.state.as_str(),
            "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED" | "REQUEUED"
        ) {
            return Ok(Polled::Waiting);
        }
        Ok(Polled::Done(self.finished(name, &a)))
    }

    fn finished(&self, name: &str, a: &Accounted) -> Run {
        let dir = self.job_dir(name);
        // Slurm without accounting storage keeps no CPU time: the launcher's own (from wait4).
        let measured: Option<Usage> = std::fs::read(dir.join("usage.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<(u64, u64)>(&b).ok())
            .map(|(cpu_ms, memory)| Usage {
                wall_ms: 0,
                cpu_ms,
                memory,
            });
        let usage = Usage {
            wall_ms: a.elapsed_s * 1000,
            cpu_ms: if a.cpu_ms > 0 {
                a.cpu_ms
            } else {
                measured.as_ref().map_or(0, |u| u.cpu_ms)
            },
            memory: measured.map_or(0, |u| u.memory),
        };
        let why = std::fs::read_to_string(dir.join("launch-error")).unwrap_or_default();
        let (status, code, reason) = match a.state.as_str() {
            "COMPLETED" if a.exit == 0 => (RUN_OK, 0, None),
            _ if a.exit == crate::sandbox::LAUNCH_FAILED && !why.is_empty() => (
                RUN_PROVIDER,
                0,
                Some(format!("the sandbox could not start it: {why}")),
            ),
            "TIMEOUT" => (
                RUN_TIME_LIMIT,
                0,
                Some("reached its Slurm time limit".into()),
            ),
            "OUT_OF_MEMORY" => (
                RUN_MEMORY_LIMIT,
                0,
                Some("Slurm killed it for its memory".into()),
            ),
            "CANCELLED" => (RUN_KILLED, 9, Some("cancelled in Slurm".into())),
            "NODE_FAIL" | "BOOT_FAIL" | "PREEMPTED" | "DEADLINE" => (
                RUN_PROVIDER,
                0,
                Some(format!("the cluster ended it: {}", a.state)),
            ),
            _ if a.signal != 0 => (
                RUN_KILLED,
                a.signal as u64,
                Some(format!("killed by signal {}", a.signal)),
            ),
            _ => (
                RUN_EXIT,
                a.exit as u64,
                Some(format!("exited with code {} ({})", a.exit, a.state)),
            ),
        };
        let outputs = if status == RUN_OK {
            match collect_outputs(&dir.join("out")) {
                Ok(o) => o,
                Err(e) => {
                    return Run {
                        usage,
                        ..Run::failed(metamesh_primitives::compute::RUN_BAD_PROGRAM, e)
                    };
                }
            }
        } else {
            Default::default()
        };
        Run {
            status,
            code,
            fuel: 0,
            outputs,
            stdout: Vec::new(),
            stderr: Vec::new(),
            reason,
            usage,
        }
    }

    /// The job's output so far.
    pub fn log(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.job_dir(name).join("slurm.log")).unwrap_or_default()
    }

    /// Cancels the job (its job ended on chain).
    pub fn cancel(&self, id: &str) {
        let _ = self.output("scancel", &[id]);
    }

    /// Removes a finished job's directory.
    pub fn clean(&self, name: &str) {
        let _ = std::fs::remove_dir_all(self.job_dir(name));
    }

    /// The partition's nodes, from `scontrol show nodes -o`: cores, memory (bytes) and GPUs.
    pub fn nodes(&self) -> Result<Vec<Node>, String> {
        let out = self.output("scontrol", &["show", "nodes", "-o"])?;
        Ok(parse_nodes(&out))
    }
}

/// One node of the cluster, as `scontrol show nodes` gives it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub cpus: u64,
    pub memory: u64,
    pub gpus: u64,
    pub gpu_model: String,
    pub state: String,
}

/// Reads `scontrol show nodes -o` lines.
pub fn parse_nodes(text: &str) -> Vec<Node> {
    text.lines()
        .filter(|l| l.contains("NodeName="))
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
                    .unwrap_or_default()
            };
            // Gres=gpu:a100:4(S:0-1) or gpu:2
            let (gpus, gpu_model) = field("Gres")
                .split(',')
                .find_map(|g| {
                    let g = g.split('(').next()?;
                    let mut parts = g.split(':');
                    (parts.next()? == "gpu").then(|| {
                        let rest: Vec<&str> = parts.collect();
                        match rest.as_slice() {
                            [model, n] => (n.parse().unwrap_or(0), (*model).to_owned()),
                            [n] => (n.parse().unwrap_or(0), String::new()),
                            _ => (0, String::new()),
                        }
                    })
                })
                .unwrap_or((0, String::new()));
            Node {
                name: field("NodeName").to_owned(),
                cpus: field("CPUTot").parse().unwrap_or(0),
                memory: field("RealMemory").parse::<u64>().unwrap_or(0) << 20,
                gpus,
                gpu_model,
                state: field("State").to_owned(),
            }
        })
        .collect()
}

/// The path of the directory a job of `name` runs in (for tests and status).
pub fn job_dir(slurm: &Slurm, name: &str) -> PathBuf {
    slurm.job_dir(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_and_nodes_parse() {
        let a = parse_sacct("COMPLETED|0:0|3|00:01.234\n").unwrap();
        assert_eq!(
            (a.state.as_str(), a.exit, a.elapsed_s, a.cpu_ms),
            ("COMPLETED", 0, 3, 1_234)
        );
        let c = parse_sacct("CANCELLED by 0|0:15|61|01:00:02\n").unwrap();
        assert_eq!(
            (c.state.as_str(), c.signal, c.cpu_ms),
            ("CANCELLED", 15, 3_602_000)
        );
        let s = parse_scontrol("JobId=7 JobName=mm-x JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 RunTime=00:00:02 TimeLimit=00:01:00").unwrap();
        assert_eq!((s.state.as_str(), s.exit, s.elapsed_s), ("FAILED", 3, 2));
        let nodes = parse_nodes(
            "NodeName=gpu01 Arch=x86_64 CoresPerSocket=16 CPUAlloc=0 CPUTot=64 Gres=gpu:a100:4(S:0-1) RealMemory=515000 State=IDLE\nNodeName=cpu01 CPUTot=2 Gres=(null) RealMemory=1000 State=MIXED\n",
        );
        assert_eq!(nodes.len(), 2);
        assert_eq!(
            (nodes[0].cpus, nodes[0].gpus, nodes[0].gpu_model.as_str()),
            (64, 4, "a100")
        );
        assert_eq!((nodes[1].memory, nodes[1].gpus), (1000 << 20, 0));
    }
}
