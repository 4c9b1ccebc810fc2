//! A crystal structure (a lattice and its sites) and the OPTIMADE attributes derived from it:
//! elements and their ratios, the reduced, Hill and anonymous formulas, species. Derived here,
//! once, so a structure from the seed and one a verified computation produced are described
//! by the same rules.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A structure as BMCI holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Structure {
    pub id: String,
    /// Three lattice vectors in Å (rows).
    pub lattice: [[f64; 3]; 3],
    /// Each site's element and Cartesian position in Å.
    pub sites: Vec<(String, [f64; 3])>,
    /// `YYYY-MM-DDThh:mm:ssZ`.
    pub last_modified: String,
    /// Provider fields (`_bmci_…`), already prefixed.
    pub extra: BTreeMap<String, Value>,
    /// Ids of the references it cites.
    pub references: Vec<String>,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `B4C`-style text of (symbol, count) pairs, a count of 1 left out.
fn formula_text(parts: &[(String, u64)]) -> String {
    parts
        .iter()
        .map(|(e, n)| {
            if *n == 1 {
                e.clone()
            } else {
                format!("{e}{n}")
            }
        })
        .collect()
}

/// The n-th anonymous symbol: A, B, …, Z, Aa, Ba, …, Za, Ab, …
fn anonymous_symbol(n: usize) -> String {
    let first = (b'A' + (n % 26) as u8) as char;
    if n < 26 {
        return first.to_string();
    }
    let second = (b'a' + ((n / 26 - 1) % 26) as u8) as char;
    format!("{first}{second}")
}

impl Structure {
    /// Each element's count, alphabetically.
    fn counts(&self) -> BTreeMap<&str, u64> {
        let mut c = BTreeMap::new();
        for (e, _) in &self.sites {
            *c.entry(e.as_str()).or_insert(0) += 1;
        }
        c
    }

    /// Counts divided by their greatest common divisor.
    fn reduced(&self) -> Vec<(String, u64)> {
        let c = self.counts();
        let g = c.values().copied().fold(0, gcd).max(1);
        c.into_iter().map(|(e, n)| (e.to_owned(), n / g)).collect()
    }

    pub fn elements(&self) -> Vec<String> {
        self.counts().keys().map(|e| (*e).to_owned()).collect()
    }

    pub fn formula_reduced(&self) -> String {
        formula_text(&self.reduced())
    }

    /// Carbon first, then hydrogen, then the rest alphabetically (with no carbon, all
    /// alphabetically), as Hill ordered it.
    pub fn formula_hill(&self) -> String {
        let mut r = self.reduced();
        if r.iter().any(|(e, _)| e == "C") {
            r.sort_by_key(|(e, _)| match e.as_str() {
                "C" => (0, String::new()),
                "H" => (1, String::new()),
                other => (2, other.to_owned()),
            });
        }
        formula_text(&r)
    }

    /// Proportions largest first, named A, B, C …
    pub fn formula_anonymous(&self) -> String {
        let mut n: Vec<u64> = self.reduced().into_iter().map(|(_, n)| n).collect();
        n.sort_unstable_by(|a, b| b.cmp(a));
        n.iter()
            .enumerate()
            .map(|(i, n)| {
                let s = anonymous_symbol(i);
                if *n == 1 { s } else { format!("{s}{n}") }
            })
            .collect()
    }

    /// The entry's `attributes` object, every OPTIMADE structure property with the provider's.
    pub fn attributes(&self) -> Value {
        let counts = self.counts();
        let nsites = self.sites.len() as f64;
        let elements = self.elements();
        let ratios: Vec<f64> = counts.values().map(|n| *n as f64 / nsites).collect();
        let species: Vec<Value> = elements
            .iter()
            .map(|e| json!({"name": e, "chemical_symbols": [e], "concentration": [1.0]}))
            .collect();
        let mut a = json!({
            "immutable_id": self.id,
            "last_modified": self.last_modified,
            "elements": elements,
            "nelements": elements.len(),
            "elements_ratios": ratios,
            "chemical_formula_descriptive": self.formula_reduced(),
            "chemical_formula_reduced": self.formula_reduced(),
            "chemical_formula_hill": self.formula_hill(),
            "chemical_formula_anonymous": self.formula_anonymous(),
            "dimension_types": [1, 1, 1],
            "nperiodic_dimensions": 3,
            "lattice_vectors": self.lattice,
            "cartesian_site_positions": self.sites.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
            "nsites": self.sites.len(),
            "species": species,
            "species_at_sites": self.sites.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>(),
            "assemblies": null,
            "structure_features": [],
        });
        if let Value::Object(m) = &mut a {
            for (k, v) in &self.extra {
                m.insert(k.clone(), v.clone());
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sites: &[&str]) -> Structure {
        Structure {
            id: "t".into(),
            lattice: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            sites: sites.iter().map(|e| ((*e).to_owned(), [0.0; 3])).collect(),
            last_modified: "2026-10-24T00:00:00Z".into(),
            extra: BTreeMap::new(),
            references: Vec::new(),
        }
    }

    #[test]
    fn formulas_follow_the_specification() {
        let b4c = of(&["B", "B", "B", "B", "C", "B", "B", "B", "B", "C"]);
        assert_eq!(b4c.formula_reduced(), "B4C");
        assert_eq!(b4c.formula_hill(), "CB4");
        assert_eq!(b4c.formula_anonymous(), "A4B");
        assert_eq!(b4c.elements(), ["B", "C"]);
        let ch4o = of(&["O", "H", "H", "C", "H", "H"]);
        assert_eq!(ch4o.formula_hill(), "CH4O");
        assert_eq!(ch4o.formula_reduced(), "CH4O");
        assert_eq!(ch4o.formula_anonymous(), "A4BC");
        let a = b4c.attributes();
        assert_eq!(a["elements_ratios"], json!([0.8, 0.2]));
        assert_eq!(a["nsites"], 10);
        assert_eq!(anonymous_symbol(26), "Aa");
        assert_eq!(anonymous_symbol(27), "Ba");
    }
}
