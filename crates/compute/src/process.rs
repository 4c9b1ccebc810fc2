//! The process executor: a task's command over software the provider offers (or a binary
//! among its inputs), run in the [`crate::sandbox`] with `/in` and `/out`, metered from the
//! kernel's accounting (`wait4`'s resource use, the control groups' counters).

use std::{
    collections::BTreeMap,
    io::Read as _,
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use metamesh_primitives::compute::{
    RUN_BAD_INPUT, RUN_BAD_PROGRAM, RUN_EXIT, RUN_KILLED, RUN_MEMORY_LIMIT, RUN_OK,
    RUN_PROCESS_LIMIT, RUN_PROVIDER, RUN_TIME_LIMIT, Usage,
};
use serde::{Deserialize, Serialize};

use crate::{
    Run,
    cgroups::Groups,
    sandbox::{Bind, Plan, Rlimits},
};

/// Software a provider offers process tasks: a command and what it needs of the host.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Software {
    /// The executable (absolute, the same inside the sandbox).
    pub path: PathBuf,
    /// Directories it needs beyond the system's (its prefix, its packages), bound read-only.
    #[serde(default)]
    pub prefixes: Vec<PathBuf>,
    /// Packages it provides (`numpy`, `pyscf`): names tasks may ask for.
    #[serde(default)]
    pub packages: Vec<String>,
}

/// How this provider runs native tasks.
#[derive(Clone, Debug)]
pub struct Native {
    /// The launcher and its leading arguments; the plan's path is added last.
    pub launcher: Vec<String>,
    /// Where each run gets its scratch directory.
    pub scratch: PathBuf,
    pub software: BTreeMap<String, Software>,
    /// Whether tasks that ask for the network may have it.
    pub allow_network: bool,
    /// The unprivileged user and group runs take.
    pub uid: u32,
    pub gid: u32,
    /// Refuse to run where the kernel gives no namespaces (see [`crate::sandbox`]).
    pub strict: bool,
}

/// What one process run is.
#[derive(Debug)]
pub struct ProcessTask {
    /// A unique name for its scratch directory and control groups.
    pub name: String,
    /// The command: software the provider offers or `/in/NAME`, then arguments.
    pub command: Vec<String>,
    pub inputs: BTreeMap<String, Vec<u8>>,
    pub cpu: u64,
    pub memory: u64,
    pub walltime: u64,
    pub network: bool,
    /// Where stdout and stderr go, live (the agent serves this file while it runs).
    pub log: PathBuf,
    /// Set to stop the run.
    pub cancel: Arc<AtomicBool>,
}

/// Bytes `/out` may hold in all, and files.
const MAX_OUTPUT: u64 = 1 << 30;
const MAX_OUTPUT_FILES: usize = 64;
const OPEN_FILES: u64 = 256;
/// Processes (threads count) a run may have: 64, and 4 more for every core it asked for
/// (BLAS and OpenMP start a thread per core).
fn processes(cpu: u64) -> u64 {
    64 + 4 * cpu.min(1024)
}

/// The system directories every run sees read-only.
const SYSTEM: [&str; 6] = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"];
const DEVICES: [&str; 4] = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];

fn failed(status: u8, reason: String) -> Run {
    Run::failed(status, reason)
}

