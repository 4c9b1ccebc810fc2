//! The OPTIMADE API (v1.2) over a [`Database`]: one pure function from a request (path under
//! `/optimade`, raw query string, the base URL clients reach it at, the time) to a response.
//!
//! ```text
//! /versions                         text/csv: version\n1
//! [/v1]/info                        the implementation, API versions, entry types
//! [/v1]/info/structures|references  the properties of an entry type
//! [/v1]/links                       (none yet)
//! [/v1]/structures[/{id}]           filter, page_limit (default 20, at most 500), page_offset,
//! [/v1]/references[/{id}]           response_fields, sort (one property, `-` for descending)
//! /vN/…                             553 for any other major version
//! ```
//! Errors are JSON:API error objects with their status: 400 for a bad filter or parameter
//! (naming the problem), 404 for an unknown entry or path, 553 for an unsupported version.

use serde_json::{Map, Value, json};

use super::{
    database::{Database, Entry, Property, REFERENCE_PROPERTIES, STRUCTURE_PROPERTIES},
    filter,
};

pub const API_VERSION: &str = "1.2.0";
const PREFIX: &str = "bmci";
const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 500;

/// One request to the API.
pub struct Request<'a> {
    /// The path under `/optimade` (`/v1/structures`, `/info`, …).
    pub path: &'a str,
    /// The raw query string (percent-encoded, without `?`).
    pub query: &'a str,
    /// How clients reach `/optimade` (`http://127.0.0.1:8545/optimade`), for absolute links.
    pub base: &'a str,
    /// Now, `YYYY-MM-DDThh:mm:ssZ`.
    pub now: &'a str,
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

const JSON: &str = "application/vnd.api+json";

/// Percent-decoding only: OPTIMADE filters keep `+` as it is.
fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("a bad percent escape in `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a parameter is not UTF-8".into())
}

fn params(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

struct Ctx<'a> {
    req: &'a Request<'a>,
    representation: String,
}

impl Ctx<'_> {
    fn meta(&self, extra: Map<String, Value>) -> Value {
        let mut m = json!({
            "api_version": API_VERSION,
            "query": {"representation": self.representation},
            "more_data_available": false,
            "schema": "https://schemas.optimade.org/openapi/v1.2/optimade.json",
            "time_stamp": self.req.now,
            "provider": {
                "name": "BMCI",
                "description": "The Boron Material Computing Index of MetaMesh: structures, computed properties and literature, with their provenance on chain",
                "prefix": PREFIX,
                "homepage": null,
            },
            "implementation": {
                "name": "metamesh",
                "version": env!("CARGO_PKG_VERSION"),
            },
        });
        if let Value::Object(o) = &mut m {
            o.extend(extra);
        }
        m
    }

    fn ok(&self, data: Value, extra: Map<String, Value>, links: Option<Value>) -> Response {
        let mut body = json!({"data": data, "meta": self.meta(extra)});
        if let Some(l) = links {
            body["links"] = l;
        }
        Response {
            status: 200,
            content_type: JSON,
            body: body.to_string(),
        }
    }

    fn error(&self, status: u16, title: &str, detail: impl Into<String>) -> Response {
        let body = json!({
            "meta": self.meta(Map::new()),
            "errors": [{"status": status.to_string(), "title": title, "detail": detail.into()}],
        });
        Response {
            status,
            content_type: JSON,
            body: body.to_string(),
        }
    }
}

/// Answers one request.
pub fn handle(db: &Database, req: &Request<'_>) -> Response {
    let representation = if req.query.is_empty() {
        req.path.to_owned()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let ctx = Ctx {
        req,
        representation,
    };
    let path = req.path.trim_end_matches('/');
    if path == "/versions" {
        return Response {
            status: 200,
            content_type: "text/csv; header=present",
            body: "version\n1\n".into(),
        };
    }
    let rest = match path.strip_prefix("/v1") {
        Some(r) if r.is_empty() || r.starts_with('/') => r,
        _ => {
            let version = path
                .strip_prefix("/v")
                .and_then(|r| r.split('/').next())
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
            if let Some(v) = version {
                return ctx.error(
                    553,
                    "Version Not Supported",
                    format!(
                        "version v{v} is not served here: this is OPTIMADE {API_VERSION} at /v1"
                    ),
                );
            }
            path
        }
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] | ["info"] => info(&ctx),
        ["info", "structures"] => entry_info(&ctx, "structures", &structure_properties(db)),
        ["info", "references"] => entry_info(&ctx, "references", REFERENCE_PROPERTIES),
        ["links"] => ctx.ok(json!([]), Map::new(), None),
        ["structures"] => list(&ctx, db, "structures"),
        ["references"] => list(&ctx, db, "references"),
        ["structures", id] => single(&ctx, db, "structures", id),
        ["references", id] => single(&ctx, db, "references", id),
        _ => ctx.error(
            404,
            "Not Found",
            format!(
                "no OPTIMADE endpoint at {path} (versions, info, links, structures, references)"
            ),
        ),
    }
}

