//! The OPTIMADE filter language (API v1.2, section 5): a parser to an [`Expr`] tree and its
//! evaluation over one entry's JSON attributes. Written here because no Rust crate implements
//! it; the grammar is the specification's EBNF, keyword for keyword.
//!
//! An unknown value (a property the entry lacks, or `null`) makes every comparison on it
//! false — `NOT` of it too — except `IS UNKNOWN`, as the specification's three-valued rule
//! says: "a comparison with an unknown value is false".

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A constant or another property on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Str(String),
    Num(f64),
    Prop(Vec<String>),
}

/// Which of a list's values a `HAS` asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    /// `HAS v` / `HAS op v`: some element matches.
    One,
    All,
    Any,
    Only,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    Known(Vec<String>, bool),
    Contains(Vec<String>, Operand),
    StartsWith(Vec<String>, Operand),
    EndsWith(Vec<String>, Operand),
    /// `props HAS [ALL|ANY|ONLY] (op value)…`; several properties zip their lists.
    Has(Vec<Vec<String>>, Quantifier, Vec<Vec<(Op, Operand)>>),
    Length(Vec<String>, Op, Operand),
}

impl Expr {
    /// Every property the filter names (for checking them against the schema).
    pub fn properties(&self) -> Vec<&[String]> {
        fn operand<'a>(o: &'a Operand, out: &mut Vec<&'a [String]>) {
            if let Operand::Prop(p) = o {
                out.push(p.as_slice());
            }
        }
        let mut out: Vec<&[String]> = Vec::new();
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                out.extend(a.properties());
                out.extend(b.properties());
            }
            Expr::Not(a) => out.extend(a.properties()),
            Expr::Compare(a, _, b) => {
                operand(a, &mut out);
                operand(b, &mut out);
            }
            Expr::Known(p, _) => out.push(p),
            Expr::Contains(p, o)
            | Expr::StartsWith(p, o)
            | Expr::EndsWith(p, o)
            | Expr::Length(p, _, o) => {
                out.push(p);
                operand(o, &mut out);
            }
            Expr::Has(ps, _, values) => {
                out.extend(ps.iter().map(Vec::as_slice));
                for zip in values {
                    for (_, o) in zip {
                        operand(o, &mut out);
                    }
                }
            }
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    Open,
    Close,
    Comma,
    Colon,
    Dot,
}

const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "IS",
    "KNOWN",
    "UNKNOWN",
    "CONTAINS",
    "STARTS",
    "ENDS",
    "WITH",
    "LENGTH",
    "HAS",
    "ALL",
    "ONLY",
    "ANY",
    "EXACTLY",
    "INCLUSIVE",
    "PARTIAL",
];

