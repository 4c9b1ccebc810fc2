//! snarkjs's Groth16 proving key (`.zkey`, version 1).
//!
//! Points are affine with Montgomery-form coordinates (all-zero bytes for the point at
//! infinity); the A and B coefficients of section 4 are stored as v·R² (so that snarkjs's
//! Montgomery product with a normal-form witness yields v·w in Montgomery form). Rows m..m+nPublic
//! of A are the public-input rows snarkjs adds, one per public signal and the constant.

use ark_ec::AffineRepr;
use ark_ff::{PrimeField, QuadExtField};

use crate::{
    Engine, Error,
    binfile::{BinFile, Reader},
    curve::{self, Curve},
    field,
    groth16::VerifyingKey,
    r1cs::check_prime,
};

/// The largest domain we accept (2^24 constraints): far beyond the circuits on chain, and a
/// bound on the memory a hostile header can ask for.
pub const MAX_DOMAIN: u32 = 1 << 24;

/// One non-zero entry of the A or B matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coef<F> {
    /// 0 = A, 1 = B.
    pub matrix: u8,
    pub row: u32,
    pub signal: u32,
    pub value: F,
}

/// A circuit-specific Groth16 proving key.
#[derive(Clone, Debug)]
pub struct ProvingKey<C: Curve> {
    pub vk: VerifyingKey<C>,
    pub beta_g1: C::G1Affine,
    pub delta_g1: C::G1Affine,
    pub n_vars: u32,
    pub n_public: u32,
    pub domain_size: u32,
    pub coefs: Vec<Coef<C::ScalarField>>,
    /// One per signal.
    pub a: Vec<C::G1Affine>,
    pub b1: Vec<C::G1Affine>,
    pub b2: Vec<C::G2Affine>,
    /// One per private signal (those after the public ones).
    pub c: Vec<C::G1Affine>,
    /// One per domain point.
    pub h: Vec<C::G1Affine>,
}

/// The engine a `.zkey` is for, from the scalar prime in its Groth16 header.
pub fn engine(bytes: &[u8]) -> Result<Engine, Error> {
    let file = BinFile::parse(bytes, b"zkey", 1, "zkey")?;
    protocol(&file)?;
    let mut h = file.unique(2)?;
    let n8q = h.u32()? as usize;
    h.bytes(n8q)?;
    let n8r = h.u32()? as usize;
    Engine::from_scalar_modulus(h.bytes(n8r)?).ok_or_else(|| {
        Error::malformed("zkey: the scalar prime is neither BN254's nor BLS12-381's")
    })
}

fn protocol(file: &BinFile) -> Result<(), Error> {
    let mut s = file.unique(1)?;
    match s.u32()? {
        1 => s.done("header"),
        2 => Err(Error::malformed(
            "zkey: a PLONK key; only Groth16 keys are supported",
        )),
        10 => Err(Error::malformed(
            "zkey: an FFLONK key; only Groth16 keys are supported",
        )),
        p => Err(Error::malformed(format!("zkey: unknown protocol {p}"))),
    }
}

