//! Running the real `metamesh` binary and OpenSSL in a scratch directory.
#![allow(dead_code)] // each test binary uses part of these helpers

pub mod net;

use std::{
    path::PathBuf,
    process::{Command, Output},
};

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw.txt"), "correct horse\n").unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).unwrap();
        self.p(name)
    }

    /// `metamesh ARGS` with this scratch directory as the data dir and no ambient password.
    pub fn mm(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_metamesh"))
            .args(args)
            .env("METAMESH_DATA_DIR", self.path("data"))
            .env_remove("METAMESH_PASSWORD")
            .current_dir(self.dir.path())
            .output()
            .expect("run metamesh");
        Run::from_output(out)
    }

    pub fn openssl(&self, args: &[&str]) -> Run {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl (3.x) must be installed: run scripts/install-deps.sh");
        Run::from_output(out)
    }
}
