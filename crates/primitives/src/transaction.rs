//! Transactions: a signed envelope around an extensible action, and receipts with typed events.
//!
//! ```text
//! unsigned  = rlp([chain_id, nonce, fee, action])        signing hash = H(unsigned)
//! signed    = rlp([chain_id, nonce, fee, action, signature])   tx hash = H(signed)
//! action    = rlp([type, …fields])   0 Transfer [to, amount]
//!                                    1 RegisterData [digest, size, cid, encrypted, profile,
//!                                                    title, licence, metadata]
//!                                    2 Attest [digest, kind, metadata]
//!                                    3 ShareKey [cid, recipient, wrapped]
//!                                    4 StorageOffer [capacity, price]
//!                                    5 StorageDeal [cid, size, replicas, duration, price]
//!                                    6 AcceptDeal [deal]
//!                                    7 ProveStorage [deal, epoch, [node, …], leaf]
//! ```
//! New domains add action types; an unknown type is a decoding error that names it.

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{SecretKey, Signature};

use crate::{
    Address, Amount, Hash, Suite,
    rlp::{
        CodecError, decode_bytes as bytes, decode_list as open_list, decode_text as text,
        encode_list as list, finish_list as finish,
    },
};

/// What kind of work an attestation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkKind {
    Paper = 0,
    Patent = 1,
    Result = 2,
    Dataset = 3,
    Program = 4,
}

impl WorkKind {
    pub const ALL: [WorkKind; 5] = [
        WorkKind::Paper,
        WorkKind::Patent,
        WorkKind::Result,
        WorkKind::Dataset,
        WorkKind::Program,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            WorkKind::Paper => "paper",
            WorkKind::Patent => "patent",
            WorkKind::Result => "result",
            WorkKind::Dataset => "dataset",
            WorkKind::Program => "program",
        }
    }

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }
}

impl std::str::FromStr for WorkKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown kind `{s}` (paper, patent, result, dataset or program)")
            })
    }
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Transfer {
        to: Address,
        amount: Amount,
    },
    /// Registers a dataset by the digest of its plaintext (first registration wins).
    RegisterData {
        /// Suite hash of the plaintext: proves later what the (possibly encrypted) CID held.
        digest: Hash,
        /// Plaintext bytes.
        size: u64,
        /// IPFS CID of what is stored (the ciphertext when encrypted); empty if not stored.
        cid: String,
        encrypted: bool,
        /// The import profile that gives `cid` from the stored bytes (`unixfs-v0-2015`, …).
        profile: String,
        title: String,
        licence: String,
        metadata: Vec<u8>,
    },
    /// Attests a work (paper, patent, result, dataset, program) by its digest.
    Attest {
        digest: Hash,
        kind: WorkKind,
        metadata: Vec<u8>,
    },
    /// Records a data key wrapped for `recipient` (SEC1 public key) of encrypted data.
    ShareKey {
        cid: String,
        recipient: Vec<u8>,
        wrapped: Vec<u8>,
    },
    /// Registers or updates a storage node: bytes it offers and its price per GiB per epoch.
    StorageOffer {
        capacity: u64,
        price: Amount,
    },
    /// Asks for `replicas` copies of the file `cid` (`size` stored bytes) for `duration`
    /// blocks at `price` per replica per epoch, paid into escrow now.
    StorageDeal {
        cid: String,
        size: u64,
        replicas: u64,
        duration: u64,
        price: Amount,
    },
    /// A registered storage node takes one replica of a deal.
    AcceptDeal {
        deal: Hash,
    },
    /// Answers an epoch's challenge: the challenged leaf and its DAG path from the root.
    ProveStorage {
        deal: Hash,
        epoch: u64,
        path: Vec<Vec<u8>>,
        leaf: Vec<u8>,
    },
}

