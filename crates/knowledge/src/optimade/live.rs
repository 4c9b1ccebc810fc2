//! BMCI as it is served: the seed with the properties verified runs computed merged in. The
//! graph is the one source of them (a reorg that drops a run's graph drops its values); this
//! view is rebuilt from it whenever a step of the indexer changes them.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use serde_json::{Value, json};

use super::database::{Database, Property};
use crate::bmci::Computed;

/// The field a computed property is served as.
pub fn field(property: &str) -> String {
    format!("_bmci_computed_{property}")
}

pub struct Bmci {
    seed: Arc<Database>,
    current: RwLock<Arc<Database>>,
}

impl Bmci {
    pub fn new(seed: Database) -> Self {
        let seed = Arc::new(seed);
        Bmci {
            current: RwLock::new(seed.clone()),
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

    pub fn refresh(&self, computed: &[Computed]) {
        let merged = Arc::new(merge(&self.seed, computed));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = merged;
    }
}

/// The seed with `computed` (oldest first: a later run of a property replaces an earlier
/// value) on its materials: one `_bmci_computed_NAME` per property, the results and
/// algorithms they came from, and `last_modified` the latest run's block time.
pub fn merge(seed: &Database, computed: &[Computed]) -> Database {
    let mut db = seed.clone();
    let mut properties: BTreeMap<String, Property> = BTreeMap::new();
    let index: BTreeMap<String, usize> = db
        .structures
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    for c in computed {
        let Some(&i) = index.get(&c.material) else {
            continue;
        };
        let a = &mut db.structures[i].attributes;
        a[field(&c.property)] = json!(c.value);
        for (key, value) in [
            ("_bmci_computed_results", &c.result),
            ("_bmci_computed_algorithms", &c.algorithm),
        ] {
            let list = a[key].as_array_mut();
            match list {
                Some(l) if l.iter().any(|v| v == value.as_str()) => {}
                Some(l) => l.push(json!(value)),
                None => a[key] = json!([value]),
            }
        }
        a["last_modified"] = json!(crate::records::date_time(c.time));
        properties
            .entry(c.property.clone())
            .or_insert_with(|| Property {
                name: Cow::Owned(field(&c.property)),
                kind: "float",
                description: Cow::Owned(if c.description.is_empty() {
                    format!("{} as a verified BMCI run computed it", c.property)
                } else {
                    format!("{} (a verified BMCI run's result)", c.description)
                }),
                unit: (!c.unit.is_empty()).then(|| Cow::Owned(c.unit.clone())),
            });
    }
    if !properties.is_empty() {
        db.computed = properties.into_values().collect();
        for (name, description) in [
            (
                "_bmci_computed_results",
                "The verified results (urn:metamesh:result:JOB/TASK) the computed values came from",
            ),
            (
                "_bmci_computed_algorithms",
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
    }
    db
}
