//! The authorization server's rules, independent of HTTP: consent requests, authorization codes,
//! grants and their organisations, token issue, rotation, reuse detection and revocation.
//!
//! Every function runs synchronously on one connection (callers put it on tokio's blocking
//! pool) and every write happens inside `BEGIN IMMEDIATE`, so two processes sharing the file
//! (`finlink serve` and `finlink sandbox mint`) see one consistent history: of two concurrent
//! uses of one refresh token, exactly one rotates it and the other is a reuse.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use finlink_domain::Timestamp;

use crate::config::SandboxConfig;
use crate::control::{Counters, bump};
use crate::secret::{
    ACCESS_TOKEN_PREFIX, CODE_PREFIX, REFRESH_TOKEN_PREFIX, REQUEST_PREFIX, digest, random_token,
    s256_challenge, secrets_equal,
};

/// How long a consent page may stay open before its answer is refused.
pub(crate) const REQUEST_TTL_SECS: i64 = 600;
/// How long an authorization code may wait to be exchanged.
pub(crate) const CODE_TTL_SECS: i64 = 60;
/// Expired access tokens and used codes are pruned this long after they expire.
const RETENTION_SECS: i64 = 86_400;

/// The scopes the sandbox knows, with what they mean to the user on the consent page.
pub(crate) const SCOPES: &[(&str, &str)] = &[
    (
        "accounting.read",
        "Read your company's accounting data: accounts, contacts, invoices, bills and bank transactions.",
    ),
    (
        "accounting.write",
        "Create and change accounting data in your company.",
    ),
    (
        "offline_access",
        "Keep access when you are not using the application (a refresh token).",
    ),
    ("openid", "Confirm who you are."),
    ("profile", "See your name."),
    ("email", "See your email address."),
];

/// The scope of a grant whose request named none, and of every minted grant.
pub(crate) const DEFAULT_SCOPE: &str = "accounting.read offline_access";

/// Splits and checks a requested scope: known scope tokens only, duplicates dropped, order kept.
/// An absent or empty scope is [`DEFAULT_SCOPE`] (RFC 6749 3.3 allows a default).
pub(crate) fn normalise_scope(raw: Option<&str>) -> Result<String, String> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty());
    let Some(raw) = raw else {
        return Ok(DEFAULT_SCOPE.to_owned());
    };
    let mut out: Vec<&str> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.iter().any(|(known, _)| *known == s) {
            let known: Vec<&str> = SCOPES.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "Unknown scope \"{s}\". The sandbox knows: {}.",
                known.join(", ")
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out.join(" "))
}

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// Checks a company name typed on the consent page or given to `mint`.
pub(crate) fn company_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a company name.".to_owned());
    }
    if name.chars().count() > 100 {
        return Err("A company name is at most 100 characters long.".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("A company name cannot contain control characters.".to_owned());
    }
    Ok(name.to_owned())
}

/// What a consent page binds: kept server-side, referred to by a random request id.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: String,
}

/// One organisation (tenant) a grant reaches.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Organisation {
    pub tenant_id: String,
    pub company_name: String,
}

/// Tokens just issued.
#[derive(Debug)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// RFC 6749 5.2 error codes the rules produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    InvalidGrant,
    InvalidScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
        }
    }
}

/// Why a token request was refused.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub code: ErrorCode,
    pub description: String,
}

fn invalid_grant(description: impl Into<String>) -> Rejection {
    Rejection {
        code: ErrorCode::InvalidGrant,
        description: description.into(),
    }
}

fn invalid_scope(description: impl Into<String>) -> Rejection {
    Rejection {
        code: ErrorCode::InvalidScope,
        description: description.into(),
    }
}

/// Everything a rule needs besides the connection.
pub(crate) struct Ctx<'a> {
    pub now: Timestamp,
    pub config: &'a SandboxConfig,
    pub counters: &'a Counters,
}

fn immediate(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn ms(t: Timestamp) -> i64 {
    t.as_millis()
}

/// The number in the default company name ("Sandbox Company <n>"): one more than the grants so far.
pub(crate) fn next_company_number(conn: &Connection) -> rusqlite::Result<i64> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM grants", [], |r| r.get(0))?;
    Ok(n.saturating_add(1))
}

pub(crate) fn default_company_name(n: i64) -> String {
    format!("Sandbox Company {n}")
}

