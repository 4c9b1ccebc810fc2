//! ethereum/tests RLP conformance (`../shared/vectors/ethereum-tests/`): every valid case
//! encodes to its bytes and decodes back; every invalid case is refused.

use metamesh_primitives::rlp::RlpItem;
use num_bigint::BigUint;
use proptest::prelude::*;
use serde_json::Value;

fn load(name: &str) -> serde_json::Map<String, Value> {
    let json = metamesh_testkit::vector_json(&format!("ethereum-tests/{name}"));
    json.as_object().expect("a JSON object of cases").clone()
}

/// The vectors' input conventions: strings are raw bytes, `#…` a decimal big integer, JSON
/// integers unsigned big-endian without leading zeros, arrays lists.
fn to_item(v: &Value) -> RlpItem {
    match v {
        Value::String(s) => match s.strip_prefix('#') {
            Some(decimal) => RlpItem::Bytes(big_endian(&decimal.parse::<BigUint>().unwrap())),
            None => RlpItem::Bytes(s.as_bytes().to_vec()),
        },
        Value::Number(n) => RlpItem::Bytes(big_endian(&BigUint::from(n.as_u64().unwrap()))),
        Value::Array(items) => RlpItem::List(items.iter().map(to_item).collect()),
        other => panic!("unexpected input {other}"),
    }
}

fn big_endian(n: &BigUint) -> Vec<u8> {
    if *n == BigUint::ZERO {
        Vec::new()
    } else {
        n.to_bytes_be()
    }
}

fn out_bytes(case: &Value) -> Vec<u8> {
    hex::decode(case["out"].as_str().unwrap().trim_start_matches("0x")).unwrap()
}

#[test]
fn every_valid_case_encodes_and_decodes() {
    let cases = load("rlptest.json");
    assert_eq!(cases.len(), 28);
    for (name, case) in &cases {
        let item = to_item(&case["in"]);
        let expected = out_bytes(case);
        assert_eq!(
            hex::encode(item.to_rlp()),
            hex::encode(&expected),
            "encode {name}"
        );
        assert_eq!(
            RlpItem::decode_exact(&expected).unwrap(),
            item,
            "decode {name}"
        );
    }
}

#[test]
fn every_invalid_case_is_rejected() {
    let cases = load("invalidRLPTest.json");
    assert_eq!(cases.len(), 26);
    for (name, case) in &cases {
        let bytes = out_bytes(case);
        assert!(
            RlpItem::decode_exact(&bytes).is_err(),
            "{name} was accepted"
        );
    }
}

fn item_strategy() -> impl Strategy<Value = RlpItem> {
    let leaf = prop::collection::vec(any::<u8>(), 0..80).prop_map(RlpItem::Bytes);
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(RlpItem::List)
    })
}

proptest! {
    #[test]
    fn any_item_round_trips(item in item_strategy()) {
        let bytes = item.to_rlp();
        prop_assert_eq!(RlpItem::decode_exact(&bytes).unwrap(), item);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(item) = RlpItem::decode_exact(&bytes) {
            // Strict decoding: whatever is accepted is the canonical encoding.
            prop_assert_eq!(item.to_rlp(), bytes);
        }
    }
}
