//! snarkjs's JSON files (`verification_key.json`, `proof.json`, `public.json`), read strictly
//! and written the way snarkjs writes them.
//!
//! Strict means: `protocol` is `groth16`, `curve` names a supported engine (and the proof's
//! agrees with the key's), every number is a canonical decimal string, every point is on its
//! curve and in the prime-order subgroup, `IC` has exactly `nPublic + 1` points and
//! `public.json` exactly `nPublic` entries. `vk_alphabeta_12` is not read: the verifier
//! computes e(α, β) itself, so a wrong value there cannot matter.

use ark_ec::AffineRepr;
use ark_ff::{Field, QuadExtField};
use serde_json::{Value, json};

use crate::{
    Error,
    curve::{self, Curve, Engine},
    field,
    groth16::{Proof, VerifyingKey, alpha_beta},
};

/// The most public inputs a key may declare (a bound on the work one key can cause).
pub const MAX_PUBLIC: usize = 1024;

/// The engine a `verification_key.json` or `proof.json` names, after checking `protocol`.
pub fn engine_of(doc: &Value, file: &str) -> Result<Engine, Error> {
    let obj = doc
        .as_object()
        .ok_or_else(|| Error::malformed(format!("{file}: expected a JSON object")))?;
    match obj.get("protocol") {
        Some(Value::String(p)) if p == "groth16" => {}
        Some(Value::String(p)) => {
            return Err(Error::malformed(format!(
                "{file}: protocol {p:?} is not supported (only \"groth16\")"
            )));
        }
        Some(_) => {
            return Err(Error::malformed(format!(
                "{file}: protocol must be a string"
            )));
        }
        None => return Err(Error::malformed(format!("{file}: missing \"protocol\""))),
    }
    match obj.get("curve") {
        Some(Value::String(c)) => {
            Engine::from_name(c).map_err(|e| Error::malformed(format!("{file}: {e}")))
        }
        Some(_) => Err(Error::malformed(format!("{file}: curve must be a string"))),
        None => Err(Error::malformed(format!("{file}: missing \"curve\""))),
    }
}

/// Reads a verification key for engine `C` (see [`engine_of`] for choosing it).
pub fn read_vk<C: Curve>(doc: &Value) -> Result<VerifyingKey<C>, Error> {
    let file = "verification_key.json";
    let engine = engine_of(doc, file)?;
    if engine != C::ENGINE {
        return Err(Error::malformed(format!(
            "{file}: curve {engine} where {} was expected",
            C::ENGINE
        )));
    }
    let n_public = match doc.get("nPublic") {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            Error::malformed(format!("{file}: nPublic must be a non-negative integer"))
        })?,
        Some(_) => {
            return Err(Error::malformed(format!(
                "{file}: nPublic must be a number"
            )));
        }
        None => return Err(Error::malformed(format!("{file}: missing \"nPublic\""))),
    };
    if n_public as usize > MAX_PUBLIC {
        return Err(Error::malformed(format!(
            "{file}: nPublic {n_public} is over the limit of {MAX_PUBLIC}"
        )));
    }
    let ic = array(field_of(doc, "IC", file)?, &format!("{file}: IC"))?;
    if ic.len() != n_public as usize + 1 {
        return Err(Error::malformed(format!(
            "{file}: IC has {} points but nPublic {n_public} needs exactly {}",
            ic.len(),
            n_public + 1
        )));
    }
    let ic = ic
        .iter()
        .enumerate()
        .map(|(i, p)| read_g1::<C>(p, &format!("{file}: IC[{i}]"), true))
        .collect::<Result<Vec<_>, _>>()?;
    let vk = VerifyingKey {
        alpha_g1: read_g1::<C>(
            field_of(doc, "vk_alpha_1", file)?,
            &format!("{file}: vk_alpha_1"),
            false,
        )?,
        beta_g2: read_g2::<C>(
            field_of(doc, "vk_beta_2", file)?,
            &format!("{file}: vk_beta_2"),
            false,
        )?,
        gamma_g2: read_g2::<C>(
            field_of(doc, "vk_gamma_2", file)?,
            &format!("{file}: vk_gamma_2"),
            false,
        )?,
        delta_g2: read_g2::<C>(
            field_of(doc, "vk_delta_2", file)?,
            &format!("{file}: vk_delta_2"),
            false,
        )?,
        ic,
    };
    vk.check_nondegenerate()
        .map_err(|e| Error::malformed(format!("{file}: {e}")))?;
    Ok(vk)
}

