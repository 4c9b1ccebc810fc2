//! zk-verified tasks: one provider runs the task and proves its result with a Groth16 proof
//! for the task's registered circuit; no replicas are needed.
//!
//! The chain fills in the circuit's binding inputs ([`ZK_BINDINGS`]) itself — the job id, the
//! task's index, the digest of what the task read, the digest of what the run gave, and the
//! provider — so a proof stands for this task's result from this provider and nothing else.
//! The circuit's other public inputs are the result's claims (a statistic, a commitment),
//! which the proof establishes. What the circuit proves of them is the circuit's meaning; the
//! chain proves only that the proof verifies with these bindings, and that the claims the task
//! pins (a dataset's registered commitment, say) are the values pinned. The bindings stop a
//! proof standing for another task or provider; the pins make it about the submitter's data.

use alloy_rlp::Encodable;
use metamesh_crypto::{Address, Suite};
use metamesh_primitives::{
    Amount, Hash,
    compute::{Bytes, Output, RunResult, TaskSpec, ZK_BINDINGS},
};
use metamesh_trie::NodeStore;

use super::{
    ComputeEvent, Job, REPLICA_OUTVOTED, Task,
    settle::{accept, fail_task, resolve_inputs},
    verify::{end_replica, record_reveal, requeue_after_backoff, withdraw},
};
use crate::{
    Code, Event, Exec, Outcome,
    domains::{
        TxContext,
        zk::{self, Circuit},
    },
    exec::reject,
};

/// The digest of what a task reads: its program, its arguments, and each input's name and CID
/// (an upstream output's size too), as the chain resolved them.
pub fn input_digest(suite: Suite, spec: &TaskSpec, inputs: &[Output]) -> Hash {
    let mut p = Vec::new();
    spec.program.encode(&mut p);
    spec.args.encode(&mut p);
    alloy_rlp::encode_list::<Output, Output>(inputs, &mut p);
    suite.hash(&metamesh_primitives::rlp::list(&p))
}

/// The digest of what a run gave: the result without its claims (which the proof proves).
pub fn output_digest(suite: Suite, result: &RunResult) -> Hash {
    let bare = RunResult {
        claims: Vec::new(),
        ..result.clone()
    };
    super::result_digest(suite, &bare)
}

/// A 32-byte digest as two public inputs below 2^128: its high and low halves.
pub fn halves(h: &Hash) -> [[u8; 32]; 2] {
    let mut hi = [0u8; 32];
    let mut lo = [0u8; 32];
    hi[16..].copy_from_slice(&h[..16]);
    lo[16..].copy_from_slice(&h[16..]);
    [hi, lo]
}

/// The values of [`ZK_BINDINGS`], in that order, as 32-byte big-endian integers.
pub fn bindings(
    job: &Hash,
    task: u64,
    inputs: &Hash,
    outputs: &Hash,
    provider: &Address,
) -> [[u8; 32]; 8] {
    let [job_hi, job_lo] = halves(job);
    let [in_hi, in_lo] = halves(inputs);
    let [out_hi, out_lo] = halves(outputs);
    let mut t = [0u8; 32];
    t[24..].copy_from_slice(&task.to_be_bytes());
    let mut who = [0u8; 32];
    who[12..].copy_from_slice(&provider.0);
    [job_hi, job_lo, t, in_hi, in_lo, out_hi, out_lo, who]
}

/// Whether a circuit can verify tasks: it names each binding exactly once.
pub fn is_task_circuit(names: &[String]) -> bool {
    ZK_BINDINGS
        .iter()
        .all(|b| names.iter().filter(|n| n == b).count() == 1)
}

/// A circuit's public inputs in its order: each binding at its name, the claims in order in
/// the other places. `None` when the claims do not fill them exactly.
pub fn public_inputs(
    names: &[String],
    bindings: &[[u8; 32]; 8],
    claims: &[Hash],
) -> Option<Vec<[u8; 32]>> {
    let mut claims = claims.iter();
    let out: Option<Vec<[u8; 32]>> = names
        .iter()
        .map(|n| match ZK_BINDINGS.iter().position(|b| b == n) {
            Some(i) => Some(bindings[i]),
            None => claims.next().copied(),
        })
        .collect();
    out.filter(|_| claims.next().is_none())
}

/// At submission: a zk task's circuit is registered, can verify tasks, and has a claim at
/// every index the task pins; each pinned value is a canonical input of its engine.
pub(crate) fn check_task_circuit<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    index: usize,
    spec: &TaskSpec,
) -> Outcome {
    let Some(c) = ex
        .load::<Circuit>(&spec.circuit)?
        .filter(|c| is_task_circuit(&c.inputs))
    else {
        return reject(Code::NotTaskCircuit, &[index as u128]);
    };
    let claims = (c.inputs.len() - ZK_BINDINGS.len()) as u64;
    let values: Vec<Hash> = spec.pinned.iter().map(|p| p.value).collect();
    if spec.pinned.last().is_some_and(|p| p.index >= claims) || !zk::canonical(c.engine, &values) {
        return reject(Code::NotTaskCircuit, &[index as u128]);
    }
    Ok(())
}

/// Whether the result carries every claim the task pins.
pub fn pins_hold(spec: &TaskSpec, claims: &[Hash]) -> bool {
    spec.pinned
        .iter()
        .all(|p| claims.get(p.index as usize) == Some(&p.value))
}