fn lex(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' | ':' => {
                out.push((
                    at,
                    match c {
                        '(' => Token::Open,
                        ')' => Token::Close,
                        ',' => Token::Comma,
                        _ => Token::Colon,
                    },
                ));
                i += 1;
            }
            '<' | '>' | '=' | '!' => {
                let next = chars.get(i + 1).map(|x| x.1);
                let (op, len) = match (c, next) {
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    ('=', _) => (Op::Eq, 1),
                    _ => return Err(format!("`!` at {at} must be followed by `=`")),
                };
                out.push((at, Token::Op(op)));
                i += len;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i).map(|x| x.1) {
                        None => return Err(format!("the string opened at {at} is not closed")),
                        Some('"') => break,
                        Some('\\') => {
                            match chars.get(i + 1).map(|x| x.1) {
                                Some(e @ ('"' | '\\')) => s.push(e),
                                // Other escapes stand for themselves, backslash included.
                                Some(e) => {
                                    s.push('\\');
                                    s.push(e);
                                }
                                None => {
                                    return Err(format!("the string opened at {at} is not closed"));
                                }
                            }
                            i += 2;
                        }
                        Some(x) => {
                            s.push(x);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push((at, Token::Str(s)));
            }
            c if c.is_ascii_digit()
                || ((c == '.' || c == '-' || c == '+')
                    && chars
                        .get(i + 1)
                        .is_some_and(|x| x.1.is_ascii_digit() || x.1 == '.')) =>
            {
                let start = i;
                if c == '-' || c == '+' {
                    i += 1;
                }
                while chars
                    .get(i)
                    .is_some_and(|x| x.1.is_ascii_digit() || x.1 == '.')
                {
                    i += 1;
                }
                if chars.get(i).is_some_and(|x| x.1 == 'e' || x.1 == 'E') {
                    i += 1;
                    if chars.get(i).is_some_and(|x| x.1 == '+' || x.1 == '-') {
                        i += 1;
                    }
                    while chars.get(i).is_some_and(|x| x.1.is_ascii_digit()) {
                        i += 1;
                    }
                }
                let s: String = chars[start..i].iter().map(|x| x.1).collect();
                let n: f64 = s
                    .parse()
                    .map_err(|_| format!("`{s}` at {at} is not a number"))?;
                out.push((at, Token::Num(n)));
            }
            '.' => {
                out.push((at, Token::Dot));
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|x| x.1.is_ascii_alphanumeric() || x.1 == '_')
                {
                    i += 1;
                }
                let s: String = chars[start..i].iter().map(|x| x.1).collect();
                out.push((at, Token::Ident(s)));
            }
            c => return Err(format!("unexpected `{c}` at {at}")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    len: usize,
    /// Comparisons so far: each `AND`/`OR` deepens the tree that evaluation recurses through.
    comparisons: usize,
}