/// Records a consent page about to be shown; returns its request id (the only thing the form carries).
pub(crate) fn create_request(
    conn: &mut Connection,
    now: Timestamp,
    req: &AuthRequest,
) -> rusqlite::Result<String> {
    let tx = immediate(conn)?;
    tx.execute(
        "DELETE FROM authorization_requests WHERE expires_at < ?1",
        params![ms(now)],
    )?;
    tx.execute(
        "DELETE FROM authorization_codes WHERE expires_at < ?1",
        params![ms(now.plus_seconds(-RETENTION_SECS))],
    )?;
    let id = random_token(REQUEST_PREFIX);
    tx.execute(
        "INSERT INTO authorization_requests
            (id_hash, client_id, redirect_uri, scope, state, code_challenge, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            digest(&id),
            req.client_id,
            req.redirect_uri,
            req.scope,
            req.state,
            req.code_challenge,
            ms(now.plus_seconds(REQUEST_TTL_SECS)),
        ],
    )?;
    tx.commit()?;
    Ok(id)
}

fn read_request(conn: &Connection, id_hash: &[u8]) -> rusqlite::Result<Option<AuthRequest>> {
    conn.query_row(
        "SELECT client_id, redirect_uri, scope, state, code_challenge
         FROM authorization_requests WHERE id_hash = ?1",
        params![id_hash],
        |r| {
            Ok(AuthRequest {
                client_id: r.get(0)?,
                redirect_uri: r.get(1)?,
                scope: r.get(2)?,
                state: r.get(3)?,
                code_challenge: r.get(4)?,
            })
        },
    )
    .optional()
}

/// A consent request that can still be answered.
pub(crate) fn pending_request(
    conn: &Connection,
    now: Timestamp,
    request_id: &str,
) -> rusqlite::Result<Option<AuthRequest>> {
    let live: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM authorization_requests
             WHERE id_hash = ?1 AND answered_at IS NULL AND expires_at > ?2",
            params![digest(request_id), ms(now)],
            |r| r.get(0),
        )
        .optional()?;
    match live {
        Some(_) => read_request(conn, &digest(request_id)),
        None => Ok(None),
    }
}

/// Answers a consent request once: `Some(name)` approves it for a company of that name and
/// issues an authorization code, `None` denies it. `None` back: unknown, expired or answered.
pub(crate) fn answer_request(
    conn: &mut Connection,
    now: Timestamp,
    request_id: &str,
    approve_as: Option<&str>,
) -> rusqlite::Result<Option<(AuthRequest, Option<String>)>> {
    let tx = immediate(conn)?;
    let id_hash = digest(request_id);
    let claimed = tx.execute(
        "UPDATE authorization_requests SET answered_at = ?1
         WHERE id_hash = ?2 AND answered_at IS NULL AND expires_at > ?1",
        params![ms(now), id_hash],
    )?;
    if claimed == 0 {
        return Ok(None);
    }
    let Some(req) = read_request(&tx, &id_hash)? else {
        return Ok(None);
    };
    let code = match approve_as {
        None => None,
        Some(name) => {
            let code = random_token(CODE_PREFIX);
            tx.execute(
                "INSERT INTO authorization_codes
                    (code_hash, client_id, redirect_uri, scope, code_challenge, company_name, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    digest(&code),
                    req.client_id,
                    req.redirect_uri,
                    req.scope,
                    req.code_challenge,
                    name,
                    ms(now.plus_seconds(CODE_TTL_SECS)),
                ],
            )?;
            Some(code)
        }
    };
    tx.commit()?;
    Ok(Some((req, code)))
}

fn create_grant(
    tx: &Transaction<'_>,
    ctx: &Ctx<'_>,
    client_id: &str,
    scope: &str,
    company_name: &str,
) -> rusqlite::Result<(String, Vec<Organisation>)> {
    let grant_id = uuid::Uuid::new_v4().to_string();
    tx.execute(
        "INSERT INTO grants (id, client_id, scope, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![grant_id, client_id, scope, ms(ctx.now)],
    )?;
    let mut orgs = Vec::new();
    for position in 0..ctx.config.organisations_per_grant {
        let org = Organisation {
            tenant_id: uuid::Uuid::new_v4().to_string(),
            company_name: if position == 0 {
                company_name.to_owned()
            } else {
                format!("{company_name} ({})", position + 1)
            },
        };
        tx.execute(
            "INSERT INTO organisations (tenant_id, grant_id, position, company_name)
             VALUES (?1, ?2, ?3, ?4)",
            params![org.tenant_id, grant_id, position, org.company_name],
        )?;
        orgs.push(org);
    }
    Ok((grant_id, orgs))
}