/// Whether a refusal of the proof is the provider's doing (a proof or claims that do not
/// stand), so it is slashed for it; the others (a circuit record the chain cannot use) are not.
fn provider_at_fault(code: Code) -> bool {
    matches!(
        code,
        Code::BadProof
            | Code::ProofInvalid
            | Code::NonCanonicalInput
            | Code::ClaimCount
            | Code::ClaimMismatch
    )
}

/// A zk task's successful run revealed (its result's digest `digest`): the result is accepted
/// when it carries the pinned claims and its proof verifies with the chain's bindings, and its
/// provider is paid from the escrow. A proof or claims that do not stand get the provider
/// slashed and the task placed again (or failed once its retries are spent).
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    tx: &TxContext,
    id: &Hash,
    job: Job,
    index: u64,
    mut task: Task,
    r: usize,
    (result, logs, proof, digest): (&RunResult, &Bytes, &Bytes, Hash),
) -> Outcome {
    let me = tx.sender;
    let spec = job.spec.tasks[index as usize].clone();
    let suite = ex.suite();
    let inputs = resolve_inputs(ex, id, &job, index)?;
    let preimage = alloy_rlp::encode(&inputs).len()
        + alloy_rlp::encode(&spec.args).len()
        + spec.program.len()
        + 16;
    ex.charge_hash(preimage)?;
    let input = input_digest(suite, &spec, &inputs);
    ex.charge_hash(alloy_rlp::encode(result).len())?;
    let output = output_digest(suite, result);
    let names = ex
        .load::<Circuit>(&spec.circuit)?
        .map(|c| c.inputs)
        .unwrap_or_default();
    let bound = bindings(id, index, &input, &output, &me);
    let verdict = match public_inputs(&names, &bound, &result.claims) {
        Some(_) if !pins_hold(&spec, &result.claims) => Err(Code::ClaimMismatch),
        Some(public) => zk::verify(ex, &spec.circuit, proof, &public)?.map(|()| public),
        None => Err(Code::ClaimCount),
    };
    if let Err(code) = verdict
        && !provider_at_fault(code)
    {
        // The chain could not judge the proof: the provider withdraws, unpaid and unslashed.
        ex.emit(Event::Compute(ComputeEvent::ProofRejected {
            job: *id,
            task: index,
            provider: me,
            code: code as u16,
            slashed: Amount::ZERO,
        }))?;
        return withdraw(ex, me, id, job, index, task, r, (result, logs), false);
    }
    record_reveal(ex, (id, index, &mut task, r), (result, logs, digest))?;
    match verdict {
        Ok(public) => {
            zk::record_statement(ex, tx, &spec.circuit, &public)?;
            let leader = result.clone();
            // The proof shows the result, not the work it took: the pool pays on neither.
            accept(ex, id, job, index, task, leader, false)
        }
        Err(code) => rejected(ex, me, id, job, index, task, r, code),
    }
}

#[allow(clippy::too_many_arguments)]
fn rejected<S: NodeStore + Clone>(
    ex: &mut Exec<'_, S>,
    me: Address,
    id: &Hash,
    mut job: Job,
    index: u64,
    mut task: Task,
    r: usize,
    code: Code,
) -> Outcome {
    let mut replica = task.replicas[r].clone();
    let slashed: Amount = end_replica(ex, &mut job, index, &mut replica, REPLICA_OUTVOTED)?;
    task.replicas[r] = replica;
    ex.emit(Event::Compute(ComputeEvent::ProofRejected {
        job: *id,
        task: index,
        provider: me,
        code: code as u16,
        slashed,
    }))?;
    task.retries += 1;
    task.first_reveal = 0;
    if task.retries > ex.params().compute_max_retries {
        let retries = u128::from(task.retries);
        return fail_task(ex, id, job, index, task, Code::RetriesExhausted, &[retries]);
    }
    requeue_after_backoff(ex, id, &job, index, task)?;
    ex.save(id, &job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn claims_fill_the_places_bindings_leave() {
        let mut all = names(&["commitment", "sum"]);
        all.extend(names(&ZK_BINDINGS));
        assert!(is_task_circuit(&all));
        let b = bindings(&[7; 32], 3, &[1; 32], &[2; 32], &Address([9; 20]));
        let p = public_inputs(&all, &b, &[[5; 32], [6; 32]]).unwrap();
        assert_eq!(p[0], [5; 32]);
        assert_eq!(p[1], [6; 32]);
        assert_eq!(&p[2..], &b[..]);
        assert!(public_inputs(&all, &b, &[[5; 32]]).is_none());
        assert!(public_inputs(&all, &b, &[[5; 32]; 3]).is_none());
        // Each half of a digest is below 2^128, so below both engines' moduli.
        assert_eq!(b[0][..16], [0; 16]);
        assert_eq!(b[0][16..], [7; 16]);
        assert_eq!(b[2][31], 3);
        assert_eq!(b[7][12..], [9; 20]);
        all.push("provider".into());
        assert!(!is_task_circuit(&all));
        assert!(!is_task_circuit(&names(&["a", "b"])));
    }

    #[test]
    fn claims_are_not_part_of_the_outputs_digest() {
        let suite = Suite::default();
        let a = RunResult::default();
        let b = RunResult {
            claims: vec![[1; 32]],
            ..RunResult::default()
        };
        assert_eq!(output_digest(suite, &a), output_digest(suite, &b));
        assert_ne!(
            super::super::result_digest(suite, &a),
            super::super::result_digest(suite, &b)
        );
    }
}
