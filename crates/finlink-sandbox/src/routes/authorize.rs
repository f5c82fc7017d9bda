//! The authorization endpoint (RFC 6749 4.1.1, RFC 7636): `GET` validates the request and shows
//! the consent page; `POST` is that page's form. The form carries only a random request id;
//! the client, redirect URI, PKCE challenge, scope and state it answers for stay server-side
//! (single use, 10 minutes), so the form cannot be replayed for another client.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use url::Url;

use super::Params;
use crate::Sandbox;
use crate::grants::{self, AuthRequest, SCOPES};
use crate::secret::is_s256_challenge;

struct ScopeLine {
    name: String,
    description: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    client_id: String,
    redirect_origin: String,
    scopes: Vec<ScopeLine>,
    request_id: String,
    company_name: String,
    error: Option<String>,
    extra_organisations: u32,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    title: String,
    message: String,
}

/// Security headers for every page: no caching, no framing, no referrer (the URL holds the
/// state), and a CSP with no script at all. `form_action` lists where the form may lead: the
/// sandbox itself and, after its redirect, the client's redirect URI.
fn page(status: StatusCode, html: Result<String, askama::Error>, form_action: &str) -> Response {
    let html = match html {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot render a page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sandbox failed to render the page.",
            )
                .into_response();
        }
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// A page that explains a request the sandbox cannot send back to the client.
fn message(status: StatusCode, title: &str, message: &str) -> Response {
    let html = MessagePage {
        title: title.to_owned(),
        message: message.to_owned(),
    }
    .render();
    page(status, html, "'none'")
}

fn found(location: &Url) -> Response {
    match HeaderValue::from_str(location.as_str()) {
        Ok(v) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => message(
            StatusCode::BAD_REQUEST,
            "Cannot return to the application",
            "The redirect URI cannot be used in a Location header.",
        ),
    }
}

/// Back to the client with response parameters appended to its redirect URI's query.
fn redirect_to(redirect_uri: &Url, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut url = redirect_uri.clone();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(state) = state {
            q.append_pair("state", state);
        }
    }
    found(&url)
}

/// RFC 6749 4.1.2.1: an error sent back to the client's redirect URI.
fn error_redirect(
    redirect_uri: &Url,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> Response {
    redirect_to(
        redirect_uri,
        &[("error", error), ("error_description", description)],
        state,
    )
}

/// An absolute http(s) URI without fragment (RFC 6749 3.1.2). Any such URI is accepted: the
/// sandbox has no registered redirect URIs.
fn usable_redirect_uri(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("redirect_uri is not an absolute URI ({e})."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("redirect_uri must be an http or https URI.".to_owned());
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err("redirect_uri must not contain a fragment (#...).".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("redirect_uri must name a host.".to_owned());
    }
    Ok(url)
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn scope_lines(scope: &str) -> Vec<ScopeLine> {
    scope
        .split(' ')
        .map(|name| ScopeLine {
            name: name.to_owned(),
            description: SCOPES
                .iter()
                .find(|(s, _)| *s == name)
                .map(|(_, d)| (*d).to_owned())
                .unwrap_or_default(),
        })
        .collect()
}

fn consent(
    sandbox: &Sandbox,
    status: StatusCode,
    req: &AuthRequest,
    redirect_uri: &Url,
    request_id: String,
    company_name: String,
    error: Option<String>,
) -> Response {
    let origin = origin_of(redirect_uri);
    let html = ConsentPage {
        client_id: req.client_id.clone(),
        redirect_origin: origin.clone(),
        scopes: scope_lines(&req.scope),
        request_id,
        company_name,
        error,
        extra_organisations: sandbox
            .inner
            .config
            .organisations_per_grant
            .saturating_sub(1),
    }
    .render();
    page(status, html, &format!("'self' {origin}"))
}

pub(crate) async fn show(State(sandbox): State<Sandbox>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let bad = |m: &str| {
        message(
            StatusCode::BAD_REQUEST,
            "This authorization request is invalid",
            m,
        )
    };

    // Until the client and its redirect URI are trusted, errors are shown here (RFC 6749 4.1.2.1).
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return bad("client_id and redirect_uri must each be sent once.");
    }
    let Some(client_id) = params.get("client_id") else {
        return bad("The request has no client_id.");
    };
    if sandbox.inner.config.client_secret(client_id).is_none() {
        return bad(&format!(
            "The client \"{client_id}\" is not registered with this sandbox."
        ));
    }
    let Some(raw_redirect) = params.get("redirect_uri") else {
        return bad("The request has no redirect_uri.");
    };
    let redirect_uri = match usable_redirect_uri(raw_redirect) {
        Ok(u) => u,
        Err(m) => return bad(&m),
    };

    // From here on, errors go back to the client.
    let state = if params.is_repeated("state") {
        None
    } else {
        params.get("state")
    };
    let fail =
        |error: &str, description: &str| error_redirect(&redirect_uri, error, description, state);
    if let Some(name) = params.first_repeated() {
        return fail(
            "invalid_request",
            &format!("The parameter {name} is repeated."),
        );
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is required (code)."),
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "The sandbox supports response_type=code only.",
            );
        }
    }
    let Some(code_challenge) = params.get("code_challenge") else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge and code_challenge_method=S256.",
        );
    };
    if params.get("code_challenge_method") != Some("S256") {
        return fail(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted).",
        );
    }
    if !is_s256_challenge(code_challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be the 43-character base64url SHA-256 of the code_verifier.",
        );
    }
    let scope = match grants::normalise_scope(params.get("scope")) {
        Ok(s) => s,
        Err(m) => return fail("invalid_scope", &m),
    };

    let req = AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: raw_redirect.to_owned(),
        scope,
        state: state.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
    };
    let stored = req.clone();
    let created = sandbox
        .with_db(move |conn, ctx| {
            let number = grants::next_company_number(conn)?;
            let id = grants::create_request(conn, ctx.now, &stored)?;
            Ok((id, number))
        })
        .await;
    match created {
        Ok((request_id, number)) => consent(
            &sandbox,
            StatusCode::OK,
            &req,
            &redirect_uri,
            request_id,
            grants::default_company_name(number),
            None,
        ),
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot record an authorization request");
            fail("server_error", "The sandbox failed to record the request.")
        }
    }
}

