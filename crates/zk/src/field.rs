//! Field elements as snarkjs writes them: decimal strings, canonical (below the modulus).

use ark_ff::{BigInteger, PrimeField};
use num_bigint::BigUint;

use crate::Error;

/// The longest decimal a 384-bit modulus needs, with room: longer strings are refused before
/// any arithmetic.
const MAX_DIGITS: usize = 120;

/// Parses a canonical decimal field element: ASCII digits only, no sign, no leading zeros
/// (except "0" itself), and below the modulus. A value at or above the modulus is refused,
/// never reduced: two spellings of one element would be two identities for one statement.
pub fn decimal<F: PrimeField>(text: &str, what: &str) -> Result<F, Error> {
    let value = digits(text, what)?;
    let modulus: BigUint = F::MODULUS.into();
    if value >= modulus {
        return Err(Error::malformed(format!(
            "{what} is not canonical: {text} is not below the field modulus {modulus}"
        )));
    }
    Ok(F::from_le_bytes_mod_order(&value.to_bytes_le()))
}

/// The decimal spelling snarkjs uses.
pub fn to_decimal<F: PrimeField>(value: &F) -> String {
    BigUint::from_bytes_le(&value.into_bigint().to_bytes_le()).to_string()
}

/// A big-endian integer (a public input as the chain carries it) in decimal.
pub fn be_decimal(bytes: &[u8]) -> String {
    BigUint::from_bytes_be(bytes).to_string()
}

/// A canonical decimal (as [`decimal`] reads it) as a 32-byte big-endian integer; refused
/// when it needs more than 32 bytes.
pub fn decimal_be(text: &str, what: &str) -> Result<[u8; 32], Error> {
    let value = digits(text, what)?.to_bytes_be();
    let mut out = [0u8; 32];
    if value.len() > 32 {
        return Err(Error::malformed(format!("{what} does not fit in 256 bits")));
    }
    out[32 - value.len()..].copy_from_slice(&value);
    Ok(out)
}

fn digits(text: &str, what: &str) -> Result<BigUint, Error> {
    if text.is_empty() {
        return Err(Error::malformed(format!("{what} is an empty string")));
    }
    if text.len() > MAX_DIGITS {
        return Err(Error::malformed(format!(
            "{what} has {} characters; a field element has at most {MAX_DIGITS} digits",
            text.len()
        )));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::malformed(format!(
            "{what} must be a decimal string of digits, found {text:?}"
        )));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(Error::malformed(format!(
            "{what} has a leading zero ({text:?}): not the canonical decimal"
        )));
    }
    Ok(BigUint::parse_bytes(text.as_bytes(), 10).expect("digits checked"))
}

/// A field element from little-endian bytes, refused when not below the modulus.
pub fn from_le<F: PrimeField>(bytes: &[u8], what: &str) -> Result<F, Error> {
    let value = BigUint::from_bytes_le(bytes);
    let modulus: BigUint = F::MODULUS.into();
    if value >= modulus {
        return Err(Error::malformed(format!(
            "{what} is not below the field modulus"
        )));
    }
    Ok(F::from_le_bytes_mod_order(bytes))
}

/// Decodes Montgomery-form elements (value · R mod p, as snarkjs and circom store points
/// and coefficients), R = 2^(64·limbs).
pub struct Montgomery<F> {
    r: F,
    r_inv: F,
}

impl<F: PrimeField> Default for Montgomery<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: PrimeField> Montgomery<F> {
    pub fn new() -> Montgomery<F> {
        let limbs = F::MODULUS.as_ref().len();
        let mut r = F::one();
        let two = F::from(2u64);
        for _ in 0..limbs * 64 {
            r *= two;
        }
        Montgomery {
            r,
            r_inv: r.inverse().expect("R is invertible"),
        }
    }

    /// The element whose Montgomery form is `bytes` (little-endian), refused when the stored
    /// word is not below the modulus.
    pub fn decode(&self, bytes: &[u8], what: &str) -> Result<F, Error> {
        Ok(from_le::<F>(bytes, what)? * self.r_inv)
    }

    /// The Montgomery form of `x`, little-endian, as snarkjs writes it.
    pub fn encode(&self, x: &F) -> Vec<u8> {
        use ark_ff::BigInteger;
        (*x * self.r).into_bigint().to_bytes_le()
    }

    /// x · R, for coefficients snarkjs stores as v·R² (encode(lift(v)) = v·R² mod p).
    pub fn lift(&self, x: F) -> F {
        x * self.r
    }

    /// One more division by R: snarkjs stores matrix coefficients as v·R².
    pub fn reduce(&self, x: F) -> F {
        x * self.r_inv
    }
}

#[cfg(test)]
mod tests {
    use ark_bn254::Fr;

    use super::*;

    #[test]
    fn canonical_decimals_only() {
        let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert!(
            decimal::<Fr>(r, "x")
                .unwrap_err()
                .to_string()
                .contains("not canonical")
        );
        let below = "21888242871839275222246405745257275088548364400416034343698204186575808495616";
        assert_eq!(decimal::<Fr>(below, "x").unwrap(), -Fr::from(1u64));
        for bad in ["", "0x10", "-1", "+1", " 1", "01", "1e3", "١"] {
            assert!(decimal::<Fr>(bad, "x").is_err(), "{bad:?}");
        }
        assert_eq!(to_decimal(&decimal::<Fr>("0", "x").unwrap()), "0");
        assert_eq!(to_decimal(&Fr::from(1234567u64)), "1234567");
    }

    #[test]
    fn montgomery_round_trip() {
        let x = Fr::from(987654321u64);
        // x · R, written little-endian, is what a zkey stores.
        let mut r = Fr::from(1u64);
        for _ in 0..256 {
            r *= Fr::from(2u64);
        }
        let stored = (x * r).into_bigint().to_bytes_le();
        assert_eq!(Montgomery::<Fr>::new().decode(&stored, "x").unwrap(), x);
    }
}
