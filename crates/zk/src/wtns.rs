//! circom's `.wtns` (version 2): a full witness, values in normal form, indexed by wire.

use ark_ff::{BigInteger, PrimeField};

use crate::{Engine, Error, binfile::BinFile, field, r1cs::check_prime};

/// The engine whose scalar field a `.wtns` file's header names.
pub fn engine(bytes: &[u8]) -> Result<Engine, Error> {
    let file = BinFile::parse(bytes, b"wtns", 2, "wtns")?;
    let mut h = file.unique(1)?;
    let n8 = h.u32()? as usize;
    Engine::from_scalar_modulus(h.bytes(n8)?)
        .ok_or_else(|| Error::malformed("wtns: the field prime is neither BN254's nor BLS12-381's"))
}

/// Reads a witness over `F`: every value canonical, the first one 1.
pub fn read<F: PrimeField>(bytes: &[u8]) -> Result<Vec<F>, Error> {
    let file = BinFile::parse(bytes, b"wtns", 2, "wtns")?;
    let mut h = file.unique(1)?;
    let n8 = h.u32()? as usize;
    check_prime::<F>(h.bytes(n8)?, "wtns")?;
    let n = h.u32()? as usize;
    h.done("header")?;
    let mut v = file.unique(2)?;
    let raw = v.items(n, n8, "witness values")?;
    v.done("witness")?;
    let values = raw
        .chunks(n8)
        .enumerate()
        .map(|(i, b)| field::from_le::<F>(b, &format!("wtns: value {i}")))
        .collect::<Result<Vec<F>, _>>()?;
    if values.first() != Some(&F::one()) {
        return Err(Error::malformed(
            "wtns: the first value (the constant wire) is not 1",
        ));
    }
    Ok(values)
}

/// Writes a witness as circom's witness calculator does.
pub fn write<F: PrimeField>(values: &[F]) -> Vec<u8> {
    let n8 = F::MODULUS.as_ref().len() * 8;
    let mut out = Vec::with_capacity(40 + n8 * (values.len() + 1));
    out.extend_from_slice(b"wtns");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&((8 + n8) as u64).to_le_bytes());
    out.extend_from_slice(&(n8 as u32).to_le_bytes());
    out.extend_from_slice(&F::MODULUS.to_bytes_le());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&((n8 * values.len()) as u64).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.into_bigint().to_bytes_le());
    }
    out
}
