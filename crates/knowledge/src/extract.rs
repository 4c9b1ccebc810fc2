//! A simple extractor of candidate statements from a paper's text — the extracted knowledge
//! base's way in. Sentence by sentence, it finds materials (chemical formulas of real
//! elements, and the common names of boron compounds), properties (hardness, band gap,
//! moduli, …) and values with units, and pairs them with a confidence: high when a material,
//! a property and a value in that property's units sit close together in an assertive
//! sentence; lower for hedged, negated, computed-only or loosely spread ones. It proposes;
//! curators and the chain decide what stands.

use oxigraph::model::{Literal, NamedNode, Quad, vocab::xsd};

use crate::vocab::{self, PROV, QUDT, RDF, UNIT, mm, term};

/// One candidate statement.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// The material as written (`B4C`, `boron carbide`) and its formula.
    pub mention: String,
    pub formula: String,
    /// The property's name (`hardness`) and value in its unit (`unit` a QUDT unit name).
    pub property: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub confidence: f64,
    /// The sentence, its index in the text and where it starts (bytes).
    pub sentence: String,
    pub index: usize,
    pub offset: usize,
}

/// The symbols of the 118 elements.
const ELEMENTS: [&str; 118] = [
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
    "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
    "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb",
    "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl",
    "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk",
    "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh",
    "Fl", "Mc", "Lv", "Ts", "Og",
];

/// Names of materials as papers write them, and their formulas.
const NAMES: &[(&str, &str)] = &[
    ("hexagonal boron nitride", "BN"),
    ("cubic boron nitride", "BN"),
    ("boron nitride", "BN"),
    ("boron carbide", "B4C"),
    ("magnesium diboride", "MgB2"),
    ("titanium diboride", "TiB2"),
    ("zirconium diboride", "ZrB2"),
    ("rhenium diboride", "ReB2"),
    ("aluminium diboride", "AlB2"),
    ("aluminum diboride", "AlB2"),
    ("boron suboxide", "B6O"),
    ("boric acid", "H3BO3"),
    ("boron trioxide", "B2O3"),
    ("diborane", "B2H6"),
    ("borophene", "B"),
    ("alpha-boron", "B"),
    ("beta-boron", "B"),
    ("boron", "B"),
];

/// A property: the words that name it, its QUDT unit name and the unit spellings accepted.
struct Property {
    name: &'static str,
    words: &'static [&'static str],
    unit: &'static str,
    spellings: &'static [(&'static str, f64)],
}

const PROPERTIES: &[Property] = &[
    Property {
        name: "hardness",
        words: &["vickers hardness", "hardness", "microhardness"],
        unit: "GigaPA",
        spellings: &[("gpa", 1.0), ("mpa", 1e-3)],
    },
    Property {
        name: "bandGap",
        words: &["band gap", "bandgap", "energy gap", "optical gap"],
        unit: "EV",
        spellings: &[("ev", 1.0), ("mev", 1e-3)],
    },
    Property {
        name: "bulkModulus",
        words: &["bulk modulus"],
        unit: "GigaPA",
        spellings: &[("gpa", 1.0)],
    },
    Property {
        name: "youngsModulus",
        words: &["young's modulus", "young modulus", "elastic modulus"],
        unit: "GigaPA",
        spellings: &[("gpa", 1.0)],
    },
    Property {
        name: "density",
        words: &["density"],
        unit: "GM-PER-CentiM3",
        spellings: &[
            ("g/cm3", 1.0),
            ("g cm-3", 1.0),
            ("g/cm^3", 1.0),
            ("g cm−3", 1.0),
        ],
    },
    Property {
        name: "meltingPoint",
        words: &["melting point", "melting temperature"],
        unit: "K",
        spellings: &[("k", 1.0)],
    },
    Property {
        name: "criticalTemperature",
        words: &["critical temperature", "transition temperature", "tc"],
        unit: "K",
        spellings: &[("k", 1.0)],
    },
    Property {
        name: "thermalConductivity",
        words: &["thermal conductivity"],
        unit: "W-PER-M-K",
        spellings: &[
            ("w/mk", 1.0),
            ("w m-1 k-1", 1.0),
            ("w/(m k)", 1.0),
            ("w/m·k", 1.0),
        ],
    },
    Property {
        name: "formationEnthalpy",
        words: &[
            "formation enthalpy",
            "enthalpy of formation",
            "formation energy",
        ],
        unit: "EV-PER-ATOM",
        spellings: &[("ev/atom", 1.0)],
    },
];