fn info(ctx: &Ctx<'_>) -> Response {
    let data = json!({
        "id": "/",
        "type": "info",
        "attributes": {
            "api_version": API_VERSION,
            "available_api_versions": [{"url": format!("{}/v1", ctx.req.base), "version": API_VERSION}],
            "formats": ["json"],
            "available_endpoints": ["info", "links", "structures", "references"],
            "entry_types_by_format": {"json": ["structures", "references"]},
            "is_index": false,
        },
    });
    ctx.ok(data, Map::new(), None)
}

/// The structures' properties: the static ones and what verified runs computed.
fn structure_properties(db: &Database) -> Vec<Property> {
    STRUCTURE_PROPERTIES
        .iter()
        .chain(&db.computed)
        .cloned()
        .collect()
}

fn entry_info(ctx: &Ctx<'_>, kind: &str, props: &[Property]) -> Response {
    let properties: Map<String, Value> = props
        .iter()
        .map(|p| {
            let mut v =
                json!({"description": p.description, "type": p.kind, "sortable": sortable(p.kind)});
            if let Some(u) = &p.unit {
                v["unit"] = json!(u);
            }
            (p.name.to_string(), v)
        })
        .collect();
    let data = json!({
        "id": kind,
        "type": "info",
        "description": format!("BMCI {kind}"),
        "properties": properties,
        "formats": ["json"],
        "output_fields_by_format": {"json": props.iter().map(|p| p.name.as_ref()).collect::<Vec<_>>()},
    });
    ctx.ok(data, Map::new(), None)
}

fn sortable(kind: &str) -> bool {
    matches!(kind, "string" | "integer" | "float" | "timestamp")
}

fn entries<'d>(db: &'d Database, kind: &str) -> (&'d [Entry], Vec<Property>) {
    if kind == "structures" {
        (&db.structures, structure_properties(db))
    } else {
        (&db.references, REFERENCE_PROPERTIES.to_vec())
    }
}

/// What a filter sees of an entry: its attributes with its id and type.
fn filterable(e: &Entry, kind: &str) -> Value {
    let mut v = e.attributes.clone();
    v["id"] = json!(e.id);
    v["type"] = json!(kind);
    v
}

