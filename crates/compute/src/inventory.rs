//! The files operators and researchers write: a provider's inventory and a job's task graph
//! (TOML), read into the chain's shapes. Sizes are `"64 GiB"`-style strings or byte counts;
//! prices are MMT amounts (`"0.5 MMT"`, `"1200wei"`).

use std::collections::BTreeMap;

use metamesh_primitives::{
    Amount,
    compute::{ACCELERATOR_KINDS, Accelerator, Cpu, EXECUTORS, Inventory, LINK_KINDS, Link},
};
use serde::Deserialize;

pub use crate::jobfile::*;
use crate::process::Software;

/// Why a file could not be read, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, FileError> {
    Err(FileError(msg.into()))
}

/// A size: bytes as an integer, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

impl Size {
    pub fn bytes(&self, what: &str) -> Result<u64, FileError> {
        match self {
            Size::Bytes(n) => Ok(*n),
            Size::Text(t) => parse_size(t).ok_or_else(|| {
                FileError(format!(
                    "{what}: `{t}` is not a size (say 64 MiB, 8 GiB or a byte count)"
                ))
            }),
        }
    }
}

pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return None,
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let whole: u64 = whole.parse().ok()?;
    let mut v = whole.checked_mul(mult)?;
    if !frac.is_empty() {
        let f: u64 = frac.parse().ok()?;
        let scale = 10u64.checked_pow(frac.len() as u32)?;
        v = v.checked_add(mult.checked_mul(f)? / scale)?;
    }
    Some(v)
}

pub(crate) fn amount(text: &str, what: &str) -> Result<Amount, FileError> {
    text.parse().map_err(|e| FileError(format!("{what}: {e}")))
}

