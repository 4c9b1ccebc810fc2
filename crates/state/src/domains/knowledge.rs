//! Knowledge: roles the parameters authority grants (curators, BMCI contributors) and BMCI's
//! algorithms.
//!
//! ```text
//! Roles      [roles bitmask, block]                  under 0x60 ‖ address
//! Algorithm  [owner, block, time, spec, retired]     under 0x61 ‖ H(owner ‖ rlp(spec))
//! KnowledgeBase [owner, block, time, spec, digest, size]  under 0x62 ‖ H(kind ‖ content CID)
//! ```
//!
//! A knowledge base is registered public data (an N-Quads file) declared curated — by a
//! holder of the curator role — or extracted, with the source it was extracted from; nodes'
//! knowledge graphs load it into a named graph of its own.
//!
//! An algorithm is only a description of a run (program, arguments, output file, the
//! properties it computes): running it is an ordinary compute job whose tasks name the
//! algorithm's program and a material's inputs, verified by the quorum like any other. What
//! makes a verified run a computed property is read by the knowledge indexer from the job and
//! the algorithm together; the chain itself pays and verifies nothing here.

use alloy_rlp::{Decodable, Encodable};
use metamesh_crypto::Address;
use metamesh_primitives::{
    Hash, KnowledgeAction,
    compute::EXECUTORS,
    knowledge::{
        AlgorithmProperty, AlgorithmSpec, KB_EXTRACTED, KB_KINDS, KnowledgeBaseSpec, ROLE_BMCI,
        ROLE_CURATOR, ROLES,
    },
    rlp::{finish_list as done, list},
};
use metamesh_trie::NodeStore;

use super::{TxContext, compute::software_list_ok, open};
use crate::{
    Code, CollectionId, Event, Exec, Outcome, Record, StateKey,
    events::{DomainEvent, UNKNOWN, address},
    exec::reject,
};

pub const MAX_NAME: usize = 64;
pub const MAX_DESCRIPTION: usize = 1024;
pub const MAX_ARGS: usize = 64;
pub const MAX_ARG: usize = 256;
pub const MAX_PROPERTIES: usize = 32;
/// Longest property name: OPTIMADE serves it as `_bmci_computed_NAME`.
pub const MAX_PROPERTY: usize = 32;
pub const MAX_PROPERTY_DESCRIPTION: usize = 256;
pub const MAX_UNIT: usize = 64;
pub const MAX_SOFTWARE: usize = 32;
/// Property names OPTIMADE's own computed fields take (`_bmci_computed_results`, …).
pub const RESERVED_PROPERTIES: [&str; 2] = ["results", "algorithms"];

/// The roles an account holds: bit `r` for role `r`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    pub roles: u64,
    /// The block of the last change.
    pub block: u64,
}

impl Roles {
    pub fn has(&self, role: u8) -> bool {
        role < 64 && self.roles & (1 << role) != 0
    }
}

impl Record for Roles {
    const WHAT: &'static str = "roles";
    type Id = Address;

    fn key(a: &Address) -> StateKey {
        StateKey::Roles(*a)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.roles.encode(&mut p);
        self.block.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let r = Roles {
            roles: u64::decode(&mut p)?,
            block: u64::decode(&mut p)?,
        };
        done(p)?;
        Ok(r)
    }
}

/// A registered BMCI algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Algorithm {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub spec: AlgorithmSpec,
    /// The block it was retired in (0: it is not).
    pub retired: u64,
}

impl Algorithm {
    /// Whether a job submitted in block `submitted` may be a run of it: submitted after the
    /// registration and before any retirement, so every node, indexing live or rebuilding
    /// later, decides the same.
    pub fn runs_jobs_of(&self, submitted: u64) -> bool {
        submitted > self.block && (self.retired == 0 || submitted < self.retired)
    }
}

