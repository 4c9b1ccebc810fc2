//! The computing network on a real 4-node devnet with its provider agents (separate
//! processes): the hBN example's task graph end to end with 2-replica quorums, the same job on
//! every node, results, explanations, its provenance in the knowledge graph and a BMCI
//! algorithm run into computed properties (`compute/bmci.rs`), curated and extracted
//! knowledge bases (`compute/bases.rs`); then a corrupting provider
//! outvoted by a third replica that had to wait for a provider to register, a GPU job waiting for a GPU centre, a provider
//! killed mid-task replaced after its timeout, and a killed agent that resumes its queue.

#[path = "compute/bases.rs"]
mod bases;
#[path = "compute/bmci.rs"]
mod bmci;
mod common;

use std::path::PathBuf;

use common::{
    Scratch,
    net::{Net, rpc, wait_for},
};
use serde_json::{Value, json};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hbn-bands")
}

fn job(net: &Net, id: &str) -> Value {
    rpc(net.rpc, "mm_getJob", json!([id])).unwrap_or(Value::Null)
}

/// The first funded account of node 0's keystore (the signer's key comes first).
fn funded(net: &Net) -> String {
    net.genesis()["grants"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn submit(net: &Net, file: &str) -> String {
    let from = funded(net);
    let args = ["--json", "job", "submit", file, "--detach", "--from", &from];
    net.client(net.rpc, &args).ok().json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn wait_done(net: &Net, id: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let j = job(net, id);
        if matches!(
            j["state"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            return j;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} did not end within {secs} s: {j:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

fn provider(net: &Net, i: usize) -> Value {
    let a = address(net, i);
    rpc(net.rpc, "mm_getProvider", json!([a])).unwrap_or(Value::Null)
}

fn address(net: &Net, i: usize) -> String {
    let dir = net.root.join(format!("provider-{i}/keystore"));
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let key: Value = serde_json::from_str(&std::fs::read_to_string(name).unwrap()).unwrap();
    format!(
        "0x{}",
        key["address"].as_str().unwrap().trim_start_matches("0x")
    )
    .to_lowercase()
}

fn same_addr(a: &Value, b: &str) -> bool {
    a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(b))
}

#[test]
fn malformed_job_and_inventory_files_are_named() {
    let s = Scratch::new();
    let bad = s.write("bad.toml", b"name = \"x\"\nmax_price = 5\n");
    let r = s.mm(&["job", "submit", &bad, "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("bad.toml") && r.stderr.contains("max_price"),
        "{}",
        r.stderr
    );
    let cyclic = s.write("c.toml", b"name = \"c\"\nmax_price = \"1 MMT\"\n[[tasks]]\nname = \"a\"\nprogram = \"QmU3AjaDHvRqCySrv16DqQtHcDteNF6Mxtq9J3F4qj1hTm\"\nafter = [\"b\"]\n");
    let r = s.mm(&["job", "submit", &cyclic, "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("names no task"), "{}", r.stderr);
    let inv = s.write("inv.toml", b"executors = [\"wasm\"]\nfuel_price = \"1\"\nstake = \"1\"\nmemory = \"lots\"\n[cpu]\ncores = 1\n");
    let r = s.mm(&[
        "provider",
        "register",
        "--inventory",
        &inv,
        "--rpc",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("memory") && r.stderr.contains("lots"),
        "{}",
        r.stderr
    );
}

/// The committed Wasm programs are what their build scripts make from the C beside them.
#[test]
fn the_example_programs_build_from_their_sources() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let s = Scratch::new();
    for (dir, programs) in [
        (
            "hbn-bands",
            &["kernels/prepare", "kernels/bands", "kernels/gap"][..],
        ),
        ("bmci-density", &["density"][..]),
    ] {
        let out = s.path(dir);
        let built = std::process::Command::new("bash")
            .arg(root.join(dir).join("build.sh"))
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{dir}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        for p in programs {
            let name = std::path::Path::new(p).file_name().unwrap();
            let fresh = std::fs::read(out.join(name).with_extension("wasm")).unwrap();
            let committed = std::fs::read(root.join(dir).join(p).with_extension("wasm")).unwrap();
            assert!(
                fresh == committed,
                "{dir}/{p}.wasm is not what build.sh makes"
            );
        }
    }
}

#[test]
fn the_example_job_runs_on_the_devnets_providers() {
    let s = Scratch::new();
    let net = Net::start_with(&s, "net", 3);
    wait_for("three providers register", 90, || {
        rpc(net.rpc, "mm_listProviders", json!([])).and_then(|v| v.as_array().map(Vec::len))
            == Some(3)
    });
    let file = example().join("job.toml");
    let id = submit(&net, file.to_str().unwrap());
    let done = wait_done(&net, &id, 240);
    assert_eq!(done["state"], "completed", "{done:#}");
    // Every node has the same job record, assignments and results.
    for p in net.ports() {
        wait_for("the node has the job's end", 30, || {
            job_at(p, &id)["state"] == "completed"
        });
        assert_eq!(job_at(p, &id), done, "node on port {p}");
    }
    let status = net
        .client(net.rpc, &["--json", "job", "status", &id])
        .ok()
        .json();
    assert_eq!(status["tasks"].as_array().unwrap().len(), 5);
    for t in status["tasks"].as_array().unwrap() {
        assert_eq!(t["state"], "completed");
        assert_eq!(t["providers"].as_array().unwrap().len(), 2, "{t}");
        assert!(t["outputs"].as_object().is_some_and(|o| !o.is_empty()));
    }
    let out = s.path("result");
    net.client(
        net.rpc + 2,
        &["job", "result", &id, "-o", out.to_str().unwrap()],
    )
    .ok();
    let gap: Value =
        serde_json::from_slice(&std::fs::read(out.join("gap/gap.json")).unwrap()).unwrap();
    assert!(
        (gap["gap_eV"].as_f64().unwrap() - 4.64).abs() < 1e-6,
        "{gap}"
    );
    let explain = net
        .client(net.rpc + 3, &["--json", "job", "explain", &id])
        .ok()
        .json();
    assert_eq!(
        explain.as_array().unwrap().len(),
        5,
        "one placement per task"
    );
    for a in explain.as_array().unwrap() {
        for c in a["candidates"].as_array().unwrap() {
            let scores = c["scores"].as_object().unwrap();
            assert_eq!(scores.len(), 7, "{c}");
            for k in [
                "load",
                "idle",
                "data",
                "price",
                "performance",
                "network",
                "quality",
            ] {
                assert!(scores[k].as_u64().is_some_and(|v| v <= 100), "{k} in {c}");
            }
        }
    }
    let lineage = net
        .client(net.rpc, &["--json", "job", "lineage", &id])
        .ok()
        .json();
    assert_eq!(lineage["lineage"].as_array().unwrap().len(), 5);
    let logs = net.client(net.rpc, &["job", "logs", &id, "gap"]).ok();
    assert!(
        logs.stdout.contains("gap: 4.6400 eV (direct)"),
        "{}",
        logs.stdout
    );
    provenance_in_the_knowledge_graph(&s, &net, &id);
    bmci::algorithms_run_into_computed_properties(&net);
    bases::curated_and_extracted_bases_load_into_their_own_graphs(&s, &net);
}

/// The verified result of `gap`, followed in one SPARQL query (by SPARQLWrapper, a standard
/// client) to its inputs, program, providers and the block that accepted it.
fn provenance_in_the_knowledge_graph(s: &Scratch, net: &Net, id: &str) {
    let chain = rpc(net.rpc, "mm_getComputeResult", json!([id, 4])).unwrap();
    assert_eq!(chain["name"], "gap");
    let accepted = rpc(
        net.rpc,
        "mm_getEvents",
        json!([{"fromBlock": 0, "kinds": ["resultAccepted"]}]),
    )
    .unwrap();
    let block = accepted["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["job"] == id && e["event"]["task"] == 4)
        .map(|e| e["blockNumber"].as_u64().unwrap())
        .expect("the gap result's acceptance event");
    let select = s.write(
        "provenance.rq",
        format!(
            "SELECT ?input ?program ?provider ?number WHERE {{
               <urn:metamesh:result:{id}/4> prov:wasGeneratedBy ?task ; mm:acceptedIn ?block .
               ?task prov:used ?input ; mm:program ?program ; prov:wasAssociatedWith ?provider .
               ?block mm:number ?number .
               FILTER(?input != ?program)
             }}"
        )
        .as_bytes(),
    );
    let construct = s.write(
        "job.rq",
        format!(
            "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s dct:isPartOf <urn:metamesh:job:{id}> ; ?p ?o }}"
        )
        .as_bytes(),
    );
    let client = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/sparql.py");
    let endpoint = format!("http://127.0.0.1:{}/sparql", net.rpc + 1);
    // The indexer follows the chain a moment behind it.
    let mut answer = Value::Null;
    wait_for("the result is in the knowledge graph", 30, || {
        let out = std::process::Command::new("python3")
            .arg(&client)
            .args([&endpoint, &select, &construct])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        answer = serde_json::from_slice(&out.stdout).unwrap();
        !answer["bindings"].as_array().unwrap().is_empty()
    });
    let rows = answer["bindings"].as_array().unwrap();
    let col = |name: &str| {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| r[name]["value"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut inputs: Vec<String> = chain["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("ipfs://{}", i["cid"].as_str().unwrap()))
        .collect();
    inputs.sort();
    inputs.dedup();
    assert_eq!(col("input"), inputs, "{answer:#}");
    assert_eq!(
        col("program"),
        vec![format!("ipfs://{}", chain["program"].as_str().unwrap())]
    );
    let mut providers: Vec<String> = chain["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "urn:metamesh:account:{}",
                p.as_str().unwrap().to_lowercase()
            )
        })
        .collect();
    providers.sort();
    assert_eq!(col("provider"), providers);
    assert_eq!(col("number"), vec![block.to_string()]);
    assert!(
        answer["triples"].as_u64().unwrap() > 20,
        "rdflib parsed the job's tasks from our Turtle: {answer}"
    );
    // Full text through the CLI.
    let hits = net
        .client(net.rpc, &["--json", "kg", "search", "bands"])
        .ok()
        .json();
    assert!(
        !hits["results"]["bindings"].as_array().unwrap().is_empty(),
        "{hits}"
    );
    // BMCI: the seed's structures by OPTIMADE filter and by free text.
    let by_filter = net
        .client(
            net.rpc,
            &[
                "--json",
                "bmci",
                "search",
                "elements HAS ALL \"B\",\"N\" AND nelements=2",
            ],
        )
        .ok()
        .json();
    let data = by_filter["data"].as_array().unwrap();
    assert!(!data.is_empty(), "{by_filter}");
    assert!(
        data.iter()
            .all(|e| e["attributes"]["chemical_formula_reduced"] == "BN")
    );
    let by_text = net
        .client(net.rpc, &["--json", "bmci", "search", "boron", "nitride"])
        .ok()
        .json();
    assert!(
        by_text
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["attributes"]["chemical_formula_reduced"] == "BN"),
        "{by_text}"
    );
}

fn job_at(port: u16, id: &str) -> Value {
    rpc(port, "mm_getJob", json!([id])).unwrap_or(Value::Null)
}

/// A job file of one task in `s`, with the example's kernels.
fn one_task(
    s: &Scratch,
    name: &str,
    kernel: &str,
    args: &[&str],
    timeout: u64,
    extra: &str,
    verify: &str,
) -> String {
    let dir = example();
    let inputs = if kernel == "prepare" {
        format!(
            "{{ \"structure.json\" = \"{}\" }}",
            dir.join("data/hBN.json").display()
        )
    } else {
        let k = s.write(
            &format!("{name}-k.txt"),
            b"0 0.5 0.2\n1 1.2 0.4\n2 1.6 0.0\n",
        );
        format!(
            "{{ \"kpoints.txt\" = \"{k}\", \"structure.json\" = \"{}\" }}",
            dir.join("data/hBN.json").display()
        )
    };
    let text = format!(
        "name = \"{name}\"\nmax_price = \"50 MMT\"\n[[tasks]]\nname = \"{name}\"\nprogram = \"{}\"\nargs = {args:?}\ninputs = {inputs}\nresources = {{ cpu = 1, memory = \"64 MiB\"{extra} }}\nverification = {verify}\ntimeout = {timeout}\nfuel = 5000000000\n",
        dir.join(format!("kernels/{kernel}.wasm")).display()
    );
    s.write(&format!("{name}.toml"), text.as_bytes())
}

fn replicas(j: &Value) -> Vec<Value> {
    j["tasks"][0]["replicas"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn wrong_results_are_outvoted_silent_providers_replaced_and_agents_resume() {
    let s = Scratch::new();
    let net = Net::start_with(&s, "net", 0);
    let p1 = net.agent(1, &[]);
    let p3 = net.agent(3, &["--fault", "corrupt"]);
    wait_for("two providers register", 90, || {
        rpc(net.rpc, "mm_listProviders", json!([])).and_then(|v| v.as_array().map(Vec::len))
            == Some(2)
    });
    let stake3 = provider(&net, 3)["stake"]["wei"]
        .as_str()
        .unwrap()
        .parse::<u128>()
        .unwrap();

    // One honest and one corrupt replica: a tie. The third replica waits, as does a GPU job,
    // until the GPU centre registers.
    let quorum = "{ replicas = 2 }";
    let tie = submit(
        &net,
        &one_task(&s, "tie", "prepare", &["16"], 30, "", quorum),
    );
    let gpu = submit(
        &net,
        &one_task(
            &s,
            "gpu",
            "prepare",
            &["8"],
            30,
            ", gpu = { count = 1, model = \"A100\" }",
            "\"requester\"",
        ),
    );
    wait_for("the tie asks for a third replica", 90, || {
        job(&net, &tie)["tasks"][0]["wanted"] == 3
    });
    assert_eq!(
        job(&net, &gpu)["tasks"][0]["state"],
        "queued",
        "{:#}",
        job(&net, &gpu)
    );
    let p2 = net.agent(2, &[]);
    let tie_done = wait_done(&net, &tie, 120);
    assert_eq!(tie_done["state"], "completed", "{tie_done:#}");
    let r = replicas(&tie_done);
    let outvoted: Vec<&Value> = r.iter().filter(|x| x["state"] == "outvoted").collect();
    assert_eq!(outvoted.len(), 1, "{r:#?}");
    assert!(same_addr(&outvoted[0]["provider"], &address(&net, 3)));
    let three = provider(&net, 3);
    assert!(
        three["stake"]["wei"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .unwrap()
            < stake3,
        "slashed"
    );
    assert!(
        three["quality"].as_u64().unwrap() < 500 && three["outvoted"] == 1,
        "{three}"
    );
    wait_for("the GPU job waits for the submitter's verdict", 120, || {
        job(&net, &gpu)["tasks"][0]["state"] == "review"
    });
    assert!(
        same_addr(
            &replicas(&job(&net, &gpu))[0]["provider"],
            &address(&net, 2)
        ),
        "the GPU centre ran it"
    );
    net.client(
        net.rpc,
        &["job", "accept", &gpu, "gpu", "--from", &funded(&net)],
    )
    .ok();
    assert_eq!(wait_done(&net, &gpu, 60)["state"], "completed");
    drop(p3);
    let p3 = net.agent(3, &[]);

    // A provider killed mid-task: the other replica's provider waits; after the timeout the
    // third provider takes the task.
    let slow = submit(
        &net,
        &one_task(&s, "slow", "bands", &["800000"], 16, "", quorum),
    );
    wait_for("the slow task is placed", 60, || {
        replicas(&job(&net, &slow)).len() == 2
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let victim = replicas(&job(&net, &slow))[0]["provider"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let mut agents = vec![(1, p1), (2, p2), (3, p3)];
    let at = agents
        .iter()
        .position(|(i, _)| address(&net, *i) == victim)
        .unwrap();
    let (killed, proc) = agents.remove(at);
    drop(proc);
    let slow_done = wait_done(&net, &slow, 180);
    assert_eq!(slow_done["state"], "completed", "{slow_done:#}");
    let r = replicas(&slow_done);
    assert!(
        r.iter()
            .any(|x| x["state"] == "timed-out" && same_addr(&x["provider"], &victim)),
        "{r:#?}"
    );
    assert_eq!(r.iter().filter(|x| x["state"] == "agreed").count(), 2);
    assert_eq!(provider(&net, killed)["timeouts"], 1);

    // An agent killed mid-run and started again resumes its queue and finishes in time.
    agents.push((killed, net.agent(killed, &[])));
    let resume = submit(
        &net,
        &one_task(&s, "resume", "bands", &["800000"], 40, "", quorum),
    );
    wait_for("the resumed task is placed", 60, || {
        replicas(&job(&net, &resume)).len() == 2
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let who = replicas(&job(&net, &resume))[0]["provider"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let at = agents
        .iter()
        .position(|(i, _)| address(&net, *i) == who)
        .unwrap();
    let (i, proc) = agents.remove(at);
    drop(proc);
    let queue = net.root.join(format!("provider-{i}/provider/queue.json"));
    let saved: Value = serde_json::from_slice(&std::fs::read(&queue).unwrap()).unwrap();
    assert!(
        saved["work"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["job"] == resume.as_str()),
        "{saved}"
    );
    agents.push((i, net.agent(i, &[])));
    let resumed = wait_done(&net, &resume, 180);
    assert_eq!(resumed["state"], "completed", "{resumed:#}");
    let r = replicas(&resumed);
    assert!(
        r.iter()
            .any(|x| x["state"] == "agreed" && same_addr(&x["provider"], &who)),
        "{r:#?}"
    );
    assert!(
        r.iter().all(|x| x["state"] == "agreed"),
        "no timeout: {r:#?}"
    );
}
