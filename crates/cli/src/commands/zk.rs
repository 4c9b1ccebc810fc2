//! `metamesh zk`: Groth16 proofs in snarkjs's formats — verify, prove (from a `.zkey` and a
//! witness or circom's witness Wasm and an input), compute witnesses, export keys.
//!
//! `zk verify` exits 0 when the proof is valid, 1 when it is not, 2 when an input is
//! malformed (with the reason).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context as _, anyhow, bail};
use metamesh_zk::{Curve, Engine, Prepared, prove, snarkjs, witness, wtns, zkey};
use serde_json::{Value, json};

use super::{
    client::{RpcArgs, SenderArgs},
    read_input, write_output, zk_chain,
};
use crate::Context;

/// Runs `$body` with `$C` bound to the engine's curve type.
macro_rules! with_engine {
    ($engine:expr, $C:ident => $body:expr) => {
        match $engine {
            metamesh_zk::Engine::Bn254 => {
                type $C = ark_bn254::Bn254;
                $body
            }
            metamesh_zk::Engine::Bls12_381 => {
                type $C = ark_bls12_381::Bls12_381;
                $body
            }
        }
    };
}
pub(crate) use with_engine;

#[derive(clap::Subcommand, Debug)]
pub enum ZkCommand {
    /// Verify a Groth16 proof (snarkjs JSON) here with `--vk`, or on chain against a
    /// registered circuit with `--circuit` (recording the statement). Exit 0 valid, 1 invalid,
    /// 2 malformed input.
    Verify {
        #[arg(
            long,
            value_name = "verification_key.json",
            required_unless_present = "circuit",
            conflicts_with = "circuit"
        )]
        vk: Option<PathBuf>,
        /// A registered circuit's id: the chain verifies the proof in a transaction.
        #[arg(long, value_name = "ID")]
        circuit: Option<String>,
        #[arg(long, value_name = "proof.json")]
        proof: PathBuf,
        #[arg(long, value_name = "public.json")]
        public: PathBuf,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Register a circuit on chain by its verifying key (prints the circuit id).
    Register {
        #[arg(long, value_name = "verification_key.json")]
        vk: PathBuf,
        #[arg(long)]
        name: String,
        /// What each public input means, in order (default public0, public1, …).
        #[arg(long, value_delimiter = ',')]
        inputs: Vec<String>,
        /// CIDs of the circuit's source, constraint system, proving key and witness
        /// generator (circom's `.wasm`; a zk task's provider needs the last two).
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        r1cs: Option<String>,
        #[arg(long)]
        zkey: Option<String>,
        #[arg(long)]
        wasm: Option<String>,
        #[command(flatten)]
        sender: SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// List the circuits registered on chain.
    Circuits {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Prove with a snarkjs `.zkey`, from a `.wtns` witness or from circom's witness Wasm and
    /// an input JSON; writes snarkjs's proof.json and public.json.
    Prove {
        #[arg(long)]
        zkey: PathBuf,
        /// A full witness (`snarkjs wtns calculate` or `zk witness`).
        #[arg(long, conflicts_with_all = ["wasm", "input"], required_unless_present = "wasm")]
        wtns: Option<PathBuf>,
        /// circom's witness calculator (`circuit_js/circuit.wasm`).
        #[arg(long, requires = "input")]
        wasm: Option<PathBuf>,
        /// The circuit's input signals (circom's input.json).
        #[arg(long, requires = "wasm")]
        input: Option<PathBuf>,
        #[arg(long, default_value = "proof.json")]
        proof: PathBuf,
        #[arg(long, default_value = "public.json")]
        public: PathBuf,
    },
    /// A circuit-specific setup from circom's `.r1cs` and a prepared powers-of-tau file, with
    /// one fresh phase-2 contribution: writes the `.zkey` and its verification_key.json.
    Setup {
        #[arg(long)]
        r1cs: PathBuf,
        /// After `snarkjs powersoftau prepare phase2`; its power must cover the circuit.
        #[arg(long)]
        ptau: PathBuf,
        #[arg(short, long, default_value = "circuit.zkey")]
        output: PathBuf,
        #[arg(long, default_value = "verification_key.json")]
        vk: PathBuf,
    },
    /// Compute a witness with circom's witness Wasm (as `snarkjs wtns calculate` does).
    Witness {
        #[arg(long)]
        wasm: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// The curve the circuit was compiled for (`bn128` or `bls12381`).
        #[arg(long, default_value = "bn128")]
        curve: String,
        #[arg(short, long, default_value = "witness.wtns")]
        output: PathBuf,
    },
    /// Export a verifying key as snarkjs's verification_key.json: a `.zkey`'s, or a
    /// registered circuit's.
    Export {
        #[arg(long, required_unless_present = "circuit", conflicts_with = "circuit")]
        zkey: Option<PathBuf>,
        #[arg(long, value_name = "ID")]
        circuit: Option<String>,
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

pub fn run(ctx: &Context, cmd: ZkCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ZkCommand::Verify {
            vk: Some(vk),
            proof,
            public,
            ..
        } => verify(ctx, &vk, &proof, &public),
        ZkCommand::Verify {
            vk: None,
            circuit,
            proof,
            public,
            sender,
            rpc,
        } => {
            let circuit = circuit.ok_or_else(|| anyhow!("give --vk or --circuit"))?;
            zk_chain::verify_on_chain(ctx, &rpc, &sender, &circuit, &proof, &public)
        }
        ZkCommand::Register {
            vk,
            name,
            inputs,
            source,
            r1cs,
            zkey,
            wasm,
            sender,
            rpc,
        } => zk_chain::register(
            ctx,
            &rpc,
            &sender,
            zk_chain::Register {
                vk: &vk,
                name,
                inputs,
                source,
                r1cs,
                zkey,
                wasm,
            },
        ),
        ZkCommand::Circuits { rpc } => zk_chain::circuits(ctx, &rpc),
        ZkCommand::Prove {
            zkey,
            wtns,
            wasm,
            input,
            proof,
            public,
        } => prove_cmd(ctx, &zkey, wtns, wasm.zip(input), &proof, &public),
        ZkCommand::Setup {
            r1cs,
            ptau,
            output,
            vk,
        } => setup(ctx, &r1cs, &ptau, &output, &vk),
        ZkCommand::Witness {
            wasm,
            input,
            curve,
            output,
        } => witness_cmd(ctx, &wasm, &input, &curve, &output),
        ZkCommand::Export {
            zkey: Some(zkey),
            output,
            ..
        } => export(&zkey, &output),
        ZkCommand::Export {
            zkey: None,
            circuit,
            output,
            rpc,
        } => {
            let circuit = circuit.ok_or_else(|| anyhow!("give --zkey or --circuit"))?;
            zk_chain::export_circuit(&rpc, &circuit, &output)
        }
    }
}

pub(crate) fn json_file(path: &std::path::Path) -> anyhow::Result<Value> {
    let bytes = read_input(path)?;
    if bytes.len() > 64 << 20 {
        bail!("{}: over 64 MiB", path.display());
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))
}

/// The outcome of checking one proof: valid, or why not.
fn check(vk: &Value, proof: &Value, public: &Value) -> Result<bool, metamesh_zk::Error> {
    let engine = snarkjs::engine_of(vk, "verification_key.json")?;
    with_engine!(engine, C => {
        let key = snarkjs::read_vk::<C>(vk)?;
        let proof = snarkjs::read_proof::<C>(proof)?;
        let inputs = snarkjs::read_public::<C>(public, key.n_public())?;
        Prepared::new(&key).verify(&proof, &inputs)
    })
}

fn verify(ctx: &Context, vk: &Path, proof: &Path, public: &Path) -> anyhow::Result<ExitCode> {
    let docs = (json_file(vk), json_file(proof), json_file(public));
    let verdict = match docs {
        (Ok(v), Ok(p), Ok(x)) => check(&v, &p, &x).map_err(|e| e.to_string()),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(format!("{e:#}")),
    };
    let (code, report) = match &verdict {
        Ok(true) => (0, json!({"valid": true})),
        Ok(false) => (
            1,
            json!({"valid": false, "reason": "the proof does not verify for this key and these public inputs"}),
        ),
        Err(reason) => (
            2,
            json!({"valid": false, "malformed": true, "reason": reason}),
        ),
    };
    ctx.out.emit(&report, || match &verdict {
        Ok(true) => "valid".into(),
        Ok(false) => {
            "invalid: the proof does not verify for this key and these public inputs".into()
        }
        Err(reason) => format!("malformed: {reason}"),
    });
    Ok(ExitCode::from(code))
}

fn prove_cmd(
    ctx: &Context,
    zkey_path: &Path,
    wtns_path: Option<PathBuf>,
    calc: Option<(PathBuf, PathBuf)>,
    proof_path: &Path,
    public_path: &Path,
) -> anyhow::Result<ExitCode> {
    let key = read_input(zkey_path)?;
    let engine = zkey::engine(&key).with_context(|| zkey_path.display().to_string())?;
    let started = std::time::Instant::now();
    let (proof, public) = with_engine!(engine, C => {
        let pk = zkey::read::<C>(&key).with_context(|| zkey_path.display().to_string())?;
        let w = load_witness::<C>(wtns_path.as_ref(), calc.as_ref())?;
        let (proof, public) = prove::prove(&pk, &w, &mut prove::os_rng()).map_err(|e| anyhow!("{e}"))?;
        (snarkjs::proof_json(&proof), snarkjs::public_json::<C>(&public))
    });
    write_output(proof_path, &pretty(&proof))?;
    write_output(public_path, &pretty(&public))?;
    let ms = started.elapsed().as_millis();
    ctx.out.emit(
        &json!({"proof": proof_path, "public": public_path, "curve": engine.snarkjs_name(), "ms": ms}),
        || format!("proved ({engine}, {ms} ms): {} {}", proof_path.display(), public_path.display()),
    );
    Ok(ExitCode::SUCCESS)
}

fn load_witness<C: Curve>(
    wtns_path: Option<&PathBuf>,
    calc: Option<&(PathBuf, PathBuf)>,
) -> anyhow::Result<Vec<C::ScalarField>> {
    match (wtns_path, calc) {
        (Some(p), _) => {
            wtns::read::<C::ScalarField>(&read_input(p)?).with_context(|| p.display().to_string())
        }
        (None, Some((wasm, input))) => {
            let code = read_input(wasm)?;
            let input = json_file(input)?;
            witness::calculate::<C::ScalarField>(&code, &input, Default::default())
                .with_context(|| wasm.display().to_string())
        }
        (None, None) => bail!("give --wtns, or --wasm and --input"),
    }
}

fn witness_cmd(
    ctx: &Context,
    wasm: &Path,
    input: &Path,
    curve: &str,
    output: &Path,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::from_name(curve)?;
    let code = read_input(wasm)?;
    let input = json_file(input)?;
    let (bytes, n) = with_engine!(engine, C => {
        let w = witness::calculate::<<C as ark_ec::pairing::Pairing>::ScalarField>(&code, &input, Default::default())
            .with_context(|| wasm.display().to_string())?;
        (wtns::write(&w), w.len())
    });
    write_output(output, &bytes)?;
    ctx.out.emit(&json!({"witness": output, "values": n}), || {
        format!("{n} witness values: {}", output.display())
    });
    Ok(ExitCode::SUCCESS)
}

fn export(zkey_path: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let key = read_input(zkey_path)?;
    let engine = zkey::engine(&key).with_context(|| zkey_path.display().to_string())?;
    let vk = with_engine!(engine, C => {
        let pk = zkey::read::<C>(&key).with_context(|| zkey_path.display().to_string())?;
        snarkjs::vk_json(&pk.vk)
    });
    write_output(output, &pretty(&vk))?;
    Ok(ExitCode::SUCCESS)
}

fn setup(
    ctx: &Context,
    r1cs_path: &Path,
    ptau_path: &Path,
    output: &Path,
    vk_path: &Path,
) -> anyhow::Result<ExitCode> {
    use metamesh_zk::{r1cs, setup};
    let cs = read_input(r1cs_path)?;
    let tau = read_input(ptau_path)?;
    let engine = r1cs::engine(&cs).with_context(|| r1cs_path.display().to_string())?;
    let ptau_engine = setup::ptau_engine(&tau).with_context(|| ptau_path.display().to_string())?;
    if engine != ptau_engine {
        bail!("the circuit is over {engine} but the powers of tau are for {ptau_engine}");
    }
    let started = std::time::Instant::now();
    let (key, vk, n) = with_engine!(engine, C => {
        let cs = r1cs::read::<<C as ark_ec::pairing::Pairing>::ScalarField>(&cs)
            .with_context(|| r1cs_path.display().to_string())?;
        let pk = setup::setup::<C, _>(&cs, &tau, &mut prove::os_rng()).map_err(|e| anyhow!("{e}"))?;
        (zkey::write(&pk), snarkjs::vk_json(&pk.vk), pk.domain_size)
    });
    write_output(output, &key)?;
    write_output(vk_path, &pretty(&vk))?;
    let ms = started.elapsed().as_millis();
    ctx.out.emit(&json!({"zkey": output, "vk": vk_path, "curve": engine.snarkjs_name(), "domain": n, "ms": ms}), || {
        format!("setup ({engine}, domain {n}, {ms} ms): {} {}", output.display(), vk_path.display())
    });
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serialisable");
    s.push(b'\n');
    s
}
