//! circom's `.r1cs` (version 1): the constraint system, coefficients in normal form.

use ark_ff::PrimeField;

use crate::{
    Engine, Error,
    binfile::{BinFile, Reader},
    field,
};

/// A linear combination: (wire, coefficient) terms.
pub type Lc<F> = Vec<(u32, F)>;

/// A constraint system as circom writes it. Wire 0 is the constant one, then the public
/// outputs, the public inputs, the private inputs and the internal wires.
#[derive(Clone, Debug)]
pub struct R1cs<F: PrimeField> {
    pub n_wires: u32,
    pub n_pub_out: u32,
    pub n_pub_in: u32,
    pub n_prv_in: u32,
    pub n_labels: u64,
    /// Each constraint is ⟨A, w⟩ · ⟨B, w⟩ = ⟨C, w⟩.
    pub constraints: Vec<[Lc<F>; 3]>,
}

impl<F: PrimeField> R1cs<F> {
    pub fn n_public(&self) -> usize {
        (self.n_pub_out + self.n_pub_in) as usize
    }
}

/// The engine whose scalar field an `.r1cs` file's header names.
pub fn engine(bytes: &[u8]) -> Result<Engine, Error> {
    let file = BinFile::parse(bytes, b"r1cs", 1, "r1cs")?;
    let mut h = file.unique(1)?;
    let n8 = h.u32()? as usize;
    let prime = h.bytes(n8)?;
    Engine::from_scalar_modulus(prime)
        .ok_or_else(|| Error::malformed("r1cs: the field prime is neither BN254's nor BLS12-381's"))
}

/// Reads an `.r1cs` file over field `F` (whose modulus must be the file's prime).
pub fn read<F: PrimeField>(bytes: &[u8]) -> Result<R1cs<F>, Error> {
    let file = BinFile::parse(bytes, b"r1cs", 1, "r1cs")?;
    let mut h = file.unique(1)?;
    let n8 = h.u32()? as usize;
    check_prime::<F>(h.bytes(n8)?, "r1cs")?;
    let n_wires = h.u32()?;
    let n_pub_out = h.u32()?;
    let n_pub_in = h.u32()?;
    let n_prv_in = h.u32()?;
    let n_labels = h.u64()?;
    let m = h.u32()?;
    h.done("header")?;
    if n_wires == 0 || 1 + n_pub_out as u64 + n_pub_in as u64 + n_prv_in as u64 > n_wires as u64 {
        return Err(Error::malformed(format!(
            "r1cs: {n_wires} wires cannot hold 1 + {n_pub_out} outputs + {n_pub_in} public + {n_prv_in} private inputs"
        )));
    }
    let mut c = file.unique(2)?;
    // Every constraint takes at least 12 bytes (three empty combinations).
    if (m as usize).saturating_mul(12) > c.remaining() {
        return Err(Error::malformed(format!(
            "r1cs: {m} constraints do not fit in the constraints section"
        )));
    }
    let mut constraints = Vec::with_capacity(m as usize);
    for i in 0..m {
        let mut lc = || read_lc::<F>(&mut c, n8, n_wires, i);
        constraints.push([lc()?, lc()?, lc()?]);
    }
    c.done("constraints")?;
    Ok(R1cs {
        n_wires,
        n_pub_out,
        n_pub_in,
        n_prv_in,
        n_labels,
        constraints,
    })
}

fn read_lc<F: PrimeField>(r: &mut Reader, n8: usize, n_wires: u32, i: u32) -> Result<Lc<F>, Error> {
    let n = r.u32()? as usize;
    let raw = r.items(n, 4 + n8, "terms")?;
    raw.chunks(4 + n8)
        .map(|t| {
            let wire = u32::from_le_bytes(t[..4].try_into().expect("4 bytes"));
            if wire >= n_wires {
                return Err(Error::malformed(format!(
                    "r1cs: constraint {i} names wire {wire} of {n_wires}"
                )));
            }
            Ok((
                wire,
                field::from_le::<F>(&t[4..], &format!("r1cs: constraint {i}'s coefficient"))?,
            ))
        })
        .collect()
}

/// The file's prime must be `F`'s modulus.
pub(crate) fn check_prime<F: PrimeField>(prime: &[u8], file: &str) -> Result<(), Error> {
    let ours: Vec<u8> = F::MODULUS
        .as_ref()
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    if prime != ours.as_slice() {
        return Err(Error::malformed(format!(
            "{file}: the file's field prime is not this engine's scalar field"
        )));
    }
    Ok(())
}
