//! The hosted Link pages (`/link/...`): what a business customer sees to connect its platform.
//! Server-rendered, no script, every asset served by finlink. The journey's rules live in
//! `finlink_app::link`; this module turns requests into calls and answers into pages.
//!
//! - `GET  /link/company/{companyId}`: the platforms, the company's connections, a search box.
//! - `POST /link/company/{companyId}/connect`: a platform was chosen.
//! - `GET  /link/companies/{companyId}/connections/{connectionId}/start`: into its authorisation.
//! - `POST .../shop`, `POST .../credentials`: the shop-address and API-key forms.
//! - `GET  .../done`: the end page (success or failure, with a way to try again).
//! - `GET  /link/oauth/callback`: the one OAuth callback of the installation.
//! - `GET|POST /link/flows/{flowId}/organisation|confirm`: steps after the callback.
//! - `GET  /link/assets/link.css`, `/link/assets/theme/{RRGGBB}.css`.
//!
//! A random `finlink_link` cookie (HttpOnly, SameSite=Lax, path `/link`) identifies the browser:
//! flows are bound to it, and forms carry a CSRF token sealed for it.

pub mod i18n;
pub mod pages;

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use finlink_app::link::{
    LinkCompany, LinkConnection, LinkOutcome, LinkStep, Refusal, choose_language, random_token,
};
use finlink_domain::Error;
use finlink_domain::connection::{ConnectionStatus, SourceType};
use finlink_domain::ids::{CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, Integration};
use finlink_domain::profile::Profile;

use crate::middleware::CorrelationId;
use crate::state::HttpState;
use pages::{Chrome, Policy, html};

const COOKIE: &str = "finlink_link";
const CSS: &str = include_str!("../../assets/link.css");

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/link/company/{company}", get(company_page))
        .route("/link/company/{company}/connect", post(connect))
        .route(
            "/link/companies/{company}/connections/{connection}/start",
            get(start),
        )
        .route(
            "/link/companies/{company}/connections/{connection}/shop",
            post(shop_submit),
        )
        .route(
            "/link/companies/{company}/connections/{connection}/credentials",
            post(credentials_submit),
        )
        .route(
            "/link/companies/{company}/connections/{connection}/done",
            get(done),
        )
        .route(finlink_app::link::CALLBACK_PATH, get(callback))
        .route(
            "/link/flows/{flow}/organisation",
            get(flow_step_page).post(organisation_submit),
        )
        .route(
            "/link/flows/{flow}/confirm",
            get(flow_step_page).post(confirm_submit),
        )
        .route("/link/assets/link.css", get(stylesheet))
        .route("/link/assets/theme/{file}", get(theme))
}

// -- request helpers ----------------------------------------------------------------------------

/// Query or form parameters (the first value of each name).
fn params(raw: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn query(raw: &Option<String>) -> BTreeMap<String, String> {
    params(raw.as_deref().unwrap_or("").as_bytes())
}

fn browser(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && v.len() >= 32 && v.len() <= 64)
        .map(|(_, v)| v.to_owned())
}

/// The browser id, and the `Set-Cookie` to send when the browser had none.
fn ensure_browser(s: &HttpState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(b) = browser(headers) {
        return (b, None);
    }
    let id = random_token(32);
    let secure = if s.app.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{COOKIE}={id}; Path=/link; HttpOnly; SameSite=Lax; Max-Age=86400{secure}");
    (id, HeaderValue::from_str(&cookie).ok())
}

fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

fn lang_of(q: &BTreeMap<String, String>, headers: &HeaderMap, profile: &Profile) -> &'static str {
    choose_language(
        q.get("lang").map(String::as_str),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        profile.default_language.as_deref(),
    )
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut res = StatusCode::SEE_OTHER.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin().ascii_serialization())
}

fn logo(i: &Integration) -> String {
    format!("/assets/logos/{}.svg", i.slug)
}

fn company_path(company: CompanyId) -> String {
    format!("/link/company/{company}")
}

