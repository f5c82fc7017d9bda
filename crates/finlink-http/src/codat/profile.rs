//! `/profile`: the client's name, branding and Link redirect.

use axum::Json;
use axum::extract::State;
use finlink_domain::profile::Profile;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::JsonBody;
use crate::state::HttpState;

/// Codat's `Profile`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDto {
    #[schema(example = "Bob's Burgers")]
    pub name: String,
    /// Where Link sends the business when it finishes; `{companyId}` and `{connectionId}` are filled in.
    #[schema(example = "https://bobs-burgers.com/{companyId}")]
    pub redirect_url: String,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    /// Redirect targets Link may send the business to.
    #[serde(default)]
    pub white_list_urls: Vec<String>,
    #[serde(default)]
    pub confirm_company_name: bool,
    /// Accepted for compatibility and ignored: finlink never returns API keys here.
    #[serde(default, skip_serializing)]
    pub api_key: Option<String>,
    /// finlink: the Link pages' primary colour (`#RRGGBB`). Left out of a `PUT`: unchanged; `""`: cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "#4F46E5")]
    pub primary_color: Option<String>,
    /// finlink: the Link pages' language when neither `?lang=` nor `Accept-Language` picks one
    /// (`en` or `fr`). Left out of a `PUT`: unchanged; `""`: cleared (English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "fr")]
    pub default_language: Option<String>,
    /// finlink: the support e-mail address shown on the Link pages. Left out of a `PUT`: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_email: Option<String>,
    /// finlink: the support page shown on the Link pages. Left out of a `PUT`: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
}

impl From<Profile> for ProfileDto {
    fn from(p: Profile) -> Self {
        Self {
            name: p.name,
            redirect_url: p.redirect_url,
            logo_url: p.logo_url,
            icon_url: p.icon_url,
            white_list_urls: p.white_list_urls,
            confirm_company_name: p.confirm_company_name,
            api_key: None,
            primary_color: p.primary_color,
            default_language: p.default_language,
            support_email: p.support_email,
            support_url: p.support_url,
        }
    }
}

/// Get the profile
#[utoipa::path(get, path = "/profile", tag = "Settings", operation_id = "get-profile",
    responses((status = 200, body = ProfileDto), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get(State(s): State<HttpState>, caller: Caller) -> ApiResult<Json<ProfileDto>> {
    Ok(Json(s.app.get_profile(caller.client()).await?.into()))
}

/// Update the profile
#[utoipa::path(put, path = "/profile", tag = "Settings", operation_id = "update-profile",
    request_body = ProfileDto,
    responses((status = 200, body = ProfileDto), (status = 400, body = ErrorMessage), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn put(
    State(s): State<HttpState>,
    caller: Caller,
    JsonBody(body): JsonBody<ProfileDto>,
) -> ApiResult<Json<ProfileDto>> {
    // Codat's fields are replaced; finlink's Link branding fields keep their value when left out,
    // so a Codat SDK's PUT does not wipe them.
    let current = s.app.get_profile(caller.client()).await?;
    let keep = |new: Option<String>, old: Option<String>| match new {
        None => old,
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v.trim().to_owned()),
    };
    let profile = Profile {
        name: body.name,
        redirect_url: body.redirect_url,
        logo_url: body.logo_url,
        icon_url: body.icon_url,
        white_list_urls: body.white_list_urls,
        confirm_company_name: body.confirm_company_name,
        primary_color: keep(body.primary_color, current.primary_color),
        default_language: keep(body.default_language, current.default_language),
        support_email: keep(body.support_email, current.support_email),
        support_url: keep(body.support_url, current.support_url),
    };
    Ok(Json(
        s.app.put_profile(caller.client(), profile).await?.into(),
    ))
}
