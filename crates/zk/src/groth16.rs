//! Groth16's keys and proofs for an engine, and the canonical bytes a circuit id hashes.

use ark_ec::{AffineRepr, CurveGroup};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};

use crate::{Error, curve::Curve};

/// What a verifier needs: α in G1, β, γ, δ in G2, and one G1 point per public input plus one
/// (`ic`, snarkjs's `IC`, arkworks' `gamma_abc_g1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey<C: Curve> {
    pub alpha_g1: C::G1Affine,
    pub beta_g2: C::G2Affine,
    pub gamma_g2: C::G2Affine,
    pub delta_g2: C::G2Affine,
    pub ic: Vec<C::G1Affine>,
}

/// A proof: A and C in G1, B in G2. Proofs are malleable (anyone can re-randomise one), so
/// nothing may treat their bytes as the identity of what was proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof<C: Curve> {
    pub a: C::G1Affine,
    pub b: C::G2Affine,
    pub c: C::G1Affine,
}

impl<C: Curve> VerifyingKey<C> {
    pub fn n_public(&self) -> usize {
        self.ic.len() - 1
    }

    /// The canonical encoding: the engine byte, the count of IC points (u32 LE), then α, β,
    /// γ, δ and IC compressed as arkworks writes them. One key has exactly one encoding, so
    /// its hash names the circuit.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = vec![C::ENGINE.id()];
        out.extend_from_slice(&(self.ic.len() as u32).to_le_bytes());
        let w = "in-memory write";
        self.alpha_g1.serialize_compressed(&mut out).expect(w);
        self.beta_g2.serialize_compressed(&mut out).expect(w);
        self.gamma_g2.serialize_compressed(&mut out).expect(w);
        self.delta_g2.serialize_compressed(&mut out).expect(w);
        for p in &self.ic {
            p.serialize_compressed(&mut out).expect(w);
        }
        out
    }

    /// Reads [`canonical_bytes`](Self::canonical_bytes), checking every point (on the curve, in
    /// the subgroup), that nothing trails, and that the bytes are the key's one encoding (the
    /// compressed point at infinity ignores the bits beside its flag: without this check one
    /// key would have many encodings, hence many circuit ids).
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<VerifyingKey<C>, Error> {
        let vk = Self::decode(bytes, Validate::Yes)?;
        if vk.canonical_bytes() != bytes {
            return Err(Error::malformed(
                "verifying key bytes: not the canonical encoding",
            ));
        }
        Ok(vk)
    }

    /// Reads bytes [`from_canonical_bytes`](Self::from_canonical_bytes) accepted before (a
    /// registered circuit's), skipping the curve and subgroup checks that cost more than
    /// the verification itself.
    pub fn from_stored_bytes(bytes: &[u8]) -> Result<VerifyingKey<C>, Error> {
        Self::decode(bytes, Validate::No)
    }

    fn decode(bytes: &[u8], validate: Validate) -> Result<VerifyingKey<C>, Error> {
        let bad = |why: &str| Error::malformed(format!("verifying key bytes: {why}"));
        let (&engine, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if engine != C::ENGINE.id() {
            return Err(bad("written for another engine"));
        }
        let (count, mut rest) = rest.split_at_checked(4).ok_or_else(|| bad("truncated"))?;
        let count = u32::from_le_bytes(count.try_into().expect("4 bytes")) as usize;
        if count == 0 || count > crate::snarkjs::MAX_PUBLIC + 1 || rest.len() < count {
            return Err(bad("IC count out of range"));
        }
        let g1 = |r: &mut &[u8]| {
            C::G1Affine::deserialize_with_mode(r, Compress::Yes, validate)
                .map_err(|e| bad(&format!("a G1 point: {e}")))
        };
        let alpha_g1 = g1(&mut rest)?;
        let g2 = |r: &mut &[u8]| {
            C::G2Affine::deserialize_with_mode(r, Compress::Yes, validate)
                .map_err(|e| bad(&format!("a G2 point: {e}")))
        };
        let beta_g2 = g2(&mut rest)?;
        let gamma_g2 = g2(&mut rest)?;
        let delta_g2 = g2(&mut rest)?;
        let mut ic = Vec::with_capacity(count);
        for _ in 0..count {
            ic.push(
                C::G1Affine::deserialize_with_mode(&mut rest, Compress::Yes, validate)
                    .map_err(|e| bad(&format!("an IC point: {e}")))?,
            );
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let vk = VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2,
            delta_g2,
            ic,
        };
        vk.check_nondegenerate()?;
        Ok(vk)
    }

    /// α, β, γ, δ must not be the identity, and γ ≠ δ: a key with γ = δ (no phase-2
    /// contribution) lets anyone forge proofs of any public input.
    pub fn check_nondegenerate(&self) -> Result<(), Error> {
        if self.alpha_g1.is_zero() || self.beta_g2.is_zero() {
            return Err(Error::malformed(
                "verifying key: α or β is the point at infinity",
            ));
        }
        if self.gamma_g2.is_zero() || self.delta_g2.is_zero() {
            return Err(Error::malformed(
                "verifying key: γ or δ is the point at infinity",
            ));
        }
        if self.gamma_g2 == self.delta_g2 {
            return Err(Error::malformed(
                "verifying key: γ equals δ (the key had no phase-2 contribution; proofs for it can be forged)",
            ));
        }
        Ok(())
    }
}

