//! Accelerator detection from recorded tool outputs (machines here have no GPU), and the
//! inventory file it writes reading back as a valid inventory.

use std::collections::BTreeMap;

use metamesh_compute::{
    detect::{inventory_toml, machine, parse_lspci, parse_npu_smi, parse_nvidia_smi},
    inventory::parse_inventory,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn recorded_tools_give_devices() {
    let gpus = parse_nvidia_smi(&fixture("nvidia-smi.csv"));
    assert_eq!(gpus.len(), 2, "{gpus:?}");
    assert_eq!(
        (gpus[0].model.as_str(), gpus[0].count, gpus[0].memory),
        ("A100-SXM4-80GB", 4, 80 << 30)
    );
    assert_eq!(
        (gpus[1].model.as_str(), gpus[1].count),
        ("H100 80GB HBM3", 1)
    );
    let npus = parse_npu_smi(&fixture("npu-smi.txt"));
    assert_eq!(npus.len(), 1, "{npus:?}");
    assert_eq!(
        (
            npus[0].model.as_str(),
            npus[0].count,
            npus[0].healthy,
            npus[0].memory
        ),
        ("910B", 3, 2, 65536 << 20)
    );
    let pci = parse_lspci(&fixture("lspci.txt"));
    let kinds: Vec<(&str, &str)> = pci.iter().map(|d| (d.kind, d.model.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("fpga", "Xilinx 5048"),
            ("fpga", "Intel PAC 0b2b"),
            ("npu", "Ascend d801")
        ],
        "one Xilinx card of two functions, NVIDIA left to nvidia-smi"
    );
}

#[test]
fn a_detected_machine_is_an_inventory() {
    let tools: BTreeMap<String, String> = [
        ("nvidia-smi", fixture("nvidia-smi.csv")),
        ("npu-smi", fixture("npu-smi.txt")),
        ("lspci", fixture("lspci.txt")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let m = machine(std::path::Path::new("/"), &tools);
    assert!(m.cores >= 1 && m.memory > 0 && m.disk > 0, "{m:?}");
    let kinds: Vec<&str> = m.devices.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, ["gpu", "gpu", "npu", "fpga", "fpga"], "{m:?}");
    let text = inventory_toml(&m, &["wasm", "process"], "");
    let (inv, _) = parse_inventory(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(inv.accelerators.len(), 5);
    assert_eq!(
        inv.accelerators.iter().map(|a| a.count).sum::<u64>(),
        4 + 1 + 3 + 1 + 1
    );
    assert_eq!(inv.executors, 0b011);
}
