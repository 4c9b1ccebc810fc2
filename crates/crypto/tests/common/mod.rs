//! Shared helpers of the crypto crate's conformance tests.

pub fn load_json(name: &str) -> serde_json::Value {
    metamesh_testkit::vector_json(name)
}

pub fn unhex(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

pub fn hex32(v: &serde_json::Value) -> [u8; 32] {
    unhex(v).try_into().expect("32 bytes")
}
