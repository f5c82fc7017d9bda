//! The query language turned into parameterized SQL, for both engines.
//!
//! Every value from a query becomes a bound parameter; the only text spliced into
//! SQL comes from the static whitelists below. A property not on a resource's
//! whitelist is an `Error parsing query` answer, never a column name in SQL.

use finlink_domain::query::{Comparison, Expr, FieldType, Op, OrderBy, Typed, Value};
use finlink_domain::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Real(f64),
}

/// A statement being built: SQL text plus its parameters, with placeholders in the
/// engine's syntax (`?1` for SQLite, `$1` for PostgreSQL).
#[derive(Clone, Debug)]
pub struct SqlBuilder {
    pub dialect: Dialect,
    pub text: String,
    pub params: Vec<Param>,
}

impl SqlBuilder {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::with_capacity(256),
            params: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder bound to `p`.
    pub fn param(&mut self, p: Param) -> &mut Self {
        self.params.push(p);
        let n = self.params.len();
        let ph = match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        };
        self.text.push_str(&ph);
        self
    }

    fn like_op(&self) -> &'static str {
        match self.dialect {
            // SQLite's LIKE ignores ASCII case; PostgreSQL needs ILIKE for the same.
            Dialect::Sqlite => " LIKE ",
            Dialect::Postgres => " ILIKE ",
        }
    }
}

/// Where a queryable property lives.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// A column of the resource's own row (an SQL expression from this file, never from input).
    Column { expr: &'static str, ty: FieldType },
    /// A column of related rows (a company's connections): `=` means "any related row
    /// matches"; `!=` means "no related row equals" (so companies with no connections match).
    AnyRelated {
        table: &'static str,
        alias: &'static str,
        join: &'static str,
        column: &'static str,
        ty: FieldType,
    },
    /// A company tag: `tags.region=uk`.
    Tag,
}

/// A resource's whitelist of queryable and orderable properties.
#[derive(Debug)]
pub struct Resource {
    /// The name used in errors (`Could not resolve property x on Company`).
    pub name: &'static str,
    /// The SQL alias of the resource's table in list queries.
    pub alias: &'static str,
    pub properties: &'static [(&'static str, Target)],
    /// Orderable properties and the column each sorts by.
    pub order: &'static [(&'static str, &'static str)],
    /// The column that makes orderings total (ties broken by it).
    pub tiebreak: &'static str,
    /// The default ordering (SQL).
    pub default_order: &'static str,
}

const STATUSES: &[&str] = &["PendingAuth", "Linked", "Unlinked", "Deauthorized"];
const SOURCE_TYPES: &[&str] = &[
    "Accounting",
    "Banking",
    "BankFeed",
    "Commerce",
    "Expense",
    "Other",
    "Unknown",
];