fn connection_path(company: CompanyId, connection: ConnectionId, step: &str) -> String {
    format!("/link/companies/{company}/connections/{connection}/{step}")
}

fn with_lang(path: &str, lang: &str) -> String {
    format!("{path}?lang={lang}")
}

/// Origins a page's forms may end up at: the platforms' authorization pages (a form's answer
/// can redirect there; relative ones are finlink itself). The way back to the application is a
/// hand-over page, not a redirect, so its origin is not needed here.
fn form_origins<'a>(integrations: impl Iterator<Item = &'a Integration>) -> Vec<String> {
    let mut out: Vec<String> = integrations
        .filter_map(|i| i.oauth.as_ref())
        .filter(|o| !o.authorize_url.contains("{shop}"))
        .filter_map(|o| origin_of(&o.authorize_url))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn policy(c: &Chrome, form_origins: Vec<String>) -> Policy {
    Policy {
        img_origins: c.logo_origin().into_iter().collect(),
        form_origins,
    }
}

// -- error pages -------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn message_page(
    status: StatusCode,
    lang: &'static str,
    profile: &Profile,
    path: &str,
    title_id: &str,
    heading: String,
    paragraphs: Vec<String>,
    action: Option<(String, String)>,
) -> Response {
    let c = Chrome::new(lang, profile, path);
    let (action_href, action_label) = match action {
        Some((h, l)) => (Some(h), l),
        None => (None, String::new()),
    };
    let page = pages::MessagePage {
        title: c.t.get(title_id),
        heading,
        paragraphs,
        action_href,
        action_label,
        c,
    };
    let p = policy(&page.c, Vec::new());
    html(status, page.render(), &p)
}

/// A domain error as a page in the visitor's language.
fn error_page(
    e: Error,
    lang: &'static str,
    profile: &Profile,
    path: &str,
    correlation: &CorrelationId,
) -> Response {
    let t = i18n::Tr::new(lang);
    match e {
        Error::NotFound { .. } => message_page(
            StatusCode::NOT_FOUND,
            lang,
            profile,
            path,
            "notfound-title",
            t.get("notfound-heading"),
            vec![t.get("notfound-body")],
            None,
        ),
        Error::Conflict(detail) => message_page(
            StatusCode::CONFLICT,
            lang,
            profile,
            path,
            "error-title",
            t.get("error-heading"),
            vec![t.arg("conflict-body", "detail", &detail)],
            None,
        ),
        other => {
            tracing::error!(correlation_id = %correlation.0, error = %other, "link: a step failed");
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                profile,
                path,
                "error-title",
                t.get("error-heading"),
                vec![
                    t.get("error-body"),
                    t.arg("error-reference", "reference", &correlation.0),
                ],
                None,
            )
        }
    }
}

fn not_found(lang: &'static str, path: &str) -> Response {
    let t = i18n::Tr::new(lang);
    message_page(
        StatusCode::NOT_FOUND,
        lang,
        &neutral_profile(),
        path,
        "notfound-title",
        t.get("notfound-heading"),
        vec![t.get("notfound-body")],
        None,
    )
}

/// Branding for pages that belong to no known client.
fn neutral_profile() -> Profile {
    Profile {
        name: String::from("finlink"),
        ..Profile::default()
    }
}

fn csrf_refused(lang: &'static str, profile: &Profile, path: &str) -> Response {
    let t = i18n::Tr::new(lang);
    message_page(
        StatusCode::FORBIDDEN,
        lang,
        profile,
        path,
        "error-title",
        t.get("error-heading"),
        vec![t.get("csrf-body")],
        None,
    )
}

fn refused_page(r: Refusal, lang: &'static str, path: &str) -> Response {
    let t = i18n::Tr::new(lang);
    let key = match r {
        Refusal::Unknown => "refused-generic",
        Refusal::Replayed => "refused-Replayed",
        Refusal::Expired => "refused-Expired",
        Refusal::OtherBrowser => "refused-OtherBrowser",
    };
    message_page(
        StatusCode::BAD_REQUEST,
        lang,
        &neutral_profile(),
        path,
        "refused-title",
        t.get("refused-heading"),
        vec![t.get(key), t.get("nothing-changed")],
        None,
    )
}

