//! The SM2 interop set made with OpenSSL 3.0 (`../shared/vectors/sm2_openssl.json`): its PEM
//! keys import, and each of its 18 signatures verifies under its ID and fails under the other.

mod common;

use common::{hex32, load_json, unhex};
use metamesh_crypto::{
    CryptoError, PublicKey, SecretKey, Suite,
    pem::{PemKey, parse_pem},
    sm,
};

fn keys() -> Vec<(String, SecretKey, PublicKey)> {
    let v = load_json("sm2_openssl.json");
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let PemKey::Secret(secret) =
                parse_pem(k["private_pem_pkcs8"].as_str().unwrap(), None).unwrap()
            else {
                panic!("private PEM read as public")
            };
            let PemKey::Public(public) =
                parse_pem(k["public_pem_spki"].as_str().unwrap(), None).unwrap()
            else {
                panic!("public PEM read as private")
            };
            assert_eq!(secret.suite(), Suite::Sm);
            assert_eq!(*secret.to_bytes(), hex32(&k["d"]));
            assert_eq!(public, secret.public_key());
            assert_eq!(
                public.to_uncompressed().to_vec(),
                unhex(&k["public_sec1_uncompressed"])
            );
            (k["key_id"].as_str().unwrap().to_owned(), secret, public)
        })
        .collect()
}

#[test]
fn openssl_pem_keys_import() {
    assert_eq!(keys().len(), 3);
}

#[test]
fn openssl_signatures_verify_under_their_id_only() {
    let v = load_json("sm2_openssl.json");
    let keys = keys();
    let messages = v["messages"].as_array().unwrap();
    let ids = &v["ids"];
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 18);
    for sig in sigs {
        let (_, _, public) = keys.iter().find(|(id, _, _)| *id == sig["key_id"]).unwrap();
        let PublicKey::Sm(inner) = public else {
            unreachable!()
        };
        let msg = unhex(
            &messages
                .iter()
                .find(|m| m["msg_id"] == sig["msg_id"])
                .unwrap()["hex"],
        );
        let distid = sig["distid"].as_str().unwrap();
        let other = if distid == ids["default"] {
            &ids["custom"]
        } else {
            &ids["default"]
        };
        let other = other.as_str().unwrap();

        assert_eq!(sm::z_a(distid, inner).unwrap(), hex32(&sig["za"]));
        assert_eq!(
            sm::message_digest(distid, inner, &msg).unwrap(),
            hex32(&sig["e"])
        );

        let from_der = sm::signature_from_der(&unhex(&sig["sig_der"])).unwrap();
        assert_eq!(from_der.to_bytes().to_vec(), unhex(&sig["sig_rs"]));
        let (r, s) = (hex32(&sig["r"]), hex32(&sig["s"]));
        public.verify_rs(&msg, distid, &r, &s).unwrap();
        assert_eq!(
            public.verify_rs(&msg, other, &r, &s),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            public.verify_rs(&msg, "", &r, &s),
            Err(CryptoError::BadSignature)
        );
    }
}
