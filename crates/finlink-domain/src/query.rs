//! Codat's query language: `property<op>value` clauses joined by `&&` and `||`,
//! grouped with `{ }`, dotted paths into sub-objects, unquoted values, dates as
//! `YYYY-MM-DD`, at most 2048 characters. `&&` binds tighter than `||`.
//!
//! Parsing gives an [`Expr`]; a resource's whitelist ([`FieldType`] per property)
//! then types each value ([`Comparison::typed`]). Storage turns the typed tree into
//! parameterized SQL; nothing here builds SQL.
//!
//! Hand-written (a recursive-descent parser of ~150 lines) because the language is
//! Codat's own: values are unquoted and run up to the next `&&`, `||` or `}`, which
//! no general expression-parser crate models.

use std::fmt;

use crate::{Error, Result, Timestamp};

pub const MAX_QUERY_CHARS: usize = 2048;
/// Deepest `{ }` nesting accepted (keeps the recursion bounded).
pub const MAX_DEPTH: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Contains => "~",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The dotted path, split: `customerRef.id` is `["customerRef", "id"]`.
    pub path: Vec<String>,
    pub op: Op,
    /// The raw value, trimmed.
    pub value: String,
}

impl Comparison {
    pub fn property(&self) -> String {
        self.path.join(".")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(Comparison),
}

fn err(msg: impl Into<String>) -> Error {
    Error::Query(msg.into())
}

/// Parses a `query` (or `tags`) parameter.
pub fn parse(input: &str) -> Result<Expr> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return Err(err(format!(
            "the query is longer than {MAX_QUERY_CHARS} characters; split it into several requests."
        )));
    }
    let mut p = Parser { s: input, pos: 0 };
    p.skip_ws();
    if p.at_end() {
        return Err(err("the query is empty."));
    }
    let e = p.or(0)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(err(format!(
            "unexpected '{}' at position {}; clauses are joined with && or ||.",
            p.rest().chars().next().unwrap_or(' '),
            p.pos
        )));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        let trimmed = r.trim_start();
        self.pos += r.len() - trimmed.len();
    }

    fn eat(&mut self, tok: &str) -> bool {
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr> {
        let mut parts = vec![self.and(depth)?];
        loop {
            self.skip_ws();
            if self.eat("||") {
                parts.push(self.and(depth)?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr> {
        let mut parts = vec![self.primary(depth)?];
        loop {
            self.skip_ws();
            if self.eat("&&") {
                parts.push(self.primary(depth)?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn primary(&mut self, depth: usize) -> Result<Expr> {
        self.skip_ws();
        if self.eat("{") {
            if depth >= MAX_DEPTH {
                return Err(err(format!(
                    "groups are nested more than {MAX_DEPTH} deep."
                )));
            }
            let e = self.or(depth + 1)?;
            self.skip_ws();
            if !self.eat("}") {
                return Err(err(format!(
                    "a '{{' is not closed: expected '}}' at position {}.",
                    self.pos
                )));
            }
            return Ok(e);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr> {
        let start = self.pos;
        let prop_len = self
            .rest()
            .find(|c: char| c.is_whitespace() || "=!~<>{}&|".contains(c))
            .unwrap_or(self.rest().len());
        let property = self.rest().get(..prop_len).unwrap_or("");
        if property.is_empty() {
            return Err(if self.at_end() {
                err("the query ends where a clause was expected.")
            } else {
                err(format!("expected a property name at position {start}."))
            });
        }
        self.pos += prop_len;
        let path: Vec<String> = property.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(err(format!("'{property}' is not a valid property path.")));
        }
        self.skip_ws();
        let op = if self.eat("!=") {
            Op::Ne
        } else if self.eat(">=") {
            Op::Ge
        } else if self.eat("<=") {
            Op::Le
        } else if self.eat("=") {
            Op::Eq
        } else if self.eat("~") {
            Op::Contains
        } else if self.eat(">") {
            Op::Gt
        } else if self.eat("<") {
            Op::Lt
        } else {
            return Err(err(format!(
                "expected an operator (=, !=, ~, >, <, >=, <=) after '{property}' at position {}.",
                self.pos
            )));
        };
        // The value runs to the next &&, || or } (values are unquoted).
        let rest = self.rest();
        let end = [rest.find("&&"), rest.find("||"), rest.find('}')]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        let value = rest.get(..end).unwrap_or("").trim();
        if value.is_empty() {
            return Err(err(format!(
                "'{property}{op}' has no value; querying on empty or null values is not supported."
            )));
        }
        self.pos += end;
        Ok(Expr::Cmp(Comparison {
            path,
            op,
            value: value.to_owned(),
        }))
    }
}

/// An `orderBy` parameter: a property, descending when it starts with `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderBy {
    pub property: String,
    pub descending: bool,
}

pub fn parse_order_by(s: &str) -> Result<OrderBy> {
    let s = s.trim();
    let (descending, property) = match s.strip_prefix('-') {
        Some(p) => (true, p.trim()),
        None => (false, s.strip_prefix('+').unwrap_or(s).trim()),
    };
    if property.is_empty()
        || !property
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
    {
        return Err(err(format!(
            "orderBy '{s}' is not a property name; use a name such as created, or -created for descending."
        )));
    }
    Ok(OrderBy {
        property: property.to_owned(),
        descending,
    })
}

/// The type of a queryable property, which decides the operators it allows and how
/// its values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Text,
    /// A text field whose values are one of a fixed set (matched ignoring case).
    Enum(&'static [&'static str]),
    Timestamp,
    Number,
    Bool,
}

/// A value typed for its property.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Bool(bool),
    Timestamp(Timestamp),
}

/// A comparison after typing. A bare date (`2021-01-28`) is a whole day: `=` means
/// "on that day", `>` "after that day", `<=` "on or before that day".
#[derive(Clone, Debug, PartialEq)]
pub enum Typed {
    /// `op` applied to one value.
    Compare(Op, Value),
    /// `[start, end)` when `negated` is false; outside it when true.
    Range {
        start: Timestamp,
        end: Timestamp,
        negated: bool,
    },
}

const DAY_MS: i64 = 86_400_000;

impl Comparison {
    /// Types the value for a property of type `ty`, refusing operators the type does not support.
    pub fn typed(&self, ty: FieldType) -> Result<Typed> {
        let prop = self.property();
        let op = self.op;
        let refuse = |kind: &str, allowed: &str| {
            Err(err(format!(
                "the operator {op} cannot be used on {kind} property '{prop}'; use {allowed}."
            )))
        };
        match ty {
            FieldType::Text => match op {
                Op::Eq | Op::Ne | Op::Contains => {
                    Ok(Typed::Compare(op, Value::Text(self.value.clone())))
                }
                _ => refuse("the text", "=, != or ~"),
            },
            FieldType::Enum(values) => {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return refuse("the", "= or !=");
                }
                match values.iter().find(|v| v.eq_ignore_ascii_case(&self.value)) {
                    Some(v) => Ok(Typed::Compare(op, Value::Text((*v).to_owned()))),
                    None => Err(err(format!(
                        "'{}' is not a valid value for {prop}; expected one of {}.",
                        self.value,
                        values.join(", ")
                    ))),
                }
            }
            FieldType::Bool => {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return refuse("the boolean", "= or !=");
                }
                match self.value.to_ascii_lowercase().as_str() {
                    "true" => Ok(Typed::Compare(op, Value::Bool(true))),
                    "false" => Ok(Typed::Compare(op, Value::Bool(false))),
                    _ => Err(err(format!(
                        "'{}' is not true or false (property {prop}).",
                        self.value
                    ))),
                }
            }
            FieldType::Number => {
                if op == Op::Contains {
                    return refuse("the number", "=, !=, >, <, >= or <=");
                }
                match self.value.parse::<f64>() {
                    Ok(n) if n.is_finite() => Ok(Typed::Compare(op, Value::Number(n))),
                    _ => Err(err(format!(
                        "'{}' is not a number (property {prop}).",
                        self.value
                    ))),
                }
            }
            FieldType::Timestamp => {
                if op == Op::Contains {
                    return refuse("the date", "=, !=, >, <, >= or <=");
                }
                let v = self.value.trim();
                let is_date_only = v.len() == 10 && v.as_bytes().get(4) == Some(&b'-');
                let Some(t) = Timestamp::parse(v) else {
                    return Err(err(format!(
                        "'{v}' is not a date; write dates as YYYY-MM-DD or RFC 3339 (property {prop})."
                    )));
                };
                if !is_date_only {
                    return Ok(Typed::Compare(op, Value::Timestamp(t)));
                }
                let next = t.plus_millis(DAY_MS);
                Ok(match op {
                    Op::Eq => Typed::Range {
                        start: t,
                        end: next,
                        negated: false,
                    },
                    Op::Ne => Typed::Range {
                        start: t,
                        end: next,
                        negated: true,
                    },
                    Op::Gt => Typed::Compare(Op::Ge, Value::Timestamp(next)),
                    Op::Ge => Typed::Compare(Op::Ge, Value::Timestamp(t)),
                    Op::Lt => Typed::Compare(Op::Lt, Value::Timestamp(t)),
                    Op::Le => Typed::Compare(Op::Lt, Value::Timestamp(next)),
                    Op::Contains => return refuse("the date", "=, !=, >, <, >= or <="),
                })
            }
        }
    }
}

impl Typed {
    /// Evaluates against an in-memory value (used for resources that are not in the
    /// database, such as the integration catalog). `None` (no value) never matches
    /// except under `!=`.
    pub fn matches(&self, actual: Option<&Value>) -> bool {
        match self {
            Typed::Range {
                start,
                end,
                negated,
            } => {
                let inside = matches!(actual, Some(Value::Timestamp(t)) if t >= start && t < end);
                inside != *negated
            }
            Typed::Compare(op, expected) => {
                let Some(actual) = actual else {
                    return *op == Op::Ne;
                };
                let ord = match (actual, expected) {
                    (Value::Text(a), Value::Text(b)) => {
                        if *op == Op::Contains {
                            return a.to_lowercase().contains(&b.to_lowercase());
                        }
                        Some(a.cmp(b))
                    }
                    (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
                    (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
                    (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
                    _ => None,
                };
                let Some(ord) = ord else { return *op == Op::Ne };
                use std::cmp::Ordering::*;
                match op {
                    Op::Eq => ord == Equal,
                    Op::Ne => ord != Equal,
                    Op::Gt => ord == Greater,
                    Op::Lt => ord == Less,
                    Op::Ge => ord != Less,
                    Op::Le => ord != Greater,
                    Op::Contains => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(p: &str, op: Op, v: &str) -> Expr {
        Expr::Cmp(Comparison {
            path: p.split('.').map(str::to_owned).collect(),
            op,
            value: v.into(),
        })
    }

    #[test]
    fn parses_the_documented_examples() {
        assert_eq!(
            parse("currency=GBP").unwrap(),
            cmp("currency", Op::Eq, "GBP")
        );
        assert_eq!(
            parse("amountDue>0&&totalAmount<1000").unwrap(),
            Expr::And(vec![
                cmp("amountDue", Op::Gt, "0"),
                cmp("totalAmount", Op::Lt, "1000")
            ])
        );
        assert_eq!(
            parse("{totalAmount > 100 || totalAmount < 50} && status != paid").unwrap(),
            Expr::And(vec![
                Expr::Or(vec![
                    cmp("totalAmount", Op::Gt, "100"),
                    cmp("totalAmount", Op::Lt, "50")
                ]),
                cmp("status", Op::Ne, "paid"),
            ])
        );
        assert_eq!(
            parse("customerRef.id=61").unwrap(),
            cmp("customerRef.id", Op::Eq, "61")
        );
        assert_eq!(
            parse("name~Acme Ltd").unwrap(),
            cmp("name", Op::Contains, "Acme Ltd")
        );
        assert_eq!(
            parse("a=1 || b=2 && c=3").unwrap(),
            Expr::Or(vec![
                cmp("a", Op::Eq, "1"),
                Expr::And(vec![cmp("b", Op::Eq, "2"), cmp("c", Op::Eq, "3")])
            ])
        );
        assert_eq!(
            parse("dueDate>=2021-01-28").unwrap(),
            cmp("dueDate", Op::Ge, "2021-01-28")
        );
        assert_eq!(parse("region != uk").unwrap(), cmp("region", Op::Ne, "uk"));
    }

    #[test]
    fn rejects_malformed_queries_with_a_reason() {
        for q in [
            "",
            "   ",
            "name",
            "name=",
            "=x",
            "a=1&&",
            "{a=1",
            "a=1}",
            "a..b=1",
            "&&a=1",
            "a=1 && =2",
        ] {
            let e = parse(q).expect_err(q);
            assert!(
                e.to_string().starts_with("Error parsing query - "),
                "{q}: {e}"
            );
        }
        assert!(parse(&"a=1&&".repeat(500)).is_err());
        assert!(parse(&format!("{}a=1{}", "{".repeat(40), "}".repeat(40))).is_err());
    }

    #[test]
    fn types_values() {
        let c = Comparison {
            path: vec!["created".into()],
            op: Op::Gt,
            value: "2021-01-28".into(),
        };
        let day = Timestamp::parse("2021-01-29").unwrap();
        assert_eq!(
            c.typed(FieldType::Timestamp).unwrap(),
            Typed::Compare(Op::Ge, Value::Timestamp(day))
        );
        let c = Comparison {
            path: vec!["status".into()],
            op: Op::Eq,
            value: "linked".into(),
        };
        assert_eq!(
            c.typed(FieldType::Enum(&["Linked", "Unlinked"])).unwrap(),
            Typed::Compare(Op::Eq, Value::Text("Linked".into()))
        );
        let c = Comparison {
            path: vec!["name".into()],
            op: Op::Gt,
            value: "x".into(),
        };
        assert!(c.typed(FieldType::Text).is_err());
    }

    #[test]
    fn order_by() {
        assert_eq!(
            parse_order_by("-modifiedDate").unwrap(),
            OrderBy {
                property: "modifiedDate".into(),
                descending: true
            }
        );
        assert!(parse_order_by("-").is_err());
        assert!(parse_order_by("na me").is_err());
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]
            /// The parser never panics, whatever it is given.
            #[test]
            fn never_panics(s in "\\PC{0,300}") {
                let _ = parse(&s);
                let _ = parse_order_by(&s);
            }

            /// Nor on inputs built from the language's own tokens.
            #[test]
            fn never_panics_on_token_soup(parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("&&"), Just("||"), Just("="), Just("!="), Just("~"),
                    Just(">"), Just("<"), Just(">="), Just("<="), Just(" "), Just("name"), Just("a.b"),
                    Just("2021-01-28"), Just("é"), Just("&"), Just("|"), Just("!"), Just("."),
                ], 0..60)) {
                let s: String = parts.concat();
                if let Ok(e) = parse(&s) {
                    // Whatever parses types without panicking too.
                    fn walk(e: &Expr) {
                        match e {
                            Expr::And(v) | Expr::Or(v) => v.iter().for_each(walk),
                            Expr::Cmp(c) => {
                                for ty in [FieldType::Text, FieldType::Timestamp, FieldType::Number, FieldType::Bool, FieldType::Enum(&["A"])] {
                                    let _ = c.typed(ty);
                                }
                            }
                        }
                    }
                    walk(&e);
                }
            }
        }
    }
}
