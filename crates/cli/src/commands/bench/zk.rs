//! `metamesh bench zk`: Groth16 verification and proving of the committed circuits beside
//! snarkjs 0.7.6 in-process (node, tools/js) on the same files in the same run, and batch
//! verification of 32 proofs beside 32 single verifications.

use std::{
    path::PathBuf,
    process::{Command, ExitCode},
    time::Instant,
};

use anyhow::{Context as _, bail};
use metamesh_zk::{Curve, Prepared, Proof, prove, snarkjs, wtns, zkey};
use serde_json::{Value, json};

use crate::{Context, commands::zk::with_engine};

fn fixtures() -> PathBuf {
    PathBuf::from("crates/zk/tests/fixtures")
}

fn doc(dir: &std::path::Path, f: &str) -> anyhow::Result<Value> {
    let p = dir.join(f);
    serde_json::from_slice(
        &std::fs::read(&p).with_context(|| format!("{} (run from the repository)", p.display()))?,
    )
    .with_context(|| p.display().to_string())
}

struct Ours {
    verify_ms: f64,
    /// What the state transition does per uncached proof: decode the stored key, prepare it,
    /// decode the proof, verify.
    chain_ms: f64,
    prove_ms: f64,
    batch_ms: f64,
    singles_ms: f64,
}

fn ours<C: Curve>(dir: &std::path::Path, verifies: usize, proves: usize) -> anyhow::Result<Ours> {
    let vk = snarkjs::read_vk::<C>(&doc(dir, "verification_key.json")?)?;
    let proof = snarkjs::read_proof::<C>(&doc(dir, "proof.json")?)?;
    let public = snarkjs::read_public::<C>(&doc(dir, "public.json")?, vk.n_public())?;
    let pvk = Prepared::new(&vk);
    let ms = |t: Instant, n: usize| t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let t = Instant::now();
    for _ in 0..verifies {
        if !pvk.verify(&proof, &public)? {
            bail!("a committed proof did not verify");
        }
    }
    let verify_ms = ms(t, verifies);
    let (stored, bytes) = (vk.canonical_bytes(), proof.to_bytes());
    let t = Instant::now();
    for _ in 0..verifies {
        let key = metamesh_zk::VerifyingKey::<C>::from_stored_bytes(&stored)?;
        let p = Proof::<C>::from_bytes(&bytes)?;
        if !Prepared::new(&key).verify(&p, &public)? {
            bail!("a committed proof did not verify");
        }
    }
    let chain_ms = ms(t, verifies);

    let pk = zkey::read::<C>(&std::fs::read(dir.join("circuit.zkey"))?)?;
    let w = wtns::read::<C::ScalarField>(&std::fs::read(dir.join("witness.wtns"))?)?;
    let mut rng = prove::os_rng();
    prove::prove(&pk, &w, &mut rng)?;
    let t = Instant::now();
    for _ in 0..proves {
        prove::prove(&pk, &w, &mut rng)?;
    }
    let prove_ms = ms(t, proves);

    // 32 proofs of one circuit: distinct (re-scaled) proofs of the committed statement.
    let proofs: Vec<Proof<C>> = (1..=32u64)
        .map(|i| proof.scaled(C::ScalarField::from(i + 1)))
        .collect();
    let items: Vec<(&Proof<C>, &[C::ScalarField])> =
        proofs.iter().map(|p| (p, public.as_slice())).collect();
    let rounds = (verifies / 32).max(3);
    let t = Instant::now();
    for _ in 0..rounds {
        if pvk.verify_batch(&items)?.iter().any(|v| !v) {
            bail!("the batch did not verify");
        }
    }
    let batch_ms = ms(t, rounds * 32);
    let t = Instant::now();
    for _ in 0..rounds {
        for (p, x) in &items {
            pvk.verify(p, x)?;
        }
    }
    let singles_ms = ms(t, rounds * 32);
    Ok(Ours {
        verify_ms,
        chain_ms,
        prove_ms,
        batch_ms,
        singles_ms,
    })
}

fn snarkjs_times(dir: &std::path::Path, verifies: usize, proves: usize) -> anyhow::Result<Value> {
    let out = Command::new("node")
        .arg("tools/js/zk-bench.mjs")
        .arg(dir)
        .args([verifies.to_string(), proves.to_string()])
        .output()
        .context("node (scripts/install-deps.sh installs it and snarkjs)")?;
    if !out.status.success() {
        bail!(
            "snarkjs bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("the snarkjs bench's output")
}

pub fn run(ctx: &Context, verifies: usize, proves: usize) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for (name, engine) in [
        ("data-stat-bn128", metamesh_zk::Engine::Bn254),
        ("multiplier-bn128", metamesh_zk::Engine::Bn254),
        ("multiplier-bls12381", metamesh_zk::Engine::Bls12_381),
    ] {
        let dir = fixtures().join(name);
        let o = with_engine!(engine, C => ours::<C>(&dir, verifies, proves)?);
        let js = snarkjs_times(&dir, verifies.min(200), proves)?;
        let (jv, jp) = (
            js["verifyMs"].as_f64().unwrap_or(f64::NAN),
            js["proveMs"].as_f64().unwrap_or(f64::NAN),
        );
        rows.push(json!({
            "circuit": name,
            "verifyMs": o.verify_ms, "snarkjsVerifyMs": jv, "verifySpeedup": jv / o.verify_ms,
            "chainVerifyMs": o.chain_ms,
            "proveMs": o.prove_ms, "snarkjsProveMs": jp, "proveSpeedup": jp / o.prove_ms,
            "batch32PerProofMs": o.batch_ms, "single32PerProofMs": o.singles_ms,
            "batchSpeedup": o.singles_ms / o.batch_ms,
        }));
    }
    let report = json!({ "verifies": verifies, "proves": proves, "circuits": rows });
    ctx.out.emit(&report, || {
        let mut s = String::new();
        for r in &rows {
            s += &format!(
                "{}: verify {:.3} ms (snarkjs {:.2} ms, {:.1}x; on chain, key decoded each time, {:.3} ms); prove {:.1} ms (snarkjs {:.1} ms, {:.1}x); batch of 32 {:.3} ms/proof vs {:.3} single ({:.1}x)\n",
                r["circuit"].as_str().unwrap_or(""),
                r["verifyMs"].as_f64().unwrap_or(0.0), r["snarkjsVerifyMs"].as_f64().unwrap_or(0.0), r["verifySpeedup"].as_f64().unwrap_or(0.0),
                r["chainVerifyMs"].as_f64().unwrap_or(0.0),
                r["proveMs"].as_f64().unwrap_or(0.0), r["snarkjsProveMs"].as_f64().unwrap_or(0.0), r["proveSpeedup"].as_f64().unwrap_or(0.0),
                r["batch32PerProofMs"].as_f64().unwrap_or(0.0), r["single32PerProofMs"].as_f64().unwrap_or(0.0), r["batchSpeedup"].as_f64().unwrap_or(0.0),
            );
        }
        s.trim_end().to_owned()
    });
    Ok(ExitCode::SUCCESS)
}
