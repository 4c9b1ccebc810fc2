//! Groth16 verification, one proof at a time or a batch of proofs of one circuit at once.

use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, PrimeField, Zero};
use ark_serialize::CanonicalSerialize;
use sha2::{Digest, Sha256};

use crate::{
    Error,
    curve::Curve,
    groth16::{Proof, VerifyingKey, alpha_beta, neg_g2},
};

/// A verifying key with e(α, β) and the negated G2 points precomputed.
pub struct Prepared<C: Curve> {
    vk: VerifyingKey<C>,
    alpha_beta: C::TargetField,
    gamma_neg: C::G2Prepared,
    delta_neg: C::G2Prepared,
}

impl<C: Curve> Prepared<C> {
    pub fn new(vk: &VerifyingKey<C>) -> Prepared<C> {
        Prepared {
            vk: vk.clone(),
            alpha_beta: alpha_beta(vk),
            gamma_neg: neg_g2::<C>(vk.gamma_g2).into(),
            delta_neg: neg_g2::<C>(vk.delta_g2).into(),
        }
    }

    pub fn vk(&self) -> &VerifyingKey<C> {
        &self.vk
    }

    pub fn n_public(&self) -> usize {
        self.vk.n_public()
    }

    /// L = IC₀ + Σ xᵢ·ICᵢ, refused when the count of inputs is not the key's.
    fn inputs(&self, inputs: &[C::ScalarField]) -> Result<C::G1, Error> {
        let ic = &self.vk.ic;
        if inputs.len() != ic.len() - 1 {
            return Err(Error::malformed(format!(
                "{} public inputs for a key that takes {}",
                inputs.len(),
                ic.len() - 1
            )));
        }
        Ok(ic[0].into_group() + C::G1::msm_unchecked(&ic[1..], inputs))
    }

    /// Whether `proof` proves `inputs`: e(A, B) = e(α, β) · e(L, γ) · e(C, δ).
    pub fn verify(&self, proof: &Proof<C>, inputs: &[C::ScalarField]) -> Result<bool, Error> {
        let l = self.inputs(inputs)?.into_affine();
        let ml = C::multi_miller_loop(
            [proof.a, l, proof.c],
            [
                proof.b.into(),
                self.gamma_neg.clone(),
                self.delta_neg.clone(),
            ],
        );
        Ok(C::final_exponentiation(ml).is_some_and(|t| t.0 == self.alpha_beta))
    }

    /// Verifies many proofs of this key together: with scalars rᵢ drawn from a hash of every
    /// proof and input (so nobody can choose them after the fact), checks
    /// Π e(rᵢ·Aᵢ, Bᵢ) · e(−Σ rᵢ·Lᵢ, γ) · e(−Σ rᵢ·Cᵢ, δ) = e(α, β)^Σrᵢ — n + 2 Miller loops and
    /// one final exponentiation instead of 3n and n. Should the batch fail, every proof is
    /// checked alone, so the result names exactly the bad ones. Returns one verdict per item.
    pub fn verify_batch(
        &self,
        items: &[(&Proof<C>, &[C::ScalarField])],
    ) -> Result<Vec<bool>, Error> {
        for (_, inputs) in items {
            if inputs.len() != self.n_public() {
                return Err(Error::malformed(format!(
                    "{} public inputs for a key that takes {}",
                    inputs.len(),
                    self.n_public()
                )));
            }
        }
        match items.len() {
            0 => return Ok(Vec::new()),
            1 => return Ok(vec![self.verify(items[0].0, items[0].1)?]),
            _ => {}
        }
        if self.batch_holds(&[], items) {
            return Ok(vec![true; items.len()]);
        }
        items.iter().map(|(p, x)| self.verify(p, x)).collect()
    }