// -- pages ---------------------------------------------------------------------------------------

fn parse_company(s: &str) -> Option<CompanyId> {
    CompanyId::parse(s).ok()
}

async fn company_page(
    State(s): State<HttpState>,
    Path(company): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
) -> Response {
    let q = query(&raw);
    let Some(company) = parse_company(&company) else {
        return not_found(lang_of(&q, &headers, &Profile::default()), "/link");
    };
    let page = match s.app.link_company(company).await {
        Ok(p) => p,
        Err(e) => {
            let lang = lang_of(&q, &headers, &Profile::default());
            return error_page(e, lang, &neutral_profile(), &company_path(company), &cid);
        }
    };
    let lang = lang_of(&q, &headers, &page.profile);
    let (browser, cookie) = ensure_browser(&s, &headers);
    let search = q
        .get("q")
        .map(|v| v.trim().chars().take(100).collect::<String>())
        .unwrap_or_default();
    match render_company(&s, &page, lang, &browser, &search) {
        Ok(res) => with_cookie(res, cookie),
        Err(e) => error_page(e, lang, &page.profile, &company_path(company), &cid),
    }
}

fn render_company(
    s: &HttpState,
    page: &LinkCompany,
    lang: &'static str,
    browser: &str,
    search: &str,
) -> Result<Response, Error> {
    let path = company_path(page.company.id);
    let c = Chrome::new(lang, &page.profile, &path);
    let t = c.t;
    let accounting_linked =
        page.company.connections.iter().any(|x| {
            x.source_type == SourceType::Accounting && x.status == ConnectionStatus::Linked
        });
    // A company has one accounting connection: once one exists beyond an unfinished attempt
    // (linked, or to be reconnected from the list above), other accounting platforms are not
    // offered.
    let accounting_taken = page.company.connections.iter().any(|x| {
        x.source_type == SourceType::Accounting && x.status != ConnectionStatus::PendingAuth
    });
    let needle = search.to_lowercase();
    let mut groups: Vec<pages::Group> = Vec::new();
    for source in [
        SourceType::Accounting,
        SourceType::Banking,
        SourceType::Commerce,
        SourceType::Other,
    ] {
        if source == SourceType::Accounting && accounting_taken {
            continue;
        }
        let platforms: Vec<pages::PlatformButton> = page
            .integrations
            .iter()
            .filter(|i| {
                let st = match i.source_type {
                    SourceType::Accounting | SourceType::Banking | SourceType::Commerce => {
                        i.source_type
                    }
                    _ => SourceType::Other,
                };
                st == source
            })
            .filter(|i| {
                needle.is_empty()
                    || i.name.to_lowercase().contains(&needle)
                    || i.slug.contains(&needle)
            })
            .map(|i| pages::PlatformButton {
                key: i.key.clone(),
                name: i.name.clone(),
                label: t.arg("connect-platform", "platform", &i.name),
                logo: logo(i),
                beta: i.is_beta,
            })
            .collect();
        if platforms.is_empty() {
            continue;
        }
        let source_name = match source {
            SourceType::Accounting => "Accounting",
            SourceType::Banking => "Banking",
            SourceType::Commerce => "Commerce",
            _ => "Other",
        };
        groups.push(pages::Group {
            source: source_name.to_owned(),
            title: t.get(&format!("source-{source_name}")),
            count_label: t.count("platform-count", platforms.len()),
            why: t.arg(&format!("why-{source_name}"), "client", &page.profile.name),
            platforms,
        });
    }
    let connections = page
        .company
        .connections
        .iter()
        .filter_map(|conn| {
            let integ = s.app.catalog.get(&conn.integration_key)?;
            let (action_href, action_label) = match conn.status {
                ConnectionStatus::Linked => (None, String::new()),
                ConnectionStatus::PendingAuth => (
                    Some(with_lang(
                        &connection_path(page.company.id, conn.id, "start"),
                        lang,
                    )),
                    t.get("finish"),
                ),
                ConnectionStatus::Deauthorized | ConnectionStatus::Unlinked => (
                    Some(with_lang(
                        &connection_path(page.company.id, conn.id, "start"),
                        lang,
                    )),
                    t.get("reconnect"),
                ),
            };
            Some(pages::ConnectionLine {
                platform: conn.platform_name.clone(),
                logo: logo(integ),
                status: conn.status.as_str().to_owned(),
                status_label: t.get(&format!("status-{}", conn.status.as_str())),
                since: if conn.status == ConnectionStatus::Linked {
                    t.arg("linked-since", "date", &t.date(conn.modified))
                } else {
                    t.arg("started-on", "date", &t.date(conn.created))
                },
                action_href,
                action_label,
            })
        })
        .collect();
    let csrf = s.app.link_csrf_token(browser)?;
    let origins = form_origins(page.integrations.iter());
    let tpl = pages::CompanyPage {
        title: t.arg("company-title", "company", &page.company.name),
        company_name: page.company.name.clone(),
        self_path: path.clone(),
        connect_path: format!("{path}/connect"),
        csrf,
        query: search.to_owned(),
        groups,
        connections,
        accounting_linked,
        c,
    };
    let p = policy(&tpl.c, origins);
    Ok(html(StatusCode::OK, tpl.render(), &p))
}

