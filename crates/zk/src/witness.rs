//! circom's witness calculator: the WebAssembly circom 2 compiles each circuit to, run under
//! wasmi (the engine the compute crate already uses; ark-circom's wasmer would cost minutes
//! of build). The module exports its memory and needs four `runtime` imports; inputs are set by
//! the FNV-1a hash of each signal's qualified name, one field element at a time, through a
//! shared buffer of 32-bit limbs.

use ark_ff::PrimeField;
use num_bigint::{BigInt, BigUint, Sign};
use serde_json::Value;
use wasmi::{
    Caller, Config, Engine, Instance, Linker, Module, Store, StoreLimits, StoreLimitsBuilder,
};

use crate::{Error, field};

/// The most witness values we collect (2^26: 2 GiB of field elements).
const MAX_WITNESS: i32 = 1 << 26;

/// Bounds on one witness computation.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// wasmi fuel (about one unit per instruction).
    pub fuel: u64,
    /// Linear memory, bytes.
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 50_000_000_000,
            memory: 1 << 30,
        }
    }
}

struct Host {
    limits: StoreLimits,
    /// Messages the circuit printed (`log`, assertion texts).
    messages: String,
    /// Whether the calculator stopped on the input (a signal, an index, an assertion) rather
    /// than on its own limits.
    input_fault: bool,
}

/// Computes the full witness of a circuit for `input` (circom's input JSON: signal names to
/// numbers, decimal strings or arrays of them). The calculator's prime must be `F`'s modulus.
pub fn calculate<F: PrimeField>(
    wasm: &[u8],
    input: &Value,
    limits: Limits,
) -> Result<Vec<F>, Error> {
    let mut config = Config::default();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, wasm)
        .map_err(|e| Error::malformed(format!("witness calculator: not a Wasm module: {e}")))?;
    let host = Host {
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory)
            .memories(1)
            .instances(1)
            .tables(4)
            .table_elements(1 << 20)
            .build(),
        messages: String::new(),
        input_fault: false,
    };
    let mut store = Store::new(&engine, host);
    store.limiter(|h| &mut h.limits);
    store.set_fuel(limits.fuel).expect("fuel metering is on");
    let mut linker = Linker::<Host>::new(&engine);
    link(&mut linker).map_err(|e| Error::malformed(format!("witness calculator: {e}")))?;
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| Error::malformed(format!("witness calculator: cannot start it: {e}")))?;
    let mut calc = Calc { store, instance };
    let result = calc.run::<F>(input);
    result.map_err(|e| {
        let host = calc.store.data();
        let msgs = host.messages.trim();
        let text = if msgs.is_empty() {
            e.to_string()
        } else {
            format!("{e}; the circuit said: {msgs}")
        };
        match e {
            Error::Input(_) => Error::Input(text),
            Error::Malformed(_) if host.input_fault => Error::Input(text),
            Error::Malformed(_) => Error::Malformed(text),
        }
    })
}

fn link(linker: &mut Linker<Host>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        "runtime",
        "exceptionHandler",
        |mut c: Caller<'_, Host>, code: i32| {
            let why = match code {
                1 => "signal not found",
                2 => "too many signals set",
                3 => "signal already set",
                4 => "an assertion failed",
                5 => "not enough memory",
                6 => "an input signal array index is out of range",
                7 => "an array index is out of bounds",
                _ => "unknown error",
            };
            // All but running out of memory are the input's doing.
            c.data_mut().input_fault = code != 5;
            let text = message(&mut c);
            Err::<(), _>(wasmi::Error::new(format!(
                "{why}{}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(" ({text})")
                }
            )))
        },
    )?;
    linker.func_wrap("runtime", "printErrorMessage", |mut c: Caller<'_, Host>| {
        let text = message(&mut c);
        push(&mut c, &text);
    })?;
    linker.func_wrap(
        "runtime",
        "writeBufferMessage",
        |mut c: Caller<'_, Host>| {
            let text = message(&mut c);
            push(&mut c, &text);
        },
    )?;
    linker.func_wrap("runtime", "showSharedRWMemory", |_: Caller<'_, Host>| {})?;
    Ok(())
}