fn issue_tokens(
    tx: &Transaction<'_>,
    ctx: &Ctx<'_>,
    grant_id: &str,
    scope: &str,
    with_refresh_token: bool,
) -> rusqlite::Result<Issued> {
    tx.execute(
        "DELETE FROM access_tokens WHERE expires_at < ?1",
        params![ms(ctx.now.plus_seconds(-RETENTION_SECS))],
    )?;
    let ttl = ctx.config.access_token_ttl_secs;
    let expires_at = ctx.now.plus_seconds(ttl);
    let access_token = random_token(ACCESS_TOKEN_PREFIX);
    tx.execute(
        "INSERT INTO access_tokens (token_hash, grant_id, scope, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            digest(&access_token),
            grant_id,
            scope,
            ms(ctx.now),
            ms(expires_at)
        ],
    )?;
    let refresh_token = if with_refresh_token {
        let token = random_token(REFRESH_TOKEN_PREFIX);
        tx.execute(
            "INSERT INTO refresh_tokens (token_hash, grant_id, issued_at) VALUES (?1, ?2, ?3)",
            params![digest(&token), grant_id, ms(ctx.now)],
        )?;
        Some(token)
    } else {
        None
    };
    Ok(Issued {
        access_token,
        refresh_token,
        expires_in: ttl,
        scope: scope.to_owned(),
        issued_at: ctx.now,
        expires_at,
    })
}

/// Revokes a grant (all its tokens die with it). True if it was live until now.
fn revoke_grant(
    tx: &Transaction<'_>,
    now: Timestamp,
    grant_id: &str,
    reason: &str,
) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE grants SET revoked_at = ?1, revoked_reason = ?2 WHERE id = ?3 AND revoked_at IS NULL",
        params![ms(now), reason, grant_id],
    )?;
    Ok(n > 0)
}

struct CodeRow {
    client_id: String,
    redirect_uri: String,
    scope: String,
    code_challenge: String,
    company_name: String,
    expires_at: i64,
    used_at: Option<i64>,
    grant_id: Option<String>,
}

