//! MMT amounts: 18 decimals in a `u128` of the smallest unit ("wei" of MMT).

use std::{fmt, str::FromStr};

/// 10^18 units per MMT.
pub const UNITS_PER_MMT: u128 = 1_000_000_000_000_000_000;

/// The fixed supply: 2,300,000,000 MMT, created once at genesis.
pub const TOTAL_SUPPLY: Amount = Amount(2_300_000_000 * UNITS_PER_MMT);

/// An amount of MMT in units of 10^-18.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_mmt(whole: u128) -> Amount {
        Amount(whole * UNITS_PER_MMT)
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `self × numerator / denominator`, for splitting the supply into pools.
    pub fn share(self, numerator: u128, denominator: u128) -> Amount {
        Amount(self.0 / denominator * numerator + self.0 % denominator * numerator / denominator)
    }
}

// As an RLP integer, so records can derive their codecs.
impl alloy_rlp::Encodable for Amount {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.0.encode(out)
    }
    fn length(&self) -> usize {
        self.0.length()
    }
}

impl alloy_rlp::Decodable for Amount {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(Amount(u128::decode(buf)?))
    }
}

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error(
        "`{0}` is not an amount: expected digits with at most 18 decimals, optionally followed by MMT"
    )]
    Malformed(String),
    #[error("`{0}` is larger than any MMT amount")]
    TooLarge(String),
}

impl FromStr for Amount {
    type Err = AmountError;

    /// `12.5MMT`, `12.5 MMT`, `12.5` (MMT), or `1500000000000000000wei`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        let malformed = || AmountError::Malformed(text.to_owned());
        let too_large = || AmountError::TooLarge(text.to_owned());
        if let Some(units) = s.strip_suffix("wei") {
            let units = units.trim();
            if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            return units.parse::<u128>().map(Amount).map_err(|_| too_large());
        }
        let number = s
            .strip_suffix("MMT")
            .or_else(|| s.strip_suffix("mmt"))
            .unwrap_or(s)
            .trim();
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 18 {
            return Err(malformed());
        }
        let whole: u128 = whole.parse().map_err(|_| too_large())?;
        let fraction_units: u128 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<18}")
                .parse()
                .map_err(|_| malformed())?
        };
        whole
            .checked_mul(UNITS_PER_MMT)
            .and_then(|w| w.checked_add(fraction_units))
            .map(Amount)
            .ok_or_else(too_large)
    }
}

impl fmt::Display for Amount {
    /// `12.5 MMT`: trailing zeros of the fraction dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / UNITS_PER_MMT;
        let fraction = self.0 % UNITS_PER_MMT;
        if fraction == 0 {
            write!(f, "{whole} MMT")
        } else {
            let digits = format!("{fraction:018}");
            write!(f, "{whole}.{} MMT", digits.trim_end_matches('0'))
        }
    }
}

/// Amounts travel in JSON (genesis files, RPC) as strings: `"12.5 MMT"` or `"7wei"`.
impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_people_type() {
        assert_eq!(
            "12.5MMT".parse::<Amount>().unwrap(),
            Amount(12_500_000_000_000_000_000)
        );
        assert_eq!(
            "12.5 MMT".parse::<Amount>().unwrap().to_string(),
            "12.5 MMT"
        );
        assert_eq!("3".parse::<Amount>().unwrap(), Amount::from_mmt(3));
        assert_eq!("0.000000000000000001".parse::<Amount>().unwrap(), Amount(1));
        assert_eq!("7wei".parse::<Amount>().unwrap(), Amount(7));
        for bad in [
            "",
            "MMT",
            "1.2.3",
            "-1",
            "1.0000000000000000001",
            "1e5",
            "12,5",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
        assert!(matches!(
            "999999999999999999999999MMT".parse::<Amount>(),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn the_supply_splits_exactly() {
        let parts = [30, 25, 20, 15, 10].map(|p| TOTAL_SUPPLY.share(p, 100));
        assert_eq!(parts.iter().map(|a| a.0).sum::<u128>(), TOTAL_SUPPLY.0);
        assert_eq!(parts[0], Amount::from_mmt(690_000_000));
    }

    proptest! {
        #[test]
        fn display_parses_back(units in any::<u128>()) {
            let a = Amount(units);
            prop_assert_eq!(a.to_string().parse::<Amount>().unwrap(), a);
        }
    }
}