/// Drains the module's message buffer through `getMessageChar`.
fn message(c: &mut Caller<'_, Host>) -> String {
    let Some(f) = c.get_export("getMessageChar").and_then(|e| e.into_func()) else {
        return String::new();
    };
    let Ok(f) = f.typed::<(), i32>(&*c) else {
        return String::new();
    };
    let mut out = String::new();
    while out.len() < 4096 {
        match f.call(&mut *c, ()) {
            Ok(0) | Err(_) => break,
            Ok(ch) => out.push(char::from_u32(ch as u32).unwrap_or('?')),
        }
    }
    out
}

fn push(c: &mut Caller<'_, Host>, text: &str) {
    let m = &mut c.data_mut().messages;
    if m.len() < 16_384 {
        m.push_str(text);
        m.push(' ');
    }
}

struct Calc {
    store: Store<Host>,
    instance: Instance,
}

impl Calc {
    fn call<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &mut self,
        name: &str,
        args: P,
    ) -> Result<R, Error> {
        let f = self
            .instance
            .get_typed_func::<P, R>(&self.store, name)
            .map_err(|_| Error::malformed(format!("witness calculator: no export {name:?} of the expected type (not a circom 2 witness calculator?)")))?;
        f.call(&mut self.store, args).map_err(|e| {
            if e.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel) {
                Error::malformed("witness calculator: ran out of fuel".to_string())
            } else {
                Error::malformed(format!("witness calculator: {e}"))
            }
        })
    }

    fn run<F: PrimeField>(&mut self, input: &Value) -> Result<Vec<F>, Error> {
        let version: i32 = self.call("getVersion", ())?;
        if version != 2 {
            return Err(Error::malformed(format!(
                "witness calculator: circom version {version}, not 2"
            )));
        }
        let n32 = self.call::<(), i32>("getFieldNumLen32", ())? as usize;
        if n32 == 0 || n32 > 16 {
            return Err(Error::malformed(format!(
                "witness calculator: {n32} limbs per element"
            )));
        }
        self.call::<(), ()>("getRawPrime", ())?;
        let prime = self.read_shared(n32)?;
        let modulus: BigUint = F::MODULUS.into();
        if prime != modulus {
            return Err(Error::malformed(
                "witness calculator: its prime is not this engine's scalar field",
            ));
        }
        let size = self.call::<(), i32>("getWitnessSize", ())?;
        if !(1..=MAX_WITNESS).contains(&size) {
            return Err(Error::malformed(format!(
                "witness calculator: a witness of {size} values (1 to {MAX_WITNESS})"
            )));
        }
        self.call::<i32, ()>("init", 0)?;
        let mut signals = Vec::new();
        flatten("", input, &mut signals)?;
        let mut set = 0usize;
        for (name, values) in &signals {
            let h = fnv1a(name);
            let (msb, lsb) = ((h >> 32) as u32 as i32, h as u32 as i32);
            let want = self.call::<(i32, i32), i32>("getInputSignalSize", (msb, lsb))?;
            if want < 0 {
                return Err(Error::input(format!(
                    "input: the circuit has no input signal {name:?}"
                )));
            }
            if values.len() != want as usize {
                return Err(Error::input(format!(
                    "input: signal {name:?} takes {want} values, {} given",
                    values.len()
                )));
            }
            for (i, v) in values.iter().enumerate() {
                let v = reduce(v, &modulus);
                let digits = v.to_u32_digits();
                for j in 0..n32 {
                    let limb = digits.get(j).copied().unwrap_or(0);
                    self.call::<(i32, i32), ()>("writeSharedRWMemory", (j as i32, limb as i32))?;
                }
                self.call::<(i32, i32, i32), ()>("setInputSignal", (msb, lsb, i as i32))
                    .map_err(|e| Error::input(format!("input: setting {name}[{i}]: {e}")))?;
                set += 1;
            }
        }
        if let Ok(total) = self.call::<(), i32>("getInputSize", ())
            && set < total as usize
        {
            return Err(Error::input(format!(
                "input: {set} input values given, the circuit takes {total}"
            )));
        }
        (0..size)
            .map(|i| {
                self.call::<i32, ()>("getWitness", i)?;
                let v = self.read_shared(n32)?;
                field::from_le::<F>(&v.to_bytes_le(), "witness value")
            })
            .collect()
    }

    fn read_shared(&mut self, n32: usize) -> Result<BigUint, Error> {
        let mut limbs = Vec::with_capacity(n32);
        for j in 0..n32 {
            limbs.push(self.call::<i32, i32>("readSharedRWMemory", j as i32)? as u32);
        }
        Ok(BigUint::from_slice(&limbs))
    }
}

