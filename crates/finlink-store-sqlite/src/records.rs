//! Reading stored records on SQLite (the read endpoints): `query` and `orderBy` over the
//! records' JSON (`finlink_store::records`), and whether a data type has been read. See
//! `migrations/0011_data_reads.sql` for the indexes these use.

use finlink_domain::Result;
use finlink_domain::data::DataType;
use finlink_domain::paging::Page;
use finlink_domain::sync::StoredRecord;
use finlink_store::records::{self, CountCache, RecordQuery};
use finlink_store::rows::{RECORD_COLUMNS, RecordRow};
use finlink_store::sql::{Dialect, Param};
use rusqlite::types::Value;
use rusqlite::{Connection as Db, OptionalExtension, params, params_from_iter};

use crate::pool::db_error;

fn values(params: Vec<Param>) -> Vec<Value> {
    params
        .into_iter()
        .map(|p| match p {
            Param::Text(s) => Value::Text(s),
            Param::Int(i) => Value::Integer(i),
            Param::Real(f) => Value::Real(f),
        })
        .collect()
}

pub(crate) fn data_type_read(
    db: &Db,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: DataType,
) -> Result<bool> {
    db.prepare_cached(
        "SELECT 1 FROM datasets WHERE company_id = ?1 AND data_type = ?2 AND status = 'Complete' \
         AND client_id = ?3 AND (?4 IS NULL OR connection_id = ?4) LIMIT 1",
    )
    .map_err(db_error)?
    .query_row(
        params![company, data_type.as_str(), client, connection],
        |_| Ok(()),
    )
    .optional()
    .map_err(db_error)
    .map(|r| r.is_some())
}

pub(crate) fn query_records(
    db: &Db,
    counts: &CountCache,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: DataType,
    q: &RecordQuery,
) -> Result<Page<StoredRecord>> {
    let where_ =
        records::records_where(Dialect::Sqlite, client, company, connection, data_type, q)?;
    let order = records::order_by(Dialect::Sqlite, q.order.as_ref())?;
    let params = values(where_.params.clone());
    let page_sql = format!(
        "SELECT {RECORD_COLUMNS} {} ORDER BY {order} LIMIT {} OFFSET {}",
        where_.text,
        q.page.limit(),
        q.page.offset()
    );
    let rows = db
        .prepare_cached(&page_sql)
        .map_err(db_error)?
        .query_map(params_from_iter(params.iter()), |r| {
            Ok(RecordRow {
                client_id: r.get(0)?,
                company_id: r.get(1)?,
                connection_id: r.get(2)?,
                data_type: r.get(3)?,
                record_id: r.get(4)?,
                data: r.get(5)?,
                source_modified: r.get(6)?,
                modified: r.get(7)?,
                dataset_id: r.get(8)?,
                raw: None,
            })
        })
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    let total = match records::total_from_page(q.page, rows.len()) {
        Some(t) => t,
        None => {
            let version: i64 = db
                .prepare_cached(
                    "SELECT version FROM record_versions WHERE company_id = ?1 AND data_type = ?2",
                )
                .map_err(db_error)?
                .query_row(params![company, data_type.as_str()], |r| r.get(0))
                .optional()
                .map_err(db_error)?
                .unwrap_or(0);
            let key = CountCache::key(client, &where_);
            match counts.get(&key, version) {
                Some(n) => n,
                None => {
                    let n: i64 = db
                        .prepare_cached(&format!("SELECT COUNT(*) {}", where_.text))
                        .map_err(db_error)?
                        .query_row(params_from_iter(params.iter()), |r| r.get(0))
                        .map_err(db_error)?;
                    let n = u64::try_from(n).unwrap_or(0);
                    counts.put(key, version, n);
                    n
                }
            }
        }
    };
    Ok(Page {
        items: rows
            .into_iter()
            .map(RecordRow::into_domain)
            .collect::<Result<Vec<_>>>()?,
        total,
        request: q.page,
    })
}
