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
    let forged = format!(
        "<urn:metamesh:result:0x00/0> <urn:metamesh:ns:bmciMaterial> <{HBN}> <urn:metamesh:graph:0x01> ."
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
    let nq = s.write("extracted.nq", extracted.as_bytes());
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
    let curated_q = format!(
        "SELECT ?v ?kind WHERE {{ GRAPH ?g {{ <{HBN}> mm:vickersHardness ?v }}
           ?kb mm:contentGraph ?g ; mm:kind ?kind FILTER(?g = <{graph}>) }}"
    );
    let mut rows = Value::Null;
    wait_for("the curated base is loaded", 60, || {
        rows = query(net, port, &curated_q)["results"]["bindings"].clone();
        rows.as_array().is_some_and(|r| !r.is_empty())
    });
    let v: f64 = rows[0]["v"]["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(v, 30.0, "{rows}");
    assert_eq!(rows[0]["kind"]["value"], "curated");
    // The line aimed at a record graph is in the base's graph, not the record's.
    let aimed = query(
        net,
        port,
        "ASK { GRAPH <urn:metamesh:graph:0x01> { ?s ?p ?o } }",
    );
    assert_eq!(aimed["boolean"], false, "{aimed}");
    let landed = query(
        net,
        port,
        &format!("ASK {{ GRAPH <{graph}> {{ ?r mm:bmciMaterial <{HBN}> }} }}"),
    );
    assert_eq!(landed["boolean"], true, "{landed}");

    let extracted_q = format!(
        "SELECT ?c ?src WHERE {{ GRAPH ?g {{ ?st a mm:ExtractedStatement ; mm:confidence ?c ; prov:wasDerivedFrom ?src }}
           ?kb mm:contentGraph ?g ; mm:kind \"extracted\" ; dct:source \"doi:10.1000/b4c\" FILTER(?g = <{graph2}>) }}"
    );
    wait_for("the extracted base is loaded", 60, || {
        rows = query(net, port, &extracted_q)["results"]["bindings"].clone();
        rows.as_array().is_some_and(|r| !r.is_empty())
    });
    assert_eq!(rows[0]["src"]["value"], "doi:10.1000/b4c", "{rows}");
    let listed = net
        .client(net.rpc + 1, &["--json", "kg", "bases"])
        .ok()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}
