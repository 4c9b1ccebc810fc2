//! The knowledge domain through `apply_block`: roles only the parameters authority grants and
//! revokes, algorithms registered once by holders of the `bmci` role under the hash of their
//! spec, every broken field refused under its number, and fees that keep the supply whole.

use crate::common::{Harness, code, file};
use metamesh_crypto::Suite;
use metamesh_primitives::{
    KnowledgeAction,
    compute::Bytes,
    knowledge::{
        AlgorithmProperty, AlgorithmSpec, KB_CURATED, KB_EXTRACTED, KnowledgeBaseSpec, ROLE_BMCI,
        ROLE_CURATOR,
    },
};
use metamesh_state::{
    Algorithm, Code, CollectionId, Event, KnowledgeBase, KnowledgeEvent, Roles, algorithm_id,
    domains::knowledge::MAX_KB_BYTES, knowledge_base_id,
};

fn grant(account: metamesh_crypto::Address, role: u8, granted: bool) -> KnowledgeAction {
    KnowledgeAction::GrantRole {
        account,
        role,
        granted,
    }
}

fn spec() -> AlgorithmSpec {
    AlgorithmSpec {
        name: "density".into(),
        description: "Mass density and volume per atom from the cell".into(),
        program: Bytes(file(300, 3).0.to_bytes()),
        executor: 0,
        args: vec!["/in/structure.xyz".into()],
        software: vec![],
        output: "properties.json".into(),
        properties: vec![
            AlgorithmProperty {
                name: "density".into(),
                unit: "GM-PER-CentiM3".into(),
                description: "Mass density".into(),
            },
            AlgorithmProperty {
                name: "volume_per_atom".into(),
                unit: "ANGSTROM3".into(),
                description: "Cell volume per site".into(),
            },
        ],
        fuel: 1_000_000,
        walltime: 0,
        rtol: 1e-9f64.to_bits(),
        atol: 1e-12f64.to_bits(),
    }
}

fn register(spec: AlgorithmSpec) -> KnowledgeAction {
    KnowledgeAction::RegisterAlgorithm { spec }
}

/// The receipt's knowledge events (its fee aside).
fn knowledge(r: &metamesh_state::Receipt) -> Vec<Event> {
    r.events
        .iter()
        .filter(|e| matches!(e, Event::Knowledge(_)))
        .cloned()
        .collect()
}

/// User 0 is the parameters authority.
fn harness() -> Harness {
    let authority = Harness::new(Suite::Sm, 3, |_| {}).user(0);
    Harness::new(Suite::Sm, 3, |g| g.params.params_authority = authority)
}

#[test]
fn only_the_authority_grants_roles_and_a_change_must_change_something() {
    let mut h = harness();
    let (alice, bob) = (h.user(1), h.user(2));
    assert_eq!(
        code(&h.run(1, grant(alice, ROLE_BMCI, true))),
        Some(Code::NotRoleAuthority)
    );
    for role in [0, 3, 200] {
        assert_eq!(
            code(&h.run(0, grant(alice, role, true))),
            Some(Code::UnknownRole),
            "role {role}"
        );
    }
    assert_eq!(
        code(&h.run(0, grant(alice, ROLE_BMCI, false))),
        Some(Code::RoleUnchanged)
    );
    let r = h.run(0, grant(alice, ROLE_BMCI, true));
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    assert_eq!(
        knowledge(&r),
        vec![Event::Knowledge(KnowledgeEvent::RoleChanged {
            account: alice,
            role: ROLE_BMCI,
            granted: true,
        })]
    );
    assert_eq!(
        code(&h.run(0, grant(alice, ROLE_BMCI, true))),
        Some(Code::RoleUnchanged)
    );
    assert_eq!(h.run(0, grant(alice, ROLE_CURATOR, true)).outcome, Ok(()));
    let roles: Roles = h.state.load(&alice).unwrap().unwrap();
    assert!(roles.has(ROLE_BMCI) && roles.has(ROLE_CURATOR) && !roles.has(0));
    assert!(h.state.load::<Roles>(&bob).unwrap().is_none());

    // Revoking the last role leaves no record behind.
    assert_eq!(h.run(0, grant(alice, ROLE_BMCI, false)).outcome, Ok(()));
    assert_eq!(h.run(0, grant(alice, ROLE_CURATOR, false)).outcome, Ok(()));
    assert!(h.state.load::<Roles>(&alice).unwrap().is_none());
    h.assert_supply();
}

