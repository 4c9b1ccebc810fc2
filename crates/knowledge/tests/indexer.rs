//! The indexer on a real chain: a registered dataset becomes a named graph with its block,
//! transaction and sender, searchable by its title; a reorg that retracts the registration
//! takes the graph and its words away; a snapshot reloads with its cursor and replays nothing
//! twice; SPARQL answers, refuses bad queries by name and cancels one past its time limit;
//! the graphs mirror into a real Virtuoso (`--kg-store`).

mod support {
    #[path = "virtuoso.rs"]
    pub mod virtuoso;
}

use std::{sync::Arc, time::Duration};

use metamesh_crypto::{SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_knowledge::{
    Formats, Indexer, KnowledgeGraph, Limits, Request, SparqlError, sparql, vocab,
};
use metamesh_node::{Chain, NodeService, PoolConfig, SealPlan};
use metamesh_primitives::{Amount, DataAction, Transaction};
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(Suite::Sm, &Suite::Sm.hash(&[b'k', i])).unwrap()
}

fn genesis(signers: &[&SecretKey], user: &SecretKey) -> Genesis {
    Genesis {
        chain_id: 7,
        suite: Suite::Sm,
        timestamp: 1_000,
        clique: CliqueParams {
            period: 5,
            epoch: 30_000,
            signers: signers.iter().map(|k| k.public_key().address()).collect(),
        },
        params: Params::default(),
        grants: vec![Grant {
            address: user.public_key().address(),
            amount: Amount::from_mmt(100),
            pool: Pool::Airdrops,
        }],
    }
}

fn service(dir: &std::path::Path, g: &Genesis, signer: &SecretKey) -> Arc<NodeService> {
    let chain = Chain::open(&dir.join("chain.redb"), g.clone(), ChainDbConfig::default()).unwrap();
    NodeService::new(chain, Some(signer.clone()), PoolConfig::default())
}

fn register(user: &SecretKey, nonce: u64, title: &str) -> Vec<u8> {
    let digest = Suite::Sm.hash(title.as_bytes());
    Transaction {
        chain_id: 7,
        nonce,
        gas_price: Params::default().min_gas_price,
        gas_limit: 400_000,
        action: DataAction::Register {
            digest,
            size: 1234,
            cid: Vec::new(),
            encrypted: false,
            profile: String::new(),
            title: title.into(),
            licence: "CC-BY-4.0".into(),
            metadata: serde_json::to_vec(
                &serde_json::json!({"title": title, "keywords": ["boron"]}),
            )
            .unwrap(),
        }
        .into(),
    }
    .sign(user)
    .unwrap()
    .to_rlp()
}

fn select(kg: &Arc<KnowledgeGraph>, q: &str) -> serde_json::Value {
    let a = sparql::run(
        kg,
        &Request {
            query: q.into(),
            ..Default::default()
        },
        Formats::default(),
        Limits::default(),
    )
    .unwrap();
    serde_json::from_slice(&a.body).unwrap()
}

