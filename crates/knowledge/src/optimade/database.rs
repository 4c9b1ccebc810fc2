//! BMCI's entries as OPTIMADE serves them: structures and references, from the seed data set
//! (`data/bmci/seed.json`, built by `scripts/bmci/build-seed.py` from PyPI wheels), each with
//! where it came from. Facts about a formula (experimental formation enthalpies) are attached
//! to the structures of that reduced formula as provider fields.

use std::{borrow::Cow, collections::BTreeMap};

use serde_json::{Value, json};

use super::structure::Structure;

/// The seed, in the binary: a node serves BMCI without any file beside it.
const SEED: &str = include_str!("../../../../data/bmci/seed.json");
/// When the seed's sources were published (the pymatgen release it was read from).
const SEED_DATE: &str = "2026-10-24T00:00:00Z";

/// One entry: its id and its attributes (relationships for structures).
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    pub attributes: Value,
    pub references: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Database {
    pub structures: Vec<Entry>,
    pub references: Vec<Entry>,
    /// Structure properties beyond [`STRUCTURE_PROPERTIES`]: those verified BMCI runs computed.
    pub computed: Vec<Property>,
}

fn source_fields(source: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, field) in [
        ("package", "_bmci_source_package"),
        ("version", "_bmci_source_version"),
        ("file", "_bmci_source_file"),
        ("row", "_bmci_source_row"),
        ("doi", "_bmci_source_doi"),
        ("licence", "_bmci_licence"),
    ] {
        out.insert(
            field.to_owned(),
            source.get(k).cloned().unwrap_or(Value::Null),
        );
    }
    out
}

impl Database {
    /// The seed data set.
    pub fn seed() -> Result<Self, String> {
        Self::from_json(SEED)
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let seed: Value = serde_json::from_str(text).map_err(|e| format!("BMCI seed: {e}"))?;
        let mut enthalpy: BTreeMap<String, (f64, Value)> = BTreeMap::new();
        for f in seed["facts"].as_array().into_iter().flatten() {
            // By the reduced formula structures are known by; the first row of a formula
            // stands (later ones for the same compound are other measurements).
            if f["property"] == "formation_enthalpy"
                && let (Some(formula), Some(v)) =
                    (f["reduced_formula"].as_str(), f["per_atom"].as_f64())
            {
                enthalpy
                    .entry(formula.to_owned())
                    .or_insert((v, f["source"].clone()));
            }
        }
        let mut db = Database::default();
        for s in seed["structures"].as_array().into_iter().flatten() {
            let structure = parse_structure(s)?;
            let mut entry_extra = structure.extra.clone();
            if let Some((v, source)) = enthalpy.get(&structure.formula_reduced()) {
                entry_extra.insert("_bmci_formation_enthalpy".into(), json!(v));
                entry_extra.insert(
                    "_bmci_formation_enthalpy_source".into(),
                    json!(format!(
                        "{} {} {} row {}",
                        source["package"].as_str().unwrap_or(""),
                        source["version"].as_str().unwrap_or(""),
                        source["file"].as_str().unwrap_or(""),
                        source["row"]
                    )),
                );
            }
            let structure = Structure {
                extra: entry_extra,
                ..structure
            };
            db.structures.push(Entry {
                id: structure.id.clone(),
                attributes: structure.attributes(),
                references: structure.references.clone(),
            });
        }
        for r in seed["references"].as_array().into_iter().flatten() {
            db.references.push(parse_reference(r)?);
        }
        Ok(db)
    }
}