impl Record for Algorithm {
    const WHAT: &'static str = "algorithm";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::Algorithm(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.spec.encode(&mut p);
        self.retired.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = Algorithm {
            owner: address(&mut p)?,
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            spec: AlgorithmSpec::decode(&mut p)?,
            retired: u64::decode(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// A registered knowledge base, with the digest and size of its content's registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnowledgeBase {
    pub owner: Address,
    pub block: u64,
    pub time: u64,
    pub spec: KnowledgeBaseSpec,
    pub digest: Hash,
    pub size: u64,
}

impl Record for KnowledgeBase {
    const WHAT: &'static str = "knowledge base";
    type Id = Hash;

    fn key(id: &Hash) -> StateKey {
        StateKey::KnowledgeBase(*id)
    }

    fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        self.owner.0.encode(&mut p);
        self.block.encode(&mut p);
        self.time.encode(&mut p);
        self.spec.encode(&mut p);
        self.digest.encode(&mut p);
        self.size.encode(&mut p);
        list(&p)
    }

    fn decode(raw: &[u8]) -> alloy_rlp::Result<Self> {
        let mut p = open(raw)?;
        let record = KnowledgeBase {
            owner: address(&mut p)?,
            block: u64::decode(&mut p)?,
            time: u64::decode(&mut p)?,
            spec: KnowledgeBaseSpec::decode(&mut p)?,
            digest: Decodable::decode(&mut p)?,
            size: u64::decode(&mut p)?,
        };
        done(p)?;
        Ok(record)
    }
}

/// The largest knowledge base content every node loads into memory.
pub const MAX_KB_BYTES: u64 = 64 << 20;

/// The id a knowledge base is registered under: the suite hash of its kind and content, so
/// one file is one base of each kind (every node loads it once).
pub fn knowledge_base_id(suite: metamesh_crypto::Suite, kind: u8, content: &[u8]) -> Hash {
    let mut bytes = vec![kind];
    bytes.extend_from_slice(content);
    suite.hash(&bytes)
}

/// The id an algorithm is registered under: the suite hash of its owner and its spec's
/// encoding (so a copy of a pending spec is another algorithm, not the author's).
pub fn algorithm_id(suite: metamesh_crypto::Suite, owner: &Address, spec: &AlgorithmSpec) -> Hash {
    let mut bytes = owner.0.to_vec();
    bytes.extend_from_slice(&alloy_rlp::encode(spec));
    suite.hash(&bytes)
}

/// The knowledge domain's events (types 0x60–0x6f).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnowledgeEvent {
    /// `0x60 [account, role, granted]`
    RoleChanged {
        account: Address,
        role: u8,
        granted: bool,
    },
    /// `0x61 [algorithm, owner]`
    AlgorithmRegistered { algorithm: Hash, owner: Address },
    /// `0x62 [algorithm, by]`
    AlgorithmRetired { algorithm: Hash, by: Address },
    /// `0x63 [base, owner, kind]`
    KnowledgeBaseRegistered {
        base: Hash,
        owner: Address,
        kind: u8,
    },
}

impl DomainEvent for KnowledgeEvent {
    const KINDS: &'static [(u8, &'static str)] = &[
        (0x60, "roleChanged"),
        (0x61, "algorithmRegistered"),
        (0x62, "algorithmRetired"),
        (0x63, "knowledgeBaseRegistered"),
    ];

    fn type_byte(&self) -> u8 {
        match self {
            KnowledgeEvent::RoleChanged { .. } => 0x60,
            KnowledgeEvent::AlgorithmRegistered { .. } => 0x61,
            KnowledgeEvent::AlgorithmRetired { .. } => 0x62,
            KnowledgeEvent::KnowledgeBaseRegistered { .. } => 0x63,
        }
    }

    fn addresses(&self) -> Vec<Address> {
        match self {
            KnowledgeEvent::RoleChanged { account, .. } => vec![*account],
            KnowledgeEvent::AlgorithmRegistered { owner, .. } => vec![*owner],
            KnowledgeEvent::AlgorithmRetired { by, .. } => vec![*by],
            KnowledgeEvent::KnowledgeBaseRegistered { owner, .. } => vec![*owner],
        }
    }

    fn encode_fields(&self, p: &mut Vec<u8>) {
        match self {
            KnowledgeEvent::RoleChanged {
                account,
                role,
                granted,
            } => {
                account.0.encode(p);
                role.encode(p);
                granted.encode(p);
            }
            KnowledgeEvent::AlgorithmRegistered { algorithm, owner } => {
                algorithm.encode(p);
                owner.0.encode(p);
            }
            KnowledgeEvent::AlgorithmRetired { algorithm, by } => {
                algorithm.encode(p);
                by.0.encode(p);
            }
            KnowledgeEvent::KnowledgeBaseRegistered { base, owner, kind } => {
                base.encode(p);
                owner.0.encode(p);
                kind.encode(p);
            }
        }
    }

    fn decode_fields(ty: u8, p: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(match ty {
            0x60 => KnowledgeEvent::RoleChanged {
                account: address(p)?,
                role: u8::decode(p)?,
                granted: bool::decode(p)?,
            },
            0x61 => KnowledgeEvent::AlgorithmRegistered {
                algorithm: Decodable::decode(p)?,
                owner: address(p)?,
            },
            0x62 => KnowledgeEvent::AlgorithmRetired {
                algorithm: Decodable::decode(p)?,
                by: address(p)?,
            },
            0x63 => KnowledgeEvent::KnowledgeBaseRegistered {
                base: Decodable::decode(p)?,
                owner: address(p)?,
                kind: u8::decode(p)?,
            },
            _ => return Err(UNKNOWN),
        })
    }
}