/// `grant_type=authorization_code`. Any redemption attempt of a known code consumes it; a
/// second attempt revokes the grant issued from it (RFC 6749 4.1.2).
pub(crate) fn exchange_code(
    conn: &mut Connection,
    ctx: &Ctx<'_>,
    client_id: &str,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> rusqlite::Result<Result<Issued, Rejection>> {
    let tx = immediate(conn)?;
    let code_hash = digest(code);
    let row = tx
        .query_row(
            "SELECT client_id, redirect_uri, scope, code_challenge, company_name, expires_at,
                    used_at, grant_id
             FROM authorization_codes WHERE code_hash = ?1",
            params![code_hash],
            |r| {
                Ok(CodeRow {
                    client_id: r.get(0)?,
                    redirect_uri: r.get(1)?,
                    scope: r.get(2)?,
                    code_challenge: r.get(3)?,
                    company_name: r.get(4)?,
                    expires_at: r.get(5)?,
                    used_at: r.get(6)?,
                    grant_id: r.get(7)?,
                })
            },
        )
        .optional()?;
    let Some(row) = row else {
        return Ok(Err(invalid_grant("The authorization code is unknown.")));
    };
    if row.used_at.is_some() {
        let mut revoked = false;
        if let Some(grant_id) = &row.grant_id {
            revoked = revoke_grant(&tx, ctx.now, grant_id, "authorization code replayed")?;
        }
        tx.commit()?;
        if revoked {
            bump(&ctx.counters.grants_revoked);
        }
        return Ok(Err(invalid_grant(
            "The authorization code was already used (codes are single-use); any tokens issued from it are revoked.",
        )));
    }
    tx.execute(
        "UPDATE authorization_codes SET used_at = ?1 WHERE code_hash = ?2",
        params![ms(ctx.now), code_hash],
    )?;
    let outcome = if ms(ctx.now) >= row.expires_at {
        Err(invalid_grant(format!(
            "The authorization code expired (codes live {CODE_TTL_SECS} seconds)."
        )))
    } else if row.client_id != client_id {
        Err(invalid_grant(
            "The authorization code was issued to another client.",
        ))
    } else if row.redirect_uri != redirect_uri {
        Err(invalid_grant(
            "redirect_uri does not match the one sent to the authorization endpoint.",
        ))
    } else if !secrets_equal(&s256_challenge(code_verifier), &row.code_challenge) {
        Err(invalid_grant(
            "code_verifier does not match the code_challenge (PKCE S256).",
        ))
    } else {
        let (grant_id, _) = create_grant(&tx, ctx, client_id, &row.scope, &row.company_name)?;
        tx.execute(
            "UPDATE authorization_codes SET grant_id = ?1 WHERE code_hash = ?2",
            params![grant_id, code_hash],
        )?;
        let offline = has_scope(&row.scope, "offline_access");
        Ok(issue_tokens(&tx, ctx, &grant_id, &row.scope, offline)?)
    };
    tx.commit()?;
    Ok(outcome)
}

struct RefreshRow {
    grant_id: String,
    issued_at: i64,
    rotated_at: Option<i64>,
    client_id: String,
    scope: String,
    revoked: bool,
}

/// `grant_type=refresh_token`: rotation, the grace window, reuse detection, idle expiry.
pub(crate) fn refresh(
    conn: &mut Connection,
    ctx: &Ctx<'_>,
    client_id: &str,
    refresh_token: &str,
    requested_scope: Option<&str>,
) -> rusqlite::Result<Result<Issued, Rejection>> {
    let tx = immediate(conn)?;
    let row = tx
        .query_row(
            "SELECT r.grant_id, r.issued_at, r.rotated_at, g.client_id, g.scope,
                    g.revoked_at IS NOT NULL
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
             WHERE r.token_hash = ?1",
            params![digest(refresh_token)],
            |r| {
                Ok(RefreshRow {
                    grant_id: r.get(0)?,
                    issued_at: r.get(1)?,
                    rotated_at: r.get(2)?,
                    client_id: r.get(3)?,
                    scope: r.get(4)?,
                    revoked: r.get(5)?,
                })
            },
        )
        .optional()?;
    let Some(row) = row else {
        return Ok(Err(invalid_grant("The refresh token is unknown.")));
    };
    if row.client_id != client_id {
        return Ok(Err(invalid_grant(
            "The refresh token was issued to another client.",
        )));
    }
    if row.revoked {
        return Ok(Err(invalid_grant(
            "The grant behind this refresh token has been revoked; the user must authorize again.",
        )));
    }
    let grace = ctx.config.refresh_token_grace_secs;
    if let Some(rotated_at) = row.rotated_at {
        let grace_ends = Timestamp::from_millis(rotated_at).plus_seconds(grace);
        if ctx.now >= grace_ends {
            let revoked = revoke_grant(&tx, ctx.now, &row.grant_id, "refresh token reused")?;
            tx.commit()?;
            if revoked {
                bump(&ctx.counters.grants_revoked);
            }
            return Ok(Err(invalid_grant(
                "The refresh token was already used (refresh tokens rotate on every use). As a precaution the whole grant is revoked; the user must authorize again.",
            )));
        }
    } else if let Some(days) = ctx.config.refresh_token_idle_days {
        let idle_ends =
            Timestamp::from_millis(row.issued_at).plus_seconds(days.saturating_mul(86_400));
        if ctx.now >= idle_ends {
            return Ok(Err(invalid_grant(format!(
                "The refresh token expired: it was not used for {days} days."
            ))));
        }
    }
    let scope = match requested_scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => row.scope.clone(),
        Some(raw) => match normalise_scope(Some(raw)) {
            Err(e) => return Ok(Err(invalid_scope(e))),
            Ok(s) if s.split(' ').all(|x| has_scope(&row.scope, x)) => s,
            Ok(_) => {
                return Ok(Err(invalid_scope(format!(
                    "A refresh can only keep or narrow the granted scope \"{}\".",
                    row.scope
                ))));
            }
        },
    };
    tx.execute(
        "UPDATE refresh_tokens SET rotated_at = ?1 WHERE grant_id = ?2 AND rotated_at IS NULL",
        params![ms(ctx.now), row.grant_id],
    )?;
    let issued = issue_tokens(&tx, ctx, &row.grant_id, &scope, true)?;
    tx.commit()?;
    Ok(Ok(issued))
}

