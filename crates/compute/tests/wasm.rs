//! The Wasm executor on real programs compiled from C by clang (wasm32-wasi, wasi-libc):
//! outputs under /out, inputs under /in, the fixed world, every way a run can fail, and the
//! example kernels rebuilt from source byte for byte.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use metamesh_compute::{Limits, run_wasm};
use metamesh_primitives::compute::{RUN_BAD_PROGRAM, RUN_EXIT, RUN_OK, RUN_OUT_OF_FUEL, RUN_TRAP};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles a C file to a WASI command module with clang (scripts/install-deps.sh installs it).
fn compile(src: &str) -> Vec<u8> {
    // Tests compile at once: each output gets a name of its own.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let out = std::env::temp_dir().join(format!(
        "metamesh-{}-{n}-{}.wasm",
        std::process::id(),
        src.replace('/', "_")
    ));
    let status = Command::new("clang")
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-O2",
            "-Wl,--strip-all",
            "-o",
        ])
        .arg(&out)
        .arg(root().join(src))
        .arg("-lm")
        .status()
        .expect(
            "clang (with lld and wasi-libc) must be installed: scripts/install-deps.sh does it",
        );
    assert!(status.success(), "clang failed on {src}");
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(out).ok();
    bytes
}

fn args(a: &[&str]) -> Vec<String> {
    std::iter::once("prog")
        .chain(a.iter().copied())
        .map(String::from)
        .collect()
}

#[test]
fn a_program_reads_in_writes_out_and_sees_a_fixed_world() {
    let wasm = compile("crates/compute/tests/programs/faults.c");
    let inputs = BTreeMap::from([("data.txt".to_owned(), b"boron nitride\n".to_vec())]);
    let a = run_wasm(
        &wasm,
        args(&["ok", "64"]),
        inputs.clone(),
        Limits::default(),
    );
    assert_eq!(a.status, RUN_OK, "{:?}", a.reason);
    assert_eq!(a.outputs["copy.txt"], b"boron nitride\n");
    let echo = String::from_utf8(a.outputs["echo.txt"].clone()).unwrap();
    assert!(echo.starts_with("ok\n64\ntime 1767225600\n"), "{echo}");
    assert_eq!(a.stdout, b"hello from wasm\n");
    assert_eq!(a.stderr, b"a line on stderr\n");
    let b = run_wasm(&wasm, args(&["ok", "64"]), inputs, Limits::default());
    assert_eq!(
        (a.outputs, a.fuel),
        (b.outputs, b.fuel),
        "two runs agree, fuel included"
    );
    assert!(a.fuel > 0);
}

#[test]
fn every_way_to_fail_is_a_status_with_a_reason() {
    let wasm = compile("crates/compute/tests/programs/faults.c");
    let none = BTreeMap::new;
    let r = run_wasm(&wasm, args(&["trap"]), none(), Limits::default());
    assert_eq!(r.status, RUN_TRAP, "{:?}", r.reason);
    let r = run_wasm(&wasm, args(&["exit"]), none(), Limits::default());
    assert_eq!((r.status, r.code), (RUN_EXIT, 3));
    let r = run_wasm(
        &wasm,
        args(&["spin"]),
        none(),
        Limits {
            fuel: 5_000_000,
            ..Limits::default()
        },
    );
    assert_eq!(
        (r.status, r.fuel),
        (RUN_OUT_OF_FUEL, 5_000_000),
        "{:?}",
        r.reason
    );
    let r = run_wasm(
        &wasm,
        args(&["grow"]),
        none(),
        Limits {
            memory: 8 << 20,
            fuel: 1_000_000_000,
            ..Limits::default()
        },
    );
    assert_eq!(
        (r.status, r.code),
        (RUN_EXIT, 7),
        "malloc fails at the memory cap: {:?}",
        r.reason
    );
    let r = run_wasm(&wasm, args(&["escape"]), none(), Limits::default());
    assert_eq!(r.status, RUN_OK, "{:?}", r.reason);
    assert_eq!(r.outputs.keys().collect::<Vec<_>>(), ["ok.txt"]);
    let r = run_wasm(
        b"\0asm\x01\0\0\0garbage",
        args(&[]),
        none(),
        Limits::default(),
    );
    assert_eq!(r.status, RUN_BAD_PROGRAM);
    assert!(r.reason.unwrap().contains("not a Wasm module"));
    // A valid module with no `_start`: the empty module.
    let r = run_wasm(b"\0asm\x01\0\0\0", args(&[]), none(), Limits::default());
    assert_eq!(r.status, RUN_BAD_PROGRAM, "{:?}", r.reason);
}

#[test]
fn the_hbn_example_gives_the_gap_at_k() {
    let dir = root().join("examples/hbn-bands");
    let kernel = |k: &str| std::fs::read(dir.join(format!("kernels/{k}.wasm"))).unwrap();
    for k in ["prepare", "bands", "gap"] {
        assert_eq!(
            kernel(k),
            compile(&format!("examples/hbn-bands/kernels/{k}.c")),
            "{k}.wasm is built from {k}.c"
        );
    }
    let structure = std::fs::read(dir.join("data/hBN.json")).unwrap();
    let prep = run_wasm(
        &kernel("prepare"),
        args(&["32"]),
        BTreeMap::from([("structure.json".into(), structure.clone())]),
        Limits::default(),
    );
    assert_eq!(prep.status, RUN_OK, "{:?}", prep.reason);
    assert_eq!(prep.outputs.len(), 3);
    let mut bands = BTreeMap::new();
    for i in 0..3 {
        let k = prep.outputs[&format!("kpoints-{i}.txt")].clone();
        let r = run_wasm(
            &kernel("bands"),
            args(&[]),
            BTreeMap::from([
                ("kpoints.txt".into(), k),
                ("structure.json".into(), structure.clone()),
            ]),
            Limits::default(),
        );
        assert_eq!(r.status, RUN_OK, "{:?}", r.reason);
        bands.insert(format!("bands-{i}.txt"), r.outputs["bands.txt"].clone());
    }
    let gap = run_wasm(&kernel("gap"), args(&[]), bands, Limits::default());
    assert_eq!(gap.status, RUN_OK, "{:?}", gap.reason);
    let json: serde_json::Value = serde_json::from_slice(&gap.outputs["gap.json"]).unwrap();
    // At K, f(k) = 0: the gap is the on-site difference, 4.64 eV, and direct.
    assert!(
        (json["gap_eV"].as_f64().unwrap() - 4.64).abs() < 1e-6,
        "{json}"
    );
    assert_eq!(json["direct"], true);
    assert_eq!(
        json["conduction_min_k"], 64,
        "K is the end of the second segment"
    );
}
