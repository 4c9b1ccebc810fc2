//! BMCI on the devnet: the parameters authority grants the `bmci` role, the density algorithm
//! (C built to Wasm) is registered and run on two boron materials by the providers, and the
//! verified results come back as computed properties over OPTIMADE and, with their
//! provenance, over SPARQL; retired, it takes no more runs.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{funded, wait_done};
use crate::common::net::{Net, rpc, wait_for};

const HBN: &str = "aflow-AB_hP4_194_c_d";
const ALPHA_B: &str = "aflow-A_hR12_166_2h";

fn algorithm_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/bmci-density/algorithm.toml")
}

pub fn algorithms_run_into_computed_properties(net: &Net) {
    let authority = funded(net);
    let from = ["--from", authority.as_str()];
    // Registering needs the role, which only the authority grants.
    let refused = net.client(
        net.rpc,
        &[
            &["bmci", "register", algorithm_file().to_str().unwrap()],
            &from[..],
        ]
        .concat(),
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("does not hold role 2"),
        "{}",
        refused.stderr
    );
    let granted = net
        .client(
            net.rpc,
            &[
                &["--json", "bmci", "grant", &authority, "--role", "bmci"],
                &from[..],
            ]
            .concat(),
        )
        .ok()
        .json();
    assert_eq!(granted["roles"], json!(["bmci"]), "{granted}");
    let registered = net
        .client(
            net.rpc,
            &[
                &[
                    "--json",
                    "bmci",
                    "register",
                    algorithm_file().to_str().unwrap(),
                ],
                &from[..],
            ]
            .concat(),
        )
        .ok()
        .json();
    let algorithm = registered["algorithm"].as_str().unwrap().to_owned();
    let listed = net
        .client(net.rpc + 1, &["--json", "bmci", "algorithms"])
        .ok()
        .json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == algorithm.as_str() && a["spec"]["name"] == "density"),
        "{listed}"
    );
    let unknown = net.client(
        net.rpc,
        &[
            &["bmci", "run", &algorithm, "--on", "aflow-no-such"],
            &from[..],
        ]
        .concat(),
    );
    assert!(
        unknown.stderr.contains("no BMCI material"),
        "{}",
        unknown.stderr
    );

    let run = net
        .client(
            net.rpc,
            &[
                &[
                    "--json", "bmci", "run", &algorithm, "--on", HBN, "--on", ALPHA_B,
                ],
                &from[..],
            ]
            .concat(),
        )
        .ok()
        .json();
    let job = run["job"].as_str().unwrap().to_owned();
    let done = wait_done(net, &job, 240);
    assert_eq!(done["state"], "completed", "{done:#}");

    // OPTIMADE: the indexer merges the verified values a moment after the block.
    let mut hits = Value::Null;
    wait_for("the computed densities are served", 30, || {
        hits = net
            .client(
                net.rpc + 2,
                &["--json", "bmci", "search", "_bmci_computed_density > 0"],
            )
            .ok()
            .json();
        hits["data"].as_array().is_some_and(|d| d.len() == 2)
    });
    let density = |id: &str| {
        hits["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .and_then(|e| e["attributes"]["_bmci_computed_density"].as_f64())
            .unwrap_or_else(|| panic!("{id} in {hits:#}"))
    };
    // h-BN 2.28 g/cm3 and alpha-boron 2.47 g/cm3, as their cells give them.
    assert!((density(HBN) - 2.278663).abs() < 1e-5, "{hits:#}");
    assert!((density(ALPHA_B) - 2.465214).abs() < 1e-5, "{hits:#}");

    // SPARQL: each value with its unit, the algorithm, the task's program and providers, and
    // the block that accepted it.
    let query = format!(
        "SELECT DISTINCT ?material ?value ?unit ?program ?number WHERE {{
           ?material mm:computedBy ?result .
           ?result mm:computed ?q ; mm:bmciAlgorithm <urn:metamesh:algorithm:{algorithm}> ;
                   prov:wasGeneratedBy ?task ; mm:acceptedIn ?block .
           ?q mm:property \"density\" ; qudt:numericValue ?value ; qudt:unit ?unit .
           ?task mm:program ?program .
           ?block mm:number ?number .
         }} ORDER BY ?material"
    );
    let answer = net
        .client(net.rpc + 3, &["--json", "kg", "query", &query])
        .ok()
        .json();
    let rows = answer["results"]["bindings"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{answer:#}");
    let alg = rpc(net.rpc, "mm_getAlgorithm", json!([algorithm])).unwrap();
    for r in rows {
        assert_eq!(
            r["unit"]["value"],
            "http://qudt.org/vocab/unit/GM-PER-CentiM3"
        );
        assert_eq!(
            r["program"]["value"],
            format!("ipfs://{}", alg["spec"]["program"].as_str().unwrap())
        );
        assert!(
            r["number"]["value"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
    }
    let materials: Vec<&str> = rows
        .iter()
        .map(|r| r["material"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        materials,
        [HBN, ALPHA_B].map(|m| format!("urn:metamesh:bmci:structure:{m}")),
        "ordered by IRI"
    );

    // Retired, the algorithm takes no more runs; what it computed stays.
    net.client(
        net.rpc,
        &[&["bmci", "retire", &algorithm], &from[..]].concat(),
    )
    .ok();
    let refused = net.client(
        net.rpc,
        &[&["bmci", "run", &algorithm, "--on", HBN], &from[..]].concat(),
    );
    assert!(refused.stderr.contains("was retired"), "{}", refused.stderr);
    let still = net
        .client(
            net.rpc,
            &["--json", "bmci", "search", "_bmci_computed_density > 0"],
        )
        .ok()
        .json();
    assert_eq!(still["data"].as_array().unwrap().len(), 2, "{still}");
}
