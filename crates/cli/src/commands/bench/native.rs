//! `metamesh bench process` and `bench slurm`: what the native executors add. The process
//! executor's start-to-end time of `/bin/true` (scratch directory, plan, sandbox launcher,
//! namespaces, private root, control groups, metering) beside a bare `fork`/`exec` of it; and
//! trivial tasks per second through the Slurm executor (plan, batch script, the sandbox inside
//! the job, polling, accounting, outputs) beside plain `sbatch --wrap true` submissions of the
//! same jobs to the same cluster, in the same run.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Command, ExitCode},
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use metamesh_compute::{
    Native, ProcessTask, Software,
    slurm::{Polled, Slurm},
};
use serde_json::json;

use crate::Context;

fn native(scratch: PathBuf) -> anyhow::Result<Native> {
    let mut software = BTreeMap::new();
    software.insert(
        "true".to_owned(),
        Software {
            path: "/bin/true".into(),
            ..Software::default()
        },
    );
    Ok(Native {
        launcher: vec![
            std::env::current_exe()?.display().to_string(),
            "sandbox-run".into(),
        ],
        scratch,
        software,
        allow_network: false,
        uid: 65534,
        gid: 65534,
        strict: true,
    })
}

fn task(n: &Native, name: &str) -> ProcessTask {
    ProcessTask {
        name: name.to_owned(),
        command: vec!["true".into()],
        inputs: BTreeMap::new(),
        cpu: 1,
        memory: 64 << 20,
        walltime: 60,
        network: false,
        log: n.scratch.join(format!("{name}.log")),
        cancel: Arc::new(AtomicBool::new(false)),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn process(ctx: &Context, runs: usize) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("metamesh-bench-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let n = native(dir.clone())?;
    let (mut sandboxed, mut bare) = (Vec::new(), Vec::new());
    for i in 0..runs.max(1) {
        let t = Instant::now();
        let run = n.run(&task(&n, &format!("t{i}")));
        sandboxed.push(t.elapsed().as_secs_f64() * 1e3);
        if run.status != 0 {
            bail!("the sandboxed run failed: {:?}", run.reason);
        }
        let t = Instant::now();
        let status = Command::new("/bin/true").status()?;
        bare.push(t.elapsed().as_secs_f64() * 1e3);
        if !status.success() {
            bail!("/bin/true failed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (s, b) = (median(sandboxed), median(bare));
    let report = json!({"runs": runs, "sandboxedMedianMs": s, "bareForkExecMedianMs": b, "overheadMs": s - b});
    ctx.out.emit(&report, || {
        format!("process executor: /bin/true in {s:.2} ms (median of {runs}) beside a bare fork/exec in {b:.3} ms: {:.2} ms added", s - b)
    });
    Ok(ExitCode::SUCCESS)
}

/// A private cluster when none is given (`scripts/slurm-cluster.sh`, run from the repository).
struct Own(Option<PathBuf>);

impl Drop for Own {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = Command::new("bash")
                .args(["scripts/slurm-cluster.sh", "stop"])
                .arg(dir)
                .status();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn wait_queue_empty(conf: &PathBuf, deadline: Instant) -> anyhow::Result<()> {
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i"])
            .env("SLURM_CONF", conf)
            .output()?;
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the Slurm queue did not drain");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn slurm(ctx: &Context, conf: Option<PathBuf>, tasks: usize) -> anyhow::Result<ExitCode> {
    let mut own = Own(None);
    let conf = match conf {
        Some(c) => c,
        None => {
            let dir = PathBuf::from(format!("/tmp/mm-bench-slurm-{}", std::process::id()));
            let ok = Command::new("bash")
                .args(["scripts/slurm-cluster.sh", "start"])
                .arg(&dir)
                .status()
                .context("run from the repository (scripts/slurm-cluster.sh)")?
                .success();
            own.0 = Some(dir.clone());
            if !ok {
                bail!("could not start a Slurm cluster (scripts/install-deps.sh installs Slurm)");
            }
            dir.join("slurm.conf")
        }
    };
    let work = std::env::temp_dir().join(format!("metamesh-bench-slurm-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    // Warm the controller up (its first job is slow to schedule).
    let warm = Command::new("sbatch")
        .args(["--parsable", "--wrap", "true", "--time=1", "--mem=64M"])
        .arg(format!("--chdir={}", work.display()))
        .arg("--output=/dev/null")
        .env("SLURM_CONF", &conf)
        .output()?;
    if !warm.status.success() {
        bail!("sbatch: {}", String::from_utf8_lossy(&warm.stderr));
    }
    wait_queue_empty(&conf, Instant::now() + Duration::from_secs(120))?;

    let start = Instant::now();
    for i in 0..tasks {
        let dir = work.join(format!("plain-{i}"));
        std::fs::create_dir_all(&dir)?;
        let out = Command::new("sbatch")
            .args([
                "--parsable",
                "--wrap",
                "true",
                "--time=1",
                "--mem=64M",
                "--cpus-per-task=1",
            ])
            .arg(format!("--chdir={}", dir.display()))
            .arg(format!("--output={}", dir.join("slurm.log").display()))
            .env("SLURM_CONF", &conf)
            .output()?;
        if !out.status.success() {
            bail!("sbatch: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    wait_queue_empty(&conf, Instant::now() + Duration::from_secs(600))?;
    let plain = start.elapsed().as_secs_f64();

    let n = native(work.join("scratch"))?;
    let s = Slurm {
        conf: Some(conf.clone()),
        partition: None,
        dir: work.join("jobs"),
    };
    std::fs::create_dir_all(&s.dir)?;
    let start = Instant::now();
    let mut ids = Vec::new();
    for i in 0..tasks {
        let t = task(&n, &format!("t{i}"));
        ids.push((
            t.name.clone(),
            s.submit(&n, &t, 0).map_err(anyhow::Error::msg)?,
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while !ids.is_empty() {
        let mut left = Vec::new();
        for (name, id) in ids {
            match s.poll(&id, &name).map_err(anyhow::Error::msg)? {
                Polled::Waiting => left.push((name, id)),
                Polled::Done(run) if run.status == 0 => s.clean(&name),
                Polled::Done(run) => bail!("Slurm job {id} failed: {:?}", run.reason),
            }
        }
        ids = left;
        if Instant::now() > deadline {
            bail!("the executor's jobs did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let executor = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&work);
    let (p, e) = (tasks as f64 / plain, tasks as f64 / executor);
    let report = json!({"tasks": tasks, "plainSbatchTasksPerSecond": p, "executorTasksPerSecond": e,
        "plainSeconds": plain, "executorSeconds": executor});
    ctx.out.emit(&report, || {
        format!("{tasks} trivial tasks: plain sbatch {p:.2}/s ({plain:.1} s), through the Slurm executor {e:.2}/s ({executor:.1} s)")
    });
    Ok(ExitCode::SUCCESS)
}
