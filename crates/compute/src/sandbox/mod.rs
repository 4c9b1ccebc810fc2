//! The sandbox a native (process) task runs in, as a plan the agent writes and a launcher
//! carries out: `metamesh sandbox-run PLAN` (or the `metamesh-sandbox` binary), a fresh
//! single-threaded process that can set up namespaces, mounts and Landlock safely, then
//! `exec`s the task's command.
//!
//! What it does, where the kernel allows (each step that is refused is reported in the task's
//! log, and the run goes on with the rest):
//! - new mount, PID, IPC and UTS namespaces, and a new network namespace with no interfaces
//!   up unless the task asks for the network and the provider allows it;
//! - a root of its own: the system's `/usr`, `/lib*`, `/bin`, `/etc` and the software's
//!   prefixes bound read-only, `/in` (the inputs) read-only, `/out` and `/tmp` writable, a few
//!   devices, a fresh `/proc`; nothing else of the host is visible;
//! - an unprivileged user (nobody by default) with no capabilities and `no_new_privs`;
//! - Landlock: reads anywhere in that root, writes only to `/out`, `/tmp` and `/dev/null`, no
//!   TCP unless the network is allowed, no signals or abstract sockets outside the sandbox;
//! - rlimits on CPU seconds, address space, open files, processes and file size, and control
//!   groups (v1 or v2) bounding memory and processes, whose counters say which limit was hit.
//!
//! What it does not stop: use of the CPU and memory bandwidth it was given, side channels
//! (timing, cache), kernel exploits through the system calls it may still make (there is no
//! seccomp filter), reading what the bound system directories hold (world-readable files under
//! `/usr` and `/etc`), and, with the network allowed, anything the network allows.

mod enter;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use enter::{LAUNCH_FAILED, enter};

/// A directory or file of the host shown inside the sandbox.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    /// Its path inside the sandbox (absolute).
    pub target: PathBuf,
    pub writable: bool,
}

/// Resource limits of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rlimits {
    pub cpu_seconds: u64,
    pub address_space: u64,
    pub open_files: u64,
    pub processes: u64,
    pub file_size: u64,
}

/// Everything the launcher needs: written by the agent as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// An empty directory the sandbox's root is built in.
    pub root: PathBuf,
    pub binds: Vec<Bind>,
    /// Working directory inside the sandbox.
    pub cwd: PathBuf,
    /// The command: an absolute path inside the sandbox, then its arguments.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub limits: Rlimits,
    pub uid: u32,
    pub gid: u32,
    pub network: bool,
    /// Control group directories (`cgroup.procs` files' parents) the run joins.
    pub cgroups: Vec<PathBuf>,
    /// Where the launcher writes why it could not start the command (the run is then the
    /// provider's failure, not the program's).
    pub error_file: PathBuf,
    /// Where the launcher writes the command's CPU milliseconds and peak memory
    /// (`[cpu_ms, bytes]`, from `wait4`) when it ends, for executors whose own accounting
    /// keeps none (Slurm without slurmdbd).
    #[serde(default)]
    pub usage_file: Option<PathBuf>,
    /// Refuse to run without namespaces (the default); an operator may allow a degraded
    /// sandbox (rlimits, Landlock and a dropped user only) with `--sandbox-degraded`.
    #[serde(default = "yes")]
    pub strict: bool,
}

fn yes() -> bool {
    true
}