fn expired() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This request has expired",
        "This authorization request was already answered, has expired, or is unknown. Go back to the application and start again.",
    )
}

pub(crate) async fn answer(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let params = Params::parse(&body);
    if params.first_repeated().is_some() {
        return message(
            StatusCode::BAD_REQUEST,
            "This form is invalid",
            "A field of the form was sent more than once.",
        );
    }
    let Some(request_id) = params.get("request").map(str::to_owned) else {
        return expired();
    };
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "This form is invalid",
                "Choose Approve or Deny.",
            );
        }
    };
    let now = sandbox.now();
    let typed = params.get("company_name").unwrap_or_default().to_owned();
    let name = if approve {
        match grants::company_name(&typed) {
            Ok(n) => Some(n),
            Err(problem) => {
                // Show the form again, still bound to the same (unanswered) request.
                let id = request_id.clone();
                let pending = sandbox
                    .with_db(move |conn, _| grants::pending_request(conn, now, &id))
                    .await;
                return match pending {
                    Ok(Some(req)) => match usable_redirect_uri(&req.redirect_uri) {
                        Ok(uri) => consent(
                            &sandbox,
                            StatusCode::BAD_REQUEST,
                            &req,
                            &uri,
                            request_id,
                            typed,
                            Some(problem),
                        ),
                        Err(_) => expired(),
                    },
                    Ok(None) => expired(),
                    Err(e) => {
                        tracing::error!(error = %e, "sandbox: cannot read an authorization request");
                        message(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Something went wrong",
                            "The sandbox failed to read the request. Try again.",
                        )
                    }
                };
            }
        }
    } else {
        None
    };
    let answered = sandbox
        .with_db(move |conn, _| grants::answer_request(conn, now, &request_id, name.as_deref()))
        .await;
    let (req, code) = match answered {
        Ok(Some(a)) => a,
        Ok(None) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot answer an authorization request");
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The sandbox failed to record your answer. Go back to the application and start again.",
            );
        }
    };
    let Ok(redirect_uri) = usable_redirect_uri(&req.redirect_uri) else {
        return expired();
    };
    match code {
        Some(code) => redirect_to(&redirect_uri, &[("code", &code)], req.state.as_deref()),
        None => error_redirect(
            &redirect_uri,
            "access_denied",
            "The user denied access.",
            req.state.as_deref(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        assert!(usable_redirect_uri("https://app.example/cb?x=1").is_ok());
        assert!(usable_redirect_uri("http://127.0.0.1:9/cb").is_ok());
        assert!(usable_redirect_uri("/relative").is_err());
        assert!(usable_redirect_uri("javascript:alert(1)").is_err());
        assert!(usable_redirect_uri("https://app.example/cb#frag").is_err());
    }

    #[test]
    fn redirects_keep_the_existing_query() {
        let u = Url::parse("https://app.example/cb?tenant=1").unwrap();
        let resp = redirect_to(&u, &[("code", "c d")], Some("s&t"));
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(
            resp.headers()[header::LOCATION],
            "https://app.example/cb?tenant=1&code=c+d&state=s%26t"
        );
    }
}
