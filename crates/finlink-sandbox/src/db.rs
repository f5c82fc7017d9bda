//! The sandbox's own small SQLite file: grants, their organisations, commerce stores, data
//! profiles and touched records of the data API, and the SHA-256 digests of every code, access token, refresh token and API key (never the values
//! themselves). Shared between processes (`finlink serve` and `finlink sandbox mint`) through
//! WAL and `BEGIN IMMEDIATE`.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::SandboxError;

/// Schema versions, applied in order and recorded in `PRAGMA user_version`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
);

CREATE TABLE organisations (
    tenant_id    TEXT PRIMARY KEY,
    grant_id     TEXT NOT NULL REFERENCES grants(id),
    position     INTEGER NOT NULL,
    company_name TEXT NOT NULL,
    UNIQUE (grant_id, position)
);

-- A consent page that has been shown and not yet answered. The form carries only the random
-- request id; everything it binds (client, redirect URI, PKCE challenge, scope, state) stays here.
CREATE TABLE authorization_requests (
    id_hash        BLOB PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    state          TEXT,
    code_challenge TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    answered_at    INTEGER
);

CREATE TABLE authorization_codes (
    code_hash      BLOB PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    company_name   TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    grant_id       TEXT REFERENCES grants(id)
);

CREATE TABLE access_tokens (
    token_hash BLOB PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES grants(id),
    scope      TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

-- Every refresh token a grant ever had. The live one has rotated_at NULL; the others are kept
-- so that replaying one is recognised (and revokes the grant) however late it comes.
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES grants(id),
    issued_at  INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
"#,
    r#"
-- Commerce Sandbox stores (catalog key `aiwb`), reached with an API key. The key itself is never
-- stored: only its SHA-256 digest, which is how a request finds its store.
CREATE TABLE commerce_stores (
    api_key_hash BLOB PRIMARY KEY,
    store_id     TEXT NOT NULL UNIQUE,
    store_name   TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
"#,
    r#"
-- The data API's state. Records are generated, never stored: an owner (an organisation's
-- tenant id or a store id) has a profile (counts per data type, JSON) once one is set, and one
-- row per record touched since (simulated edits).
CREATE TABLE data_profiles (
    owner_id   TEXT PRIMARY KEY,
    profile    TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE data_touches (
    owner_id    TEXT NOT NULL,
    data_type   TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (owner_id, data_type, idx)
) WITHOUT ROWID;
"#,
];

pub(crate) fn open(path: Option<&Path>) -> Result<Connection, SandboxError> {
    let mut conn = match path {
        None => Connection::open_in_memory()?,
        Some(path) => {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|source| SandboxError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            let conn = Connection::open(path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn
        }
    };
    // Grants are the point of the file: a commit survives a crash or a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), SandboxError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(SandboxError::Config(format!(
            "the sandbox database is at schema version {current}, newer than this finlink ({known}); upgrade finlink or use another file."
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("sandbox.db");
        let conn = open(Some(&path)).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 3);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        let again = open(Some(&path)).unwrap();
        let n: i64 = again
            .query_row("SELECT COUNT(*) FROM grants", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn upgrades_a_version_1_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute(
                "INSERT INTO grants (id, client_id, scope, created_at) VALUES ('g', 'c', 's', 1)",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let conn = open(Some(&path)).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 3);
        let grants: i64 = conn
            .query_row("SELECT COUNT(*) FROM grants", [], |r| r.get(0))
            .unwrap();
        assert_eq!(grants, 1);
        let stores: i64 = conn
            .query_row("SELECT COUNT(*) FROM commerce_stores", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stores, 0);
        let touches: i64 = conn
            .query_row("SELECT COUNT(*) FROM data_touches", [], |r| r.get(0))
            .unwrap();
        assert_eq!(touches, 0);
    }
}
