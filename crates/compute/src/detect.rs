//! `provider detect`: a provider's inventory from the machine. CPU model and cores from
//! `/proc/cpuinfo`, memory from `/proc/meminfo`, disk from `statvfs`; GPUs from
//! `nvidia-smi --query-gpu` (NVML's command-line face, on every machine with NVIDIA's driver),
//! Ascend NPUs from `npu-smi info`, FPGAs and other accelerators from `lspci -nn` by vendor.
//! The parsers take the tools' text, so recorded outputs test them on machines without the
//! devices.

use std::{collections::BTreeMap, path::Path, process::Command};

/// Devices of one model found on the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// One of `ACCELERATOR_KINDS`.
    pub kind: &'static str,
    pub model: String,
    /// Bytes of device memory (0 when the tool does not say).
    pub memory: u64,
    pub count: u64,
    /// How many answer as healthy now.
    pub healthy: u64,
}

/// What the machine has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: u64,
    pub memory: u64,
    pub disk: u64,
    pub devices: Vec<Device>,
}

fn add(devices: &mut Vec<Device>, kind: &'static str, model: &str, memory: u64, healthy: bool) {
    match devices
        .iter_mut()
        .find(|d| d.kind == kind && d.model == model && d.memory == memory)
    {
        Some(d) => {
            d.count += 1;
            d.healthy += u64::from(healthy);
        }
        None => devices.push(Device {
            kind,
            model: model.to_owned(),
            memory,
            count: 1,
            healthy: u64::from(healthy),
        }),
    }
}

/// `nvidia-smi --query-gpu=index,name,memory.total,uuid --format=csv,noheader,nounits`.
pub fn parse_nvidia_smi(text: &str) -> Vec<Device> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(name), Some(mib)) = (f.get(1), f.get(2).and_then(|m| m.parse::<u64>().ok()))
        else {
            continue;
        };
        let model = name.trim_start_matches("NVIDIA ").to_owned();
        add(&mut out, "gpu", &model, mib << 20, true);
    }
    out
}

/// `npu-smi info`: the table's first row of each NPU names it and its health, the second its
/// HBM (`used / total` MB).
pub fn parse_npu_smi(text: &str) -> Vec<Device> {
    let mut out = Vec::new();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    for pair in rows.windows(2) {
        let first: Vec<&str> = pair[0]
            .first()
            .map_or(vec![], |c| c.split_whitespace().collect());
        if first.len() < 2 || first[0].parse::<u64>().is_err() || pair[0].len() < 2 {
            continue;
        }
        let healthy = pair[0][1] == "OK";
        let hbm = pair[1]
            .last()
            .and_then(|c| c.rsplit('/').next())
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        add(&mut out, "npu", first[1], hbm << 20, healthy);
    }
    out
}

/// `lspci -nn`: FPGAs by vendor (Xilinx/AMD `10ee`, Intel/Altera PAC `8086:0b2b` and
/// `1172`), and processing accelerators (class `1200`) of other vendors as NPUs. NVIDIA
/// devices are left to `nvidia-smi`, which knows their memory.
pub fn parse_lspci(text: &str) -> Vec<Device> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(ids) = line.rsplit('[').find_map(|s| {
            let s = s.split(']').next()?;
            (s.len() == 9 && s.as_bytes()[4] == b':').then_some(s)
        }) else {
            continue;
        };
        let (vendor, device) = ids.split_at(4);
        let device = &device[1..];
        let accelerator = line.contains("[1200]");
        let (kind, model) = match vendor {
            "10ee" if accelerator => ("fpga", format!("Xilinx {device}")),
            "1172" => ("fpga", format!("Altera {device}")),
            "8086" if device == "0b2b" || device == "0b30" => {
                ("fpga", format!("Intel PAC {device}"))
            }
            "19e5" if accelerator => ("npu", format!("Ascend {device}")),
            "10de" => continue,
            _ if accelerator => ("gpgpu", format!("{vendor}:{device}")),
            _ => continue,
        };
        // One card shows several PCI functions (x.0, x.1): count it once.
        let function = line.split_whitespace().next().unwrap_or_default();
        if !function.ends_with(".0") {
            continue;
        }
        add(&mut out, kind, &model, 0, true);
    }
    out
}

/// `/proc/cpuinfo`'s model name and `/proc/meminfo`'s total.
pub fn parse_proc(cpuinfo: &str, meminfo: &str) -> (String, u64) {
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let kib = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    (model, kib * 1024)
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The GPUs `nvidia-smi` sees now (none without the driver).
pub fn nvidia_gpus() -> Vec<Device> {
    run(
        "nvidia-smi",
        &[
            "--query-gpu=index,name,memory.total,uuid",
            "--format=csv,noheader,nounits",
        ],
    )
    .map(|t| parse_nvidia_smi(&t))
    .unwrap_or_default()
}

/// Everything detected on this machine, with free disk under `disk_at`. `tools` replaces a
/// tool's output by a recorded one (its name → the text), for machines without the device.
pub fn machine(disk_at: &Path, tools: &BTreeMap<String, String>) -> Machine {
    let tool = |name: &str, args: &[&str]| tools.get(name).cloned().or_else(|| run(name, args));
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let (cpu_model, memory) = parse_proc(&cpuinfo, &meminfo);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let mut devices = Vec::new();
    if let Some(t) = tool(
        "nvidia-smi",
        &[
            "--query-gpu=index,name,memory.total,uuid",
            "--format=csv,noheader,nounits",
        ],
    ) {
        devices.extend(parse_nvidia_smi(&t));
    }
    if let Some(t) = tool("npu-smi", &["info"]) {
        devices.extend(parse_npu_smi(&t));
    }
    if let Some(t) = tool("lspci", &["-nn"]) {
        let npus = devices.iter().any(|d| d.kind == "npu");
        devices.extend(
            parse_lspci(&t)
                .into_iter()
                .filter(|d| !(npus && d.kind == "npu")),
        );
    }
    Machine {
        cpu_model,
        cores,
        memory,
        disk: free_disk(disk_at),
        devices,
    }
}

/// Free bytes on the filesystem of `at` (or of its nearest existing parent: a data directory
/// not made yet).
fn free_disk(at: &Path) -> u64 {
    let at = at
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let Ok(c) = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return 0;
    }
    s.f_bavail as u64 * s.f_frsize as u64
}

/// The machine as an inventory file (TOML) a provider edits and registers: prices and stake
/// are left for the operator, at zero and the network's minimum.
pub fn inventory_toml(m: &Machine, executors: &[&str], software: &str) -> String {
    let mut t = String::new();
    t.push_str(
        "# Detected by `metamesh provider detect`; set prices and stake before registering.\n",
    );
    t.push_str("region = \"\"\n");
    t.push_str(&format!(
        "executors = [{}]\n",
        executors
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    t.push_str("fuel_price = \"0.001 MMT\"\nstake = \"100 MMT\"\n");
    t.push_str(&format!("memory = {}\ndisk = {}\n", m.memory, m.disk));
    t.push_str(&format!(
        "\n[cpu]\ncores = {}\nmodel = {:?}\nprice_hour = \"0\"\n",
        m.cores, m.cpu_model
    ));
    for d in &m.devices {
        t.push_str(&format!(
            "\n[[accelerators]]\nkind = \"{}\"\nmodel = {:?}\nmemory = {}\ncount = {}\nprice_hour = \"0\"\n",
            d.kind, d.model, d.memory, d.count
        ));
    }
    t.push_str(software);
    t
}