fn resource(e: &Entry, kind: &str, fields: Option<&[String]>) -> Value {
    let attributes = match fields {
        None => e.attributes.clone(),
        Some(fields) => Value::Object(
            fields
                .iter()
                .filter(|f| !matches!(f.as_str(), "id" | "type" | "links" | "relationships"))
                .map(|f| {
                    (
                        f.clone(),
                        e.attributes.get(f).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
    };
    let mut r = json!({"id": e.id, "type": kind, "attributes": attributes});
    if kind == "structures" {
        r["relationships"] = json!({"references": {"data": e.references.iter()
            .map(|id| json!({"id": id, "type": "references"})).collect::<Vec<_>>()}});
    }
    r
}

/// The parameters of an entry listing.
struct Listing {
    filter: Option<(String, filter::Expr)>,
    limit: usize,
    offset: usize,
    fields: Option<Vec<String>>,
    sort: Option<(String, bool)>,
}

fn listing(ctx: &Ctx<'_>, props: &[Property]) -> Result<Listing, Response> {
    let bad = |m: String| ctx.error(400, "Bad Request", m);
    let mut l = Listing {
        filter: None,
        limit: DEFAULT_PAGE,
        offset: 0,
        fields: None,
        sort: None,
    };
    for (k, v) in params(ctx.req.query).map_err(bad)? {
        match k.as_str() {
            "filter" if !v.trim().is_empty() => {
                let e = filter::parse(&v).map_err(|e| bad(format!("filter: {e}")))?;
                for p in e.properties() {
                    let name = p[0].as_str();
                    let ours = props.iter().any(|q| q.name == name);
                    // Another provider's field is simply unknown here; an unprefixed name
                    // that is no property is a mistake.
                    let foreign =
                        name.starts_with('_') && !name.starts_with(&format!("_{PREFIX}_"));
                    if !ours && !foreign {
                        return Err(bad(format!(
                            "filter: `{name}` is not a property of this entry type"
                        )));
                    }
                }
                l.filter = Some((v, e));
            }
            "filter" => {}
            "page_limit" => {
                l.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| bad(format!("page_limit must be 1..={MAX_PAGE}, got `{v}`")))?;
            }
            "page_offset" => {
                l.offset = v
                    .parse()
                    .map_err(|_| bad(format!("page_offset must be a number, got `{v}`")))?;
            }
            "response_fields" => {
                // Known properties and other providers' fields, each once: every name asked
                // for is a key in every entry returned.
                let mut fields: Vec<String> = Vec::new();
                for f in v.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    // Any property name (the specification's, ours, another provider's): a
                    // name we lack comes back as null. Malformed names are refused.
                    let well_formed = f.len() <= 64
                        && f.bytes()
                            .next()
                            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
                        && f.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                    if !well_formed {
                        return Err(bad(format!(
                            "response_fields: `{f}` is not a property name"
                        )));
                    }
                    if !fields.iter().any(|x| x == f) {
                        fields.push(f.to_owned());
                    }
                    if fields.len() > 128 {
                        return Err(bad("response_fields: more than 128 fields".into()));
                    }
                }
                l.fields = Some(fields);
            }
            "sort" => {
                let (name, desc) = match v.strip_prefix('-') {
                    Some(n) => (n, true),
                    None => (v.as_str(), false),
                };
                if name.contains(',') {
                    return Err(ctx.error(
                        501,
                        "Not Implemented",
                        "sorting by more than one property",
                    ));
                }
                match props.iter().find(|p| p.name == name) {
                    Some(p) if sortable(p.kind) => l.sort = Some((name.to_owned(), desc)),
                    _ => return Err(bad(format!("sort: `{name}` is not a sortable property"))),
                }
            }
            "response_format" if v == "json" => {}
            "response_format" => return Err(bad(format!("response_format `{v}`: only json"))),
            "email_address" | "include" | "api_hint" | "page_number" | "page_cursor"
            | "page_above" | "page_below" => {}
            // Unknown parameters are ignored, as the specification asks.
            _ => {}
        }
    }
    Ok(l)
}

/// A total order over values: numbers, then strings, then anything else, then null.
fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let rank = |v: &Value| match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Null => 3,
        _ => 2,
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn list(ctx: &Ctx<'_>, db: &Database, kind: &str) -> Response {
    let (all, props) = entries(db, kind);
    let l = match listing(ctx, &props) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut matched: Vec<(&Entry, Value)> = all
        .iter()
        .map(|e| (e, filterable(e, kind)))
        .filter(|(_, v)| l.filter.as_ref().is_none_or(|(_, f)| filter::matches(f, v)))
        .collect();
    if let Some((name, desc)) = &l.sort {
        matched.sort_by(|a, b| {
            let o = order(&a.1[name.as_str()], &b.1[name.as_str()]);
            if *desc { o.reverse() } else { o }
        });
    }
    let returned = matched.len();
    let page: Vec<Value> = matched
        .iter()
        .skip(l.offset)
        .take(l.limit)
        .map(|(e, _)| resource(e, kind, l.fields.as_deref()))
        .collect();
    let more = l.offset + page.len() < returned;
    let next = more.then(|| {
        let mut q = vec![
            format!("page_limit={}", l.limit),
            format!("page_offset={}", l.offset + page.len()),
        ];
        if let Some((text, _)) = &l.filter {
            q.push(format!("filter={}", encode(text)));
        }
        if let Some(f) = &l.fields {
            q.push(format!("response_fields={}", encode(&f.join(","))));
        }
        if let Some((name, desc)) = &l.sort {
            q.push(format!("sort={}{name}", if *desc { "-" } else { "" }));
        }
        format!("{}/v1/{kind}?{}", ctx.req.base, q.join("&"))
    });
    let mut extra = Map::new();
    extra.insert("more_data_available".into(), json!(more));
    extra.insert("data_returned".into(), json!(returned));
    extra.insert("data_available".into(), json!(all.len()));
    ctx.ok(Value::Array(page), extra, Some(json!({"next": next})))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn single(ctx: &Ctx<'_>, db: &Database, kind: &str, id: &str) -> Response {
    let (all, props) = entries(db, kind);
    let l = match listing(ctx, &props) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let id = decode(id).unwrap_or_else(|_| id.to_owned());
    match all.iter().find(|e| e.id == id) {
        Some(e) => {
            let mut extra = Map::new();
            extra.insert("data_returned".into(), json!(1));
            extra.insert("data_available".into(), json!(all.len()));
            ctx.ok(resource(e, kind, l.fields.as_deref()), extra, None)
        }
        None => ctx.error(404, "Not Found", format!("no {kind} entry `{id}`")),
    }
}
