//! Control groups for one native run: memory and process limits, and the counters that say a
//! run hit them. Version 2 where its controllers are enabled, else version 1's `memory` and
//! `pids` hierarchies; none where neither is writable (the rlimits still apply).

use std::path::{Path, PathBuf};

/// The groups one run joins.
#[derive(Debug, Default)]
pub struct Groups {
    v2: Option<PathBuf>,
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
}

fn make(dir: &Path) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok().map(|()| dir.to_owned())
}

fn read_u64(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The count after `key` in a flat keyed file (`max 3`, `oom_kill 1`).
fn keyed(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0)
}

impl Groups {
    /// Groups named `name` bounding memory to `memory` bytes and processes to `processes`.
    pub fn create(name: &str, memory: u64, processes: u64) -> Groups {
        let root = Path::new("/sys/fs/cgroup");
        let v2_ok = std::fs::read_to_string(root.join("cgroup.controllers"))
            .is_ok_and(|c| c.contains("memory") && c.contains("pids"));
        let mut g = Groups::default();
        if v2_ok {
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory +pids");
            let parent = root.join("metamesh");
            if make(&parent).is_some() {
                let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids");
            }
            g.v2 = make(&parent.join(name));
            if let Some(d) = &g.v2 {
                let _ = std::fs::write(d.join("memory.max"), memory.to_string());
                let _ = std::fs::write(d.join("memory.swap.max"), "0");
                let _ = std::fs::write(d.join("pids.max"), processes.to_string());
            }
            return g;
        }
        if root.join("memory/cgroup.procs").exists() {
            g.memory = make(&root.join("memory/metamesh").join(name));
            if let Some(d) = &g.memory {
                let _ = std::fs::write(d.join("memory.limit_in_bytes"), memory.to_string());
                let _ = std::fs::write(d.join("memory.memsw.limit_in_bytes"), memory.to_string());
            }
        }
        if root.join("pids/cgroup.procs").exists() {
            g.pids = make(&root.join("pids/metamesh").join(name));
            if let Some(d) = &g.pids {
                let _ = std::fs::write(d.join("pids.max"), processes.to_string());
            }
        }
        g
    }

    /// The directories a process joins (by writing its pid to their `cgroup.procs`).
    pub fn dirs(&self) -> Vec<PathBuf> {
        [&self.v2, &self.memory, &self.pids]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// What bounds memory and processes here, for the log.
    pub fn describe(&self) -> &'static str {
        match (&self.v2, &self.memory, &self.pids) {
            (Some(_), _, _) => "cgroup v2 memory and pids",
            (None, Some(_), Some(_)) => "cgroup v1 memory and pids",
            (None, Some(_), None) => "cgroup v1 memory",
            (None, None, Some(_)) => "cgroup v1 pids",
            (None, None, None) => "no control groups (rlimits only)",
        }
    }

    /// Whether the run hit its memory limit.
    pub fn memory_hit(&self) -> bool {
        if let Some(d) = &self.v2 {
            return keyed(&d.join("memory.events"), "oom_kill") > 0
                || keyed(&d.join("memory.events"), "max") > 0;
        }
        self.memory.as_ref().is_some_and(|d| {
            read_u64(&d.join("memory.failcnt")) > 0
                || read_u64(&d.join("memory.memsw.failcnt")) > 0
                || keyed(&d.join("memory.oom_control"), "oom_kill") > 0
        })
    }

    /// Whether the run hit its process limit.
    pub fn processes_hit(&self) -> bool {
        let dir = self.v2.as_ref().or(self.pids.as_ref());
        dir.is_some_and(|d| keyed(&d.join("pids.events"), "max") > 0)
    }

    /// Peak memory of the whole group, where it is kept.
    pub fn peak_memory(&self) -> u64 {
        match (&self.v2, &self.memory) {
            (Some(d), _) => read_u64(&d.join("memory.peak")),
            (None, Some(d)) => read_u64(&d.join("memory.max_usage_in_bytes")),
            _ => 0,
        }
    }

    /// Kills whatever is left in the groups.
    pub fn kill_all(&self) {
        for d in self.dirs() {
            if std::fs::write(d.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            for pid in std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
            {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

impl Drop for Groups {
    fn drop(&mut self) {
        self.kill_all();
        for d in self.dirs() {
            // Empty once its processes are reaped; tried a few times while they go.
            for _ in 0..50 {
                if std::fs::remove_dir(&d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
