//! `job logs -f` while a replica runs: its provider serves the log as it grows (the agent's
//! endpoint, registered in its inventory); once the replica has revealed, the rest comes from
//! the log it added to the content network.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::RpcArgs;

/// How far each running replica's log has been shown, by provider and task.
#[derive(Default)]
pub struct Live {
    shown: BTreeMap<(String, usize), u64>,
    endpoints: BTreeMap<String, Option<String>>,
}

impl Live {
    fn endpoint(&mut self, rpc: &RpcArgs, provider: &str) -> Option<String> {
        if let Some(e) = self.endpoints.get(provider) {
            return e.clone();
        }
        let p = rpc
            .call("mm_getProvider", serde_json::json!([provider]))
            .ok()?;
        let e = p["inventory"]["endpoint"].as_str().map(str::to_owned);
        self.endpoints.insert(provider.to_owned(), e.clone());
        e
    }

    /// Prints what the running replica `r` of task `task` logged since last time.
    pub fn stream(&mut self, rpc: &RpcArgs, job: &Value, task: usize, r: &Value, print: bool) {
        let provider = r["provider"].as_str().unwrap_or_default().to_owned();
        let Some(endpoint) = self.endpoint(rpc, &provider) else {
            return;
        };
        let id = job["id"].as_str().unwrap_or_default();
        let key = (provider.clone(), task);
        let from = self.shown.get(&key).copied().unwrap_or(0);
        let url = format!(
            "{}/logs/{}-{task}?from={from}",
            endpoint.trim_end_matches('/'),
            id.trim_start_matches("0x")
        );
        let Ok(mut reply) = ureq::get(&url).call() else {
            return; // not started yet, or the provider is away: the chain's log comes later
        };
        let Ok(bytes) = reply.body_mut().read_to_vec() else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        if print {
            if from == 0 {
                let name = job["tasks"][task]["name"].as_str().unwrap_or("?");
                println!("== {name} on {provider} (live) ==");
            }
            print!("{}", String::from_utf8_lossy(&bytes));
        }
        self.shown.insert(key, from + bytes.len() as u64);
    }

    /// The part of a finished replica's log not yet shown live.
    pub fn rest<'a>(&self, provider: &str, task: usize, log: &'a [u8]) -> Option<&'a [u8]> {
        let from = *self.shown.get(&(provider.to_owned(), task))?;
        Some(log.get(from as usize..).unwrap_or_default())
    }
}