const HEDGES: &[&str] = &[
    "may",
    "might",
    "could",
    "possibly",
    "predicted",
    "predicts",
    "estimated",
    "approximately",
    "about",
    "around",
    "suggest",
    "suggests",
    "proposed",
];
const NEGATIONS: &[&str] = &["not", "no", "never", "neither", "nor"];

/// The longest sentence read (bytes); longer runs are skipped.
const MAX_SENTENCE: usize = 2_000;

/// Words shaped like formulas that are not chemistry: crystal lattices, methods, English.
const NOT_FORMULAS: &[&str] = &[
    "FCC", "BCC", "HCP", "SCF", "ON", "IN", "NO", "AS", "AT", "BE", "HE", "SI", "US", "IS",
];

/// Splits text into sentences (byte offset, text), keeping decimals, initials and the usual
/// abbreviations together.
pub fn sentences(text: &str) -> Vec<(usize, &str)> {
    const ABBREVIATIONS: &[&str] = &[
        "e.g", "i.e", "et al", "fig", "eq", "ref", "approx", "vs", "ca",
    ];
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if !matches!(c, '.' | '!' | '?' | '\n') {
            continue;
        }
        let next = bytes.get(i + 1).copied();
        if c == '\n' && next != Some(b'\n') {
            continue; // a line break inside a paragraph
        }
        if c == '.' {
            if next.is_some_and(|b| b.is_ascii_digit())
                || next.is_some_and(|b| !b.is_ascii_whitespace())
            {
                continue;
            }
            // The last few bytes decide: an abbreviation is a word of its own.
            let tail = &text.as_bytes()[start..i];
            let tail = &tail[tail.len().saturating_sub(8)..];
            let tail = String::from_utf8_lossy(tail).to_ascii_lowercase();
            let abbreviation = ABBREVIATIONS.iter().any(|a| {
                tail.ends_with(a)
                    && tail[..tail.len() - a.len()]
                        .chars()
                        .last()
                        .is_none_or(|c| !c.is_alphanumeric())
            });
            if abbreviation && i - start < MAX_SENTENCE {
                continue;
            }
        }
        let s = text[start..=i].trim();
        if s.len() > MAX_SENTENCE {
            // A run without full stops (a table, a data dump) holds no sentences to read.
            start = i + 1;
            continue;
        }
        if !s.is_empty() {
            out.push((
                start + (text[start..].len() - text[start..].trim_start().len()),
                s,
            ));
        }
        start = i + 1;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() && rest.len() <= MAX_SENTENCE {
        out.push((
            start + (text[start..].len() - text[start..].trim_start().len()),
            rest,
        ));
    }
    out
}

/// A chemical formula made of real element symbols (`B4C`, `MgB2`, `B2H6`, `h-BN`), as its
/// formula; a lone symbol counts only for boron-family words in the dictionary.
fn formula(word: &str) -> Option<String> {
    if NOT_FORMULAS.contains(&word) {
        return None;
    }
    let w = word
        .strip_prefix("h-")
        .or_else(|| word.strip_prefix("c-"))
        .or_else(|| word.strip_prefix("α-"))
        .or_else(|| word.strip_prefix("β-"))
        .unwrap_or(word);
    let chars: Vec<char> = w.chars().collect();
    let (mut i, mut symbols) = (0, 0);
    while i < chars.len() {
        if !chars[i].is_ascii_uppercase() {
            return None;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let one = chars[i].to_string();
        if two.len() == 2 && chars[i + 1].is_ascii_lowercase() && ELEMENTS.contains(&two.as_str()) {
            i += 2;
        } else if ELEMENTS.contains(&one.as_str()) {
            i += 1;
        } else {
            return None;
        }
        symbols += 1;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
    }
    (symbols >= 2 || (symbols == 1 && w.chars().any(|c| c.is_ascii_digit()))).then(|| w.to_owned())
}

/// Materials mentioned in a sentence: (byte position, mention, formula).
fn materials(s: &str) -> Vec<(usize, String, String)> {
    // ASCII lowering keeps byte positions, so they index the sentence itself.
    let lower = s.to_ascii_lowercase();
    let mut found: Vec<(usize, String, String)> = Vec::new();
    let mut taken = vec![false; lower.len()];
    for (name, f) in NAMES {
        let mut from = 0;
        while let Some(p) = lower[from..].find(name) {
            let at = from + p;
            let end = at + name.len();
            let whole = lower[..at]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric())
                && lower[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
            if whole && !taken[at..end].iter().any(|t| *t) {
                taken[at..end].iter_mut().for_each(|t| *t = true);
                found.push((at, s[at..end].to_owned(), (*f).to_owned()));
            }
            from = end;
        }
    }
    let mut at = 0;
    for word in s.split(|c: char| c.is_whitespace() || ",;:()[]".contains(c)) {
        let pos = s[at..].find(word).map_or(at, |p| at + p);
        at = pos + word.len();
        let word = word.trim_end_matches(['.', '\'']);
        if let Some(f) = formula(word)
            && !taken.get(pos).copied().unwrap_or(false)
        {
            found.push((pos, word.to_owned(), f));
        }
    }
    found.sort_by_key(|m| m.0);
    found
}

/// A number (with an optional ± uncertainty) followed by one of the property's units: the
/// value in the property's unit, and where the number starts.
fn values(s: &str, p: &Property) -> Vec<(usize, f64)> {
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let b = lower.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let starts_number = b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric());
        if !starts_number {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
            j += 1;
        }
        let number: Option<f64> = lower[i..j].parse().ok();
        let mut k = j;
        // "± 2", "+/- 2"
        let rest = &lower[k..];
        for pm in [" ± ", "±", " +/- ", "+/-"] {
            if let Some(r) = rest.strip_prefix(pm) {
                let digits = r
                    .bytes()
                    .take_while(|c| c.is_ascii_digit() || *c == b'.')
                    .count();
                k += pm.len() + digits;
                break;
            }
        }
        let tail = lower[k..].trim_start();
        if let Some(n) = number
            && let Some((_, scale)) = p.spellings.iter().find(|(u, _)| {
                tail.starts_with(u)
                    && tail[u.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !c.is_alphanumeric())
            })
        {
            out.push((i, n * scale));
        }
        // Past the uncertainty too: its number is no value of its own.
        i = k.max(j).max(i + 1);
    }
    out
}