/// RFC 7009. A refresh token (live or rotated away) revokes its grant; an access token only
/// itself. Unknown tokens and tokens of another client are ignored.
pub(crate) fn revoke(
    conn: &mut Connection,
    ctx: &Ctx<'_>,
    client_id: &str,
    token: &str,
    access_token_first: bool,
) -> rusqlite::Result<()> {
    let tx = immediate(conn)?;
    let hash = digest(token);
    let refresh_grant = |tx: &Transaction<'_>| -> rusqlite::Result<Option<String>> {
        tx.query_row(
            "SELECT r.grant_id FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
             WHERE r.token_hash = ?1 AND g.client_id = ?2",
            params![hash, client_id],
            |r| r.get(0),
        )
        .optional()
    };
    let revoke_access = |tx: &Transaction<'_>| -> rusqlite::Result<usize> {
        tx.execute(
            "UPDATE access_tokens SET revoked_at = ?1
             WHERE token_hash = ?2 AND revoked_at IS NULL
               AND grant_id IN (SELECT id FROM grants WHERE client_id = ?3)",
            params![ms(ctx.now), hash, client_id],
        )
    };
    let mut revoked_grant = false;
    if access_token_first && revoke_access(&tx)? > 0 {
        // done
    } else if let Some(grant_id) = refresh_grant(&tx)? {
        revoked_grant = revoke_grant(&tx, ctx.now, &grant_id, "revoked by the client")?;
    } else if !access_token_first {
        revoke_access(&tx)?;
    }
    tx.commit()?;
    if revoked_grant {
        bump(&ctx.counters.grants_revoked);
    }
    Ok(())
}

/// The organisations an access token reaches, if it is live (issued, not expired, not revoked,
/// its grant not revoked).
pub(crate) fn access_token_organisations(
    conn: &Connection,
    now: Timestamp,
    access_token: &str,
) -> rusqlite::Result<Option<Vec<Organisation>>> {
    let grant_id: Option<String> = conn
        .query_row(
            "SELECT a.grant_id FROM access_tokens a JOIN grants g ON g.id = a.grant_id
             WHERE a.token_hash = ?1 AND a.revoked_at IS NULL AND a.expires_at > ?2
               AND g.revoked_at IS NULL",
            params![digest(access_token), ms(now)],
            |r| r.get(0),
        )
        .optional()?;
    let Some(grant_id) = grant_id else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT tenant_id, company_name FROM organisations WHERE grant_id = ?1 ORDER BY position",
    )?;
    let orgs = stmt
        .query_map(params![grant_id], |r| {
            Ok(Organisation {
                tenant_id: r.get(0)?,
                company_name: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(orgs))
}

/// A grant as an existing integration would hold it: created now for `client_id`, with
/// [`DEFAULT_SCOPE`], an access token and a refresh token.
pub(crate) fn mint(
    conn: &mut Connection,
    ctx: &Ctx<'_>,
    client_id: &str,
    company_name: &str,
) -> rusqlite::Result<(Issued, Vec<Organisation>)> {
    let tx = immediate(conn)?;
    let (grant_id, orgs) = create_grant(&tx, ctx, client_id, DEFAULT_SCOPE, company_name)?;
    let issued = issue_tokens(&tx, ctx, &grant_id, DEFAULT_SCOPE, true)?;
    tx.commit()?;
    Ok((issued, orgs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_dedupe_and_reject_unknown() {
        assert_eq!(normalise_scope(None).unwrap(), DEFAULT_SCOPE);
        assert_eq!(normalise_scope(Some("  ")).unwrap(), DEFAULT_SCOPE);
        assert_eq!(
            normalise_scope(Some("offline_access accounting.read offline_access")).unwrap(),
            "offline_access accounting.read"
        );
        assert!(normalise_scope(Some("accounting.read admin")).is_err());
    }

    #[test]
    fn company_names() {
        assert_eq!(company_name("  Acme Ltd ").unwrap(), "Acme Ltd");
        assert!(company_name("   ").is_err());
        assert!(company_name(&"x".repeat(101)).is_err());
        assert!(company_name("a\nb").is_err());
    }
}
