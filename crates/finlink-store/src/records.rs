//! Reading stored records (the read endpoints of Codat's Accounting, Banking and Commerce APIs):
//! Codat's query language and `orderBy` over the fields of each record's JSON, turned into SQL
//! for both engines.
//!
//! Records have no column per field, so a property is a path into the record's JSON
//! (`customerRef.id`). A path is checked to be made of identifiers (`[A-Za-z_][A-Za-z0-9_]*`
//! segments) before it becomes part of an SQL path expression; every value is a bound parameter.
//! The data type is spliced as a literal too (it comes from [`DataType::as_str`], never from
//! input), so the engines can use the partial expression indexes of migration `0011_data_reads`.
//!
//! A value is typed by how it is written (the models are not consulted):
//!
//! - `true` / `false`: a boolean (`=`, `!=`);
//! - a plain decimal number (`100`, `-2.5`): compared numerically with numeric fields; `=` and
//!   `!=` also match a text field holding exactly that text (ids such as `customerRef.id=61`);
//! - `YYYY-MM-DD`: the whole day, as for the other lists (`issueDate>2023-01-31` is from
//!   2023-02-01 on); a date-time (`2023-01-31T10:00:00`) compares exactly. Dates are compared as
//!   ISO 8601 text, the form Codat's models store them in;
//! - anything else: text, with `=`, `!=` (both ignoring ASCII case, as Codat's `status!=paid`
//!   example expects) and `~` (contains, ignoring case).
//!
//! A missing or null field matches only `!=` (querying on null is not supported). Ordering puts
//! missing values first ascending (last descending), then numbers (and booleans) numerically,
//! then text by code point; ties are broken by record id, so paging is stable.

use finlink_domain::data::DataType;
use finlink_domain::paging::PageRequest;
use finlink_domain::query::{Comparison, Expr, Op, OrderBy};
use finlink_domain::{Error, Result, Timestamp};

use crate::sql::{Dialect, Param, SqlBuilder};

/// A read of one data type's stored records: paging, `query` and `orderBy`.
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub page: PageRequest,
    pub filter: Option<Expr>,
    pub order: Option<OrderBy>,
    /// Only records whose top-level text field equals this value exactly (a bank account's
    /// transactions: `("accountId", id)`).
    pub field_equals: Option<(String, String)>,
}

/// Deepest property path accepted (`a.b.c...`).
const MAX_PATH_SEGMENTS: usize = 8;
const MAX_SEGMENT_CHARS: usize = 64;
const DAY_MS: i64 = 86_400_000;

/// A property path checked to be identifiers only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    pub fn parse(path: &[String]) -> Result<Self> {
        let joined = path.join(".");
        let ok = !path.is_empty()
            && path.len() <= MAX_PATH_SEGMENTS
            && path.iter().all(|s| {
                let mut chars = s.chars();
                s.len() <= MAX_SEGMENT_CHARS
                    && chars
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if ok {
            Ok(Self(path.to_vec()))
        } else {
            Err(Error::Query(format!(
                "'{joined}' is not a property of the records: use a field name such as \
                 status, or a dotted path into an object such as customerRef.id."
            )))
        }
    }

    pub fn parse_dotted(s: &str) -> Result<Self> {
        let parts: Vec<String> = s.split('.').map(str::to_owned).collect();
        Self::parse(&parts)
    }

    /// The value's SQL expression: SQLite `json_extract(r.data, '$.a.b')` (SQL text, number or
    /// NULL); PostgreSQL `(r.doc -> 'a' ->> 'b')` (text or NULL).
    fn value(&self, d: Dialect) -> String {
        match d {
            Dialect::Sqlite => format!("json_extract(r.data, '$.{}')", self.0.join(".")),
            Dialect::Postgres => self.pg(true),
        }
    }

    /// PostgreSQL: the jsonb value `(r.doc -> 'a' -> 'b')`.
    fn json(&self) -> String {
        self.pg(false)
    }

    fn pg(&self, text: bool) -> String {
        let mut s = String::from("(r.doc");
        let last = self.0.len().saturating_sub(1);
        for (i, seg) in self.0.iter().enumerate() {
            s.push_str(if text && i == last { " ->> '" } else { " -> '" });
            s.push_str(seg);
            s.push('\'');
        }
        s.push(')');
        s
    }

    /// SQLite: `json_type(r.data, '$.a.b')`.
    fn sqlite_type(&self) -> String {
        format!("json_type(r.data, '$.{}')", self.0.join("."))
    }
}