/// Reads a proof for engine `C`; its `curve`, when present, must be `C`'s.
pub fn read_proof<C: Curve>(doc: &Value) -> Result<Proof<C>, Error> {
    let file = "proof.json";
    let obj = doc
        .as_object()
        .ok_or_else(|| Error::malformed(format!("{file}: expected a JSON object")))?;
    match obj.get("protocol") {
        None => {}
        Some(Value::String(p)) if p == "groth16" => {}
        Some(other) => {
            return Err(Error::malformed(format!(
                "{file}: protocol {other} is not supported (only \"groth16\")"
            )));
        }
    }
    if let Some(c) = obj.get("curve") {
        let name = c
            .as_str()
            .ok_or_else(|| Error::malformed(format!("{file}: curve must be a string")))?;
        let engine =
            Engine::from_name(name).map_err(|e| Error::malformed(format!("{file}: {e}")))?;
        if engine != C::ENGINE {
            return Err(Error::malformed(format!(
                "{file}: a {engine} proof for a {} key",
                C::ENGINE
            )));
        }
    }
    Ok(Proof {
        a: read_g1::<C>(
            field_of(doc, "pi_a", file)?,
            &format!("{file}: pi_a"),
            false,
        )?,
        b: read_g2::<C>(
            field_of(doc, "pi_b", file)?,
            &format!("{file}: pi_b"),
            false,
        )?,
        c: read_g1::<C>(
            field_of(doc, "pi_c", file)?,
            &format!("{file}: pi_c"),
            false,
        )?,
    })
}

