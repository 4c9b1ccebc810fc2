//! When two replicas agree, and what an agreeing replica is owed.
//!
//! Exact tasks agree on everything but the metered usage (for Wasm that is the digest: usage is
//! zero). A task with a comparator agrees on the status, the exit code, the output names, the
//! comparator file's shape, and its numbers within the declared tolerances, so floating-point
//! codes that are not bit-reproducible across machines still reach a quorum. Every comparison
//! is IEEE-754 subtraction, multiplication and ordering, exactly rounded on every node.

use metamesh_primitives::{
    Amount,
    compute::{Comparator, RunResult, TaskSpec},
};

use super::Replica;

/// The most numbers a comparator file may give.
pub const MAX_VALUES: usize = 4096;
/// A native run's work counted as fuel for the computing reward: per core and millisecond.
pub const FUEL_PER_CORE_MS: u64 = 100_000;

/// Whether the numbers `a` and `b` agree within the comparator's tolerances.
pub fn close(c: &Comparator, a: f64, b: f64) -> bool {
    let (rtol, atol) = (f64::from_bits(c.rtol), f64::from_bits(c.atol));
    let scale = a.abs().max(b.abs());
    (a - b).abs() <= atol.max(rtol * scale)
}

/// Whether two results agree under the task's verification.
pub fn agree(spec: &TaskSpec, a: &RunResult, b: &RunResult) -> bool {
    let c = &spec.comparator;
    if c.is_exact() {
        return a.status == b.status
            && a.code == b.code
            && a.fuel == b.fuel
            && a.outputs == b.outputs
            && a.values == b.values
            && a.shape == b.shape;
    }
    // The comparator's file is compared by its numbers; every other output byte for byte.
    a.status == b.status
        && a.code == b.code
        && a.outputs.len() == b.outputs.len()
        && a.outputs
            .iter()
            .zip(&b.outputs)
            .all(|(x, y)| x.name == y.name && (x.name == c.file || x == y))
        && a.shape == b.shape
        && a.values.len() == b.values.len()
        && a.values
            .iter()
            .zip(&b.values)
            .all(|(x, y)| close(c, f64::from_bits(*x), f64::from_bits(*y)))
}

/// Whether a result's numbers can be compared: finite, and not too many.
pub fn values_ok(result: &RunResult) -> bool {
    result.values.len() <= MAX_VALUES
        && result.values.iter().all(|v| f64::from_bits(*v).is_finite())
        && (result.shape.is_empty() || result.shape.len() == 32)
}

/// The wall time a replica can have used, as the chain saw it: its meter, but no more than the
/// time from its assignment to its commitment by the blocks' clocks, nor the task's limit.
pub fn bounded_ms(spec: &TaskSpec, r: &Replica) -> u64 {
    let chain = r
        .committed_at
        .saturating_sub(r.assigned_at)
        .saturating_add(1)
        .saturating_mul(1000);
    r.result
        .usage
        .wall_ms
        .min(chain)
        .min(spec.walltime.saturating_mul(1000))
}

/// The wall time an agreeing native replica is paid for: its own (bounded by the chain's
/// clock), but no more than the upper median of the agreeing replicas' placed before any
/// result was public. One replica reporting less than it used lowers only its own pay; one
/// reporting more gains at most what the chain's clock allows, and nothing once the others
/// outnumber it.
pub fn paid_ms(spec: &TaskSpec, r: &Replica, agreeing: &[&Replica], first_reveal: u64) -> u64 {
    let mut walls: Vec<u64> = agreeing
        .iter()
        .filter(|a| !a.late(first_reveal))
        .map(|a| bounded_ms(spec, a))
        .collect();
    walls.sort_unstable();
    let median = walls.get(walls.len() / 2).copied().unwrap_or(0);
    bounded_ms(spec, r).min(median)
}

/// What a replica is owed for its agreed work, at most its `max`: Wasm its fuel at its fuel
/// price, a native run its paid wall time at its hourly rate.
pub fn owed(spec: &TaskSpec, r: &Replica, paid_ms: u64) -> Amount {
    let owed = if spec.executor == 0 {
        r.fuel_price.0.saturating_mul(u128::from(r.result.fuel))
    } else {
        r.rate.0.saturating_mul(u128::from(paid_ms)) / 3_600_000
    };
    Amount(owed.min(r.max.0))
}

