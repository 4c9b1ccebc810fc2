//! Sign and verify in both suites, each beside its reference in the same run: the bare
//! RustCrypto call our wrapper makes (so the figure shows our overhead: Z_A, encoding, checks).
//! `scripts/bench-crypto.sh` runs this and `openssl speed sm2` together.

use criterion::{Criterion, criterion_group, criterion_main};
use metamesh_crypto::{SecretKey, Suite, sm};
use std::hint::black_box;

const MSG: &[u8] = &[0x5a; 256];

fn suite_sign_verify(c: &mut Criterion) {
    for suite in Suite::ALL {
        let key = SecretKey::from_bytes(suite, &[0x11; 32]).unwrap();
        let public = key.public_key();
        let sig = key.sign_message(MSG).unwrap();
        let mut group = c.benchmark_group(format!("{suite}"));
        group.bench_function("sign", |b| {
            b.iter(|| key.sign_message(black_box(MSG)).unwrap())
        });
        group.bench_function("verify", |b| {
            b.iter(|| {
                public
                    .verify_message(black_box(MSG), black_box(&sig))
                    .unwrap()
            })
        });
        group.bench_function("recover_signer", |b| {
            b.iter(|| {
                sig.recover_message_signer(black_box(MSG), sm::DEFAULT_ID)
                    .unwrap()
            })
        });
        group.finish();
    }
}

fn reference_rustcrypto(c: &mut Criterion) {
    use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
    use sm2::dsa::signature::{Signer as _, Verifier as _};

    let mut group = c.benchmark_group("reference");
    let sm_key = sm2::dsa::SigningKey::from_slice(sm::DEFAULT_ID, &[0x11; 32]).unwrap();
    let sm_sig: sm2::dsa::Signature = sm_key.sign(MSG);
    group.bench_function("sm2-crate sign", |b| {
        b.iter(|| -> sm2::dsa::Signature { sm_key.sign(black_box(MSG)) })
    });
    group.bench_function("sm2-crate verify", |b| {
        b.iter(|| {
            sm_key
                .verifying_key()
                .verify(black_box(MSG), &sm_sig)
                .unwrap()
        })
    });

    let k_key = k256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let hash = Suite::Eth.hash(MSG);
    let (k_sig, _) = k_key.sign_prehash_recoverable(&hash);
    group.bench_function("k256-crate sign_prehash_recoverable", |b| {
        b.iter(|| k_key.sign_prehash_recoverable(black_box(&hash)))
    });
    group.bench_function("k256-crate verify_prehash", |b| {
        b.iter(|| {
            k_key
                .verifying_key()
                .verify_prehash(black_box(&hash), &k_sig)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, suite_sign_verify, reference_rustcrypto);
criterion_main!(benches);