pub(crate) fn apply<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    action: &KnowledgeAction,
) -> Outcome {
    match action {
        KnowledgeAction::GrantRole {
            account,
            role,
            granted,
        } => grant(ex, tx, *account, *role, *granted),
        KnowledgeAction::RegisterAlgorithm { spec } => register(ex, tx, spec),
        KnowledgeAction::RetireAlgorithm { algorithm } => retire(ex, tx, algorithm),
        KnowledgeAction::RegisterKnowledgeBase { base } => register_base(ex, tx, base),
    }
}

fn grant<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    account: Address,
    role: u8,
    granted: bool,
) -> Outcome {
    let authority = ex.params().params_authority;
    if authority == Address::ZERO || tx.sender != authority {
        return reject(Code::NotRoleAuthority, &[]);
    }
    if role == 0 || usize::from(role) >= ROLES.len() {
        return reject(Code::UnknownRole, &[u128::from(role)]);
    }
    let mut r = ex.load::<Roles>(&account)?.unwrap_or_default();
    if r.has(role) == granted {
        return reject(Code::RoleUnchanged, &[u128::from(role)]);
    }
    r.roles ^= 1 << role;
    r.block = ex.env().number;
    if r.roles == 0 {
        ex.delete::<Roles>(&account)?;
    } else {
        ex.save(&account, &r)?;
    }
    ex.emit(Event::Knowledge(KnowledgeEvent::RoleChanged {
        account,
        role,
        granted,
    }))
}

/// Whether `account` holds `role`.
pub fn holds<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    account: &Address,
    role: u8,
) -> Outcome<bool> {
    Ok(ex.load::<Roles>(account)?.is_some_and(|r| r.has(role)))
}

fn register<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    spec: &AlgorithmSpec,
) -> Outcome {
    if !holds(ex, &tx.sender, ROLE_BMCI)? {
        return reject(Code::MissingRole, &[u128::from(ROLE_BMCI)]);
    }
    if let Some(field) = bad_field(spec, ex.params()) {
        return reject(Code::BadAlgorithm, &[field]);
    }
    if !spec.program.is_empty() {
        ex.charge_hash(spec.program.len())?;
        if metamesh_storage::cid_from_bytes(&spec.program).is_err() {
            return reject(Code::BadAlgorithm, &[2]);
        }
    }
    ex.charge_hash(20 + alloy_rlp::encode(spec).len())?;
    let id = algorithm_id(ex.suite(), &tx.sender, spec);
    if let Some(existing) = ex.load::<Algorithm>(&id)? {
        return reject(Code::AlgorithmRegistered, &[u128::from(existing.block)]);
    }
    let record = Algorithm {
        owner: tx.sender,
        block: ex.env().number,
        time: ex.env().timestamp,
        spec: spec.clone(),
        retired: 0,
    };
    ex.save(&id, &record)?;
    ex.put_entry(CollectionId::Algorithms, &id, &[1])?;
    ex.emit(Event::Knowledge(KnowledgeEvent::AlgorithmRegistered {
        algorithm: id,
        owner: tx.sender,
    }))
}

fn retire<S: NodeStore + Clone>(ex: &mut Exec<'_, S>, tx: &TxContext, id: &Hash) -> Outcome {
    let Some(mut a) = ex.load::<Algorithm>(id)? else {
        return reject(Code::NoSuchAlgorithm, &[]);
    };
    if tx.sender != a.owner && tx.sender != ex.params().params_authority {
        return reject(Code::NotAlgorithmOwner, &[]);
    }
    if a.retired != 0 {
        return reject(Code::AlgorithmRetired, &[u128::from(a.retired)]);
    }
    a.retired = ex.env().number;
    ex.save(id, &a)?;
    ex.emit(Event::Knowledge(KnowledgeEvent::AlgorithmRetired {
        algorithm: *id,
        by: tx.sender,
    }))
}

