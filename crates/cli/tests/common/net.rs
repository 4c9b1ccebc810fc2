//! A real devnet of `metamesh` processes on loopback, and the JSON-RPC helpers to watch it.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::Scratch;

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// SIGTERM, then wait: the clean stop.
    pub fn stop(mut self) {
        // SAFETY: kill(2) on our own child with SIGTERM.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A run of `n` consecutive free loopback ports.
pub fn free_ports(n: u16) -> u16 {
    loop {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > 65_000 {
            continue;
        }
        let all_free = (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
}

pub fn rpc(port: u16, method: &str, params: Value) -> Option<Value> {
    rpc_with(port, None, method, params)
}

/// A call with the node's admin token (what it wrote in its data directory).
pub fn admin(dir: &Path, port: u16, method: &str, params: Value) -> Option<Value> {
    let token = std::fs::read_to_string(dir.join("admin.token")).ok()?;
    rpc_with(port, Some(token.trim()), method, params)
}

fn rpc_with(port: u16, token: Option<&str>, method: &str, params: Value) -> Option<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let mut request = ureq::post(&format!("http://127.0.0.1:{port}"));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    let text = request
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("result").cloned()
}

pub fn head(port: u16) -> Option<u64> {
    rpc(port, "mm_blockNumber", json!([]))?.as_u64()
}

pub fn block(port: u16, number: u64) -> Option<Value> {
    rpc(port, "mm_getBlockByNumber", json!([number]))
}

pub fn signers(port: u16) -> Vec<String> {
    rpc(port, "clique_getSigners", json!([]))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_lowercase))
        .collect()
}

#[track_caller]
pub fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out after {secs} s waiting until {what}");
}

/// The canonical hash every node has at the same height (one below the lowest head).
pub fn agree(ports: &[u16]) -> bool {
    let Some(low) = ports.iter().map(|p| head(*p)).collect::<Option<Vec<u64>>>() else {
        return false;
    };
    let h = low.into_iter().min().unwrap_or(0).saturating_sub(1);
    let hashes: Vec<Option<Value>> = ports
        .iter()
        .map(|p| block(*p, h).map(|b| b["hash"].clone()))
        .collect();
    hashes.iter().all(|x| x.is_some() && *x == hashes[0])
}

pub struct Net {
    pub root: PathBuf,
    pub rpc: u16,
    pub supervisor: Option<Proc>,
}

impl Net {
    /// Submits a job file from the genesis's first funded account; the job's id.
    #[allow(dead_code)]
    pub fn submit(&self, file: &str) -> String {
        let from = self.genesis()["grants"][0]["address"]
            .as_str()
            .unwrap()
            .to_owned();
        let args = ["--json", "job", "submit", file, "--detach", "--from", &from];
        self.client(self.rpc, &args).ok().json()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `mm_getJob`.
    #[allow(dead_code)]
    pub fn job(&self, id: &str) -> Value {
        rpc(self.rpc, "mm_getJob", json!([id])).unwrap_or(Value::Null)
    }

    /// The job once it has ended (completed, failed or cancelled), within `secs`.
    #[allow(dead_code)]
    pub fn wait_done(&self, id: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let j = self.job(id);
            if matches!(
                j["state"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not end within {secs} s: {j:#}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Starts the agent of devnet provider `i` against node `i`, running Wasm and process
    /// tasks, with `extra` arguments.
    #[allow(dead_code)]
    pub fn agent(&self, i: usize, extra: &[&str]) -> Proc {
        self.agent_with(i, "wasm,process", extra, Stdio::null())
    }

    /// The same with its executors and where its log goes.
    #[allow(dead_code)]
    pub fn agent_with(&self, i: usize, executors: &str, extra: &[&str], log: Stdio) -> Proc {
        let dir = self.root.join(format!("provider-{i}"));
        Proc(
            Command::new(env!("CARGO_BIN_EXE_metamesh"))
                .arg("--data-dir")
                .arg(&dir)
                .args(["provider", "run", "--executor", executors, "--inventory"])
                .arg(dir.join("inventory.toml"))
                .arg("--password-file")
                .arg(dir.join("password.txt"))
                .args([
                    "--rpc",
                    &format!("http://127.0.0.1:{}", self.rpc + i as u16),
                ])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    /// Four nodes, no computing providers.
    pub fn start(s: &Scratch, name: &str) -> Net {
        Self::start_with(s, name, 0)
    }

    /// Four nodes and the devnet's first `providers` computing providers.
    pub fn start_with(s: &Scratch, name: &str, providers: usize) -> Net {
        let rpc = free_ports(5);
        let p2p = free_ports(5);
        let root = s.path(name);
        let child = Command::new(env!("CARGO_BIN_EXE_metamesh"))
            .arg("--data-dir")
            .arg(&root)
            .args(["devnet", "--nodes", "4", "--period", "1"])
            .args(["--providers", &providers.to_string()])
            .args([
                "--rpc-port",
                &rpc.to_string(),
                "--p2p-port",
                &p2p.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let net = Net {
            root,
            rpc,
            supervisor: Some(Proc(child)),
        };
        wait_for("all four nodes seal a shared chain", 60, || {
            net.ports().iter().all(|p| head(*p).is_some_and(|h| h >= 3)) && agree(&net.ports())
        });
        net
    }

    pub fn ports(&self) -> Vec<u16> {
        (0..4).map(|i| self.rpc + i).collect()
    }

    pub fn dir(&self, i: usize) -> PathBuf {
        self.root.join(format!("node-{i}"))
    }

    /// An admin call to node `i`.
    pub fn admin(&self, i: usize, method: &str, params: Value) -> Option<Value> {
        admin(&self.dir(i), self.rpc + i as u16, method, params)
    }

    pub fn password(&self) -> String {
        std::fs::read_to_string(self.dir(0).join("password.txt"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// A CLI command run with node 0's keystore against node `via`'s RPC.
    pub fn client(&self, via: u16, args: &[&str]) -> super::Run {
        super::Run::from_output(
            Command::new(env!("CARGO_BIN_EXE_metamesh"))
                .arg("--data-dir")
                .arg(self.dir(0))
                .args(args)
                .env("METAMESH_RPC", format!("http://127.0.0.1:{via}"))
                .env("METAMESH_PASSWORD", self.password())
                .output()
                .unwrap(),
        )
    }

    pub fn genesis(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir(0).join("genesis.json")).unwrap())
            .unwrap()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(p) = self.supervisor.take() {
            p.stop();
        }
    }
}

pub fn node_run(dir: &Path, extra: &[&str]) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_metamesh"))
            .arg("--data-dir")
            .arg(dir)
            .args(["node", "run"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

pub fn sealer_of(port: u16, number: u64) -> Option<String> {
    block(port, number)?["sealer"]
        .as_str()
        .map(str::to_lowercase)
}

/// Waits until some block above `after` on `port`'s chain is sealed by `signer`.
pub fn wait_sealed_by(port: u16, signer: &str, after: u64, secs: u64) {
    let signer = signer.to_lowercase();
    let mut next = after + 1;
    wait_for(&format!("{signer} seals a block"), secs, || {
        while head(port).is_some_and(|h| h >= next) {
            if sealer_of(port, next).as_deref() == Some(signer.as_str()) {
                return true;
            }
            next += 1;
        }
        false
    });
}
