//! `metamesh kg`: the node's knowledge graph — SPARQL queries and full-text search over the
//! chain's records, through the node's `/sparql` endpoint.

use std::{path::Path, process::ExitCode};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::Value;

use super::client::RpcArgs;
use crate::Context;

#[derive(Subcommand, Debug)]
pub enum KgCommand {
    /// Run a SPARQL query: a file (`.rq`, `.sparql`, `-` for stdin) or the query text.
    /// Prefixes mm:, prov:, dcat:, dct:, schema:, bibo:, fabio:, qudt:, unit:, rdf:, rdfs:
    /// and xsd: need no declaration.
    Query {
        query: String,
        /// Print the endpoint's answer as is: json, xml, csv, tsv (results) or turtle,
        /// ntriples, rdfxml (graphs). Default: a table (`--json`: SPARQL JSON results).
        #[arg(long)]
        format: Option<String>,
        /// Query private graphs here instead of the node: N-Quads or N-Triples stored
        /// encrypted (`data add --encrypt`), decrypted with a key shared with `--from`; the
        /// triples never leave this machine. Each file's triples outside a named graph land in
        /// `<ipfs://CID>`. Repeatable.
        #[arg(long, value_name = "CID")]
        private: Vec<String>,
        #[command(flatten)]
        sender: super::client::SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Candidate statements from a paper's text (plain UTF-8; `-` for stdin): materials,
    /// properties and values with units, each with a confidence — the extracted knowledge
    /// base's input. Prints a table, `--json` the candidates, `--nquads` them as RDF.
    Extract {
        file: std::path::PathBuf,
        /// The paper the text came from (default: `urn:metamesh:data:0x<SM3 of the file>`,
        /// the dataset IRI the file gets when registered on an sm chain).
        #[arg(long, value_name = "IRI")]
        source: Option<String>,
        /// Candidates below this confidence are left out.
        #[arg(long, default_value_t = 0.0)]
        min_confidence: f64,
        /// Print N-Quads (reified statements with confidence and source) instead.
        #[arg(long)]
        nquads: bool,
    },
    /// Register a knowledge base: an N-Quads file added as public data (`data add FILE
    /// --register`), curated (needs the curator role) or extracted (names its source). Every
    /// node loads it into the graph `urn:metamesh:kb:0xID`.
    Register {
        /// The file's CID.
        cid: String,
        /// `curated` or `extracted`.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// What it was checked against or extracted from (a DOI, `ipfs://CID`, a URL).
        #[arg(long, default_value = "")]
        source: String,
        #[command(flatten)]
        sender: super::client::SenderArgs,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// The registered knowledge bases.
    Bases {
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Full-text search over titles, descriptions, names and labels of chain records.
    Search {
        /// The words (quoted phrases, `+must`, `-not` work as in a search engine).
        words: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

fn sparql_url(rpc: &RpcArgs) -> String {
    format!("{}/sparql", rpc.url.trim_end_matches('/'))
}

/// The query text of an argument: a file's content, stdin's, or the argument itself.
fn query_text(arg: &str) -> anyhow::Result<String> {
    let path = Path::new(arg);
    let looks_like_file = arg == "-"
        || arg.ends_with(".rq")
        || arg.ends_with(".sparql")
        || (!arg.contains(char::is_whitespace) && path.is_file());
    if !looks_like_file {
        return Ok(arg.to_owned());
    }
    let bytes = super::read_input(path)?;
    String::from_utf8(bytes).with_context(|| format!("{arg} is not UTF-8 text"))
}

/// POSTs a query; the endpoint's error message becomes the error.
fn post(rpc: &RpcArgs, query: &str, accept: &str) -> anyhow::Result<String> {
    let url = sparql_url(rpc);
    let mut response = ureq::post(&url)
        .header("Content-Type", "application/sparql-query")
        .header("Accept", accept)
        .config()
        .http_status_as_error(false)
        .build()
        .send(query)
        .with_context(|| format!("no node answers at {url} (is `metamesh devnet` running?)"))?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .context("reading the endpoint's answer")?;
    if !status.is_success() {
        bail!("{} ({status})", body.trim());
    }
    Ok(body)
}

fn media(format: &str) -> &str {
    match format {
        "json" => "application/sparql-results+json",
        "xml" => "application/sparql-results+xml",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "turtle" | "ttl" => "text/turtle",
        "ntriples" | "nt" => "application/n-triples",
        "rdfxml" => "application/rdf+xml",
        other => other,
    }
}

/// A term of SPARQL JSON results as a short string.
fn term(v: &Value) -> String {
    let value = v["value"].as_str().unwrap_or_default();
    match v["type"].as_str() {
        Some("uri") => value.to_owned(),
        Some("bnode") => format!("_:{value}"),
        _ => value.to_owned(),
    }
}

/// SELECT results as aligned columns; ASK as true/false.
fn table(results: &Value) -> String {
    if let Some(b) = results.get("boolean") {
        return b.to_string();
    }
    let vars: Vec<&str> = results["head"]["vars"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = results["results"]["bindings"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|row| vars.iter().map(|v| term(&row[*v])).collect())
                .collect()
        })
        .unwrap_or_default();
    let header: Vec<String> = vars.iter().map(|v| format!("?{v}")).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    format!(
        "{}\n({} rows)",
        crate::output::table(&header, &rows),
        rows.len()
    )
}

/// A SPARQL string literal of any text.
pub(crate) fn literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn extract(
    ctx: &Context,
    file: &Path,
    source: Option<String>,
    min_confidence: f64,
    nquads: bool,
) -> anyhow::Result<ExitCode> {
    use metamesh_knowledge::{extract, oxigraph};
    if !(0.0..=1.0).contains(&min_confidence) {
        bail!("--min-confidence must be between 0 and 1");
    }
    let bytes = super::read_input(file)?;
    let text = String::from_utf8(bytes.clone()).with_context(|| {
        format!(
            "{} is not UTF-8 text (extract the text of a PDF first)",
            file.display()
        )
    })?;
    let digest = metamesh_crypto::Suite::Sm.hash(&bytes);
    let source = match source {
        Some(iri) => oxigraph::model::NamedNode::new(&iri)
            .map_err(|e| anyhow::anyhow!("--source `{iri}` is not an IRI: {e}"))?,
        None => metamesh_knowledge::vocab::data(&digest),
    };
    let candidates: Vec<_> = extract::extract(&text)
        .into_iter()
        .filter(|c| c.confidence >= min_confidence)
        .collect();
    if nquads {
        let graph = oxigraph::model::NamedNode::new_unchecked(format!(
            "urn:metamesh:extracted:0x{}",
            hex::encode(digest)
        ));
        let mut out = Vec::new();
        let mut w = oxigraph::io::RdfSerializer::from_format(oxigraph::io::RdfFormat::NQuads)
            .for_writer(&mut out);
        for q in extract::quads(&candidates, &source, &graph) {
            w.serialize_quad(&q)?;
        }
        w.finish()?;
        std::io::Write::write_all(&mut std::io::stdout(), &out)?;
        return Ok(ExitCode::SUCCESS);
    }
    ctx.out.emit(&candidates, || {
        if candidates.is_empty() {
            return "no candidate statements found".into();
        }
        candidates
            .iter()
            .map(|c| {
                format!(
                    "{:.2}  {} ({})  {} = {} {}   [sentence {}]",
                    c.confidence, c.mention, c.formula, c.property, c.value, c.unit, c.index
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

/// The most one private graph may weigh, decrypted (its quads take a few times that).
const MAX_PRIVATE_BYTES: u64 = 256 << 20;

/// Loads private graphs into a graph of this process and queries it there.
fn local(
    ctx: &Context,
    query: &str,
    format: Option<&str>,
    cids: &[String],
    sender: &super::client::SenderArgs,
    rpc: &RpcArgs,
) -> anyhow::Result<ExitCode> {
    use metamesh_knowledge::{
        Change, Formats, KnowledgeGraph, Limits, Request,
        oxigraph::{
            io::{RdfFormat, RdfParser},
            model::{GraphName, Quad},
        },
    };
    let kg = std::sync::Arc::new(KnowledgeGraph::new()?);
    for cid in cids {
        let bytes = super::data::content_bytes(ctx, rpc, sender, cid, MAX_PRIVATE_BYTES)?;
        let graph = metamesh_knowledge::vocab::content(cid);
        let mut quads = Vec::new();
        // Each file's blank nodes are its own.
        for q in RdfParser::from_format(RdfFormat::NQuads)
            .rename_blank_nodes()
            .for_slice(&bytes)
        {
            let q = q.with_context(|| format!("{cid} is not N-Quads or N-Triples"))?;
            let graph_name = match q.graph_name {
                GraphName::DefaultGraph => GraphName::NamedNode(graph.clone()),
                g => g,
            };
            quads.push(Quad::new(q.subject, q.predicate, q.object, graph_name));
        }
        // Each named graph of the file as its own change, so dropping one drops it whole.
        let mut by_graph: std::collections::BTreeMap<String, Vec<Quad>> = Default::default();
        for q in quads {
            by_graph
                .entry(q.graph_name.to_string())
                .or_default()
                .push(q);
        }
        let changes: Vec<Change> = by_graph
            .into_values()
            .filter_map(|quads| match &quads[0].graph_name {
                GraphName::NamedNode(g) => Some(Change::Put {
                    graph: g.clone(),
                    quads,
                }),
                _ => None,
            })
            .collect();
        kg.apply(&changes, None)?;
    }
    let formats = match format {
        Some(f) => Formats::negotiate(None, Some(f))?,
        None => Formats::default(),
    };
    let answer = metamesh_knowledge::sparql::run(
        &kg,
        &Request {
            query: query.to_owned(),
            ..Default::default()
        },
        formats,
        Limits::default(),
    )?;
    if format.is_some() {
        std::io::Write::write_all(&mut std::io::stdout(), &answer.body)?;
        return Ok(ExitCode::SUCCESS);
    }
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(v) => ctx.out.emit(&v, || table(&v)),
        Err(_) => print!("{}", String::from_utf8_lossy(&answer.body)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(ctx: &Context, cmd: KgCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KgCommand::Register {
            cid,
            kind,
            name,
            description,
            source,
            sender,
            rpc,
        } => {
            let a = super::kg_bases::BaseArgs {
                cid,
                kind,
                name,
                description,
                source,
            };
            super::kg_bases::register(ctx, a, &sender, &rpc)
        }
        KgCommand::Bases { rpc } => super::kg_bases::list(ctx, &rpc),
        KgCommand::Extract {
            file,
            source,
            min_confidence,
            nquads,
        } => extract(ctx, &file, source, min_confidence, nquads),
        KgCommand::Query {
            query,
            format,
            private,
            sender,
            rpc,
        } => {
            let text = query_text(&query)?;
            if !private.is_empty() {
                return local(ctx, &text, format.as_deref(), &private, &sender, &rpc);
            }
            if let Some(f) = format {
                print!("{}", post(&rpc, &text, media(&f))?);
                return Ok(ExitCode::SUCCESS);
            }
            let body = post(
                &rpc,
                &text,
                "application/sparql-results+json, text/turtle;q=0.9",
            )?;
            match serde_json::from_str::<Value>(&body) {
                Ok(v) => ctx.out.emit(&v, || table(&v)),
                // A graph (CONSTRUCT, DESCRIBE) comes as Turtle.
                Err(_) => print!("{body}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        KgCommand::Search { words, limit, rpc } => {
            let words = words.join(" ");
            if words.trim().is_empty() {
                bail!("kg search needs some words to look for");
            }
            if !(1..=10_000).contains(&limit) {
                bail!("--limit must be 1..=10000");
            }
            let q = format!(
                "SELECT ?score ?subject ?text ?graph WHERE {{ SERVICE mm:search {{ ?subject mm:matches {} ; mm:score ?score ; mm:text ?text ; mm:graph ?graph ; mm:limit {limit} }} }} ORDER BY DESC(?score)",
                literal(&words)
            );
            let body = post(&rpc, &q, "application/sparql-results+json")?;
            let v: Value = serde_json::from_str(&body).context("the endpoint's answer")?;
            ctx.out.emit(&v, || {
                let hits = v["results"]["bindings"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if hits.is_empty() {
                    return format!("nothing matches {words:?}");
                }
                hits.iter()
                    .map(|h| {
                        let score: f64 = term(&h["score"]).parse().unwrap_or(0.0);
                        format!(
                            "{score:>7.3}  {}\n         {}",
                            term(&h["subject"]),
                            term(&h["text"])
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}
