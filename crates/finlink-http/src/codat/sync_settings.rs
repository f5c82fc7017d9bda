//! Codat's sync settings: the client's (`GET/POST /profile/syncSettings`) and a company's
//! (`GET/POST /companies/{companyId}/syncSettings`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use finlink_app::sync_settings::{SyncSettingsUpdate, SyncSettingsView};
use finlink_domain::ids::CompanyId;
use finlink_domain::sync_settings::{SyncSetting, SyncSettingInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorMessage};
use crate::extract::JsonBody;
use crate::state::HttpState;

/// Codat's `SyncSetting`: how one data type is synced.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettingDto {
    /// One of Codat's data types (`invoices`, `chartOfAccounts`, `banking-accounts` ...).
    #[schema(example = "invoices")]
    pub data_type: String,
    /// Pulled by `data/all` and by the fetch on first link (Link), and kept fresh on
    /// `syncSchedule`. `false`: finlink pulls this data type only when you queue it.
    pub fetch_on_first_link: bool,
    /// Hours between scheduled pulls: 1 (hourly) to 720 (every 30 days).
    #[schema(example = 24, minimum = 1, maximum = 720)]
    pub sync_schedule: i64,
    /// Data types are queued in ascending `syncOrder`.
    #[schema(example = 0)]
    pub sync_order: i64,
    /// The first (full) pull asks the platform only for records modified since then (the
    /// sandbox honours it). Set this or `syncFromWindow`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2020-01-01T12:00:00.000Z")]
    pub sync_from_utc: Option<String>,
    /// Months: the first (full) pull asks only for records modified in these last months. Set
    /// this or `syncFromUtc`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 24, minimum = 1, maximum = 600)]
    pub sync_from_window: Option<i64>,
    /// Months of a report (`balanceSheet`, `profitAndLoss`); stored and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 600)]
    pub months_to_sync: Option<i64>,
    /// A client setting with `isLocked` is not overridden by companies' settings.
    #[serde(default)]
    pub is_locked: Option<bool>,
}

impl From<SyncSetting> for SyncSettingDto {
    fn from(s: SyncSetting) -> Self {
        Self {
            data_type: s.data_type.as_str().to_owned(),
            fetch_on_first_link: s.fetch_on_first_link,
            sync_schedule: i64::from(s.sync_schedule),
            sync_order: i64::from(s.sync_order),
            sync_from_utc: s.sync_from_utc.map(|t| t.to_rfc3339()),
            sync_from_window: s.sync_from_window.map(i64::from),
            months_to_sync: s.months_to_sync.map(i64::from),
            is_locked: Some(s.is_locked),
        }
    }
}

impl SyncSettingDto {
    fn input(self) -> SyncSettingInput {
        SyncSettingInput {
            data_type: self.data_type,
            fetch_on_first_link: self.fetch_on_first_link,
            sync_schedule: self.sync_schedule,
            sync_order: self.sync_order,
            sync_from_utc: self.sync_from_utc,
            sync_from_window: self.sync_from_window,
            months_to_sync: self.months_to_sync,
            is_locked: self.is_locked,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Codat's `SyncSettings`: the client's settings, one per data type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettingsDto {
    #[schema(format = "uuid")]
    pub client_id: String,
    pub settings: Vec<SyncSettingDto>,
    /// Whether the client's settings apply (false: finlink's defaults do).
    pub overrides_defaults: bool,
}

/// The body of `POST /profile/syncSettings`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSyncSettingsBody {
    /// Your client id (`GET /profile/syncSettings` answers it); another client's is refused
    /// with 403.
    #[schema(format = "uuid")]
    pub client_id: String,
    /// The settings of the data types to set; the others follow finlink's defaults.
    pub settings: Vec<SyncSettingDto>,
    /// `true` (the default): these settings apply. `false`: they are kept, and finlink's
    /// defaults apply.
    #[serde(default = "default_true")]
    pub overrides_defaults: bool,
}

/// Codat's `CompanySyncSettings`: the settings that apply to a company's syncs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanySyncSettingsDto {
    #[schema(format = "uuid")]
    pub company_id: String,
    pub settings: Vec<SyncSettingDto>,
    /// Whether the company's own settings apply (false: the client's do).
    pub overrides_defaults: bool,
}

/// The body of `POST /companies/{companyId}/syncSettings`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetCompanySyncSettingsBody {
    /// The company in the path.
    #[schema(format = "uuid")]
    pub company_id: String,
    /// The settings of the data types to set; the others follow the client's settings.
    pub settings: Vec<SyncSettingDto>,
    /// `true` (the default): these settings apply. `false`: they are kept, and the client's
    /// settings apply.
    #[serde(default = "default_true")]
    pub overrides_defaults: bool,
}

