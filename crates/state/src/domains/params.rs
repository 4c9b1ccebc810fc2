//! The parameters domain: a change to the parameters record, sent by the chain's parameters
//! authority, waits in `PendingParams` and takes effect at the start of the next block. The
//! governance domain will schedule the same change after a vote.

use alloy_rlp::{Decodable, Encodable};
use metamesh_primitives::{
    ParamsAction,
    rlp::{decode_bytes, decode_list, finish_list as done, list},
};
use metamesh_trie::NodeStore;

use super::{TxContext, open};
use crate::{
    Code, Event, Exec, Outcome, Params, Record, StateKey,
    events::{DomainEvent, UNKNOWN},
    exec::reject,
};
use metamesh_crypto::Address;

impl Record for Params {
    const WHAT: &'static str = "parameters";
    type Id = ();

    fn key(_: &()) -> StateKey {
        StateKey::Params
    }

    fn encode(&self) -> Vec<u8> {
        Params::encode(self)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        Params::decode(raw)
    }
}

/// A change waiting for its block: `[block, parameters record]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub block: u64,
    pub params: Params,
}

impl Record for Pending {
    const WHAT: &'static str = "pending parameters";
    type Id = ();

    fn key(_: &()) -> StateKey {
        StateKey::PendingParams
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.block.encode(&mut p);
        self.params.encode().as_slice().encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let block = u64::decode(&mut p)?;
        let params = Params::decode(&decode_bytes(&mut p)?)?;
        done(p)?;
        Ok(Pending { block, params })
    }
}

/// The parameters domain's events (types 0x10–0x1f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamsEvent {
    /// `0x10 [block, [name, …]]`: a change will take effect at `block`.
    Scheduled { block: u64, names: Vec<String> },
    /// `0x11 [[name, …]]`: the parameters changed at the start of this block.
    Changed { names: Vec<String> },
}

impl DomainEvent for ParamsEvent {
    const KINDS: &'static [(u8, &'static str)] =
        &[(0x10, "paramsScheduled"), (0x11, "paramsChanged")];

    fn type_byte(&self) -> u8 {
        match self {
            ParamsEvent::Scheduled { .. } => 0x10,
            ParamsEvent::Changed { .. } => 0x11,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            ParamsEvent::Scheduled { .. } | ParamsEvent::Changed { .. } => vec![],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            ParamsEvent::Scheduled { block, names } => {
                block.encode(p);
                encode_names(names, p);
            }
            ParamsEvent::Changed { names } => encode_names(names, p),
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            0x10 => ParamsEvent::Scheduled {
                block: u64::decode(p)?,
                names: decode_names(p)?,
            },
            0x11 => ParamsEvent::Changed {
                names: decode_names(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}

/// The names whose values differ.
pub fn changed_names(a: &Params, b: &Params) -> Vec<String> {
    Params::NAMES
        .iter()
        .filter(|n| a.get(n) != b.get(n))
        .map(|n| n.to_string())
        .collect()
}

fn encode_names(names: &[String], out: &mut Vec<u8>) {
    let mut p = Vec::new();
    for n in names {
        n.as_bytes().encode(&mut p);
    }
    metamesh_primitives::rlp::encode_list(&p, out);
}

fn decode_names(buf: &mut &[u8]) -> alloy_rlp::Result<Vec<String>> {
    let mut p = decode_list(buf)?;
    let mut names = Vec::new();
    while !p.is_empty() {
        names.push(metamesh_primitives::rlp::decode_text(&mut p)?);
    }
    Ok(names)
}

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &ParamsAction,
) -> Outcome {
    match action {
        ParamsAction::Change { changes } => {
            let authority = ex.params().params_authority;
            if authority == metamesh_crypto::Address::ZERO || tx.sender != authority {
                return reject(Code::NotParamsAuthority, &[]);
            }
            // A second change in the same block builds on the first.
            let base = match ex.load::<Pending>(&())? {
                Some(p) => p.params,
                None => ex.params().clone(),
            };
            let mut next = base.clone();
            for (i, (name, value)) in changes.iter().enumerate() {
                match next.set(name, value) {
                    Ok(()) => {}
                    Err(false) => return reject(Code::UnknownParam, &[i as u128]),
                    Err(true) => return reject(Code::BadParamValue, &[i as u128]),
                }
            }
            if let Err(rule) = next.check() {
                return reject(Code::ParamsInvalid, &[rule]);
            }
            let block = ex.env().number + 1;
            let names = changed_names(ex.params(), &next);
            ex.save(
                &(),
                &Pending {
                    block,
                    params: next,
                },
            )?;
            ex.emit(Event::Params(ParamsEvent::Scheduled { block, names }))
        }
    }
}

/// The start of every block: a pending change whose block has come becomes the parameters.
/// Returns the parameters the block runs with.
pub(crate) fn begin_block<S: NodeStore + Clone>(ex: &mut Exec<'_, S>) -> Outcome<Option<Params>> {
    let Some(pending) = ex.load::<Pending>(&())? else {
        return Ok(None);
    };
    if pending.block > ex.env().number {
        return Ok(None);
    }
    let names = changed_names(ex.params(), &pending.params);
    ex.save(&(), &pending.params)?;
    ex.delete::<Pending>(&())?;
    ex.emit(Event::Params(ParamsEvent::Changed { names }))?;
    Ok(Some(pending.params))
}