/// A query value, typed by how it is written.
#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Bool(bool),
    /// The number and its text as written.
    Number(f64, String),
    /// A whole day `YYYY-MM-DD` and the day after.
    Day(String, String),
    /// A date-time, compared as written.
    DateTime(String),
    Text(String),
}

fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b.iter().take(10).enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn classify(c: &Comparison) -> Result<Literal> {
    let v = c.value.trim();
    if c.op == Op::Contains {
        return Ok(Literal::Text(v.to_owned()));
    }
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        return Ok(Literal::Bool(v.eq_ignore_ascii_case("true")));
    }
    if let Some(n) = is_plain_number(v)
        .then(|| v.parse::<f64>().ok())
        .flatten()
        .filter(|n| n.is_finite())
    {
        return Ok(Literal::Number(n, v.to_owned()));
    }
    if looks_like_date(v) {
        let Some(t) = Timestamp::parse(v) else {
            return Err(Error::Query(format!(
                "'{v}' is not a date; write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (property {}).",
                c.property()
            )));
        };
        if v.len() == 10 {
            let next = t.plus_millis(DAY_MS).to_rfc3339();
            return Ok(Literal::Day(
                v.to_owned(),
                next.get(..10).unwrap_or_default().to_owned(),
            ));
        }
        return Ok(Literal::DateTime(v.to_owned()));
    }
    Ok(Literal::Text(v.to_owned()))
}

fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// Appends one comparison.
fn comparison(q: &mut SqlBuilder, c: &Comparison) -> Result<()> {
    let field = FieldPath::parse(&c.path)?;
    let lit = classify(c)?;
    let prop = c.property();
    let op = c.op;
    let d = q.dialect;
    let x = field.value(d);
    match (&lit, op) {
        (Literal::Text(v), Op::Contains) => {
            let like = match d {
                Dialect::Sqlite => " LIKE ",
                Dialect::Postgres => " ILIKE ",
            };
            q.push("(").push(&x).push(like);
            q.param(Param::Text(like_pattern(v))).push(" ESCAPE '\\')");
        }
        (Literal::Text(v), Op::Eq | Op::Ne) => {
            if op == Op::Ne {
                q.push("(").push(&x).push(" IS NULL OR ");
            }
            text_equals(q, &x, v, op == Op::Ne);
            if op == Op::Ne {
                q.push(")");
            }
        }
        (Literal::Text(v), _) => {
            return Err(Error::Query(format!(
                "the operator {op} compares numbers and dates, and '{v}' is neither (property \
                 {prop}); use =, != or ~ for text."
            )));
        }
        (Literal::Bool(b), Op::Eq | Op::Ne) => {
            let is = if *b { "'true'" } else { "'false'" };
            match d {
                Dialect::Sqlite => {
                    let t = field.sqlite_type();
                    if op == Op::Eq {
                        q.push("(").push(&t).push(" = ").push(is).push(")");
                    } else {
                        q.push("(").push(&t).push(" IS NULL OR ");
                        q.push(&t).push(" <> ").push(is).push(")");
                    }
                }
                Dialect::Postgres => {
                    let j = field.json();
                    let lit = format!("{is}::jsonb");
                    if op == Op::Eq {
                        q.push("(").push(&j).push(" = ").push(&lit).push(")");
                    } else {
                        q.push("(").push(&x).push(" IS NULL OR ");
                        q.push(&j).push(" <> ").push(&lit).push(")");
                    }
                }
            }
        }
        (Literal::Bool(_), _) => {
            return Err(Error::Query(format!(
                "the operator {op} cannot compare true or false (property {prop}); use = or !=."
            )));
        }
        (Literal::Number(n, text), Op::Eq | Op::Ne) => {
            // A number, or a text field holding exactly that text (ids).
            if op == Op::Ne {
                q.push("(").push(&x).push(" IS NULL OR NOT ");
            }
            q.push("(");
            number_compare(q, &field, Op::Eq, *n, text);
            q.push(" OR ");
            text_equals(q, &x, text, false);
            q.push(")");
            if op == Op::Ne {
                q.push(")");
            }
        }
        (Literal::Number(n, text), _) => number_compare(q, &field, op, *n, text),
        (Literal::Day(day, next), _) => {
            let (col, guard) = date_operand(d, &field);
            let range = |q: &mut SqlBuilder, lo: &str, hi: &str| {
                q.push("(").push(&col).push(" >= ");
                q.param(Param::Text(lo.to_owned()));
                q.push(" AND ").push(&col).push(" < ");
                q.param(Param::Text(hi.to_owned()));
                q.push(&guard).push(")");
            };
            match op {
                Op::Eq => range(q, day, next),
                Op::Ne => {
                    q.push("(")
                        .push(&x)
                        .push(" IS NULL OR ")
                        .push(&col)
                        .push(" < ");
                    q.param(Param::Text(day.clone()));
                    q.push(" OR ").push(&col).push(" >= ");
                    q.param(Param::Text(next.clone())).push(")");
                }
                Op::Gt => at_least(q, &col, &guard, next),
                Op::Ge => at_least(q, &col, &guard, day),
                // Text only: SQLite sorts every number below any text, so `>= ''` keeps text.
                Op::Lt => range(q, "", day),
                Op::Le => range(q, "", next),
                Op::Contains => {}
            }
        }
        (Literal::DateTime(v), _) => {
            let (col, guard) = date_operand(d, &field);
            match op {
                Op::Eq => {
                    q.push("(").push(&col).push(" = ");
                    q.param(Param::Text(v.clone())).push(")");
                }
                Op::Ne => {
                    q.push("(")
                        .push(&x)
                        .push(" IS NULL OR ")
                        .push(&col)
                        .push(" <> ");
                    q.param(Param::Text(v.clone())).push(")");
                }
                Op::Gt | Op::Ge => {
                    q.push("(").push(&col).push(" ").push(op.as_str()).push(" ");
                    q.param(Param::Text(v.clone())).push(&guard).push(")");
                }
                Op::Lt | Op::Le => {
                    q.push("(").push(&col).push(" >= '' AND ").push(&col);
                    q.push(" ").push(op.as_str()).push(" ");
                    q.param(Param::Text(v.clone())).push(&guard).push(")");
                }
                Op::Contains => {}
            }
        }
    }
    Ok(())
}

/// `col >= value` for text.
fn at_least(q: &mut SqlBuilder, col: &str, guard: &str, value: &str) {
    q.push("(").push(col).push(" >= ");
    q.param(Param::Text(value.to_owned()));
    q.push(guard).push(")");
}

/// The operand dates compare on and a condition that keeps text values only. SQLite: the value
/// itself (its text compares by code point; numbers sort below text). PostgreSQL: the text in
/// the "C" collation (code point order, whatever the database's collation), for JSON strings.
fn date_operand(d: Dialect, field: &FieldPath) -> (String, String) {
    match d {
        Dialect::Sqlite => (field.value(d), String::new()),
        Dialect::Postgres => (
            format!("({} COLLATE \"C\")", field.value(d)),
            format!(" AND jsonb_typeof({}) = 'string'", field.json()),
        ),
    }
}

