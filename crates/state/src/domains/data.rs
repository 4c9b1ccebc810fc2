//! Research data and priority: dataset registrations (by plaintext digest, with the binary CID
//! of what is stored), attestations of papers, patents, results, datasets and programs, and the
//! wrapped data keys of encrypted data — which only the registered owner, or someone it has
//! already shared the key with, may post.
//!
//! ```text
//! DataRecord   [owner, block, time, size, cid, encrypted, profile, title, licence, metadata]
//! Attestation  [owner, block, time, kind, metadata]
//! KeyGrants    [[granter, block, recipient, wrapped], …]   ≤ 16, one per granter
//! CidIndex     [digest]
//! ```

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::{Address, PublicKey, Suite};
use metamesh_primitives::{
    DataAction, Hash, WorkKind,
    rlp::{decode_bytes as bytes, decode_list, decode_text as text, finish_list as done, list},
};
use metamesh_trie::NodeStore;

use super::{TxContext, open};
use crate::{
    Code, Event, Exec, Outcome, Record, StateKey,
    events::{DomainEvent, UNKNOWN, address},
    exec::reject,
};

const MAX_WRAPPED: usize = 512;

/// A registered dataset: who registered its digest first, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRecord {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub size: u64,
    /// Binary CID (empty when the data is registered but not stored).
    pub cid: Vec<u8>,
    pub encrypted: bool,
    pub profile: String,
    pub title: String,
    pub licence: String,
    pub metadata: Vec<u8>,
}

