//! A private Virtuoso (Debian's virtuoso-opensource, installed by scripts/install-deps.sh) on
//! free loopback ports in a temporary directory, killed when dropped; its anonymous SPARQL
//! user may update graphs, so the Graph Store endpoint takes PUT and DELETE.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Virtuoso {
    child: Child,
    pub http: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Virtuoso {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Virtuoso {
    pub fn start() -> Virtuoso {
        let dir = tempfile::tempdir().unwrap();
        let sql = free_port();
        let http = loop {
            let p = free_port();
            if p != sql {
                break p;
            }
        };
        let d = dir.path().display();
        let ini = format!(
            "[Database]\nDatabaseFile = {d}/v.db\nErrorLogFile = {d}/v.log\nLockFile = {d}/v.lck\n\
             TransactionFile = {d}/v.trx\nxa_persistent_file = {d}/v.pxa\nTempStorage = TempDatabase\n\
             [TempDatabase]\nDatabaseFile = {d}/v-temp.db\nTransactionFile = {d}/v-temp.trx\n\
             [Parameters]\nServerPort = 127.0.0.1:{sql}\nDisableUnixSocket = 1\nNumberOfBuffers = 10000\n\
             MaxDirtyBuffers = 6000\nDirsAllowed = .\n\
             [HTTPServer]\nServerPort = 127.0.0.1:{http}\nServerRoot = /var/lib/virtuoso-opensource-7/vsp\n\
             ServerThreads = 4\n[SPARQL]\nResultSetMaxRows = 100000\n"
        );
        let path = dir.path().join("virtuoso.ini");
        std::fs::write(&path, ini).unwrap();
        let child = Command::new("virtuoso-t")
            .args(["-f", "-c"])
            .arg(&path)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("virtuoso-t (scripts/install-deps.sh installs virtuoso-opensource)");
        let v = Virtuoso {
            child,
            http,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let grant = Command::new("isql-vt")
                .arg(format!("127.0.0.1:{sql}"))
                .args(["dba", "dba"])
                .arg("exec=GRANT SPARQL_UPDATE TO \"SPARQL\"; DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);")
                .output()
                .unwrap();
            if grant.status.success() && reachable(&format!("{}?query=ASK%7B%7D", v.sparql())) {
                return v;
            }
            assert!(Instant::now() < deadline, "Virtuoso did not start");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn graph_store(&self) -> String {
        format!("http://127.0.0.1:{}/sparql-graph-crud", self.http)
    }

    pub fn sparql(&self) -> String {
        format!("http://127.0.0.1:{}/sparql", self.http)
    }

    /// A SELECT's or ASK's answer in SPARQL JSON.
    pub fn query(&self, q: &str) -> serde_json::Value {
        let url = format!(
            "{}?format=application%2Fsparql-results%2Bjson&query={}",
            self.sparql(),
            q.bytes()
                .map(|b| if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
        let out = Command::new("curl").args(["-sf", &url]).output().unwrap();
        assert!(out.status.success(), "{q}");
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn reachable(url: &str) -> bool {
    Command::new("curl")
        .args(["-sf", "-o", "/dev/null", url])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