fn has_word(lower: &str, words: &[&str]) -> bool {
    lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| words.contains(&w))
}

/// Sentence openings that speak of the material the sentence before named.
const BACK_REFERENCES: &[&str] = &[
    "its ",
    "it ",
    "this ",
    "these ",
    "the compound",
    "the material",
];

/// The candidate statements of a text, in its order.
pub fn extract(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut last: Option<(String, String)> = None;
    for (index, (offset, s)) in sentences(text).into_iter().enumerate() {
        let lower = s.to_ascii_lowercase();
        let mut mats = materials(s);
        let mut referred = false;
        if mats.is_empty()
            && let Some((mention, f)) = &last
            && BACK_REFERENCES.iter().any(|b| lower.starts_with(b))
        {
            mats.push((0, mention.clone(), f.clone()));
            referred = true;
        }
        let Some((_, mention, f)) = mats.last() else {
            continue;
        };
        last = Some((mention.clone(), f.clone()));
        for p in PROPERTIES {
            let Some(word_at) = p.words.iter().find_map(|w| {
                lower.match_indices(w).map(|(i, _)| i).find(|&i| {
                    lower[..i]
                        .chars()
                        .last()
                        .is_none_or(|c| !c.is_alphanumeric())
                        && lower[i + w.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| !c.is_alphanumeric())
                })
            }) else {
                continue;
            };
            for (value_at, value) in values(s, p) {
                // The material nearest the property's name.
                let Some((m_at, mention, f)) =
                    mats.iter().min_by_key(|(at, _, _)| at.abs_diff(word_at))
                else {
                    continue;
                };
                let spread = m_at.abs_diff(word_at).max(value_at.abs_diff(word_at));
                let mut confidence: f64 = 0.9;
                if spread > 80 {
                    confidence -= 0.25;
                } else if spread > 40 {
                    confidence -= 0.1;
                }
                if mats.len() > 2 {
                    confidence -= 0.1;
                }
                if has_word(&lower, HEDGES) {
                    confidence -= 0.2;
                }
                if has_word(&lower, NEGATIONS) {
                    confidence -= 0.5;
                }
                if referred {
                    confidence -= 0.15;
                }
                out.push(Candidate {
                    mention: mention.clone(),
                    formula: f.clone(),
                    property: p.name,
                    value,
                    unit: p.unit,
                    confidence: (confidence.clamp(0.05, 0.95) * 100.0).round() / 100.0,
                    sentence: s.to_owned(),
                    index,
                    offset,
                });
            }
        }
    }
    out
}

/// A material's IRI by its formula.
pub fn material(formula: &str) -> NamedNode {
    NamedNode::new_unchecked(format!(
        "urn:metamesh:material:{}",
        formula
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect::<String>()
    ))
}

