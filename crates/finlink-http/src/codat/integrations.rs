//! `/integrations`: the catalog, with what this installation has enabled.

use axum::Json;
use axum::extract::{Path, State};
use finlink_app::App;
use finlink_domain::integration::{AuthType, Integration};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::Integrations;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::ListParams;
use crate::state::HttpState;

/// Codat's `Integration`, plus finlink's `slug` and `authType`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationDto {
    #[schema(example = "gbol")]
    pub key: String,
    #[schema(format = "uri")]
    pub logo_url: String,
    pub name: String,
    /// Whether the operator configured this integration (the sandboxes always are).
    pub enabled: bool,
    #[schema(format = "uuid")]
    pub source_id: String,
    #[schema(example = "Accounting")]
    pub source_type: String,
    #[schema(format = "uuid")]
    pub integration_id: String,
    pub is_offline_connector: bool,
    pub is_beta: bool,
    pub data_provided_by: Option<String>,
    pub datatype_features: Vec<DataTypeFeature>,
    /// The Apideck-style service id.
    #[schema(example = "xero")]
    pub slug: String,
    #[schema(example = "oauth2")]
    pub auth_type: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataTypeFeature {
    pub data_type: String,
    pub supported_features: Vec<SupportedFeature>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportedFeature {
    #[schema(example = "Get")]
    pub feature_type: &'static str,
    #[schema(example = "Release")]
    pub feature_state: &'static str,
}

pub fn logo_url(app: &App, i: &Integration) -> String {
    format!("{}/assets/logos/{}.svg", app.settings.public_url, i.slug)
}

impl IntegrationDto {
    /// `enabled`: whether the caller's client has the integration enabled.
    pub fn from_domain(app: &App, i: &Integration, enabled: bool) -> Self {
        Self {
            key: i.key.clone(),
            logo_url: logo_url(app, i),
            name: i.name.clone(),
            enabled,
            source_id: i.source_id().to_string(),
            source_type: i.source_type.as_str().to_owned(),
            integration_id: i.integration_id().to_string(),
            is_offline_connector: i.is_offline_connector(),
            is_beta: i.is_beta,
            data_provided_by: i.data_provided_by.clone(),
            datatype_features: i
                .data_types
                .iter()
                .map(|d| DataTypeFeature {
                    data_type: d.clone(),
                    supported_features: vec![SupportedFeature {
                        feature_type: "Get",
                        feature_state: "Release",
                    }],
                })
                .collect(),
            slug: i.slug.clone(),
            auth_type: match i.auth_type {
                AuthType::Oauth2 => "oauth2",
                AuthType::ApiKey => "apiKey",
                AuthType::Basic => "basic",
                AuthType::OnPremise => "onPremise",
            }
            .to_owned(),
        }
    }
}

/// Codat's `Branding`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Branding {
    pub logo: BrandingLogo,
    pub button: BrandingButton,
    #[schema(format = "uuid")]
    pub source_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct BrandingLogo {
    pub full: BrandingImage,
    pub square: BrandingImage,
}

#[derive(Serialize, ToSchema)]
pub struct BrandingButton {
    pub default: BrandingImage,
    pub hover: BrandingImage,
}

#[derive(Serialize, ToSchema)]
pub struct BrandingImage {
    pub image: ImageReference,
}

#[derive(Serialize, ToSchema)]
pub struct ImageReference {
    #[schema(format = "uri")]
    pub src: String,
    pub alt: String,
}

/// List integrations
///
/// `query` over key, name, slug, sourceType, authType, enabled, integrationId, sourceId,
/// dataProvidedBy, isOfflineConnector, isBeta; `orderBy` key, name, slug or sourceType.
#[utoipa::path(get, path = "/integrations", tag = "Integrations", operation_id = "list-integrations",
    params(
        ("page" = Option<i32>, Query, minimum = 1),
        ("pageSize" = Option<i32>, Query, minimum = 1, maximum = 5000),
        ("query" = Option<String>, Query, description = "e.g. sourceType=Accounting&&enabled=true"),
        ("orderBy" = Option<String>, Query, description = "e.g. name"),
    ),
    responses((status = 200, body = Integrations), (status = 400, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn list(
    State(s): State<HttpState>,
    caller: Caller,
    params: ListParams,
) -> ApiResult<Json<Integrations>> {
    let enabled = s.app.enabled_keys(caller.client()).await?;
    let page = s.app.list_integrations(
        &enabled,
        params.page,
        params.query.as_ref(),
        params.order_by.as_ref(),
    )?;
    Ok(Json(Integrations::new(
        "/integrations",
        &params.raw,
        page,
        |i| {
            let on = enabled.contains(&i.key);
            IntegrationDto::from_domain(&s.app, &i, on)
        },
    )))
}

/// Get an integration
#[utoipa::path(get, path = "/integrations/{platformKey}", tag = "Integrations", operation_id = "get-integration",
    params(("platformKey" = String, Path, example = "gbol")),
    responses((status = 200, body = IntegrationDto), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(
    State(s): State<HttpState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<IntegrationDto>> {
    let i = s.app.integration(&key)?;
    let enabled = s.app.enabled_keys(caller.client()).await?.contains(&i.key);
    Ok(Json(IntegrationDto::from_domain(&s.app, i, enabled)))
}

/// Get an integration's branding
#[utoipa::path(get, path = "/integrations/{platformKey}/branding", tag = "Integrations", operation_id = "get-integrations-branding",
    params(("platformKey" = String, Path, example = "gbol")),
    responses((status = 200, body = Branding), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn branding(
    State(s): State<HttpState>,
    _caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Branding>> {
    let i = s.app.integration(&key)?;
    let img = || BrandingImage {
        image: ImageReference {
            src: logo_url(&s.app, i),
            alt: format!("{} logo", i.name),
        },
    };
    Ok(Json(Branding {
        logo: BrandingLogo {
            full: img(),
            square: img(),
        },
        button: BrandingButton {
            default: img(),
            hover: img(),
        },
        source_id: i.source_id().to_string(),
    }))
}