/// The work the computing reward counts: fuel, or a native run's core-milliseconds as fuel.
pub fn work(spec: &TaskSpec, r: &Replica, paid_ms: u64) -> u64 {
    if spec.executor == 0 {
        r.result.fuel
    } else {
        paid_ms
            .saturating_mul(spec.resources.cpu.max(1))
            .saturating_mul(FUEL_PER_CORE_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metamesh_primitives::compute::Output;

    fn comparator(rtol: f64, atol: f64) -> TaskSpec {
        TaskSpec {
            executor: 1,
            walltime: 60,
            comparator: Comparator {
                file: "result.json".into(),
                rtol: rtol.to_bits(),
                atol: atol.to_bits(),
            },
            ..TaskSpec::default()
        }
    }

    fn result(values: &[f64], cid: u8) -> RunResult {
        RunResult {
            outputs: vec![Output {
                name: "result.json".into(),
                cid: metamesh_primitives::compute::Bytes(vec![cid]),
                size: 10,
            }],
            values: values.iter().map(|v| v.to_bits()).collect(),
            ..RunResult::default()
        }
    }

    #[test]
    fn tolerances_decide_agreement() {
        let spec = comparator(1e-6, 1e-9);
        let a = result(&[-52.4407, 1.0e-12], 1);
        assert!(agree(&spec, &a, &result(&[-52.44070001, 0.0], 2)));
        assert!(!agree(&spec, &a, &result(&[-52.4417, 0.0], 2)), "1e-3 off");
        assert!(!agree(&spec, &a, &result(&[-52.4407], 2)), "fewer numbers");
        let mut other_shape = result(&[-52.4407, 0.0], 2);
        other_shape.shape = metamesh_primitives::compute::Bytes(vec![7; 32]);
        assert!(!agree(&spec, &a, &other_shape));
        let mut other = result(&[-52.4407, 0.0], 2);
        other.outputs.push(metamesh_primitives::compute::Output {
            name: "log.txt".into(),
            cid: metamesh_primitives::compute::Bytes(vec![9]),
            size: 1,
        });
        let mut forged = other.clone();
        forged.outputs[1].cid = metamesh_primitives::compute::Bytes(vec![8]);
        assert!(
            !agree(&spec, &other, &forged),
            "other outputs byte for byte"
        );
        let exact = TaskSpec::default();
        assert!(
            !agree(&exact, &a, &result(&[-52.4407, 1.0e-12], 2)),
            "CIDs differ"
        );
        let mut metered = a.clone();
        metered.usage.wall_ms = 999;
        assert!(agree(&exact, &a, &metered), "usage is not compared");
    }

    fn replica(wall_ms: u64, assigned: u64, committed: u64) -> Replica {
        let mut result = result(&[1.0], 1);
        result.usage.wall_ms = wall_ms;
        Replica {
            result,
            assigned_at: assigned,
            committed_at: committed,
            ..Replica::default()
        }
    }

    #[test]
    fn pay_follows_the_upper_median_within_the_chains_clock() {
        let spec = comparator(0.0, 0.0);
        let honest = replica(2_000, 100, 103);
        let zero = replica(0, 100, 103);
        // Reporting nothing costs only the one who does.
        assert_eq!(paid_ms(&spec, &honest, &[&honest, &zero], 0), 2_000);
        assert_eq!(paid_ms(&spec, &zero, &[&honest, &zero], 0), 0);
        // Reporting more gains at most what the blocks' clock allows (4 s here)...
        let inflated = replica(3_000_000, 100, 103);
        assert_eq!(paid_ms(&spec, &inflated, &[&honest, &inflated], 0), 4_000);
        // ...and nothing when the others outnumber it.
        let other = replica(2_100, 100, 103);
        let three = [&honest, &other, &inflated];
        assert_eq!(paid_ms(&spec, &inflated, &three, 0), 2_100);
        let long = replica(90_000, 0, 1_000);
        assert_eq!(
            paid_ms(&spec, &long, &[&long], 0),
            60_000,
            "capped at the wall time"
        );
        let r = Replica {
            rate: Amount(3_600_000),
            max: Amount(1_500),
            ..Replica::default()
        };
        assert_eq!(owed(&spec, &r, 1_000), Amount(1_000));
        assert_eq!(owed(&spec, &r, 2_000), Amount(1_500), "at most its max");
    }
}
