//! Knowledge bases on the devnet: a curator's checked statements and a machine-extracted
//! paper, added as public data and registered, loaded by another node (which fetches the
//! content from its peers) into graphs of their own; a base cannot write into a chain record's
//! graph, and curating needs the role.

use serde_json::Value;

use crate::common::{
    Scratch,
    net::{Net, wait_for},
};

const HBN: &str = "urn:metamesh:bmci:structure:aflow-AB_hP4_194_c_d";

fn account(net: &Net, i: usize) -> String {
    net.genesis()["grants"][i]["address"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `data add FILE --register` from `from`: the CID.
fn add(net: &Net, file: &str, from: &str) -> String {
    let added = net
        .client(
            net.rpc,
            &["--json", "data", "add", file, "--register", "--from", from],
        )
        .ok()
        .json();
    added["cid"].as_str().unwrap().to_owned()
}

fn query(net: &Net, port: u16, q: &str) -> Value {
    net.client(port, &["--json", "kg", "query", q]).ok().json()
}

pub fn curated_and_extracted_bases_load_into_their_own_graphs(s: &Scratch, net: &Net) {
    let (curator, reader) = (account(net, 0), account(net, 1));
    // A line aimed at a real chain record's graph (the algorithm's registration).
    let record = query(
        net,
        net.rpc,
        "SELECT ?g WHERE { GRAPH ?g { ?a a mm:BmciAlgorithm } }",
    );
    let record = record["results"]["bindings"][0]["g"]["value"]
        .as_str()
        .expect("the algorithm's registration graph")
        .to_owned();
    let forged = format!(
        "<urn:metamesh:result:0x00/0> <urn:metamesh:ns:bmciMaterial> <{HBN}> <{record}> .\n\
         <http://example.org/claim> <urn:metamesh:ns:about> <{HBN}> <{record}> ."
    );
    let curated = s.write(
        "curated.nq",
        format!(
            "<{HBN}> <urn:metamesh:ns:vickersHardness> \"30.0\"^^<http://www.w3.org/2001/XMLSchema#double> .\n{forged}\n"
        )
        .as_bytes(),
    );
    let cid = add(net, &curated, &curator);
    // Only a curator's word is curated.
    let refused = net.client(
        net.rpc,
        &[
            "kg", "register", &cid, "--kind", "curated", "--name", "hardness", "--from", &reader,
        ],
    );
    assert!(
        refused.stderr.contains("does not hold role 1"),
        "{}",
        refused.stderr
    );
    net.client(
        net.rpc,
        &[
            "bmci", "grant", &curator, "--role", "curator", "--from", &curator,
        ],
    )
    .ok();
    let base = net
        .client(
            net.rpc,
            &[
                "--json",
                "kg",
                "register",
                &cid,
                "--kind",
                "curated",
                "--name",
                "h-BN hardness",
                "--from",
                &curator,
            ],
        )
        .ok()
        .json();
    let graph = base["graph"].as_str().unwrap().to_owned();

    let paper = s.write(
        "paper.txt",
        b"Boron carbide (B4C) has a Vickers hardness of 38 GPa.\n",
    );
    let extracted = net
        .client(
            net.rpc,
            &[
                "kg",
                "extract",
                &paper,
                "--nquads",
                "--source",
                "doi:10.1000/b4c",
            ],
        )
        .ok()
        .stdout;
    // It calls itself curated: left out, so the record graph's word stands.
    let posing = format!(
        "{extracted}<urn:metamesh:knowledgeBase:0x{}> <urn:metamesh:ns:kind> \"curated\" .\n",
        "00".repeat(32)
    );
    let nq = s.write("extracted.nq", posing.as_bytes());
    let cid2 = add(net, &nq, &reader);
    let no_source = net.client(
        net.rpc,
        &[
            "kg",
            "register",
            &cid2,
            "--kind",
            "extracted",
            "--name",
            "b4c",
            "--from",
            &reader,
        ],
    );
    assert!(
        no_source.stderr.contains("--source"),
        "{}",
        no_source.stderr
    );
    let base2 = net
        .client(
            net.rpc,
            &[
                "--json",
                "kg",
                "register",
                &cid2,
                "--kind",
                "extracted",
                "--name",
                "B4C paper",
                "--source",
                "doi:10.1000/b4c",
                "--from",
                &reader,
            ],
        )
        .ok()
        .json();
    let graph2 = base2["graph"].as_str().unwrap().to_owned();

    // Node 2 never had the files: it fetches them from its peers.
    let port = net.rpc + 2;
    // What a base is, read from its registration's record graph only.
    let curated_q = format!(
        "SELECT ?v ?kind WHERE {{ GRAPH ?g {{ <{HBN}> mm:vickersHardness ?v }}
           GRAPH ?r {{ ?kb mm:contentGraph ?g ; mm:kind ?kind }}
           FILTER(?g = <{graph}> && STRSTARTS(STR(?r), \"urn:metamesh:graph:0x\")) }}"
    );
    let mut rows = Value::Null;
    wait_for("the curated base is loaded", 60, || {
        rows = query(net, port, &curated_q)["results"]["bindings"].clone();
        rows.as_array().is_some_and(|r| !r.is_empty())
    });
    let v: f64 = rows[0]["v"]["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(v, 30.0, "{rows}");
    assert_eq!(rows[0]["kind"]["value"], "curated");
    // The lines aimed at a record graph are in the base's graph, not the record's; the one
    // about a chain object (a result) is left out altogether.
    let aimed = query(
        net,
        port,
        &format!("ASK {{ GRAPH <{record}> {{ <http://example.org/claim> ?p ?o }} }}"),
    );
    assert_eq!(aimed["boolean"], false, "{aimed}");
    let landed = query(
        net,
        port,
        &format!("ASK {{ GRAPH <{graph}> {{ <http://example.org/claim> mm:about <{HBN}> }} }}"),
    );
    assert_eq!(landed["boolean"], true, "{landed}");
    let counted = query(
        net,
        port,
        &format!(
            "SELECT ?n ?out WHERE {{ GRAPH <{graph}> {{ ?kb mm:statements ?n ; mm:statementsLeftOut ?out }} }}"
        ),
    );
    assert_eq!(
        counted["results"]["bindings"][0]["n"]["value"], "2",
        "{counted}"
    );
    assert_eq!(counted["results"]["bindings"][0]["out"]["value"], "1");

    let extracted_q = format!(
        "SELECT ?c ?src ?kind WHERE {{ GRAPH ?g {{ ?st a mm:ExtractedStatement ; mm:confidence ?c ; prov:wasDerivedFrom ?src }}
           GRAPH ?r {{ ?kb mm:contentGraph ?g ; mm:kind ?kind ; dct:source \"doi:10.1000/b4c\" }}
           FILTER(?g = <{graph2}> && STRSTARTS(STR(?r), \"urn:metamesh:graph:0x\")) }}"
    );
    wait_for("the extracted base is loaded", 60, || {
        rows = query(net, port, &extracted_q)["results"]["bindings"].clone();
        rows.as_array().is_some_and(|r| !r.is_empty())
    });
    assert_eq!(rows[0]["src"]["value"], "doi:10.1000/b4c", "{rows}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"]["value"] == "extracted"),
        "{rows}"
    );
    let listed = net
        .client(net.rpc + 1, &["--json", "kg", "bases"])
        .ok()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}
