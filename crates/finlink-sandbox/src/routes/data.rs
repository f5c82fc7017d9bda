//! The data API: the accounting platform's data types under `/api/*` (Bearer access token of a
//! grant, the organisation named by `X-Tenant-Id`) and the Commerce Sandbox's under
//! `/commerce/api/*` (a store's API key). Each list type serves pages at its path and one record
//! at `{path}/{id}`; company info and the shop are single records.
//!
//! A request is counted, its query checked (`400 invalid_request`), then matched against the
//! injected data failures (before authentication, like the token endpoint's), then
//! authenticated (`401 invalid_token` / `invalid_api_key`), and finally answered from the
//! database (profile, touches) and the generators, on tokio's blocking pool: the database lock
//! is released before the page is rendered.

use std::sync::{Arc, PoisonError};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use finlink_domain::Timestamp;

use super::commerce::{api_key, invalid_api_key};
use super::resource::{bearer, invalid_token};
use super::{Params, internal, oauth_error};
use crate::control::bump;
use crate::data::DataType;
use crate::data::page::{PageQuery, Plan, View};
use crate::data::store::{self as data_store, Owner};
use crate::{
    DataFailure, DataFailureKind, Inner, MAX_PAGE_SIZE, Sandbox, commerce, generator, grants,
};

/// Accounting lists default to 100 records a page, shop lists to 50.
const ACCOUNTING_PAGE_SIZE: u64 = 100;
const SHOP_PAGE_SIZE: u64 = 50;
/// `Retry-After` of an injected 429 / 503 without its own.
const RATE_LIMIT_RETRY_AFTER_SECS: u32 = 1;
const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 5;

const TENANT: HeaderName = HeaderName::from_static(crate::paths::TENANT_HEADER);

/// Adds every data type's routes.
pub(crate) fn routes(mut router: Router<Sandbox>) -> Router<Sandbox> {
    for t in DataType::ALL {
        router = router.route(
            t.path(),
            get(
                move |State(sandbox): State<Sandbox>,
                      RawQuery(query): RawQuery,
                      headers: HeaderMap| async move {
                    serve(sandbox, t, None, query, headers).await
                },
            ),
        );
        if !t.is_single() {
            router = router.route(
                &format!("{}/{{id}}", t.path()),
                get(
                    move |State(sandbox): State<Sandbox>,
                          Path(id): Path<String>,
                          RawQuery(query): RawQuery,
                          headers: HeaderMap| async move {
                        serve(sandbox, t, Some(id), query, headers).await
                    },
                ),
            );
        }
    }
    router
}

/// A checked data request.
#[derive(Clone, Debug)]
struct DataQuery {
    page: PageQuery,
    /// Bank transactions of one bank account (its id).
    bank_account: Option<String>,
}

fn positive(params: &Params, name: &str, default: u64, max: u64) -> Result<u64, String> {
    match params.get(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<u64>() {
            Ok(v) if (1..=max).contains(&v) => Ok(v),
            _ => Err(format!(
                "{name} must be a whole number from 1 to {max} (got \"{raw}\")."
            )),
        },
    }
}

fn instant(name: &str, raw: &str) -> Result<i64, String> {
    Timestamp::parse(raw)
        .map(Timestamp::as_millis)
        .ok_or_else(|| {
            format!(
                "{name} must be an RFC 3339 date-time such as 2024-05-01T00:00:00Z (got \"{raw}\")."
            )
        })
}

fn parse_query(t: DataType, raw: Option<&str>, headers: &HeaderMap) -> Result<DataQuery, String> {
    let params = Params::parse(raw.unwrap_or("").as_bytes());
    if let Some(name) = params.first_repeated() {
        return Err(format!("{name} is given more than once."));
    }
    let (size_name, since_name, default_size) = if t.is_commerce() {
        ("limit", "updated_at_min", SHOP_PAGE_SIZE)
    } else {
        ("pageSize", "modifiedSince", ACCOUNTING_PAGE_SIZE)
    };
    let page = positive(&params, "page", 1, u64::from(u32::MAX))?;
    let size = positive(&params, size_name, default_size, MAX_PAGE_SIZE)?;
    let since = match params.get(since_name) {
        Some(raw) => Some(instant(since_name, raw)?),
        None if !t.is_commerce() => match headers.get(header::IF_MODIFIED_SINCE) {
            None => None,
            Some(v) => {
                let raw = v.to_str().unwrap_or("");
                Some(instant("If-Modified-Since", raw)?)
            }
        },
        None => None,
    };
    let bank_account = (t == DataType::BankTransactions)
        .then(|| params.get("bankAccountId").map(str::to_owned))
        .flatten();
    Ok(DataQuery {
        page: PageQuery { page, size, since },
        bank_account,
    })
}

