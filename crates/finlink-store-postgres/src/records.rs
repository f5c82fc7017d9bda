//! Reading stored records on PostgreSQL (the read endpoints): `query` and `orderBy` over the
//! records' JSON (`finlink_store::records`, on the `doc` jsonb column), and whether a data type
//! has been read. See `migrations/0011_data_reads.sql` for the column and the indexes.

use finlink_domain::Result;
use finlink_domain::data::DataType;
use finlink_domain::paging::Page;
use finlink_domain::sync::StoredRecord;
use finlink_store::records::{self, CountCache, RecordQuery};
use finlink_store::rows::{RECORD_COLUMNS, RecordRow};
use finlink_store::sql::Dialect;
use sqlx::PgPool;

use crate::{bind_all, db_error, get};

pub(crate) async fn data_type_read(
    pool: &PgPool,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: DataType,
) -> Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM datasets WHERE company_id = $1 AND data_type = $2 AND status = 'Complete' \
         AND client_id = $3 AND ($4::text IS NULL OR connection_id = $4) LIMIT 1",
    )
    .bind(company)
    .bind(data_type.as_str())
    .bind(client)
    .bind(connection)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    Ok(found.is_some())
}

pub(crate) async fn query_records(
    pool: &PgPool,
    counts: &CountCache,
    client: &str,
    company: &str,
    connection: Option<&str>,
    data_type: DataType,
    q: &RecordQuery,
) -> Result<Page<StoredRecord>> {
    let where_ =
        records::records_where(Dialect::Postgres, client, company, connection, data_type, q)?;
    let order = records::order_by(Dialect::Postgres, q.order.as_ref())?;
    let page_sql = format!(
        "SELECT {RECORD_COLUMNS} {} ORDER BY {order} LIMIT {} OFFSET {}",
        where_.text,
        q.page.limit(),
        q.page.offset()
    );
    let rows = bind_all(sqlx::query(&page_sql), &where_.params)
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    let total = match records::total_from_page(q.page, rows.len()) {
        Some(t) => t,
        None => {
            let version: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM record_versions WHERE company_id = $1 AND data_type = $2",
            )
            .bind(company)
            .bind(data_type.as_str())
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
            let version = version.unwrap_or(0);
            let key = CountCache::key(client, &where_);
            match counts.get(&key, version) {
                Some(n) => n,
                None => {
                    let count_sql = format!("SELECT COUNT(*) {}", where_.text);
                    let n: i64 = get(
                        &bind_all(sqlx::query(&count_sql), &where_.params)
                            .fetch_one(pool)
                            .await
                            .map_err(db_error)?,
                        0,
                    )?;
                    let n = u64::try_from(n).unwrap_or(0);
                    counts.put(key, version, n);
                    n
                }
            }
        }
    };
    let items = rows
        .iter()
        .map(|r| {
            RecordRow {
                client_id: get(r, 0)?,
                company_id: get(r, 1)?,
                connection_id: get(r, 2)?,
                data_type: get(r, 3)?,
                record_id: get(r, 4)?,
                data: get(r, 5)?,
                source_modified: get(r, 6)?,
                modified: get(r, 7)?,
                dataset_id: get(r, 8)?,
                raw: None,
            }
            .into_domain()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        total,
        request: q.page,
    })
}