impl Action {
    pub const TRANSFER: u8 = 0;
    pub const REGISTER_DATA: u8 = 1;
    pub const ATTEST: u8 = 2;
    pub const SHARE_KEY: u8 = 3;
    pub const STORAGE_OFFER: u8 = 4;
    pub const STORAGE_DEAL: u8 = 5;
    pub const ACCEPT_DEAL: u8 = 6;
    pub const PROVE_STORAGE: u8 = 7;

    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::new();
        match self {
            Action::Transfer { to, amount } => {
                Self::TRANSFER.encode(&mut p);
                to.0.encode(&mut p);
                amount.0.encode(&mut p);
            }
            Action::RegisterData {
                digest,
                size,
                cid,
                encrypted,
                profile,
                title,
                licence,
                metadata,
            } => {
                Self::REGISTER_DATA.encode(&mut p);
                digest.encode(&mut p);
                size.encode(&mut p);
                cid.as_bytes().encode(&mut p);
                encrypted.encode(&mut p);
                profile.as_bytes().encode(&mut p);
                title.as_bytes().encode(&mut p);
                licence.as_bytes().encode(&mut p);
                metadata.as_slice().encode(&mut p);
            }
            Action::Attest {
                digest,
                kind,
                metadata,
            } => {
                Self::ATTEST.encode(&mut p);
                digest.encode(&mut p);
                (*kind as u8).encode(&mut p);
                metadata.as_slice().encode(&mut p);
            }
            Action::ShareKey {
                cid,
                recipient,
                wrapped,
            } => {
                Self::SHARE_KEY.encode(&mut p);
                cid.as_bytes().encode(&mut p);
                recipient.as_slice().encode(&mut p);
                wrapped.as_slice().encode(&mut p);
            }
            Action::StorageOffer { capacity, price } => {
                Self::STORAGE_OFFER.encode(&mut p);
                capacity.encode(&mut p);
                price.0.encode(&mut p);
            }
            Action::StorageDeal {
                cid,
                size,
                replicas,
                duration,
                price,
            } => {
                Self::STORAGE_DEAL.encode(&mut p);
                cid.as_bytes().encode(&mut p);
                size.encode(&mut p);
                replicas.encode(&mut p);
                duration.encode(&mut p);
                price.0.encode(&mut p);
            }
            Action::AcceptDeal { deal } => {
                Self::ACCEPT_DEAL.encode(&mut p);
                deal.encode(&mut p);
            }
            Action::ProveStorage {
                deal,
                epoch,
                path,
                leaf,
            } => {
                Self::PROVE_STORAGE.encode(&mut p);
                deal.encode(&mut p);
                epoch.encode(&mut p);
                let mut nodes = Vec::new();
                for node in path {
                    node.as_slice().encode(&mut nodes);
                }
                list(&nodes, &mut p);
                leaf.as_slice().encode(&mut p);
            }
        }
        p
    }
}

impl Encodable for Action {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        list(&self.payload(), out);
    }
}

impl Decodable for Action {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open_list(buf)?;
        let action = match u8::decode(&mut p)? {
            Self::TRANSFER => Action::Transfer {
                to: Address(Decodable::decode(&mut p)?),
                amount: Amount(u128::decode(&mut p)?),
            },
            Self::REGISTER_DATA => Action::RegisterData {
                digest: Decodable::decode(&mut p)?,
                size: u64::decode(&mut p)?,
                cid: text(&mut p)?,
                encrypted: bool::decode(&mut p)?,
                profile: text(&mut p)?,
                title: text(&mut p)?,
                licence: text(&mut p)?,
                metadata: bytes(&mut p)?,
            },
            Self::ATTEST => Action::Attest {
                digest: Decodable::decode(&mut p)?,
                kind: WorkKind::from_u8(u8::decode(&mut p)?)
                    .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
                metadata: bytes(&mut p)?,
            },
            Self::SHARE_KEY => Action::ShareKey {
                cid: text(&mut p)?,
                recipient: bytes(&mut p)?,
                wrapped: bytes(&mut p)?,
            },
            Self::STORAGE_OFFER => Action::StorageOffer {
                capacity: u64::decode(&mut p)?,
                price: Amount(u128::decode(&mut p)?),
            },
            Self::STORAGE_DEAL => Action::StorageDeal {
                cid: text(&mut p)?,
                size: u64::decode(&mut p)?,
                replicas: u64::decode(&mut p)?,
                duration: u64::decode(&mut p)?,
                price: Amount(u128::decode(&mut p)?),
            },
            Self::ACCEPT_DEAL => Action::AcceptDeal {
                deal: Decodable::decode(&mut p)?,
            },
            Self::PROVE_STORAGE => {
                let deal = Decodable::decode(&mut p)?;
                let epoch = u64::decode(&mut p)?;
                let mut nodes = open_list(&mut p)?;
                let mut path = Vec::new();
                while !nodes.is_empty() {
                    path.push(bytes(&mut nodes)?);
                }
                Action::ProveStorage {
                    deal,
                    epoch,
                    path,
                    leaf: bytes(&mut p)?,
                }
            }
            _ => return Err(alloy_rlp::Error::Custom("unknown action type")),
        };
        finish(p)?;
        Ok(action)
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub chain_id: u64,
    pub nonce: u64,
    /// Paid to the block's sealer.
    pub fee: Amount,
    pub action: Action,
}

impl Transaction {
    fn fields(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.chain_id.encode(&mut p);
        self.nonce.encode(&mut p);
        self.fee.0.encode(&mut p);
        self.action.encode(&mut p);
        p
    }

    /// The hash the sender signs: `H(rlp([chain_id, nonce, fee, action]))`.
    pub fn signing_hash(&self, suite: Suite) -> Hash {
        let mut out = Vec::new();
        list(&self.fields(), &mut out);
        suite.hash(&out)
    }

