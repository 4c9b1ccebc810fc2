//! BMCI as it is served: the seed with the properties verified runs computed merged in. The
//! graph is the one source of them (a reorg that drops a run's graph drops its values): the
//! indexer hands over the values of each run graph it writes and names each graph it drops,
//! and this view is merged again from what it holds — never by scanning the whole graph.

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, RwLock},
};

use serde_json::{Value, json};

use super::database::{Database, Property};
use crate::bmci::Computed;

/// The field a computed property is served as.
pub fn field(property: &str) -> String {
    format!("_bmci_computed_{property}")
}

pub const RESULTS_FIELD: &str = "_bmci_computed_results";
pub const ALGORITHMS_FIELD: &str = "_bmci_computed_algorithms";

pub struct Bmci {
    seed: Arc<Database>,
    /// Every run graph's values, by graph.
    runs: Mutex<BTreeMap<String, Vec<Computed>>>,
    current: RwLock<Arc<Database>>,
}

impl Bmci {
    pub fn new(seed: Database) -> Self {
        let seed = Arc::new(seed);
        Bmci {
            current: RwLock::new(seed.clone()),
            runs: Mutex::default(),
            seed,
        }
    }

    /// The seed alone (what the graph's seed graph is made from, and what runs are checked
    /// against: a run is on a seed material).
    pub fn seed(&self) -> Arc<Database> {
        self.seed.clone()
    }

    /// What OPTIMADE serves now.
    pub fn current(&self) -> Arc<Database> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces what is held with `computed` (a whole graph's values, at start).
    pub fn reset(&self, computed: Vec<Computed>) {
        let mut runs = BTreeMap::<String, Vec<Computed>>::new();
        for c in computed {
            runs.entry(c.graph.clone()).or_default().push(c);
        }
        *self.runs.lock().unwrap_or_else(|e| e.into_inner()) = runs;
        self.refresh();
    }

    /// Records the graphs a step wrote (with their values) and dropped, then merges again
    /// if anything changed.
    pub fn update(&self, written: Vec<Computed>, dropped: &[String]) {
        let changed = {
            let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
            let mut changed = false;
            for g in dropped {
                changed |= runs.remove(g).is_some();
            }
            for c in written {
                changed = true;
                runs.entry(c.graph.clone()).or_default().push(c);
            }
            changed
        };
        if changed {
            self.refresh();
        }
    }

    fn refresh(&self) {
        let mut all: Vec<Computed> = {
            let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
            runs.values().flatten().cloned().collect()
        };
        all.sort_by(|a, b| (a.time, &a.result, &a.property).cmp(&(b.time, &b.result, &b.property)));
        let merged = Arc::new(merge(&self.seed, &all));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = merged;
    }
}

/// The seed with `computed` (oldest first) on its materials: one `_bmci_computed_NAME` per
/// property — the latest run's value; a property's unit is the one its first run gave, and a
/// run giving it in another unit is left out — with the results and algorithms behind the
/// values shown, and `last_modified` the latest of their block times.
pub fn merge(seed: &Database, computed: &[Computed]) -> Database {
    let mut db = seed.clone();
    let mut properties: BTreeMap<String, Property> = BTreeMap::new();
    // (material, property) → the value shown.
    let mut shown: BTreeMap<(&str, &str), &Computed> = BTreeMap::new();
    for c in computed {
        let p = properties
            .entry(c.property.clone())
            .or_insert_with(|| describe(c));
        if p.unit.as_deref().unwrap_or("") != c.unit {
            continue;
        }
        shown.insert((&c.material, &c.property), c);
    }
    let index: BTreeMap<&str, usize> = seed
        .structures
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut behind: BTreeMap<usize, (BTreeSet<&str>, BTreeSet<&str>, u64)> = BTreeMap::new();
    for ((material, property), c) in &shown {
        let Some(&i) = index.get(material) else {
            continue;
        };
        db.structures[i].attributes[field(property)] = json!(c.value);
        let b = behind.entry(i).or_default();
        b.0.insert(&c.result);
        b.1.insert(&c.algorithm);
        b.2 = b.2.max(c.time);
    }
    for (i, (results, algorithms, time)) in behind {
        let a = &mut db.structures[i].attributes;
        a[RESULTS_FIELD] = json!(results);
        a[ALGORITHMS_FIELD] = json!(algorithms);
        a["last_modified"] = json!(crate::records::date_time(time));
    }
    if properties.is_empty() {
        return db;
    }
    db.computed = properties.into_values().collect();
    for (name, description) in [
        (
            RESULTS_FIELD,
            "The verified results (urn:metamesh:result:JOB/TASK) the computed values shown came from",
        ),
        (
            ALGORITHMS_FIELD,
            "The BMCI algorithms (urn:metamesh:algorithm:ID) that computed them",
        ),
    ] {
        db.computed.push(Property {
            name: Cow::Borrowed(name),
            kind: "list",
            description: Cow::Borrowed(description),
            unit: None,
        });
    }
    // Every entry carries every field it is described with.
    let names: Vec<String> = db.computed.iter().map(|p| p.name.to_string()).collect();
    for e in &mut db.structures {
        for n in &names {
            if e.attributes.get(n).is_none() {
                e.attributes[n.as_str()] = Value::Null;
            }
        }
    }
    db
}

fn describe(c: &Computed) -> Property {
    Property {
        name: Cow::Owned(field(&c.property)),
        kind: "float",
        description: Cow::Owned(if c.description.is_empty() {
            format!("{} as a verified BMCI run computed it", c.property)
        } else {
            format!("{} (a verified BMCI run's result)", c.description)
        }),
        unit: (!c.unit.is_empty()).then(|| Cow::Owned(c.unit.clone())),
    }
}
