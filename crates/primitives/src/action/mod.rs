//! What a transaction does: one action of one domain.
//!
//! ```text
//! action = rlp([type, …fields])      type ranges: 0x00–0x0f accounts   0x10–0x1f params
//!                                                 0x20–0x2f data       0x30–0x3f storage
//!                                                 0x40–0x4f compute    0x50–0x5f zk
//!                                                 0x60–0x6f knowledge
//! ```
//! Each domain owns a range of type bytes and the codec of its actions (one module here per
//! domain); an unknown type is a decoding error that names it. Later domains (compute, zk,
//! governance, market, models) take the next ranges.

mod accounts;
pub mod compute;
mod data;
pub mod knowledge;
mod params;
mod storage;
mod zk;

use alloy_rlp::{Decodable, Encodable};

pub use accounts::AccountAction;
pub use compute::ComputeAction;
pub use data::{DataAction, WorkKind};
pub use knowledge::KnowledgeAction;
pub use params::ParamsAction;
pub use storage::StorageAction;
pub use zk::{CircuitSpec, ZkAction};

use crate::rlp::{decode_list, encode_list, finish_list};

/// One action of one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Accounts(AccountAction),
    Params(ParamsAction),
    Data(DataAction),
    Storage(StorageAction),
    Compute(ComputeAction),
    Zk(ZkAction),
    Knowledge(KnowledgeAction),
}

impl Action {
    /// The type byte on the wire.
    pub fn type_byte(&self) -> u8 {
        match self {
            Action::Accounts(a) => a.type_byte(),
            Action::Params(a) => a.type_byte(),
            Action::Data(a) => a.type_byte(),
            Action::Storage(a) => a.type_byte(),
            Action::Compute(a) => a.type_byte(),
            Action::Zk(a) => a.type_byte(),
            Action::Knowledge(a) => a.type_byte(),
        }
    }

    /// The action's name as RPC and CLI show it (`transfer`, `storageDeal`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accounts(a) => a.name(),
            Action::Params(a) => a.name(),
            Action::Data(a) => a.name(),
            Action::Storage(a) => a.name(),
            Action::Compute(a) => a.name(),
            Action::Zk(a) => a.name(),
            Action::Knowledge(a) => a.name(),
        }
    }

    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.type_byte().encode(&mut p);
        match self {
            Action::Accounts(a) => a.encode_fields(&mut p),
            Action::Params(a) => a.encode_fields(&mut p),
            Action::Data(a) => a.encode_fields(&mut p),
            Action::Storage(a) => a.encode_fields(&mut p),
            Action::Compute(a) => a.encode_fields(&mut p),
            Action::Zk(a) => a.encode_fields(&mut p),
            Action::Knowledge(a) => a.encode_fields(&mut p),
        }
        p
    }
}

impl Encodable for Action {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        encode_list(&self.payload(), out);
    }
}

impl Decodable for Action {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = decode_list(buf)?;
        let ty = u8::decode(&mut p)?;
        let action = match ty {
            0x00..=0x0f => Action::Accounts(AccountAction::decode_fields(ty, &mut p)?),
            0x10..=0x1f => Action::Params(ParamsAction::decode_fields(ty, &mut p)?),
            0x20..=0x2f => Action::Data(DataAction::decode_fields(ty, &mut p)?),
            0x30..=0x3f => Action::Storage(StorageAction::decode_fields(ty, &mut p)?),
            0x40..=0x4f => Action::Compute(ComputeAction::decode_fields(ty, &mut p)?),
            0x50..=0x5f => Action::Zk(ZkAction::decode_fields(ty, &mut p)?),
            0x60..=0x6f => Action::Knowledge(KnowledgeAction::decode_fields(ty, &mut p)?),
            _ => return Err(UNKNOWN),
        };
        finish_list(p)?;
        Ok(action)
    }
}

/// The error every domain gives for a type byte in its range that it does not know.
pub(crate) const UNKNOWN: alloy_rlp::Error = alloy_rlp::Error::Custom("unknown action type");

impl From<AccountAction> for Action {
    fn from(a: AccountAction) -> Self {
        Action::Accounts(a)
    }
}

impl From<ParamsAction> for Action {
    fn from(a: ParamsAction) -> Self {
        Action::Params(a)
    }
}

impl From<DataAction> for Action {
    fn from(a: DataAction) -> Self {
        Action::Data(a)
    }
}

impl From<ComputeAction> for Action {
    fn from(a: ComputeAction) -> Self {
        Action::Compute(a)
    }
}

impl From<ZkAction> for Action {
    fn from(a: ZkAction) -> Self {
        Action::Zk(a)
    }
}

impl From<KnowledgeAction> for Action {
    fn from(a: KnowledgeAction) -> Self {
        Action::Knowledge(a)
    }
}

