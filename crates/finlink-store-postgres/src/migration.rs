//! Bulk migration runs and batches (see `finlink_store::migration`): a batch is a handful of
//! multi-row statements over arrays (`unnest`), whatever its size.

use finlink_domain::company::Company;
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::migration::{
    MigrationBatch, MigrationCounts, MigrationRowRecord, MigrationRun, status,
};
use finlink_store::rows::{
    COMPANY_COLUMNS, CompanyRow, ConnectionRow, CredentialsRow, attach_connections,
};
use sqlx::postgres::PgRow;

use super::{PostgresStore, company_row, db_error, get, insert_audit_on};

const RUN_COLUMNS: &str = "id, client_id, fingerprint, source, format, options, status, detail, \
     total_rows, canary_rows, watermark, created_count, updated_count, unchanged_count, duplicate_count, \
     invalid_count, failed_count, companies_created, created, updated, completed";

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn run_row(r: &PgRow) -> Result<MigrationRun> {
    let id: String = get(r, 0)?;
    let client: String = get(r, 1)?;
    let n = |k: usize| -> Result<u64> { Ok(u(get::<i64>(r, k)?)) };
    Ok(MigrationRun {
        id: uuid::Uuid::parse_str(&id)
            .map_err(|_| Error::internal("stored migration run id is not a UUID"))?,
        client_id: ClientId::parse(&client)?,
        fingerprint: get(r, 2)?,
        source: get(r, 3)?,
        format: get(r, 4)?,
        options: get(r, 5)?,
        status: get(r, 6)?,
        detail: get(r, 7)?,
        total_rows: n(8)?,
        canary_rows: n(9)?,
        watermark: n(10)?,
        counts: MigrationCounts {
            created: n(11)?,
            updated: n(12)?,
            unchanged: n(13)?,
            duplicate: n(14)?,
            invalid: n(15)?,
            failed: n(16)?,
            companies_created: n(17)?,
        },
        created: Timestamp::from_millis(get(r, 18)?),
        updated: Timestamp::from_millis(get(r, 19)?),
        completed: get::<Option<i64>>(r, 20)?.map(Timestamp::from_millis),
    })
}

