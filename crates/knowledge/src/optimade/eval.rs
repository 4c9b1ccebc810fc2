//! Evaluating a parsed OPTIMADE filter over one entry's JSON, with the specification's
//! three-valued logic: a comparison with an unknown value (a missing property, `null`) is
//! neither true nor false, and only `IS UNKNOWN` is true of it.

use serde_json::Value;

use super::filter::{Expr, Op, Operand, Quantifier};

/// A property's value in an entry (`None`: unknown).
fn lookup<'a>(entry: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = entry;
    for p in path {
        v = v.get(p)?;
    }
    (!v.is_null()).then_some(v)
}

fn resolve<'a>(entry: &'a Value, o: &'a Operand) -> Option<Scalar<'a>> {
    match o {
        Operand::Str(s) => Some(Scalar::Str(s)),
        Operand::Num(n) => Some(Scalar::Num(*n)),
        Operand::Prop(p) => Scalar::of(lookup(entry, p)?),
    }
}

#[derive(Clone, Copy, Debug)]
enum Scalar<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

impl<'a> Scalar<'a> {
    fn of(v: &'a Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(Scalar::Str(s)),
            Value::Number(n) => n.as_f64().map(Scalar::Num),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        }
    }
}

fn compare(a: Scalar<'_>, op: Op, b: Scalar<'_>) -> bool {
    let ord = match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) => x.cmp(y),
        (Scalar::Num(x), Scalar::Num(y)) => match x.partial_cmp(&y) {
            Some(o) => o,
            None => return false,
        },
        (Scalar::Bool(x), Scalar::Bool(y)) if matches!(op, Op::Eq | Op::Ne) => x.cmp(&y),
        _ => return false,
    };
    match op {
        Op::Lt => ord.is_lt(),
        Op::Le => ord.is_le(),
        Op::Gt => ord.is_gt(),
        Op::Ge => ord.is_ge(),
        Op::Eq => ord.is_eq(),
        Op::Ne => ord.is_ne(),
    }
}

/// Three-valued truth: `None` is unknown.
fn truth(e: &Expr, entry: &Value) -> Option<bool> {
    let text = |p: &[String]| lookup(entry, p).and_then(Value::as_str);
    Some(match e {
        Expr::Or(a, b) => match (truth(a, entry), truth(b, entry)) {
            (Some(true), _) | (_, Some(true)) => true,
            (Some(false), Some(false)) => false,
            _ => return None,
        },
        Expr::And(a, b) => match (truth(a, entry), truth(b, entry)) {
            (Some(false), _) | (_, Some(false)) => false,
            (Some(true), Some(true)) => true,
            _ => return None,
        },
        Expr::Not(a) => !truth(a, entry)?,
        Expr::Compare(a, op, b) => compare(resolve(entry, a)?, *op, resolve(entry, b)?),
        Expr::Known(p, known) => lookup(entry, p).is_some() == *known,
        Expr::Contains(p, o) => match resolve(entry, o)? {
            Scalar::Str(s) => text(p)?.contains(s),
            _ => false,
        },
        Expr::StartsWith(p, o) => match resolve(entry, o)? {
            Scalar::Str(s) => text(p)?.starts_with(s),
            _ => false,
        },
        Expr::EndsWith(p, o) => match resolve(entry, o)? {
            Scalar::Str(s) => text(p)?.ends_with(s),
            _ => false,
        },
        Expr::Length(p, op, o) => {
            let n = lookup(entry, p)?.as_array()?.len() as f64;
            compare(Scalar::Num(n), *op, resolve(entry, o)?)
        }
        Expr::Has(props, q, values) => has(entry, props, *q, values)?,
    })
}

fn has(
    entry: &Value,
    props: &[Vec<String>],
    q: Quantifier,
    values: &[Vec<(Op, Operand)>],
) -> Option<bool> {
    let lists: Vec<&Vec<Value>> = props
        .iter()
        .map(|p| lookup(entry, p)?.as_array())
        .collect::<Option<_>>()?;
    let n = lists.iter().map(|l| l.len()).min().unwrap_or(0);
    // The i-th element of every zipped list, as one tuple.
    let tuples: Vec<Vec<&Value>> = (0..n)
        .map(|i| lists.iter().map(|l| &l[i]).collect())
        .collect();
    let matches = |t: &[&Value], want: &[(Op, Operand)]| {
        t.iter()
            .zip(want)
            .all(|(v, (op, o))| match (Scalar::of(v), resolve(entry, o)) {
                (Some(a), Some(b)) => compare(a, *op, b),
                _ => false,
            })
    };
    Some(match q {
        Quantifier::One | Quantifier::Any => values
            .iter()
            .any(|want| tuples.iter().any(|t| matches(t, want))),
        Quantifier::All => values
            .iter()
            .all(|want| tuples.iter().any(|t| matches(t, want))),
        Quantifier::Only => tuples
            .iter()
            .all(|t| values.iter().any(|want| matches(t, want))),
    })
}

/// Whether an entry's attributes satisfy the filter (unknown counts as no).
pub fn matches(e: &Expr, attributes: &Value) -> bool {
    truth(e, attributes) == Some(true)
}
