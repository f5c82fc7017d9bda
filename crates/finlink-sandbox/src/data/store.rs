//! The data API's state in the sandbox database: each owner's [`DataProfile`] (when it is not
//! the default) and its touched records, one row per touched record:
//! `(owner_id, data_type, idx, version, modified_at)`. Generated records themselves are never
//! stored.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{DataProfile, DataType};

/// An owner of generated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A grant's organisation (tenant).
    Organisation { tenant_id: String, name: String },
    /// A Commerce Sandbox store.
    Store { store_id: String, name: String },
}

impl Owner {
    pub fn id(&self) -> &str {
        match self {
            Self::Organisation { tenant_id, .. } => tenant_id,
            Self::Store { store_id, .. } => store_id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Organisation { name, .. } | Self::Store { name, .. } => name,
        }
    }

    pub fn is_store(&self) -> bool {
        matches!(self, Self::Store { .. })
    }
}

/// A touched record's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Touch {
    /// How many times it was touched (1 after the first touch).
    pub version: u32,
    pub modified_ms: i64,
}

fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The organisation or store with this id.
pub(crate) fn find_owner(conn: &Connection, id: &str) -> rusqlite::Result<Option<Owner>> {
    let org = conn
        .query_row(
            "SELECT company_name FROM organisations WHERE tenant_id = ?1",
            params![id],
            |r| r.get::<_, String>(0),
        )
        .optional()?;
    if let Some(name) = org {
        return Ok(Some(Owner::Organisation {
            tenant_id: id.to_owned(),
            name,
        }));
    }
    let store = conn
        .query_row(
            "SELECT store_name FROM commerce_stores WHERE store_id = ?1",
            params![id],
            |r| r.get::<_, String>(0),
        )
        .optional()?;
    Ok(store.map(|name| Owner::Store {
        store_id: id.to_owned(),
        name,
    }))
}

/// An owner's profile: the default until one is saved.
pub(crate) fn profile(conn: &Connection, owner_id: &str) -> rusqlite::Result<DataProfile> {
    let raw: Option<String> = conn
        .query_row(
            "SELECT profile FROM data_profiles WHERE owner_id = ?1",
            params![owner_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match raw {
        None => DataProfile::default(),
        Some(raw) => serde_json::from_str(&raw).unwrap_or_else(|e| {
            tracing::warn!(owner_id, error = %e, "sandbox: unreadable data profile, using the default");
            DataProfile::default()
        }),
    })
}

pub(crate) fn save_profile(
    conn: &Connection,
    owner_id: &str,
    profile: &DataProfile,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(profile)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "INSERT INTO data_profiles (owner_id, profile, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (owner_id) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
        params![owner_id, json, now_ms],
    )?;
    Ok(())
}

/// Back to the default profile, with no touched records.
pub(crate) fn reset(conn: &mut Connection, owner_id: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM data_profiles WHERE owner_id = ?1",
        params![owner_id],
    )?;
    tx.execute(
        "DELETE FROM data_touches WHERE owner_id = ?1",
        params![owner_id],
    )?;
    tx.commit()
}

/// Touches records: each gets version + 1 and `modified_at = at`.
pub(crate) fn touch(
    conn: &mut Connection,
    owner_id: &str,
    t: DataType,
    indices: &[u64],
    at: i64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO data_touches (owner_id, data_type, idx, version, modified_at)
             VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (owner_id, data_type, idx)
             DO UPDATE SET version = version + 1, modified_at = excluded.modified_at",
        )?;
        for i in indices {
            stmt.execute(params![owner_id, t.as_str(), sql_int(*i), at])?;
        }
    }
    tx.commit()
}