#[test]
fn a_chain_without_an_authority_grants_nothing() {
    let mut h = Harness::new(Suite::Sm, 2, |g| {
        g.params.params_authority = metamesh_crypto::Address::ZERO
    });
    let bob = h.user(1);
    assert_eq!(
        code(&h.run(0, grant(bob, ROLE_BMCI, true))),
        Some(Code::NotRoleAuthority)
    );
}

#[test]
fn a_bmci_contributor_registers_an_algorithm_once() {
    let mut h = harness();
    let alice = h.user(1);
    assert_eq!(
        code(&h.run(1, register(spec()))),
        Some(Code::MissingRole),
        "no role yet"
    );
    h.run(0, grant(alice, ROLE_CURATOR, true));
    assert_eq!(
        code(&h.run(1, register(spec()))),
        Some(Code::MissingRole),
        "curating is not contributing"
    );
    h.run(0, grant(alice, ROLE_BMCI, true));
    let before = h.balance(&alice);
    let r = h.run(1, register(spec()));
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    assert!(h.balance(&alice) < before, "registration pays its gas");
    let id = algorithm_id(h.suite, &alice, &spec());
    assert_eq!(
        knowledge(&r),
        vec![Event::Knowledge(KnowledgeEvent::AlgorithmRegistered {
            algorithm: id,
            owner: alice,
        })]
    );
    let a: Algorithm = h.state.load(&id).unwrap().unwrap();
    assert_eq!((a.owner, a.block, &a.spec), (alice, h.number, &spec()));
    let listed = h.state.entries(CollectionId::Algorithms, &[], 10).unwrap();
    assert_eq!(listed.len(), 1);

    let block = h.number;
    let again = h.run(1, register(spec()));
    assert_eq!(code(&again), Some(Code::AlgorithmRegistered));
    assert_eq!(again.outcome.unwrap_err().args, vec![u128::from(block)]);

    // Revoking the role stops new registrations but keeps the registered algorithm.
    h.run(0, grant(alice, ROLE_BMCI, false));
    let mut other = spec();
    other.name = "density-2".into();
    assert_eq!(code(&h.run(1, register(other))), Some(Code::MissingRole));
    assert!(h.state.load::<Algorithm>(&id).unwrap().is_some());
    h.assert_supply();
}

#[test]
fn each_broken_field_is_refused_under_its_number() {
    let mut h = harness();
    let alice = h.user(1);
    h.run(0, grant(alice, ROLE_BMCI, true));
    type Break = fn(&mut AlgorithmSpec);
    let cases: &[(u128, Break)] = &[
        (0, |s| s.name.clear()),
        (0, |s| s.name = "x".repeat(65)),
        (1, |s| s.description = "x".repeat(1025)),
        (2, |s| s.program = Bytes::default()),
        (2, |s| s.program = Bytes(vec![1, 2, 3])),
        (3, |s| s.executor = 9),
        (4, |s| s.args = vec!["a".repeat(257)]),
        (4, |s| s.args = vec![String::new(); 65]),
        (4, |s| {
            // A native algorithm is its command.
            s.executor = 1;
            s.args.clear();
            s.fuel = 0;
            s.walltime = 60;
        }),
        (5, |s| s.software = vec!["b".into(), "a".into()]),
        (6, |s| s.output = "../properties.json".into()),
        (6, |s| s.output.clear()),
        (7, |s| s.properties.clear()),
        (7, |s| s.properties.reverse()),
        (7, |s| s.properties[0].name = "Density".into()),
        (7, |s| s.properties[0].name = "1density".into()),
        (7, |s| s.properties[1].name = "density".into()),
        (7, |s| s.properties[0].unit = "g/cm3".into()),
        (7, |s| s.properties[0].name = "results".into()),
        (7, |s| s.properties[0].description = "x".repeat(257)),
        (8, |s| s.fuel = 0),
        (8, |s| s.fuel = u64::MAX),
        (8, |s| s.walltime = 5),
        (9, |s| s.rtol = f64::NAN.to_bits()),
        (9, |s| s.atol = (-1.0f64).to_bits()),
    ];
    for (field, break_it) in cases {
        let mut s = spec();
        break_it(&mut s);
        let r = h.run(1, register(s.clone()));
        let e = r.outcome.as_ref().expect_err(&format!("{s:?}"));
        assert_eq!(
            (e.code, e.args.clone()),
            (Code::BadAlgorithm, vec![*field]),
            "{s:?}"
        );
    }
    // A native algorithm: a command, walltime and no fuel.
    let mut native = spec();
    native.executor = 1;
    native.program = Bytes::default();
    native.args = vec!["density".into(), "structure.xyz".into()];
    native.fuel = 0;
    native.walltime = 60;
    assert_eq!(h.run(1, register(native)).outcome, Ok(()));
    assert_eq!(
        h.state
            .entries(CollectionId::Algorithms, &[], 10)
            .unwrap()
            .len(),
        1
    );
    h.assert_supply();
}

