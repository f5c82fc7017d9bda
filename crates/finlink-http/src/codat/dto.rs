//! Codat's wire shapes, converted from and to domain values at the edge.

use std::collections::BTreeMap;

use finlink_app::App;
use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionError};
use finlink_domain::paging::Page;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// Codat's `Company`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyDto {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The company's hosted Link journey.
    #[schema(format = "uri")]
    pub redirect: String,
    pub last_sync: Option<String>,
    pub created: String,
    pub created_by_user_name: Option<String>,
    pub products: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub owner_user_ids: Vec<String>,
    pub reference_parent_company: Option<CompanyReference>,
    pub reference_subsidiary_companies: Vec<CompanyReference>,
    pub data_connections: Vec<ConnectionDto>,
}

/// Codat's `CompanyReference`.
#[derive(Serialize, ToSchema)]
pub struct CompanyReference {
    pub id: String,
    pub name: String,
}

impl CompanyDto {
    pub fn from_domain(app: &App, c: Company) -> Self {
        let redirect = app.company_link_url(&c.id);
        let data_connections = c
            .connections
            .into_iter()
            .map(|x| ConnectionDto::from_domain(app, x))
            .collect();
        Self {
            id: c.id.to_string(),
            name: c.name,
            description: c.description,
            redirect,
            last_sync: c.last_sync.map(|t| t.to_rfc3339()),
            created: c.created.to_rfc3339(),
            created_by_user_name: c.created_by_user_name,
            products: c.products,
            tags: c.tags,
            owner_user_ids: Vec::new(),
            reference_parent_company: None,
            reference_subsidiary_companies: Vec::new(),
            data_connections,
        }
    }
}

/// Codat's `CompanyRequestBody` (create and replace).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyRequestBody {
    /// Forbidden characters are removed; a name that is empty afterwards is refused.
    #[schema(example = "Bank of Dave")]
    pub name: String,
    pub description: Option<String>,
    /// At most 10 tags; keys 1 to 27 characters, values up to 100.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Codat's `CompanyUpdateRequest` (PATCH): omitted fields are kept; `tags: null` or
/// `tags: {}` removes all tags.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyUpdateRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub tags: Option<Option<BTreeMap<String, String>>>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?))
}

/// Codat's `Connection`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDto {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub integration_id: String,
    #[schema(example = "gbol")]
    pub integration_key: String,
    #[schema(format = "uuid")]
    pub source_id: String,
    #[schema(example = "Accounting")]
    pub source_type: String,
    pub platform_name: String,
    /// Where the business authorises this connection.
    #[schema(format = "uri")]
    pub link_url: String,
    #[schema(example = "PendingAuth")]
    pub status: String,
    pub last_sync: Option<String>,
    pub created: String,
    pub data_connection_errors: Vec<DataConnectionErrorDto>,
    /// Non-secret provider settings (realm id, tenant id, ...).
    #[schema(value_type = Option<Object>)]
    pub connection_info: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Codat's `DataConnectionError`; `statusCode` is a string.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataConnectionErrorDto {
    pub status_code: String,
    pub status_text: String,
    pub error_message: String,
    pub errored_on_utc: String,
    pub status: String,
    pub resolved_on_utc: Option<String>,
}

impl From<ConnectionError> for DataConnectionErrorDto {
    fn from(e: ConnectionError) -> Self {
        Self {
            status_code: e.status_code,
            status_text: e.status_text,
            error_message: e.error_message,
            errored_on_utc: e.errored_on_utc.to_rfc3339(),
            status: e.status,
            resolved_on_utc: e.resolved_on_utc.map(|t| t.to_rfc3339()),
        }
    }
}

impl ConnectionDto {
    pub fn from_domain(app: &App, c: Connection) -> Self {
        let link_url = app.connection_link_url(&c.company_id, &c.id);
        Self {
            id: c.id.to_string(),
            integration_id: c.integration_id.to_string(),
            integration_key: c.integration_key,
            source_id: c.source_id.to_string(),
            source_type: c.source_type.as_str().to_owned(),
            platform_name: c.platform_name,
            link_url,
            status: c.status.as_str().to_owned(),
            last_sync: c.last_sync.map(|t| t.to_rfc3339()),
            created: c.created.to_rfc3339(),
            data_connection_errors: c.errors.into_iter().map(Into::into).collect(),
            connection_info: c.connection_info,
        }
    }
}

/// `{"platformKey": "gbol"}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateConnectionBody {
    #[schema(example = "mqjo")]
    pub platform_key: Option<String>,
}

/// `{"status": "Unlinked"}`; the spec forbids other fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionStatus {
    #[schema(example = "Unlinked")]
    pub status: Option<String>,
}

/// One `_links` entry.
#[derive(Serialize, ToSchema)]
pub struct HalRef {
    pub href: String,
}

/// Codat's `_links`: `self` and `current` always, `next` and `previous` when those pages exist.
#[derive(Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub self_: HalRef,
    pub current: HalRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<HalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<HalRef>,
}

impl Links {
    /// Links for `path` with the request's other query parameters kept.
    pub fn for_page<T>(path: &str, raw: &[(String, String)], page: &Page<T>) -> Self {
        let href = |n: u32| {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            ser.append_pair("page", &n.to_string());
            ser.append_pair("pageSize", &page.request.page_size.to_string());
            for (k, v) in raw {
                if k != "page" && k != "pageSize" {
                    ser.append_pair(k, v);
                }
            }
            HalRef {
                href: format!("{path}?{}", ser.finish()),
            }
        };
        Self {
            self_: HalRef {
                href: path.to_owned(),
            },
            current: href(page.request.page),
            next: page.has_next().then(|| href(page.request.page + 1)),
            previous: page.has_previous().then(|| href(page.request.page - 1)),
        }
    }
}

macro_rules! paged {
    ($name:ident, $item:ty) => {
        /// A page of results in Codat's envelope.
        #[derive(Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub results: Vec<$item>,
            pub page_number: u32,
            pub page_size: u32,
            pub total_results: u64,
            #[serde(rename = "_links")]
            pub links: Links,
        }

        impl $name {
            pub fn new<T>(
                path: &str,
                raw: &[(String, String)],
                page: Page<T>,
                f: impl FnMut(T) -> $item,
            ) -> Self {
                let links = Links::for_page(path, raw, &page);
                Self {
                    page_number: page.request.page,
                    page_size: page.request.page_size,
                    total_results: page.total,
                    links,
                    results: page.items.into_iter().map(f).collect(),
                }
            }
        }
    };
}

paged!(Companies, CompanyDto);
paged!(Connections, ConnectionDto);
paged!(Integrations, super::integrations::IntegrationDto);
paged!(PullOperations, super::sync::PullOperationDto);
