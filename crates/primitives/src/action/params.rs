//! The parameters domain's actions (types 0x10–0x1f).

use alloy_rlp::Encodable;

use super::UNKNOWN;
use crate::rlp::{decode_bytes, decode_list, decode_text, encode_list, finish_list};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamsAction {
    /// `0x10 [[name, value], …]`: changes chain parameters from the next block on. Names are
    /// the parameters record's (`blockGasLimit`, …); a value is a big-endian integer, or a
    /// 20-byte address (empty for none). Only the chain's parameters authority may send it;
    /// the governance domain will decide by vote instead.
    Change { changes: Vec<(String, Vec<u8>)> },
}

/// Changes one action may carry (there are fewer parameters than this).
pub const MAX_CHANGES: usize = 64;

impl ParamsAction {
    pub const CHANGE: u8 = 0x10;

    pub fn type_byte(&self) -> u8 {
        match self {
            ParamsAction::Change { .. } => Self::CHANGE,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ParamsAction::Change { .. } => "changeParams",
        }
    }

    pub(super) fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ParamsAction::Change { changes } => {
                let mut list = Vec::new();
                for (name, value) in changes {
                    let mut pair = Vec::new();
                    name.as_bytes().encode(&mut pair);
                    value.as_slice().encode(&mut pair);
                    encode_list(&pair, &mut list);
                }
                encode_list(&list, p);
            }
        }
    }

    pub(super) fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        match ty {
            Self::CHANGE => {
                let mut list = decode_list(p)?;
                let mut changes = Vec::new();
                while !list.is_empty() {
                    if changes.len() == MAX_CHANGES {
                        return Err(alloy_rlp::Error::Custom("over 64 parameter changes"));
                    }
                    let mut pair = decode_list(&mut list)?;
                    let name = decode_text(&mut pair)?;
                    let value = decode_bytes(&mut pair)?;
                    finish_list(pair)?;
                    changes.push((name, value));
                }
                Ok(ParamsAction::Change { changes })
            }
            _ => Err(UNKNOWN),
        }
    }
}