/// Text equality ignoring ASCII case (`negated`: inequality, for a value that is present).
fn text_equals(q: &mut SqlBuilder, x: &str, v: &str, negated: bool) {
    let op = if negated { " <> " } else { " = " };
    match q.dialect {
        Dialect::Sqlite => {
            q.push("(").push(x).push(op);
            q.param(Param::Text(v.to_owned())).push(" COLLATE NOCASE)");
        }
        Dialect::Postgres => {
            q.push("(lower(").push(x).push(")").push(op).push("lower(");
            q.param(Param::Text(v.to_owned())).push("))");
        }
    }
}

/// A numeric comparison that only numbers (and booleans, as 1 and 0, on SQLite) satisfy.
fn number_compare(q: &mut SqlBuilder, field: &FieldPath, op: Op, n: f64, text: &str) {
    match q.dialect {
        Dialect::Sqlite => {
            let x = field.value(Dialect::Sqlite);
            q.push("(").push(&x).push(" ").push(op.as_str()).push(" ");
            q.param(Param::Real(n));
            // SQLite sorts every number below any text: `< ''` keeps numbers only.
            if matches!(op, Op::Gt | Op::Ge) {
                q.push(" AND ").push(&x).push(" < ''");
            }
            q.push(")");
        }
        Dialect::Postgres => {
            // jsonb compares numbers numerically; other JSON types sort apart, so check the type.
            let j = field.json();
            q.push("(")
                .push(&j)
                .push(" ")
                .push(op.as_str())
                .push(" to_jsonb(");
            q.param(Param::Text(text.to_owned()));
            q.push("::numeric) AND jsonb_typeof(")
                .push(&j)
                .push(") = 'number')");
        }
    }
}

/// Appends the SQL condition of a `query` over the records' fields.
pub fn filter(q: &mut SqlBuilder, e: &Expr) -> Result<()> {
    match e {
        Expr::And(parts) | Expr::Or(parts) => {
            let joiner = if matches!(e, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            q.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    q.push(joiner);
                }
                filter(q, p)?;
            }
            q.push(")");
            Ok(())
        }
        Expr::Cmp(c) => comparison(q, c),
    }
}

/// The ORDER BY clause (without the keywords): `orderBy`'s field, then record id (and
/// connection id) in the same direction; by record id alone without `orderBy`.
pub fn order_by(d: Dialect, order: Option<&OrderBy>) -> Result<String> {
    let Some(o) = order else {
        return Ok(String::from("r.record_id ASC, r.connection_id ASC"));
    };
    let field = FieldPath::parse_dotted(&o.property).map_err(|_| {
        Error::Query(format!(
            "orderBy '{}' is not a property of the records; use a field name such as \
             issueDate, or -issueDate for descending.",
            o.property
        ))
    })?;
    let dir = if o.descending { "DESC" } else { "ASC" };
    let keys = match d {
        // NULL (missing) < numbers < text, NULLs first ascending and last descending.
        Dialect::Sqlite => format!("{} {dir}", field.value(d)),
        Dialect::Postgres => {
            // The same order as SQLite's, spelled out: missing, numbers, text (code points).
            let j = field.json();
            let t = field.value(d);
            format!(
                "(CASE jsonb_typeof({j}) WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 \
                 WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2 ELSE 0 END) {dir}, \
                 (CASE jsonb_typeof({j}) WHEN 'number' THEN ({j})::numeric \
                 WHEN 'boolean' THEN (CASE WHEN {j} = 'true'::jsonb THEN 1 ELSE 0 END) END) {dir}, \
                 (CASE WHEN jsonb_typeof({j}) IN ('string', 'object', 'array') THEN {t} END) \
                 COLLATE \"C\" {dir}"
            )
        }
    };
    Ok(format!("{keys}, r.record_id {dir}, r.connection_id {dir}"))
}

