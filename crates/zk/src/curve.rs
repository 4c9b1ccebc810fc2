//! The pairing engines a circuit can select, and what the parsers need of each.

use ark_ec::{
    pairing::Pairing,
    short_weierstrass::{Affine, Projective, SWCurveConfig},
};
use ark_ff::{PrimeField, QuadExtConfig, QuadExtField};

use crate::Error;

/// An engine, as stored on chain (one byte) and named in snarkjs files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// BN254 — circom's default prime, snarkjs `bn128`.
    Bn254,
    /// BLS12-381 — circom `--prime bls12381`, snarkjs `bls12381`.
    Bls12_381,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Bn254, Engine::Bls12_381];

    /// The byte stored in a circuit record.
    pub fn id(self) -> u8 {
        match self {
            Engine::Bn254 => 1,
            Engine::Bls12_381 => 2,
        }
    }

    pub fn from_id(id: u8) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.id() == id)
    }

    /// snarkjs's `curve` field.
    pub fn snarkjs_name(self) -> &'static str {
        match self {
            Engine::Bn254 => "bn128",
            Engine::Bls12_381 => "bls12381",
        }
    }

    /// The name snarkjs writes, or the common aliases (`bn254`, `bls12-381`).
    pub fn from_name(name: &str) -> Result<Engine, Error> {
        match name.to_ascii_lowercase().as_str() {
            "bn128" | "bn254" | "altbn128" => Ok(Engine::Bn254),
            "bls12381" | "bls12-381" | "bls12_381" => Ok(Engine::Bls12_381),
            _ => Err(Error::malformed(format!(
                "unknown curve {name:?}: expected \"bn128\" or \"bls12381\""
            ))),
        }
    }

    /// The engine whose scalar field has this modulus (as circom files record it).
    pub fn from_scalar_modulus(le: &[u8]) -> Option<Engine> {
        let same = |m: &[u64]| {
            let bytes: Vec<u8> = m.iter().flat_map(|w| w.to_le_bytes()).collect();
            trim(&bytes) == trim(le)
        };
        if same(ark_bn254::Fr::MODULUS.as_ref()) {
            Some(Engine::Bn254)
        } else if same(ark_bls12_381::Fr::MODULUS.as_ref()) {
            Some(Engine::Bls12_381)
        } else {
            None
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.snarkjs_name())
    }
}

/// A pairing engine with short-Weierstrass groups over a prime field (G1) and its quadratic
/// extension (G2): both engines here, and the shape the snarkjs formats assume.
pub trait Curve:
    Pairing<
        G1Affine = Affine<Self::G1Config>,
        G2Affine = Affine<Self::G2Config>,
        G1 = Projective<Self::G1Config>,
        G2 = Projective<Self::G2Config>,
    >
{
    type Fq: PrimeField;
    type Fq2Config: QuadExtConfig<BaseField = Self::Fq>;
    type G1Config: SWCurveConfig<BaseField = Self::Fq, ScalarField = Self::ScalarField>;
    type G2Config: SWCurveConfig<BaseField = QuadExtField<Self::Fq2Config>, ScalarField = Self::ScalarField>;
    const ENGINE: Engine;
}

impl Curve for ark_bn254::Bn254 {
    type Fq = ark_bn254::Fq;
    type Fq2Config = ark_ff::Fp2ConfigWrapper<ark_bn254::Fq2Config>;
    type G1Config = ark_bn254::g1::Config;
    type G2Config = ark_bn254::g2::Config;
    const ENGINE: Engine = Engine::Bn254;
}

impl Curve for ark_bls12_381::Bls12_381 {
    type Fq = ark_bls12_381::Fq;
    type Fq2Config = ark_ff::Fp2ConfigWrapper<ark_bls12_381::Fq2Config>;
    type G1Config = ark_bls12_381::g1::Config;
    type G2Config = ark_bls12_381::g2::Config;
    const ENGINE: Engine = Engine::Bls12_381;
}

/// A G1 point from its coordinates, refused off the curve or outside the prime-order
/// subgroup.
pub fn g1<C: Curve>(x: C::Fq, y: C::Fq, what: &str) -> Result<C::G1Affine, Error> {
    checked(Affine::<C::G1Config>::new_unchecked(x, y), what)
}

/// A G2 point from its coordinates, with the same checks.
pub fn g2<C: Curve>(
    x: QuadExtField<C::Fq2Config>,
    y: QuadExtField<C::Fq2Config>,
    what: &str,
) -> Result<C::G2Affine, Error> {
    checked(Affine::<C::G2Config>::new_unchecked(x, y), what)
}

fn checked<P: SWCurveConfig>(p: Affine<P>, what: &str) -> Result<Affine<P>, Error> {
    if !p.is_on_curve() {
        return Err(Error::malformed(format!("{what} is not on the curve")));
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(Error::malformed(format!(
            "{what} is on the curve but not in the prime-order subgroup"
        )));
    }
    Ok(p)
}