#[test]
fn the_same_spec_from_another_contributor_is_another_algorithm() {
    let mut h = harness();
    let (alice, bob) = (h.user(1), h.user(2));
    h.run(0, grant(alice, ROLE_BMCI, true));
    h.run(0, grant(bob, ROLE_BMCI, true));
    assert_eq!(h.run(1, register(spec())).outcome, Ok(()));
    // Copying a pending spec takes no credit: bob's copy is his own algorithm.
    assert_eq!(h.run(2, register(spec())).outcome, Ok(()));
    let ids = [alice, bob].map(|o| algorithm_id(h.suite, &o, &spec()));
    assert_ne!(ids[0], ids[1]);
    for (id, owner) in ids.iter().zip([alice, bob]) {
        let a: Algorithm = h.state.load(id).unwrap().unwrap();
        assert_eq!(a.owner, owner);
    }
}

#[test]
fn an_owner_or_the_authority_retires_an_algorithm_once() {
    let mut h = harness();
    let alice = h.user(1);
    h.run(0, grant(alice, ROLE_BMCI, true));
    h.run(1, register(spec()));
    let id = algorithm_id(h.suite, &alice, &spec());
    let retire = |algorithm| KnowledgeAction::RetireAlgorithm { algorithm };
    assert_eq!(
        code(&h.run(1, retire([7; 32]))),
        Some(Code::NoSuchAlgorithm)
    );
    assert_eq!(code(&h.run(2, retire(id))), Some(Code::NotAlgorithmOwner));
    let r = h.run(0, retire(id));
    assert_eq!(r.outcome, Ok(()), "the authority may");
    assert_eq!(
        knowledge(&r),
        vec![Event::Knowledge(KnowledgeEvent::AlgorithmRetired {
            algorithm: id,
            by: h.user(0),
        })]
    );
    let a: Algorithm = h.state.load(&id).unwrap().unwrap();
    assert_eq!(a.retired, h.number);
    assert!(a.runs_jobs_of(h.number - 1) && !a.runs_jobs_of(h.number));
    let again = h.run(1, retire(id));
    assert_eq!(code(&again), Some(Code::AlgorithmRetired));
    h.assert_supply();
}

#[test]
fn a_larger_spec_pays_for_its_bytes() {
    let mut h = harness();
    let alice = h.user(1);
    h.run(0, grant(alice, ROLE_BMCI, true));
    let small = h.run(1, register(spec()));
    let mut large = spec();
    large.name = "density-large".into();
    large.description = "x".repeat(1024);
    large.args = vec!["a".repeat(256); 64];
    let big = h.run(1, register(large));
    assert_eq!(
        (small.outcome.clone(), big.outcome.clone()),
        (Ok(()), Ok(()))
    );
    let p = h.params();
    // At least the write of every extra byte, at the per-byte price.
    let extra = (1024 + 64 * 256) as u64;
    assert!(
        big.gas_used >= small.gas_used + extra * p.gas_write_byte,
        "{} vs {}",
        big.gas_used,
        small.gas_used
    );
}

fn data(h: &mut Harness, by: usize, seed: u8, size: u64, encrypted: bool) -> Vec<u8> {
    let cid = file(200 + seed as usize, seed).0.to_bytes();
    let r = h.run(
        by,
        metamesh_primitives::DataAction::Register {
            digest: [seed; 32],
            size,
            cid: cid.clone(),
            encrypted,
            profile: "unixfs-v0-2015".into(),
            title: "statements".into(),
            licence: "CC-BY-4.0".into(),
            metadata: vec![],
        },
    );
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    cid
}

fn base(kind: u8, content: Vec<u8>) -> KnowledgeBaseSpec {
    KnowledgeBaseSpec {
        kind,
        name: "boron hardness".into(),
        description: "Vickers hardness of boron compounds".into(),
        content: Bytes(content),
        source: if kind == KB_EXTRACTED {
            "doi:10.1000/xyz".into()
        } else {
            String::new()
        },
    }
}

fn register_base(spec: KnowledgeBaseSpec) -> KnowledgeAction {
    KnowledgeAction::RegisterKnowledgeBase { base: spec }
}

