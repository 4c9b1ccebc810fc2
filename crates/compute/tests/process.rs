//! The process executor's sandbox against programs that try to get out of it: each fails with
//! a reason that names what stopped it, and the provider runs the next task as before.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, atomic::AtomicBool},
};

use metamesh_compute::{Native, ProcessTask, Run, Software};
use metamesh_primitives::compute::{
    RUN_EXIT, RUN_KILLED, RUN_MEMORY_LIMIT, RUN_OK, RUN_PROCESS_LIMIT, RUN_STATUS, RUN_TIME_LIMIT,
};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mm-process-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn native(name: &str) -> Native {
    let mut software = BTreeMap::new();
    software.insert(
        "sh".to_owned(),
        Software {
            path: "/bin/sh".into(),
            ..Software::default()
        },
    );
    if let Some(py) = Native::detect_python(&[]) {
        software.insert("python3".to_owned(), py);
    }
    Native {
        launcher: vec![env!("CARGO_BIN_EXE_metamesh-sandbox").to_owned()],
        scratch: scratch(name),
        software,
        allow_network: false,
        uid: 65534,
        gid: 65534,
        strict: true,
    }
}

fn task(n: &Native, name: &str, command: &[&str], inputs: &[(&str, &str)]) -> ProcessTask {
    ProcessTask {
        name: name.to_owned(),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        inputs: inputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
        cpu: 1,
        memory: 256 << 20,
        walltime: 20,
        network: false,
        log: n.scratch.join(format!("{name}.log")),
        cancel: Arc::new(AtomicBool::new(false)),
    }
}

fn log(n: &Native, name: &str) -> String {
    std::fs::read_to_string(n.scratch.join(format!("{name}.log"))).unwrap_or_default()
}

fn status(r: &Run) -> &'static str {
    RUN_STATUS[usize::from(r.status)]
}

fn sh(n: &Native, name: &str, script: &str) -> (Run, String) {
    let r = n.run(&task(n, name, &["sh", "-c", script], &[]));
    (r, log(n, name))
}

/// An ordinary task works, sees `/in` and `/out`, and is metered; run again after every
/// escape attempt to show the provider is still healthy.
fn healthy(n: &Native, name: &str) {
    let script = "cat /in/x.txt > /out/y.txt; echo ran as $(id -u); i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done";
    let r = n.run(&task(n, name, &["sh", "-c", script], &[("x.txt", "boron")]));
    assert_eq!(r.status, RUN_OK, "{:?}\n{}", r.reason, log(n, name));
    assert_eq!(r.outputs["y.txt"], b"boron");
    assert!(log(n, name).contains("ran as 65534"), "{}", log(n, name));
    assert!(r.usage.wall_ms > 0 && r.usage.cpu_ms > 0, "{:?}", r.usage);
}

#[test]
fn escapes_fail_with_reasons_and_the_provider_stays_healthy() {
    let n = native("escapes");
    healthy(&n, "first");

    // The host's files are not there, and the root is read-only.
    let secret = n.scratch.join("host-secret");
    std::fs::write(&secret, "do not read").unwrap();
    let (r, text) = sh(
        &n,
        "read",
        &format!("cat {} /etc/shadow; touch /evil", secret.display()),
    );
    assert_eq!((r.status, r.code), (RUN_EXIT, 1), "{text}");
    assert!(!text.contains("do not read"), "{text}");
    assert!(text.contains("No such file"), "{text}");
    assert!(text.contains("/etc/shadow: Permission denied"), "{text}");
    assert!(
        text.contains("Read-only file system") || text.contains("Permission denied"),
        "{text}"
    );

    // Forks without bound hit the process limit.
    let mut t = task(
        &n,
        "fork",
        &["sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 30"],
        &[],
    );
    t.walltime = 3;
    let r = n.run(&t);
    let text = log(&n, "fork");
    assert_eq!(
        status(&r),
        RUN_STATUS[usize::from(RUN_PROCESS_LIMIT)],
        "{:?} {text}",
        r.reason
    );
    assert!(
        r.reason
            .as_deref()
            .unwrap_or_default()
            .contains("processes")
    );

    // Past its wall time it is killed.
    let mut t = task(&n, "slow", &["sh", "-c", "sleep 30"], &[]);
    t.walltime = 1;
    let r = n.run(&t);
    assert_eq!(r.status, RUN_TIME_LIMIT, "{:?}", r.reason);
    assert!(
        r.usage.wall_ms >= 1000 && r.usage.wall_ms < 10_000,
        "{:?}",
        r.usage
    );

    // Cancelled, it stops at once.
    let t = task(&n, "cancel", &["sh", "-c", "sleep 30"], &[]);
    let cancel = t.cancel.clone();
    let started = std::time::Instant::now();
    let waiter = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let r = n.run(&t);
    waiter.join().unwrap();
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (RUN_KILLED, Some("cancelled"))
    );
    assert!(started.elapsed().as_secs() < 10);

    // A command the provider does not offer is refused before anything runs.
    let r = n.run(&task(&n, "unknown", &["julia", "x.jl"], &[]));
    assert!(r.reason.unwrap().contains("no software named julia"));
    healthy(&n, "last");
    std::fs::remove_dir_all(&n.scratch).unwrap();
}

#[test]
fn python_cannot_reach_the_network_nor_take_more_memory() {
    let n = native("python");
    if !n.software.contains_key("python3") {
        panic!("python3 is needed for this test (scripts/install-deps.sh installs it)");
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "import socket\ns = socket.socket()\ntry:\n    s.connect(('127.0.0.1', {port}))\n    print('connected')\nexcept OSError as e:\n    print('refused:', e)\n    raise SystemExit(3)\n"
    );
    let r = n.run(&task(
        &n,
        "net",
        &["python3", "net.py"],
        &[("net.py", &script)],
    ));
    let text = log(&n, "net");
    assert_eq!((r.status, r.code), (RUN_EXIT, 3), "{:?}: {text}", r.reason);
    assert!(
        !text.contains("connected") && text.contains("refused"),
        "{text}"
    );
    drop(listener);

    let mut t = task(
        &n,
        "memory",
        &["python3", "-c", "b = bytearray(600 << 20); print(len(b))"],
        &[],
    );
    t.memory = 128 << 20;
    let r = n.run(&t);
    let text = log(&n, "memory");
    assert_eq!(r.status, RUN_MEMORY_LIMIT, "{:?}: {text}", r.reason);
    assert!(r.reason.unwrap().contains("memory"));

    let ok = n.run(&task(
        &n,
        "ok",
        &[
            "python3",
            "-c",
            "import json; json.dump({'e': -1.5}, open('/out/r.json', 'w'))",
        ],
        &[],
    ));
    assert_eq!(ok.status, RUN_OK, "{:?}: {}", ok.reason, log(&n, "ok"));
    assert_eq!(ok.outputs["r.json"], br#"{"e": -1.5}"#);
    std::fs::remove_dir_all(&n.scratch).unwrap();
}
