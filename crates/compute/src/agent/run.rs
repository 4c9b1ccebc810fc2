//! Running a replica: gathering its program and inputs, starting it on its executor (Wasm in
//! the loop, a process on a thread, a Slurm batch job), and turning a finished run into the
//! result the agent commits to.

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::AtomicBool},
    thread::JoinHandle,
};

use metamesh_primitives::compute::{
    Bytes, Output, RUN_BAD_INPUT, RUN_BAD_PROGRAM, RUN_OK, RUN_PROVIDER, RUN_STATUS, RunResult,
};
use serde_json::Value;

use super::{Agent, FETCH_TRIES, MAX_TASK_MEMORY, Port, Stage, Step, Work, hex0x};
use crate::{Limits, ProcessTask, Run, run_wasm, slurm::Polled};

/// Ways an agent misbehaves on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// Alters every output's bytes.
    Corrupt,
    /// Moves every number of the comparator file by one part in a thousand: a result that
    /// looks right but is not within the task's tolerance.
    Perturb,
    /// Proves a zk task's result for outputs other than those it reveals.
    ZkWrongOutput,
}

/// A process run on its thread.
pub(super) struct Running {
    handle: JoinHandle<Run>,
    cancel: Arc<AtomicBool>,
}

/// A task's program (empty for a command over provider software), inputs by name, and
/// arguments.
type Gathered = (Vec<u8>, BTreeMap<String, Vec<u8>>, Vec<String>);

fn key(w: &Work) -> (String, u64) {
    (w.job.clone(), w.task)
}

fn failed_run(status: u8, reason: String) -> Run {
    Run::failed(status, reason)
}

impl<P: Port> Agent<P> {
    /// The task's program and inputs, from the content network.
    fn gather(&mut self, job: &Value, index: u64) -> Result<Gathered, String> {
        let spec = &job["spec"]["tasks"][index as usize];
        let program = match spec["program"].as_str() {
            Some(cid) => self.port.fetch(cid, 64 << 20)?,
            None if spec["executor"] != "wasm" => Vec::new(),
            None => return Err("the task names no program".into()),
        };
        let mut inputs = BTreeMap::new();
        let mut total = 0u64;
        for input in spec["inputs"].as_array().cloned().unwrap_or_default() {
            let name = input["name"]
                .as_str()
                .ok_or("an input without a name")?
                .to_owned();
            if !metamesh_state::domains::compute::file_name_ok(&name) {
                return Err(format!("an input name that is not a file name: {name:?}"));
            }
            let cid = match (input["cid"].as_str(), input["from"].as_str()) {
                (Some(c), _) => c.to_owned(),
                (None, Some(from)) => {
                    let (task, output) = from.split_once(':').ok_or("a bad input source")?;
                    let up = job["tasks"]
                        .as_array()
                        .and_then(|ts| ts.iter().find(|t| t["name"] == task))
                        .ok_or_else(|| format!("input {name}: no task {task}"))?;
                    up["outputs"][output]
                        .as_str()
                        .ok_or_else(|| format!("input {name}: task {task} has no output {output}"))?
                        .to_owned()
                }
                _ => return Err(format!("input {name} has no source")),
            };
            let bytes = self
                .port
                .fetch(&cid, self.max_input.saturating_sub(total))?;
            total += bytes.len() as u64;
            inputs.insert(name, bytes);
        }
        let mut args = Vec::new();
        if spec["executor"] == "wasm" {
            args.push(spec["name"].as_str().unwrap_or("task").to_owned());
        }
        for a in spec["args"].as_array().cloned().unwrap_or_default() {
            args.push(a.as_str().unwrap_or_default().to_owned());
        }
        Ok((program, inputs, args))
    }

    /// Lets the log service serve this run's log.
    pub(super) fn open_log(&self, w: &Work) -> Result<(), String> {
        let name = format!("{}-{}", hex::encode(self.job_hash(w)?), w.task);
        if let Ok(mut open) = self.live_logs.lock() {
            open.insert(name);
        }
        Ok(())
    }

    fn log_path(&self, w: &Work) -> Result<std::path::PathBuf, String> {
        Ok(self
            .logs
            .join(format!("{}-{}.log", hex::encode(self.job_hash(w)?), w.task)))
    }