#[test]
fn curated_bases_need_a_curator_and_extracted_ones_a_source() {
    let mut h = harness();
    let (alice, bob) = (h.user(1), h.user(2));
    let cid = data(&mut h, 2, 1, 1_000, false);
    assert_eq!(
        code(&h.run(2, register_base(base(KB_CURATED, cid.clone())))),
        Some(Code::MissingRole)
    );
    // The file's owner registers what a machine extracted from it, naming where from.
    let r = h.run(2, register_base(base(KB_EXTRACTED, cid.clone())));
    assert_eq!(r.outcome, Ok(()), "{r:?}");
    let id = knowledge_base_id(h.suite, KB_EXTRACTED, &cid);
    assert_eq!(
        knowledge(&r),
        vec![Event::Knowledge(KnowledgeEvent::KnowledgeBaseRegistered {
            base: id,
            owner: bob,
            kind: KB_EXTRACTED,
        })]
    );
    let kb: KnowledgeBase = h.state.load(&id).unwrap().unwrap();
    assert_eq!((kb.digest, kb.size, kb.owner), ([1; 32], 1_000, bob));
    let again = h.run(2, register_base(base(KB_EXTRACTED, cid.clone())));
    assert_eq!(code(&again), Some(Code::KnowledgeBaseRegistered));

    h.run(0, grant(alice, ROLE_CURATOR, true));
    assert_eq!(
        code(&h.run(1, register_base(base(KB_EXTRACTED, cid.clone())))),
        Some(Code::NotContentOwner),
        "what a machine extracted is its file owner's to register"
    );
    assert_eq!(
        h.run(1, register_base(base(KB_CURATED, cid.clone())))
            .outcome,
        Ok(()),
        "a curator vouches for another's data"
    );
    let mut renamed = base(KB_CURATED, cid);
    renamed.name = "the same file again".into();
    assert_eq!(
        code(&h.run(1, register_base(renamed))),
        Some(Code::KnowledgeBaseRegistered),
        "one file is one base of each kind"
    );
    let listed = h
        .state
        .entries(CollectionId::KnowledgeBases, &[], 10)
        .unwrap();
    assert_eq!(listed.len(), 2);
    h.assert_supply();
}

#[test]
fn a_base_must_be_public_registered_data_of_bounded_size() {
    let mut h = harness();
    let alice = h.user(1);
    h.run(0, grant(alice, ROLE_CURATOR, true));
    let unregistered = file(999, 9).0.to_bytes();
    assert_eq!(
        code(&h.run(1, register_base(base(KB_CURATED, unregistered)))),
        Some(Code::ContentUnregistered)
    );
    let sealed = data(&mut h, 1, 2, 1_000, true);
    assert_eq!(
        code(&h.run(1, register_base(base(KB_CURATED, sealed)))),
        Some(Code::ContentEncrypted)
    );
    let huge = data(&mut h, 1, 3, MAX_KB_BYTES + 1, false);
    let r = h.run(1, register_base(base(KB_CURATED, huge)));
    assert_eq!(code(&r), Some(Code::ContentTooLarge));
    type Break = fn(&mut KnowledgeBaseSpec);
    let cases: &[(u128, Break)] = &[
        (0, |s| s.kind = 2),
        (1, |s| s.name.clear()),
        (2, |s| s.description = "x".repeat(1025)),
        (3, |s| s.content = Bytes(vec![1, 2, 3])),
        (4, |s| s.source = "x".repeat(257)),
        (4, |s| {
            s.kind = KB_EXTRACTED;
            s.source.clear()
        }),
    ];
    let cid = data(&mut h, 1, 4, 1_000, false);
    for (field, break_it) in cases {
        let mut s = base(KB_CURATED, cid.clone());
        break_it(&mut s);
        let r = h.run(1, register_base(s.clone()));
        let e = r.outcome.as_ref().expect_err(&format!("{s:?}"));
        assert_eq!(
            (e.code, e.args.clone()),
            (Code::BadKnowledgeBase, vec![*field])
        );
    }
    h.assert_supply();
}

#[test]
fn a_base_pays_for_the_hashing_every_node_does() {
    let mut h = harness();
    let small = data(&mut h, 2, 5, 1_000, false);
    let large = data(&mut h, 2, 6, 32 << 20, false);
    let a = h.run(2, register_base(base(KB_EXTRACTED, small)));
    let b = h.run(2, register_base(base(KB_EXTRACTED, large)));
    assert_eq!((a.outcome.clone(), b.outcome.clone()), (Ok(()), Ok(())));
    let words = ((32u64 << 20) - 1_000) / 32;
    assert!(
        b.gas_used >= a.gas_used + words * h.params().gas_hash_word,
        "{} vs {}",
        b.gas_used,
        a.gas_used
    );
}
