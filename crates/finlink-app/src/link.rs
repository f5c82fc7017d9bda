//! Hosted Link: the journey a business takes from "choose your platform" to a `Linked`
//! connection and back to the application. HTTP-free: `finlink-http`'s `link/` pages call these
//! functions and render what they return.
//!
//! OAuth 2.0 platforms: authorization code with PKCE (S256). A [`LinkFlow`] holds one attempt:
//! its `state` (random, single use, stored only as a SHA-256 digest), the browser it belongs to
//! (the digest of a random cookie), the company and connection, and, sealed in the vault, the
//! PKCE verifier and any tokens received but not yet committed (while the business picks an
//! organisation or confirms the company name). Flows expire after ten minutes.
//!
//! API-key and basic-auth platforms: the submitted fields are checked against the platform
//! (the catalog's `credential_check`) before they are sealed and the connection is `Linked`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionError, ConnectionStatus, SourceType};
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, FieldKind, Integration};
use finlink_domain::link::{FLOW_TTL_MS, LinkFlow, LinkStage};
use finlink_domain::profile::Profile;
use finlink_domain::{Error, Result, Timestamp};
use finlink_providers::oauth::{OAuthError, TokenResponse};
use finlink_store::ConnectionUpdate;
use finlink_vault::{Aad, Purpose, SecretString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::App;
use crate::credentials::{SecretFields, seal};
use crate::migration::Actor;
use crate::oauth_apps::shop_field;

/// The languages the Link pages speak; the first is the default.
pub const LANGUAGES: &[&str] = &["en", "fr"];

/// The one OAuth callback of the installation, under the public URL.
pub const CALLBACK_PATH: &str = "/link/oauth/callback";

/// How long a form's CSRF token is accepted.
const CSRF_TTL_MS: i64 = 2 * 3600 * 1000;

/// Access-token lifetime assumed when neither the platform nor the catalog says.
const FALLBACK_LIFETIME_SECS: i64 = 3600;

fn sha256_hex(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    let s = URL_SAFE_NO_PAD.encode(&buf);
    buf.zeroize();
    s
}

/// An organisation a grant reaches.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
}

/// Tokens received at the callback and not yet committed.
#[derive(Serialize, Deserialize)]
struct HeldTokens {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    token_type: Option<String>,
    scope: Option<String>,
    issued_at: i64,
}

/// What a flow keeps secret, sealed in `LinkFlow::sealed`. Zeroized on drop.
#[derive(Serialize, Deserialize, Default)]
struct FlowSecrets {
    verifier: Option<String>,
    /// The value that fills `{shop}` for per-shop platforms.
    shop: Option<String>,
    tokens: Option<HeldTokens>,
    /// Provider settings gathered so far (callback parameters, the chosen organisation).
    settings: serde_json::Map<String, Value>,
    organisations: Vec<Organisation>,
    company_name: Option<String>,
}

impl Drop for FlowSecrets {
    fn drop(&mut self) {
        if let Some(v) = self.verifier.as_mut() {
            v.zeroize();
        }
        if let Some(t) = self.tokens.as_mut() {
            t.access_token.zeroize();
            if let Some(r) = t.refresh_token.as_mut() {
                r.zeroize();
            }
        }
    }
}

fn flow_aad(flow_id: &str) -> Aad {
    Aad::new(&[flow_id, "link flow"])
}

/// Why a callback or a flow page is refused. Nothing changes when one is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No flow has this state (or flow id): forged, or too old and swept.
    Unknown,
    /// The state was already used: a replayed or reloaded callback.
    Replayed,
    /// The flow is older than ten minutes.
    Expired,
    /// The flow was started in another browser.
    OtherBrowser,
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub struct LinkOutcome {
    pub company_id: CompanyId,
    pub connection_id: ConnectionId,
    pub platform_name: String,
    pub success: bool,
    /// `200` on success; the failure's HTTP-like code otherwise (403 denied, 400, 502, 500).
    pub status_code: u16,
    pub status_text: String,
    pub error_message: Option<String>,
    /// The application's redirect URL with the outcome, when the profile has an allowed one.
    pub redirect: Option<String>,
    pub lang: String,
    /// The client's profile (branding of the hand-over page).
    pub profile: Profile,
}

/// What the browser is shown next.
#[derive(Clone, Debug)]
pub enum LinkStep {
    ChooseOrganisation {
        flow_id: String,
        platform_name: String,
        organisations: Vec<Organisation>,
        lang: String,
    },
    ConfirmCompany {
        flow_id: String,
        platform_name: String,
        company_name: String,
        lang: String,
    },
    /// Start over on the company page (the business said "not this company").
    StartOver {
        company_id: CompanyId,
        lang: String,
    },
    Finished(Box<LinkOutcome>),
    Refused(Refusal),
}

/// Everything the company page shows.
#[derive(Clone, Debug)]
pub struct LinkCompany {
    pub company: Company,
    pub profile: Profile,
    /// Enabled integrations, in catalog order (source type, then name).
    pub integrations: Vec<Integration>,
}

/// Everything a connection's pages show.
#[derive(Clone, Debug)]
pub struct LinkConnection {
    pub company: Company,
    pub connection: Connection,
    pub integration: Integration,
    pub profile: Profile,
}

impl App {
    // -- pages ----------------------------------------------------------------------------------

    /// The company behind a Link URL, with its client's profile and enabled integrations.
    pub async fn link_company(&self, company: CompanyId) -> Result<LinkCompany> {
        let client = self
            .store
            .company_owner(company)
            .await?
            .ok_or_else(|| Error::not_found("company", company))?;
        let company = self.get_company(client, company).await?;
        let profile = self.get_profile(client).await?;
        let enabled = self.enabled_keys(client).await?;
        let integrations = self
            .catalog
            .all()
            .iter()
            .filter(|i| enabled.contains(&i.key))
            .cloned()
            .collect();
        Ok(LinkCompany {
            company,
            profile,
            integrations,
        })
    }

