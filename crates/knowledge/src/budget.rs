//! Bounds on the work a query can make without reading the store — where the evaluator's
//! cancellation, checked as it reads, cannot reach: how deeply the text nests (the parser
//! recurses), how many rows inline tables multiply to, and how long the strings its
//! expressions build can grow (`BIND(CONCAT(?a, ?a) AS ?b)` doubles a string at every step).

use std::collections::HashMap;

use spargebra::algebra::{Expression, Function, GraphPattern};

/// Brackets open at once in a query's text.
pub const MAX_DEPTH: usize = 64;
/// Rows a join of inline tables (VALUES) may make.
pub const MAX_INLINE_ROWS: u64 = 10_000;
/// Bytes one expression may build, estimated from above.
pub const MAX_BUILT: u64 = 64 << 20;
/// What a value read from the store is taken to weigh in that estimate.
const STORE_VALUE: u64 = 1 << 20;

/// Refuses text nested deeper than [`MAX_DEPTH`] (outside strings and comments).
pub fn depth(text: &str) -> Result<(), String> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                // Long strings ("""…""") and short ones both end at an unescaped quote run.
                let long = chars.peek() == Some(&c) && {
                    let mut ahead = chars.clone();
                    ahead.next();
                    ahead.peek() == Some(&c)
                };
                if long {
                    chars.next();
                    chars.next();
                }
                let mut run = 0;
                while let Some(x) = chars.next() {
                    if x == '\\' {
                        chars.next();
                        run = 0;
                    } else if x == c {
                        run += 1;
                        if !long || run == 3 {
                            break;
                        }
                    } else {
                        run = 0;
                    }
                }
            }
            '#' => {
                for x in chars.by_ref() {
                    if x == '\n' {
                        break;
                    }
                }
            }
            '(' | '{' | '[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_DEPTH {
        return Err(format!(
            "the query nests {deepest} brackets deep; at most {MAX_DEPTH} are taken"
        ));
    }
    Ok(())
}

/// Rows a pattern makes without reading the store, or `None` when it reads it.
pub fn inline_rows(p: &GraphPattern) -> Option<u64> {
    match p {
        GraphPattern::Values { bindings, .. } => Some(bindings.len() as u64),
        GraphPattern::Bgp { patterns } if patterns.is_empty() => Some(1),
        GraphPattern::Extend { inner, .. }
        | GraphPattern::Filter { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::OrderBy { inner, .. } => inline_rows(inner),
        GraphPattern::Join { left, right } => {
            Some(inline_rows(left)?.saturating_mul(inline_rows(right)?))
        }
        GraphPattern::Union { left, right } => {
            Some(inline_rows(left)?.saturating_add(inline_rows(right)?))
        }
        _ => None,
    }
}

/// The strings a query's BINDs build, by variable.
#[derive(Default)]
pub struct Growth(HashMap<String, u64>);

impl Growth {
    /// The most bytes `e` can evaluate to.
    fn size(&self, e: &Expression) -> u64 {
        let most = |args: &[Expression]| args.iter().map(|a| self.size(a)).max().unwrap_or(0);
        match e {
            Expression::Literal(l) => l.value().len() as u64,
            Expression::NamedNode(n) => n.as_str().len() as u64,
            Expression::Variable(v) => self.0.get(v.as_str()).copied().unwrap_or(STORE_VALUE),
            Expression::FunctionCall(f, args) => match f {
                Function::Concat => args
                    .iter()
                    .fold(0u64, |n, a| n.saturating_add(self.size(a))),
                // Every position of the text may be replaced.
                Function::Replace => {
                    let text = args.first().map_or(0, |a| self.size(a));
                    let with = args.get(2).map_or(0, |a| self.size(a));
                    text.saturating_mul(with.saturating_add(1))
                }
                Function::EncodeForUri => {
                    args.first().map_or(0, |a| self.size(a)).saturating_mul(3)
                }
                _ => most(args),
            },
            Expression::If(_, a, b) => self.size(a).max(self.size(b)),
            Expression::Coalesce(args) => most(args),
            _ => 8,
        }
    }

    /// Refuses an expression any part of which could build more than [`MAX_BUILT`] bytes;
    /// the most the whole can weigh.
    pub fn check(&self, e: &Expression) -> Result<u64, String> {
        for c in children(e) {
            self.check(c)?;
        }
        let n = self.size(e);
        if n > MAX_BUILT {
            return Err(format!(
                "an expression of the query could build a string of {n} bytes (at most {MAX_BUILT}): string functions over strings they built multiply their length"
            ));
        }
        Ok(n)
    }

    /// `BIND(e AS ?v)`: checks `e` and remembers what `?v` can weigh.
    pub fn bind(&mut self, variable: &str, e: &Expression) -> Result<(), String> {
        let n = self.check(e)?;
        self.0.insert(variable.to_owned(), n);
        Ok(())
    }
}

/// The expressions directly inside one (EXISTS holds a pattern, not an expression).
pub fn children(e: &Expression) -> Vec<&Expression> {
    match e {
        Expression::Or(a, b)
        | Expression::And(a, b)
        | Expression::Equal(a, b)
        | Expression::SameTerm(a, b)
        | Expression::Greater(a, b)
        | Expression::GreaterOrEqual(a, b)
        | Expression::Less(a, b)
        | Expression::LessOrEqual(a, b)
        | Expression::Add(a, b)
        | Expression::Subtract(a, b)
        | Expression::Multiply(a, b)
        | Expression::Divide(a, b) => vec![a, b],
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => vec![a],
        Expression::If(a, b, c) => vec![a, b, c],
        Expression::In(a, list) => std::iter::once(&**a).chain(list).collect(),
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => list.iter().collect(),
        Expression::NamedNode(_)
        | Expression::Literal(_)
        | Expression::Variable(_)
        | Expression::Bound(_)
        | Expression::Exists(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_text_is_refused_and_strings_do_not_count() {
        assert!(depth(&"(".repeat(65)).is_err());
        assert!(depth(&format!("SELECT * {{ ?s ?p \"{}\" }}", "(".repeat(500))).is_ok());
        assert!(depth(&format!("# {}\nSELECT * {{}}", "{".repeat(500))).is_ok());
        assert!(
            depth(&format!(
                "\"\"\"a\"b{}\"\"\" {}",
                "(".repeat(100),
                "(".repeat(64)
            ))
            .is_ok()
        );
    }
}
