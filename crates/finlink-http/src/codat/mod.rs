//! Codat's Platform API. One file per resource; [`router`] registers every route with
//! its OpenAPI description.

pub mod api_keys;
pub mod audit;
pub mod authorization;
pub mod companies;
pub mod connections;
pub mod credentials;
pub mod data;
pub mod dto;
pub mod events;
pub mod integration_credentials;
pub mod integrations;
pub mod profile;
pub mod sync;
pub mod sync_settings;
pub mod webhooks;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::HttpState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "finlink API",
        description = "finlink speaks Codat's Platform API (companies, connections, integrations, profile, API keys) so Codat's clients and SDKs work against it unchanged. Authenticate with `Authorization: Basic <base64 of your API key>` (or `Bearer <key>`). Errors are Codat's `ErrorMessage` with a `correlationId` that also appears in finlink's logs.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "Companies", description = "One company per business customer."),
        (name = "Connections", description = "A company's links to accounting, banking and commerce platforms."),
        (name = "Integrations", description = "The platforms finlink connects to."),
        (name = "Settings", description = "Profile, sync settings, API keys, the audit log and events."),
        (name = "Refresh data", description = "Syncs: queue pulls (all data, one data type), follow them (data status, pull history)."),
        (name = "Data", description = "The data finlink has read, in Codat's shapes."),
        (name = "Webhooks", description = "Webhook consumers, their signing secrets, delivery log and replay."),
        (name = "Vault", description = "Apideck Vault's import, connection and consumer endpoints (snake_case, `{status_code, status, data}` envelope, `Authorization: Bearer <key>`, `x-apideck-consumer-id`)."),
        (name = "Operations", description = "Health checks and this document."),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "auth_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Basic <base64 of the API key>`, as Codat's SDKs send it.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(companies::list, companies::create))
        .routes(routes!(
            companies::get,
            companies::replace,
            companies::update,
            companies::delete
        ))
        .routes(routes!(connections::list, connections::create))
        .routes(routes!(
            connections::get,
            connections::unlink,
            connections::delete
        ))
        .routes(routes!(integrations::list))
        .routes(routes!(integrations::get))
        .routes(routes!(integrations::branding))
        .routes(routes!(
            integration_credentials::put,
            integration_credentials::get,
            integration_credentials::delete
        ))
        .routes(routes!(profile::get, profile::put))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::delete))
        .routes(routes!(authorization::put))
        .routes(routes!(credentials::get))
        .routes(routes!(audit::list))
        .routes(routes!(events::list))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::secret))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::retry))
        .routes(routes!(webhooks::replay))
        .routes(routes!(sync::all))
        .routes(routes!(sync::queue))
        .routes(routes!(sync::status))
        .routes(routes!(sync::history))
        .routes(routes!(sync::pull_operation))
        .routes(routes!(sync::info))
        .routes(routes!(
            sync_settings::get_profile,
            sync_settings::update_profile
        ))
        .routes(routes!(
            sync_settings::get_company,
            sync_settings::set_company
        ))
}