    /// A connection of the company behind a Link URL.
    pub async fn link_connection(
        &self,
        company: CompanyId,
        connection: ConnectionId,
    ) -> Result<LinkConnection> {
        let LinkCompany {
            company, profile, ..
        } = self.link_company(company).await?;
        let conn = company
            .connections
            .iter()
            .find(|c| c.id == connection)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                message: format!("Data connection {connection} not found."),
            })?;
        let integration = self.integration(&conn.integration_key)?.clone();
        Ok(LinkConnection {
            company,
            connection: conn,
            integration,
            profile,
        })
    }

    /// The business picked a platform on the company page: the connection to authorise. An
    /// unfinished (`PendingAuth`) or `Deauthorized` connection to the same platform is reused; an
    /// unfinished accounting connection to another platform is replaced (a company has one
    /// accounting connection); a `Linked` accounting connection to another platform is kept
    /// and the choice refused.
    pub async fn link_choose(&self, company: CompanyId, key: &str) -> Result<Connection> {
        let page = self.link_company(company).await?;
        let integ = page
            .integrations
            .iter()
            .find(|i| i.key == key)
            .ok_or_else(|| Error::NotFound {
                message: format!("The platform '{key}' is not available here."),
            })?
            .clone();
        let client = page.company.client_id;
        if let Some(c) = page.company.connections.iter().find(|c| {
            c.integration_key == integ.key
                && matches!(
                    c.status,
                    ConnectionStatus::PendingAuth
                        | ConnectionStatus::Deauthorized
                        | ConnectionStatus::Unlinked
                )
        }) {
            return Ok(c.clone());
        }
        if integ.source_type == SourceType::Accounting
            && let Some(other) = page
                .company
                .connections
                .iter()
                .find(|c| c.source_type == SourceType::Accounting)
        {
            {
                if other.status != ConnectionStatus::PendingAuth {
                    return Err(Error::Conflict(format!(
                        "This company is already connected to {}; a company has one accounting connection.",
                        other.platform_name
                    )));
                }
                let company_row = self.get_company(client, company).await?;
                let effects = self
                    .raise(
                        vec![self.connection_event(
                            finlink_domain::event::types::CONNECTION_DELETED,
                            &company_row,
                            other,
                        )],
                        Some(&company_row.tags),
                    )
                    .await?;
                self.store
                    .delete_connection(client, company, other.id, &effects)
                    .await?;
                self.link_audit(
                    other,
                    "link.replaced",
                    "success",
                    format!(
                        "unfinished {} connection replaced by {} in Link",
                        other.platform_name, integ.name
                    ),
                )
                .await;
            }
        }
        self.create_connection(client, company, &integ.key).await
    }

    // -- OAuth 2.0 ------------------------------------------------------------------------------

    /// Starts the authorization-code flow for a connection: stores a flow bound to `browser`
    /// and returns the platform's authorization URL. `shop` is the per-shop host, asked first
    /// for platforms with `{shop}` URLs.
    pub async fn link_begin_oauth(
        &self,
        lc: &LinkConnection,
        browser: &str,
        lang: &str,
        shop: Option<String>,
    ) -> Result<String> {
        let integ = &lc.integration;
        let oauth = integ
            .oauth
            .as_ref()
            .ok_or_else(|| Error::bad_request(format!("{} does not use OAuth 2.0.", integ.name)))?;
        if lc.connection.status == ConnectionStatus::Linked {
            return Err(Error::Conflict(format!(
                "This {} connection is already linked.",
                integ.name
            )));
        }
        // The shop comes from whoever holds the Link URL and decides where the token request
        // (with the client secret) goes: it must fit the integration's pattern.
        let shop = match (oauth.per_shop_urls, shop) {
            (false, _) => None,
            (true, None) => {
                return Err(Error::bad_request(format!(
                    "{} needs the shop's address first.",
                    integ.name
                )));
            }
            (true, Some(raw)) => Some(
                oauth
                    .shop_pattern
                    .as_deref()
                    .and_then(|p| finlink_domain::integration::check_shop(p, &raw))
                    .ok_or_else(|| {
                        Error::invalid(
                            "shop",
                            "LinkShop",
                            format!("'{}' is not a {} address.", short(&raw), integ.name),
                        )
                    })?,
            ),
        };
        let resolved = self
            .resolve_oauth(lc.company.client_id, integ, shop.as_deref())
            .await?;
        let now = self.clock.now();
        let state = random_token(32);
        let verifier = oauth.pkce.then(|| random_token(48));
        let flow_id = random_token(18);
        let mut secrets = FlowSecrets::default();
        secrets.verifier = verifier.clone();
        secrets.shop = shop;
        let flow = LinkFlow {
            sealed: self.seal_flow(&flow_id, &secrets)?,
            id: flow_id,
            state_hash: sha256_hex(&state),
            browser_hash: sha256_hex(browser),
            client_id: lc.company.client_id,
            company_id: lc.company.id,
            connection_id: lc.connection.id,
            integration_key: integ.key.clone(),
            lang: lang.to_owned(),
            stage: LinkStage::Authorizing,
            version: 0,
            created: now,
            expires: now.plus_millis(FLOW_TTL_MS),
        };
        self.store.insert_link_flow(&flow).await?;

        let mut url = url::Url::parse(&resolved.authorize_url).map_err(|e| {
            Error::internal(format!(
                "the authorization URL of {} is not a URL: {e}",
                integ.key
            ))
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &resolved.token.client_id);
            q.append_pair("redirect_uri", &self.link_callback_url());
            if !resolved.scopes.is_empty() {
                q.append_pair("scope", &resolved.scopes.join(&oauth.scope_separator));
            }
            q.append_pair("state", &state);
            if let Some(v) = &verifier {
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                q.append_pair("code_challenge", &challenge);
                q.append_pair("code_challenge_method", "S256");
            }
            for (k, v) in &oauth.extra_authorize_params {
                q.append_pair(k, v);
            }
        }
        self.link_audit(
            &lc.connection,
            "link.started",
            "success",
            format!("authorization started at {}", integ.name),
        )
        .await;
        Ok(url.into())
    }

    /// `{public}/link/oauth/callback`.
    pub fn link_callback_url(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.settings.public_url)
    }

    /// The platform sent the browser back. `params` are the callback's query parameters;
    /// `browser` is the Link cookie, if the browser sent one.
    pub async fn link_callback(
        &self,
        params: &BTreeMap<String, String>,
        browser: Option<&str>,
    ) -> Result<LinkStep> {
        let Some(state) = params.get("state") else {
            return Ok(LinkStep::Refused(Refusal::Unknown));
        };
        let Some(flow) = self
            .store
            .find_link_flow_by_state(&sha256_hex(state))
            .await?
        else {
            return Ok(LinkStep::Refused(Refusal::Unknown));
        };
        if let Some(r) = self.refusal(&flow, browser, LinkStage::Authorizing) {
            return Ok(LinkStep::Refused(r));
        }
        // Spend the state before anything else: a replay from now on is refused.
        let mut flow = flow;
        let expected = flow.version;
        flow.stage = LinkStage::Exchanging;
        if !self.store.update_link_flow(&flow, expected).await? {
            return Ok(LinkStep::Refused(Refusal::Replayed));
        }
        flow.version += 1;
        let lc = self
            .link_connection(flow.company_id, flow.connection_id)
            .await?;
        let integ = lc.integration.clone();

        if let Some(error) = params.get("error") {
            let description = params
                .get("error_description")
                .map(|d| d.chars().take(300).collect::<String>());
            let (code, text) = if error == "access_denied" {
                (403, "Forbidden")
            } else {
                (400, "Bad Request")
            };
            // The callback's query is whatever the browser sent: show a fixed message with the
            // standard error code only; the platform's own description goes to the log.
            let code_word: String = error
                .chars()
                .filter(|c| c.is_ascii_lowercase() || *c == '_')
                .take(40)
                .collect();
            tracing::info!(connection_id = %lc.connection.id, platform = %integ.key, error = %code_word, description = ?description, "link: the platform answered with an error");
            let message = if error == "access_denied" {
                format!("Access to {} was not granted.", integ.name)
            } else {
                format!("{} refused the authorization ({code_word}).", integ.name)
            };
            return self.link_fail(flow, &lc, code, text, message).await;
        }
        let Some(code) = params.get("code") else {
            return self
                .link_fail(
                    flow,
                    &lc,
                    400,
                    "Bad Request",
                    format!("{} sent no authorization code.", integ.name),
                )
                .await;
        };
        // From here on a failure of finlink's own still ends the flow visibly (an error entry
        // and an audit record), rather than leaving it spent and silent.
        let prepared = match self.open_flow(&flow) {
            Ok(secrets) => self
                .resolve_oauth(lc.company.client_id, &integ, secrets.shop.as_deref())
                .await
                .map(|r| (secrets, r)),
            Err(e) => Err(e),
        };
        let (mut secrets, resolved) = match prepared {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(connection_id = %lc.connection.id, platform = %integ.key, error = %e, "link: cannot exchange the code");
                return self
                    .link_fail(
                        flow,
                        &lc,
                        500,
                        "Internal Server Error",
                        format!(
                            "finlink could not complete the authorization with {}.",
                            integ.name
                        ),
                    )
                    .await;
            }
        };
        let exchanged = self
            .oauth
            .exchange_code(
                &resolved.token,
                code,
                &self.link_callback_url(),
                secrets.verifier.as_deref(),
            )
            .await;
        let tokens = match exchanged {
            Ok(t) => t,
            Err(e) => {
                let (code, text) = oauth_failure_status(&e);
                tracing::warn!(connection_id = %lc.connection.id, platform = %integ.key, error = %e, "link: code exchange failed");
                return self
                    .link_fail(
                        flow,
                        &lc,
                        code,
                        text,
                        format!("{} did not accept the authorization: {e}", integ.name),
                    )
                    .await;
            }
        };
        if let Some(mut v) = secrets.verifier.take() {
            v.zeroize();
        }
        secrets.tokens = Some(hold(tokens, self.clock.now()));
        // `resolve_oauth` above succeeded, so the integration has OAuth settings.
        let Some(oauth) = integ.oauth.clone() else {
            return self
                .link_fail(
                    flow,
                    &lc,
                    500,
                    "Internal Server Error",
                    format!("{} has no OAuth settings.", integ.name),
                )
                .await;
        };
        for p in &oauth.callback_params {
            if oauth.per_shop_urls && p == "shop" {
                continue;
            }
            if let Some(v) = params.get(p) {
                secrets.settings.insert(p.clone(), Value::String(v.clone()));
            }
        }
        if let (Some(field), Some(shop)) = (shop_field(&integ), secrets.shop.clone()) {
            secrets
                .settings
                .insert(field.to_owned(), Value::String(shop));
        }

        // Who did the business connect? Read the identity endpoint when there is one.
        if let Some(identity_url) = &resolved.identity_url {
            let access = secrets
                .tokens
                .as_ref()
                .map(|t| t.access_token.clone())
                .unwrap_or_default();
            let answer = self
                .oauth
                .get_json(identity_url, ("Authorization", &format!("Bearer {access}")))
                .await;
            match answer {
                Ok(v) => {
                    secrets.organisations = organisations(
                        &v,
                        oauth.identity_id_field.as_deref(),
                        oauth.identity_name_field.as_deref(),
                    );
                }
                Err(e) => {
                    // Without it there is no organisation to pick and no name to confirm: a
                    // connection linked anyway could read the wrong organisation.
                    tracing::warn!(connection_id = %lc.connection.id, platform = %integ.key, error = %e, "link: identity endpoint failed");
                    self.revoke_held(&lc, &secrets).await;
                    return self
                        .link_fail(
                            flow,
                            &lc,
                            502,
                            "Bad Gateway",
                            format!(
                                "{} did not say which organisation was connected.",
                                integ.name
                            ),
                        )
                        .await;
                }
            }
        }
        if secrets.organisations.len() > 1 && oauth.tenant_selection {
            flow.stage = LinkStage::ChooseOrganisation;
            let organisations = secrets.organisations.clone();
            self.save_flow(&mut flow, &secrets).await?;
            return Ok(LinkStep::ChooseOrganisation {
                flow_id: flow.id.clone(),
                platform_name: integ.name.clone(),
                organisations,
                lang: flow.lang.clone(),
            });
        }
        if let Some(org) = secrets.organisations.first().cloned() {
            self.pick(&integ, &mut secrets, &org);
        }
        self.after_organisation(flow, lc, secrets).await
    }

    /// The business picked one of the grant's organisations.
    pub async fn link_choose_organisation(
        &self,
        flow_id: &str,
        browser: Option<&str>,
        organisation: &str,
    ) -> Result<LinkStep> {
        let (flow, lc, mut secrets) = match self
            .resume(flow_id, browser, LinkStage::ChooseOrganisation)
            .await?
        {
            Ok(x) => x,
            Err(r) => return Ok(LinkStep::Refused(r)),
        };
        let Some(org) = secrets
            .organisations
            .iter()
            .find(|o| o.id == organisation)
            .cloned()
        else {
            return Err(Error::bad_request(
                "Choose one of the organisations listed.",
            ));
        };
        self.pick(&lc.integration, &mut secrets, &org);
        self.after_organisation(flow, lc, secrets).await
    }

    /// The business answered "Is this the company you meant to connect?".
    pub async fn link_confirm(
        &self,
        flow_id: &str,
        browser: Option<&str>,
        yes: bool,
    ) -> Result<LinkStep> {
        let (mut flow, lc, secrets) = match self
            .resume(flow_id, browser, LinkStage::ConfirmCompany)
            .await?
        {
            Ok(x) => x,
            Err(r) => return Ok(LinkStep::Refused(r)),
        };
        if yes {
            return self.link_finish(flow, lc, secrets).await;
        }
        // "No": end the flow first (so a "Yes" racing this one cannot link a revoked grant),
        // then give the grant back, and start over.
        let expected = flow.version;
        flow.stage = LinkStage::Failed;
        flow.sealed = self.seal_flow(&flow.id, &FlowSecrets::default())?;
        if !self.store.update_link_flow(&flow, expected).await? {
            return Ok(LinkStep::Refused(Refusal::Replayed));
        }
        self.revoke_held(&lc, &secrets).await;
        self.link_audit(
            &lc.connection,
            "link.rejected_company",
            "failure",
            format!(
                "the business said the {} company was not the one it meant; grant revoked",
                lc.integration.name
            ),
        )
        .await;
        Ok(LinkStep::StartOver {
            company_id: lc.company.id,
            lang: flow.lang,
        })
    }

    /// A flow's page data for `GET` of the organisation and confirmation pages, with the
    /// connection it belongs to (None when the step is a refusal).
    pub async fn link_flow_step(
        &self,
        flow_id: &str,
        browser: Option<&str>,
    ) -> Result<(LinkStep, Option<LinkConnection>)> {
        let Some(flow) = self.store.get_link_flow(flow_id).await? else {
            return Ok((LinkStep::Refused(Refusal::Unknown), None));
        };
        let stage = flow.stage;
        if !matches!(
            stage,
            LinkStage::ChooseOrganisation | LinkStage::ConfirmCompany
        ) {
            return Ok((LinkStep::Refused(Refusal::Replayed), None));
        }
        if let Some(r) = self.refusal(&flow, browser, stage) {
            return Ok((LinkStep::Refused(r), None));
        }
        let lc = self
            .link_connection(flow.company_id, flow.connection_id)
            .await?;
        let secrets = self.open_flow(&flow)?;
        let step = match stage {
            LinkStage::ChooseOrganisation => LinkStep::ChooseOrganisation {
                flow_id: flow.id.clone(),
                platform_name: lc.integration.name.clone(),
                organisations: secrets.organisations.clone(),
                lang: flow.lang.clone(),
            },
            _ => LinkStep::ConfirmCompany {
                flow_id: flow.id.clone(),
                platform_name: lc.integration.name.clone(),
                company_name: secrets.company_name.clone().unwrap_or_default(),
                lang: flow.lang.clone(),
            },
        };
        Ok((step, Some(lc)))
    }

    // -- API-key and basic-auth platforms ---------------------------------------------------------

    /// The form of an API-key or basic-auth platform was submitted: check the values against
    /// the platform, then seal them and link the connection. A `Validation` error (missing
    /// field, rejected by the platform) is for the form to show; nothing is stored then.
    pub async fn link_submit_fields(
        &self,
        lc: &LinkConnection,
        values: &BTreeMap<String, String>,
        lang: &str,
    ) -> Result<LinkOutcome> {
        let integ = &lc.integration;
        if lc.connection.status == ConnectionStatus::Linked {
            return Err(Error::Conflict(format!(
                "This {} connection is already linked.",
                integ.name
            )));
        }
        if !matches!(integ.auth_type, AuthType::ApiKey | AuthType::Basic) {
            return Err(Error::bad_request(format!(
                "{} is not connected with a form.",
                integ.name
            )));
        }
        let mut body: BTreeMap<String, Value> = BTreeMap::new();
        for f in &integ.fields {
            if let Some(v) = values.get(&f.name) {
                let v = if f.secret {
                    v.clone()
                } else {
                    v.trim().to_owned()
                };
                if !v.is_empty() {
                    body.insert(f.name.clone(), Value::String(v));
                }
            }
        }
        let now = self.clock.now();
        let input = crate::migration::check_fields(integ, &body, now)?;
        if let Some(check) = &integ.credential_check {
            let mut header_value = check.value.clone();
            for f in &integ.fields {
                let placeholder = format!("{{{}}}", f.name);
                if header_value.contains(&placeholder) {
                    let v = body
                        .get(&f.name)
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    header_value = header_value.replace(&placeholder, v);
                }
            }
            if header_value.contains("{basic}") {
                let user = body
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let pass = body
                    .get("password")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                header_value = header_value.replace("{basic}", &basic);
            }
            let shop = crate::oauth_apps::shop_of(integ, Some(&input.settings));
            let url = self.platform_url(integ, &check.url, shop.as_deref());
            let result = self
                .oauth
                .get_json(&url, (check.header.as_str(), header_value.as_str()))
                .await;
            header_value.zeroize();
            if let Err(e) = result {
                tracing::info!(connection_id = %lc.connection.id, platform = %integ.key, error = %e, "link: credentials refused by the platform");
                self.link_audit(
                    &lc.connection,
                    "link.failed",
                    "failure",
                    format!("{} refused the submitted credentials", integ.name),
                )
                .await;
                return Err(match e {
                    OAuthError::Rejected { .. } => Error::invalid(
                        "credentials",
                        "LinkForm",
                        format!(
                            "{} did not accept these details. Check them and try again.",
                            integ.name
                        ),
                    ),
                    _ => Error::Unavailable(format!(
                        "{} could not be reached to check these details. Try again in a moment.",
                        integ.name
                    )),
                });
            }
        }
        let linked = self
            .store_migrated(
                &Actor::Link,
                &lc.connection,
                integ,
                input,
                "link.authorized",
                lc.connection.status == ConnectionStatus::PendingAuth,
            )
            .await?;
        self.resolve_errors(&linked, now).await?;
        Ok(self.outcome(&lc.profile, &linked, true, 200, "OK", None, lang))
    }

    // -- the end ----------------------------------------------------------------------------------

    /// The outcome, with the application's redirect URL filled in when the profile allows it.
    #[allow(clippy::too_many_arguments)]
    pub fn outcome(
        &self,
        profile: &Profile,
        connection: &Connection,
        success: bool,
        status_code: u16,
        status_text: &str,
        error_message: Option<String>,
        lang: &str,
    ) -> LinkOutcome {
        let redirect = redirect_target(
            profile,
            connection.company_id,
            connection.id,
            status_code,
            status_text,
            error_message.as_deref(),
        );
        LinkOutcome {
            company_id: connection.company_id,
            connection_id: connection.id,
            platform_name: connection.platform_name.clone(),
            success,
            status_code,
            status_text: status_text.to_owned(),
            error_message,
            redirect,
            lang: lang.to_owned(),
            profile: profile.clone(),
        }
    }

    /// A CSRF token for Link forms in this browser: a vault envelope of the browser digest and
    /// an expiry, so any instance can check it and nothing is stored.
    pub fn link_csrf_token(&self, browser: &str) -> Result<String> {
        let expires = self.clock.now().plus_millis(CSRF_TTL_MS).as_millis();
        let plain = format!("{}|{expires}", sha256_hex(browser));
        let sealed = self
            .vault
            .seal(
                Purpose::LinkSession,
                &Aad::new(&["link csrf"]),
                plain.as_bytes(),
            )
            .map_err(|e| Error::internal(format!("sealing a CSRF token: {e}")))?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Whether `token` is a live CSRF token of this browser.
    pub fn link_csrf_ok(&self, browser: Option<&str>, token: Option<&str>) -> bool {
        let (Some(browser), Some(token)) = (browser, token) else {
            return false;
        };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return false;
        };
        let Ok(plain) = self
            .vault
            .open(Purpose::LinkSession, &Aad::new(&["link csrf"]), &bytes)
        else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(plain.expose()) else {
            return false;
        };
        let Some((hash, expires)) = text.split_once('|') else {
            return false;
        };
        let fresh = expires
            .parse::<i64>()
            .is_ok_and(|e| e > self.clock.now().as_millis());
        fresh && hash == sha256_hex(browser)
    }

    // -- internals --------------------------------------------------------------------------------

    fn refusal(&self, flow: &LinkFlow, browser: Option<&str>, want: LinkStage) -> Option<Refusal> {
        if browser.map(sha256_hex).as_deref() != Some(flow.browser_hash.as_str()) {
            return Some(Refusal::OtherBrowser);
        }
        if flow.stage != want {
            return Some(Refusal::Replayed);
        }
        if flow.expires <= self.clock.now() {
            return Some(Refusal::Expired);
        }
        None
    }

    async fn resume(
        &self,
        flow_id: &str,
        browser: Option<&str>,
        want: LinkStage,
    ) -> Result<std::result::Result<(LinkFlow, LinkConnection, FlowSecrets), Refusal>> {
        let Some(flow) = self.store.get_link_flow(flow_id).await? else {
            return Ok(Err(Refusal::Unknown));
        };
        if let Some(r) = self.refusal(&flow, browser, want) {
            return Ok(Err(r));
        }
        let lc = self
            .link_connection(flow.company_id, flow.connection_id)
            .await?;
        let secrets = self.open_flow(&flow)?;
        Ok(Ok((flow, lc, secrets)))
    }

    fn pick(&self, integ: &Integration, secrets: &mut FlowSecrets, org: &Organisation) {
        secrets.company_name = Some(org.name.clone());
        if let Some(field) = organisation_field(integ, &secrets.settings) {
            secrets
                .settings
                .insert(field, Value::String(org.id.clone()));
        }
    }

    async fn after_organisation(
        &self,
        mut flow: LinkFlow,
        lc: LinkConnection,
        secrets: FlowSecrets,
    ) -> Result<LinkStep> {
        if lc.profile.confirm_company_name
            && let Some(name) = secrets.company_name.clone()
        {
            {
                flow.stage = LinkStage::ConfirmCompany;
                self.save_flow(&mut flow, &secrets).await?;
                return Ok(LinkStep::ConfirmCompany {
                    flow_id: flow.id.clone(),
                    platform_name: lc.integration.name.clone(),
                    company_name: name,
                    lang: flow.lang.clone(),
                });
            }
        }
        self.link_finish(flow, lc, secrets).await
    }

    /// Commits the held tokens: sealed credentials, `Linked`, errors resolved, audited.
    async fn link_finish(
        &self,
        mut flow: LinkFlow,
        lc: LinkConnection,
        secrets: FlowSecrets,
    ) -> Result<LinkStep> {
        let expected = flow.version;
        flow.stage = LinkStage::Done;
        flow.sealed = self.seal_flow(&flow.id, &FlowSecrets::default())?;
        if !self.store.update_link_flow(&flow, expected).await? {
            return Ok(LinkStep::Refused(Refusal::Replayed));
        }
        let integ = &lc.integration;
        let Some(tokens) = secrets.tokens.as_ref() else {
            return Err(Error::internal(
                "a Link flow reached its end without tokens",
            ));
        };
        let now = self.clock.now();
        let mut fields = SecretFields::default();
        fields.set(
            "accessToken",
            SecretString::from(tokens.access_token.clone()),
        );
        if let Some(r) = &tokens.refresh_token {
            fields.set("refreshToken", SecretString::from(r.clone()));
        }
        let lifetime = tokens.expires_in.or_else(|| {
            integ
                .oauth
                .as_ref()
                .and_then(|o| o.default_token_lifetime_secs)
                .and_then(|s| i64::try_from(s).ok())
        });
        let issued = Timestamp::from_millis(tokens.issued_at);
        let creds = SealedCredentials {
            client_id: lc.company.client_id,
            company_id: lc.company.id,
            connection_id: lc.connection.id,
            auth_type: integ.auth_type,
            key_id: self.vault.active_id().to_string(),
            sealed: seal(&self.vault, lc.company.client_id, lc.connection.id, &fields)?,
            token_type: tokens.token_type.clone(),
            scopes: tokens
                .scope
                .as_deref()
                .map(|s| {
                    s.split([' ', ','])
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            // No lifetime and nothing to refresh with: a token that does not expire (classic
            // Shopify). Otherwise assume an hour rather than never refreshing.
            expires_at: match (lifetime, &tokens.refresh_token) {
                (Some(l), _) => Some(issued.plus_seconds(l)),
                (None, Some(_)) => Some(issued.plus_seconds(FALLBACK_LIFETIME_SECS)),
                (None, None) => None,
            },
            issued_at: Some(issued),
            needs_refresh: false,
            version: 0,
            updated: now,
        };
        let mut info = lc.connection.connection_info.clone().unwrap_or_default();
        info.extend(secrets.settings.clone());
        let reconnect = lc.connection.status != ConnectionStatus::PendingAuth;
        let update = ConnectionUpdate {
            status: ConnectionStatus::Linked,
            connection_info: Some(info),
            errors: Some(resolved(&lc.connection.errors, now)),
            at: now,
        };
        let audit = self.audit_entry(
            &lc.connection,
            "link.authorized",
            "success",
            format!(
                "{} authorised in Link{}{}",
                integ.name,
                secrets
                    .company_name
                    .as_deref()
                    .map(|n| format!(" for '{}'", short(n)))
                    .unwrap_or_default(),
                if reconnect { " (reconnected)" } else { "" }
            ),
        );
        let mut effects = self
            .credentials_effects(&lc.connection, integ, &creds)
            .await?;
        if !reconnect {
            // Fetch on first link, queued with the status change.
            effects.pulls = self.first_link_pulls(&lc.connection).await?;
        }
        let linked = match self
            .store
            .store_credentials(&creds, &update, &audit, &effects)
            .await
        {
            Ok(Some(c)) => c,
            Ok(None) => {
                // The connection was deleted meanwhile: give the grant back.
                self.revoke_held(&lc, &secrets).await;
                return Err(Error::NotFound {
                    message: format!("Data connection {} not found.", lc.connection.id),
                });
            }
            Err(e) => {
                // The flow is spent and its tokens were not stored: give the grant back and
                // say so on the connection, rather than losing them silently.
                tracing::error!(connection_id = %lc.connection.id, error = %e, "link: storing the credentials failed");
                self.revoke_held(&lc, &secrets).await;
                let message = format!("finlink could not store the {} authorization.", integ.name);
                let updated = self
                    .record_failure(&lc, 500, "Internal Server Error", &message)
                    .await
                    .unwrap_or_else(|_| lc.connection.clone());
                return Ok(LinkStep::Finished(Box::new(self.outcome(
                    &lc.profile,
                    &updated,
                    false,
                    500,
                    "Internal Server Error",
                    Some(message),
                    &flow.lang,
                ))));
            }
        };
        tracing::info!(connection_id = %linked.id, platform = %integ.key, "link: connection linked");
        Ok(LinkStep::Finished(Box::new(self.outcome(
            &lc.profile,
            &linked,
            true,
            200,
            "OK",
            None,
            &flow.lang,
        ))))
    }

    /// Ends a flow in failure: the connection keeps its status and gets an active
    /// `dataConnectionErrors` entry; audited.
    async fn link_fail(
        &self,
        mut flow: LinkFlow,
        lc: &LinkConnection,
        code: u16,
        text: &str,
        message: String,
    ) -> Result<LinkStep> {
        let expected = flow.version;
        flow.stage = LinkStage::Failed;
        flow.sealed = self.seal_flow(&flow.id, &FlowSecrets::default())?;
        if !self.store.update_link_flow(&flow, expected).await? {
            return Ok(LinkStep::Refused(Refusal::Replayed));
        }
        let updated = self.record_failure(lc, code, text, &message).await?;
        Ok(LinkStep::Finished(Box::new(self.outcome(
            &lc.profile,
            &updated,
            false,
            code,
            text,
            Some(message),
            &flow.lang,
        ))))
    }

    /// An `Active` `dataConnectionErrors` entry and a `link.failed` audit record, in one write.
    async fn record_failure(
        &self,
        lc: &LinkConnection,
        code: u16,
        text: &str,
        message: &str,
    ) -> Result<Connection> {
        let now = self.clock.now();
        let mut errors = lc.connection.errors.clone();
        errors.push(ConnectionError {
            status_code: code.to_string(),
            status_text: text.to_owned(),
            error_message: message.to_owned(),
            errored_on_utc: now,
            status: String::from("Active"),
            resolved_on_utc: None,
        });
        // Keep the newest 20.
        let excess = errors.len().saturating_sub(20);
        errors.drain(..excess);
        let audit = self.audit_entry(&lc.connection, "link.failed", "failure", message.to_owned());
        Ok(self
            .store
            .set_connection_errors(
                lc.company.client_id,
                lc.company.id,
                lc.connection.id,
                &errors,
                &audit,
            )
            .await?
            .unwrap_or_else(|| lc.connection.clone()))
    }

    async fn resolve_errors(&self, connection: &Connection, now: Timestamp) -> Result<()> {
        if connection.errors.iter().all(|e| e.status != "Active") {
            return Ok(());
        }
        let audit = self.audit_entry(
            connection,
            "link.errors_resolved",
            "success",
            String::from("connection errors resolved by a successful Link"),
        );
        self.store
            .set_connection_errors(
                connection.client_id,
                connection.company_id,
                connection.id,
                &resolved(&connection.errors, now),
                &audit,
            )
            .await?;
        Ok(())
    }

    /// Best effort: revokes the held grant at the platform (the business said "not this one").
    async fn revoke_held(&self, lc: &LinkConnection, secrets: &FlowSecrets) {
        let Some(tokens) = secrets.tokens.as_ref() else {
            return;
        };
        let resolved = match self
            .resolve_oauth(
                lc.company.client_id,
                &lc.integration,
                secrets.shop.as_deref(),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "link: cannot resolve the revocation endpoint");
                return;
            }
        };
        let Some(url) = resolved.revoke_url.as_deref() else {
            return;
        };
        let (token, hint) = match &tokens.refresh_token {
            Some(r) => (SecretString::from(r.clone()), "refresh_token"),
            None => (
                SecretString::from(tokens.access_token.clone()),
                "access_token",
            ),
        };
        if let Err(e) = self.oauth.revoke(&resolved.token, url, &token, hint).await {
            tracing::warn!(connection_id = %lc.connection.id, error = %e, "link: revocation failed");
        }
    }

    fn seal_flow(&self, flow_id: &str, secrets: &FlowSecrets) -> Result<Vec<u8>> {
        let mut json = serde_json::to_vec(secrets)
            .map_err(|e| Error::internal(format!("serialising a Link flow: {e}")))?;
        let sealed = self
            .vault
            .seal(Purpose::LinkSession, &flow_aad(flow_id), &json)
            .map_err(|e| Error::internal(format!("sealing a Link flow: {e}")));
        json.zeroize();
        sealed
    }

    fn open_flow(&self, flow: &LinkFlow) -> Result<FlowSecrets> {
        let plain = self
            .vault
            .open(Purpose::LinkSession, &flow_aad(&flow.id), &flow.sealed)
            .map_err(|e| Error::internal(format!("opening a Link flow: {e}")))?;
        serde_json::from_slice(plain.expose())
            .map_err(|_| Error::internal("a Link flow's secrets are not readable"))
    }

    async fn save_flow(&self, flow: &mut LinkFlow, secrets: &FlowSecrets) -> Result<()> {
        let expected = flow.version;
        flow.sealed = self.seal_flow(&flow.id, secrets)?;
        if !self.store.update_link_flow(flow, expected).await? {
            return Err(Error::Conflict(String::from(
                "This step was already answered in another tab.",
            )));
        }
        flow.version += 1;
        Ok(())
    }

    fn audit_entry(
        &self,
        connection: &Connection,
        action: &str,
        outcome: &str,
        detail: String,
    ) -> AuditEntry {
        self.audit_record(
            &Actor::Link,
            connection.client_id,
            (Some(connection.company_id), Some(connection.id)),
            action,
            outcome,
            detail,
        )
    }

    /// Audits a Link step that has no transaction of its own (a failure to audit is logged).
    async fn link_audit(
        &self,
        connection: &Connection,
        action: &str,
        outcome: &str,
        detail: String,
    ) {
        self.audit(
            &Actor::Link,
            connection.client_id,
            (Some(connection.company_id), Some(connection.id)),
            action,
            outcome,
            detail,
        )
        .await;
    }
}