impl From<StorageAction> for Action {
    fn from(a: StorageAction) -> Self {
        Action::Storage(a)
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    use proptest::prelude::*;

    use super::*;
    use crate::{Address, Amount};

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    /// Any action of any domain, with arbitrary field values.
    pub fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (any::<[u8; 20]>(), any::<u128>()).prop_map(|(to, a)| AccountAction::Transfer {
                to: Address(to),
                amount: Amount(a)
            }
            .into()),
            prop::collection::vec((".{0,12}", bytes(24)), 0..4)
                .prop_map(|changes| ParamsAction::Change { changes }.into()),
            (
                any::<[u8; 32]>(),
                any::<u64>(),
                bytes(40),
                any::<bool>(),
                ".{0,20}",
                ".{0,20}",
                ".{0,8}",
                bytes(40)
            )
                .prop_map(
                    |(digest, size, cid, encrypted, profile, title, licence, metadata)| {
                        DataAction::Register {
                            digest,
                            size,
                            cid,
                            encrypted,
                            profile,
                            title,
                            licence,
                            metadata,
                        }
                        .into()
                    }
                ),
            (any::<[u8; 32]>(), 0u8..5, bytes(40)).prop_map(|(digest, k, metadata)| {
                DataAction::Attest {
                    digest,
                    kind: WorkKind::from_u8(k).unwrap(),
                    metadata,
                }
                .into()
            }),
            (bytes(40), bytes(70), bytes(130)).prop_map(|(cid, recipient, wrapped)| {
                DataAction::ShareKey {
                    cid,
                    recipient,
                    wrapped,
                }
                .into()
            }),
            (any::<u64>(), any::<u128>(), any::<u128>()).prop_map(|(capacity, p, s)| {
                StorageAction::Offer {
                    capacity,
                    price: Amount(p),
                    stake: Amount(s),
                }
                .into()
            }),
            (
                bytes(40),
                bytes(200),
                any::<u64>(),
                any::<u64>(),
                any::<u128>()
            )
                .prop_map(|(cid, root, replicas, duration, p)| StorageAction::Deal {
                    cid,
                    root,
                    replicas,
                    duration,
                    price: Amount(p),
                }
                .into()),
            any::<[u8; 32]>().prop_map(|deal| StorageAction::Accept { deal }.into()),
            (
                any::<u8>(),
                bytes(60),
                ".{0,12}",
                prop::collection::vec(".{0,6}", 0..3),
                bytes(40)
            )
                .prop_map(|(engine, vk, name, inputs, cid)| {
                    ZkAction::RegisterCircuit {
                        spec: CircuitSpec {
                            engine,
                            vk,
                            name,
                            inputs,
                            source: cid.clone(),
                            r1cs: cid.clone(),
                            zkey: cid.clone(),
                            wasm: cid,
                        },
                    }
                    .into()
                }),
            (
                any::<[u8; 32]>(),
                bytes(130),
                prop::collection::vec(any::<[u8; 32]>(), 0..4)
            )
                .prop_map(|(circuit, proof, inputs)| ZkAction::VerifyProof {
                    circuit,
                    proof,
                    inputs
                }
                .into()),
            (
                any::<[u8; 32]>(),
                any::<u64>(),
                prop::collection::vec(bytes(60), 0..4),
                bytes(100)
            )
                .prop_map(|(deal, epoch, path, leaf)| StorageAction::Prove {
                    deal,
                    epoch,
                    path,
                    leaf
                }
                .into()),
            (any::<[u8; 20]>(), any::<u8>(), any::<bool>()).prop_map(|(a, role, granted)| {
                KnowledgeAction::GrantRole {
                    account: Address(a),
                    role,
                    granted,
                }
                .into()
            }),
            (
                ".{0,12}",
                bytes(40),
                any::<u8>(),
                prop::collection::vec(".{0,6}", 0..3),
                prop::collection::vec((".{0,6}", ".{0,6}"), 0..3),
                any::<u64>()
            )
                .prop_map(|(name, program, executor, args, props, fuel)| {
                    KnowledgeAction::RegisterAlgorithm {
                        spec: knowledge::AlgorithmSpec {
                            name: name.clone(),
                            description: name,
                            program: crate::compute::Bytes(program),
                            executor,
                            args: args.clone(),
                            software: args,
                            output: "properties.json".into(),
                            properties: props
                                .into_iter()
                                .map(|(name, unit)| knowledge::AlgorithmProperty {
                                    name,
                                    unit,
                                    description: String::new(),
                                })
                                .collect(),
                            fuel,
                            walltime: fuel / 2,
                            rtol: fuel / 3,
                            atol: fuel / 5,
                        },
                    }
                    .into()
                }),
            any::<[u8; 32]>()
                .prop_map(|algorithm| KnowledgeAction::RetireAlgorithm { algorithm }.into()),
            (any::<u8>(), ".{0,12}", bytes(40), ".{0,12}").prop_map(
                |(kind, name, content, source)| {
                    KnowledgeAction::RegisterKnowledgeBase {
                        base: knowledge::KnowledgeBaseSpec {
                            kind,
                            description: name.clone(),
                            name,
                            content: crate::compute::Bytes(content),
                            source,
                        },
                    }
                    .into()
                }
            ),
        ]
    }
}