impl<C: Curve> Proof<C> {
    /// A, B, C compressed (128 bytes on BN254, 192 on BLS12-381).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.a
            .serialize_compressed(&mut out)
            .expect("in-memory write");
        self.b
            .serialize_compressed(&mut out)
            .expect("in-memory write");
        self.c
            .serialize_compressed(&mut out)
            .expect("in-memory write");
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes): points checked, none the identity, nothing trailing.
    pub fn from_bytes(bytes: &[u8]) -> Result<Proof<C>, Error> {
        let bad = |why: String| Error::malformed(format!("proof bytes: {why}"));
        let mut r = bytes;
        let a = C::G1Affine::deserialize_with_mode(&mut r, Compress::Yes, Validate::Yes)
            .map_err(|e| bad(format!("A: {e}")))?;
        let b = C::G2Affine::deserialize_with_mode(&mut r, Compress::Yes, Validate::Yes)
            .map_err(|e| bad(format!("B: {e}")))?;
        let c = C::G1Affine::deserialize_with_mode(&mut r, Compress::Yes, Validate::Yes)
            .map_err(|e| bad(format!("C: {e}")))?;
        if !r.is_empty() {
            return Err(bad("trailing bytes".into()));
        }
        let proof = Proof { a, b, c };
        proof.check_nondegenerate()?;
        if proof.to_bytes() != bytes {
            return Err(bad("not the canonical encoding".into()));
        }
        Ok(proof)
    }

    /// Another valid proof of the same statement: (A/t, t·B, C). Anyone can do this, which is
    /// why nothing may use a proof's bytes as its identity.
    pub fn scaled(&self, t: C::ScalarField) -> Proof<C> {
        use ark_ff::Field;
        let inv = t.inverse().unwrap_or(C::ScalarField::from(1u64));
        Proof {
            a: (self.a * inv).into_affine(),
            b: (self.b * t).into_affine(),
            c: self.c,
        }
    }

    pub fn check_nondegenerate(&self) -> Result<(), Error> {
        if self.a.is_zero() || self.b.is_zero() || self.c.is_zero() {
            return Err(Error::malformed("proof: a point is the point at infinity"));
        }
        Ok(())
    }
}

/// e(α, β), as snarkjs's `vk_alphabeta_12` holds it.
pub fn alpha_beta<C: Curve>(vk: &VerifyingKey<C>) -> C::TargetField {
    C::pairing(vk.alpha_g1, vk.beta_g2).0
}

/// −P for a G2 point, affine.
pub(crate) fn neg_g2<C: Curve>(p: C::G2Affine) -> C::G2Affine {
    (-p.into_group()).into_affine()
}