fn hold(t: TokenResponse, now: Timestamp) -> HeldTokens {
    HeldTokens {
        access_token: t.access_token.expose().clone(),
        refresh_token: t.refresh_token.as_ref().map(|r| r.expose().clone()),
        expires_in: t.expires_in,
        token_type: t.token_type.clone(),
        scope: t.scope.clone(),
        issued_at: now.as_millis(),
    }
}

fn short(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(120).collect()
}

fn oauth_failure_status(e: &OAuthError) -> (u16, &'static str) {
    match e {
        OAuthError::Rejected { .. } => (400, "Bad Request"),
        OAuthError::Transient { .. } => (502, "Bad Gateway"),
        OAuthError::Internal(_) => (500, "Internal Server Error"),
    }
}

/// Every active error marked resolved at `now`.
fn resolved(errors: &[ConnectionError], now: Timestamp) -> Vec<ConnectionError> {
    errors
        .iter()
        .cloned()
        .map(|mut e| {
            if e.status == "Active" {
                e.status = String::from("Resolved");
                e.resolved_on_utc = Some(now);
            }
            e
        })
        .collect()
}

/// The setting that holds the chosen organisation's id: `tenantId` if the integration has it,
/// else its first setting not already filled (by a callback parameter or the shop).
fn organisation_field(
    integ: &Integration,
    filled: &serde_json::Map<String, Value>,
) -> Option<String> {
    let settings: Vec<&str> = integ
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Setting)
        .map(|f| f.name.as_str())
        .collect();
    if settings.contains(&"tenantId") {
        return Some(String::from("tenantId"));
    }
    settings
        .into_iter()
        .find(|s| !filled.contains_key(*s))
        .map(str::to_owned)
}

