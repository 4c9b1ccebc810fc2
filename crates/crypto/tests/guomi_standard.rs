//! GB/T 32905 (SM3) and GB/T 32918 / GM/T 0003 (SM2) standard examples from
//! `../shared/vectors/guomi_standard.json`.
//!
//! The fixed-k examples are recomputed with textbook big-integer curve arithmetic (this file's
//! `Curve`), because production signing draws k itself; the resulting (r, s) must equal the
//! standard's and must verify through the real `PublicKey::verify_rs` path.

mod common;

use common::{hex32, load_json, unhex};
use metamesh_crypto::{CryptoError, PublicKey, Suite, sm};
use num_bigint::BigUint;

#[test]
fn sm3_examples_match() {
    let v = load_json("guomi_standard.json");
    let cases = v["sm3"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let msg = unhex(&case["msg_hex"]);
        assert_eq!(
            hex::encode(Suite::Sm.hash(&msg)),
            case["sm3"].as_str().unwrap(),
            "SM3 example {}",
            case["name"]
        );
    }
}

/// y² = x³ + ax + b over F_p with generator G of order n.
struct Curve {
    p: BigUint,
    a: BigUint,
    n: BigUint,
    g: (BigUint, BigUint),
}

impl Curve {
    fn inv(x: &BigUint, m: &BigUint) -> BigUint {
        x.modpow(&(m - 2u32), m)
    }

    fn add(
        &self,
        p1: &Option<(BigUint, BigUint)>,
        p2: &Option<(BigUint, BigUint)>,
    ) -> Option<(BigUint, BigUint)> {
        let p = &self.p;
        match (p1, p2) {
            (None, q) | (q, None) => q.clone(),
            (Some((x1, y1)), Some((x2, y2))) => {
                let lambda = if x1 == x2 {
                    if (y1 + y2) % p == BigUint::ZERO {
                        return None;
                    }
                    (BigUint::from(3u32) * x1 * x1 + &self.a)
                        * Self::inv(&(BigUint::from(2u32) * y1), p)
                        % p
                } else {
                    ((y2 + p - y1) % p) * Self::inv(&((x2 + p - x1) % p), p) % p
                };
                let x3 = (&lambda * &lambda + p * 2u32 - x1 - x2) % p;
                let y3 = (&lambda * ((x1 + p - &x3) % p) + p - y1) % p;
                Some((x3, y3))
            }
        }
    }

    fn mul(&self, k: &BigUint, point: &(BigUint, BigUint)) -> (BigUint, BigUint) {
        let mut acc = None;
        for i in (0..k.bits()).rev() {
            acc = self.add(&acc, &acc);
            if k.bit(i) {
                acc = self.add(&acc, &Some(point.clone()));
            }
        }
        acc.expect("k is not a multiple of n")
    }

    /// GB/T 32918.2 §6.1 A4–A5 with a given k.
    fn sign_with_k(&self, d: &BigUint, e: &BigUint, k: &BigUint) -> (BigUint, BigUint) {
        let n = &self.n;
        let (x1, _) = self.mul(k, &self.g);
        let r = (e + x1) % n;
        let d1 = Self::inv(&((d + 1u32) % n), n);
        let s = d1 * ((k + n - (&r * d) % n) % n) % n;
        (r, s)
    }
}

/// The test-curve entry gives only the ASCII message.
fn message_of(case: &serde_json::Value) -> Vec<u8> {
    match case.get("msg_hex") {
        Some(h) => unhex(h),
        None => case["msg_ascii"].as_str().unwrap().as_bytes().to_vec(),
    }
}

fn big(v: &serde_json::Value) -> BigUint {
    BigUint::from_bytes_be(&unhex(v))
}

fn be32(x: &BigUint) -> [u8; 32] {
    let bytes = x.to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(&bytes);
    out
}

fn curve_of(case: &serde_json::Value, sm2p256v1: &serde_json::Value) -> (Curve, [[u8; 32]; 4]) {
    let c = if case["curve"].is_string() {
        sm2p256v1
    } else {
        &case["curve"]
    };
    let curve = Curve {
        p: big(&c["p"]),
        a: big(&c["a"]),
        n: big(&c["n"]),
        g: (big(&c["gx"]), big(&c["gy"])),
    };
    let params = [
        hex32(&c["a"]),
        hex32(&c["b"]),
        hex32(&c["gx"]),
        hex32(&c["gy"]),
    ];
    (curve, params)
}

#[test]
fn sm2_fixed_k_examples_reproduce_r_and_s() {
    let v = load_json("guomi_standard.json");
    let sm2p256v1 = load_json("sm2_openssl.json")["curve"].clone();
    for case in v["sm2_sign"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (curve, params) = curve_of(case, &sm2p256v1);
        let id = case["id_ascii"].as_str().unwrap();
        let (d, k) = (big(&case["d"]), big(&case["k"]));
        let (x, y) = (hex32(&case["x"]), hex32(&case["y"]));

        let (px, py) = curve.mul(&d, &curve.g);
        assert_eq!((be32(&px), be32(&py)), (x, y), "{name}: public key from d");

        let za = sm::z_a_for_curve(id, &params, &x, &y).unwrap();
        assert_eq!(za, hex32(&case["za"]), "{name}: Z_A");
        let mut za_m = za.to_vec();
        za_m.extend(message_of(case));
        let e = Suite::Sm.hash(&za_m);
        assert_eq!(e, hex32(&case["e"]), "{name}: e");

        let (r, s) = curve.sign_with_k(&d, &BigUint::from_bytes_be(&e), &k);
        assert_eq!(be32(&r), hex32(&case["r"]), "{name}: r");
        assert_eq!(be32(&s), hex32(&case["s"]), "{name}: s");
    }
}

#[test]
fn sm2p256v1_example_verifies_only_under_its_id() {
    let v = load_json("guomi_standard.json");
    let case = &v["sm2_sign"][0];
    assert_eq!(case["curve"], "sm2p256v1");
    let mut sec1 = vec![4u8];
    sec1.extend(unhex(&case["x"]));
    sec1.extend(unhex(&case["y"]));
    let public = PublicKey::from_sec1(Suite::Sm, &sec1).unwrap();
    let PublicKey::Sm(inner) = public else {
        unreachable!()
    };
    let msg = case["msg_ascii"].as_str().unwrap().as_bytes();
    let (r, s) = (hex32(&case["r"]), hex32(&case["s"]));

    assert_eq!(sm::z_a(sm::DEFAULT_ID, &inner).unwrap(), hex32(&case["za"]));
    assert_eq!(
        sm::message_digest(sm::DEFAULT_ID, &inner, msg).unwrap(),
        hex32(&case["e"])
    );
    public.verify_rs(msg, sm::DEFAULT_ID, &r, &s).unwrap();
    assert_eq!(
        public.verify_rs(msg, "ALICE123@YAHOO.COM", &r, &s),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        public.verify_rs(msg, "", &r, &s),
        Err(CryptoError::BadSignature)
    );

    let der = sm::signature_from_der(&unhex(&case["sig_der"])).unwrap();
    assert_eq!(der.to_bytes().as_slice(), [r, s].concat().as_slice());
}