/// A curated base needs a curator (who vouches for anyone's file); an extracted one is the
/// file owner's. Every node will fetch, hash and load the content: it pays for that hashing.
fn register_base<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    spec: &KnowledgeBaseSpec,
) -> Outcome {
    let extracted = spec.kind == KB_EXTRACTED;
    let checks = [
        usize::from(spec.kind) < KB_KINDS.len(),
        (1..=MAX_NAME).contains(&spec.name.len()),
        spec.description.len() <= MAX_DESCRIPTION,
        metamesh_storage::cid_from_bytes(&spec.content).is_ok(),
        spec.source.len() <= MAX_ARG && (!extracted || !spec.source.is_empty()),
    ];
    ex.charge_hash(spec.content.len())?;
    if let Some(field) = checks.iter().position(|ok| !ok) {
        return reject(Code::BadKnowledgeBase, &[field as u128]);
    }
    if !extracted && !holds(ex, &tx.sender, ROLE_CURATOR)? {
        return reject(Code::MissingRole, &[u128::from(ROLE_CURATOR)]);
    }
    let Some((digest, data)) = super::data::registration_of(ex, &spec.content)? else {
        return reject(Code::ContentUnregistered, &[]);
    };
    if extracted && data.owner != tx.sender {
        return reject(Code::NotContentOwner, &[]);
    }
    if data.encrypted {
        return reject(Code::ContentEncrypted, &[]);
    }
    if data.size > MAX_KB_BYTES {
        return reject(
            Code::ContentTooLarge,
            &[u128::from(data.size), u128::from(MAX_KB_BYTES)],
        );
    }
    ex.charge_hash(usize::try_from(data.size).unwrap_or(usize::MAX))?;
    let id = knowledge_base_id(ex.suite(), spec.kind, &spec.content);
    if let Some(existing) = ex.load::<KnowledgeBase>(&id)? {
        return reject(Code::KnowledgeBaseRegistered, &[u128::from(existing.block)]);
    }
    let record = KnowledgeBase {
        owner: tx.sender,
        block: ex.env().number,
        time: ex.env().timestamp,
        spec: spec.clone(),
        digest,
        size: data.size,
    };
    ex.save(&id, &record)?;
    ex.put_entry(CollectionId::KnowledgeBases, &id, &[spec.kind])?;
    ex.emit(Event::Knowledge(KnowledgeEvent::KnowledgeBaseRegistered {
        base: id,
        owner: tx.sender,
        kind: spec.kind,
    }))
}

/// The first field of the spec that breaks its rules, numbered as `bad-algorithm` says.
fn bad_field(s: &AlgorithmSpec, p: &crate::Params) -> Option<u128> {
    let native = s.executor != 0;
    let tolerance = |bits: u64| {
        let v = f64::from_bits(bits);
        v.is_finite() && v >= 0.0
    };
    let checks = [
        (1..=MAX_NAME).contains(&s.name.len()),
        s.description.len() <= MAX_DESCRIPTION,
        native || !s.program.is_empty(),
        usize::from(s.executor) < EXECUTORS.len(),
        s.args.len() <= MAX_ARGS
            && s.args.iter().all(|a| a.len() <= MAX_ARG)
            && (!native || !s.args.is_empty()),
        software_list_ok(&s.software) && s.software.len() <= MAX_SOFTWARE,
        super::compute::file_name_ok(&s.output),
        properties_ok(&s.properties),
        if native {
            s.fuel == 0 && (1..=p.compute_max_walltime).contains(&s.walltime)
        } else {
            (1..=p.compute_max_fuel).contains(&s.fuel) && s.walltime == 0
        },
        tolerance(s.rtol) && tolerance(s.atol),
    ];
    checks.iter().position(|ok| !ok).map(|i| i as u128)
}

fn properties_ok(props: &[AlgorithmProperty]) -> bool {
    let name_ok = |n: &str| {
        let b = n.as_bytes();
        (1..=MAX_PROPERTY).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
    };
    let unit_ok =
        |u: &str| u.len() <= MAX_UNIT && u.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    (1..=MAX_PROPERTIES).contains(&props.len())
        && props.windows(2).all(|w| w[0].name < w[1].name)
        && props.iter().all(|p| {
            name_ok(&p.name)
                && !RESERVED_PROPERTIES.contains(&p.name.as_str())
                && unit_ok(&p.unit)
                && p.description.len() <= MAX_PROPERTY_DESCRIPTION
        })
}
