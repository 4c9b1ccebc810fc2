//! The Wasm executor: a WASI command module under wasmi with fuel metering, a memory cap and
//! the virtual world of [`crate::wasi`]. Deterministic: no SIMD (relaxed SIMD is not), no
//! threads, no host clock or entropy, so replicas of a task agree on outputs, status and fuel.

use std::collections::BTreeMap;

use metamesh_primitives::compute::{
    RUN_BAD_INPUT, RUN_BAD_PROGRAM, RUN_EXIT, RUN_OK, RUN_OUT_OF_FUEL, RUN_TRAP, Usage,
};
use wasmi::{Config, Engine, Linker, Module, Store, TrapCode};

use crate::wasi::{self, World};

/// Limits of one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub fuel: u64,
    /// Bytes of linear memory.
    pub memory: usize,
    /// Bytes `/out`, stdout and stderr may hold in all.
    pub output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000_000,
            memory: 256 << 20,
            output: 256 << 20,
        }
    }
}

/// What a run gave.
#[derive(Debug)]
pub struct Run {
    /// One of `RUN_*`.
    pub status: u8,
    /// The exit code (status `RUN_EXIT`).
    pub code: u64,
    pub fuel: u64,
    pub outputs: BTreeMap<String, Vec<u8>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Why it did not succeed, in words.
    pub reason: Option<String>,
    /// What a native run used (zero for Wasm, whose fuel is its measure).
    pub usage: Usage,
}

impl Run {
    pub(crate) fn failed(status: u8, reason: String) -> Run {
        Run {
            status,
            code: 0,
            fuel: 0,
            outputs: BTreeMap::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            reason: Some(reason),
            usage: Usage::default(),
        }
    }
}

fn engine() -> Engine {
    let mut c = Config::default();
    // SIMD is not compiled in (the crate's `simd` feature is off).
    c.consume_fuel(true)
        .wasm_multi_memory(false)
        .wasm_memory64(false);
    Engine::new(&c)
}

/// Runs `program` (a WASI command module, entry `_start`) with `args` (the first is the
/// program name) and `inputs` under `/in`.
pub fn run_wasm(
    program: &[u8],
    args: Vec<String>,
    inputs: BTreeMap<String, Vec<u8>>,
    limits: Limits,
) -> Run {
    if inputs.keys().any(|k| k.is_empty() || k.contains('/')) {
        return Run::failed(RUN_BAD_INPUT, "an input name is not a file name".into());
    }
    let engine = engine();
    let module = match Module::new(&engine, program) {
        Ok(m) => m,
        Err(e) => return Run::failed(RUN_BAD_PROGRAM, format!("not a Wasm module we run: {e}")),
    };
    let mut store = Store::new(
        &engine,
        World::new(args, inputs, limits.output, limits.memory),
    );
    store.limiter(|w| &mut w.limits);
    if store.set_fuel(limits.fuel).is_err() {
        return Run::failed(RUN_BAD_PROGRAM, "fuel metering is off".into());
    }
    let mut linker = Linker::new(&engine);
    if let Err(e) = wasi::link(&mut linker) {
        return Run::failed(RUN_BAD_PROGRAM, format!("linking WASI: {e}"));
    }
    let outcome = linker
        .instantiate_and_start(&mut store, &module)
        .and_then(|instance| {
            let start = instance
                .get_typed_func::<(), ()>(&store, "_start")
                .map_err(|_| wasmi::Error::new("the module has no `_start`: not a WASI command"))?;
            start.call(&mut store, ())
        });
    let fuel = limits.fuel - store.get_fuel().unwrap_or(0);
    let (status, code, reason) = match outcome {
        Ok(()) => (RUN_OK, 0, None),
        Err(e) => match (e.i32_exit_status(), e.as_trap_code()) {
            (Some(0), _) => (RUN_OK, 0, None),
            (Some(code), _) => (
                RUN_EXIT,
                code as u32 as u64,
                Some(format!("exited with code {code}")),
            ),
            (None, Some(TrapCode::OutOfFuel)) => (
                RUN_OUT_OF_FUEL,
                0,
                Some(format!("ran out of fuel (limit {})", limits.fuel)),
            ),
            (None, Some(t)) => (RUN_TRAP, 0, Some(format!("trapped: {t}"))),
            (None, None) if e.to_string().contains("`_start`") || fuel == 0 => {
                (RUN_BAD_PROGRAM, 0, Some(e.to_string()))
            }
            (None, None) => (RUN_TRAP, 0, Some(format!("trapped: {e}"))),
        },
    };
    // What the chain would refuse in a result is the program's fault, the same for every replica.
    let w = store.data();
    let unnamed = w.outputs.len() > crate::wasi::MAX_OUTPUTS
        || w.outputs
            .keys()
            .any(|n| !metamesh_state::domains::compute::file_name_ok(n));
    let (status, code, reason) = if status == RUN_OK && unnamed {
        (
            RUN_BAD_PROGRAM,
            0,
            Some("outputs the chain cannot name".to_owned()),
        )
    } else {
        (status, code, reason)
    };
    // Out of fuel burnt it all (what wasmi leaves is less than the next step's cost).
    let fuel = if status == RUN_OUT_OF_FUEL {
        limits.fuel
    } else {
        fuel
    };
    let w = store.into_data();
    Run {
        status,
        code,
        fuel,
        outputs: if status == RUN_OK {
            w.outputs
        } else {
            BTreeMap::new()
        },
        stdout: w.stdout,
        stderr: w.stderr,
        reason,
        usage: Usage::default(),
    }
}