/// Comparisons one filter may hold.
const MAX_COMPARISONS: usize = 256;
/// Parentheses and `NOT`s nested at once.
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.1)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.len, |t| t.0)
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(s)) if s == k)
    }

    fn eat(&mut self, k: &str) -> bool {
        let yes = self.keyword(k);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect(&mut self, k: &str) -> Result<(), String> {
        if self.eat(k) {
            Ok(())
        } else {
            Err(format!("expected {k} at {}", self.position()))
        }
    }

    fn expression(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.clause(depth)?;
        while self.eat("OR") {
            let right = self.clause(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn clause(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.phrase(depth)?;
        while self.eat("AND") {
            let right = self.phrase(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn phrase(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "the filter nests too deeply (at most {MAX_DEPTH} levels of parentheses and NOT)"
            ));
        }
        if self.eat("NOT") {
            return Ok(Expr::Not(Box::new(self.phrase(depth + 1)?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let e = self.expression(depth + 1)?;
            if self.peek() != Some(&Token::Close) {
                return Err(format!("expected `)` at {}", self.position()));
            }
            self.at += 1;
            return Ok(e);
        }
        self.comparison()
    }

    fn property(&mut self) -> Result<Vec<String>, String> {
        let mut path = Vec::new();
        loop {
            match self.peek() {
                Some(Token::Ident(s)) if !KEYWORDS.contains(&s.as_str()) => {
                    if !s
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                        || s.chars().any(|c| c.is_ascii_uppercase())
                    {
                        return Err(format!(
                            "`{s}` at {} is not a property name (lowercase letters, digits, _)",
                            self.position()
                        ));
                    }
                    path.push(s.clone());
                    self.at += 1;
                }
                other => {
                    return Err(format!(
                        "expected a property at {}, found {}",
                        self.position(),
                        describe(other)
                    ));
                }
            }
            if self.peek() != Some(&Token::Dot) {
                return Ok(path);
            }
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Operand, String> {
        match self.peek().cloned() {
            Some(Token::Str(s)) => {
                self.at += 1;
                Ok(Operand::Str(s))
            }
            Some(Token::Num(n)) => {
                self.at += 1;
                Ok(Operand::Num(n))
            }
            Some(Token::Ident(_)) => Ok(Operand::Prop(self.property()?)),
            other => Err(format!(
                "expected a value at {}, found {}",
                self.position(),
                describe(other.as_ref())
            )),
        }
    }

    fn op(&mut self) -> Option<Op> {
        match self.peek() {
            Some(Token::Op(op)) => {
                let op = *op;
                self.at += 1;
                Some(op)
            }
            _ => None,
        }
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(format!(
                "the filter holds more than {MAX_COMPARISONS} comparisons"
            ));
        }
        // A constant first: `"x" = prop`, `3 < prop`.
        if matches!(self.peek(), Some(Token::Str(_) | Token::Num(_))) {
            let left = self.value()?;
            let op = self
                .op()
                .ok_or_else(|| format!("expected an operator at {}", self.position()))?;
            let right = self.value()?;
            return Ok(Expr::Compare(left, op, right));
        }
        let mut props = vec![self.property()?];
        while self.peek() == Some(&Token::Colon) {
            self.at += 1;
            props.push(self.property()?);
        }
        if props.len() > 1 && !self.keyword("HAS") {
            return Err(format!(
                "expected HAS after the zipped properties at {}",
                self.position()
            ));
        }
        let prop = props[0].clone();
        if let Some(op) = self.op() {
            return Ok(Expr::Compare(Operand::Prop(prop), op, self.value()?));
        }
        if self.eat("IS") {
            if self.eat("KNOWN") {
                return Ok(Expr::Known(prop, true));
            }
            self.expect("UNKNOWN")?;
            return Ok(Expr::Known(prop, false));
        }
        if self.eat("CONTAINS") {
            return Ok(Expr::Contains(prop, self.value()?));
        }
        if self.eat("STARTS") {
            self.eat("WITH");
            return Ok(Expr::StartsWith(prop, self.value()?));
        }
        if self.eat("ENDS") {
            self.eat("WITH");
            return Ok(Expr::EndsWith(prop, self.value()?));
        }
        if self.eat("LENGTH") {
            let op = self.op().unwrap_or(Op::Eq);
            return Ok(Expr::Length(prop, op, self.value()?));
        }
        if self.eat("HAS") {
            let q = if self.eat("ALL") {
                Quantifier::All
            } else if self.eat("ANY") {
                Quantifier::Any
            } else if self.eat("ONLY") {
                Quantifier::Only
            } else {
                Quantifier::One
            };
            let mut list = vec![self.zip(props.len())?];
            while q != Quantifier::One && self.peek() == Some(&Token::Comma) {
                self.at += 1;
                list.push(self.zip(props.len())?);
            }
            return Ok(Expr::Has(props, q, list));
        }
        Err(format!(
            "expected an operator, IS, CONTAINS, STARTS, ENDS, LENGTH or HAS at {}, found {}",
            self.position(),
            describe(self.peek())
        ))
    }

    /// `[op] value {: [op] value}` for `n` zipped properties.
    fn zip(&mut self, n: usize) -> Result<Vec<(Op, Operand)>, String> {
        let mut out = Vec::new();
        for i in 0..n {
            if i > 0 {
                if self.peek() != Some(&Token::Colon) {
                    return Err(format!(
                        "expected `:` at {} ({n} zipped values)",
                        self.position()
                    ));
                }
                self.at += 1;
            }
            let op = self.op().unwrap_or(Op::Eq);
            out.push((op, self.value()?));
        }
        Ok(out)
    }
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "the end".into(),
        Some(Token::Ident(s)) => format!("`{s}`"),
        Some(Token::Str(s)) => format!("\"{s}\""),
        Some(Token::Num(n)) => n.to_string(),
        Some(Token::Op(op)) => format!("{op:?}"),
        Some(Token::Open) => "`(`".into(),
        Some(Token::Close) => "`)`".into(),
        Some(Token::Comma) => "`,`".into(),
        Some(Token::Colon) => "`:`".into(),
        Some(Token::Dot) => "`.`".into(),
    }
}

/// Parses a filter; the error names what was expected and where (a byte offset).
pub fn parse(text: &str) -> Result<Expr, String> {
    if text.len() > 64 << 10 {
        return Err("the filter is longer than 64 KiB".into());
    }
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        len: text.len(),
        comparisons: 0,
    };
    let e = p.expression(0)?;
    if p.at != p.tokens.len() {
        return Err(format!(
            "unexpected {} at {}",
            describe(p.peek()),
            p.position()
        ));
    }
    Ok(e)
}

pub use super::eval::matches;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn entry() -> Value {
        json!({
            "elements": ["B", "N"],
            "elements_ratios": [0.5, 0.5],
            "nelements": 2,
            "chemical_formula_reduced": "BN",
            "chemical_formula_descriptive": "h-BN",
            "nsites": 4,
            "_bmci_band_gap": 5.96,
            "last_modified": "2026-11-30T00:00:00Z",
            "dimension_types": [1, 1, 0],
        })
    }

    fn yes(f: &str) -> bool {
        matches(&parse(f).unwrap_or_else(|e| panic!("{f}: {e}")), &entry())
    }

    #[test]
    fn the_specifications_forms_evaluate() {
        assert!(yes("nelements=2"));
        assert!(yes("nelements >= 2 AND nelements < 3"));
        assert!(yes("2 = nelements"));
        assert!(!yes("NOT nelements=2"));
        assert!(yes("elements HAS \"B\""));
        assert!(yes("elements HAS ALL \"B\",\"N\""));
        assert!(!yes("elements HAS ALL \"B\",\"C\""));
        assert!(yes("elements HAS ANY \"C\",\"N\""));
        assert!(yes("elements HAS ONLY \"B\",\"N\",\"C\""));
        assert!(!yes("elements HAS ONLY \"B\""));
        assert!(yes("elements LENGTH 2"));
        assert!(yes("elements LENGTH >= 2"));
        assert!(yes("elements:elements_ratios HAS \"B\":>0.4"));
        assert!(!yes("elements:elements_ratios HAS \"B\":>0.6"));
        assert!(yes("chemical_formula_descriptive CONTAINS \"BN\""));
        assert!(yes("chemical_formula_descriptive STARTS WITH \"h-\""));
        assert!(yes("chemical_formula_descriptive ENDS \"BN\""));
        assert!(yes("_bmci_band_gap > 5 AND (nsites = 3 OR nsites = 4)"));
        assert!(yes("last_modified > \"2026-01-01T00:00:00Z\""));
        assert!(yes("nonexistent IS UNKNOWN AND nelements IS KNOWN"));
        assert!(yes("dimension_types HAS 0"));
        assert!(yes("nelements > 1.5e0"));
        assert!(yes("nsites > nelements"));
        // Unknown is neither true nor false: NOT of a comparison on it is not true either.
        assert!(!yes("absent = 3"));
        assert!(!yes("NOT absent = 3"));
        assert!(yes("NOT absent = 3 OR nelements = 2"));
    }

    #[test]
    fn bad_filters_are_named() {
        for (f, says) in [
            ("nelements =", "expected a value"),
            ("nelements = 2 AND", "expected a property"),
            ("(nelements = 2", "expected `)`"),
            ("Elements HAS \"B\"", "not a property name"),
            ("nelements ! 2", "`!`"),
            ("chemical_formula_reduced = \"BN", "not closed"),
            ("nelements = 2 2", "unexpected"),
            ("elements:elements_ratios = 2", "HAS"),
            ("nelements ~ 2", "unexpected `~`"),
        ] {
            let e = parse(f).unwrap_err();
            assert!(e.contains(says), "{f}: {e}");
        }
        assert!(parse(&"(".repeat(100)).unwrap_err().contains("deeply"));
        assert!(
            parse(&format!("{}nelements=2", "NOT ".repeat(10_000)))
                .unwrap_err()
                .contains("deeply")
        );
        let chain = vec!["nelements=1"; 1_000].join(" OR ");
        assert!(parse(&chain).unwrap_err().contains("comparisons"));
        assert!(parse(&vec!["nelements=1"; 200].join(" OR ")).is_ok());
    }
}