fn dtos(view: SyncSettingsView) -> (Vec<SyncSettingDto>, bool) {
    (
        view.settings.into_iter().map(Into::into).collect(),
        view.overrides_defaults,
    )
}

/// Get sync settings
///
/// The client's sync settings: every data type's setting as it applies to companies without
/// their own (finlink's defaults where the client set none: `fetchOnFirstLink` for the data
/// types finlink reads, daily, the company and its chart of accounts and tax rates first).
#[utoipa::path(get, path = "/profile/syncSettings", tag = "Settings",
    operation_id = "get-profile-syncSettings",
    responses((status = 200, body = SyncSettingsDto), (status = 401, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get_profile(
    State(s): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<SyncSettingsDto>> {
    let (settings, overrides_defaults) = dtos(s.app.client_sync_settings(caller.client()).await?);
    Ok(Json(SyncSettingsDto {
        client_id: caller.client().to_string(),
        settings,
        overrides_defaults,
    }))
}

/// Update all sync settings
///
/// Replaces the client's sync settings (data types left out follow finlink's defaults) and
/// reschedules the pulls of every `Linked` connection they cover. 400 for a setting that is not
/// valid (`syncSchedule` outside 1..720, `syncFromUtc` and `syncFromWindow` both set, an unknown
/// or repeated `dataType`); 403 when `clientId` is another client's.
#[utoipa::path(post, path = "/profile/syncSettings", tag = "Settings",
    operation_id = "update-profile-syncSettings",
    request_body = UpdateSyncSettingsBody,
    responses((status = 204, description = "Saved"), (status = 400, body = ErrorMessage),
        (status = 401, body = ErrorMessage), (status = 403, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn update_profile(
    State(s): State<HttpState>,
    caller: Caller,
    JsonBody(body): JsonBody<UpdateSyncSettingsBody>,
) -> ApiResult<StatusCode> {
    let update = SyncSettingsUpdate {
        owner_id: body.client_id,
        settings: body
            .settings
            .into_iter()
            .map(SyncSettingDto::input)
            .collect(),
        overrides_defaults: body.overrides_defaults,
    };
    s.app
        .put_client_sync_settings(caller.client(), &update)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get company sync settings
///
/// The settings that apply to the company's syncs, per data type: the company's own, else the
/// client's (`GET /profile/syncSettings`), else finlink's defaults.
#[utoipa::path(get, path = "/companies/{companyId}/syncSettings", tag = "Companies",
    operation_id = "get-company-syncSettings",
    params(("companyId" = String, Path, format = "uuid")),
    responses((status = 200, body = CompanySyncSettingsDto), (status = 401, body = ErrorMessage),
        (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn get_company(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
) -> ApiResult<Json<CompanySyncSettingsDto>> {
    let company = CompanyId::parse(&company)?;
    let (settings, overrides_defaults) = dtos(
        s.app
            .company_sync_settings(caller.client(), company)
            .await?,
    );
    Ok(Json(CompanySyncSettingsDto {
        company_id: company.to_string(),
        settings,
        overrides_defaults,
    }))
}

/// Set company sync settings
///
/// Replaces the company's sync settings (data types left out follow the client's settings;
/// the client's locked ones are not overridden) and reschedules the pulls of its `Linked`
/// connections. 400 for a setting that is not valid or a `companyId` other than the path's.
#[utoipa::path(post, path = "/companies/{companyId}/syncSettings", tag = "Companies",
    operation_id = "set-company-syncSettings",
    params(("companyId" = String, Path, format = "uuid")),
    request_body = SetCompanySyncSettingsBody,
    responses((status = 204, description = "Saved"), (status = 400, body = ErrorMessage),
        (status = 401, body = ErrorMessage), (status = 404, body = ErrorMessage)),
    security(("auth_header" = [])))]
pub async fn set_company(
    State(s): State<HttpState>,
    caller: Caller,
    Path(company): Path<String>,
    JsonBody(body): JsonBody<SetCompanySyncSettingsBody>,
) -> ApiResult<StatusCode> {
    let company = CompanyId::parse(&company)?;
    let update = SyncSettingsUpdate {
        owner_id: body.company_id,
        settings: body
            .settings
            .into_iter()
            .map(SyncSettingDto::input)
            .collect(),
        overrides_defaults: body.overrides_defaults,
    };
    s.app
        .put_company_sync_settings(caller.client(), company, &update)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