fn parse_structure(s: &Value) -> Result<Structure, String> {
    let id = s["id"]
        .as_str()
        .ok_or("a seed structure without an id")?
        .to_owned();
    let bad = |what: &str| format!("seed structure {id}: {what}");
    let vector = |v: &Value| -> Option<[f64; 3]> {
        let a = v.as_array()?;
        (a.len() == 3).then_some([a[0].as_f64()?, a[1].as_f64()?, a[2].as_f64()?])
    };
    let rows: Vec<[f64; 3]> = s["lattice"]
        .as_array()
        .ok_or_else(|| bad("no lattice"))?
        .iter()
        .map(vector)
        .collect::<Option<_>>()
        .ok_or_else(|| bad("a lattice vector is not three numbers"))?;
    let lattice: [[f64; 3]; 3] = rows.try_into().map_err(|_| bad("the lattice is not 3×3"))?;
    let sites = s["sites"]
        .as_array()
        .ok_or_else(|| bad("no sites"))?
        .iter()
        .map(|site| Some((site[0].as_str()?.to_owned(), vector(&site[1])?)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a site is not [element, [x, y, z]]"))?;
    let mut extra = source_fields(&s["source"]);
    let tags = &s["tags"];
    extra.insert("_bmci_name".into(), s["name"].clone());
    for (k, field) in [
        ("aflow", "_bmci_prototype"),
        ("pearson", "_bmci_pearson_symbol"),
        ("strukturbericht", "_bmci_strukturbericht"),
        ("mineral", "_bmci_mineral"),
    ] {
        extra.insert(field.into(), tags.get(k).cloned().unwrap_or(Value::Null));
    }
    Ok(Structure {
        id,
        lattice,
        sites,
        last_modified: SEED_DATE.into(),
        extra,
        references: s["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
    })
}

fn parse_reference(r: &Value) -> Result<Entry, String> {
    let id = r["id"]
        .as_str()
        .ok_or("a seed reference without an id")?
        .to_owned();
    let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    let authors: Vec<Value> = r["authors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(|name| json!({"name": name})))
        .collect();
    let attributes = json!({
        "immutable_id": id,
        "last_modified": SEED_DATE,
        "authors": authors,
        "title": text("title"),
        "journal": text("journal"),
        "year": text("year"),
        "volume": text("volume"),
        "pages": text("pages"),
        "doi": text("doi"),
        "bib_type": text("kind"),
    });
    Ok(Entry {
        id,
        attributes,
        references: Vec::new(),
    })
}

/// A property of an entry type as `/info/{type}` lists it (computed ones are made at run
/// time, hence the `Cow`s).
#[derive(Clone, Debug)]
pub struct Property {
    pub name: Cow<'static, str>,
    pub kind: &'static str,
    pub description: Cow<'static, str>,
    pub unit: Option<Cow<'static, str>>,
}

const fn p(name: &'static str, kind: &'static str, description: &'static str) -> Property {
    Property {
        name: Cow::Borrowed(name),
        kind,
        description: Cow::Borrowed(description),
        unit: None,
    }
}

/// `p` with a unit.
const fn pu(
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    unit: &'static str,
) -> Property {
    Property {
        name: Cow::Borrowed(name),
        kind,
        description: Cow::Borrowed(description),
        unit: Some(Cow::Borrowed(unit)),
    }
}

pub const STRUCTURE_PROPERTIES: &[Property] = &[
    p("id", "string", "The entry's id"),
    p("type", "string", "The entry's type: structures"),
    p("immutable_id", "string", "The entry's id, never reused"),
    p("last_modified", "timestamp", "When the entry last changed"),
    p(
        "elements",
        "list",
        "The elements of the structure, alphabetically",
    ),
    p("nelements", "integer", "How many distinct elements"),
    p(
        "elements_ratios",
        "list",
        "Each element's share of the sites",
    ),
    p(
        "chemical_formula_descriptive",
        "string",
        "The formula as BMCI writes it",
    ),
    p(
        "chemical_formula_reduced",
        "string",
        "The reduced formula, elements alphabetically",
    ),
    p(
        "chemical_formula_hill",
        "string",
        "The reduced formula in Hill order",
    ),
    p(
        "chemical_formula_anonymous",
        "string",
        "The anonymous formula",
    ),
    p(
        "dimension_types",
        "list",
        "Periodicity along each lattice vector",
    ),
    p(
        "nperiodic_dimensions",
        "integer",
        "How many periodic dimensions",
    ),
    pu("lattice_vectors", "list", "The three lattice vectors", "Å"),
    pu(
        "cartesian_site_positions",
        "list",
        "Each site's position",
        "Å",
    ),
    p("nsites", "integer", "How many sites"),
    p("species", "list", "The species at the sites"),
    p("species_at_sites", "list", "Each site's species"),
    p(
        "structure_features",
        "list",
        "Features the structure has (none: ordered, explicit sites)",
    ),
    p(
        "_bmci_name",
        "string",
        "The structure's name (mineral or prototype)",
    ),
    p("_bmci_prototype", "string", "The AFLOW prototype label"),
    p("_bmci_pearson_symbol", "string", "The Pearson symbol"),
    p(
        "_bmci_strukturbericht",
        "string",
        "The Strukturbericht designation",
    ),
    p("_bmci_mineral", "string", "The mineral name"),
    pu(
        "_bmci_formation_enthalpy",
        "float",
        "Experimental formation enthalpy of the reduced formula",
        "eV/atom",
    ),
    p(
        "_bmci_formation_enthalpy_source",
        "string",
        "Where the formation enthalpy came from",
    ),
    p(
        "_bmci_source_package",
        "string",
        "The package the entry was read from",
    ),
    p("_bmci_source_version", "string", "That package's version"),
    p("_bmci_source_file", "string", "The file in the package"),
    p("_bmci_source_row", "integer", "The row in that file"),
    p("_bmci_source_doi", "string", "The upstream publication"),
    p("_bmci_licence", "string", "The licence of the source data"),
];

pub const REFERENCE_PROPERTIES: &[Property] = &[
    p("id", "string", "The entry's id"),
    p("type", "string", "The entry's type: references"),
    p("immutable_id", "string", "The entry's id, never reused"),
    p("last_modified", "timestamp", "When the entry last changed"),
    p("authors", "list", "The authors"),
    p("title", "string", "The title"),
    p("journal", "string", "The journal"),
    p("year", "string", "The year"),
    p("volume", "string", "The volume"),
    p("pages", "string", "The pages"),
    p("doi", "string", "The DOI"),
    p("bib_type", "string", "The BibTeX entry type"),
];

/// The graph BMCI's seed entries live in.
pub fn seed_graph() -> oxigraph::model::NamedNode {
    oxigraph::model::NamedNode::new_unchecked("urn:metamesh:graph:bmci-seed")
}

impl Database {
    /// The entries as RDF in `graph`: structures (`mm:Structure`, with formula, elements,
    /// provider fields and QUDT-valued enthalpies, `dct:references` to their literature) and
    /// references (`bibo:AcademicArticle` with title, authors, DOI), each `prov:wasDerivedFrom`
    /// its source file.
    pub fn quads(&self, graph: &oxigraph::model::NamedNode) -> Vec<oxigraph::model::Quad> {
        use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};

        use crate::vocab::{BIBO, DCT, PROV, QUDT, RDF, RDFS, UNIT, mm, term};
        let g = GraphName::NamedNode(graph.clone());
        let mut out = Vec::new();
        let mut add =
            |s: &NamedNode, p: NamedNode, o: Term| out.push(Quad::new(s.clone(), p, o, g.clone()));
        let lit = |v: &Value| {
            v.as_str()
                .map(|s| Term::from(Literal::new_simple_literal(s)))
        };
        for e in &self.structures {
            let s = structure_iri(&e.id);
            let a = &e.attributes;
            add(&s, term(RDF, "type"), mm("Structure").into());
            add(&s, term(RDF, "type"), term(PROV, "Entity").into());
            if let Some(f) = lit(&a["chemical_formula_reduced"]) {
                add(&s, mm("formula"), f);
            }
            let label = format!(
                "{} {} ({})",
                a["chemical_formula_reduced"].as_str().unwrap_or(""),
                a["_bmci_name"].as_str().unwrap_or(""),
                a["_bmci_prototype"].as_str().unwrap_or("")
            );
            add(
                &s,
                term(RDFS, "label"),
                Literal::new_simple_literal(label).into(),
            );
            for el in a["elements"].as_array().into_iter().flatten() {
                if let Some(el) = lit(el) {
                    add(&s, mm("element"), el);
                }
            }
            add(
                &s,
                mm("nsites"),
                Literal::from(a["nsites"].as_u64().unwrap_or(0)).into(),
            );
            if let Some(v) = a["_bmci_formation_enthalpy"].as_f64() {
                let q = NamedNode::new_unchecked(format!("{}#formation-enthalpy", s.as_str()));
                add(&s, mm("formationEnthalpy"), q.clone().into());
                add(&q, term(RDF, "type"), term(QUDT, "QuantityValue").into());
                add(&q, term(QUDT, "numericValue"), Literal::from(v).into());
                add(&q, term(QUDT, "unit"), term(UNIT, "EV-PER-ATOM").into());
            }
            if let (Some(file), Some(package)) = (
                a["_bmci_source_file"].as_str(),
                a["_bmci_source_package"].as_str(),
            ) {
                let src = NamedNode::new_unchecked(format!(
                    "urn:metamesh:source:{package}:{}",
                    file.replace(
                        |c: char| !c.is_ascii_alphanumeric() && c != '/' && c != '.' && c != '_',
                        "-"
                    )
                ));
                add(&s, term(PROV, "wasDerivedFrom"), src.into());
            }
            for r in &e.references {
                add(&s, term(DCT, "references"), reference_iri(r).into());
            }
        }
        for e in &self.references {
            let r = reference_iri(&e.id);
            let a = &e.attributes;
            add(&r, term(RDF, "type"), term(BIBO, "AcademicArticle").into());
            for (k, p) in [
                ("title", term(DCT, "title")),
                ("doi", term(BIBO, "doi")),
                ("year", term(DCT, "date")),
                ("journal", mm("journal")),
            ] {
                if let Some(v) = lit(&a[k]) {
                    add(&r, p, v);
                }
            }
            for au in a["authors"].as_array().into_iter().flatten() {
                if let Some(n) = lit(&au["name"]) {
                    add(&r, term(DCT, "creator"), n);
                }
            }
        }
        out
    }
}

/// `urn:metamesh:bmci:structure:ID`.
pub fn structure_iri(id: &str) -> oxigraph::model::NamedNode {
    oxigraph::model::NamedNode::new_unchecked(format!("urn:metamesh:bmci:structure:{id}"))
}

fn reference_iri(id: &str) -> oxigraph::model::NamedNode {
    oxigraph::model::NamedNode::new_unchecked(format!("urn:metamesh:bmci:reference:{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_loads_with_provenance() {
        let db = Database::seed().unwrap();
        assert_eq!(db.structures.len(), 288);
        assert!(db.references.len() > 200);
        let boron: Vec<&Entry> = db
            .structures
            .iter()
            .filter(|e| {
                e.attributes["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == "B")
            })
            .collect();
        assert!(boron.len() >= 10, "{}", boron.len());
        for e in &db.structures {
            let a = &e.attributes;
            assert_eq!(a["_bmci_source_package"], "pymatgen");
            assert!(a["_bmci_source_row"].is_u64());
            let sum: f64 = a["elements_ratios"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_f64().unwrap())
                .sum();
            assert!((sum - 1.0).abs() < 1e-6, "{}", e.id);
        }
        assert!(
            db.structures
                .iter()
                .any(|e| e.attributes["_bmci_formation_enthalpy"].is_f64()),
            "some structures carry an experimental enthalpy"
        );
        let quads = db.quads(&seed_graph());
        assert!(quads.len() > 4_000, "{}", quads.len());
    }
}