    /// Moves an assigned replica on: starts its run, or, once it has finished, records it.
    pub(super) fn run(
        &mut self,
        w: &Work,
        job: &Value,
        deadline: u64,
        step: &mut Step,
    ) -> Result<(), String> {
        let spec = &job["spec"]["tasks"][w.task as usize];
        let executor = spec["executor"].as_str().unwrap_or_default().to_owned();
        if let Some(r) = self.running.get(&key(w)) {
            if !r.handle.is_finished() {
                return Ok(());
            }
            let r = self.running.remove(&key(w)).expect("just seen");
            let run = r
                .handle
                .join()
                .unwrap_or_else(|_| failed_run(RUN_PROVIDER, "the run's thread panicked".into()));
            return self.finish(w, spec, run, None, step);
        }
        if let (true, Some(id)) = (executor == "slurm", w.slurm.clone()) {
            return self.poll_slurm(w, spec, &id, step);
        }
        let gathered = match self.gather(job, w.task) {
            Ok(g) => g,
            // Tried again while there is time to run and commit; then reported as bad input,
            // which every honest replica reports alike.
            Err(e) if w.fetch_failures + 1 < FETCH_TRIES && self.port.head()? + 3 < deadline => {
                self.set(w, |x| x.fetch_failures += 1)?;
                return Err(format!("fetching inputs (will try again): {e}"));
            }
            Err(e) => return self.finish(w, spec, failed_run(RUN_BAD_INPUT, e), None, step),
        };
        match executor.as_str() {
            "wasm" => {
                let run = self.run_wasm(spec, gathered);
                self.finish(w, spec, run, None, step)
            }
            "process" => self.start_process(w, spec, gathered, step),
            "slurm" => self.submit_slurm(w, spec, gathered, step),
            other => Err(format!("no executor {other}")),
        }
    }

    fn run_wasm(&self, spec: &Value, (program, inputs, args): Gathered) -> Run {
        let fuel = spec["fuel"].as_u64().unwrap_or(Limits::default().fuel);
        let memory = spec["resources"]["memory"].as_u64().unwrap_or(0) as usize;
        // From the task alone, never from this agent's settings: every replica runs alike.
        let limits = Limits {
            fuel,
            memory: memory.clamp(16 << 20, MAX_TASK_MEMORY),
            output: Limits::default().output,
        };
        run_wasm(&program, args, inputs, limits)
    }