impl PostgresStore {
    pub(crate) async fn mig_insert_run(&self, r: &MigrationRun) -> Result<()> {
        let c = &r.counts;
        sqlx::query(&format!(
            "INSERT INTO migration_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        ))
        .bind(r.id.to_string())
        .bind(r.client_id.to_string())
        .bind(&r.fingerprint)
        .bind(&r.source)
        .bind(&r.format)
        .bind(&r.options)
        .bind(&r.status)
        .bind(&r.detail)
        .bind(i(r.total_rows))
        .bind(i(r.canary_rows))
        .bind(i(r.watermark))
        .bind(i(c.created))
        .bind(i(c.updated))
        .bind(i(c.unchanged))
        .bind(i(c.duplicate))
        .bind(i(c.invalid))
        .bind(i(c.failed))
        .bind(i(c.companies_created))
        .bind(r.created.as_millis())
        .bind(r.updated.as_millis())
        .bind(r.completed.map(Timestamp::as_millis))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(crate) async fn mig_get_run(&self, id: uuid::Uuid) -> Result<Option<MigrationRun>> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM migration_runs WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| run_row(&r))
        .transpose()
    }

    pub(crate) async fn mig_find_run(
        &self,
        client: ClientId,
        fingerprint: &str,
    ) -> Result<Option<MigrationRun>> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM migration_runs WHERE client_id = $1 AND fingerprint = $2 \
             ORDER BY created DESC, id DESC LIMIT 1"
        ))
        .bind(client.to_string())
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|r| run_row(&r))
        .transpose()
    }

    pub(crate) async fn mig_list_runs(&self, limit: u32) -> Result<Vec<MigrationRun>> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM migration_runs ORDER BY created DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(run_row)
        .collect()
    }

    pub(crate) async fn mig_companies(
        &self,
        client: ClientId,
        refs: &[String],
        ids: &[CompanyId],
    ) -> Result<Vec<Company>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = sqlx::query(&format!(
            "SELECT {COMPANY_COLUMNS} FROM companies c WHERE c.client_id = $1 \
             AND (c.consumer_id = ANY($2) OR c.id = ANY($3))"
        ))
        .bind(client.to_string())
        .bind(refs)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut found = rows
            .iter()
            .map(|r| company_row(r)?.into_domain())
            .collect::<Result<Vec<Company>>>()?;
        let company_ids: Vec<String> = found.iter().map(|c| c.id.to_string()).collect();
        let conns = self.connections_of(&company_ids).await?;
        attach_connections(&mut found, conns);
        Ok(found)
    }

    pub(crate) async fn mig_import_batch(&self, b: &MigrationBatch) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let c = &b.counts;
        let client = b.client.to_string();
        let moved = sqlx::query(
            "UPDATE migration_runs SET watermark = $3, created_count = created_count + $4, \
             updated_count = updated_count + $5, unchanged_count = unchanged_count + $6, \
             duplicate_count = duplicate_count + $7, invalid_count = invalid_count + $8, \
             failed_count = failed_count + $9, companies_created = companies_created + $10, updated = $11 \
             WHERE id = $1 AND watermark = $2 AND client_id = $12",
        )
        .bind(b.run.to_string())
        .bind(i(b.after_row))
        .bind(i(b.up_to_row))
        .bind(i(c.created))
        .bind(i(c.updated))
        .bind(i(c.unchanged))
        .bind(i(c.duplicate))
        .bind(i(c.invalid))
        .bind(i(c.failed))
        .bind(i(c.companies_created))
        .bind(b.at.as_millis())
        .bind(&client)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        if !b.companies.is_empty() {
            let rows: Vec<CompanyRow> = b.companies.iter().map(CompanyRow::from_domain).collect();
            let t = |f: fn(&CompanyRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
            let o = |f: fn(&CompanyRow) -> Option<String>| {
                rows.iter().map(f).collect::<Vec<Option<String>>>()
            };
            let n = |f: fn(&CompanyRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
            sqlx::query(
                "INSERT INTO companies (id, client_id, name, description, tags, created, modified, \
                 created_by_user_name, products, consumer_id) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
                 $7::bigint[], $8::text[], $9::text[], $10::text[])",
            )
            .bind(t(|r| r.id.clone()))
            .bind(t(|r| r.client_id.clone()))
            .bind(t(|r| r.name.clone()))
            .bind(o(|r| r.description.clone()))
            .bind(t(|r| r.tags.clone()))
            .bind(n(|r| r.created))
            .bind(n(|r| r.modified))
            .bind(o(|r| r.created_by_user_name.clone()))
            .bind(t(|r| r.products.clone()))
            .bind(o(|r| r.consumer_id.clone()))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            let mut ids = Vec::new();
            let mut keys = Vec::new();
            let mut values = Vec::new();
            for co in &b.companies {
                for (k, v) in &co.tags {
                    ids.push(co.id.to_string());
                    keys.push(k.clone());
                    values.push(v.clone());
                }
            }
            if !ids.is_empty() {
                sqlx::query(
                    "INSERT INTO company_tags (company_id, tag_key, tag_value) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
                )
                .bind(&ids)
                .bind(&keys)
                .bind(&values)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            sqlx::query(super::COUNT_ADD)
                .bind(i(b.companies.len() as u64))
                .bind(&client)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        if !b.connections.is_empty() {
            let rows: Vec<ConnectionRow> = b
                .connections
                .iter()
                .map(ConnectionRow::from_domain)
                .collect();
            let t = |f: fn(&ConnectionRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
            let n = |f: fn(&ConnectionRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
            sqlx::query(
                "INSERT INTO connections (id, client_id, company_id, integration_key, integration_id, source_id, \
                 source_type, platform_name, status, created, modified, errors, connection_info) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::text[])",
            )
            .bind(t(|r| r.id.clone()))
            .bind(t(|r| r.client_id.clone()))
            .bind(t(|r| r.company_id.clone()))
            .bind(t(|r| r.integration_key.clone()))
            .bind(t(|r| r.integration_id.clone()))
            .bind(t(|r| r.source_id.clone()))
            .bind(t(|r| r.source_type.clone()))
            .bind(t(|r| r.platform_name.clone()))
            .bind(t(|r| r.status.clone()))
            .bind(n(|r| r.created))
            .bind(n(|r| r.modified))
            .bind(t(|r| r.errors.clone()))
            .bind(rows.iter().map(|r| r.connection_info.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        for up in &b.updates {
            let info = up
                .connection_info
                .as_ref()
                .map(|m| serde_json::to_string(m).unwrap_or_default());
            let n = sqlx::query(
                "UPDATE connections SET status = 'Linked', modified = $4, connection_info = COALESCE($5, connection_info), \
                 refresh_failing_since = NULL, credentials_expire_at = NULL, refresh_revoked = FALSE \
                 WHERE id = $1 AND client_id = $2 AND company_id = $3",
            )
            .bind(up.credentials.connection_id.to_string())
            .bind(up.credentials.client_id.to_string())
            .bind(up.credentials.company_id.to_string())
            .bind(b.at.as_millis())
            .bind(info)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if n == 0 {
                return Err(Error::Conflict(format!(
                    "connection {} was deleted while it was being migrated; run the import again",
                    up.credentials.connection_id
                )));
            }
        }
        let creds: Vec<CredentialsRow> = b
            .credentials
            .iter()
            .chain(b.updates.iter().map(|u| &u.credentials))
            .map(CredentialsRow::from_domain)
            .collect();
        if !creds.is_empty() {
            let t = |f: fn(&CredentialsRow) -> String| creds.iter().map(f).collect::<Vec<String>>();
            let o = |f: fn(&CredentialsRow) -> Option<i64>| {
                creds.iter().map(f).collect::<Vec<Option<i64>>>()
            };
            sqlx::query(
                "INSERT INTO credentials (client_id, company_id, connection_id, auth_type, key_id, sealed, token_type, \
                 scopes, expires_at, issued_at, needs_refresh, version, updated) \
                 SELECT u.a, u.b, u.c, u.d, u.e, u.f, u.g, u.h, u.i, u.j, u.k, 1, u.l FROM unnest($1::text[], $2::text[], \
                 $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], \
                 $11::bool[], $12::bigint[]) AS u(a, b, c, d, e, f, g, h, i, j, k, l) \
                 ON CONFLICT (connection_id) DO UPDATE SET auth_type = excluded.auth_type, key_id = excluded.key_id, \
                 sealed = excluded.sealed, token_type = excluded.token_type, scopes = excluded.scopes, \
                 expires_at = excluded.expires_at, issued_at = excluded.issued_at, \
                 needs_refresh = excluded.needs_refresh, version = credentials.version + 1, updated = excluded.updated",
            )
            .bind(t(|r| r.client_id.clone()))
            .bind(t(|r| r.company_id.clone()))
            .bind(t(|r| r.connection_id.clone()))
            .bind(t(|r| r.auth_type.clone()))
            .bind(t(|r| r.key_id.clone()))
            .bind(creds.iter().map(|r| r.sealed.clone()).collect::<Vec<Vec<u8>>>())
            .bind(creds.iter().map(|r| r.token_type.clone()).collect::<Vec<_>>())
            .bind(t(|r| r.scopes.clone()))
            .bind(o(|r| r.expires_at))
            .bind(o(|r| r.issued_at))
            .bind(creds.iter().map(|r| r.needs_refresh).collect::<Vec<bool>>())
            .bind(creds.iter().map(|r| r.updated).collect::<Vec<i64>>())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if !b.rows.is_empty() {
            let r = &b.rows;
            sqlx::query(
                "INSERT INTO migration_rows (run_id, row_no, company_id, connection_id, company_created, outcome, error) \
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[])",
            )
            .bind(b.run.to_string())
            .bind(r.iter().map(|x| i(x.row)).collect::<Vec<i64>>())
            .bind(r.iter().map(|x| x.company_id.map(|c| c.to_string())).collect::<Vec<_>>())
            .bind(r.iter().map(|x| x.connection_id.map(|c| c.to_string())).collect::<Vec<_>>())
            .bind(r.iter().map(|x| x.company_created).collect::<Vec<bool>>())
            .bind(r.iter().map(|x| x.outcome.clone()).collect::<Vec<String>>())
            .bind(r.iter().map(|x| x.error.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        insert_audit_on(
            &mut *tx,
            &finlink_store::rows::AuditRow::from_domain(&b.audit),
        )
        .await?;
        let effects = finlink_store::Effects {
            jobs: b.jobs.clone(),
            ..finlink_store::Effects::none()
        };
        self.write_effects(&mut tx, &effects).await?;
        self.commit_with(tx, &effects).await?;
        Ok(true)
    }

    pub(crate) async fn mig_set_status(
        &self,
        id: uuid::Uuid,
        st: &str,
        detail: Option<&str>,
        at: Timestamp,
        effects: &finlink_store::Effects,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let completed = (st == status::COMPLETED).then_some(at.as_millis());
        let n = sqlx::query(
            "UPDATE migration_runs SET status = $2, detail = $3, updated = $4, completed = COALESCE($5, completed) \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(st)
        .bind(detail)
        .bind(at.as_millis())
        .bind(completed)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        self.write_effects(&mut tx, effects).await?;
        self.commit_with(tx, effects).await?;
        Ok(true)
    }

    pub(crate) async fn mig_list_rows(
        &self,
        run: uuid::Uuid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<MigrationRowRecord>> {
        let rows = sqlx::query(
            "SELECT row_no, company_id, connection_id, company_created, outcome, error FROM migration_rows \
             WHERE run_id = $1 AND row_no > $2 ORDER BY row_no LIMIT $3",
        )
        .bind(run.to_string())
        .bind(i(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let co: Option<String> = get(r, 1)?;
                let conn: Option<String> = get(r, 2)?;
                Ok(MigrationRowRecord {
                    row: u(get(r, 0)?),
                    company_id: co.as_deref().map(CompanyId::parse).transpose()?,
                    connection_id: conn.as_deref().map(ConnectionId::parse).transpose()?,
                    company_created: get(r, 3)?,
                    outcome: get(r, 4)?,
                    error: get(r, 5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn mig_rollback(&self, id: uuid::Uuid, at: Timestamp) -> Result<u64> {
        let Some(run) = self.mig_get_run(id).await? else {
            return Ok(0);
        };
        let id = id.to_string();
        let client = run.client_id.to_string();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let deleted = sqlx::query(
            "DELETE FROM connections WHERE client_id = $2 AND id IN \
             (SELECT connection_id FROM migration_rows WHERE run_id = $1 AND outcome = 'created')",
        )
        .bind(&id)
        .bind(&client)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let companies = sqlx::query(
            "DELETE FROM companies WHERE client_id = $2 AND id IN \
             (SELECT company_id FROM migration_rows WHERE run_id = $1 AND company_created) \
             AND NOT EXISTS (SELECT 1 FROM connections dc WHERE dc.company_id = companies.id)",
        )
        .bind(&id)
        .bind(&client)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        sqlx::query(super::COUNT_ADD)
            .bind(-i(companies))
            .bind(&client)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "DELETE FROM jobs WHERE kind = 'refresh' AND state = 'queued' AND concurrency_key IN \
             (SELECT 'refresh:' || connection_id FROM migration_rows WHERE run_id = $1 AND outcome = 'created')",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM migration_rows WHERE run_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "UPDATE migration_runs SET status = $2, watermark = 0, created_count = 0, updated_count = 0, \
             unchanged_count = 0, duplicate_count = 0, invalid_count = 0, failed_count = 0, companies_created = 0, \
             updated = $3 WHERE id = $1",
        )
        .bind(&id)
        .bind(status::ROLLED_BACK)
        .bind(at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(deleted)
    }
}