/// Why a data request is refused after its query was checked.
enum Refusal {
    Unauthorized,
    /// The grant does not reach the organisation asked for.
    Forbidden(String),
    /// Several organisations and no `X-Tenant-Id`.
    TenantRequired(usize),
    NotFound(String),
    Internal(String),
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<serde_json::Error> for Refusal {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(format!("cannot render records: {e}"))
    }
}

fn with_retry_after(mut resp: Response, secs: u32) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

fn unauthorized(shop: bool, description: &str) -> Response {
    if shop {
        invalid_api_key(description)
    } else {
        invalid_token(description)
    }
}

fn injected(f: DataFailure, shop: bool) -> Response {
    match f.kind {
        DataFailureKind::RateLimited => with_retry_after(
            oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Injected failure: too many requests, retry after the Retry-After delay.",
            ),
            f.retry_after.unwrap_or(RATE_LIMIT_RETRY_AFTER_SECS),
        ),
        DataFailureKind::ServerError => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Injected failure: the sandbox data API failed.",
        ),
        DataFailureKind::TemporarilyUnavailable => with_retry_after(
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Injected failure: the sandbox data API is temporarily unavailable.",
            ),
            f.retry_after.unwrap_or(UNAVAILABLE_RETRY_AFTER_SECS),
        ),
        DataFailureKind::InvalidToken => unauthorized(
            shop,
            if shop {
                "Injected failure: the API key was rejected."
            } else {
                "Injected failure: the access token is invalid (as if revoked)."
            },
        ),
    }
}

fn json(body: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn serve(
    sandbox: Sandbox,
    t: DataType,
    id: Option<String>,
    raw_query: Option<String>,
    headers: HeaderMap,
) -> Response {
    let shop = t.is_commerce();
    let counters = &sandbox.inner.counters;
    counters.data_request(t);
    if shop {
        bump(&counters.commerce_requests);
    }
    let query = match parse_query(t, raw_query.as_deref(), &headers) {
        Ok(q) => q,
        Err(m) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &m),
    };
    let fault_page = match (&id, t.is_single()) {
        (Some(_), _) => None,
        (None, true) => Some(1),
        (None, false) => Some(query.page.page),
    };
    if let Some(f) = sandbox.inner.data_faults.take(t, fault_page) {
        bump(&counters.data_failures_injected);
        return injected(f, shop);
    }
    let credential = if shop {
        api_key(&headers)
    } else {
        bearer(&headers)
    };
    let Some(credential) = credential else {
        return unauthorized(
            shop,
            if shop {
                "Send the store's API key as Authorization: Bearer <apiKey> or X-Api-Key: <apiKey>."
            } else {
                "Send the access token as Authorization: Bearer <token>."
            },
        );
    };
    let tenant = headers
        .get(TENANT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let now = sandbox.now();
    let inner = Arc::clone(&sandbox.inner);
    let answered = tokio::task::spawn_blocking(move || {
        answer(
            &inner,
            now,
            t,
            id.as_deref(),
            &query,
            &credential,
            tenant.as_deref(),
        )
    })
    .await;
    match answered {
        Err(e) => internal(&format!("data task failed: {e}")),
        Ok(Ok((body, records))) => {
            counters.records_served(records);
            json(body)
        }
        Ok(Err(Refusal::Unauthorized)) => unauthorized(
            shop,
            if shop {
                "The API key is unknown."
            } else {
                "The access token is unknown, expired or revoked."
            },
        ),
        Ok(Err(Refusal::Forbidden(tenant))) => oauth_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("The access token does not reach organisation \"{tenant}\"."),
        ),
        Ok(Err(Refusal::TenantRequired(n))) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "This grant reaches {n} organisations: name one with the X-Tenant-Id header (see the identity endpoint)."
            ),
        ),
        Ok(Err(Refusal::NotFound(m))) => oauth_error(StatusCode::NOT_FOUND, "not_found", &m),
        Ok(Err(Refusal::Internal(m))) => internal(&m),
    }
}

