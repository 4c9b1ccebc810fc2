//! `metamesh bench wasm`: the hBN example's `bands` kernel under the Wasm executor (wasmi, fuel
//! metering on) beside the same C file compiled natively (`cc -O2`) and run on the same input,
//! in the same run.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Command, ExitCode},
    time::Instant,
};

use anyhow::{Context as _, bail};
use metamesh_compute::{Limits, run_wasm};
use serde::Serialize;

use crate::Context;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    repeat: u64,
    kpoints: usize,
    fuel: u64,
    wasm_seconds: f64,
    native_seconds: f64,
    /// Wasm time over native time.
    slowdown: f64,
    fuel_per_second: f64,
    same_output: bool,
}

fn example() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    for base in [
        here.clone(),
        here.join("../.."),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
    ] {
        let p = base.join("examples/hbn-bands");
        if p.join("kernels/bands.c").exists() {
            return Ok(p);
        }
    }
    bail!("examples/hbn-bands not found: run from the repository")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(ctx: &Context, repeat: u64, rounds: usize) -> anyhow::Result<ExitCode> {
    let dir = example()?;
    let structure = std::fs::read(dir.join("data/hBN.json"))?;
    let prepare = std::fs::read(dir.join("kernels/prepare.wasm"))?;
    let bands = std::fs::read(dir.join("kernels/bands.wasm"))?;
    let inputs = BTreeMap::from([("structure.json".to_owned(), structure.clone())]);
    let prep = run_wasm(
        &prepare,
        vec!["prepare".into(), "64".into()],
        inputs,
        Limits::default(),
    );
    let kpoints = prep
        .outputs
        .get("kpoints-0.txt")
        .cloned()
        .context("prepare gave no k-points")?;
    let limits = Limits {
        fuel: u64::MAX / 2,
        ..Limits::default()
    };
    let args = vec!["bands".to_owned(), repeat.to_string()];
    let inputs = BTreeMap::from([
        ("kpoints.txt".to_owned(), kpoints.clone()),
        ("structure.json".to_owned(), structure.clone()),
    ]);

    let tmp = std::env::temp_dir().join(format!("metamesh-bench-wasm-{}", std::process::id()));
    let (input, output) = (tmp.join("in"), tmp.join("out"));
    std::fs::create_dir_all(&input)?;
    std::fs::create_dir_all(&output)?;
    std::fs::write(input.join("kpoints.txt"), &kpoints)?;
    std::fs::write(input.join("structure.json"), &structure)?;
    let native = tmp.join("bands");
    let cc = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&native)
        .arg(dir.join("kernels/bands.c"))
        .arg("-lm")
        .status()
        .context("running cc")?;
    if !cc.success() {
        bail!("cc could not build the native kernel");
    }
    let (mut wasm_t, mut native_t, mut last) = (Vec::new(), Vec::new(), None);
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let r = run_wasm(&bands, args.clone(), inputs.clone(), limits);
        wasm_t.push(start.elapsed().as_secs_f64());
        if r.status != 0 {
            bail!("the kernel failed under Wasm: {:?}", r.reason);
        }
        last = Some(r);
        let start = Instant::now();
        let status = Command::new(&native)
            .arg(repeat.to_string())
            .env("METAMESH_IN", &input)
            .env("METAMESH_OUT", &output)
            .output()?;
        native_t.push(start.elapsed().as_secs_f64());
        if !status.status.success() {
            bail!("the native kernel failed");
        }
    }
    let last = last.expect("one round");
    let same = std::fs::read(output.join("bands.txt"))? == last.outputs["bands.txt"];
    let _ = std::fs::remove_dir_all(&tmp);
    let (w, n) = (median(wasm_t), median(native_t));
    let report = Report {
        repeat,
        kpoints: kpoints.iter().filter(|b| **b == b'\n').count(),
        fuel: last.fuel,
        wasm_seconds: w,
        native_seconds: n,
        slowdown: w / n,
        fuel_per_second: last.fuel as f64 / w,
        same_output: same,
    };
    ctx.out.emit(&report, || {
        format!(
            "bands kernel, {} k-points × {repeat}: Wasm {:.3} s ({:.0} M fuel/s), native {:.3} s: {:.1}× slower; outputs {}",
            report.kpoints, w, report.fuel_per_second / 1e6, n, report.slowdown,
            if same { "identical" } else { "differ in the last digits" }
        )
    });
    Ok(ExitCode::SUCCESS)
}
