//! The launcher's side: runs in a fresh single-threaded process (so no lock or allocator
//! state is shared with another thread across `fork`), builds the sandbox the plan describes,
//! and `exec`s the command. Never returns.

use std::{
    ffi::CString,
    io::Write as _,
    os::unix::{ffi::OsStrExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible as _, Ruleset, RulesetAttr as _,
    RulesetCreatedAttr as _, RulesetStatus, Scope, path_beneath_rules,
};

use super::{Bind, Plan};

/// Exit code of a launcher that could not start the command (the reason is in the error file).
pub const LAUNCH_FAILED: i32 = 125;

/// Carries out the plan in `path`. Never returns: the process becomes the task's command, or
/// exits with the command's status, or with [`LAUNCH_FAILED`].
pub fn enter(path: &Path) -> ! {
    let plan: Plan = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sandbox: reading the plan {}: {e}", path.display());
            std::process::exit(LAUNCH_FAILED)
        }
    };
    // Opened now: once the sandbox's root replaces the host's (for every process of the mount
    // namespace, this one too), host paths are out of reach.
    let error_file = std::fs::File::create(&plan.error_file).ok();
    let usage_file = plan
        .usage_file
        .as_ref()
        .and_then(|f| std::fs::File::create(f).ok());
    let fail = |what: String| -> ! {
        if let Some(mut f) = error_file.as_ref() {
            let _ = f.write_all(what.as_bytes());
        }
        eprintln!("[sandbox] {what}");
        std::process::exit(LAUNCH_FAILED)
    };
    // Dies with the agent: a restarted agent runs the task again rather than racing this one.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    for cg in &plan.cgroups {
        if let Err(e) = std::fs::write(cg.join("cgroup.procs"), std::process::id().to_string()) {
            note(&format!("joining {}: {e}", cg.display()));
        }
    }
    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if !plan.network {
        flags |= libc::CLONE_NEWNET;
    }
    let namespaced = unsafe { libc::unshare(flags) } == 0;
    if !namespaced && plan.strict {
        fail(format!(
            "no namespaces ({}): this provider does not run tasks without a root of their own",
            errno()
        ));
    } else if !namespaced {
        note(&format!(
            "no namespaces ({}): running without a root of its own",
            errno()
        ));
    } else {
        // The new PID namespace takes effect for children: the command runs as its init.
        match unsafe { libc::fork() } {
            -1 => fail(format!("fork: {}", errno())),
            0 => unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            },
            child => wait_and_mirror(child, usage_file),
        }
        if let Err(e) = build_root(&plan) {
            fail(format!("building the sandbox's root: {e}"));
        }
    }
    if let Err(e) = limits(&plan) {
        fail(format!("setting limits: {e}"));
    }
    let cwd = if namespaced {
        plan.cwd.clone()
    } else {
        host_path(&plan, &plan.cwd)
    };
    if let Err(e) = std::env::set_current_dir(&cwd) {
        fail(format!("entering {}: {e}", cwd.display()));
    }
    if let Err(e) = drop_privileges(plan.uid, plan.gid) {
        fail(format!("dropping privileges: {e}"));
    }
    // Changing credentials cleared the parent-death signal: set it again, so the command dies
    // with its launcher (a cancellation, a wall-time kill, the agent's death).
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if unsafe { libc::getppid() } == 1 {
        fail("the launcher is gone".into());
    }
    landlock(&plan, namespaced);
    let (program, args) = match plan.argv.split_first() {
        Some((p, a)) if namespaced => (PathBuf::from(p), a),
        Some((p, a)) => (host_path(&plan, Path::new(p)), a),
        None => fail("an empty command".into()),
    };
    let e = std::process::Command::new(&program)
        .args(args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .exec();
    fail(format!("starting {}: {e}", program.display()))
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn note(what: &str) {
    let _ = writeln!(std::io::stderr(), "[sandbox] {what}");
}

/// Without a mount namespace, the plan's sandbox paths map back to their bind sources.
fn host_path(plan: &Plan, p: &Path) -> PathBuf {
    plan.binds
        .iter()
        .filter_map(|b| {
            p.strip_prefix(&b.target)
                .ok()
                .map(|rest| b.source.join(rest))
        })
        .next()
        .unwrap_or_else(|| p.to_owned())
}

/// Waits for the namespace's init and leaves the same way it did.
fn wait_and_mirror(child: libc::pid_t, usage_file: Option<std::fs::File>) -> ! {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(child, &mut status, 0, &mut usage) };
        if r == child {
            break;
        }
        if r == -1 && errno().raw_os_error() != Some(libc::EINTR) {
            std::process::exit(LAUNCH_FAILED);
        }
    }
    if let Some(mut f) = usage_file {
        let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
        let cpu = ms(usage.ru_utime) + ms(usage.ru_stime);
        let _ = write!(f, "[{cpu}, {}]", usage.ru_maxrss as u64 * 1024);
    }
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
        }
    }
    std::process::exit(libc::WEXITSTATUS(status))
}

