//! Radix-2 FFTs over the roots of unity snarkjs uses.
//!
//! snarkjs (ffjavascript) takes its 2^s-th root of unity from the smallest quadratic
//! non-residue g: ω = g^t where r − 1 = 2^s·t. For BN254 that is arkworks' root too, but for
//! BLS12-381 arkworks starts from 7 and snarkjs from 5: the same field, different roots, so a
//! prover for snarkjs keys must use snarkjs's (its H points are Lagrange points over them).
//! That is why this is ours and not ark-poly's.

use ark_ff::{FftField, Field, PrimeField};

/// snarkjs's primitive 2^k-th root of unity, for k up to the field's two-adicity.
pub fn root_of_unity<F: PrimeField + FftField>(k: u32) -> Option<F> {
    let s = F::TWO_ADICITY;
    if k > s {
        return None;
    }
    let mut g = F::from(2u64);
    while g.legendre().is_qr() {
        g += F::one();
    }
    let mut w = g.pow(F::TRACE);
    for _ in k..s {
        w.square_in_place();
    }
    Some(w)
}

/// In-place FFT of `values` (length a power of two) with primitive root `w` of that order:
/// afterwards `values[i]` = Σⱼ coeffⱼ·wⁱʲ.
pub fn fft<F: Field>(values: &mut [F], w: F) {
    let n = values.len();
    assert!(n.is_power_of_two(), "FFT length must be a power of two");
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            values.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let step = w.pow([(n / len) as u64]);
        let twiddles: Vec<F> = std::iter::successors(Some(F::one()), |t| Some(*t * step))
            .take(len / 2)
            .collect();
        for chunk in values.chunks_mut(len) {
            let (lo, hi) = chunk.split_at_mut(len / 2);
            for ((a, b), t) in lo.iter_mut().zip(hi.iter_mut()).zip(&twiddles) {
                let v = *b * t;
                *b = *a - v;
                *a += v;
            }
        }
        len *= 2;
    }
}

/// The inverse of [`fft`] for the same root.
pub fn ifft<F: Field>(values: &mut [F], w: F) {
    fft(values, w.inverse().expect("a root of unity is invertible"));
    let n_inv = F::from(values.len() as u64)
        .inverse()
        .expect("n is invertible");
    for v in values.iter_mut() {
        *v *= n_inv;
    }
}

#[cfg(test)]
mod tests {
    use ark_ff::{FftField, UniformRand};

    use super::*;

    #[test]
    fn roots_match_snarkjs() {
        // BN254: the same root arkworks has.
        assert_eq!(
            root_of_unity::<ark_bn254::Fr>(28).unwrap(),
            ark_bn254::Fr::TWO_ADIC_ROOT_OF_UNITY
        );
        // BLS12-381: ffjavascript's w[32] (from 5), not arkworks' (from 7).
        let w: ark_bls12_381::Fr = crate::field::decimal(
            "937917089079007706106976984802249742464848817460758522850752807661925904159",
            "w",
        )
        .unwrap();
        assert_eq!(root_of_unity::<ark_bls12_381::Fr>(32).unwrap(), w);
        assert_ne!(w, ark_bls12_381::Fr::TWO_ADIC_ROOT_OF_UNITY);
    }

    #[test]
    fn fft_is_evaluation_and_inverts() {
        let mut rng = ark_std::test_rng();
        let coeffs: Vec<ark_bn254::Fr> = (0..16).map(|_| ark_bn254::Fr::rand(&mut rng)).collect();
        let w = root_of_unity::<ark_bn254::Fr>(4).unwrap();
        let mut v = coeffs.clone();
        fft(&mut v, w);
        for (i, got) in v.iter().enumerate() {
            let x = w.pow([i as u64]);
            let want: ark_bn254::Fr = coeffs
                .iter()
                .rev()
                .fold(ark_bn254::Fr::from(0u64), |acc, c| acc * x + c);
            assert_eq!(*got, want);
        }
        ifft(&mut v, w);
        assert_eq!(v, coeffs);
    }
}