async fn connect(
    State(s): State<HttpState>,
    Path(company): Path<String>,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
    body: Bytes,
) -> Response {
    let form = params(&body);
    let Some(company) = parse_company(&company) else {
        return not_found("en", "/link");
    };
    let page = match s.app.link_company(company).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "en", &neutral_profile(), &company_path(company), &cid),
    };
    let lang = lang_of(&form, &headers, &page.profile);
    if !s.app.link_csrf_ok(
        browser(&headers).as_deref(),
        form.get("csrf").map(String::as_str),
    ) {
        return csrf_refused(lang, &page.profile, &company_path(company));
    }
    let key = form
        .get("integration")
        .map(String::as_str)
        .unwrap_or_default();
    match s.app.link_choose(company, key).await {
        Ok(conn) => see_other(&with_lang(
            &connection_path(company, conn.id, "start"),
            lang,
        )),
        Err(e) => error_page(e, lang, &page.profile, &company_path(company), &cid),
    }
}

async fn load_connection(
    s: &HttpState,
    company: &str,
    connection: &str,
) -> Result<LinkConnection, Error> {
    let company = CompanyId::parse(company).map_err(|_| Error::NotFound {
        message: String::new(),
    })?;
    let connection = ConnectionId::parse(connection).map_err(|_| Error::NotFound {
        message: String::new(),
    })?;
    s.app.link_connection(company, connection).await
}