/// Candidates as quads in `graph`: each a reified statement (`mm:ExtractedStatement` with
/// rdf:subject/predicate/object) carrying its confidence and where it came from (`source`,
/// an IRI such as the paper's `ipfs://CID`, with the sentence's index).
pub fn quads(candidates: &[Candidate], source: &NamedNode, graph: &NamedNode) -> Vec<Quad> {
    let mut out = Vec::new();
    let g = oxigraph::model::GraphName::NamedNode(graph.clone());
    let mut add = |s: &NamedNode, p: NamedNode, o: oxigraph::model::Term| {
        out.push(Quad::new(s.clone(), p, o, g.clone()));
    };
    for (i, c) in candidates.iter().enumerate() {
        let st = NamedNode::new_unchecked(format!("{}#statement-{i}", graph.as_str()));
        let value = NamedNode::new_unchecked(format!("{}#value-{i}", graph.as_str()));
        let m = material(&c.formula);
        add(&st, term(RDF, "type"), mm("ExtractedStatement").into());
        add(&st, term(RDF, "subject"), m.clone().into());
        add(&st, term(RDF, "predicate"), mm(c.property).into());
        add(&st, term(RDF, "object"), value.clone().into());
        add(
            &st,
            mm("confidence"),
            Literal::new_typed_literal(format!("{}", c.confidence), xsd::DECIMAL).into(),
        );
        add(&st, term(PROV, "wasDerivedFrom"), source.clone().into());
        add(&st, mm("sentence"), Literal::from(c.index as u64).into());
        add(
            &st,
            mm("quote"),
            Literal::new_simple_literal(&c.sentence).into(),
        );
        add(
            &value,
            term(RDF, "type"),
            term(QUDT, "QuantityValue").into(),
        );
        add(
            &value,
            term(QUDT, "numericValue"),
            Literal::from(c.value).into(),
        );
        add(&value, term(QUDT, "unit"), term(UNIT, c.unit).into());
        add(&m, term(RDF, "type"), mm("Material").into());
        add(
            &m,
            mm("formula"),
            Literal::new_simple_literal(&c.formula).into(),
        );
        add(
            &m,
            vocab::term(crate::vocab::RDFS, "label"),
            Literal::new_simple_literal(&c.mention).into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPER: &str = "Boron carbide (B4C) is among the hardest materials known. Its Vickers hardness \
        reaches 38 ± 2 GPa at room temperature, and its density is 2.52 g/cm3. \
        Hexagonal boron nitride has a wide band gap of 5.96 eV, e.g. in monolayers. \
        MgB2 becomes superconducting below a critical temperature of 39 K.\n\n\
        A hardness of 30 GPa may be reached in doped B4C samples. The band gap of B4C is not 9 eV.";

    #[test]
    fn sentences_keep_decimals_and_abbreviations() {
        let s: Vec<&str> = sentences(PAPER).into_iter().map(|(_, s)| s).collect();
        assert_eq!(s.len(), 6, "{s:#?}");
        assert!(s[1].contains("2.52 g/cm3"));
        assert!(s[2].contains("e.g. in monolayers"));
    }

    #[test]
    fn materials_properties_and_values_pair_with_confidences() {
        let c = extract(PAPER);
        let find = |property: &str, value: f64| {
            c.iter()
                .find(|c| c.property == property && (c.value - value).abs() < 1e-9)
                .unwrap_or_else(|| panic!("{property} {value} in {c:#?}"))
        };
        let h = find("hardness", 38.0);
        assert_eq!((h.formula.as_str(), h.unit), ("B4C", "GigaPA"));
        assert!(h.confidence >= 0.7, "{h:?}");
        let d = find("density", 2.52);
        assert_eq!(d.formula, "B4C");
        let g = find("bandGap", 5.96);
        assert_eq!(
            (g.formula.as_str(), g.mention.as_str()),
            ("BN", "Hexagonal boron nitride")
        );
        let t = find("criticalTemperature", 39.0);
        assert_eq!(t.formula, "MgB2");
        let hedged = c.iter().find(|c| c.value == 30.0).unwrap();
        assert!(hedged.confidence < h.confidence, "hedged: {hedged:?}");
        let negated = find("bandGap", 9.0);
        assert!(negated.confidence < 0.5, "negated: {negated:?}");
        // Words that look like formulas but are not chemistry are left alone.
        assert!(formula("GPa").is_none());
        assert!(formula("Its").is_none());
        assert!(formula("XY2").is_none());
        assert!(formula("FCC").is_none());
        // Long runs without a full stop are skipped, not copied into every candidate.
        let dump = format!("B4C hardness {}", "5 GPa ".repeat(10_000));
        assert!(extract(&dump).is_empty());
        assert_eq!(sentences("It is silica. Next one.").len(), 2);
        assert_eq!(formula("h-BN").as_deref(), Some("BN"));
    }
}