fn c(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other)
}

fn mount(
    src: Option<&Path>,
    dst: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> std::io::Result<()> {
    let src = src.map(c).transpose()?;
    let dst = c(dst)?;
    let fstype = fstype.map(|f| CString::new(f).expect("no NUL"));
    let r = unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            dst.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            std::ptr::null(),
        )
    };
    if r == 0 { Ok(()) } else { Err(errno()) }
}

fn bind(root: &Path, b: &Bind) -> std::io::Result<()> {
    let rel = b.target.strip_prefix("/").unwrap_or(&b.target);
    let target = root.join(rel);
    if std::fs::metadata(&b.source)?.is_dir() {
        std::fs::create_dir_all(&target)?;
    } else {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&target)?;
    }
    mount(Some(&b.source), &target, None, libc::MS_BIND | libc::MS_REC)
        .map_err(|e| std::io::Error::other(format!("binding {}: {e}", b.source.display())))?;
    if !b.writable {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC;
        mount(None, &target, None, flags).map_err(|e| {
            std::io::Error::other(format!("making {} read-only: {e}", b.target.display()))
        })?;
    }
    Ok(())
}

/// The sandbox's own root: the binds, a fresh `/proc`, then `pivot_root` into it (the host's
/// tree is detached), read-only at `/`.
fn build_root(plan: &Plan) -> std::io::Result<()> {
    mount(None, Path::new("/"), None, libc::MS_REC | libc::MS_PRIVATE)?;
    let root = &plan.root;
    mount(Some(root), root, None, libc::MS_BIND | libc::MS_REC)?;
    for b in &plan.binds {
        bind(root, b)?;
    }
    std::fs::create_dir_all(root.join("proc"))?;
    let proc_flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if let Err(e) = mount(
        Some(Path::new("proc")),
        &root.join("proc"),
        Some("proc"),
        proc_flags,
    ) {
        note(&format!("no /proc: {e}"));
    }
    std::env::set_current_dir(root)?;
    let dot = CString::new(".").expect("no NUL");
    if unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) } != 0 {
        return Err(std::io::Error::other(format!("pivot_root: {}", errno())));
    }
    if unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(std::io::Error::other(format!(
            "detaching the host: {}",
            errno()
        )));
    }
    std::env::set_current_dir("/")?;
    let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    mount(None, Path::new("/"), None, ro)
}

fn limits(plan: &Plan) -> std::io::Result<()> {
    let l = &plan.limits;
    for (resource, value) in [
        (libc::RLIMIT_CPU, l.cpu_seconds),
        (libc::RLIMIT_AS, l.address_space),
        (libc::RLIMIT_NOFILE, l.open_files),
        (libc::RLIMIT_NPROC, l.processes),
        (libc::RLIMIT_FSIZE, l.file_size),
        (libc::RLIMIT_CORE, 0),
    ] {
        let lim = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(errno());
        }
    }
    Ok(())
}

fn drop_privileges(uid: u32, gid: u32) -> std::io::Result<()> {
    unsafe {
        if libc::getuid() == 0 && libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(errno());
        }
        if libc::setresgid(gid, gid, gid) != 0 || libc::setresuid(uid, uid, uid) != 0 {
            return Err(errno());
        }
        // Nothing it execs may gain privileges (set-user-ID files, file capabilities).
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(errno());
        }
        if uid == 0 {
            for cap in 0..64 {
                libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
            }
        }
    }
    Ok(())
}

/// Reads anywhere in its root, writes only where the plan's writable binds are; no TCP
/// without the network; signals and abstract sockets scoped to the sandbox.
fn landlock(plan: &Plan, namespaced: bool) {
    let abi = ABI::V6;
    let writable: Vec<PathBuf> = plan
        .binds
        .iter()
        .filter(|b| b.writable)
        .map(|b| {
            if namespaced {
                b.target.clone()
            } else {
                b.source.clone()
            }
        })
        .collect();
    let readable: Vec<PathBuf> = if namespaced {
        vec!["/".into()]
    } else {
        plan.binds.iter().map(|b| b.source.clone()).collect()
    };
    let status = (|| -> Result<_, landlock::RulesetError> {
        let mut rules = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(abi))?
            .scope(Scope::from_all(abi))?;
        if !plan.network {
            rules = rules.handle_access(AccessNet::from_all(abi))?;
        }
        rules
            .create()?
            .add_rules(path_beneath_rules(&readable, AccessFs::from_read(abi)))?
            .add_rules(path_beneath_rules(&writable, AccessFs::from_all(abi)))?
            .restrict_self()
    })();
    match status {
        Ok(s) if s.ruleset == RulesetStatus::FullyEnforced => {}
        Ok(s) => note(&format!("landlock only partly enforced ({:?})", s.ruleset)),
        Err(e) => note(&format!("no landlock: {e}")),
    }
}