    /// Whether the batch equation holds for all of `items` (true means every proof is valid,
    /// but for probability 2^-127; false means at least one is not). `context` (the circuit's
    /// id, say) goes into the coefficients' transcript.
    pub fn batch_holds(&self, context: &[u8], items: &[(&Proof<C>, &[C::ScalarField])]) -> bool {
        let r = coefficients::<C>(context, items);
        let ic = &self.vk.ic;
        // Σ rᵢ·Lᵢ = (Σ rᵢ)·IC₀ + Σⱼ (Σᵢ rᵢ·xᵢⱼ)·ICⱼ: one MSM over the key instead of one per proof.
        let r_sum: C::ScalarField = r.iter().copied().sum();
        let mut weights = vec![C::ScalarField::zero(); ic.len()];
        weights[0] = r_sum;
        for ((_, inputs), ri) in items.iter().zip(&r) {
            for (w, x) in weights[1..].iter_mut().zip(inputs.iter()) {
                *w += *ri * x;
            }
        }
        let l = C::G1::msm_unchecked(ic, &weights);
        let c = C::G1::msm_unchecked(&items.iter().map(|(p, _)| p.c).collect::<Vec<_>>(), &r);
        let scaled_a = C::G1::normalize_batch(
            &items
                .iter()
                .zip(&r)
                .map(|((p, _), ri)| p.a * ri)
                .collect::<Vec<_>>(),
        );
        let mut g1: Vec<C::G1Prepared> = scaled_a.into_iter().map(Into::into).collect();
        let mut g2: Vec<C::G2Prepared> = items.iter().map(|(p, _)| p.b.into()).collect();
        // Against −γ and −δ, as in the single check.
        g1.push(l.into_affine().into());
        g2.push(self.gamma_neg.clone());
        g1.push(c.into_affine().into());
        g2.push(self.delta_neg.clone());
        let ml = C::multi_miller_loop(g1, g2);
        let expected = self.alpha_beta.pow(r_sum.into_bigint());
        C::final_exponentiation(ml).is_some_and(|t| t.0 == expected)
    }
}

/// 128-bit coefficients from SHA-256 over every proof and input of the batch (compressed).
fn coefficients<C: Curve>(
    context: &[u8],
    items: &[(&Proof<C>, &[C::ScalarField])],
) -> Vec<C::ScalarField> {
    let mut transcript = Sha256::new();
    transcript.update(b"metamesh/groth16-batch/v1");
    transcript.update([C::ENGINE.id()]);
    transcript.update((context.len() as u64).to_le_bytes());
    transcript.update(context);
    let mut buf = Vec::new();
    for (proof, inputs) in items {
        buf.clear();
        buf.extend_from_slice(&proof.to_bytes());
        for x in *inputs {
            x.serialize_compressed(&mut buf).expect("in-memory write");
        }
        transcript.update((buf.len() as u64).to_le_bytes());
        transcript.update(&buf);
    }
    let seed = transcript.finalize();
    (0..items.len() as u64)
        .map(|i| {
            let mut h = Sha256::new();
            h.update(seed);
            h.update(i.to_le_bytes());
            let d = h.finalize();
            // Nonzero, below 2^128.
            let mut v = u128::from_le_bytes(d[..16].try_into().expect("16 bytes"));
            v |= 1;
            C::ScalarField::from(v)
        })
        .collect()
}

/// Whether `proof` (its bytes, [`Proof::to_bytes`]) proves `public` (32-byte big-endian
/// integers) for a key in its canonical bytes ([`VerifyingKey::canonical_bytes`]) of
/// `engine`: the check a chain makes, for a prover to make before it sends a proof.
pub fn verify_bytes(
    engine: crate::Engine,
    key: &[u8],
    proof: &[u8],
    public: &[[u8; 32]],
) -> Result<bool, Error> {
    fn run<C: Curve>(key: &[u8], proof: &[u8], public: &[[u8; 32]]) -> Result<bool, Error> {
        let vk = VerifyingKey::<C>::from_canonical_bytes(key)?;
        let proof = Proof::<C>::from_bytes(proof)?;
        let x = public
            .iter()
            .map(|be| {
                let mut le = *be;
                le.reverse();
                crate::field::from_le::<C::ScalarField>(&le, "public input")
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Prepared::new(&vk).verify(&proof, &x)
    }
    match engine {
        crate::Engine::Bn254 => run::<ark_bn254::Bn254>(key, proof, public),
        crate::Engine::Bls12_381 => run::<ark_bls12_381::Bls12_381>(key, proof, public),
    }
}
