//! Property tests: in both suites a signature verifies for its message and key, and a changed
//! message, signature byte or public key is rejected — never a panic.

use metamesh_crypto::{PublicKey, SecretKey, Signature, Suite};
use proptest::prelude::*;

fn suite_strategy() -> impl Strategy<Value = Suite> {
    prop_oneof![Just(Suite::Sm), Just(Suite::Eth)]
}

fn key(suite: Suite, seed: [u8; 32]) -> SecretKey {
    // Valid for all but a negligible set of seeds; fall back to a fixed key there.
    SecretKey::from_bytes(suite, &seed)
        .unwrap_or_else(|_| SecretKey::from_bytes(suite, &[1; 32]).unwrap())
}

/// A changed signature may fail to parse, fail to verify, or (eth) recover another key.
fn accepted(public: &PublicKey, msg: &[u8], suite: Suite, bytes: &[u8]) -> bool {
    Signature::from_bytes(suite, bytes).is_ok_and(|sig| public.verify_message(msg, &sig).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signatures_round_trip(suite in suite_strategy(), seed in any::<[u8; 32]>(), msg in prop::collection::vec(any::<u8>(), 0..256)) {
        let sk = key(suite, seed);
        let sig = sk.sign_message(&msg).unwrap();
        prop_assert!(sk.public_key().verify_message(&msg, &sig).is_ok());
        prop_assert!(accepted(&sk.public_key(), &msg, suite, sig.as_bytes()));
        prop_assert_eq!(sig.recover_message_signer(&msg, metamesh_crypto::sm::DEFAULT_ID).unwrap(), sk.public_key());
    }

    #[test]
    fn changed_message_is_rejected(suite in suite_strategy(), seed in any::<[u8; 32]>(), msg in prop::collection::vec(any::<u8>(), 1..128), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let sk = key(suite, seed);
        let sig = sk.sign_message(&msg).unwrap();
        let mut changed = msg.clone();
        changed[at.index(msg.len())] ^= flip;
        prop_assert!(!accepted(&sk.public_key(), &changed, suite, sig.as_bytes()));
    }

    #[test]
    fn changed_signature_byte_is_rejected(suite in suite_strategy(), seed in any::<[u8; 32]>(), msg in prop::collection::vec(any::<u8>(), 0..64), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let sk = key(suite, seed);
        let mut bytes = sk.sign_message(&msg).unwrap().as_bytes().to_vec();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(!accepted(&sk.public_key(), &msg, suite, &bytes));
    }

    #[test]
    fn other_public_key_is_rejected(suite in suite_strategy(), a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), msg in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assume!(a != b);
        let signer = key(suite, a);
        let other = key(suite, b);
        let sig = signer.sign_message(&msg).unwrap();
        prop_assert!(other.public_key().verify_message(&msg, &sig).is_err());
        prop_assert!(other.public_key().verify_rs(&msg, metamesh_crypto::sm::DEFAULT_ID, &sig.r(), &sig.s()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(suite in suite_strategy(), bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = Signature::from_bytes(suite, &bytes);
        let _ = PublicKey::from_sec1(suite, &bytes);
        let _ = metamesh_crypto::pem::parse_pem(&String::from_utf8_lossy(&bytes), None);
    }
}