/// `FROM data_records r WHERE ...` for a read of `data_type` records of a company (of one
/// connection when given), with the query's conditions. Parameters: the company id, the company
/// id and the client id, then the connection id when given, then the conditions' values. The
/// client is checked once against the company (not per row), so the expression indexes can
/// cover counts.
pub fn records_where(
    d: Dialect,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: DataType,
    q: &RecordQuery,
) -> Result<SqlBuilder> {
    let mut b = SqlBuilder::new(d);
    b.push("FROM data_records r WHERE r.company_id = ");
    b.param(Param::Text(company.to_owned()));
    // From the enum, never from input: a literal lets the partial indexes apply.
    b.push(" AND r.data_type = '")
        .push(data_type.as_str())
        .push("'");
    // Not correlated with the row: evaluated once.
    b.push(" AND EXISTS (SELECT 1 FROM companies c WHERE c.id = ");
    b.param(Param::Text(company.to_owned()));
    b.push(" AND c.client_id = ");
    b.param(Param::Text(client.to_owned()));
    b.push(")");
    if let Some(conn) = connection {
        b.push(" AND r.connection_id = ");
        b.param(Param::Text(conn.to_owned()));
    }
    if let Some((field, value)) = &q.field_equals {
        let field = FieldPath::parse_dotted(field)?;
        b.push(" AND ").push(&field.value(d)).push(" = ");
        b.param(Param::Text(value.clone()));
    }
    if let Some(f) = &q.filter {
        b.push(" AND ");
        filter(&mut b, f)?;
    }
    Ok(b)
}

/// How many entries [`CountCache`] keeps before it starts afresh.
const COUNT_CACHE_ENTRIES: usize = 4096;

/// The number of matches of a query (`totalResults` of a read endpoint), remembered per
/// version of the company's records of that data type (the `record_versions` table, raised in
/// the transaction of every write that changes them). Counting a query over a million records
/// reads every match; a client paging through the result set asks the same count once per
/// page, and from the second page on it is answered from here while nothing has changed.
/// A count is never served for a version other than the one it was stored under; each process
/// reads the current version from the database, so several processes sharing one database
/// stay correct. Bounded: when full, it is emptied (a plain map, not an LRU: a cache miss costs
/// one count, as it would without the cache).
#[derive(Debug, Default)]
pub struct CountCache {
    counts: std::sync::Mutex<std::collections::HashMap<String, (i64, u64)>>,
}

impl CountCache {
    /// The key of a query: the client and the statement with its parameters (company, data
    /// type, connection and filter are all in them).
    pub fn key(client: &str, where_: &SqlBuilder) -> String {
        format!("{client}\u{1f}{}\u{1f}{:?}", where_.text, where_.params)
    }

    /// The count stored for `key` at `version`, if any.
    pub fn get(&self, key: &str, version: i64) -> Option<u64> {
        let counts = self.counts.lock().ok()?;
        counts
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, n)| *n)
    }

    /// Remembers `count` for `key`, counted at `version` or later (a count taken after
    /// reading the version may include a write that raised it: it is then stored under the
    /// older version and never served, since every later reader sees the newer version).
    pub fn put(&self, key: String, version: i64, count: u64) {
        if let Ok(mut counts) = self.counts.lock() {
            if counts.len() >= COUNT_CACHE_ENTRIES && !counts.contains_key(&key) {
                counts.clear();
            }
            counts.insert(key, (version, count));
        }
    }
}

