//! The Slurm executor against a real one-node Slurm cluster on loopback (Debian's slurmctld,
//! slurmd and munge, started here by `scripts/slurm-cluster.sh` with every file in the test's
//! own directory): the diborane example through a Slurm provider on a devnet; an agent killed
//! while its Slurm job runs and restarted still delivers the result; cancelling a job cancels
//! its Slurm job.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use common::{
    Scratch,
    net::{Net, Proc, rpc, wait_for},
};
use serde_json::{Value, json};

/// A private cluster, stopped when dropped.
struct Cluster {
    dir: PathBuf,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm-cluster.sh")
}

impl Cluster {
    fn start(tag: &str) -> Cluster {
        // munge's and slurmd's socket paths must stay short.
        let dir = PathBuf::from(format!("/tmp/mm-slurm-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "starting Slurm (scripts/install-deps.sh installs it): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster { dir }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The Slurm job's state (`squeue -t all`, which still lists finished jobs).
    fn state(&self, id: &str) -> String {
        self.run("squeue", &["-h", "-t", "all", "-j", id, "-o", "%T"])
            .trim()
            .to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/b2h6-scf")
}

/// Provider 1 as a Slurm provider of `cluster`.
fn slurm_agent(net: &Net, cluster: &Cluster) -> Proc {
    let dir = net.root.join("provider-1");
    let inventory = dir.join("inventory.toml");
    let text = std::fs::read_to_string(&inventory).unwrap();
    if !text.contains("\"slurm\"") {
        let text = text.replace(
            "executors = [\"wasm\", \"process\"]",
            "executors = [\"wasm\", \"process\", \"slurm\"]",
        );
        std::fs::write(&inventory, text).unwrap();
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("agent.log"))
        .unwrap();
    let conf = cluster.conf();
    let extra = ["--slurm-conf", conf.to_str().unwrap()];
    net.agent_with(1, "wasm,process,slurm", &extra, log.into())
}

/// The Slurm job id the agent keeps for the task of job `id`, once it has one.
fn slurm_id(provider_dir: &Path, id: &str) -> Option<String> {
    let q: Value =
        serde_json::from_slice(&std::fs::read(provider_dir.join("provider/queue.json")).ok()?)
            .ok()?;
    q["work"]
        .as_array()?
        .iter()
        .filter(|w| w["job"] == id)
        .find_map(|w| w["slurm"].as_str().map(str::to_owned))
}

/// Waits until the agent has submitted the task of job `id` to Slurm.
fn wait_slurm(net: &Net, id: &str, provider_dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while slurm_id(provider_dir, id).is_none() {
        let log = std::fs::read_to_string(provider_dir.join("agent.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "no Slurm job for {id}: {:#}\n{log}",
            net.job(id)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sleeper(s: &Scratch, name: &str, secs: u64) -> String {
    let text = format!(
        "name = \"{name}\"\nmax_price = \"1 MMT\"\n[[tasks]]\nname = \"{name}\"\nexecutor = \"slurm\"\nprogram = {{ command = [\"sh\", \"-c\", \"sleep {secs}; echo done > /out/done.txt\"] }}\nwalltime = 180\ntimeout = 250\nverification = {{ replicas = 1 }}\n"
    );
    s.write(&format!("{name}.toml"), text.as_bytes())
}

#[test]
fn slurm_runs_tasks_survives_an_agent_restart_and_cancels() {
    let cluster = Cluster::start("e2e");
    let s = Scratch::new();
    let net = Net::start_with(&s, "net", 0);
    let mut agent = slurm_agent(&net, &cluster);
    let provider_dir = net.root.join("provider-1");
    wait_for("the Slurm provider registers", 120, || {
        rpc(net.rpc, "mm_listProviders", json!([])).is_some_and(|v| {
            v[0]["inventory"]["executors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x == "slurm"))
        })
    });

    // The diborane example through Slurm.
    let id = net.submit(example().join("job-slurm.toml").to_str().unwrap());
    let done = net.wait_done(&id, 300);
    assert_eq!(done["state"], "completed", "{done:#}");
    let r = &done["tasks"][0]["replicas"][0];
    let out = s.path("result");
    net.client(
        net.rpc,
        &["job", "result", &id, "-o", out.to_str().unwrap()],
    )
    .ok();
    let file: Value =
        serde_json::from_slice(&std::fs::read(out.join("scf/energy.json")).unwrap()).unwrap();
    let e = file["energy_hartree"].as_f64().unwrap();
    assert!((e - -52.162_592_234).abs() < 1e-6, "E = {e}: {r}");
    let logs = net.client(net.rpc, &["job", "logs", &id]).ok().stdout;
    assert!(
        r["result"]["usage"]["cpuMs"]
            .as_u64()
            .is_some_and(|c| c > 0),
        "metered: {r}\n{logs}"
    );

    // The agent dies while its Slurm job runs; restarted, it picks the job up.
    let id = net.submit(&sleeper(&s, "restart", 6));
    wait_slurm(&net, &id, &provider_dir);
    let sid = slurm_id(&provider_dir, &id).unwrap();
    drop(agent);
    wait_for("the Slurm job runs without its agent", 30, || {
        cluster.state(&sid) == "RUNNING"
    });
    agent = slurm_agent(&net, &cluster);
    let done = net.wait_done(&id, 120);
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(cluster.state(&sid), "COMPLETED");
    assert!(
        done["tasks"][0]["outputs"]["done.txt"].is_string(),
        "{done:#}"
    );

    // Cancelling the job cancels its Slurm job.
    let id = net.submit(&sleeper(&s, "cancel", 120));
    wait_slurm(&net, &id, &provider_dir);
    let sid = slurm_id(&provider_dir, &id).unwrap();
    wait_for("the Slurm job runs", 30, || {
        cluster.state(&sid) == "RUNNING"
    });
    let from = net.genesis()["grants"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    net.client(net.rpc, &["job", "cancel", &id, "--from", &from])
        .ok();
    wait_for("the Slurm job is cancelled", 60, || {
        cluster.state(&sid) == "CANCELLED"
    });
    assert_eq!(net.job(&id)["state"], "cancelled");
    drop(agent);
}