const ID_KEYS: [&str; 5] = ["tenantId", "organisationId", "organizationId", "id", "sub"];
const NAME_KEYS: [&str; 6] = [
    "companyName",
    "tenantName",
    "organisationName",
    "organizationName",
    "name",
    "org_name",
];

/// The organisations in an identity answer: a list (Xero's `/connections`), an object with an
/// `organisations`/`organizations`/`tenants`/`data` list, or one object (OpenID `userinfo`).
pub fn organisations(v: &Value, id_key: Option<&str>, name_key: Option<&str>) -> Vec<Organisation> {
    let list: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => ["organisations", "organizations", "tenants", "data"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array))
            .map(|a| a.iter().collect())
            .unwrap_or_else(|| vec![v]),
        _ => Vec::new(),
    };
    let text = |o: &Value, k: &str| match o.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    list.into_iter()
        .filter_map(|o| {
            let id = match id_key {
                Some(k) => text(o, k),
                None => ID_KEYS.iter().find_map(|k| text(o, k)),
            }?;
            let name = match name_key {
                Some(k) => text(o, k),
                None => NAME_KEYS.iter().find_map(|k| text(o, k)),
            }
            .unwrap_or_else(|| id.clone());
            Some(Organisation {
                id: short(&id),
                name: short(&name),
            })
        })
        .take(100)
        .collect()
}