/// How many records of each type are touched, among the first `counts[type]`.
pub(crate) fn touch_counts(
    conn: &Connection,
    owner_id: &str,
    counts: &BTreeMap<DataType, u64>,
) -> rusqlite::Result<BTreeMap<DataType, u64>> {
    let mut out = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT COUNT(*) FROM data_touches WHERE owner_id = ?1 AND data_type = ?2 AND idx < ?3",
    )?;
    for (t, n) in counts {
        let c: i64 = stmt.query_row(params![owner_id, t.as_str(), sql_int(*n)], |r| r.get(0))?;
        if c > 0 {
            out.insert(*t, c as u64);
        }
    }
    Ok(out)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(u64, Touch)> {
    let idx: i64 = r.get(0)?;
    let version: i64 = r.get(1)?;
    Ok((
        idx.max(0) as u64,
        Touch {
            version: u32::try_from(version).unwrap_or(u32::MAX),
            modified_ms: r.get(2)?,
        },
    ))
}

/// The touch of one record.
pub(crate) fn touch_of(
    conn: &Connection,
    owner_id: &str,
    t: DataType,
    idx: u64,
) -> rusqlite::Result<Option<Touch>> {
    conn.query_row(
        "SELECT idx, version, modified_at FROM data_touches
         WHERE owner_id = ?1 AND data_type = ?2 AND idx = ?3",
        params![owner_id, t.as_str(), sql_int(idx)],
        row,
    )
    .optional()
    .map(|o| o.map(|(_, t)| t))
}

/// The records a list request ranges over: one owner's records of one type whose index is
/// `start (mod stride)` (every record, or one bank account's transactions).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub owner_id: &'a str,
    pub data_type: DataType,
    pub start: u64,
    pub stride: u64,
}

/// Touched records of the scope with `lo <= idx <= hi`, by index.
pub(crate) fn touches_between(
    conn: &Connection,
    s: &Scope<'_>,
    lo: u64,
    hi: u64,
) -> rusqlite::Result<Vec<(u64, Touch)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, version, modified_at FROM data_touches
         WHERE owner_id = ?1 AND data_type = ?2 AND idx >= ?3 AND idx <= ?4
           AND (idx - ?5) % ?6 = 0
         ORDER BY idx",
    )?;
    stmt.query_map(
        params![
            s.owner_id,
            s.data_type.as_str(),
            sql_int(lo),
            sql_int(hi),
            sql_int(s.start),
            sql_int(s.stride.max(1))
        ],
        row,
    )?
    .collect()
}

/// Touched records of the scope before index `below` modified at or after `since`, by index:
/// `limit` of them from `offset`.
pub(crate) fn early_touches(
    conn: &Connection,
    s: &Scope<'_>,
    below: u64,
    since: i64,
    (limit, offset): (u64, u64),
) -> rusqlite::Result<Vec<(u64, Touch)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, version, modified_at FROM data_touches
         WHERE owner_id = ?1 AND data_type = ?2 AND idx >= ?3 AND idx < ?4 AND modified_at >= ?5
           AND (idx - ?3) % ?6 = 0
         ORDER BY idx LIMIT ?7 OFFSET ?8",
    )?;
    stmt.query_map(
        params![
            s.owner_id,
            s.data_type.as_str(),
            sql_int(s.start),
            sql_int(below),
            since,
            sql_int(s.stride.max(1)),
            sql_int(limit),
            sql_int(offset)
        ],
        row,
    )?
    .collect()
}

/// How many [`early_touches`] there are.
pub(crate) fn early_count(
    conn: &Connection,
    s: &Scope<'_>,
    below: u64,
    since: i64,
) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM data_touches
             WHERE owner_id = ?1 AND data_type = ?2 AND idx >= ?3 AND idx < ?4 AND modified_at >= ?5
               AND (idx - ?3) % ?6 = 0",
        )?
        .query_row(
            params![
                s.owner_id,
                s.data_type.as_str(),
                sql_int(s.start),
                sql_int(below),
                since,
                sql_int(s.stride.max(1))
            ],
            |r| r.get(0),
        )?;
    Ok(n.max(0) as u64)
}
