//! Groth16 proving with a snarkjs proving key, the way snarkjs proves.
//!
//! The key's H points are Lagrange points of the 2n-element domain at its odd indices, so
//! the scalars paired with them are A·B − C evaluated on the odd 2n-th roots of unity — not
//! the coefficients of (A·B − C)/Z that arkworks' own keys expect (circom-compat #35). C's
//! evaluations are A's times B's: a satisfying witness makes them equal to ⟨C, w⟩.

use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{UniformRand, Zero};
use ark_std::rand::{CryptoRng, RngCore};

use crate::{
    Error,
    curve::Curve,
    fft::{fft, ifft, root_of_unity},
    groth16::Proof,
    verify::Prepared,
    zkey::ProvingKey,
};

/// A CSPRNG seeded from the operating system, for the prover's blinding scalars r and s.
pub fn os_rng() -> ark_std::rand::rngs::StdRng {
    use ark_std::rand::SeedableRng;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system's random source");
    ark_std::rand::rngs::StdRng::from_seed(seed)
}

/// Proves the statement a full `witness` (wire 0 the constant one) satisfies, returning the
/// proof and its public inputs (wires 1..=nPublic). The proof is checked against the key's
/// verifying key before it is returned, so a witness that does not satisfy the circuit is an
/// error, not a bad proof.
pub fn prove<C: Curve, R: RngCore + CryptoRng>(
    pk: &ProvingKey<C>,
    witness: &[C::ScalarField],
    rng: &mut R,
) -> Result<(Proof<C>, Vec<C::ScalarField>), Error> {
    if witness.len() != pk.n_vars as usize {
        return Err(Error::malformed(format!(
            "the witness has {} values where the key has {} signals",
            witness.len(),
            pk.n_vars
        )));
    }
    if witness[0] != C::ScalarField::from(1u64) {
        return Err(Error::malformed(
            "the witness's first value (the constant wire) is not 1",
        ));
    }
    let h = quotient::<C>(pk, witness)?;
    let r = C::ScalarField::rand(rng);
    let s = C::ScalarField::rand(rng);
    let private = &witness[pk.n_public as usize + 1..];

    let a = pk.vk.alpha_g1 + C::G1::msm_unchecked(&pk.a, witness) + pk.delta_g1 * r;
    let b1 = pk.beta_g1 + C::G1::msm_unchecked(&pk.b1, witness) + pk.delta_g1 * s;
    let b2 = pk.vk.beta_g2 + C::G2::msm_unchecked(&pk.b2, witness) + pk.vk.delta_g2 * s;
    let c = C::G1::msm_unchecked(&pk.c, private) + C::G1::msm_unchecked(&pk.h, &h) + a * s + b1 * r
        - pk.delta_g1 * (r * s);
    let proof = Proof {
        a: a.into_affine(),
        b: b2.into_affine(),
        c: c.into_affine(),
    };
    let public = witness[1..=pk.n_public as usize].to_vec();
    if !Prepared::new(&pk.vk).verify(&proof, &public)? {
        return Err(Error::malformed(
            "the witness does not satisfy the circuit (the proof it gives does not verify)",
        ));
    }
    Ok((proof, public))
}

/// A·B − C on the odd 2n-th roots of unity, n the key's domain size.
fn quotient<C: Curve>(
    pk: &ProvingKey<C>,
    w: &[C::ScalarField],
) -> Result<Vec<C::ScalarField>, Error> {
    let n = pk.domain_size as usize;
    let k = n.trailing_zeros();
    let (wn, w2n) = match (
        root_of_unity::<C::ScalarField>(k),
        root_of_unity::<C::ScalarField>(k + 1),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(Error::malformed(format!(
                "domain size {n} is beyond the field's roots of unity"
            )));
        }
    };
    let mut a = vec![C::ScalarField::zero(); n];
    let mut b = vec![C::ScalarField::zero(); n];
    for coef in &pk.coefs {
        let term = coef.value * w[coef.signal as usize];
        match coef.matrix {
            0 => a[coef.row as usize] += term,
            _ => b[coef.row as usize] += term,
        }
    }
    let mut c: Vec<_> = a.iter().zip(&b).map(|(x, y)| *x * y).collect();
    for v in [&mut a, &mut b, &mut c] {
        ifft(v, wn);
        let mut shift = C::ScalarField::from(1u64);
        for x in v.iter_mut() {
            *x *= shift;
            shift *= w2n;
        }
        fft(v, wn);
    }
    Ok(a.iter()
        .zip(&b)
        .zip(&c)
        .map(|((x, y), z)| *x * y - z)
        .collect())
}

/// Proves with a snarkjs `.zkey` and circom's witness generator (`.wasm`) for `input`,
/// whichever engine the key is of: the proof's bytes ([`Proof::to_bytes`]) and its public
/// inputs as 32-byte big-endian integers, as the chain carries them. With `registered` (a
/// verifying key's canonical bytes), a proving key for another key is refused before any
/// work. [`Error::Input`] means the input does not fit the circuit; any other error is the
/// files' (or the limits').
#[cfg(feature = "witness")]
pub fn prove_files(
    zkey: &[u8],
    wasm: &[u8],
    input: &serde_json::Value,
    limits: crate::witness::Limits,
    registered: Option<&[u8]>,
) -> Result<(Vec<u8>, Vec<[u8; 32]>), Error> {
    fn run<C: Curve>(
        zkey: &[u8],
        wasm: &[u8],
        input: &serde_json::Value,
        limits: crate::witness::Limits,
        registered: Option<&[u8]>,
    ) -> Result<(Vec<u8>, Vec<[u8; 32]>), Error> {
        use ark_ff::{BigInteger, PrimeField};
        let pk = crate::zkey::read::<C>(zkey)?;
        if registered.is_some_and(|k| k != pk.vk.canonical_bytes().as_slice()) {
            return Err(Error::malformed(
                "the proving key is for another verifying key than the registered one",
            ));
        }
        let w = crate::witness::calculate::<C::ScalarField>(wasm, input, limits)?;
        let (proof, public) = prove(&pk, &w, &mut os_rng())?;
        let public = public
            .iter()
            .map(|x| {
                let be = x.into_bigint().to_bytes_be();
                let mut out = [0u8; 32];
                out[32 - be.len()..].copy_from_slice(&be);
                out
            })
            .collect();
        Ok((proof.to_bytes(), public))
    }
    match crate::zkey::engine(zkey)? {
        crate::Engine::Bn254 => run::<ark_bn254::Bn254>(zkey, wasm, input, limits, registered),
        crate::Engine::Bls12_381 => {
            run::<ark_bls12_381::Bls12_381>(zkey, wasm, input, limits, registered)
        }
    }
}
