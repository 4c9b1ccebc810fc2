//! A circuit-specific Groth16 setup from circom's `.r1cs` and a prepared powers-of-tau file
//! (`snarkjs powersoftau prepare phase2`), as `snarkjs groth16 setup` builds it, followed by one
//! phase-2 contribution (a fresh δ), so the key is usable at once and snarkjs accepts it.
//!
//! The ptau's Lagrange sections (12: τ-Lagrange in G1, 13: in G2, 14: α·, 15: β·) hold, for
//! each power p, the 2^p Lagrange points of the 2^p-element domain over snarkjs's roots, at
//! point offset 2^p − 1. For a domain of n = 2^k points: a signal's A, B₁, B₂ are its
//! coefficients against the k-block's points, its K = β·A + α·B + C against the α/β blocks,
//! the public rows add L_{m+s} to A and β·L_{m+s} to K, and H is the odd points of block k + 1.
//! The contribution multiplies δ by a random scalar and divides C and H by it.

use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{BigInteger, FftField, Field, PrimeField, UniformRand, Zero};
use ark_std::rand::{CryptoRng, RngCore};

use crate::{
    Engine, Error,
    binfile::BinFile,
    curve::Curve,
    field::Montgomery,
    groth16::VerifyingKey,
    r1cs::R1cs,
    zkey::{Coef, ProvingKey},
};

/// The engine a `.ptau` file is for (from its base-field prime).
pub fn ptau_engine(bytes: &[u8]) -> Result<Engine, Error> {
    let file = BinFile::parse(bytes, b"ptau", 1, "ptau")?;
    let mut h = file.unique(1)?;
    let n8 = h.u32()? as usize;
    let q = h.bytes(n8)?;
    let bn: Vec<u8> = <ark_bn254::Fq as PrimeField>::MODULUS.to_bytes_le();
    let bls: Vec<u8> = <ark_bls12_381::Fq as PrimeField>::MODULUS.to_bytes_le();
    if q == bn.as_slice() {
        Ok(Engine::Bn254)
    } else if q == bls.as_slice() {
        Ok(Engine::Bls12_381)
    } else {
        Err(Error::malformed(
            "ptau: the base-field prime is neither BN254's nor BLS12-381's",
        ))
    }
}

struct Ptau<'a, C: Curve> {
    file: BinFile<'a>,
    n8: usize,
    power: u32,
    mont: Montgomery<C::Fq>,
}

impl<'a, C: Curve> Ptau<'a, C> {
    fn open(bytes: &'a [u8]) -> Result<Self, Error> {
        let file = BinFile::parse(bytes, b"ptau", 1, "ptau")?;
        let mut h = file.unique(1)?;
        let n8 = h.u32()? as usize;
        crate::r1cs::check_prime::<C::Fq>(h.bytes(n8)?, "ptau")?;
        let power = h.u32()?;
        let _ceremony = h.u32()?;
        h.done("header")?;
        if power > 28 {
            return Err(Error::malformed(format!("ptau: power {power} is over 28")));
        }
        for s in [4, 5, 6, 12, 13, 14, 15] {
            if !file.has(s) {
                return Err(Error::malformed(format!(
                    "ptau: section {s} is missing (run `snarkjs powersoftau prepare phase2` on it)"
                )));
            }
        }
        Ok(Ptau {
            file,
            n8,
            power,
            mont: Montgomery::new(),
        })
    }

    fn g1_at(&self, section: u32, index: usize, what: &str) -> Result<C::G1Affine, Error> {
        let size = 2 * self.n8;
        let s = self.file.unique(section)?;
        let raw = s.slice(index * size, size, what)?;
        self.decode_g1(raw, what)
    }

    fn g2_at(&self, section: u32, index: usize, what: &str) -> Result<C::G2Affine, Error> {
        let size = 4 * self.n8;
        let s = self.file.unique(section)?;
        let raw = s.slice(index * size, size, what)?;
        if raw.iter().all(|b| *b == 0) {
            return Ok(C::G2Affine::zero());
        }
        let c = |k: usize| self.mont.decode(&raw[k * self.n8..(k + 1) * self.n8], what);
        crate::curve::g2::<C>(
            ark_ff::QuadExtField::new(c(0)?, c(1)?),
            ark_ff::QuadExtField::new(c(2)?, c(3)?),
            what,
        )
    }

    fn decode_g1(&self, raw: &[u8], what: &str) -> Result<C::G1Affine, Error> {
        if raw.iter().all(|b| *b == 0) {
            return Ok(C::G1Affine::zero());
        }
        let (x, y) = raw.split_at(self.n8);
        crate::curve::g1::<C>(self.mont.decode(x, what)?, self.mont.decode(y, what)?, what)
    }
}