async fn start(
    State(s): State<HttpState>,
    Path((company, connection)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
) -> Response {
    let q = query(&raw);
    let lc = match load_connection(&s, &company, &connection).await {
        Ok(lc) => lc,
        Err(e) => {
            let lang = lang_of(&q, &headers, &Profile::default());
            return error_page(e, lang, &neutral_profile(), "/link", &cid);
        }
    };
    let lang = lang_of(&q, &headers, &lc.profile);
    let (browser, cookie) = ensure_browser(&s, &headers);
    let res = start_response(&s, &lc, lang, &browser, &cid).await;
    with_cookie(res, cookie)
}

async fn start_response(
    s: &HttpState,
    lc: &LinkConnection,
    lang: &'static str,
    browser: &str,
    cid: &CorrelationId,
) -> Response {
    let integ = &lc.integration;
    let path = connection_path(lc.company.id, lc.connection.id, "start");
    let back = with_lang(&company_path(lc.company.id), lang);
    let c = Chrome::new(lang, &lc.profile, &path);
    let t = c.t;
    if lc.connection.status == ConnectionStatus::Linked {
        return message_page(
            StatusCode::OK,
            lang,
            &lc.profile,
            &path,
            "linked-title",
            t.arg("linked-title", "platform", &integ.name),
            vec![t.get("linked-body")],
            Some((back, t.get("add-another"))),
        );
    }
    match integ.auth_type {
        AuthType::Oauth2 => {
            let per_shop = integ.oauth.as_ref().is_some_and(|o| o.per_shop_urls);
            if per_shop {
                return shop_form(s, lc, c, browser, String::new(), false, back);
            }
            match s.app.link_begin_oauth(lc, browser, lang, None).await {
                Ok(url) => see_other(&url),
                Err(e) => error_page(e, lang, &lc.profile, &path, cid),
            }
        }
        AuthType::ApiKey | AuthType::Basic => fields_form(
            s,
            lc,
            c,
            browser,
            &BTreeMap::new(),
            None,
            back,
            StatusCode::OK,
        ),
        AuthType::OnPremise => {
            let tpl = pages::OnPremisePage {
                title: t.arg("onprem-title", "platform", &integ.name),
                platform: integ.name.clone(),
                logo: logo(integ),
                licence_key: lc.company.id.to_string(),
                back,
                c,
            };
            let p = policy(&tpl.c, Vec::new());
            html(StatusCode::OK, tpl.render(), &p)
        }
    }
}

fn shop_form(
    s: &HttpState,
    lc: &LinkConnection,
    c: Chrome,
    browser: &str,
    value: String,
    invalid: bool,
    back: String,
) -> Response {
    let integ = &lc.integration;
    let csrf = s.app.link_csrf_token(browser).unwrap_or_default();
    let tpl = pages::ShopPage {
        title: c.t.arg("shop-title", "platform", &integ.name),
        platform: integ.name.clone(),
        logo: logo(integ),
        action: connection_path(lc.company.id, lc.connection.id, "shop"),
        csrf,
        value,
        invalid,
        back,
        c,
    };
    // The form's answer redirects to the shop's own host, which only the answer knows.
    let origins = vec![String::from("https:")];
    let p = policy(&tpl.c, origins);
    html(
        if invalid {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        tpl.render(),
        &p,
    )
}

/// A connection form's POST: its fields, the connection, the language, the page path and the
/// browser, once the CSRF token is checked; or the page to answer instead.
async fn connection_form(
    s: &HttpState,
    company: &str,
    connection: &str,
    headers: &HeaderMap,
    cid: &CorrelationId,
    body: &Bytes,
) -> Result<
    (
        BTreeMap<String, String>,
        LinkConnection,
        &'static str,
        String,
        String,
    ),
    Box<Response>,
> {
    let form = params(body);
    let lc = match load_connection(s, company, connection).await {
        Ok(lc) => lc,
        Err(e) => {
            return Err(Box::new(error_page(
                e,
                "en",
                &neutral_profile(),
                "/link",
                cid,
            )));
        }
    };
    let lang = lang_of(&form, headers, &lc.profile);
    let path = connection_path(lc.company.id, lc.connection.id, "start");
    let b = browser(headers);
    if !s
        .app
        .link_csrf_ok(b.as_deref(), form.get("csrf").map(String::as_str))
    {
        return Err(Box::new(csrf_refused(lang, &lc.profile, &path)));
    }
    let b = b.unwrap_or_default();
    Ok((form, lc, lang, path, b))
}

async fn shop_submit(
    State(s): State<HttpState>,
    Path((company, connection)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
    body: Bytes,
) -> Response {
    let (form, lc, lang, path, b) =
        match connection_form(&s, &company, &connection, &headers, &cid, &body).await {
            Ok(x) => x,
            Err(res) => return *res,
        };
    let raw = form.get("shop").cloned().unwrap_or_default();
    let back = with_lang(&company_path(lc.company.id), lang);
    // The app checks the address against the integration's shop pattern.
    match s
        .app
        .link_begin_oauth(&lc, &b, lang, Some(raw.clone()))
        .await
    {
        Ok(url) => see_other(&url),
        Err(Error::Validation { .. }) => {
            let c = Chrome::new(lang, &lc.profile, &path);
            shop_form(&s, &lc, c, &b, raw.chars().take(200).collect(), true, back)
        }
        Err(e) => error_page(e, lang, &lc.profile, &path, &cid),
    }
}

#[allow(clippy::too_many_arguments)]
fn fields_form(
    s: &HttpState,
    lc: &LinkConnection,
    c: Chrome,
    browser: &str,
    values: &BTreeMap<String, String>,
    error: Option<String>,
    back: String,
    status: StatusCode,
) -> Response {
    let integ = &lc.integration;
    let csrf = s.app.link_csrf_token(browser).unwrap_or_default();
    let fields = integ
        .fields
        .iter()
        .map(|f| pages::FormField {
            name: f.name.clone(),
            label: f.label.clone(),
            help: f.help.clone(),
            secret: f.secret,
            required: f.required,
            value: if f.secret {
                String::new()
            } else {
                values.get(&f.name).cloned().unwrap_or_default()
            },
        })
        .collect();
    let tpl = pages::FormPage {
        title: c.t.arg("form-title", "platform", &integ.name),
        platform: integ.name.clone(),
        logo: logo(integ),
        action: connection_path(lc.company.id, lc.connection.id, "credentials"),
        csrf,
        fields,
        error,
        back,
        c,
    };
    let origins = Vec::new();
    let p = policy(&tpl.c, origins);
    html(status, tpl.render(), &p)
}

async fn credentials_submit(
    State(s): State<HttpState>,
    Path((company, connection)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
    body: Bytes,
) -> Response {
    let (form, lc, lang, path, b) =
        match connection_form(&s, &company, &connection, &headers, &cid, &body).await {
            Ok(x) => x,
            Err(res) => return *res,
        };
    let back = with_lang(&company_path(lc.company.id), lang);
    let values: BTreeMap<String, String> = lc
        .integration
        .fields
        .iter()
        .filter_map(|f| form.get(&f.name).map(|v| (f.name.clone(), v.clone())))
        .collect();
    let t = i18n::Tr::new(lang);
    let platform = lc.integration.name.clone();
    // Required fields first, with a message in the visitor's language.
    if let Some(missing) = lc
        .integration
        .fields
        .iter()
        .find(|f| f.required && values.get(&f.name).is_none_or(|v| v.trim().is_empty()))
    {
        let c = Chrome::new(lang, &lc.profile, &path);
        let msg = t.arg("form-missing", "field", &missing.label);
        return fields_form(
            &s,
            &lc,
            c,
            &b,
            &values,
            Some(msg),
            back,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match s.app.link_submit_fields(&lc, &values, lang).await {
        Ok(outcome) => finished(&outcome),
        Err(e) => {
            let msg = match &e {
                Error::Validation { .. } => t.arg("form-rejected", "platform", &platform),
                Error::Unavailable(_) => t.arg("form-unavailable", "platform", &platform),
                _ => return error_page(e, lang, &lc.profile, &path, &cid),
            };
            let c = Chrome::new(lang, &lc.profile, &path);
            fields_form(
                &s,
                &lc,
                c,
                &b,
                &values,
                Some(msg),
                back,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// The end of an attempt: the application's redirect URL when it has an allowed one, else
/// finlink's own end page.
fn finished(o: &LinkOutcome) -> Response {
    match &o.redirect {
        Some(url) => {
            let c = Chrome::new(
                static_lang(&o.lang),
                &o.profile,
                &company_path(o.company_id),
            );
            let tpl = pages::ReturnPage {
                title: c.t.arg("return-title", "client", &o.profile.name),
                target: url.clone(),
                c,
            };
            let p = policy(&tpl.c, Vec::new());
            html(StatusCode::OK, tpl.render(), &p)
        }
        None => see_other(&with_lang(
            &connection_path(o.company_id, o.connection_id, "done"),
            &o.lang,
        )),
    }
}

async fn done(
    State(s): State<HttpState>,
    Path((company, connection)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
) -> Response {
    let q = query(&raw);
    let lc = match load_connection(&s, &company, &connection).await {
        Ok(lc) => lc,
        Err(e) => {
            return error_page(
                e,
                lang_of(&q, &headers, &Profile::default()),
                &neutral_profile(),
                "/link",
                &cid,
            );
        }
    };
    let lang = lang_of(&q, &headers, &lc.profile);
    let path = connection_path(lc.company.id, lc.connection.id, "done");
    let c = Chrome::new(lang, &lc.profile, &path);
    let t = c.t;
    let success = lc.connection.status == ConnectionStatus::Linked;
    let last_error = lc
        .connection
        .errors
        .iter()
        .rev()
        .find(|e| e.status == "Active");
    let tpl = pages::EndPage {
        title: t.get(if success {
            "success-title"
        } else {
            "failure-title"
        }),
        platform: lc.integration.name.clone(),
        success,
        denied: last_error.is_some_and(|e| e.status_code == "403"),
        detail: last_error
            .filter(|e| e.status_code != "403")
            .map(|e| e.error_message.clone()),
        retry: with_lang(
            &connection_path(lc.company.id, lc.connection.id, "start"),
            lang,
        ),
        back: with_lang(&company_path(lc.company.id), lang),
        c,
    };
    let p = policy(&tpl.c, Vec::new());
    html(StatusCode::OK, tpl.render(), &p)
}

// -- OAuth callback and the steps after it -----------------------------------------------------

async fn callback(
    State(s): State<HttpState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
) -> Response {
    let q = query(&raw);
    let lang = lang_of(&BTreeMap::new(), &headers, &Profile::default());
    match s.app.link_callback(&q, browser(&headers).as_deref()).await {
        Ok(step) => step_response(step, lang),
        Err(e) => error_page(e, lang, &neutral_profile(), "/link", &cid),
    }
}

fn step_response(step: LinkStep, lang: &'static str) -> Response {
    match step {
        LinkStep::ChooseOrganisation { flow_id, lang, .. } => see_other(&with_lang(
            &format!("/link/flows/{flow_id}/organisation"),
            &lang,
        )),
        LinkStep::ConfirmCompany { flow_id, lang, .. } => {
            see_other(&with_lang(&format!("/link/flows/{flow_id}/confirm"), &lang))
        }
        LinkStep::StartOver { company_id, lang } => {
            see_other(&with_lang(&company_path(company_id), &lang))
        }
        LinkStep::Finished(outcome) => finished(&outcome),
        LinkStep::Refused(r) => refused_page(r, lang, "/link"),
    }
}

fn static_lang(l: &str) -> &'static str {
    finlink_app::link::LANGUAGES
        .iter()
        .copied()
        .find(|x| *x == l)
        .unwrap_or("en")
}

/// Renders the organisation or confirmation step of a flow, or refuses.
async fn flow_page(
    s: &HttpState,
    flow: &str,
    headers: &HeaderMap,
    cid: &CorrelationId,
    invalid: bool,
) -> Response {
    let fallback = lang_of(&BTreeMap::new(), headers, &Profile::default());
    let b = browser(headers);
    let (step, lc) = match s.app.link_flow_step(flow, b.as_deref()).await {
        Ok((step, Some(lc))) => (step, lc),
        Ok((step, None)) => return step_response(step, fallback),
        Err(e) => return error_page(e, fallback, &neutral_profile(), "/link", cid),
    };
    let csrf = s
        .app
        .link_csrf_token(b.as_deref().unwrap_or_default())
        .unwrap_or_default();
    let origins = form_origins(std::iter::once(&lc.integration));
    match step {
        LinkStep::ChooseOrganisation {
            flow_id,
            platform_name,
            organisations,
            lang,
        } => {
            let path = format!("/link/flows/{flow_id}/organisation");
            let c = Chrome::new(static_lang(&lang), &lc.profile, &path);
            let tpl = pages::OrganisationPage {
                title: c.t.get("org-title"),
                platform: platform_name,
                company_name: lc.company.name.clone(),
                action: path.clone(),
                csrf,
                invalid,
                organisations: organisations
                    .into_iter()
                    .map(|o| pages::OrganisationChoice {
                        id: o.id,
                        name: o.name,
                    })
                    .collect(),
                c,
            };
            let p = policy(&tpl.c, origins);
            html(StatusCode::OK, tpl.render(), &p)
        }
        LinkStep::ConfirmCompany {
            flow_id,
            platform_name,
            company_name,
            lang,
        } => {
            let path = format!("/link/flows/{flow_id}/confirm");
            let c = Chrome::new(static_lang(&lang), &lc.profile, &path);
            let tpl = pages::ConfirmPage {
                title: c.t.get("confirm-title"),
                platform: platform_name,
                found_name: company_name,
                action: path.clone(),
                csrf,
                c,
            };
            let p = policy(&tpl.c, origins);
            html(StatusCode::OK, tpl.render(), &p)
        }
        other => step_response(other, fallback),
    }
}

/// `GET` of a flow's organisation or confirmation page: the flow's stage decides which.
async fn flow_step_page(
    State(s): State<HttpState>,
    Path(flow): Path<String>,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
) -> Response {
    flow_page(&s, &flow, &headers, &cid, false).await
}

/// A checked flow form: its fields, the fallback language, the browser.
type FlowForm = (BTreeMap<String, String>, &'static str, Option<String>);

/// A flow form's POST: its fields, the fallback language and the browser, once the CSRF token is
/// checked; or the page to answer instead.
fn flow_form(s: &HttpState, headers: &HeaderMap, body: &Bytes) -> Result<FlowForm, Box<Response>> {
    let form = params(body);
    let lang = lang_of(&BTreeMap::new(), headers, &Profile::default());
    let b = browser(headers);
    if !s
        .app
        .link_csrf_ok(b.as_deref(), form.get("csrf").map(String::as_str))
    {
        return Err(Box::new(csrf_refused(lang, &neutral_profile(), "/link")));
    }
    Ok((form, lang, b))
}

async fn organisation_submit(
    State(s): State<HttpState>,
    Path(flow): Path<String>,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
    body: Bytes,
) -> Response {
    let (form, lang, b) = match flow_form(&s, &headers, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let org = form
        .get("organisation")
        .map(String::as_str)
        .unwrap_or_default();
    match s
        .app
        .link_choose_organisation(&flow, b.as_deref(), org)
        .await
    {
        Ok(step) => step_response(step, lang),
        Err(Error::Validation { .. }) => flow_page(&s, &flow, &headers, &cid, true).await,
        Err(e) => error_page(e, lang, &neutral_profile(), "/link", &cid),
    }
}

async fn confirm_submit(
    State(s): State<HttpState>,
    Path(flow): Path<String>,
    headers: HeaderMap,
    axum::Extension(cid): axum::Extension<CorrelationId>,
    body: Bytes,
) -> Response {
    let (form, lang, b) = match flow_form(&s, &headers, &body) {
        Ok(x) => x,
        Err(res) => return *res,
    };
    let yes = match form.get("answer").map(String::as_str) {
        Some("yes") => true,
        Some("no") => false,
        _ => return flow_page(&s, &flow, &headers, &cid, false).await,
    };
    match s.app.link_confirm(&flow, b.as_deref(), yes).await {
        Ok(step) => step_response(step, lang),
        Err(e) => error_page(e, lang, &neutral_profile(), "/link", &cid),
    }
}

// -- assets --------------------------------------------------------------------------------------

fn css(body: String) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

async fn stylesheet() -> Response {
    css(CSS.to_owned())
}

async fn theme(Path(file): Path<String>) -> Response {
    match file
        .strip_suffix(".css")
        .and_then(|hex| pages::theme_css(&hex.to_ascii_lowercase()))
    {
        Some(body) => css(body),
        None => not_found("en", "/link"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        let v = "a".repeat(43);
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE}={v}"))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(browser(&h).as_deref(), Some(v.as_str()));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("finlink_link=short"),
        );
        assert_eq!(browser(&h), None);
    }
}