/// The total of a page whose length says it is the last one (fewer than a page, and not past
/// the end): no count is needed.
pub fn total_from_page(page: PageRequest, len: usize) -> Option<u64> {
    let len = len as u64;
    (len < page.limit() && (len > 0 || page.page == 1)).then(|| page.offset() + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_domain::query::{parse, parse_order_by};

    fn build(d: Dialect, q: &str) -> Result<SqlBuilder> {
        let mut b = SqlBuilder::new(d);
        filter(&mut b, &parse(q)?)?;
        Ok(b)
    }

    #[test]
    fn values_are_parameters_and_paths_identifiers() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let b = build(d, "customerRef.id=x' OR 1=1 --&&totalAmount>100").unwrap();
            assert!(!b.text.contains("OR 1=1"), "{}", b.text);
            assert_eq!(b.params.len(), 2, "{}", b.text);
            for bad in [
                "a'b=1",
                "a;drop=1",
                "0ab=1",
                "a-b=1",
                "a.b.c.d.e.f.g.h.i=1",
                "a$=1",
            ] {
                let e = build(d, bad).unwrap_err();
                assert!(e.to_string().starts_with("Error parsing query - "), "{e}");
            }
            for bad in ["a'b", "a-b", "a..b", ""] {
                let o = OrderBy {
                    property: bad.into(),
                    descending: false,
                };
                assert!(order_by(d, Some(&o)).is_err(), "{bad}");
            }
        }
        let b = build(Dialect::Sqlite, "customerRef.id=abc").unwrap();
        assert_eq!(
            b.text,
            "(json_extract(r.data, '$.customerRef.id') = ?1 COLLATE NOCASE)"
        );
        let b = build(Dialect::Postgres, "customerRef.id=abc").unwrap();
        assert_eq!(
            b.text,
            "(lower((r.doc -> 'customerRef' ->> 'id')) = lower($1))"
        );
    }

    #[test]
    fn literals_are_typed_by_their_form() {
        let c = |v: &str| Comparison {
            path: vec!["x".into()],
            op: Op::Eq,
            value: v.into(),
        };
        assert_eq!(classify(&c("True")).unwrap(), Literal::Bool(true));
        assert_eq!(
            classify(&c("-12.5")).unwrap(),
            Literal::Number(-12.5, "-12.5".into())
        );
        assert_eq!(classify(&c("1e5")).unwrap(), Literal::Text("1e5".into()));
        assert_eq!(classify(&c("12.")).unwrap(), Literal::Text("12.".into()));
        assert_eq!(
            classify(&c("2023-12-31")).unwrap(),
            Literal::Day("2023-12-31".into(), "2024-01-01".into())
        );
        assert_eq!(
            classify(&c("2023-12-31T10:00:00")).unwrap(),
            Literal::DateTime("2023-12-31T10:00:00".into())
        );
        assert!(classify(&c("2023-13-45")).is_err());
        assert_eq!(classify(&c("Paid")).unwrap(), Literal::Text("Paid".into()));
        assert!(build(Dialect::Sqlite, "status>Paid").is_err());
        assert!(build(Dialect::Postgres, "isBankAccount>true").is_err());
        assert!(build(Dialect::Sqlite, "name~2023-01-01").is_ok());
    }

    #[test]
    fn ordering() {
        let o = parse_order_by("-issueDate").unwrap();
        assert_eq!(
            order_by(Dialect::Sqlite, Some(&o)).unwrap(),
            "json_extract(r.data, '$.issueDate') DESC, r.record_id DESC, r.connection_id DESC"
        );
        assert!(
            order_by(Dialect::Postgres, Some(&o))
                .unwrap()
                .ends_with("r.record_id DESC, r.connection_id DESC")
        );
        assert_eq!(
            order_by(Dialect::Sqlite, None).unwrap(),
            "r.record_id ASC, r.connection_id ASC"
        );
    }

    #[test]
    fn totals_from_short_pages() {
        let p = |page, page_size| PageRequest { page, page_size };
        assert_eq!(total_from_page(p(1, 10), 0), Some(0));
        assert_eq!(total_from_page(p(3, 10), 4), Some(24));
        assert_eq!(total_from_page(p(3, 10), 10), None);
        assert_eq!(total_from_page(p(3, 10), 0), None, "past the end: count");
    }
}