/// The application's redirect URL with the outcome, when the profile has one and it is allowed:
/// `{companyId}` and `{connectionId}` filled, then `statusCode`, `statusText`, `errorMessage` (on
/// failure) and `connectionId` appended. Allowed means: its origin (scheme, host, port) is the
/// origin of one of `whiteListUrls`, or the list is empty (then the redirect URL, which only
/// the client itself can set, is trusted as is).
pub fn redirect_target(
    profile: &Profile,
    company: CompanyId,
    connection: ConnectionId,
    status_code: u16,
    status_text: &str,
    error_message: Option<&str>,
) -> Option<String> {
    if profile.redirect_url.trim().is_empty() {
        return None;
    }
    let filled = profile
        .redirect_url
        .replace("{companyId}", &company.to_string())
        .replace("{connectionId}", &connection.to_string());
    let mut url = url::Url::parse(&filled).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    if !profile.white_list_urls.is_empty() {
        let origin = url.origin();
        let allowed = profile.white_list_urls.iter().any(|w| {
            let w = w
                .replace("{companyId}", &company.to_string())
                .replace("{connectionId}", &connection.to_string());
            url::Url::parse(&w).is_ok_and(|w| w.origin() == origin)
        });
        if !allowed {
            tracing::warn!(company_id = %company, "link: the profile's redirectUrl is not in whiteListUrls; showing finlink's end page instead");
            return None;
        }
    }
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("statusCode", &status_code.to_string());
        q.append_pair("statusText", status_text);
        if let Some(m) = error_message {
            q.append_pair("errorMessage", m);
        }
        q.append_pair("connectionId", &connection.to_string());
    }
    Some(url.into())
}

