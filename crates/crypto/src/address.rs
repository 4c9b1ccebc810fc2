//! 20-byte account addresses, shown with EIP-55 mixed-case checksums in both suites.

use std::{fmt, str::FromStr};

use sha3::{Digest as _, Keccak256};

use crate::CryptoError;

/// An account address: the last 20 bytes of the suite hash of the uncompressed public key
/// without its `0x04` prefix (SM3 in `sm`, Keccak-256 in `eth`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Address {
    pub const ZERO: Address = Address([0; 20]);

    /// Takes the last 20 bytes of a 32-byte digest.
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[12..]);
        Address(out)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// EIP-55: a hex letter is upper case when the matching nibble of
    /// Keccak-256(lower-case hex) is 8 or more. The checksum is a display convention, so it uses
    /// Keccak in both suites and wallets can check it.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = Keccak256::digest(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            if c.is_ascii_alphabetic() && nibble >= 8 {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

// As 20 bytes in RLP, so records can derive their codecs.
impl alloy_rlp::Encodable for Address {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.0.encode(out)
    }
    fn length(&self) -> usize {
        self.0.length()
    }
}

impl alloy_rlp::Decodable for Address {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(Address(<[u8; 20]>::decode(buf)?))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_checksum())
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Address {
    type Err = CryptoError;

    /// Accepts 40 hex digits with or without `0x`. All-lower or all-upper case is taken as is;
    /// mixed case must carry a correct EIP-55 checksum, so a mistyped address is caught.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if body.len() != 40 {
            return Err(CryptoError::InvalidAddress(
                s.to_owned(),
                "expected 40 hex digits",
            ));
        }
        let mut out = [0u8; 20];
        hex::decode_to_slice(body, &mut out)
            .map_err(|_| CryptoError::InvalidAddress(s.to_owned(), "not hexadecimal"))?;
        let address = Address(out);
        let mixed = body.chars().any(|c| c.is_ascii_lowercase())
            && body.chars().any(|c| c.is_ascii_uppercase());
        if mixed && address.to_checksum()[2..] != *body {
            return Err(CryptoError::InvalidAddress(
                s.to_owned(),
                "EIP-55 checksum mismatch",
            ));
        }
        Ok(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The four examples of EIP-55's specification.
    const EIP55: [&str; 4] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn eip55_examples_round_trip() {
        for s in EIP55 {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_checksum(), s);
            assert_eq!(s.to_lowercase().parse::<Address>().unwrap(), a);
        }
    }

    #[test]
    fn wrong_checksum_is_rejected() {
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert!(matches!(
            bad.parse::<Address>(),
            Err(CryptoError::InvalidAddress(_, _))
        ));
        assert!("0x1234".parse::<Address>().is_err());
    }
}