fn rows(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["results"]["bindings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Two signers' nodes on one genesis: node 1 seals out of turn, node 2 in turn (so node 2's
/// block at the same height is heavier and reorganises node 1).
struct Pair {
    node1: Arc<NodeService>,
    node2: Arc<NodeService>,
    user: SecretKey,
    out_of_turn: SecretKey,
    d1: tempfile::TempDir,
    _d2: tempfile::TempDir,
}

fn pair() -> Pair {
    let (a, b, user) = (key(1), key(2), key(3));
    let g = genesis(&[&a, &b], &user);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let probe = service(d1.path(), &g, &a);
    let a_in_turn = probe.with_chain(|c| {
        let h = c.head().hash(Suite::Sm);
        c.snapshot(&h)
            .unwrap()
            .in_turn(1, &a.public_key().address())
    });
    drop(probe);
    let (in_turn, out_of_turn) = if a_in_turn { (a, b) } else { (b, a) };
    Pair {
        node1: service(d1.path(), &g, &out_of_turn),
        node2: service(d2.path(), &g, &in_turn),
        user,
        out_of_turn,
        d1,
        _d2: d2,
    }
}

#[test]
fn records_become_graphs_and_a_reorg_takes_them_back() {
    let Pair {
        node1,
        node2,
        user,
        out_of_turn,
        d1,
        ..
    } = pair();

    node1
        .submit(&register(
            &user,
            0,
            "Hexagonal boron nitride band structures",
        ))
        .unwrap();
    let SealPlan::Seal { parent, .. } = node1.plan(1_005, 1).unwrap() else {
        panic!("node 1 may seal")
    };
    node1.seal(parent, 1_005).unwrap().unwrap();

    let snapshot = d1.path().join("knowledge/snapshot.nq");
    let mut ix = Indexer::open(&node1.chain_view(), Some(&snapshot)).unwrap();
    ix.catch_up(&node1.chain_view()).unwrap();
    let kg = ix.graph();
    assert_eq!(kg.record_graphs(), 1, "one record: the registration");
    let q = "SELECT ?d ?title ?block ?n ?sender ?sealer WHERE {
        GRAPH ?g { ?d a dcat:Dataset ; dct:title ?title .
                   ?g mm:block ?block ; mm:transaction ?tx . ?block mm:number ?n ; mm:sealer ?sealer .
                   ?tx mm:sender ?sender } }";
    let r = rows(&select(&kg, q));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        r[0]["title"]["value"],
        "Hexagonal boron nitride band structures"
    );
    assert_eq!(r[0]["n"]["value"], "1");
    assert_eq!(
        r[0]["sender"]["value"],
        vocab::account(&user.public_key().address()).as_str()
    );
    assert_eq!(
        r[0]["sealer"]["value"],
        vocab::account(&out_of_turn.public_key().address()).as_str()
    );
    // Chain records only: BMCI's seed (also in every graph) has boron nitride too.
    let records = |kg: &KnowledgeGraph| -> Vec<metamesh_knowledge::Hit> {
        kg.text()
            .search("boron nitride", 100)
            .unwrap()
            .into_iter()
            .filter(|h| h.graph.starts_with("urn:metamesh:graph:0x"))
            .collect()
    };
    let hits = records(&kg);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].subject.starts_with("urn:metamesh:data:0x"));

    // Through SPARQL, full text is a SERVICE.
    let r = rows(&select(
        &kg,
        "SELECT ?s ?score WHERE { SERVICE mm:search { ?s mm:matches \"nitride\" ; mm:score ?score } ?s dct:license ?l }",
    ));
    assert_eq!(r.len(), 1, "{r:?}");

    // A snapshot holds the graph and the cursor; the reloaded indexer replays nothing.
    ix.save().unwrap();
    let cursor = ix.cursor();
    let mut again = Indexer::open(&node1.chain_view(), Some(&snapshot)).unwrap();
    assert_eq!(again.cursor(), cursor);
    assert_eq!(again.graph().len(), kg.len());
    again.catch_up(&node1.chain_view()).unwrap();
    assert_eq!(again.stats.events, 0, "nothing replayed twice");
    assert_eq!(
        records(&again.graph()).len(),
        1,
        "the words are indexed again"
    );

    // The in-turn block is heavier: node 1 reorganises onto it, and the record is retracted.
    let SealPlan::Seal { parent, .. } = node2.plan(1_005, 0).unwrap() else {
        panic!("node 2 may seal")
    };
    let heavier = node2.seal(parent, 1_005).unwrap().unwrap();
    node1.import(&heavier, 1_005).unwrap();
    again.catch_up(&node1.chain_view()).unwrap();
    let kg = again.graph();
    assert_eq!(
        kg.record_graphs(),
        0,
        "the retracted record's graph is gone"
    );
    assert!(records(&kg).is_empty());
    let seed = metamesh_knowledge::optimade::Database::seed().unwrap();
    let seed_quads = seed
        .quads(&metamesh_knowledge::optimade::database::seed_graph())
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert_eq!(kg.len(), seed_quads, "nothing but BMCI's seed is left");
    assert!(again.stats.retracted > 0);
}