    pub fn sign(self, key: &SecretKey) -> Result<SignedTransaction, metamesh_crypto::CryptoError> {
        let signature = key.sign_hash(&self.signing_hash(key.suite()))?;
        Ok(SignedTransaction {
            tx: self,
            signature,
        })
    }
}

/// A transaction with its signature in the chain's suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signature: Signature,
}

impl SignedTransaction {
    pub fn to_rlp(&self) -> Vec<u8> {
        let mut p = self.tx.fields();
        self.signature.as_bytes().encode(&mut p);
        let mut out = Vec::new();
        list(&p, &mut out);
        out
    }

    /// Decodes one transaction spanning all of `raw`, with a signature of `suite`.
    pub fn decode(raw: &[u8], suite: Suite) -> Result<Self, CodecError> {
        let mut buf = raw;
        let mut p = open_list(&mut buf)?;
        let tx = Transaction {
            chain_id: u64::decode(&mut p)?,
            nonce: u64::decode(&mut p)?,
            fee: Amount(u128::decode(&mut p)?),
            action: Action::decode(&mut p)?,
        };
        let signature = Signature::from_bytes(suite, &bytes(&mut p)?)
            .map_err(|_| CodecError::Rlp(alloy_rlp::Error::Custom("malformed signature")))?;
        finish(p)?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()));
        }
        Ok(SignedTransaction { tx, signature })
    }

    /// `H(rlp(signed transaction))`.
    pub fn hash(&self, suite: Suite) -> Hash {
        suite.hash(&self.to_rlp())
    }

    /// Who signed: checks the signature over the signing hash.
    pub fn sender(&self) -> Result<Address, metamesh_crypto::CryptoError> {
        let suite = self.signature.suite();
        self.signature
            .recover_hash_signer(&self.tx.signing_hash(suite))
            .map(|k| k.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (any::<[u8; 20]>(), any::<u128>()).prop_map(|(to, a)| Action::Transfer {
                to: Address(to),
                amount: Amount(a)
            }),
            (
                any::<[u8; 32]>(),
                any::<u64>(),
                ".{0,20}",
                ".{0,20}",
                ".{0,8}",
                prop::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(digest, size, cid, title, licence, metadata)| {
                    Action::RegisterData {
                        digest,
                        size,
                        encrypted: size % 2 == 0,
                        profile: licence.clone(),
                        cid,
                        title,
                        licence,
                        metadata,
                    }
                }),
            (
                any::<[u8; 32]>(),
                0u8..5,
                prop::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(digest, k, metadata)| {
                    Action::Attest {
                        digest,
                        kind: WorkKind::from_u8(k).unwrap(),
                        metadata,
                    }
                }),
            (
                ".{0,20}",
                prop::collection::vec(any::<u8>(), 0..70),
                prop::collection::vec(any::<u8>(), 0..130)
            )
                .prop_map(|(cid, recipient, wrapped)| Action::ShareKey {
                    cid,
                    recipient,
                    wrapped
                }),
            (any::<u64>(), any::<u128>()).prop_map(|(capacity, p)| Action::StorageOffer {
                capacity,
                price: Amount(p)
            }),
            (
                ".{0,20}",
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u128>()
            )
                .prop_map(|(cid, size, replicas, duration, p)| Action::StorageDeal {
                    cid,
                    size,
                    replicas,
                    duration,
                    price: Amount(p)
                }),
            any::<[u8; 32]>().prop_map(|deal| Action::AcceptDeal { deal }),
            (
                any::<[u8; 32]>(),
                any::<u64>(),
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..60), 0..4),
                prop::collection::vec(any::<u8>(), 0..100)
            )
                .prop_map(|(deal, epoch, path, leaf)| Action::ProveStorage {
                    deal,
                    epoch,
                    path,
                    leaf
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn signed_transactions_round_trip(eth in any::<bool>(), chain_id in any::<u64>(), nonce in any::<u64>(), fee in any::<u128>(), action in action()) {
            let suite = if eth { Suite::Eth } else { Suite::Sm };
            let key = SecretKey::from_bytes(suite, &[5; 32]).unwrap();
            let signed = Transaction { chain_id, nonce, fee: Amount(fee), action }.sign(&key).unwrap();
            let raw = signed.to_rlp();
            let back = SignedTransaction::decode(&raw, suite).unwrap();
            prop_assert_eq!(&back, &signed);
            prop_assert_eq!(back.sender().unwrap(), key.public_key().address());
        }

        #[test]
        fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = SignedTransaction::decode(&raw, Suite::Sm);
        }
    }

    #[test]
    fn unknown_action_types_are_named() {
        let mut p = Vec::new();
        9u8.encode(&mut p);
        let mut raw = Vec::new();
        list(&p, &mut raw);
        assert_eq!(
            Action::decode(&mut raw.as_slice()),
            Err(alloy_rlp::Error::Custom("unknown action type"))
        );
    }
}
