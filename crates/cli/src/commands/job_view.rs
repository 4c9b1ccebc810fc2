//! How `job status` reads as text.

use serde_json::Value;

use crate::output::table;

/// `job status` as text: each task's state, replicas and outputs (or why it failed), and every
/// attempt that did not stand (timed out, outvoted, failed, dropped) with its run's status.
pub fn status_text(job: &Value) -> String {
    let rows: Vec<Vec<String>> = job["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let outs: Vec<String> = t["outputs"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                t["name"].as_str().unwrap_or("?").to_owned(),
                t["state"].as_str().unwrap_or("?").to_owned(),
                t["providers"]
                    .as_array()
                    .map(|p| p.len().to_string())
                    .unwrap_or_default(),
                if outs.is_empty() {
                    t["reason"].as_str().unwrap_or("-").to_owned()
                } else {
                    outs.join(" ")
                },
            ]
        })
        .collect();
    let mut attempts = Vec::new();
    for t in job["tasks"].as_array().cloned().unwrap_or_default() {
        for a in t["attempts"].as_array().cloned().unwrap_or_default() {
            attempts.push(vec![
                t["name"].as_str().unwrap_or("?").to_owned(),
                a["provider"].as_str().unwrap_or("?").to_owned(),
                a["assigned"].to_string(),
                a["outcome"].as_str().unwrap_or("?").to_owned(),
                a["status"].as_str().unwrap_or("-").to_owned(),
            ]);
        }
    }
    let mut text = format!(
        "job {} ({}) {}: paid {}, escrow left {}\n{}",
        job["id"].as_str().unwrap_or("?"),
        job["name"].as_str().unwrap_or(""),
        job["state"].as_str().unwrap_or("?"),
        job["paid"]["mmt"].as_str().unwrap_or("?"),
        job["escrow"]["mmt"].as_str().unwrap_or("?"),
        table(&["TASK", "STATE", "REPLICAS", "OUTPUTS / REASON"], &rows)
    );
    if !attempts.is_empty() {
        let head = ["TASK", "PROVIDER", "ASSIGNED", "OUTCOME", "RUN"];
        text.push_str(&format!("\nattempts:\n{}", table(&head, &attempts)));
    }
    text
}