/// Authenticates, plans and renders: `(body, records in it)`.
fn answer(
    inner: &Inner,
    now: Timestamp,
    t: DataType,
    id: Option<&str>,
    query: &DataQuery,
    credential: &str,
    tenant: Option<&str>,
) -> Result<(Vec<u8>, usize), Refusal> {
    let conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
    let owner = if t.is_commerce() {
        let store = commerce::store_by_api_key(&conn, credential)?.ok_or(Refusal::Unauthorized)?;
        Owner::Store {
            store_id: store.store_id,
            name: store.store_name,
        }
    } else {
        let orgs = grants::access_token_organisations(&conn, now, credential)?
            .filter(|o| !o.is_empty())
            .ok_or(Refusal::Unauthorized)?;
        let count = orgs.len();
        let org = match tenant {
            Some(tenant) => orgs
                .into_iter()
                .find(|o| o.tenant_id == tenant)
                .ok_or_else(|| Refusal::Forbidden(tenant.to_owned()))?,
            None if count == 1 => orgs.into_iter().next().ok_or(Refusal::Unauthorized)?,
            None => return Err(Refusal::TenantRequired(count)),
        };
        Owner::Organisation {
            tenant_id: org.tenant_id,
            name: org.company_name,
        }
    };
    let profile = data_store::profile(&conn, owner.id())?;
    let generator = generator(&owner, &profile);
    let n = generator.count(t);
    let not_found =
        |what: &str, id: &str| Refusal::NotFound(format!("No {what} has the id \"{id}\"."));
    enum Work {
        Single(u64, Option<data_store::Touch>),
        List(Plan),
    }
    let work = if t.is_single() {
        Work::Single(0, None)
    } else if let Some(id) = id {
        let i = generator
            .index_of(t, id)
            .ok_or_else(|| not_found(t.as_str(), id))?;
        Work::Single(i, data_store::touch_of(&conn, owner.id(), t, i)?)
    } else {
        let view = match &query.bank_account {
            None => View::all(n),
            Some(account) => {
                let a = generator
                    .index_of(DataType::BankAccounts, account)
                    .ok_or_else(|| not_found("bank account", account))?;
                View::every(a, generator.count(DataType::BankAccounts), n)
            }
        };
        Work::List(crate::data::page::plan(
            &conn,
            owner.id(),
            t,
            n,
            view,
            &query.page,
        )?)
    };
    drop(conn);
    Ok(match work {
        Work::Single(i, touch) => (generator.single(t, i, touch)?, 1),
        Work::List(plan) => (generator.list(t, &query.page, &plan)?, plan.items.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let h = HeaderMap::new();
        let q = parse_query(DataType::Invoices, None, &h).unwrap();
        assert_eq!(
            q.page,
            PageQuery {
                page: 1,
                size: 100,
                since: None
            }
        );
        let q = parse_query(
            DataType::Invoices,
            Some("page=3&pageSize=1000&modifiedSince=2024-01-01T00:00:00Z&limit=5"),
            &h,
        )
        .unwrap();
        assert_eq!(q.page.page, 3);
        assert_eq!(q.page.size, 1000);
        assert_eq!(q.page.since, Some(1_704_067_200_000));
        let q = parse_query(
            DataType::CommerceOrders,
            Some("limit=7&updated_at_min=2024-01-01"),
            &h,
        )
        .unwrap();
        assert_eq!(
            q.page,
            PageQuery {
                page: 1,
                size: 7,
                since: Some(1_704_067_200_000)
            }
        );
        assert_eq!(
            parse_query(DataType::CommerceOrders, None, &h)
                .unwrap()
                .page
                .size,
            50
        );
        for bad in [
            "page=0",
            "pageSize=1001",
            "pageSize=x",
            "modifiedSince=yesterday",
            "page=1&page=2",
        ] {
            assert!(
                parse_query(DataType::Invoices, Some(bad), &h).is_err(),
                "{bad}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("2024-01-01T00:00:00"),
        );
        assert_eq!(
            parse_query(DataType::Bills, None, &h).unwrap().page.since,
            Some(1_704_067_200_000)
        );
        let q = parse_query(DataType::Bills, Some("modifiedSince=2024-01-02"), &h).unwrap();
        assert_eq!(q.page.since, Some(1_704_153_600_000), "the query wins");
        let q = parse_query(DataType::BankTransactions, Some("bankAccountId=abc"), &h).unwrap();
        assert_eq!(q.bank_account.as_deref(), Some("abc"));
        assert!(
            parse_query(DataType::Bills, Some("bankAccountId=abc"), &h)
                .unwrap()
                .bank_account
                .is_none()
        );
    }
}