/// FNV-1a, 64 bits, over the name's bytes (circom names are ASCII).
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// x mod p in [0, p), negative inputs included (circom's convention).
fn reduce(x: &BigInt, p: &BigUint) -> BigUint {
    let p = BigInt::from_biguint(Sign::Plus, p.clone());
    let r = ((x % &p) + &p) % &p;
    r.to_biguint().expect("non-negative")
}

/// circom's input naming: objects nest with `.`, arrays of objects with `[i]`, arrays of
/// numbers stay one signal flattened row-major.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Vec<BigInt>)>) -> Result<(), Error> {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out)?;
            }
            Ok(())
        }
        Value::Array(items) if items.iter().any(|i| i.is_object()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, out)?;
            }
            Ok(())
        }
        _ => {
            if prefix.is_empty() {
                return Err(Error::input("input: expected a JSON object of signals"));
            }
            let mut values = Vec::new();
            scalars(prefix, v, &mut values)?;
            out.push((prefix.to_string(), values));
            Ok(())
        }
    }
}

fn scalars(name: &str, v: &Value, out: &mut Vec<BigInt>) -> Result<(), Error> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| scalars(name, i, out)),
        Value::Number(n) => {
            let x = n
                .as_i64()
                .map(BigInt::from)
                .or_else(|| n.as_u64().map(BigInt::from))
                .ok_or_else(|| {
                    Error::input(format!(
                        "input: {name}: {n} is not an integer (write large numbers as strings)"
                    ))
                })?;
            out.push(x);
            Ok(())
        }
        Value::String(s) => {
            out.push(parse_int(s).ok_or_else(|| {
                Error::input(format!(
                    "input: {name}: {s:?} is not a decimal or 0x-hex integer"
                ))
            })?);
            Ok(())
        }
        other => Err(Error::input(format!(
            "input: {name}: {other} is not a number"
        ))),
    }
}

fn parse_int(s: &str) -> Option<BigInt> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if body.len() > 200 {
        return None;
    }
    let magnitude = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            BigUint::parse_bytes(hex.as_bytes(), 16)?
        }
        Some(_) => return None,
        None if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) => {
            BigUint::parse_bytes(body.as_bytes(), 10)?
        }
        None => return None,
    };
    Some(BigInt::from_biguint(
        if neg { Sign::Minus } else { Sign::Plus },
        magnitude,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_like_circom() {
        // circom's FNV-1a of "a" (as witness_calculator.js computes it).
        assert_eq!(fnv1a("a"), 0xaf63dc4c8601ec8c);
        let mut out = Vec::new();
        flatten(
            "",
            &serde_json::json!({"x": [[1, 2], [3, "4"]], "p": {"q": "-1"}, "s": [{"t": 5}]}),
            &mut out,
        )
        .unwrap();
        let names: Vec<_> = out.iter().map(|(n, v)| (n.as_str(), v.len())).collect();
        assert_eq!(names, [("p.q", 1), ("s[0].t", 1), ("x", 4)]);
        assert_eq!(
            reduce(&BigInt::from(-1), &BigUint::from(7u32)),
            BigUint::from(6u32)
        );
        assert!(parse_int("1.5").is_none() && parse_int("0x").is_none() && parse_int("").is_none());
    }
}