/// Reads `public.json`: exactly `n_public` canonical decimal strings.
pub fn read_public<C: Curve>(doc: &Value, n_public: usize) -> Result<Vec<C::ScalarField>, Error> {
    let file = "public.json";
    let items = array(doc, file)?;
    if items.len() != n_public {
        return Err(Error::malformed(format!(
            "{file}: {} public inputs where the key has nPublic {n_public}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| field::decimal(string(v, &format!("{file}[{i}]"))?, &format!("{file}[{i}]")))
        .collect()
}

/// A verification key as snarkjs writes it (with `vk_alphabeta_12` computed).
pub fn vk_json<C: Curve>(vk: &VerifyingKey<C>) -> Value {
    let alphabeta = alpha_beta(vk);
    let flat: Vec<String> = alphabeta
        .to_base_prime_field_elements()
        .map(|e| field::to_decimal(&e))
        .collect();
    // Fq12 = Fq6[w], Fq6 = Fq2[v]: two Fq6 of three Fq2 of two coordinates.
    let alphabeta_12: Vec<Vec<Vec<String>>> = flat
        .chunks(6)
        .map(|fq6| fq6.chunks(2).map(|fq2| fq2.to_vec()).collect())
        .collect();
    json!({
        "protocol": "groth16",
        "curve": C::ENGINE.snarkjs_name(),
        "nPublic": vk.n_public(),
        "vk_alpha_1": g1_json::<C>(&vk.alpha_g1),
        "vk_beta_2": g2_json::<C>(&vk.beta_g2),
        "vk_gamma_2": g2_json::<C>(&vk.gamma_g2),
        "vk_delta_2": g2_json::<C>(&vk.delta_g2),
        "vk_alphabeta_12": alphabeta_12,
        "IC": vk.ic.iter().map(g1_json::<C>).collect::<Vec<_>>(),
    })
}

pub fn proof_json<C: Curve>(proof: &Proof<C>) -> Value {
    json!({
        "pi_a": g1_json::<C>(&proof.a),
        "pi_b": g2_json::<C>(&proof.b),
        "pi_c": g1_json::<C>(&proof.c),
        "protocol": "groth16",
        "curve": C::ENGINE.snarkjs_name(),
    })
}

pub fn public_json<C: Curve>(inputs: &[C::ScalarField]) -> Value {
    Value::Array(
        inputs
            .iter()
            .map(|x| Value::String(field::to_decimal(x)))
            .collect(),
    )
}

fn g1_json<C: Curve>(p: &C::G1Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([field::to_decimal(&x), field::to_decimal(&y), "1"]),
        None => json!(["0", "1", "0"]),
    }
}

fn g2_json<C: Curve>(p: &C::G2Affine) -> Value {
    let fq2 = |v: &QuadExtField<C::Fq2Config>| {
        json!([field::to_decimal(&v.c0), field::to_decimal(&v.c1)])
    };
    match p.xy() {
        Some((x, y)) => json!([fq2(&x), fq2(&y), ["1", "0"]]),
        None => json!([["0", "0"], ["1", "0"], ["0", "0"]]),
    }
}

/// A G1 point `[x, y, z]` with z = "1" (affine) or, where `infinity_ok`, `["0", "1", "0"]`.
fn read_g1<C: Curve>(v: &Value, what: &str, infinity_ok: bool) -> Result<C::G1Affine, Error> {
    let items = array(v, what)?;
    if items.len() != 3 {
        return Err(Error::malformed(format!(
            "{what}: a G1 point is [x, y, z], found {} entries",
            items.len()
        )));
    }
    let s = |i: usize| string(&items[i], what);
    let (x, y, z) = (s(0)?, s(1)?, s(2)?);
    if z == "0" {
        if infinity_ok && x == "0" && y == "1" {
            return Ok(C::G1Affine::zero());
        }
        return Err(Error::malformed(format!(
            "{what} is the point at infinity, which is not allowed here"
        )));
    }
    if z != "1" {
        return Err(Error::malformed(format!(
            "{what}: z must be \"1\" (affine) or \"0\", found {z:?}"
        )));
    }
    let x = field::decimal::<C::Fq>(x, &format!("{what}.x"))?;
    let y = field::decimal::<C::Fq>(y, &format!("{what}.y"))?;
    curve::g1::<C>(x, y, what)
}

/// A G2 point `[[x0, x1], [y0, y1], [z0, z1]]` with z = ["1", "0"].
fn read_g2<C: Curve>(v: &Value, what: &str, infinity_ok: bool) -> Result<C::G2Affine, Error> {
    let items = array(v, what)?;
    if items.len() != 3 {
        return Err(Error::malformed(format!(
            "{what}: a G2 point is [x, y, z], found {} entries",
            items.len()
        )));
    }
    let pair = |i: usize, name: &str| -> Result<(&str, &str), Error> {
        let inner = array(&items[i], &format!("{what}.{name}"))?;
        if inner.len() != 2 {
            return Err(Error::malformed(format!(
                "{what}.{name}: a G2 coordinate is [c0, c1], found {} entries",
                inner.len()
            )));
        }
        Ok((string(&inner[0], what)?, string(&inner[1], what)?))
    };
    let (x, y, z) = (pair(0, "x")?, pair(1, "y")?, pair(2, "z")?);
    if z == ("0", "0") {
        if infinity_ok && x == ("0", "0") && y == ("1", "0") {
            return Ok(C::G2Affine::zero());
        }
        return Err(Error::malformed(format!(
            "{what} is the point at infinity, which is not allowed here"
        )));
    }
    if z != ("1", "0") {
        return Err(Error::malformed(format!(
            "{what}: z must be [\"1\", \"0\"] (affine), found {z:?}"
        )));
    }
    let fq2 = |(c0, c1): (&str, &str), name: &str| -> Result<QuadExtField<C::Fq2Config>, Error> {
        Ok(QuadExtField::new(
            field::decimal::<C::Fq>(c0, &format!("{what}.{name}.c0"))?,
            field::decimal::<C::Fq>(c1, &format!("{what}.{name}.c1"))?,
        ))
    };
    curve::g2::<C>(fq2(x, "x")?, fq2(y, "y")?, what)
}

fn field_of<'a>(doc: &'a Value, key: &str, file: &str) -> Result<&'a Value, Error> {
    doc.get(key)
        .ok_or_else(|| Error::malformed(format!("{file}: missing \"{key}\"")))
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, Error> {
    v.as_array()
        .ok_or_else(|| Error::malformed(format!("{what}: expected an array")))
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, Error> {
    v.as_str().ok_or_else(|| {
        Error::malformed(format!(
            "{what}: numbers must be decimal strings, found {v}"
        ))
    })
}