#[test]
fn queries_are_limited_and_bad_ones_named() {
    let (a, user) = (key(1), key(3));
    let g = genesis(&[&a], &user);
    let dir = tempfile::tempdir().unwrap();
    let node = service(dir.path(), &g, &a);
    for n in 0..20 {
        node.submit(&register(&user, n, &format!("boron carbide sample {n}")))
            .unwrap();
    }
    let SealPlan::Seal { parent, .. } = node.plan(1_005, 0).unwrap() else {
        panic!()
    };
    node.seal(parent, 1_005).unwrap().unwrap();
    let mut ix = Indexer::open(&node.chain_view(), None).unwrap();
    ix.catch_up(&node.chain_view()).unwrap();
    let kg = ix.graph();
    assert_eq!(kg.record_graphs(), 20);

    let run = |q: &str, limits: Limits| {
        sparql::run(
            &kg,
            &Request {
                query: q.into(),
                ..Default::default()
            },
            Formats::default(),
            limits,
        )
    };
    let e = run("SELECT ?s WHERE { ?s ?p }", Limits::default()).unwrap_err();
    assert!(
        matches!(&e, SparqlError::Bad(m) if m.contains("syntax")),
        "{e}"
    );
    assert_eq!(e.status(), 400);
    let e = run(
        "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not offered"), "{e}");
    let e = run(
        "SELECT * WHERE { SERVICE mm:search { ?s mm:score ?x } }",
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("mm:matches"), "{e}");

    // A cartesian product is refused before it runs (it would grow in memory, unchecked).
    let e = run(
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }",
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cartesian product"), "{e}");
    // Four triples joined on their predicate: billions of rows, far past the limit, so it
    // is cancelled.
    let started = std::time::Instant::now();
    let e = run(
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?p ?d . ?e ?p ?f . ?g ?p ?h . ?i ?p ?j }",
        Limits {
            timeout: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SparqlError::Timeout(_)), "{e}");
    assert_eq!(e.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cancelled, not run to the end"
    );

    let e = run(
        "SELECT * WHERE { ?s ?p ?o }",
        Limits {
            max_rows: 10,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SparqlError::TooLarge(_)), "{e}");

    // Every result format.
    for (accept, starts) in [
        ("application/sparql-results+json", "{"),
        ("application/sparql-results+xml", "<?xml"),
        ("text/csv", "title"),
        ("text/tab-separated-values", "?title"),
    ] {
        let a = sparql::run(
            &kg,
            &Request {
                query: "SELECT ?title WHERE { ?d dct:title ?title } ORDER BY ?title LIMIT 2".into(),
                ..Default::default()
            },
            Formats::negotiate(Some(accept), None).unwrap(),
            Limits::default(),
        )
        .unwrap();
        assert!(a.content_type.starts_with(accept), "{}", a.content_type);
        assert!(
            String::from_utf8_lossy(&a.body).starts_with(starts),
            "{accept}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.rows, 2);
    }
    assert!(Formats::negotiate(Some("image/png"), None).is_err());
    let a = sparql::run(
        &kg,
        &Request {
            query: "CONSTRUCT { ?d dct:title ?t } WHERE { ?d a dcat:Dataset ; dct:title ?t }"
                .into(),
            ..Default::default()
        },
        Formats::negotiate(Some("application/n-triples"), None).unwrap(),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(a.rows, 20);
    assert_eq!(a.content_type, "application/n-triples");
}

/// Flushes until nothing waits (failing, not hanging, if something never goes).
fn drain(ix: &mut Indexer) {
    for _ in 0..100 {
        if ix.mirror_pending() == 0 {
            return;
        }
        ix.flush_mirror();
    }
    panic!("{} graphs never reached the store", ix.mirror_pending());
}

/// `--kg-store`: the graphs mirrored into a real Virtuoso through its Graph Store endpoint;
/// a drop that happens while the store is down is kept beside the snapshot and reaches the
/// store once it answers, after a restart.
#[test]
fn graphs_are_mirrored_into_an_external_store() {
    let virtuoso = support::virtuoso::Virtuoso::start();
    let Pair {
        node1,
        node2,
        user,
        d1,
        ..
    } = pair();
    node1
        .submit(&register(&user, 0, "Boron carbide hardness survey"))
        .unwrap();
    let SealPlan::Seal { parent, .. } = node1.plan(1_005, 1).unwrap() else {
        panic!("node 1 may seal")
    };
    node1.seal(parent, 1_005).unwrap().unwrap();

    let titles = "SELECT ?title WHERE { GRAPH ?g { ?d a <http://www.w3.org/ns/dcat#Dataset> ; <http://purl.org/dc/terms/title> ?title } }";
    let count = |v: &serde_json::Value| v["results"]["bindings"].as_array().unwrap().len();
    let snapshot = d1.path().join("knowledge/snapshot.nq");
    let mut ix = Indexer::open(&node1.chain_view(), Some(&snapshot))
        .unwrap()
        .with_mirror(&virtuoso.graph_store())
        .unwrap();
    ix.catch_up(&node1.chain_view()).unwrap();
    drain(&mut ix);
    let r = virtuoso.query(titles);
    assert_eq!(count(&r), 1, "{r}");
    assert_eq!(
        r["results"]["bindings"][0]["title"]["value"],
        "Boron carbide hardness survey"
    );
    let seed = virtuoso.query(
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <urn:metamesh:graph:bmci-seed> { ?s ?p ?o } }",
    );
    let n: u64 = seed["results"]["bindings"][0]["n"]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 1_000, "BMCI's seed is mirrored too: {seed}");
    ix.save().unwrap();
    drop(ix);

    // The store is unreachable while a reorg retracts the record: the drop waits, and is
    // kept beside the snapshot.
    let dead = format!(
        "http://127.0.0.1:{}/sparql-graph-crud",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let mut ix = Indexer::open(&node1.chain_view(), Some(&snapshot))
        .unwrap()
        .with_mirror(&dead)
        .unwrap();
    let SealPlan::Seal { parent, .. } = node2.plan(1_005, 0).unwrap() else {
        panic!("node 2 may seal")
    };
    let heavier = node2.seal(parent, 1_005).unwrap().unwrap();
    node1.import(&heavier, 1_005).unwrap();
    ix.catch_up(&node1.chain_view()).unwrap();
    ix.flush_mirror();
    assert!(ix.mirror_pending() > 0);
    ix.save().unwrap();
    drop(ix);
    assert_eq!(count(&virtuoso.query(titles)), 1, "the store still has it");

    // Back to the store: the saved drop reaches it (the graph is no longer local, so only
    // the saved name can say so).
    let mut ix = Indexer::open(&node1.chain_view(), Some(&snapshot))
        .unwrap()
        .with_mirror(&virtuoso.graph_store())
        .unwrap();
    drain(&mut ix);
    assert_eq!(count(&virtuoso.query(titles)), 0);
}