/// Builds a proving key for `r1cs` from a prepared powers of tau, with one fresh phase-2
/// contribution drawn from `rng`.
pub fn setup<C: Curve, R: RngCore + CryptoRng>(
    r1cs: &R1cs<C::ScalarField>,
    ptau: &[u8],
    rng: &mut R,
) -> Result<ProvingKey<C>, Error> {
    let tau = Ptau::<C>::open(ptau)?;
    let m = r1cs.constraints.len();
    let n_public = r1cs.n_public();
    let n_vars = r1cs.n_wires as usize;
    let rows = m + n_public + 1;
    let k = rows.next_power_of_two().trailing_zeros().max(1);
    if k > tau.power || k + 1 > <C::ScalarField as FftField>::TWO_ADICITY {
        return Err(Error::malformed(format!(
            "the circuit needs a domain of 2^{k} (m = {m} constraints + {} public rows) but the ptau has power {}",
            n_public + 1,
            tau.power
        )));
    }
    let n = 1usize << k;
    let block = n - 1; // block k starts at point 2^k − 1
    let lag = |section: u32, c: usize| tau.g1_at(section, block + c, "ptau: a Lagrange point");

    let mut a = vec![C::G1::zero(); n_vars];
    let mut b1 = vec![C::G1::zero(); n_vars];
    let mut b2 = vec![C::G2::zero(); n_vars];
    let mut kk = vec![C::G1::zero(); n_vars];
    let mut coefs = Vec::new();
    for (c, [la, lb, lc]) in r1cs.constraints.iter().enumerate() {
        let (l12, l14, l15) = (lag(12, c)?, lag(14, c)?, lag(15, c)?);
        for (s, v) in la {
            let s = *s as usize;
            a[s] += l12 * v;
            kk[s] += l15 * v;
            coefs.push(Coef {
                matrix: 0,
                row: c as u32,
                signal: s as u32,
                value: *v,
            });
        }
        if !lb.is_empty() {
            let l13 = tau.g2_at(13, block + c, "ptau: a G2 Lagrange point")?;
            for (s, v) in lb {
                let s = *s as usize;
                b1[s] += l12 * v;
                b2[s] += l13 * v;
                kk[s] += l14 * v;
                coefs.push(Coef {
                    matrix: 1,
                    row: c as u32,
                    signal: s as u32,
                    value: *v,
                });
            }
        }
        for (s, v) in lc {
            kk[*s as usize] += l12 * v;
        }
    }
    for s in 0..=n_public {
        a[s] += lag(12, m + s)?;
        kk[s] += lag(15, m + s)?;
        coefs.push(Coef {
            matrix: 0,
            row: (m + s) as u32,
            signal: s as u32,
            value: C::ScalarField::from(1u64),
        });
    }
    // H: the odd points of block k + 1 (the 2n-element domain).
    let h = (0..n)
        .map(|i| tau.g1_at(12, (2 * n - 1) + 2 * i + 1, "ptau: an H point"))
        .collect::<Result<Vec<_>, _>>()?;

    let delta = loop {
        let d = C::ScalarField::rand(rng);
        if !d.is_zero() {
            break d;
        }
    };
    let delta_inv = delta.inverse().expect("nonzero");
    let g1 = C::G1::generator();
    let g2 = C::G2::generator();
    let ic = C::G1::normalize_batch(&kk[..=n_public]);
    let c: Vec<C::G1> = kk[n_public + 1..].iter().map(|p| *p * delta_inv).collect();
    let h: Vec<C::G1> = h.iter().map(|p| *p * delta_inv).collect();
    let vk = VerifyingKey {
        alpha_g1: tau.g1_at(4, 0, "ptau: α")?,
        beta_g2: tau.g2_at(6, 0, "ptau: β in G2")?,
        gamma_g2: g2.into_affine(),
        delta_g2: (g2 * delta).into_affine(),
        ic,
    };
    vk.check_nondegenerate()?;
    Ok(ProvingKey {
        beta_g1: tau.g1_at(5, 0, "ptau: β in G1")?,
        delta_g1: (g1 * delta).into_affine(),
        vk,
        n_vars: n_vars as u32,
        n_public: n_public as u32,
        domain_size: n as u32,
        coefs,
        a: C::G1::normalize_batch(&a),
        b1: C::G1::normalize_batch(&b1),
        b2: C::G2::normalize_batch(&b2),
        c: C::G1::normalize_batch(&c),
        h: C::G1::normalize_batch(&h),
    })
}
