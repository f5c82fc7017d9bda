//! Request extractors that answer in Codat's error shape: JSON bodies (an empty body
//! with `Content-Type: application/json` is no body, as the Codat SDK sends it),
//! paging and query parameters, and ids in paths.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use finlink_domain::Error;
use finlink_domain::paging::PageRequest;
use finlink_domain::query::{self, Expr, OrderBy};
use finlink_store::ListQuery;
use serde::de::DeserializeOwned;

use crate::BODY_LIMIT;
use crate::error::ApiError;

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::{BodyExt, Limited};
    match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError(Error::PayloadTooLarge(format!(
                "The request body is larger than {} kB, the most this API accepts.",
                BODY_LIMIT / 1024
            ))))
        }
        Err(e) => Err(ApiError(Error::bad_request(format!(
            "The request body could not be read: {e}"
        )))),
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = if inner.is_syntax() || inner.is_eof() {
            format!("The request body is not valid JSON: {inner}.")
        } else if path == "." || path.is_empty() {
            format!("The request body is not what this operation takes: {inner}.")
        } else {
            format!("The request body is not valid at '{path}': {inner}.")
        };
        ApiError(Error::invalid(
            if path.is_empty() { "body" } else { &path },
            "RequestBody",
            what,
        ))
    })
}

/// An optional JSON body: `None` when the body is empty (whatever the Content-Type).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req.into_body()).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        Ok(OptionalJson(Some(parse_json(&bytes)?)))
    }
}

/// A required JSON body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, s: &S) -> Result<Self, Self::Rejection> {
        match OptionalJson::<T>::from_request(req, s).await?.0 {
            Some(v) => Ok(JsonBody(v)),
            None => Err(ApiError(Error::invalid(
                "body",
                "RequestBody",
                "This operation needs a JSON request body; the body was empty.",
            ))),
        }
    }
}

/// The raw query-string parameters.
fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn int_param(name: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
            ApiError(Error::invalid(
                name,
                "Paging",
                format!("{name} must be a whole number; got '{s}'."),
            ))
        }),
    }
}

fn nonblank(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.trim().is_empty())
}

/// `page`, `pageSize`, `query`, `orderBy` and `tags`, parsed.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub page: PageRequest,
    pub query: Option<Expr>,
    pub order_by: Option<OrderBy>,
    pub tags: Option<Expr>,
    /// The raw parameters, to build `_links`.
    pub raw: Vec<(String, String)>,
}

impl ListParams {
    pub fn to_list_query(&self) -> ListQuery {
        ListQuery {
            page: self.page,
            filter: self.query.clone(),
            tags: self.tags.clone(),
            order: self.order_by.clone(),
            consumers_only: false,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = query_pairs(parts);
        let get = |k: &str| raw.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let page = PageRequest::new(
            int_param("page", get("page"))?,
            int_param("pageSize", get("pageSize"))?,
        )?;
        let query = nonblank(get("query")).map(query::parse).transpose()?;
        let tags = nonblank(get("tags")).map(query::parse).transpose()?;
        let order_by = nonblank(get("orderBy"))
            .map(query::parse_order_by)
            .transpose()?;
        Ok(ListParams {
            page,
            query,
            order_by,
            tags,
            raw,
        })
    }
}