/// Reads a Groth16 `.zkey` for engine `C`, checking every point and count.
pub fn read<C: Curve>(bytes: &[u8]) -> Result<ProvingKey<C>, Error> {
    let file = BinFile::parse(bytes, b"zkey", 1, "zkey")?;
    protocol(&file)?;
    let mut h = file.unique(2)?;
    let n8q = h.u32()? as usize;
    check_prime::<C::Fq>(h.bytes(n8q)?, "zkey (base field)")?;
    let n8r = h.u32()? as usize;
    check_prime::<C::ScalarField>(h.bytes(n8r)?, "zkey (scalar field)")?;
    let n_vars = h.u32()?;
    let n_public = h.u32()?;
    let domain_size = h.u32()?;
    if n_public >= n_vars {
        return Err(Error::malformed(format!(
            "zkey: {n_public} public signals of {n_vars}"
        )));
    }
    if !domain_size.is_power_of_two() || domain_size > MAX_DOMAIN {
        return Err(Error::malformed(format!(
            "zkey: domain size {domain_size} is not a power of two up to {MAX_DOMAIN}"
        )));
    }
    if n_public as usize > crate::snarkjs::MAX_PUBLIC {
        return Err(Error::malformed(format!(
            "zkey: {n_public} public signals is over the limit"
        )));
    }
    let p = Points::<C> {
        n8: n8q,
        mont: field::Montgomery::new(),
    };
    let alpha_g1 = p.g1(&mut h, "alpha1")?;
    let beta_g1 = p.g1(&mut h, "beta1")?;
    let beta_g2 = p.g2(&mut h, "beta2")?;
    let gamma_g2 = p.g2(&mut h, "gamma2")?;
    let delta_g1 = p.g1(&mut h, "delta1")?;
    let delta_g2 = p.g2(&mut h, "delta2")?;
    h.done("Groth16 header")?;

    let ic = p.g1s(&file, 3, n_public as usize + 1, "IC")?;
    let vk = VerifyingKey {
        alpha_g1,
        beta_g2,
        gamma_g2,
        delta_g2,
        ic,
    };
    vk.check_nondegenerate()
        .map_err(|e| Error::malformed(format!("zkey: {e}")))?;
    let coefs = read_coefs::<C::ScalarField>(&file, n8r, n_vars, domain_size)?;
    let n = n_vars as usize;
    Ok(ProvingKey {
        vk,
        beta_g1,
        delta_g1,
        n_vars,
        n_public,
        domain_size,
        coefs,
        a: p.g1s(&file, 5, n, "A")?,
        b1: p.g1s(&file, 6, n, "B1")?,
        b2: p.g2s(&file, 7, n, "B2")?,
        c: p.g1s(&file, 8, n - n_public as usize - 1, "C")?,
        h: p.g1s(&file, 9, domain_size as usize, "H")?,
    })
}

fn read_coefs<F: PrimeField>(
    file: &BinFile,
    n8r: usize,
    n_vars: u32,
    domain: u32,
) -> Result<Vec<Coef<F>>, Error> {
    let mut s = file.unique(4)?;
    let count = s.u32()? as usize;
    let raw = s.items(count, 12 + n8r, "coefficients")?;
    s.done("coefficients")?;
    let mont = field::Montgomery::<F>::new();
    raw.chunks(12 + n8r)
        .enumerate()
        .map(|(i, e)| {
            let word = |k: usize| u32::from_le_bytes(e[4 * k..4 * k + 4].try_into().expect("4 bytes"));
            let (matrix, row, signal) = (word(0), word(1), word(2));
            if matrix > 1 || row >= domain || signal >= n_vars {
                return Err(Error::malformed(format!(
                    "zkey: coefficient {i} (matrix {matrix}, row {row}, signal {signal}) is outside the key"
                )));
            }
            // Stored as v·R²: two Montgomery reductions give v.
            let value = mont.reduce(mont.decode(&e[12..], "zkey: a coefficient")?);
            Ok(Coef { matrix: matrix as u8, row, signal, value })
        })
        .collect()
}

/// Reading LEM points of one engine.
struct Points<C: Curve> {
    n8: usize,
    mont: field::Montgomery<C::Fq>,
}

impl<C: Curve> Points<C> {
    fn coord(&self, b: &[u8], what: &str) -> Result<C::Fq, Error> {
        self.mont.decode(b, what)
    }

    fn g1_at(&self, b: &[u8], what: &str) -> Result<C::G1Affine, Error> {
        if b.iter().all(|x| *x == 0) {
            return Ok(C::G1Affine::zero());
        }
        let (x, y) = b.split_at(self.n8);
        curve::g1::<C>(self.coord(x, what)?, self.coord(y, what)?, what)
    }

    fn g2_at(&self, b: &[u8], what: &str) -> Result<C::G2Affine, Error> {
        if b.iter().all(|x| *x == 0) {
            return Ok(C::G2Affine::zero());
        }
        let c = |k: usize| self.coord(&b[k * self.n8..(k + 1) * self.n8], what);
        curve::g2::<C>(
            QuadExtField::new(c(0)?, c(1)?),
            QuadExtField::new(c(2)?, c(3)?),
            what,
        )
    }

    fn g1(&self, r: &mut Reader, what: &str) -> Result<C::G1Affine, Error> {
        let b = r.bytes(2 * self.n8)?;
        self.g1_at(b, &format!("zkey: {what}"))
    }

    fn g2(&self, r: &mut Reader, what: &str) -> Result<C::G2Affine, Error> {
        let b = r.bytes(4 * self.n8)?;
        self.g2_at(b, &format!("zkey: {what}"))
    }

