//! Interoperability with snarkjs 0.7.6 and circom 2 (tools/js, installed by
//! scripts/install-deps.sh) over committed circuits and keys for both engines: snarkjs's
//! proofs verify here, ours verify in `snarkjs groth16 verify`, our witnesses equal circom's,
//! and every kind of bad input is refused with its reason.

use std::{path::PathBuf, process::Command};

use ark_bls12_381::Bls12_381;
use ark_bn254::Bn254;
use ark_ec::AffineRepr;
use ark_ff::{PrimeField, UniformRand};
use ark_serialize::CanonicalSerialize;
use metamesh_zk::{
    Curve, Error, Prepared, Proof, VerifyingKey, prove, snarkjs, witness, wtns, zkey,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn json_file(dir: &str, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(dir).join(file)).unwrap()).unwrap()
}

fn snarkjs_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/js/node_modules/.bin/snarkjs")
}

/// `snarkjs groth16 verify` on the three documents; true when it prints OK.
fn snarkjs_verifies(vk: &Value, public: &Value, proof: &Value) -> bool {
    let dir = tempdir();
    for (name, v) in [
        ("vk.json", vk),
        ("public.json", public),
        ("proof.json", proof),
    ] {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }
    let out = Command::new(snarkjs_bin())
        .args(["groth16", "verify", "vk.json", "public.json", "proof.json"])
        .current_dir(&dir)
        .output()
        .expect("snarkjs (scripts/install-deps.sh installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    text.contains("OK!")
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "mm-zk-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Case<C: Curve> {
    vk: VerifyingKey<C>,
    proof: Proof<C>,
    public: Vec<C::ScalarField>,
}

fn case<C: Curve>(dir: &'static str) -> Case<C> {
    let vk = snarkjs::read_vk::<C>(&json_file(dir, "verification_key.json")).unwrap();
    let proof = snarkjs::read_proof::<C>(&json_file(dir, "proof.json")).unwrap();
    let public = snarkjs::read_public::<C>(&json_file(dir, "public.json"), vk.n_public()).unwrap();
    Case { vk, proof, public }
}

fn snarkjs_proofs_verify_here<C: Curve>(dir: &'static str) {
    let c = case::<C>(dir);
    let pvk = Prepared::new(&c.vk);
    assert!(
        pvk.verify(&c.proof, &c.public).unwrap(),
        "{dir}: snarkjs's proof"
    );
    // Tampered public input: a valid statement, not the one proven.
    let mut other = c.public.clone();
    other[0] += C::ScalarField::from(1u64);
    assert!(
        !pvk.verify(&c.proof, &other).unwrap(),
        "{dir}: tampered input"
    );
    // The key read from the .zkey is the key in verification_key.json.
    let pk = zkey::read::<C>(&std::fs::read(fixture(dir).join("circuit.zkey")).unwrap()).unwrap();
    assert_eq!(pk.vk, c.vk, "{dir}: zkey's verifying key");
    assert_eq!(
        zkey::engine(&std::fs::read(fixture(dir).join("circuit.zkey")).unwrap()).unwrap(),
        C::ENGINE
    );
    // Canonical bytes round-trip and differ between keys.
    let bytes = c.vk.canonical_bytes();
    assert_eq!(
        VerifyingKey::<C>::from_canonical_bytes(&bytes).unwrap(),
        c.vk
    );
    assert_eq!(
        Proof::<C>::from_bytes(&c.proof.to_bytes()).unwrap(),
        c.proof
    );
    // Our export of the key is what snarkjs exported, e(α, β) included.
    assert_eq!(
        snarkjs::vk_json(&c.vk),
        json_file(dir, "verification_key.json"),
        "{dir}: exported key"
    );
}

#[test]
fn snarkjs_proofs_verify_in_ours() {
    snarkjs_proofs_verify_here::<Bn254>("multiplier-bn128");
    snarkjs_proofs_verify_here::<Bls12_381>("multiplier-bls12381");
    snarkjs_proofs_verify_here::<Bn254>("data-stat-bn128");
}

fn ours_in_snarkjs<C: Curve>(dir: &'static str) {
    let c = case::<C>(dir);
    let pk = zkey::read::<C>(&std::fs::read(fixture(dir).join("circuit.zkey")).unwrap()).unwrap();
    // The witness from circom's Wasm, run here, is the one snarkjs computed.
    let input = json_file(dir, "input.json");
    let wasm = std::fs::read(fixture(dir).join("circuit.wasm")).unwrap();
    let ours = witness::calculate::<C::ScalarField>(&wasm, &input, Default::default()).unwrap();
    let theirs =
        wtns::read::<C::ScalarField>(&std::fs::read(fixture(dir).join("witness.wtns")).unwrap())
            .unwrap();
    assert_eq!(ours, theirs, "{dir}: witness");
    assert_eq!(
        wtns::read::<C::ScalarField>(&wtns::write(&ours)).unwrap(),
        ours
    );
    let mut rng = prove::os_rng();
    let (proof, public) = prove::prove(&pk, &ours, &mut rng).unwrap();
    assert_eq!(public, c.public, "{dir}: public inputs");
    assert!(Prepared::new(&c.vk).verify(&proof, &public).unwrap());
    let vk_json = json_file(dir, "verification_key.json");
    assert!(
        snarkjs_verifies(
            &vk_json,
            &snarkjs::public_json::<C>(&public),
            &snarkjs::proof_json(&proof)
        ),
        "{dir}: snarkjs refused our proof"
    );
    // ...and refuses it for another statement, as we do.
    let mut other = public.clone();
    other[0] += C::ScalarField::from(1u64);
    assert!(!snarkjs_verifies(
        &vk_json,
        &snarkjs::public_json::<C>(&other),
        &snarkjs::proof_json(&proof)
    ));
    // A witness that does not satisfy the circuit is an error, not a bad proof.
    let mut bad = ours.clone();
    let last = bad.len() - 1;
    bad[last] += C::ScalarField::from(1u64);
    let err = prove::prove(&pk, &bad, &mut rng).unwrap_err();
    assert!(err.to_string().contains("does not satisfy"), "{err}");
}

#[test]
fn our_proofs_verify_in_snarkjs() {
    ours_in_snarkjs::<Bn254>("multiplier-bn128");
    ours_in_snarkjs::<Bls12_381>("multiplier-bls12381");
    ours_in_snarkjs::<Bn254>("data-stat-bn128");
}

fn malformed(r: Result<impl std::fmt::Debug, Error>, needle: &str) {
    match r {
        Err(Error::Malformed(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
        other => panic!("expected a refusal naming {needle:?}, got {other:?}"),
    }
}

fn bad_inputs_are_refused<C: Curve>(dir: &'static str, other_dir: &'static str) {
    let vk = json_file(dir, "verification_key.json");
    let proof = json_file(dir, "proof.json");
    let public = json_file(dir, "public.json");
    let n = vk["nPublic"].as_u64().unwrap() as usize;
    let r: num_bigint::BigUint = C::ScalarField::MODULUS.into();
    let q: num_bigint::BigUint = C::Fq::MODULUS.into();

    // Public input not canonical: x + r is refused, never reduced.
    let mut p = public.clone();
    let x: num_bigint::BigUint = p[0].as_str().unwrap().parse().unwrap();
    p[0] = json!((x + &r).to_string());
    malformed(snarkjs::read_public::<C>(&p, n), "not canonical");
    malformed(snarkjs::read_public::<C>(&json!([1]), 1), "decimal strings");
    malformed(
        snarkjs::read_public::<C>(&json!(["0x1"]), 1),
        "decimal string",
    );
    malformed(snarkjs::read_public::<C>(&public, n + 1), "nPublic");
    // A coordinate ≥ q.
    let mut bad = proof.clone();
    let y: num_bigint::BigUint = bad["pi_a"][1].as_str().unwrap().parse().unwrap();
    bad["pi_a"][1] = json!((y + &q).to_string());
    malformed(snarkjs::read_proof::<C>(&bad), "not canonical");
    // Off the curve.
    let mut bad = proof.clone();
    let y: num_bigint::BigUint = bad["pi_a"][1].as_str().unwrap().parse().unwrap();
    bad["pi_a"][1] = json!(((y + 1u32) % &q).to_string());
    malformed(snarkjs::read_proof::<C>(&bad), "not on the curve");
    // On the curve, outside the subgroup (G2 has a cofactor on both engines).
    let mut bad = proof.clone();
    bad["pi_b"] = g2_outside_subgroup::<C>();
    malformed(
        snarkjs::read_proof::<C>(&bad),
        "not in the prime-order subgroup",
    );
    // Wrong protocol, curve, nPublic, shapes.
    let mut k = vk.clone();
    k["protocol"] = json!("plonk");
    malformed(snarkjs::read_vk::<C>(&k), "protocol");
    let mut k = vk.clone();
    k["nPublic"] = json!(n + 1);
    malformed(snarkjs::read_vk::<C>(&k), "nPublic");
    let mut k = vk.clone();
    k["vk_delta_2"] = k["vk_gamma_2"].clone();
    malformed(snarkjs::read_vk::<C>(&k), "γ equals δ");
    let mut k = vk.clone();
    k["vk_alpha_1"] = json!(["0", "1", "0"]);
    malformed(snarkjs::read_vk::<C>(&k), "infinity");
    let mut pr = proof.clone();
    pr["curve"] = json!(if C::ENGINE == metamesh_zk::Engine::Bn254 {
        "bls12381"
    } else {
        "bn128"
    });
    malformed(snarkjs::read_proof::<C>(&pr), "proof for a");
    // A proof for another key fails (with the right count of inputs) or is refused (otherwise).
    let key = Prepared::new(&snarkjs::read_vk::<C>(&vk).unwrap());
    let theirs = snarkjs::read_proof::<C>(&json_file(other_dir, "proof.json")).unwrap();
    let inputs = snarkjs::read_public::<C>(&public, n).unwrap();
    assert!(!key.verify(&theirs, &inputs).unwrap());
    // Bytes: truncated, trailing, another engine.
    let bytes = key.vk().canonical_bytes();
    malformed(
        VerifyingKey::<C>::from_canonical_bytes(&bytes[..bytes.len() - 1]),
        "verifying key bytes",
    );
    malformed(
        VerifyingKey::<C>::from_canonical_bytes(&[bytes.clone(), vec![0]].concat()),
        "trailing",
    );
    // One key, one encoding: an identity IC point with junk beside its flag is refused.
    let mut with_identity = key.vk().clone();
    with_identity.ic[1] = C::G1Affine::zero();
    let mut b = with_identity.canonical_bytes();
    let n8 = b.len() - bytes.len(); // same length: compressed points are fixed-size
    assert_eq!(n8, 0);
    let g1 = C::G1Affine::zero().compressed_size();
    let ic1 = b.len() - (with_identity.ic.len() - 1) * g1;
    assert!(VerifyingKey::<C>::from_canonical_bytes(&b).is_ok());
    b[ic1] ^= 1;
    assert!(VerifyingKey::<C>::from_canonical_bytes(&b).is_err());
    let zk = std::fs::read(fixture(dir).join("circuit.zkey")).unwrap();
    malformed(zkey::read::<C>(&zk[..zk.len() / 2]), "zkey");
    malformed(
        zkey::read::<C>(b"wtns\x02\0\0\0\0\0\0\0"),
        "not a zkey file",
    );
}

/// A G2 point on the curve but outside the r-order subgroup, as snarkjs JSON.
fn g2_outside_subgroup<C: Curve>() -> Value {
    use ark_ec::short_weierstrass::Affine;
    let mut rng = ark_std::test_rng();
    loop {
        let x = <C::G2Config as ark_ec::CurveConfig>::BaseField::rand(&mut rng);
        if let Some(p) = Affine::<C::G2Config>::get_point_from_x_unchecked(x, false)
            && !p.is_in_correct_subgroup_assuming_on_curve()
        {
            {
                let (x, y) = p.xy().unwrap();
                let fq = |v: &C::Fq| metamesh_zk::field::to_decimal(v);
                return json!([[fq(&x.c0), fq(&x.c1)], [fq(&y.c0), fq(&y.c1)], ["1", "0"]]);
            }
        }
    }
}

#[test]
fn bad_inputs_are_refused_with_reasons() {
    bad_inputs_are_refused::<Bn254>("multiplier-bn128", "data-stat-bn128");
    bad_inputs_are_refused::<Bls12_381>("multiplier-bls12381", "multiplier-bls12381-other");
}

fn batch<C: Curve>(dir: &'static str) {
    let c = case::<C>(dir);
    let pvk = Prepared::new(&c.vk);
    // 32 proofs of the same statement, re-randomised (as anyone can): all valid.
    let mut rng = ark_std::test_rng();
    let proofs: Vec<Proof<C>> = (0..32)
        .map(|_| rerandomize(&c.vk, &c.proof, &mut rng))
        .collect();
    let items: Vec<(&Proof<C>, &[C::ScalarField])> =
        proofs.iter().map(|p| (p, c.public.as_slice())).collect();
    assert_eq!(pvk.verify_batch(&items).unwrap(), vec![true; 32]);
    // One bad statement in the batch: exactly it is named.
    let mut other = c.public.clone();
    other[0] += C::ScalarField::from(1u64);
    let mut items = items;
    items[17].1 = &other;
    let verdicts = pvk.verify_batch(&items).unwrap();
    assert_eq!(verdicts.iter().filter(|v| !**v).count(), 1);
    assert!(!verdicts[17]);
}

/// Groth16's re-randomisation: A' = A/t, B' = t·B + … (here the simplest: A·t⁻¹, B·t).
fn rerandomize<C: Curve, R: ark_std::rand::Rng>(
    _vk: &VerifyingKey<C>,
    p: &Proof<C>,
    rng: &mut R,
) -> Proof<C> {
    p.scaled(C::ScalarField::rand(rng))
}

#[test]
fn batch_verification_names_the_bad_proof() {
    batch::<Bn254>("data-stat-bn128");
    batch::<Bls12_381>("multiplier-bls12381");
}

/// `snarkjs groth16 prove ZKEY WTNS` in `dir`: its proof.json and public.json.
fn snarkjs_prove(dir: &std::path::Path, zkey: &str, wtns: &str) -> (Value, Value) {
    let out = Command::new(snarkjs_bin())
        .args(["groth16", "prove", zkey, wtns, "p.json", "x.json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "snarkjs prove: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap();
    (read("p.json"), read("x.json"))
}

fn setup_interop<C: Curve>(dir: &'static str, ptau: &str) {
    use metamesh_zk::{r1cs, setup};
    let r1cs =
        r1cs::read::<C::ScalarField>(&std::fs::read(fixture(dir).join("circuit.r1cs")).unwrap())
            .unwrap();
    let tau = std::fs::read(fixture(ptau)).unwrap();
    assert_eq!(setup::ptau_engine(&tau).unwrap(), C::ENGINE);
    let pk = setup::setup::<C, _>(&r1cs, &tau, &mut prove::os_rng()).unwrap();
    // Written as a .zkey and read back, by us and by snarkjs.
    let bytes = zkey::write(&pk);
    let back = zkey::read::<C>(&bytes).unwrap();
    assert_eq!(back.vk, pk.vk);
    assert_eq!(
        (back.a.len(), back.h.len(), back.coefs.len()),
        (pk.a.len(), pk.h.len(), pk.coefs.len())
    );
    let tmp = tempdir();
    std::fs::write(tmp.join("ours.zkey"), &bytes).unwrap();
    std::fs::copy(fixture(dir).join("witness.wtns"), tmp.join("w.wtns")).unwrap();
    let w = wtns::read::<C::ScalarField>(&std::fs::read(tmp.join("w.wtns")).unwrap()).unwrap();
    let vk_json = snarkjs::vk_json(&pk.vk);
    // Our proof with our key verifies in snarkjs...
    let (proof, public) = prove::prove(&back, &w, &mut prove::os_rng()).unwrap();
    assert!(
        snarkjs_verifies(
            &vk_json,
            &snarkjs::public_json::<C>(&public),
            &snarkjs::proof_json(&proof)
        ),
        "{dir}"
    );
    // ...and snarkjs proves with our key, its proof verifying here and in snarkjs.
    let (p, x) = snarkjs_prove(&tmp, "ours.zkey", "w.wtns");
    let theirs = snarkjs::read_proof::<C>(&p).unwrap();
    let inputs = snarkjs::read_public::<C>(&x, pk.vk.n_public()).unwrap();
    assert!(
        Prepared::new(&pk.vk).verify(&theirs, &inputs).unwrap(),
        "{dir}: snarkjs's proof with our key"
    );
    assert!(snarkjs_verifies(&vk_json, &x, &p));
    // A ptau too small for the circuit, or of the other engine, is refused by name.
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn setup_from_r1cs_and_ptau_interoperates_with_snarkjs() {
    setup_interop::<Bn254>("multiplier-bn128", "bn128_6.ptau");
    setup_interop::<Bls12_381>("multiplier-bls12381", "bls12381_6.ptau");
    let r1cs = metamesh_zk::r1cs::read::<ark_bn254::Fr>(
        &std::fs::read(fixture("data-stat-bn128").join("circuit.r1cs")).unwrap(),
    )
    .unwrap();
    let small = std::fs::read(fixture("bn128_6.ptau")).unwrap();
    malformed(
        metamesh_zk::setup::setup::<Bn254, _>(&r1cs, &small, &mut prove::os_rng()),
        "ptau has power 6",
    );
    let other = std::fs::read(fixture("bls12381_6.ptau")).unwrap();
    malformed(
        metamesh_zk::setup::setup::<Bn254, _>(&r1cs, &other, &mut prove::os_rng()),
        "ptau",
    );
}

/// The committed constraint systems and witness calculators are what circom 2 makes of
/// `circuits/` today (so the keys are for the circuits the repository shows).
#[test]
fn committed_circuits_are_circom_outputs_of_the_sources() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let circom = root.join("tools/js/node_modules/.bin/circom2");
    for (source, dir, extra) in [
        ("circuits/multiplier.circom", "multiplier-bn128", vec![]),
        (
            "circuits/multiplier.circom",
            "multiplier-bls12381",
            vec!["--prime", "bls12381"],
        ),
        (
            "circuits/data_stat.circom",
            "data-stat-bn128",
            vec!["-l", "tools/js/node_modules", "--O2"],
        ),
    ] {
        let out = tempdir();
        let rel_out = out.display().to_string();
        let run = Command::new(&circom)
            .current_dir(&root)
            .arg(source)
            .args(&extra)
            .args(["--r1cs", "--wasm", "-o", &rel_out])
            .output()
            .expect("circom2 (scripts/install-deps.sh installs it)");
        assert!(
            run.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&run.stdout)
        );
        let stem = std::path::Path::new(source)
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap();
        let fresh = std::fs::read(out.join(format!("{stem}.r1cs"))).unwrap();
        assert_eq!(
            fresh,
            std::fs::read(fixture(dir).join("circuit.r1cs")).unwrap(),
            "{dir}: r1cs"
        );
        let wasm = std::fs::read(out.join(format!("{stem}_js/{stem}.wasm"))).unwrap();
        assert_eq!(
            wasm,
            std::fs::read(fixture(dir).join("circuit.wasm")).unwrap(),
            "{dir}: wasm"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}
