//! The accounts domain's actions (types 0x00–0x0f).

use alloy_rlp::{Decodable, Encodable};

use super::UNKNOWN;
use crate::{Address, Amount};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountAction {
    /// `0x00 [to, amount]`: moves MMT to another account.
    Transfer { to: Address, amount: Amount },
}

impl AccountAction {
    pub const TRANSFER: u8 = 0x00;

    pub fn type_byte(&self) -> u8 {
        match self {
            AccountAction::Transfer { .. } => Self::TRANSFER,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            AccountAction::Transfer { .. } => "transfer",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            AccountAction::Transfer { to, amount } => {
                to.0.encode(p);
                amount.0.encode(p);
            }
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        match ty {
            Self::TRANSFER => Ok(AccountAction::Transfer {
                to: Address(Decodable::decode(p)?),
                amount: Amount(u128::decode(p)?),
            }),
            _ => Err(UNKNOWN),
        }
    }
}