pub static COMPANIES: Resource = Resource {
    name: "Company",
    alias: "c",
    properties: &[
        (
            "id",
            Target::Column {
                expr: "c.id",
                ty: FieldType::Text,
            },
        ),
        (
            "name",
            Target::Column {
                expr: "c.name",
                ty: FieldType::Text,
            },
        ),
        (
            "description",
            Target::Column {
                expr: "c.description",
                ty: FieldType::Text,
            },
        ),
        (
            "created",
            Target::Column {
                expr: "c.created",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "lastSync",
            Target::Column {
                expr: "c.last_sync",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "modifiedDate",
            Target::Column {
                expr: "c.modified",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "createdByUserName",
            Target::Column {
                expr: "c.created_by_user_name",
                ty: FieldType::Text,
            },
        ),
        (
            "consumerId",
            Target::Column {
                expr: "c.consumer_id",
                ty: FieldType::Text,
            },
        ),
        ("tags", Target::Tag),
        ("dataConnections.id", related("id", FieldType::Text)),
        (
            "dataConnections.status",
            related("status", FieldType::Enum(STATUSES)),
        ),
        (
            "dataConnections.integrationKey",
            related("integration_key", FieldType::Text),
        ),
        (
            "dataConnections.integrationId",
            related("integration_id", FieldType::Text),
        ),
        (
            "dataConnections.sourceId",
            related("source_id", FieldType::Text),
        ),
        (
            "dataConnections.sourceType",
            related("source_type", FieldType::Enum(SOURCE_TYPES)),
        ),
        (
            "dataConnections.platformName",
            related("platform_name", FieldType::Text),
        ),
        (
            "dataConnections.created",
            related("created", FieldType::Timestamp),
        ),
        (
            "dataConnections.lastSync",
            related("last_sync", FieldType::Timestamp),
        ),
    ],
    order: &[
        ("id", "c.id"),
        ("name", "c.name"),
        ("description", "c.description"),
        ("created", "c.created"),
        ("lastSync", "c.last_sync"),
        ("modifiedDate", "c.modified"),
    ],
    tiebreak: "c.id",
    default_order: "c.created ASC, c.id ASC",
};

const fn related(column: &'static str, ty: FieldType) -> Target {
    Target::AnyRelated {
        table: "connections",
        alias: "dc",
        join: "dc.company_id = c.id",
        column,
        ty,
    }
}

pub static CONNECTIONS: Resource = Resource {
    name: "DataConnection",
    alias: "dc",
    properties: &[
        (
            "id",
            Target::Column {
                expr: "dc.id",
                ty: FieldType::Text,
            },
        ),
        (
            "status",
            Target::Column {
                expr: "dc.status",
                ty: FieldType::Enum(STATUSES),
            },
        ),
        (
            "integrationKey",
            Target::Column {
                expr: "dc.integration_key",
                ty: FieldType::Text,
            },
        ),
        (
            "integrationId",
            Target::Column {
                expr: "dc.integration_id",
                ty: FieldType::Text,
            },
        ),
        (
            "sourceId",
            Target::Column {
                expr: "dc.source_id",
                ty: FieldType::Text,
            },
        ),
        (
            "sourceType",
            Target::Column {
                expr: "dc.source_type",
                ty: FieldType::Enum(SOURCE_TYPES),
            },
        ),
        (
            "platformName",
            Target::Column {
                expr: "dc.platform_name",
                ty: FieldType::Text,
            },
        ),
        (
            "created",
            Target::Column {
                expr: "dc.created",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "lastSync",
            Target::Column {
                expr: "dc.last_sync",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "modifiedDate",
            Target::Column {
                expr: "dc.modified",
                ty: FieldType::Timestamp,
            },
        ),
    ],
    order: &[
        ("id", "dc.id"),
        ("status", "dc.status"),
        ("integrationKey", "dc.integration_key"),
        ("sourceType", "dc.source_type"),
        ("platformName", "dc.platform_name"),
        ("created", "dc.created"),
        ("lastSync", "dc.last_sync"),
        ("modifiedDate", "dc.modified"),
    ],
    tiebreak: "dc.id",
    default_order: "dc.created ASC, dc.id ASC",
};

/// `DatasetStatus` values (`finlink_domain::data::DatasetStatus`).
const DATASET_STATUSES: &[&str] = &[
    "Initial",
    "Queued",
    "Fetching",
    "MapQueued",
    "Mapping",
    "Complete",
    "FetchError",
    "MapError",
    "InternalError",
    "ProcessingQueued",
    "Processing",
    "ProcessingError",
    "ValidationQueued",
    "Validating",
    "ValidationError",
    "AuthError",
    "Cancelled",
    "NotSupported",
    "RateLimitError",
    "PermissionsError",
    "PrerequisiteNotMet",
];

/// Pull history (`GET /companies/{id}/data/history`). `isCompleted` and `isErrored` are not
/// queryable, as in Codat (query `status` instead).
pub static DATASETS: Resource = Resource {
    name: "Dataset",
    alias: "d",
    properties: &[
        (
            "id",
            Target::Column {
                expr: "d.id",
                ty: FieldType::Text,
            },
        ),
        (
            "companyId",
            Target::Column {
                expr: "d.company_id",
                ty: FieldType::Text,
            },
        ),
        (
            "connectionId",
            Target::Column {
                expr: "d.connection_id",
                ty: FieldType::Text,
            },
        ),
        (
            "dataType",
            Target::Column {
                expr: "d.data_type",
                ty: FieldType::Text,
            },
        ),
        (
            "status",
            Target::Column {
                expr: "d.status",
                ty: FieldType::Enum(DATASET_STATUSES),
            },
        ),
        (
            "statusDescription",
            Target::Column {
                expr: "d.status_description",
                ty: FieldType::Text,
            },
        ),
        (
            "errorMessage",
            Target::Column {
                expr: "d.error_message",
                ty: FieldType::Text,
            },
        ),
        (
            "requested",
            Target::Column {
                expr: "d.requested",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "completed",
            Target::Column {
                expr: "d.completed",
                ty: FieldType::Timestamp,
            },
        ),
        (
            "progress",
            Target::Column {
                expr: "d.progress",
                ty: FieldType::Number,
            },
        ),
    ],
    order: &[
        ("id", "d.id"),
        ("connectionId", "d.connection_id"),
        ("dataType", "d.data_type"),
        ("status", "d.status"),
        ("requested", "d.requested"),
        ("completed", "d.completed"),
        ("progress", "d.progress"),
    ],
    tiebreak: "d.id",
    default_order: "d.requested DESC, d.id DESC",
};

/// The dataset statuses of a pull still queued or running, as an SQL list (`'Queued', ...`).
pub const ACTIVE_DATASET_STATUSES: &str = "'Initial', 'Queued', 'Fetching', 'MapQueued', \
     'Mapping', 'ProcessingQueued', 'Processing', 'ValidationQueued', 'Validating'";

fn unknown_property(resource: &Resource, prop: &str) -> Error {
    let mut names: Vec<&str> = resource.properties.iter().map(|(n, _)| *n).collect();
    names.retain(|n| *n != "tags");
    Error::Query(format!(
        "Could not resolve property {prop} on {}. Queryable properties: {}{}.",
        resource.name,
        names.join(", "),
        if resource
            .properties
            .iter()
            .any(|(_, t)| matches!(t, Target::Tag))
        {
            ", tags.<key>"
        } else {
            ""
        }
    ))
}

fn lookup(resource: &Resource, c: &Comparison) -> Result<(Target, Option<String>)> {
    let prop = c.property();
    if let Some((_, t)) = resource.properties.iter().find(|(n, _)| *n == prop) {
        if matches!(t, Target::Tag) {
            return Err(Error::Query(String::from(
                "query a tag as tags.<key>, for example tags.region=uk (or use the tags parameter).",
            )));
        }
        return Ok((*t, None));
    }
    if c.path.len() == 2
        && c.path.first().map(String::as_str) == Some("tags")
        && resource
            .properties
            .iter()
            .any(|(_, t)| matches!(t, Target::Tag))
    {
        return Ok((Target::Tag, c.path.get(1).cloned()));
    }
    Err(unknown_property(resource, &prop))
}

fn param_for(v: &Value) -> Param {
    match v {
        Value::Text(s) => Param::Text(s.clone()),
        Value::Number(n) => Param::Real(*n),
        Value::Bool(b) => Param::Int(i64::from(*b)),
        Value::Timestamp(t) => Param::Int(t.as_millis()),
    }
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

/// `expr <typed comparison>` where NULLs match only `!=` (querying on null is not supported;
/// a missing value is simply "not equal").
fn compare(q: &mut SqlBuilder, expr: &str, typed: &Typed) {
    match typed {
        Typed::Range {
            start,
            end,
            negated: false,
        } => {
            q.push("(")
                .push(expr)
                .push(" >= ")
                .param(Param::Int(start.as_millis()));
            q.push(" AND ")
                .push(expr)
                .push(" < ")
                .param(Param::Int(end.as_millis()))
                .push(")");
        }
        Typed::Range {
            start,
            end,
            negated: true,
        } => {
            q.push("(")
                .push(expr)
                .push(" IS NULL OR ")
                .push(expr)
                .push(" < ");
            q.param(Param::Int(start.as_millis()));
            q.push(" OR ")
                .push(expr)
                .push(" >= ")
                .param(Param::Int(end.as_millis()))
                .push(")");
        }
        Typed::Compare(Op::Contains, v) => {
            let pattern = match v {
                Value::Text(s) => like_pattern(s),
                _ => String::from("%"),
            };
            let like = q.like_op();
            q.push("(")
                .push(expr)
                .push(like)
                .param(Param::Text(pattern))
                .push(" ESCAPE '\\')");
        }
        Typed::Compare(Op::Ne, v) => {
            q.push("(")
                .push(expr)
                .push(" IS NULL OR ")
                .push(expr)
                .push(" <> ")
                .param(param_for(v))
                .push(")");
        }
        Typed::Compare(op, v) => {
            q.push("(")
                .push(expr)
                .push(" ")
                .push(op.as_str())
                .push(" ")
                .param(param_for(v))
                .push(")");
        }
    }
}

/// Appends the SQL condition for a `query` parameter on `resource`.
pub fn filter(q: &mut SqlBuilder, resource: &Resource, e: &Expr) -> Result<()> {
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
                filter(q, resource, p)?;
            }
            q.push(")");
            Ok(())
        }
        Expr::Cmp(c) => {
            let (target, tag_key) = lookup(resource, c)?;
            match target {
                Target::Column { expr, ty } => {
                    let typed = c.typed(ty)?;
                    compare(q, expr, &typed);
                }
                Target::AnyRelated {
                    table,
                    alias,
                    join,
                    column,
                    ty,
                } => {
                    let typed = c.typed(ty)?;
                    let col = format!("{alias}.{column}");
                    // "!=" on a collection: no element equals the value.
                    let (negate, typed) = match typed {
                        Typed::Compare(Op::Ne, v) => (true, Typed::Compare(Op::Eq, v)),
                        Typed::Range {
                            start,
                            end,
                            negated: true,
                        } => (
                            true,
                            Typed::Range {
                                start,
                                end,
                                negated: false,
                            },
                        ),
                        other => (false, other),
                    };
                    q.push(if negate {
                        "NOT EXISTS (SELECT 1 FROM "
                    } else {
                        "EXISTS (SELECT 1 FROM "
                    });
                    q.push(table)
                        .push(" ")
                        .push(alias)
                        .push(" WHERE ")
                        .push(join)
                        .push(" AND ");
                    compare(q, &col, &typed);
                    q.push(")");
                }
                Target::Tag => {
                    tag_condition(q, tag_key.as_deref().unwrap_or(""), c)?;
                }
            }
            Ok(())
        }
    }
}

fn tag_condition(q: &mut SqlBuilder, key: &str, c: &Comparison) -> Result<()> {
    let typed = c.typed(FieldType::Text).map_err(|_| {
        Error::Query(format!(
            "tags can only be compared with =, != or ~ (tag '{key}')."
        ))
    })?;
    let (negate, typed) = match typed {
        Typed::Compare(Op::Ne, v) => (true, Typed::Compare(Op::Eq, v)),
        other => (false, other),
    };
    q.push(if negate {
        "NOT EXISTS (SELECT 1 FROM company_tags t WHERE t.company_id = c.id AND t.tag_key = "
    } else {
        "EXISTS (SELECT 1 FROM company_tags t WHERE t.company_id = c.id AND t.tag_key = "
    });
    q.param(Param::Text(key.to_owned())).push(" AND ");
    compare(q, "t.tag_value", &typed);
    q.push(")");
    Ok(())
}

/// Appends the SQL condition for the companies list's `tags` parameter, a query
/// whose properties are tag keys (`region=uk && team=invoice-finance`).
pub fn tags_filter(q: &mut SqlBuilder, e: &Expr) -> Result<()> {
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
                tags_filter(q, p)?;
            }
            q.push(")");
            Ok(())
        }
        Expr::Cmp(c) => tag_condition(q, &c.property(), c),
    }
}

/// `{base} WHERE {alias}.client_id = ? [AND {alias}.company_id = ?] [AND filter] [AND tags]`
/// for a list query: `scope` is the client id, then (for connections) the company id.
pub fn list_where(
    dialect: Dialect,
    base: &str,
    scope: &[Param],
    resource: &Resource,
    q: &crate::ListQuery,
) -> Result<SqlBuilder> {
    let mut b = SqlBuilder::new(dialect);
    b.push(base);
    for (i, p) in scope.iter().enumerate() {
        b.push(if i == 0 { " WHERE " } else { " AND " });
        let col = if i == 0 { "client_id" } else { "company_id" };
        b.push(resource.alias)
            .push(".")
            .push(col)
            .push(" = ")
            .param(p.clone());
    }
    if let Some(f) = &q.filter {
        b.push(" AND ");
        filter(&mut b, resource, f)?;
    }
    if let Some(t) = &q.tags {
        b.push(" AND ");
        tags_filter(&mut b, t)?;
    }
    if q.consumers_only && resource.alias == COMPANIES.alias {
        b.push(" AND c.consumer_id IS NOT NULL");
    }
    Ok(b)
}

/// The ORDER BY clause (without the keywords) for an `orderBy` parameter.
pub fn order_by(resource: &Resource, order: Option<&OrderBy>) -> Result<String> {
    let Some(o) = order else {
        return Ok(resource.default_order.to_owned());
    };
    let Some((_, col)) = resource.order.iter().find(|(n, _)| *n == o.property) else {
        let names: Vec<&str> = resource.order.iter().map(|(n, _)| *n).collect();
        return Err(Error::Query(format!(
            "cannot order {} by '{}'; orderable properties: {} (prefix with - for descending).",
            resource.name,
            o.property,
            names.join(", ")
        )));
    };
    let dir = if o.descending { "DESC" } else { "ASC" };
    // NULLs sort as the smallest value on both engines.
    let nulls = match (o.descending, *col == resource.tiebreak) {
        (_, true) => "",
        (false, false) => " NULLS FIRST",
        (true, false) => " NULLS LAST",
    };
    Ok(format!("{col} {dir}{nulls}, {} {dir}", resource.tiebreak))
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_domain::query::{parse, parse_order_by};

    fn build(d: Dialect, q: &str) -> Result<SqlBuilder> {
        let mut b = SqlBuilder::new(d);
        filter(&mut b, &COMPANIES, &parse(q)?)?;
        Ok(b)
    }

    #[test]
    fn values_are_always_parameters() {
        let b = build(
            Dialect::Postgres,
            "name~Acme' OR 1=1 --&&created>2021-01-28",
        )
        .unwrap();
        assert!(!b.text.contains("Acme"), "{}", b.text);
        assert!(b.text.contains("$1") && b.text.contains("$2"));
        assert_eq!(b.params.len(), 2);
        let b = build(Dialect::Sqlite, "dataConnections.status=linked").unwrap();
        assert!(b.text.starts_with("EXISTS"), "{}", b.text);
        assert_eq!(b.params, vec![Param::Text("Linked".into())]);
        assert!(b.text.contains("?1"));
    }

    #[test]
    fn unknown_properties_are_query_errors() {
        let e = build(Dialect::Sqlite, "password=x").unwrap_err();
        assert!(
            e.to_string()
                .contains("Could not resolve property password on Company"),
            "{e}"
        );
        assert!(build(Dialect::Sqlite, "name>x").is_err());
        assert!(build(Dialect::Sqlite, "tags=x").is_err());
        assert!(build(Dialect::Sqlite, "tags.region=uk").is_ok());
    }

    #[test]
    fn ordering() {
        assert_eq!(
            order_by(&COMPANIES, Some(&parse_order_by("-name").unwrap())).unwrap(),
            "c.name DESC NULLS LAST, c.id DESC"
        );
        assert!(order_by(&COMPANIES, Some(&parse_order_by("secret").unwrap())).is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}

#[cfg(test)]
mod dataset_tests {
    use super::*;
    use finlink_domain::data::DatasetStatus;
    use finlink_domain::query::parse;

    #[test]
    fn dataset_statuses_are_the_domains() {
        let domain: Vec<&str> = DatasetStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(DATASET_STATUSES, domain.as_slice());
        let active: Vec<String> = DatasetStatus::ALL
            .iter()
            .filter(|s| s.is_in_progress())
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(ACTIVE_DATASET_STATUSES, active.join(", "));
    }

    #[test]
    fn is_completed_is_not_queryable() {
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        let e = filter(&mut b, &DATASETS, &parse("isCompleted=true").unwrap()).unwrap_err();
        assert!(
            e.to_string()
                .contains("Could not resolve property isCompleted on Dataset"),
            "{e}"
        );
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        filter(
            &mut b,
            &DATASETS,
            &parse("status=complete&&progress>=50").unwrap(),
        )
        .unwrap();
        assert_eq!(b.params[0], Param::Text("Complete".into()));
    }
}