    fn g1s(
        &self,
        file: &BinFile,
        ty: u32,
        n: usize,
        what: &str,
    ) -> Result<Vec<C::G1Affine>, Error> {
        let mut s = file.unique(ty)?;
        let raw = s.items(n, 2 * self.n8, what)?;
        s.done(what)?;
        let what = format!("zkey: a point of {what}");
        raw.chunks(2 * self.n8)
            .map(|b| self.g1_at(b, &what))
            .collect()
    }

    fn g2s(
        &self,
        file: &BinFile,
        ty: u32,
        n: usize,
        what: &str,
    ) -> Result<Vec<C::G2Affine>, Error> {
        let mut s = file.unique(ty)?;
        let raw = s.items(n, 4 * self.n8, what)?;
        s.done(what)?;
        let what = format!("zkey: a point of {what}");
        raw.chunks(4 * self.n8)
            .map(|b| self.g2_at(b, &what))
            .collect()
    }
}

/// Writes a proving key as a snarkjs Groth16 `.zkey` (version 1): what `snarkjs groth16 prove`
/// and our prover read. Section 10 (the contributions' transcript) is left empty: this key's
/// history is not a ceremony `snarkjs zkey verify` could replay.
pub fn write<C: Curve>(pk: &ProvingKey<C>) -> Vec<u8> {
    use ark_ff::BigInteger;
    let mq = field::Montgomery::<C::Fq>::new();
    let mr = field::Montgomery::<C::ScalarField>::new();
    let n8q = C::Fq::MODULUS.as_ref().len() * 8;
    let g1 = |p: &C::G1Affine, out: &mut Vec<u8>| match p.xy() {
        Some((x, y)) => {
            out.extend(mq.encode(&x));
            out.extend(mq.encode(&y));
        }
        None => out.extend(std::iter::repeat_n(0u8, 2 * n8q)),
    };
    let g2 = |p: &C::G2Affine, out: &mut Vec<u8>| match p.xy() {
        Some((x, y)) => {
            for c in [x.c0, x.c1, y.c0, y.c1] {
                out.extend(mq.encode(&c));
            }
        }
        None => out.extend(std::iter::repeat_n(0u8, 4 * n8q)),
    };
    let mut sections: Vec<(u32, Vec<u8>)> = Vec::new();
    sections.push((1, 1u32.to_le_bytes().to_vec()));
    let mut h = Vec::new();
    h.extend((n8q as u32).to_le_bytes());
    h.extend(C::Fq::MODULUS.to_bytes_le());
    h.extend(32u32.to_le_bytes());
    h.extend(C::ScalarField::MODULUS.to_bytes_le());
    for v in [pk.n_vars, pk.n_public, pk.domain_size] {
        h.extend(v.to_le_bytes());
    }
    g1(&pk.vk.alpha_g1, &mut h);
    g1(&pk.beta_g1, &mut h);
    g2(&pk.vk.beta_g2, &mut h);
    g2(&pk.vk.gamma_g2, &mut h);
    g1(&pk.delta_g1, &mut h);
    g2(&pk.vk.delta_g2, &mut h);
    sections.push((2, h));
    let points1 = |ps: &[C::G1Affine]| {
        let mut out = Vec::new();
        ps.iter().for_each(|p| g1(p, &mut out));
        out
    };
    sections.push((3, points1(&pk.vk.ic)));
    let mut c = Vec::new();
    c.extend((pk.coefs.len() as u32).to_le_bytes());
    for k in &pk.coefs {
        c.extend((k.matrix as u32).to_le_bytes());
        c.extend(k.row.to_le_bytes());
        c.extend(k.signal.to_le_bytes());
        c.extend(mr.encode(&mr.lift(k.value)));
    }
    sections.push((4, c));
    sections.push((5, points1(&pk.a)));
    sections.push((6, points1(&pk.b1)));
    let mut b2 = Vec::new();
    pk.b2.iter().for_each(|p| g2(p, &mut b2));
    sections.push((7, b2));
    sections.push((8, points1(&pk.c)));
    sections.push((9, points1(&pk.h)));
    let mut contributions = vec![0u8; 64];
    contributions.extend(0u32.to_le_bytes());
    sections.push((10, contributions));

    let mut out = Vec::new();
    out.extend_from_slice(b"zkey");
    out.extend(1u32.to_le_bytes());
    out.extend((sections.len() as u32).to_le_bytes());
    for (ty, payload) in sections {
        out.extend(ty.to_le_bytes());
        out.extend((payload.len() as u64).to_le_bytes());
        out.extend(payload);
    }
    out
}