impl Native {
    /// The machine's `python3` (resolved past shims to the real interpreter), with the
    /// packages of `wanted` it can import; `None` without one.
    pub fn detect_python(wanted: &[&str]) -> Option<Software> {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix); print(sys.prefix)",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8(out.stdout).ok()?;
        let mut lines = text.lines();
        let path = PathBuf::from(lines.next()?);
        let mut prefixes: Vec<PathBuf> = lines.map(PathBuf::from).collect();
        prefixes.dedup();
        let packages = wanted
            .iter()
            .filter(|p| {
                std::process::Command::new(&path)
                    .args(["-c", &format!("import {p}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .map(|p| (*p).to_owned())
            .collect();
        Some(Software {
            path: std::fs::canonicalize(&path).unwrap_or(path),
            prefixes,
            packages,
        })
    }

    /// The names an inventory lists: each software and each of its packages, sorted.
    pub fn offered(&self) -> Vec<String> {
        crate::inventory::offered(&self.software)
    }

    /// Runs one task to its end (or its wall time, or its cancellation).
    pub fn run(&self, task: &ProcessTask) -> Run {
        let dir = self.scratch.join(&task.name);
        let _ = std::fs::remove_dir_all(&dir);
        let outcome = self.prepare(&dir, task).and_then(|(plan, binds)| {
            // Named for this agent too: two agents on one machine may run the same task.
            let group = format!("{}-{}", std::process::id(), task.name);
            let groups = Groups::create(&group, task.memory.max(16 << 20), processes(task.cpu));
            let plan = Plan {
                cgroups: groups.dirs(),
                ..plan
            };
            let plan_file = dir.join("plan.json");
            let bytes = serde_json::to_vec(&plan).map_err(|e| e.to_string())?;
            std::fs::write(&plan_file, bytes).map_err(|e| format!("writing the plan: {e}"))?;
            Ok(self.launch(&dir, &plan_file, &plan, task, &groups, binds))
        });
        let run = match outcome {
            Ok(run) => run,
            Err(e) => failed(RUN_PROVIDER, e),
        };
        let _ = std::fs::remove_dir_all(&dir);
        run
    }

    /// The scratch directory (inputs in `in/`, empty `out/` and `tmp/` the run's user owns)
    /// and the plan; an error is the provider's (or, for a bad command, the task's) fault.
    pub(crate) fn prepare(&self, dir: &Path, task: &ProcessTask) -> Result<(Plan, usize), String> {
        let io = |e: std::io::Error| format!("preparing {}: {e}", dir.display());
        for sub in ["in", "out", "tmp", "root"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(io)?;
        }
        for (name, bytes) in &task.inputs {
            // The names come from the chain, through a node: checked again here, as paths.
            if !metamesh_state::domains::compute::file_name_ok(name) {
                return Err(format!("an input name that is not a file name: {name:?}"));
            }
            let path = dir.join("in").join(name);
            std::fs::write(&path, bytes).map_err(io)?;
            let mode = if task
                .command
                .first()
                .is_some_and(|c| c == &format!("/in/{name}"))
            {
                0o755
            } else {
                0o644
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
        }
        for sub in ["out", "tmp"] {
            std::os::unix::fs::chown(dir.join(sub), Some(self.uid), Some(self.gid)).map_err(io)?;
        }
        let Some(first) = task.command.first() else {
            return Err("the task has no command".into());
        };
        let mut binds: Vec<Bind> = SYSTEM
            .iter()
            .filter(|p| Path::new(p).exists())
            .map(|p| Bind {
                source: p.into(),
                target: p.into(),
                writable: false,
            })
            .collect();
        let program = if let Some(name) = first.strip_prefix("/in/") {
            if !task.inputs.contains_key(name) {
                return Err(format!(
                    "the command names /in/{name}, which is not an input"
                ));
            }
            first.clone()
        } else {
            let sw = self
                .software
                .get(first)
                .ok_or_else(|| format!("this provider offers no software named {first}"))?;
            for p in &sw.prefixes {
                binds.push(Bind {
                    source: p.clone(),
                    target: p.clone(),
                    writable: false,
                });
            }
            sw.path.to_string_lossy().into_owned()
        };
        for d in DEVICES.iter().filter(|d| Path::new(d).exists()) {
            binds.push(Bind {
                source: d.into(),
                target: d.into(),
                writable: true,
            });
        }
        for (sub, writable) in [("in", false), ("out", true), ("tmp", true)] {
            binds.push(Bind {
                source: dir.join(sub),
                target: format!("/{sub}").into(),
                writable,
            });
        }
        let threads = task.cpu.max(1).to_string();
        let env = [
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("HOME", "/tmp".to_owned()),
            ("TMPDIR", "/tmp".to_owned()),
            ("LANG", "C.UTF-8".to_owned()),
            ("METAMESH_IN", "/in".to_owned()),
            ("METAMESH_OUT", "/out".to_owned()),
            ("OMP_NUM_THREADS", threads.clone()),
            ("OPENBLAS_NUM_THREADS", threads.clone()),
            ("MKL_NUM_THREADS", threads),
        ];
        let n = binds.len();
        let plan = Plan {
            root: dir.join("root"),
            binds,
            cwd: "/in".into(),
            argv: std::iter::once(program)
                .chain(task.command[1..].iter().cloned())
                .collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            limits: Rlimits {
                cpu_seconds: task
                    .walltime
                    .saturating_mul(task.cpu.max(1))
                    .saturating_add(1),
                // Virtual memory runs well past what is resident (thread stacks, BLAS
                // buffers): the control group bounds memory; this bounds runaway mappings.
                address_space: task
                    .memory
                    .max(16 << 20)
                    .saturating_mul(4)
                    .saturating_add(2 << 30),
                open_files: OPEN_FILES,
                // A backstop: the control group's count (which says it was hit) comes first.
                processes: processes(task.cpu) + 16,
                file_size: MAX_OUTPUT,
            },
            uid: self.uid,
            gid: self.gid,
            network: task.network && self.allow_network,
            cgroups: Vec::new(),
            error_file: dir.join("launch-error"),
            usage_file: Some(dir.join("usage.json")),
            strict: self.strict,
        };
        Ok((plan, n))
    }

    fn launch(
        &self,
        dir: &Path,
        plan_file: &Path,
        plan: &Plan,
        task: &ProcessTask,
        groups: &Groups,
        binds: usize,
    ) -> Run {
        let log = match std::fs::File::create(&task.log) {
            Ok(f) => f,
            Err(e) => return failed(RUN_PROVIDER, format!("creating the log: {e}")),
        };
        let err = match log.try_clone() {
            Ok(f) => f,
            Err(e) => return failed(RUN_PROVIDER, format!("creating the log: {e}")),
        };
        {
            use std::io::Write as _;
            let mut header = &log;
            let _ = writeln!(
                header,
                "[sandbox] {} binds, network {}, {}, limits: {} s wall, {} bytes, {} processes, {} files",
                binds,
                if plan.network { "allowed" } else { "none" },
                groups.describe(),
                task.walltime,
                task.memory,
                processes(task.cpu),
                OPEN_FILES
            );
        }
        let Some((launcher, lead)) = self.launcher.split_first() else {
            return failed(RUN_PROVIDER, "no sandbox launcher configured".into());
        };
        let start = Instant::now();
        let child = std::process::Command::new(launcher)
            .args(lead)
            .arg(plan_file)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                return failed(
                    RUN_PROVIDER,
                    format!("starting the sandbox launcher {launcher}: {e}"),
                );
            }
        };
        let pid = child.id() as libc::pid_t;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _keep = child;
            let mut status = 0;
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let r = loop {
                let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
                if r != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break r;
                }
            };
            let _ = tx.send((r, status, usage));
        });
        let limit = Duration::from_secs(task.walltime.max(1));
        let mut why_killed = None;
        let (r, status, usage) = loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(done) => break done,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let cancelled = task.cancel.load(Ordering::Relaxed);
                    if why_killed.is_none() && (cancelled || start.elapsed() >= limit) {
                        why_killed = Some(if cancelled { "cancelled" } else { "wall time" });
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        groups.kill_all();
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return failed(RUN_PROVIDER, "lost the run's waiter".into());
                }
            }
        };
        let wall = start.elapsed();
        groups.kill_all();
        if r == -1 {
            return failed(RUN_PROVIDER, "waiting for the run failed".into());
        }
        let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
        let used = Usage {
            wall_ms: wall.as_millis() as u64,
            cpu_ms: ms(usage.ru_utime) + ms(usage.ru_stime),
            memory: (usage.ru_maxrss as u64 * 1024).max(groups.peak_memory()),
        };
        let code = libc::WEXITSTATUS(status);
        let signalled = libc::WIFSIGNALED(status);
        let why = std::fs::read_to_string(&plan.error_file).unwrap_or_default();
        if !signalled && code == crate::sandbox::LAUNCH_FAILED && !why.is_empty() {
            let status = if why.contains("offers no software") || why.contains("starting /in/") {
                RUN_BAD_INPUT
            } else {
                RUN_PROVIDER
            };
            return Run {
                usage: used,
                ..failed(status, format!("the sandbox could not start it: {why}"))
            };
        }
        let (status, code, reason) = match (why_killed, signalled) {
            (Some("cancelled"), _) => (RUN_KILLED, 9, Some("cancelled".to_owned())),
            _ if (signalled || code != 0) && groups.memory_hit() => (
                RUN_MEMORY_LIMIT,
                0,
                Some(format!(
                    "used more than its {} bytes of memory",
                    task.memory
                )),
            ),
            _ if (signalled || code != 0) && groups.processes_hit() => (
                RUN_PROCESS_LIMIT,
                0,
                Some(format!(
                    "tried to run more than {} processes",
                    processes(task.cpu)
                )),
            ),
            (Some(_), _) => (
                RUN_TIME_LIMIT,
                0,
                Some(format!("reached its wall time of {} s", task.walltime)),
            ),
            (None, true) => {
                let sig = libc::WTERMSIG(status);
                let what = if sig == libc::SIGXCPU {
                    " (its CPU time limit)"
                } else {
                    ""
                };
                (
                    RUN_KILLED,
                    sig as u64,
                    Some(format!("killed by signal {sig}{what}")),
                )
            }
            (None, false) if code == 0 => (RUN_OK, 0, None),
            (None, false) => (
                RUN_EXIT,
                code as u64,
                Some(format!("exited with code {code}")),
            ),
        };
        let outputs = if status == RUN_OK {
            match collect_outputs(&dir.join("out")) {
                Ok(o) => o,
                Err(e) => {
                    return Run {
                        usage: used,
                        ..failed(RUN_BAD_PROGRAM, e)
                    };
                }
            }
        } else {
            BTreeMap::new()
        };
        Run {
            status,
            code,
            fuel: 0,
            outputs,
            stdout: Vec::new(),
            stderr: Vec::new(),
            reason,
            usage: used,
        }
    }
}

/// The regular files the run left in `/out` (no links, no directories), within bounds.
pub(crate) fn collect_outputs(out: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let entries = std::fs::read_dir(out).map_err(|e| format!("reading /out: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading /out: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !metamesh_state::domains::compute::file_name_ok(&name) || files.len() >= MAX_OUTPUT_FILES
        {
            return Err("outputs the chain cannot name".into());
        }
        // Opened without following links, then checked on what was opened: a link swapped in
        // after a check cannot make the agent read a host file.
        let not_plain = || format!("/out/{name} is not a plain file");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(entry.path())
            .map_err(|_| not_plain())?;
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err(not_plain());
        }
        total += meta.len();
        if total > MAX_OUTPUT {
            return Err(format!("/out holds more than {MAX_OUTPUT} bytes"));
        }
        let mut bytes = Vec::new();
        file.take(meta.len())
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading /out/{name}: {e}"))?;
        files.insert(name, bytes);
    }
    Ok(files)
}