    fn process_task(
        &self,
        w: &Work,
        spec: &Value,
        (program, mut inputs, args): Gathered,
    ) -> Result<ProcessTask, String> {
        if !program.is_empty() {
            inputs.insert("program".into(), program);
        }
        Ok(ProcessTask {
            name: format!("{}-{}", hex::encode(self.job_hash(w)?), w.task),
            command: args,
            inputs,
            cpu: spec["resources"]["cpu"].as_u64().unwrap_or(1).max(1),
            memory: spec["resources"]["memory"]
                .as_u64()
                .unwrap_or(0)
                .max(64 << 20),
            walltime: spec["walltime"].as_u64().unwrap_or(600).max(1),
            network: spec["network"] == true,
            log: self.log_path(w)?,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    fn start_process(
        &mut self,
        w: &Work,
        spec: &Value,
        gathered: Gathered,
        step: &mut Step,
    ) -> Result<(), String> {
        let Some(native) = self.native.clone() else {
            let run = failed_run(RUN_PROVIDER, "this agent does not run process tasks".into());
            return self.finish(w, spec, run, None, step);
        };
        let task = self.process_task(w, spec, gathered)?;
        // Nothing to copy from a task no other replica runs: its log is live from the start.
        if spec["verification"] == "requester" || spec["verification"]["replicas"] == 1 {
            self.open_log(w)?;
        }
        let cancel = task.cancel.clone();
        let handle = std::thread::spawn(move || native.run(&task));
        step.lines
            .push(format!("job {} task {}: started a process", w.job, w.task));
        self.running.insert(key(w), Running { handle, cancel });
        Ok(())
    }

    fn submit_slurm(
        &mut self,
        w: &Work,
        spec: &Value,
        gathered: Gathered,
        step: &mut Step,
    ) -> Result<(), String> {
        let (Some(slurm), Some(native)) = (self.slurm.clone(), self.native.clone()) else {
            let run = failed_run(RUN_PROVIDER, "this agent does not run Slurm tasks".into());
            return self.finish(w, spec, run, None, step);
        };
        let task = self.process_task(w, spec, gathered)?;
        let gpus = spec["resources"]["accelerators"].as_array().map_or(0, |a| {
            a.iter()
                .filter(|x| x["kind"] == "gpu")
                .filter_map(|x| x["count"].as_u64())
                .sum()
        });
        match slurm.submit(&native, &task, gpus) {
            Ok(id) => {
                step.lines
                    .push(format!("job {} task {}: Slurm job {id}", w.job, w.task));
                self.set(w, |x| x.slurm = Some(id))
            }
            Err(e) => self.finish(w, spec, failed_run(RUN_PROVIDER, e), None, step),
        }
    }

    fn poll_slurm(
        &mut self,
        w: &Work,
        spec: &Value,
        id: &str,
        step: &mut Step,
    ) -> Result<(), String> {
        let slurm = self
            .slurm
            .clone()
            .ok_or("this agent does not run Slurm tasks")?;
        let name = format!("{}-{}", hex::encode(self.job_hash(w)?), w.task);
        let polled = match slurm.poll(id, &name) {
            Ok(p) => p,
            // The cluster lost the job (no queue entry, no record): after a while another
            // provider gets the task.
            Err(e) if w.fetch_failures + 1 >= FETCH_TRIES => {
                let run = failed_run(RUN_PROVIDER, e);
                return self.finish(w, spec, run, None, step);
            }
            Err(e) => {
                self.set(w, |x| x.fetch_failures += 1)?;
                return Err(e);
            }
        };
        match polled {
            Polled::Waiting => Ok(()),
            Polled::Done(run) => {
                let log = slurm.log(&name);
                self.finish(w, spec, run, Some(log), step)?;
                slurm.clean(&name);
                Ok(())
            }
        }
    }

    /// Stops whatever runs for `w` (its job ended).
    pub(super) fn stop(&mut self, w: &Work) {
        if let Some(r) = self.running.remove(&key(w)) {
            r.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = r.handle.join();
        }
        if let (Some(slurm), Some(id)) = (&self.slurm, &w.slurm) {
            slurm.cancel(id);
            if let Ok(job) = self.job_hash(w) {
                slurm.clean(&format!("{}-{}", hex::encode(job), w.task));
            }
        }
    }

    /// Adds the outputs and the log, and keeps the result and a fresh salt for the commitment.
    fn finish(
        &mut self,
        w: &Work,
        spec: &Value,
        mut run: Run,
        log_text: Option<Vec<u8>>,
        step: &mut Step,
    ) -> Result<(), String> {
        if run.status == RUN_OK && self.fault == super::Fault::Corrupt {
            for bytes in run.outputs.values_mut() {
                bytes.extend(b"(corrupted)");
            }
        }
        let comparator = spec["comparator"]["json"].as_str().map(str::to_owned);
        let mut values = Vec::new();
        let mut shape = Vec::new();
        if let (Some(file), RUN_OK) = (&comparator, run.status) {
            if let (super::Fault::Perturb, Some(b)) = (self.fault, run.outputs.get_mut(file)) {
                *b = perturb(b);
            }
            match run.outputs.get(file).map(|b| numbers(b)) {
                Some(Ok((v, s))) => {
                    values = v;
                    shape = self.suite.hash(s.as_bytes()).to_vec();
                }
                // The run still used what it used: a program that never writes the file pays.
                Some(Err(e)) => {
                    run = Run {
                        usage: run.usage.clone(),
                        ..failed_run(RUN_BAD_PROGRAM, format!("{file}: {e}"))
                    }
                }
                None => {
                    run = Run {
                        usage: run.usage.clone(),
                        ..failed_run(RUN_BAD_PROGRAM, format!("the run wrote no {file}"))
                    }
                }
            }
        }
        // A zk task's private circuit inputs stay here (whatever the task says it is).
        let zk = spec["verification"]["zk"].is_string();
        let private = run.outputs.remove(super::ZK_INPUT).filter(|_| zk);
        if zk && run.status == RUN_OK && private.is_none() {
            run = Run {
                usage: run.usage.clone(),
                ..failed_run(
                    RUN_BAD_PROGRAM,
                    format!(
                        "a zk task's run writes the circuit's inputs to {}",
                        super::ZK_INPUT
                    ),
                )
            }
        }
        let mut outputs = Vec::new();
        for (name, bytes) in &run.outputs {
            let (_, cid) = self.port.add(name, bytes)?;
            outputs.push(Output {
                name: name.clone(),
                cid: Bytes(cid),
                size: bytes.len() as u64,
            });
        }
        let result = RunResult {
            status: run.status,
            code: run.code,
            fuel: run.fuel,
            outputs,
            usage: run.usage.clone(),
            values: values.iter().map(|v: &f64| v.to_bits()).collect(),
            shape: Bytes(shape),
            claims: Vec::new(),
        };
        let (result, proof) = match private {
            Some(private) if result.status == RUN_OK => match self.prove(w, &private, &result) {
                Ok((proof, claims)) => (RunResult { claims, ..result }, Some(hex0x(&proof))),
                Err(u) => {
                    // The detail may quote private inputs: it stays in the agent's output.
                    run.reason = Some(format!("no proof of the result: {}", u.public));
                    step.lines.push(format!(
                        "job {} task {}: no proof: {}",
                        w.job, w.task, u.detail
                    ));
                    let failed = RunResult {
                        status: u.status,
                        outputs: Vec::new(),
                        ..result
                    };
                    (failed, None)
                }
            },
            _ => (result, None),
        };
        let log_file = self.log_path(w)?;
        let mut log = match log_text {
            Some(l) => l,
            None => std::fs::read(&log_file).unwrap_or_default(),
        };
        log.extend(&run.stdout);
        if !run.stderr.is_empty() {
            log.extend(b"--- stderr ---\n");
            log.extend(&run.stderr);
        }
        if let Some(r) = &run.reason {
            log.extend(format!("--- {r} ---\n").as_bytes());
        }
        std::fs::write(&log_file, &log)
            .map_err(|e| format!("writing {}: {e}", log_file.display()))?;
        let (_, logs) = self.port.add("log.txt", &log)?;
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|_| "no randomness for the salt")?;
        step.lines.push(format!(
            "job {} task {}: ran ({}, fuel {}, {} ms, {} outputs)",
            w.job,
            w.task,
            RUN_STATUS[usize::from(run.status)],
            run.fuel,
            run.usage.wall_ms,
            result.outputs.len()
        ));
        let encoded = alloy_rlp::encode(&result);
        self.set(w, |x| {
            x.stage = Stage::Ran;
            x.result = Some(hex0x(&encoded));
            x.salt = Some(hex0x(&salt));
            x.logs = Some(hex0x(&logs));
            x.proof = proof;
        })
    }
}

/// The numbers of a JSON document in order (object keys sorted), and its shape: the document
/// with every number replaced by 0.
pub fn numbers(bytes: &[u8]) -> Result<(Vec<f64>, String), String> {
    let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = Vec::new();
    fn walk(v: &mut Value, out: &mut Vec<f64>) {
        match v {
            Value::Number(n) => {
                out.push(n.as_f64().unwrap_or(f64::NAN));
                *v = Value::from(0);
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&mut doc, &mut out);
    if out.len() > metamesh_state::domains::compute::MAX_VALUES {
        return Err(format!(
            "more than {} numbers to compare",
            metamesh_state::domains::compute::MAX_VALUES
        ));
    }
    if out.iter().any(|v| !v.is_finite()) {
        return Err("a number that is not finite".into());
    }
    Ok((out, doc.to_string()))
}

/// The document with every number moved by one part in a thousand (a faulty provider's).
fn perturb(bytes: &[u8]) -> Vec<u8> {
    let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) else {
        return bytes.to_vec();
    };
    fn walk(v: &mut Value) {
        match v {
            Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    *v = Value::from(x * 1.001 + 1e-3);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            Value::Object(m) => m.values_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut doc);
    doc.to_string().into_bytes()
}