impl Record for DataRecord {
    const WHAT: &'static str = "data record";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Data(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.size.encode(&mut p);
        self.cid.as_slice().encode(&mut p);
        self.encrypted.encode(&mut p);
        self.profile.as_bytes().encode(&mut p);
        self.title.as_bytes().encode(&mut p);
        self.licence.as_bytes().encode(&mut p);
        self.metadata.as_slice().encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = DataRecord {
            owner: Address(Decodable::decode(&mut p)?),
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            size: u64::decode(&mut p)?,
            cid: bytes(&mut p)?,
            encrypted: bool::decode(&mut p)?,
            profile: text(&mut p)?,
            title: text(&mut p)?,
            licence: text(&mut p)?,
            metadata: bytes(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// An attested work: the proof of priority for a paper, patent, result, dataset or program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub kind: WorkKind,
    pub metadata: Vec<u8>,
}

impl Record for Attestation {
    const WHAT: &'static str = "attestation";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Attestation(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        (self.kind as u8).encode(&mut p);
        self.metadata.as_slice().encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Attestation {
            owner: Address(Decodable::decode(&mut p)?),
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            kind: WorkKind::from_u8(u8::decode(&mut p)?)
                .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
            metadata: bytes(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// A data key wrapped for one recipient by one granter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub granter: Address,
    pub block: u64,
    /// The recipient's SEC1 public key (what the key is wrapped to).
    pub recipient: Vec<u8>,
    pub wrapped: Vec<u8>,
}

/// The grants for one (CID, recipient): at most [`KeyGrants::MAX`], one per granter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyGrants(pub Vec<KeyGrant>);

impl KeyGrants {
    pub const MAX: usize = 16;
}

/// Where the grants of `cid` (binary) for `recipient` live.
pub fn grants_id(suite: Suite, cid: &[u8], recipient: &Address) -> Hash {
    let mut b = cid.to_vec();
    b.extend(recipient.0);
    suite.hash(&b)
}

impl Record for KeyGrants {
    const WHAT: &'static str = "key grants";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::KeyGrants(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        for g in &self.0 {
            let mut e = Vec::new();
            g.granter.0.encode(&mut e);
            g.block.encode(&mut e);
            g.recipient.as_slice().encode(&mut e);
            g.wrapped.as_slice().encode(&mut e);
            metamesh_primitives::rlp::encode_list(&e, &mut p);
        }
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let mut out = Vec::new();
        while !p.is_empty() {
            let mut e = decode_list(&mut p)?;
            out.push(KeyGrant {
                granter: Address(Decodable::decode(&mut e)?),
                block: u64::decode(&mut e)?,
                recipient: bytes(&mut e)?,
                wrapped: bytes(&mut e)?,
            });
            done(e)?;
        }
        Ok(KeyGrants(out))
    }
}

/// Which registration a CID belongs to: the digest registered with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CidIndex(pub Hash);

impl Record for CidIndex {
    const WHAT: &'static str = "CID index";
    /// `H(binary CID)`.
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::DataByCid(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.0.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let digest = Decodable::decode(&mut p)?;
        done(p)?;
        Ok(CidIndex(digest))
    }
}

/// The data domain's events (types 0x20–0x2f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataEvent {
    /// `0x20 [digest, owner]`
    Registered { digest: Hash, owner: Address },
    /// `0x21 [digest, owner, kind]`
    Attested {
        digest: Hash,
        owner: Address,
        kind: WorkKind,
    },
    /// `0x22 [granter, recipient]`
    KeyShared {
        granter: Address,
        recipient: Address,
    },
}

impl DomainEvent for DataEvent {
    const KINDS: &'static [(u8, &'static str)] = &[
        (0x20, "dataRegistered"),
        (0x21, "attested"),
        (0x22, "keyShared"),
    ];

    fn type_byte(&self) -> u8 {
        match self {
            DataEvent::Registered { .. } => 0x20,
            DataEvent::Attested { .. } => 0x21,
            DataEvent::KeyShared { .. } => 0x22,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            DataEvent::Registered { owner, .. } | DataEvent::Attested { owner, .. } => vec![*owner],
            DataEvent::KeyShared { granter, recipient } => vec![*granter, *recipient],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            DataEvent::Registered { digest, owner } => {
                digest.encode(p);
                owner.0.encode(p);
            }
            DataEvent::Attested {
                digest,
                owner,
                kind,
            } => {
                digest.encode(p);
                owner.0.encode(p);
                (*kind as u8).encode(p);
            }
            DataEvent::KeyShared { granter, recipient } => {
                granter.0.encode(p);
                recipient.0.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            0x20 => DataEvent::Registered {
                digest: Decodable::decode(p)?,
                owner: address(p)?,
            },
            0x21 => DataEvent::Attested {
                digest: Decodable::decode(p)?,
                owner: address(p)?,
                kind: WorkKind::from_u8(u8::decode(p)?)
                    .ok_or(alloy_rlp::Error::Custom("unknown attestation kind"))?,
            },
            0x22 => DataEvent::KeyShared {
                granter: address(p)?,
                recipient: address(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}

/// The registration that names `cid`, if any.
pub fn registration_of<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    cid: &[u8],
) -> Outcome<Option<(Hash, DataRecord)>> {
    let Some(CidIndex(digest)) = ex.load::<CidIndex>(&ex.suite().hash(cid))? else {
        return Ok(None);
    };
    Ok(ex.load::<DataRecord>(&digest)?.map(|r| (digest, r)))
}

fn check_cid<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, cid: &[u8]) -> Outcome {
    ex.charge_hash(cid.len())?;
    match metamesh_storage::cid_from_bytes(cid) {
        Ok(_) => Ok(()),
        Err(_) => reject(Code::BadCid, &[]),
    }
}

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &DataAction,
) -> Outcome {
    match action {
        DataAction::Register {
            digest,
            size,
            cid,
            encrypted,
            profile,
            title,
            licence,
            metadata,
        } => {
            if cid.is_empty() && !profile.is_empty() {
                return reject(Code::ProfileWithoutCid, &[]);
            }
            if !cid.is_empty() {
                check_cid(ex, cid)?;
                if profile.parse::<metamesh_storage::Profile>().is_err() {
                    return reject(Code::BadProfile, &[]);
                }
                if let Some((_, existing)) = registration_of(ex, cid)? {
                    return reject(Code::CidRegistered, &[u128::from(existing.block)]);
                }
            }
            if let Some(existing) = ex.load::<DataRecord>(digest)? {
                return reject(Code::DigestRegistered, &[u128::from(existing.block)]);
            }
            let record = DataRecord {
                owner: tx.sender,
                block: ex.env().number,
                time: ex.env().timestamp,
                size: *size,
                cid: cid.clone(),
                encrypted: *encrypted,
                profile: profile.clone(),
                title: title.clone(),
                licence: licence.clone(),
                metadata: metadata.clone(),
            };
            ex.save(digest, &record)?;
            if !cid.is_empty() {
                let id = ex.suite().hash(cid);
                ex.save(&id, &CidIndex(*digest))?;
            }
            ex.emit(Event::Data(DataEvent::Registered {
                digest: *digest,
                owner: tx.sender,
            }))
        }
        DataAction::Attest {
            digest,
            kind,
            metadata,
        } => {
            if let Some(existing) = ex.load::<Attestation>(digest)? {
                return reject(Code::DigestAttested, &[u128::from(existing.block)]);
            }
            let record = Attestation {
                owner: tx.sender,
                block: ex.env().number,
                time: ex.env().timestamp,
                kind: *kind,
                metadata: metadata.clone(),
            };
            ex.save(digest, &record)?;
            ex.emit(Event::Data(DataEvent::Attested {
                digest: *digest,
                owner: tx.sender,
                kind: *kind,
            }))
        }
        DataAction::ShareKey {
            cid,
            recipient,
            wrapped,
        } => share_key(ex, tx, cid, recipient, wrapped),
    }
}

fn share_key<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    cid: &[u8],
    recipient: &[u8],
    wrapped: &[u8],
) -> Outcome {
    check_cid(ex, cid)?;
    let suite = ex.suite();
    let Ok(to) = PublicKey::from_sec1(suite, recipient).map(|k| k.address()) else {
        return reject(Code::BadRecipient, &[]);
    };
    if wrapped.is_empty() || wrapped.len() > MAX_WRAPPED {
        return reject(
            Code::WrappedKeySize,
            &[wrapped.len() as u128, MAX_WRAPPED as u128],
        );
    }
    let Some((_, record)) = registration_of(ex, cid)? else {
        return reject(Code::CidNotRegistered, &[]);
    };
    if !record.encrypted {
        return reject(Code::NotEncrypted, &[]);
    }
    if record.owner != tx.sender {
        let mine = grants_id(suite, cid, &tx.sender);
        let granted = ex
            .load::<KeyGrants>(&mine)?
            .is_some_and(|g| !g.0.is_empty());
        if !granted {
            return reject(Code::NotOwnerOrGrantee, &[]);
        }
    }
    let id = grants_id(suite, cid, &to);
    let mut grants = ex.load::<KeyGrants>(&id)?.unwrap_or_default();
    grants.0.retain(|g| g.granter != tx.sender);
    if grants.0.len() >= KeyGrants::MAX {
        return reject(Code::GrantsFull, &[KeyGrants::MAX as u128]);
    }
    grants.0.push(KeyGrant {
        granter: tx.sender,
        block: ex.env().number,
        recipient: recipient.to_vec(),
        wrapped: wrapped.to_vec(),
    });
    ex.save(&id, &grants)?;
    ex.emit(Event::Data(DataEvent::KeyShared {
        granter: tx.sender,
        recipient: to,
    }))
}