pub(crate) fn index_of(table: &[&str], name: &str, what: &str) -> Result<u8, FileError> {
    match table.iter().position(|t| t.eq_ignore_ascii_case(name)) {
        Some(i) => Ok(i as u8),
        None => err(format!(
            "{what}: `{name}` is not one of {}",
            table.join(", ")
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CpuFile {
    cores: u64,
    #[serde(default)]
    model: String,
    #[serde(default)]
    benchmark: u64,
    #[serde(default = "zero")]
    price_hour: String,
}

fn zero() -> String {
    "0".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceleratorFile {
    kind: String,
    #[serde(default)]
    model: String,
    #[serde(default = "no_size")]
    memory: Size,
    #[serde(default = "one")]
    count: u64,
    #[serde(default)]
    benchmark: u64,
    #[serde(default = "zero")]
    price_hour: String,
}

pub(crate) fn no_size() -> Size {
    Size::Bytes(0)
}

pub(crate) fn one() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    kind: String,
    /// Megabits per second.
    bandwidth: u64,
    /// Microseconds.
    #[serde(default)]
    latency: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    region: String,
    executors: Vec<String>,
    /// MMT per million units of Wasm fuel.
    fuel_price: String,
    stake: String,
    cpu: CpuFile,
    memory: Size,
    #[serde(default = "zero")]
    memory_price_hour: String,
    #[serde(default = "no_size")]
    disk: Size,
    #[serde(default)]
    accelerators: Vec<AcceleratorFile>,
    #[serde(default)]
    links: Vec<LinkFile>,
    /// Whether tasks that ask for the network may have it.
    #[serde(default)]
    network: bool,
    /// Software offered to process tasks, by name: `[software.python3] path = "/usr/bin/python3"`.
    #[serde(default)]
    software: BTreeMap<String, Software>,
}

/// The names an inventory lists for `software`: each and its packages, sorted.
pub fn offered(software: &BTreeMap<String, Software>) -> Vec<String> {
    let mut names: Vec<String> = software
        .iter()
        .flat_map(|(n, s)| std::iter::once(n.clone()).chain(s.packages.iter().cloned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The software an inventory file offers, with where each lives (what the agent runs).
pub fn parse_software(text: &str) -> Result<BTreeMap<String, Software>, FileError> {
    let f: InventoryFile =
        toml::from_str(text).map_err(|e| FileError(format!("inventory: {e}")))?;
    Ok(f.software)
}

/// An inventory file: what the provider offers, and the stake it locks.
pub fn parse_inventory(text: &str) -> Result<(Inventory, Amount), FileError> {
    let f: InventoryFile =
        toml::from_str(text).map_err(|e| FileError(format!("inventory: {e}")))?;
    let mut executors = 0u64;
    for e in &f.executors {
        executors |= 1 << index_of(&EXECUTORS, e, "executors")?;
    }
    let per_million = amount(&f.fuel_price, "fuel_price")?;
    let inventory = Inventory {
        cpu: Cpu {
            cores: f.cpu.cores,
            model: f.cpu.model,
            benchmark: f.cpu.benchmark,
            price_hour: amount(&f.cpu.price_hour, "cpu.price_hour")?,
        },
        memory: f.memory.bytes("memory")?,
        memory_price_hour: amount(&f.memory_price_hour, "memory_price_hour")?,
        disk: f.disk.bytes("disk")?,
        accelerators: f
            .accelerators
            .iter()
            .map(|a| {
                Ok(Accelerator {
                    kind: index_of(&ACCELERATOR_KINDS, &a.kind, "accelerators.kind")?,
                    model: a.model.clone(),
                    memory: a.memory.bytes("accelerators.memory")?,
                    count: a.count,
                    benchmark: a.benchmark,
                    price_hour: amount(&a.price_hour, "accelerators.price_hour")?,
                })
            })
            .collect::<Result<_, FileError>>()?,
        links: f
            .links
            .iter()
            .map(|l| {
                Ok(Link {
                    kind: index_of(&LINK_KINDS, &l.kind, "links.kind")?,
                    bandwidth: l.bandwidth,
                    latency: l.latency,
                })
            })
            .collect::<Result<_, FileError>>()?,
        region: f.region,
        executors,
        fuel_price: Amount(per_million.0 / 1_000_000),
        software: Vec::new(),
        network: f.network,
        endpoint: String::new(),
    };
    let inventory = Inventory {
        software: offered(&f.software),
        ..inventory
    };
    for name in &inventory.software {
        if !metamesh_state::domains::compute::software_name_ok(name) {
            return err(format!(
                "software: `{name}` is not a name (letters, digits and .-_+:)"
            ));
        }
    }
    if inventory.cpu.cores == 0 || executors == 0 {
        return err("inventory: a provider needs at least one core and one executor");
    }
    Ok((inventory, amount(&f.stake, "stake")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64 MiB"), Some(64 << 20));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("3 parsecs"), None);
    }

    #[test]
    fn an_inventory_reads_and_bad_ones_say_why() {
        let (inv, stake) = parse_inventory(
            r#"
            region = "cn-east"
            executors = ["wasm"]
            fuel_price = "0.001 MMT"
            stake = "200 MMT"
            memory = "64 GiB"
            [cpu]
            cores = 8
            [[accelerators]]
            kind = "gpu"
            model = "A100"
            memory = "80 GiB"
            count = 4
            [[links]]
            kind = "dedicated"
            bandwidth = 10000
            "#,
        )
        .unwrap();
        assert_eq!(stake, Amount::from_mmt(200));
        assert_eq!(inv.fuel_price, Amount(1_000_000_000));
        assert_eq!(inv.accelerators[0].memory, 80 << 30);
        assert_eq!(inv.links[0].kind, 1);
        let e = parse_inventory("executors = [\"quantum\"]\nfuel_price = \"1\"\nstake = \"1\"\nmemory = 1\n[cpu]\ncores = 1\n").unwrap_err();
        assert!(e.0.contains("quantum"), "{e}");
        let e = parse_inventory("nonsense").unwrap_err();
        assert!(e.0.starts_with("inventory:"), "{e}");
    }

    #[test]
    fn a_job_file_reads() {
        let j = JobFile::parse(
            r#"
            name = "boron-screen"
            max_price = "20 MMT"
            preset = "balanced"
            [[tasks]]
            name = "prepare"
            program = "kernels/prepare.wasm"
            args = ["64"]
            inputs = { "structure.json" = "data/hBN.json" }
            resources = { cpu = 1, memory = "64 MiB", gpu = { count = 1, model = "A100" }, link = "dedicated" }
            verification = { replicas = 2 }
            timeout = 60
            [[tasks]]
            name = "bands"
            after = ["prepare"]
            program = "kernels/bands.wasm"
            inputs = { "kpoints.json" = "prepare:kpoints.json" }
            verification = "requester"
            "#,
        )
        .unwrap();
        let r = j.tasks[0].resources.resolve("prepare").unwrap();
        assert_eq!(
            (r.cpu, r.memory, r.accelerators.len(), r.link),
            (1, 64 << 20, 1, 2)
        );
        assert_eq!(JobFile::verification(&j.tasks[1]).unwrap(), (1, 1));
        let names = ["prepare", "bands"];
        assert_eq!(
            source("prepare:kpoints.json", &names, |_| false),
            Source::Task {
                task: "prepare".into(),
                output: "kpoints.json".into()
            }
        );
        assert_eq!(
            source("data/x.json", &names, |_| false),
            Source::Path("data/x.json".into())
        );
        assert!(JobFile::parse("name = 1").is_err());
    }
}