/// The language for a page: `?lang=`, then the first supported `Accept-Language` entry (by
/// quality), then the profile's default, then English.
pub fn choose_language(
    query: Option<&str>,
    accept_language: Option<&str>,
    default: Option<&str>,
) -> &'static str {
    let supported = |tag: &str| -> Option<&'static str> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        LANGUAGES.iter().copied().find(|l| *l == primary)
    };
    if let Some(l) = query.and_then(supported) {
        return l;
    }
    if let Some(header) = accept_language {
        let mut tags: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut bits = part.split(';');
                let tag = bits.next()?.trim();
                let q = bits
                    .find_map(|b| b.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0 && !tag.is_empty()).then_some((q, i, tag))
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if let Some(l) = tags.iter().find_map(|(_, _, t)| supported(t)) {
            return l;
        }
    }
    default.and_then(supported).unwrap_or(LANGUAGES[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn languages() {
        assert_eq!(choose_language(Some("fr"), Some("en"), None), "fr");
        assert_eq!(
            choose_language(Some("de"), Some("fr-CA,en;q=0.5"), None),
            "fr"
        );
        assert_eq!(
            choose_language(None, Some("de,en;q=0.4,fr;q=0.8"), None),
            "fr"
        );
        assert_eq!(choose_language(None, Some("de"), Some("fr")), "fr");
        assert_eq!(choose_language(None, Some("fr;q=0"), None), "en");
        assert_eq!(choose_language(None, None, None), "en");
    }

    #[test]
    fn identity_shapes() {
        let sandbox = json!({"organisations": [{"tenantId": "t1", "companyName": "A"}, {"tenantId": "t2", "companyName": "B"}], "tenantId": "t1"});
        assert_eq!(organisations(&sandbox, None, None).len(), 2);
        let xero = json!([{"id": "c", "tenantId": "x1", "tenantName": "Demo Co"}]);
        assert_eq!(
            organisations(&xero, None, None),
            vec![Organisation {
                id: "x1".into(),
                name: "Demo Co".into()
            }]
        );
        let userinfo = json!({"sub": "u-1", "name": "Oidc Org"});
        assert_eq!(
            organisations(&userinfo, None, None),
            vec![Organisation {
                id: "u-1".into(),
                name: "Oidc Org".into()
            }]
        );
        let custom = json!({"sub": "u-1", "org_name": "Custom"});
        assert_eq!(
            organisations(&custom, Some("sub"), Some("org_name"))[0].name,
            "Custom"
        );
        assert!(organisations(&json!("nope"), None, None).is_empty());
    }

    #[test]
    fn redirects_only_to_allowed_origins() {
        let company = CompanyId::from_uuid(uuid::Uuid::nil());
        let connection = ConnectionId::from_uuid(uuid::Uuid::max());
        let mut p = Profile {
            redirect_url: "https://app.example/done/{companyId}?x=1".into(),
            ..Profile::default()
        };
        let url = redirect_target(&p, company, connection, 200, "OK", None).unwrap();
        assert!(url.starts_with("https://app.example/done/00000000-0000-0000-0000-000000000000?x=1&statusCode=200&statusText=OK&connectionId=ffffffff"));
        p.white_list_urls = vec!["https://other.example".into()];
        assert_eq!(
            redirect_target(&p, company, connection, 200, "OK", None),
            None
        );
        p.white_list_urls
            .push("https://app.example/anything".into());
        let url =
            redirect_target(&p, company, connection, 403, "Forbidden", Some("no & way")).unwrap();
        assert!(url.contains("errorMessage=no+%26+way"));
        p.redirect_url = String::new();
        assert_eq!(
            redirect_target(&p, company, connection, 200, "OK", None),
            None
        );
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        assert_ne!(a, random_token(32));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
