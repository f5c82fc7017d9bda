#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The sandbox authorization server over real HTTP: a loopback listener, `reqwest`, and a
//! `ManualClock` to move time.

use std::sync::Arc;

use axum::Router;
use finlink_domain::{ManualClock, Timestamp};
use finlink_sandbox::{Failure, Sandbox, SandboxConfig};
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use url::Url;

const CLIENT: &str = "finlink-sandbox";
const SECRET: &str = "sandbox-secret";
const REDIRECT: &str = "https://app.example/oauth/callback?from=finlink";
/// RFC 7636 Appendix B: a verifier and its S256 challenge, computed independently of the sandbox.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const START_MS: i64 = 1_800_000_000_000;

struct Env {
    base: String,
    sandbox: Sandbox,
    clock: ManualClock,
    http: Client,
}

async fn serve(sandbox: &Sandbox) -> String {
    let app = Router::new().nest("/sandbox", sandbox.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/sandbox")
}

fn http() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

async fn start(config: SandboxConfig) -> Env {
    let clock = ManualClock::new(Timestamp::from_millis(START_MS));
    let sandbox = Sandbox::open(None, config, Arc::new(clock.clone())).unwrap();
    let base = serve(&sandbox).await;
    Env {
        base,
        sandbox,
        clock,
        http: http(),
    }
}

fn authorize_params(state: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("scope", "accounting.read offline_access"),
        ("state", state),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn hidden_request_id(html: &str) -> String {
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).expect("the form has a request id") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

fn query_of(location: &str) -> Vec<(String, String)> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn advance_secs(clock: &ManualClock, s: i64) {
    clock.advance_millis(s * 1000);
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn authorize_get(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url("/oauth/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    async fn consent_page(&self, state: &str) -> String {
        let resp = self.authorize_get(&authorize_params(state)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }

    async fn answer(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/authorize"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Runs the consent step and returns the `Location` the browser is sent to.
    async fn approve(&self, company: &str, state: &str) -> String {
        let html = self.consent_page(state).await;
        let request = hidden_request_id(&html);
        let resp = self
            .answer(&[
                ("request", &request),
                ("company_name", company),
                ("decision", "approve"),
            ])
            .await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        resp.headers()[LOCATION].to_str().unwrap().to_owned()
    }

    async fn code(&self, company: &str) -> String {
        let location = self.approve(company, "st").await;
        param(&location, "code").unwrap()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth(CLIENT, Some(SECRET))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn exchange(&self, code: &str, verifier: &str, redirect: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// A full code flow: the token response.
    async fn connect(&self, company: &str) -> Value {
        let code = self.code(company).await;
        let (status, body) = self.exchange(&code, VERIFIER, REDIRECT).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn bearer_get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn identity(&self, token: &str) -> (StatusCode, Value) {
        self.bearer_get("/oauth/identity", token).await
    }

    async fn revoke(&self, form: &[(&str, &str)]) -> StatusCode {
        self.http
            .post(self.url("/oauth/revoke"))
            .basic_auth(CLIENT, Some(SECRET))
            .form(form)
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[tokio::test]
async fn code_flow_with_pkce() {
    let env = start(SandboxConfig::default()).await;

    let resp = env.authorize_get(&authorize_params("xyz")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = resp.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"));
    assert!(csp.contains("form-action 'self' https://app.example"));
    let html = resp.text().await.unwrap();
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(html.contains("<label for=\"company_name\">"));
    assert!(html.contains("id=\"company_name\""));
    assert!(html.contains("value=\"Sandbox Company 1\""));
    assert!(html.contains("value=\"approve\""));
    assert!(html.contains("value=\"deny\""));
    assert!(html.contains("href=\"../assets/sandbox.css\""));
    assert!(!html.contains("http://") && !html.contains("https://cdn"));

    let request = hidden_request_id(&html);
    let resp = env
        .answer(&[
            ("request", &request),
            ("company_name", "Acme <Ltd>"),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://app.example/oauth/callback?from=finlink&code="));
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    let code = param(&location, "code").unwrap();

    // The same consent form cannot be answered twice.
    let again = env
        .answer(&[
            ("request", &request),
            ("company_name", "X"),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(tokens["scope"], "accounting.read offline_access");
    assert!(s(&tokens["access_token"]).len() > 40);
    assert!(s(&tokens["refresh_token"]).len() > 40);
    assert!(tokens.get("tenant_id").is_none() && tokens.get("tenantId").is_none());

    let (status, id) = env.identity(s(&tokens["access_token"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id["companyName"], "Acme <Ltd>");
    assert_eq!(id["organisations"].as_array().unwrap().len(), 1);
    assert_eq!(id["organisations"][0]["tenantId"], id["tenantId"]);
    assert_eq!(id["organisations"][0]["companyName"], "Acme <Ltd>");
    let (status, ping) = env
        .bearer_get("/api/ping", s(&tokens["access_token"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ping, json!({"ok": true, "tenantId": id["tenantId"]}));

    // Reusing the code is refused, and the tokens issued from it are revoked (RFC 6749 4.1.2).
    let (status, err) = env.exchange(&code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    let (status, _) = env.identity(s(&tokens["access_token"])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = env.refresh(s(&tokens["refresh_token"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let stats = env.sandbox.stats();
    assert_eq!(stats.code_exchanges, 2);
    assert_eq!(stats.grants_revoked, 1);

    // The next consent page proposes the next company number.
    let html = env.consent_page("s2").await;
    assert!(html.contains("value=\"Sandbox Company 2\""));
}

#[tokio::test]
async fn code_exchange_refusals() {
    let env = start(SandboxConfig {
        clients: vec![
            (CLIENT.into(), SECRET.into()),
            ("other-app".into(), "other-secret".into()),
        ],
        ..SandboxConfig::default()
    })
    .await;

    let code = env.code("A").await;
    let other_verifier = "x".repeat(43);
    let (status, err) = env.exchange(&code, &other_verifier, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert!(s(&err["error_description"]).contains("code_verifier"));
    // Any redemption attempt consumes the code.
    let (_, err) = env.exchange(&code, VERIFIER, REDIRECT).await;
    assert_eq!(err["error"], "invalid_grant");

    let code = env.code("B").await;
    let (status, err) = env
        .exchange(&code, VERIFIER, "https://app.example/oauth/callback")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert!(s(&err["error_description"]).contains("redirect_uri"));

    let code = env.code("C").await;
    advance_secs(&env.clock, 60);
    let (_, err) = env.exchange(&code, VERIFIER, REDIRECT).await;
    assert_eq!(err["error"], "invalid_grant");
    assert!(s(&err["error_description"]).contains("expired"));

    // A code is bound to the client it was issued to.
    let code = env.code("D").await;
    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth("other-app", Some("other-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");

    let (status, err) = env.exchange("sbx_code_nope", VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    let (status, err) = env
        .token(&[("grant_type", "authorization_code"), ("code", "x")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_request");

    // A code within its 60 seconds still works.
    let code = env.code("E").await;
    advance_secs(&env.clock, 59);
    let (status, _) = env.exchange(&code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn authorization_request_errors() {
    let env = start(SandboxConfig::default()).await;
    let with = |name: &'static str, value: Option<&'static str>| {
        let mut p: Vec<(&str, &str)> = authorize_params("st1")
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect();
        if let Some(v) = value {
            p.push((name, v));
        }
        p
    };
    let redirected = |resp: &reqwest::Response| {
        assert_eq!(resp.status(), StatusCode::FOUND);
        let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with("https://app.example/oauth/callback?from=finlink&"));
        assert_eq!(param(&location, "state").as_deref(), Some("st1"));
        assert!(param(&location, "code").is_none());
        param(&location, "error").unwrap()
    };

    let resp = env.authorize_get(&with("code_challenge", None)).await;
    assert_eq!(redirected(&resp), "invalid_request");
    let resp = env
        .authorize_get(&with("code_challenge_method", Some("plain")))
        .await;
    assert_eq!(redirected(&resp), "invalid_request");
    let resp = env
        .authorize_get(&with("code_challenge_method", None))
        .await;
    assert_eq!(redirected(&resp), "invalid_request");
    let resp = env
        .authorize_get(&with("code_challenge", Some("too-short")))
        .await;
    assert_eq!(redirected(&resp), "invalid_request");
    let resp = env
        .authorize_get(&with("response_type", Some("token")))
        .await;
    assert_eq!(redirected(&resp), "unsupported_response_type");
    let resp = env
        .authorize_get(&with("scope", Some("accounting.read admin")))
        .await;
    assert_eq!(redirected(&resp), "invalid_scope");
    let mut twice = authorize_params("st1");
    twice.push(("scope", "openid"));
    let resp = env.authorize_get(&twice).await;
    assert_eq!(redirected(&resp), "invalid_request");

    // Without a trusted client and redirect URI, the error is a page, not a redirect.
    for params in [
        with("client_id", Some("unknown-app")),
        with("client_id", None),
        with("redirect_uri", None),
        with("redirect_uri", Some("not a uri")),
        with("redirect_uri", Some("javascript:alert(1)")),
        with("redirect_uri", Some("https://app.example/cb#fragment")),
    ] {
        let resp = env.authorize_get(&params).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{params:?}");
        assert!(resp.headers().get(LOCATION).is_none());
        let html = resp.text().await.unwrap();
        assert!(html.contains("<h1>"));
        assert!(!html.contains("<script"));
    }

    // No scope: the default one.
    let html = {
        let resp = env.authorize_get(&with("scope", None)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    };
    let request = hidden_request_id(&html);
    let resp = env
        .answer(&[
            ("request", &request),
            ("company_name", "Z"),
            ("decision", "approve"),
        ])
        .await;
    let code = param(resp.headers()[LOCATION].to_str().unwrap(), "code").unwrap();
    let (_, tokens) = env.exchange(&code, VERIFIER, REDIRECT).await;
    assert_eq!(tokens["scope"], "accounting.read offline_access");
}

#[tokio::test]
async fn consent_deny_and_form_validation() {
    let env = start(SandboxConfig::default()).await;
    let html = env.consent_page("deny-me").await;
    let request = hidden_request_id(&html);
    let resp = env
        .answer(&[
            ("request", &request),
            ("company_name", ""),
            ("decision", "deny"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some("deny-me"));
    assert!(param(&location, "code").is_none());
    // Answered: approving it afterwards is refused.
    let resp = env
        .answer(&[
            ("request", &request),
            ("company_name", "A"),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // An empty name shows the form again with the error, still answerable.
    let html = env.consent_page("again").await;
    let request = hidden_request_id(&html);
    let resp = env
        .answer(&[
            ("request", &request),
            ("company_name", "   "),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let page = resp.text().await.unwrap();
    assert!(page.contains("role=\"alert\""));
    assert!(page.contains("aria-invalid=\"true\""));
    assert_eq!(hidden_request_id(&page), request);
    let resp = env
        .answer(&[
            ("request", &request),
            ("company_name", "Fixed"),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        param(resp.headers()[LOCATION].to_str().unwrap(), "state").as_deref(),
        Some("again")
    );

    // A forged or unknown request id, or no decision, is refused without redirecting.
    let resp = env
        .answer(&[
            ("request", "sbx_req_forged"),
            ("company_name", "A"),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(LOCATION).is_none());
    let html = env.consent_page("x").await;
    let resp = env
        .answer(&[
            ("request", &hidden_request_id(&html)),
            ("company_name", "A"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A consent page left open more than 10 minutes expires.
    let html = env.consent_page("late").await;
    advance_secs(&env.clock, 601);
    let resp = env
        .answer(&[
            ("request", &hidden_request_id(&html)),
            ("company_name", "A"),
            ("decision", "approve"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The stylesheet is served by the sandbox.
    let css = env
        .http
        .get(env.url("/assets/sandbox.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_grant() {
    let env = start(SandboxConfig::default()).await;
    let t1 = env.connect("Rotating Ltd").await;
    let rt1 = s(&t1["refresh_token"]).to_owned();

    advance_secs(&env.clock, 5);
    let (status, t2) = env.refresh(&rt1).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    let rt2 = s(&t2["refresh_token"]).to_owned();
    assert_ne!(rt1, rt2);
    assert_ne!(t1["access_token"], t2["access_token"]);
    assert_eq!(t2["expires_in"], 1800);
    assert_eq!(t2["scope"], "accounting.read offline_access");
    let (status, _) = env.identity(s(&t2["access_token"])).await;
    assert_eq!(status, StatusCode::OK);

    advance_secs(&env.clock, 5);
    let (status, t3) = env.refresh(&rt2).await;
    assert_eq!(status, StatusCode::OK);
    let rt3 = s(&t3["refresh_token"]).to_owned();

    // Replaying rt1 (grace 0): refused, and the whole grant is revoked.
    let (status, err) = env.refresh(&rt1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert!(s(&err["error_description"]).contains("revoked"));
    let (status, err) = env.refresh(&rt3).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    let (status, err) = env.identity(s(&t3["access_token"])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"], "invalid_token");

    let stats = env.sandbox.stats();
    assert_eq!(stats.refresh_requests, 4);
    assert_eq!(stats.code_exchanges, 1);
    assert_eq!(stats.token_requests, 5);
    assert_eq!(stats.grants_revoked, 1);

    // Another grant is unaffected.
    let other = env.connect("Other Ltd").await;
    let (status, _) = env.refresh(s(&other["refresh_token"])).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reuse_inside_the_grace_window_rotates_from_the_current_state() {
    let env = start(SandboxConfig {
        refresh_token_grace_secs: 30,
        ..SandboxConfig::default()
    })
    .await;
    let t = env.connect("Grace Ltd").await;
    let rt1 = s(&t["refresh_token"]).to_owned();

    // t0: rt1 -> rt2.
    let (status, t2) = env.refresh(&rt1).await;
    assert_eq!(status, StatusCode::OK);
    let rt2 = s(&t2["refresh_token"]).to_owned();

    // t0+10: rt1 again, inside its window: a new rotation (rt2 is retired now, rt3 is live).
    advance_secs(&env.clock, 10);
    let (status, t3) = env.refresh(&rt1).await;
    assert_eq!(status, StatusCode::OK, "{t3}");
    let rt3 = s(&t3["refresh_token"]).to_owned();
    assert_ne!(rt3, rt2);
    assert_ne!(rt3, rt1);

    // t0+20: rt2, retired at t0+10, is inside its own window: another rotation.
    advance_secs(&env.clock, 10);
    let (status, t4) = env.refresh(&rt2).await;
    assert_eq!(status, StatusCode::OK);
    let rt4 = s(&t4["refresh_token"]).to_owned();
    // Every earlier access token still works until it expires.
    for t in [&t, &t2, &t3, &t4] {
        assert_eq!(env.identity(s(&t["access_token"])).await.0, StatusCode::OK);
    }

    // t0+30: rt1's window (rotated at t0) is over: reuse revokes the grant.
    advance_secs(&env.clock, 10);
    let (status, err) = env.refresh(&rt1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    let (status, _) = env.refresh(&rt4).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        env.identity(s(&t4["access_token"])).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.sandbox.stats().grants_revoked, 1);
}

#[tokio::test]
async fn access_tokens_expire_on_the_clock() {
    let env = start(SandboxConfig {
        access_token_ttl_secs: 600,
        ..SandboxConfig::default()
    })
    .await;
    let t = env.connect("Clock Ltd").await;
    assert_eq!(t["expires_in"], 600);
    let at = s(&t["access_token"]);
    advance_secs(&env.clock, 599);
    assert_eq!(env.identity(at).await.0, StatusCode::OK);
    advance_secs(&env.clock, 1);
    let (status, err) = env.identity(at).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"], "invalid_token");
    assert_eq!(
        env.bearer_get("/api/ping", at).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, fresh) = env.refresh(s(&t["refresh_token"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.identity(s(&fresh["access_token"])).await.0,
        StatusCode::OK
    );

    // No or a malformed Authorization header.
    let resp = env
        .http
        .get(env.url("/oauth/identity"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    assert_eq!(
        env.identity("sbx_at_unknown").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unused_refresh_tokens_expire_when_configured() {
    let env = start(SandboxConfig {
        refresh_token_idle_days: Some(60),
        ..SandboxConfig::default()
    })
    .await;
    let kept = env.sandbox.mint("Kept Ltd").await.unwrap();
    let idle = env.sandbox.mint("Idle Ltd").await.unwrap();
    advance_secs(&env.clock, 59 * 86_400);
    let (status, kept2) = env.refresh(&kept.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    advance_secs(&env.clock, 86_400);
    let (status, err) = env.refresh(&idle.refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert!(s(&err["error_description"]).contains("60 days"));
    // The rotated token was issued at day 59: still alive at day 60.
    let (status, _) = env.refresh(s(&kept2["refresh_token"])).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn scopes_on_refresh_and_without_offline_access() {
    let env = start(SandboxConfig::default()).await;
    let t = env.connect("Scope Ltd").await;
    let (status, narrow) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", s(&t["refresh_token"])),
            ("scope", "accounting.read"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(narrow["scope"], "accounting.read");
    let (status, err) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", s(&narrow["refresh_token"])),
            ("scope", "accounting.write"),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_scope");

    // Without offline_access there is no refresh token (as Xero).
    let mut params = authorize_params("online");
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", "accounting.read"));
    let html = env.authorize_get(&params).await.text().await.unwrap();
    let resp = env
        .answer(&[
            ("request", &hidden_request_id(&html)),
            ("company_name", "Online"),
            ("decision", "approve"),
        ])
        .await;
    let code = param(resp.headers()[LOCATION].to_str().unwrap(), "code").unwrap();
    let (status, tokens) = env.exchange(&code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(tokens["scope"], "accounting.read");
}

#[tokio::test]
async fn revocation_endpoint() {
    let env = start(SandboxConfig {
        clients: vec![
            (CLIENT.into(), SECRET.into()),
            ("other-app".into(), "other-secret".into()),
        ],
        ..SandboxConfig::default()
    })
    .await;
    let t = env.connect("Revoke Ltd").await;
    let at = s(&t["access_token"]);
    let rt = s(&t["refresh_token"]);

    // Revoking an access token ends that token only.
    assert_eq!(
        env.revoke(&[("token", at), ("token_type_hint", "access_token")])
            .await,
        StatusCode::OK
    );
    assert_eq!(env.identity(at).await.0, StatusCode::UNAUTHORIZED);
    let (status, t2) = env.refresh(rt).await;
    assert_eq!(status, StatusCode::OK);

    // Another client cannot revoke it (answered 200 all the same).
    let resp = env
        .http
        .post(env.url("/oauth/revoke"))
        .basic_auth("other-app", Some("other-secret"))
        .form(&[("token", s(&t2["refresh_token"]))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(env.identity(s(&t2["access_token"])).await.0, StatusCode::OK);

    // Revoking the refresh token (no hint) revokes the grant.
    assert_eq!(
        env.revoke(&[("token", s(&t2["refresh_token"]))]).await,
        StatusCode::OK
    );
    assert_eq!(
        env.identity(s(&t2["access_token"])).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, err) = env.refresh(s(&t2["refresh_token"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(env.sandbox.stats().grants_revoked, 1);

    // Unknown tokens: 200. Missing token: 400. No client authentication: 401.
    assert_eq!(
        env.revoke(&[("token", "sbx_rt_unknown")]).await,
        StatusCode::OK
    );
    assert_eq!(
        env.revoke(&[("token_type_hint", "refresh_token")]).await,
        StatusCode::BAD_REQUEST
    );
    let resp = env
        .http
        .post(env.url("/oauth/revoke"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");
}

#[tokio::test]
async fn client_authentication() {
    let env = start(SandboxConfig::default()).await;
    let minted = env.sandbox.mint("Auth Ltd").await.unwrap();

    // client_secret_post
    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", minted.refresh_token.as_str()),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let t: Value = resp.json().await.unwrap();

    let post = |form: Vec<(&'static str, String)>, basic: Option<(&'static str, &'static str)>| {
        let mut req = env.http.post(env.url("/oauth/token")).form(&form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send()
    };
    let refresh_form = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", s(&t["refresh_token"]).to_owned()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        f
    };

    for (form, basic) in [
        (refresh_form(&[]), Some((CLIENT, "wrong"))),
        (refresh_form(&[]), Some(("nobody", SECRET))),
        (refresh_form(&[]), None),
        (refresh_form(&[("client_id", CLIENT)]), None),
        (
            refresh_form(&[("client_id", CLIENT), ("client_secret", "wrong")]),
            None,
        ),
        (
            refresh_form(&[("client_id", "nobody")]),
            Some((CLIENT, SECRET)),
        ),
    ] {
        let resp = post(form, basic).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().contains_key("www-authenticate"));
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"], "invalid_client");
    }
    // Two methods at once.
    let resp = post(
        refresh_form(&[("client_secret", SECRET)]),
        Some((CLIENT, SECRET)),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // None of the refused attempts consumed the refresh token.
    let (status, _) = env.refresh(s(&t["refresh_token"])).await;
    assert_eq!(status, StatusCode::OK);

    // Malformed requests.
    let (status, err) = env.token(&[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "unsupported_grant_type");
    let (status, err) = env.token(&[("foo", "bar")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_request");
    let (status, err) = env.token(&[("grant_type", "refresh_token")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_request");
    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .json(&json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn failure_injection_counts_down() {
    let env = start(SandboxConfig::default()).await;
    let minted = env.sandbox.mint("Flaky Ltd").await.unwrap();
    env.sandbox.inject(Failure::ServerError, 2);
    let resp = env
        .http
        .post(env.url("/admin/failures"))
        .json(&json!({"kind": "rateLimited", "count": 1}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    env.sandbox.inject(Failure::TemporarilyUnavailable, 1);
    env.sandbox.inject(Failure::InvalidGrant, 1);

    let send = || {
        env.http
            .post(env.url("/oauth/token"))
            .basic_auth(CLIENT, Some(SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", minted.refresh_token.as_str()),
            ])
            .send()
    };
    for _ in 0..2 {
        let resp = send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(resp.json::<Value>().await.unwrap()["error"], "server_error");
    }
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()[RETRY_AFTER], "1");
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key(RETRY_AFTER));
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // Injected failures did not touch the grant: the refresh token still works.
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let stats = env.sandbox.stats();
    assert_eq!(stats.token_requests, 6);
    assert_eq!(stats.refresh_requests, 6);
    assert_eq!(stats.failures_injected, 5);
    assert_eq!(stats.grants_revoked, 0);
    let over_http: Value = env
        .http
        .get(env.url("/admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["token_requests"], 6);
    assert_eq!(over_http["failures_injected"], 5);

    // Injection takes precedence even over a request that would be refused anyway.
    env.sandbox.inject(Failure::ServerError, 1);
    let resp = env.http.post(env.url("/oauth/token")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let resp = env.http.post(env.url("/oauth/token")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Bad admin input, and clearing.
    let resp = env
        .http
        .post(env.url("/admin/failures"))
        .json(&json!({"kind": "meteorStrike"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    env.sandbox.inject(Failure::ServerError, 3);
    let resp = env
        .http
        .delete(env.url("/admin/failures"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let (status, _) = env.token(&[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn several_organisations_per_grant() {
    let env = start(SandboxConfig {
        organisations_per_grant: 3,
        ..SandboxConfig::default()
    })
    .await;
    let html = env.consent_page("multi").await;
    assert!(html.contains("2 more organisation"));
    let t = env.connect("Group").await;
    let (status, id) = env.identity(s(&t["access_token"])).await;
    assert_eq!(status, StatusCode::OK);
    let orgs = id["organisations"].as_array().unwrap();
    assert_eq!(orgs.len(), 3);
    assert_eq!(id["tenantId"], orgs[0]["tenantId"]);
    assert_eq!(id["companyName"], "Group");
    assert_ne!(orgs[0]["tenantId"], orgs[1]["tenantId"]);
    assert_eq!(orgs[1]["companyName"], "Group (2)");

    let minted = env.sandbox.mint("Minted Group").await.unwrap();
    let (_, id) = env.identity(&minted.access_token).await;
    assert_eq!(id["organisations"].as_array().unwrap().len(), 3);
    assert_eq!(id["tenantId"], minted.tenant_id.as_str());
}

#[tokio::test]
async fn admin_mint() {
    let env = start(SandboxConfig::default()).await;
    let resp = env
        .http
        .post(env.url("/admin/mint"))
        .json(&json!({"companyName": "Admin Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let g: Value = resp.json().await.unwrap();
    assert_eq!(g["company_name"], "Admin Ltd");
    assert_eq!(g["token_type"], "Bearer");
    assert_eq!(g["expires_in"], 1800);
    assert_eq!(g["issued_at"], "2027-01-15T08:00:00.000Z");
    assert_eq!(g["expires_at"], "2027-01-15T08:30:00.000Z");
    assert_eq!(g["scope"], "accounting.read offline_access");
    let (_, id) = env.identity(s(&g["access_token"])).await;
    assert_eq!(id["tenantId"], g["tenant_id"]);

    let resp = env.http.post(env.url("/admin/mint")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let g: Value = resp.json().await.unwrap();
    assert_eq!(g["company_name"], "Sandbox Company 2");

    for body in [json!({"companyName": ""}), json!({"company": "x"})] {
        let resp = env
            .http
            .post(env.url("/admin/mint"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let resp = env
        .http
        .post(env.url("/admin/mint"))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn grants_persist_in_the_file_and_are_shared_between_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox").join("sandbox.db");
    let clock = ManualClock::new(Timestamp::from_millis(START_MS));

    // "finlink sandbox mint": one instance mints and goes away.
    let minted = {
        let cli = Sandbox::open(
            Some(&path),
            SandboxConfig::default(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        cli.mint("Persisted Ltd").await.unwrap()
    };
    assert_eq!(minted.company_name, "Persisted Ltd");
    assert_eq!(minted.token_type, "Bearer");

    // "finlink serve": another instance on the same file refreshes it.
    let served = Sandbox::open(
        Some(&path),
        SandboxConfig::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let base = serve(&served).await;
    let env = Env {
        base,
        sandbox: served.clone(),
        clock: clock.clone(),
        http: http(),
    };
    let (status, id) = env.identity(&minted.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id["tenantId"], minted.tenant_id.as_str());
    let (status, t) = env.refresh(&minted.refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{t}");

    // Both open at once: a grant minted by one is usable at the other, and a rotation done at
    // the server is seen by the other (reuse detection works across processes).
    let cli = Sandbox::open(
        Some(&path),
        SandboxConfig::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let second = cli.mint("Second Ltd").await.unwrap();
    let (status, _) = env.refresh(&second.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    let cli_base = serve(&cli).await;
    let resp = env
        .http
        .post(format!("{cli_base}/oauth/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(cli.stats().grants_revoked, 1);
    assert_eq!(env.sandbox.stats().grants_revoked, 0);
    let (status, _) = env.refresh(s(&t["refresh_token"])).await;
    assert_eq!(status, StatusCode::OK, "the first grant is untouched");
}

#[tokio::test]
async fn tokens_are_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.db");
    let clock = ManualClock::new(Timestamp::from_millis(START_MS));
    let sandbox = Sandbox::open(
        Some(&path),
        SandboxConfig::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let env = Env {
        base: serve(&sandbox).await,
        sandbox: sandbox.clone(),
        clock,
        http: http(),
    };
    let mut secrets = Vec::new();
    for name in ["Clear Ltd", "Other Ltd"] {
        let g = sandbox.mint(name).await.unwrap();
        secrets.push(g.access_token);
        secrets.push(g.refresh_token);
    }
    let code = env.code("Flow Ltd").await;
    let (_, t) = env.exchange(&code, VERIFIER, REDIRECT).await;
    let (_, t2) = env.refresh(s(&t["refresh_token"])).await;
    secrets.push(code);
    for tok in [&t, &t2] {
        secrets.push(s(&tok["access_token"]).to_owned());
        secrets.push(s(&tok["refresh_token"]).to_owned());
    }
    let html = env.consent_page("pending").await;
    secrets.push(hidden_request_id(&html));

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        if let Ok(b) = std::fs::read(&p) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 4096);
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"Clear Ltd"), "the file is the one written to");
    for secret in &secrets {
        assert!(!contains(secret.as_bytes()), "{secret} is stored in clear");
        // Not even the random part without its prefix.
        let random = secret.splitn(3, '_').nth(2).unwrap();
        assert!(random.len() >= 43);
        assert!(!contains(random.as_bytes()));
    }
    assert!(!contains(b"sbx_"));
}

impl Env {
    async fn commerce_store(
        &self,
        auth: Option<(&str, &str)>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut req = self.http.get(self.url("/commerce/api/store"));
        if let Some((name, value)) = auth {
            req = req.header(name, value);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let www = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (status, www, resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn commerce_stores_check_api_keys() {
    let env = start(SandboxConfig::default()).await;

    // Minting over HTTP: a name, no name (empty body and {}), bad input.
    let resp = env
        .http
        .post(env.url("/admin/commerce/stores"))
        .json(&json!({"name": "Corner Shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let named: Value = resp.json().await.unwrap();
    assert_eq!(named.as_object().unwrap().len(), 3, "{named}");
    assert_eq!(named["storeName"], "Corner Shop");
    assert!(s(&named["storeId"]).starts_with("store_"));
    let key = s(&named["apiKey"]).to_owned();
    let random = key.strip_prefix("sk_sandbox_").unwrap();
    assert_eq!(random.len(), 32);
    assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()));

    let resp = env
        .http
        .post(env.url("/admin/commerce/stores"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let unnamed: Value = resp.json().await.unwrap();
    assert_eq!(unnamed["storeName"], "Sandbox Store 2");
    let minted = env.sandbox.mint_commerce_store(None).await.unwrap();
    assert_eq!(minted.store_name, "Sandbox Store 3");
    let resp = env
        .http
        .post(env.url("/admin/commerce/stores"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let fourth: Value = resp.json().await.unwrap();
    assert_eq!(fourth["storeName"], "Sandbox Store 4");
    for body in [
        json!({"name": "  "}),
        json!({"name": "x".repeat(101)}),
        json!({"storeName": "x"}),
    ] {
        let resp = env
            .http
            .post(env.url("/admin/commerce/stores"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "invalid_request"
        );
    }

    // The key check, with either header form.
    let bearer = format!("Bearer {key}");
    for auth in [("Authorization", bearer.as_str()), ("X-Api-Key", &key)] {
        let (status, www, body) = env.commerce_store(Some(auth)).await;
        assert_eq!(status, StatusCode::OK, "{auth:?}: {body}");
        assert_eq!(www, None);
        assert_eq!(
            body,
            json!({"storeId": named["storeId"], "storeName": "Corner Shop", "currency": "GBP"})
        );
    }
    let (status, _, body) = env
        .commerce_store(Some(("x-api-key", &minted.api_key)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["storeId"], minted.store_id.as_str());
    assert_eq!(body["storeName"], "Sandbox Store 3");

    // Missing, unknown, or in the wrong place: 401 invalid_api_key with a challenge.
    let grant = env.sandbox.mint("Not A Store").await.unwrap();
    let unknown = format!("sk_sandbox_{}", "A".repeat(32));
    let basic = format!("Basic {key}");
    let grant_bearer = format!("Bearer {}", grant.access_token);
    let sent_as_is = key.clone();
    for auth in [
        None,
        Some(("X-Api-Key", "")),
        Some(("Authorization", "Bearer ")),
        Some(("X-Api-Key", unknown.as_str())),
        Some(("Authorization", &format!("Bearer {unknown}"))),
        Some(("Authorization", basic.as_str())),
        Some(("Authorization", sent_as_is.as_str())),
        Some(("Authorization", grant_bearer.as_str())),
        Some(("X-Api-Key", &key[..key.len() - 1])),
    ] {
        let (status, www, body) = env.commerce_store(auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
        assert_eq!(
            www.as_deref(),
            Some("Bearer realm=\"finlink-sandbox-commerce\""),
            "{auth:?}"
        );
        assert_eq!(body["error"], "invalid_api_key", "{auth:?}");
        assert!(!s(&body["error_description"]).is_empty());
        assert_eq!(body.as_object().unwrap().len(), 2);
    }

    // Store keys are not OAuth tokens either.
    let (status, _) = env.identity(&key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(env.sandbox.stats().commerce_requests, 3 + 9);
    assert_eq!(env.sandbox.stats().token_requests, 0);
}

#[tokio::test]
async fn commerce_api_keys_are_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.db");
    let clock = ManualClock::new(Timestamp::from_millis(START_MS));
    let sandbox = Sandbox::open(
        Some(&path),
        SandboxConfig::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let env = Env {
        base: serve(&sandbox).await,
        sandbox: sandbox.clone(),
        clock,
        http: http(),
    };
    let mut keys = Vec::new();
    for name in ["Clear Store", "Other Store"] {
        keys.push(sandbox.mint_commerce_store(Some(name)).await.unwrap());
    }
    let resp = env
        .http
        .post(env.url("/admin/commerce/stores"))
        .json(&json!({"name": "Http Store"}))
        .send()
        .await
        .unwrap();
    let over_http: Value = resp.json().await.unwrap();
    keys.push(serde_json::from_value(over_http).unwrap());
    for store in &keys {
        let (status, _, _) = env
            .commerce_store(Some(("X-Api-Key", &store.api_key)))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    // Another instance on the same file (a running `finlink serve`) knows the keys.
    let other = Sandbox::open(
        Some(&path),
        SandboxConfig::default(),
        Arc::new(env.clock.clone()),
    )
    .unwrap();
    let other_base = serve(&other).await;
    let resp = env
        .http
        .get(format!("{other_base}/commerce/api/store"))
        .bearer_auth(&keys[0].api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["storeName"],
        "Clear Store"
    );

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        if let Ok(b) = std::fs::read(&p) {
            bytes.extend(b);
        }
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"Clear Store"), "the file is the one written to");
    assert!(contains(keys[0].store_id.as_bytes()));
    for store in &keys {
        let key = &store.api_key;
        assert!(!contains(key.as_bytes()), "{key} is stored in clear");
        let random = key.strip_prefix("sk_sandbox_").unwrap();
        assert!(!contains(random.as_bytes()), "{random} is stored in clear");
    }
    assert!(!contains(b"sk_sandbox_"));
}

// ---------------------------------------------------------------------------------------------
// The data API

use finlink_sandbox::{DataFailure, DataFailureKind, DataProfileUpdate, DataType, TouchSelection};
use std::collections::BTreeSet;

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

fn shop_cents(v: &Value) -> i64 {
    let (units, frac) = s(v).split_once('.').unwrap();
    units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

struct Got {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Env {
    async fn get_with(&self, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Got {
        let mut req = self.http.get(self.url(path)).query(query);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        Got {
            status,
            headers,
            body: resp.json().await.unwrap_or(Value::Null),
        }
    }

    async fn data(&self, path: &str, token: &str, query: &[(&str, &str)]) -> Got {
        let auth = format!("Bearer {token}");
        self.get_with(path, query, &[("Authorization", &auth)])
            .await
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Every record of an accounting list, page by page.
    async fn pull(
        &self,
        path: &str,
        token: &str,
        page_size: u64,
        extra: &[(&str, &str)],
    ) -> Vec<Value> {
        let size = page_size.to_string();
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let p = page.to_string();
            let mut q = vec![("page", p.as_str()), ("pageSize", size.as_str())];
            q.extend_from_slice(extra);
            let got = self.data(path, token, &q).await;
            assert_eq!(
                got.status,
                StatusCode::OK,
                "{path} page {page}: {}",
                got.body
            );
            let key = got
                .body
                .as_object()
                .unwrap()
                .keys()
                .find(|k| k.as_str() != "pagination")
                .unwrap()
                .clone();
            let items = got.body[&key].as_array().unwrap().clone();
            assert_eq!(got.body["pagination"]["page"], page);
            let pages = got.body["pagination"]["pageCount"].as_u64().unwrap();
            out.extend(items);
            if page >= pages {
                assert_eq!(
                    out.len() as u64,
                    got.body["pagination"]["itemCount"].as_u64().unwrap()
                );
                return out;
            }
            page += 1;
        }
    }
}

fn update(json: Value) -> DataProfileUpdate {
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn data_api_pages_through_every_record_once() {
    let env = start(SandboxConfig::default()).await;
    let g = env
        .sandbox
        .mint_with_data(
            "Pages Ltd",
            &update(json!({"invoices": 2345, "payments": 2000, "bankAccounts": 4, "bankTransactions": 3001})),
        )
        .await
        .unwrap();
    let token = g.access_token.as_str();

    let invoices = env.pull("/api/invoices", token, 1000, &[]).await;
    assert_eq!(invoices.len(), 2345);
    let ids: BTreeSet<&str> = invoices.iter().map(|v| s(&v["InvoiceID"])).collect();
    assert_eq!(ids.len(), 2345, "no duplicates");
    for (i, v) in invoices.iter().enumerate() {
        assert_eq!(
            s(&v["InvoiceNumber"]),
            format!("INV-{:06}", i + 1),
            "stable index order"
        );
        assert_eq!(v["Type"], "ACCREC");
        let lines = v["LineItems"].as_array().unwrap();
        let sub: i64 = lines.iter().map(|l| cents(&l["LineAmount"])).sum();
        let tax: i64 = lines.iter().map(|l| cents(&l["TaxAmount"])).sum();
        assert_eq!(cents(&v["SubTotal"]), sub);
        assert_eq!(cents(&v["TotalTax"]), tax);
        assert_eq!(cents(&v["Total"]), sub + tax);
        assert_eq!(
            cents(&v["AmountDue"]),
            cents(&v["Total"]) - cents(&v["AmountPaid"])
        );
    }
    // Same page twice, the Rust API and a page of another size agree.
    let again = env
        .data(
            "/api/invoices",
            token,
            &[("page", "2"), ("pageSize", "1000")],
        )
        .await;
    assert_eq!(again.body["Invoices"][0], invoices[1000]);
    assert_eq!(again.headers[CONTENT_TYPE], "application/json");
    let small_page = env
        .data("/api/invoices", token, &[("page", "5"), ("pageSize", "7")])
        .await;
    assert_eq!(small_page.body["Invoices"][6], invoices[34]);
    assert_eq!(small_page.body["pagination"]["pageCount"], 335);
    let record = env
        .sandbox
        .data_record(&g.tenant_id, DataType::Invoices, 1234)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record, invoices[1234]);
    assert_eq!(
        env.sandbox
            .data_record(&g.tenant_id, DataType::Invoices, 2345)
            .await
            .unwrap(),
        None
    );
    // Past the end: an empty page; the default page size is 100.
    let past = env
        .data(
            "/api/invoices",
            token,
            &[("page", "4"), ("pageSize", "1000")],
        )
        .await;
    assert_eq!(past.status, StatusCode::OK);
    assert_eq!(past.body["Invoices"], json!([]));
    let default = env.data("/api/invoices", token, &[]).await;
    assert_eq!(default.body["Invoices"].as_array().unwrap().len(), 100);
    assert_eq!(default.body["pagination"]["pageSize"], 100);

    // One record by id; ids of another type or organisation are not found.
    let id = s(&invoices[77]["InvoiceID"]);
    let one = env.data(&format!("/api/invoices/{id}"), token, &[]).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["Invoices"], json!([invoices[77]]));
    let bill_id =
        s(&env.data("/api/bills", token, &[]).await.body["Bills"][0]["InvoiceID"]).to_owned();
    for bad in [
        bill_id.as_str(),
        "nope",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let got = env.data(&format!("/api/invoices/{bad}"), token, &[]).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(got.body["error"], "not_found");
    }

    // Payments pay what the invoices say.
    let payments = env.pull("/api/payments", token, 1000, &[]).await;
    assert_eq!(payments.len(), 2000);
    let by_id: std::collections::HashMap<&str, &Value> =
        invoices.iter().map(|v| (s(&v["InvoiceID"]), v)).collect();
    for p in &payments {
        let inv = by_id[s(&p["Invoice"]["InvoiceID"])];
        assert_eq!(cents(&p["Amount"]), cents(&inv["AmountPaid"]));
        assert_eq!(p["Invoice"]["InvoiceNumber"], inv["InvoiceNumber"]);
    }
    let paid: i64 = invoices.iter().map(|v| cents(&v["AmountPaid"])).sum();
    assert_eq!(
        paid,
        payments.iter().map(|p| cents(&p["Amount"])).sum::<i64>()
    );

    // Bank transactions: all of them, or one account's, with running balances.
    let accounts = env.pull("/api/bank-accounts", token, 100, &[]).await;
    assert_eq!(accounts.len(), 4);
    let all = env.pull("/api/bank-transactions", token, 1000, &[]).await;
    assert_eq!(all.len(), 3001);
    for acct in &accounts {
        let id = s(&acct["AccountID"]);
        let mine = env
            .pull(
                "/api/bank-transactions",
                token,
                333,
                &[("bankAccountId", id)],
            )
            .await;
        let expected: Vec<&Value> = all
            .iter()
            .filter(|t| t["BankAccount"]["AccountID"] == id)
            .collect();
        assert_eq!(mine.iter().collect::<Vec<_>>(), expected);
        let mut balance = cents(&acct["OpeningBalance"]);
        for t in &mine {
            let amount = cents(&t["Amount"]);
            balance += if t["Type"] == "RECEIVE" {
                amount
            } else {
                -amount
            };
            assert_eq!(balance, cents(&t["RunningBalance"]));
            assert_eq!(t["CurrencyCode"], acct["CurrencyCode"]);
        }
        assert_eq!(balance, cents(&acct["Balance"]));
    }
    let got = env
        .data(
            "/api/bank-transactions",
            token,
            &[("bankAccountId", "nope")],
        )
        .await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);

    // Every accounting type answers, in its own shape.
    for (path, key, n) in [
        ("/api/organisation", "Organisations", 1),
        ("/api/accounts", "Accounts", 40),
        ("/api/customers", "Contacts", 60),
        ("/api/suppliers", "Contacts", 40),
        ("/api/bills", "Bills", 250),
        ("/api/credit-notes", "CreditNotes", 30),
        ("/api/manual-journals", "ManualJournals", 60),
    ] {
        let got = env.data(path, token, &[("pageSize", "1000")]).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert_eq!(got.body[key].as_array().unwrap().len(), n, "{path}");
    }
    let org = env.data("/api/organisation", token, &[]).await.body;
    assert_eq!(
        org["Organisations"][0]["OrganisationID"],
        g.tenant_id.as_str()
    );
    assert_eq!(org["Organisations"][0]["Name"], "Pages Ltd");
    let info = env.sandbox.data_info(&g.tenant_id).await.unwrap();
    assert_eq!(
        org["Organisations"][0]["BaseCurrency"],
        info.base_currency.as_str()
    );
    let tax = env.data("/api/tax-rates", token, &[]).await.body;
    assert_eq!(
        tax["TaxRates"].as_array().unwrap().len() as u64,
        info.counts[&DataType::TaxRates]
    );

    let stats = env.sandbox.stats();
    assert_eq!(
        stats.data_requests_by_type["invoices"],
        3 + 1 + 1 + 1 + 1 + 1 + 3
    );
    assert_eq!(stats.token_requests, 0);
    assert!(stats.data_records_served > 2345 + 2000 + 2 * 3001);
}

#[tokio::test]
async fn data_is_deterministic_and_its_profile_shared_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.db");
    let clock = ManualClock::new(Timestamp::from_millis(START_MS));
    let open = || {
        Sandbox::open(
            Some(&path),
            SandboxConfig::default(),
            Arc::new(clock.clone()),
        )
        .unwrap()
    };

    // "finlink sandbox mint", then a server on the same file.
    let minted = open()
        .mint_with_data("Same Ltd", &update(json!({"customers": 7})))
        .await
        .unwrap();
    let served = open();
    let env = Env {
        base: serve(&served).await,
        sandbox: served.clone(),
        clock: clock.clone(),
        http: http(),
    };
    let customers = env
        .data("/api/customers", &minted.access_token, &[])
        .await
        .body;
    assert_eq!(customers["Contacts"].as_array().unwrap().len(), 7);

    // The server changes the profile; another instance sees it and serves the same bytes.
    env.sandbox
        .set_data_profile(&minted.tenant_id, &update(json!({"invoices": 12})))
        .await
        .unwrap();
    let other = open();
    assert_eq!(
        other.data_counts(&minted.tenant_id).await.unwrap()[&DataType::Invoices],
        12
    );
    assert_eq!(
        other.data_counts(&minted.tenant_id).await.unwrap()[&DataType::Customers],
        7
    );
    let other_base = serve(&other).await;
    let a = env
        .http
        .get(env.url("/api/invoices"))
        .bearer_auth(&minted.access_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let b = env
        .http
        .get(format!("{other_base}/api/invoices"))
        .bearer_auth(&minted.access_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(a, b);
    let v: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(v["Invoices"].as_array().unwrap().len(), 12);

    // Another organisation has other data.
    let second = served
        .mint_with_data("Same Ltd", &update(json!({"invoices": 12})))
        .await
        .unwrap();
    let c = env
        .http
        .get(env.url("/api/invoices"))
        .bearer_auth(&second.access_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_ne!(a, c);
}

#[tokio::test]
async fn modified_since_finds_touched_records() {
    let env = start(SandboxConfig::default()).await;
    let g = env
        .sandbox
        .mint_with_data("Edits Ltd", &update(json!({"invoices": 1500})))
        .await
        .unwrap();
    let token = g.access_token.as_str();
    let first = env.pull("/api/invoices", token, 1000, &[]).await;
    let watermark = first
        .iter()
        .map(|v| s(&v["UpdatedDateUTC"]).to_owned())
        .max()
        .unwrap();
    assert_eq!(
        watermark,
        s(&first[1499]["UpdatedDateUTC"]),
        "modified instants follow the index"
    );

    // Nothing changed: from the watermark (inclusive) only the last record comes back.
    let again = env
        .pull(
            "/api/invoices",
            token,
            1000,
            &[("modifiedSince", &watermark)],
        )
        .await;
    assert_eq!(again, vec![first[1499].clone()]);

    // Edits after the first pull.
    advance_secs(&env.clock, 60);
    let pulled_at = Timestamp::from_millis(START_MS + 30_000).to_rfc3339();
    let (status, touched) = env
        .admin(
            reqwest::Method::POST,
            &format!("/admin/data/{}/touch", g.tenant_id),
            Some(json!({"type": "invoices", "count": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{touched}");
    assert_eq!(touched["indices"], json!([150, 450, 750, 1050, 1350]));
    assert_eq!(
        touched["modifiedAt"],
        Timestamp::from_millis(START_MS + 60_000)
            .to_rfc3339()
            .as_str()
    );
    let changed = env
        .pull("/api/invoices", token, 2, &[("modifiedSince", &pulled_at)])
        .await;
    assert_eq!(changed.len(), 5);
    for (k, v) in changed.iter().enumerate() {
        let i = touched["indices"][k].as_u64().unwrap() as usize;
        assert_eq!(v["InvoiceID"], touched["ids"][k]);
        assert_eq!(v["InvoiceID"], first[i]["InvoiceID"]);
        assert_eq!(v["UpdatedDateUTC"], touched["modifiedAt"]);
        assert_eq!(
            s(&v["Reference"]),
            format!("{} (rev 1)", s(&first[i]["Reference"]))
        );
        assert_eq!(v["Total"], first[i]["Total"]);
    }
    // The same through If-Modified-Since.
    let auth = format!("Bearer {token}");
    let via_header = env
        .get_with(
            "/api/invoices",
            &[],
            &[("Authorization", &auth), ("If-Modified-Since", &pulled_at)],
        )
        .await;
    assert_eq!(via_header.body["Invoices"].as_array().unwrap(), &changed);

    // A filter inside the generated range: the touched records before it come first.
    let from = s(&first[1000]["UpdatedDateUTC"]).to_owned();
    let tail = env
        .pull("/api/invoices", token, 100, &[("modifiedSince", &from)])
        .await;
    let indexes: Vec<String> = tail
        .iter()
        .map(|v| s(&v["InvoiceNumber"]).to_owned())
        .collect();
    assert_eq!(tail.len(), 3 + 500);
    assert_eq!(
        &indexes[..4],
        ["INV-000151", "INV-000451", "INV-000751", "INV-001001"]
    );
    assert_eq!(
        s(&tail[3 + 50]["Reference"]),
        format!("{} (rev 1)", s(&first[1050]["Reference"]))
    );
    let full = env.pull("/api/invoices", token, 1000, &[]).await;
    assert_eq!(full.len(), 1500, "a full pull still has every record once");
    assert_eq!(full[150], changed[0]);

    // Touched twice: version 2; by indices; other types; bad requests.
    advance_secs(&env.clock, 60);
    let t2 = env
        .sandbox
        .touch_data(
            &g.tenant_id,
            DataType::Invoices,
            TouchSelection::Indices(vec![150, 3]),
        )
        .await
        .unwrap();
    assert_eq!(t2.indices, vec![3, 150]);
    let r = env
        .sandbox
        .data_record(&g.tenant_id, DataType::Invoices, 150)
        .await
        .unwrap()
        .unwrap();
    assert!(s(&r["Reference"]).ends_with(" (rev 2)"));
    let since_second = Timestamp::from_millis(START_MS + 90_000).to_rfc3339();
    let latest = env
        .pull(
            "/api/invoices",
            token,
            100,
            &[("modifiedSince", &since_second)],
        )
        .await;
    assert_eq!(
        latest
            .iter()
            .map(|v| s(&v["InvoiceNumber"]))
            .collect::<Vec<_>>(),
        ["INV-000004", "INV-000151"]
    );
    let info = env.sandbox.data_info(&g.tenant_id).await.unwrap();
    assert_eq!(info.touched[&DataType::Invoices], 6);
    for (t, field) in [
        ("customers", "EmailAddress"),
        ("bankTransactions", "Reference"),
        ("journalEntries", "Narration"),
        ("chartOfAccounts", "Description"),
    ] {
        let dt = DataType::parse(t).unwrap();
        let before = env
            .sandbox
            .data_record(&g.tenant_id, dt, 1)
            .await
            .unwrap()
            .unwrap();
        env.sandbox
            .touch_data(&g.tenant_id, dt, TouchSelection::Indices(vec![1]))
            .await
            .unwrap();
        let after = env
            .sandbox
            .data_record(&g.tenant_id, dt, 1)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(before[field], after[field], "{t}");
        assert_ne!(before["UpdatedDateUTC"], after["UpdatedDateUTC"], "{t}");
    }
    for body in [
        json!({"type": "invoices", "count": 0}),
        json!({"type": "invoices", "count": 1501}),
        json!({"type": "invoices", "indices": [1500]}),
        json!({"type": "invoices"}),
        json!({"type": "invoices", "count": 1, "indices": [1]}),
        json!({"type": "company", "count": 1}),
        json!({"type": "commerce-orders", "count": 1}),
        json!({"type": "widgets", "count": 1}),
    ] {
        let (status, b) = env
            .admin(
                reqwest::Method::POST,
                &format!("/admin/data/{}/touch", g.tenant_id),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {b}");
    }
    let (status, _) = env
        .admin(
            reqwest::Method::POST,
            "/admin/data/unknown/touch",
            Some(json!({"type": "invoices", "count": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let got = env
        .data("/api/invoices", token, &[("modifiedSince", "last tuesday")])
        .await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST);
    assert_eq!(got.body["error"], "invalid_request");
}

#[tokio::test]
async fn data_faults_are_injected_and_counted() {
    let env = start(SandboxConfig::default()).await;
    let g = env
        .sandbox
        .mint_with_data("Faults Ltd", &update(json!({"invoices": 250})))
        .await
        .unwrap();
    let token = g.access_token.as_str();
    let env = &env;
    let page =
        |p: &'static str| async move { env.data("/api/invoices", token, &[("page", p)]).await };

    // 429 with Retry-After to the next two data requests (over HTTP), then served.
    let (status, _) = env
        .admin(
            reqwest::Method::POST,
            "/admin/data-failures",
            Some(json!({"kind": "rateLimited", "count": 2, "retryAfter": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for _ in 0..2 {
        let got = page("1").await;
        assert_eq!(got.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(got.headers[RETRY_AFTER], "3");
        assert_eq!(got.body["error"], "rate_limited");
    }
    assert_eq!(page("1").await.status, StatusCode::OK);

    // 500 for page 2 of invoices only, once: page 2 fails, its retry is served.
    env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::ServerError, 1)
            .for_type(DataType::Invoices)
            .on_page(2),
    );
    assert_eq!(
        env.data("/api/bills", token, &[("page", "2")]).await.status,
        StatusCode::OK
    );
    let before = env.sandbox.stats();
    let got = page("2").await;
    assert_eq!(got.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(got.body["error"], "server_error");
    assert_eq!(page("2").await.status, StatusCode::OK);
    assert_eq!(page("3").await.status, StatusCode::OK);
    let after = env.sandbox.stats();
    assert_eq!(
        after.data_requests_by_type["invoices"] - before.data_requests_by_type["invoices"],
        3
    );
    assert_eq!(after.data_records_served - before.data_records_served, 150);
    assert_eq!(after.data_failures_injected, 3);

    // 503 with the default Retry-After; 401 invalid_token as if revoked mid-pull.
    env.sandbox
        .inject_data_failure(DataFailure::new(DataFailureKind::TemporarilyUnavailable, 1));
    env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::InvalidToken, 1).for_type(DataType::Invoices),
    );
    let got = page("1").await;
    assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(got.headers[RETRY_AFTER], "5");
    let got = page("1").await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    assert_eq!(got.body["error"], "invalid_token");
    assert!(
        got.headers[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        page("1").await.status,
        StatusCode::OK,
        "nothing was revoked"
    );

    // Faults come before authentication; clearing; bad input.
    env.sandbox
        .inject_data_failure(DataFailure::new(DataFailureKind::ServerError, 5));
    assert_eq!(
        env.data("/api/invoices", "nonsense", &[]).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (status, _) = env
        .admin(reqwest::Method::DELETE, "/admin/data-failures", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(page("1").await.status, StatusCode::OK);
    for body in [
        json!({"kind": "meteorStrike"}),
        json!({"kind": "serverError", "type": "widgets"}),
        json!({"kind": "serverError", "page": 0}),
        json!({"kind": "serverError", "count": 10001}),
        json!({"kind": "serverError", "pages": 1}),
    ] {
        let (status, _) = env
            .admin(
                reqwest::Method::POST,
                "/admin/data-failures",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let stats: Value = env
        .http
        .get(env.url("/admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["data_failures_injected"], 6);
    assert_eq!(stats["data_requests_by_type"]["invoices"], 3 + 3 + 3 + 2);
    assert_eq!(stats["data_requests_by_type"]["bills"], 1);
}

#[tokio::test]
async fn data_requests_need_a_live_token_for_a_reachable_organisation() {
    let env = start(SandboxConfig {
        organisations_per_grant: 2,
        ..SandboxConfig::default()
    })
    .await;
    let g = env.sandbox.mint("Auth Ltd").await.unwrap();
    let (_, id) = env.identity(&g.access_token).await;
    let tenants: Vec<String> = id["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| s(&o["tenantId"]).to_owned())
        .collect();
    let auth = format!("Bearer {}", g.access_token);

    // Two organisations: the tenant header is required, and picks the data.
    let got = env.data("/api/invoices", &g.access_token, &[]).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST);
    assert!(s(&got.body["error_description"]).contains("X-Tenant-Id"));
    let a = env
        .get_with(
            "/api/organisation",
            &[],
            &[("Authorization", &auth), ("X-Tenant-Id", &tenants[0])],
        )
        .await;
    let b = env
        .get_with(
            "/api/organisation",
            &[],
            &[("Authorization", &auth), ("X-Tenant-Id", &tenants[1])],
        )
        .await;
    assert_eq!(a.body["Organisations"][0]["Name"], "Auth Ltd");
    assert_eq!(b.body["Organisations"][0]["Name"], "Auth Ltd (2)");
    let other = env.sandbox.mint("Other Ltd").await.unwrap();
    let got = env
        .get_with(
            "/api/invoices",
            &[],
            &[("Authorization", &auth), ("X-Tenant-Id", &other.tenant_id)],
        )
        .await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);

    // Missing, unknown, a store key, expired, revoked: 401 invalid_token.
    let store = env.sandbox.mint_commerce_store(None).await.unwrap();
    for got in [
        env.get_with("/api/invoices", &[], &[]).await,
        env.get_with(
            "/api/invoices",
            &[],
            &[("Authorization", "Basic Zm9vOmJhcg==")],
        )
        .await,
        env.data("/api/invoices", "sbx_at_unknown", &[]).await,
        env.data("/api/invoices", &store.api_key, &[]).await,
    ] {
        assert_eq!(got.status, StatusCode::UNAUTHORIZED);
        assert_eq!(got.body["error"], "invalid_token");
        assert!(got.headers.contains_key(WWW_AUTHENTICATE));
    }
    let h = [
        ("Authorization", auth.as_str()),
        ("X-Tenant-Id", tenants[0].as_str()),
    ];
    assert_eq!(
        env.get_with("/api/invoices", &[], &h).await.status,
        StatusCode::OK
    );
    let status = env
        .revoke(&[
            ("token", g.access_token.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = env.get_with("/api/invoices", &[], &h).await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    assert_eq!(got.body["error"], "invalid_token");
    let (status, t) = env.refresh(&g.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = format!("Bearer {}", s(&t["access_token"]));
    let h = [
        ("Authorization", fresh.as_str()),
        ("X-Tenant-Id", tenants[0].as_str()),
    ];
    assert_eq!(
        env.get_with("/api/invoices", &[], &h).await.status,
        StatusCode::OK
    );
    advance_secs(&env.clock, 1800);
    assert_eq!(
        env.get_with("/api/invoices", &[], &h).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Commerce data with an access token: 401 invalid_api_key.
    let got = env
        .data("/commerce/api/orders", &other.access_token, &[])
        .await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    assert_eq!(got.body["error"], "invalid_api_key");
}

#[tokio::test]
async fn commerce_stores_serve_their_data() {
    let env = start(SandboxConfig::default()).await;
    let (status, store) = env
        .admin(reqwest::Method::POST, "/admin/commerce/stores", Some(json!({"name": "Corner Shop", "data": {"commerce-orders": 1203, "commerce-payments": 1000}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{store}");
    let key = s(&store["apiKey"]).to_owned();
    let store_id = s(&store["storeId"]).to_owned();
    let get = |path: String, query: Vec<(&'static str, String)>| {
        let key = key.clone();
        let req = env
            .http
            .get(env.url(&path))
            .header("X-Api-Key", key)
            .query(&query);
        async move {
            let resp = req.send().await.unwrap();
            (
                resp.status(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let (status, shop) = get("/commerce/api/shop".into(), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shop["shop"]["id"], store_id.as_str());
    assert_eq!(shop["shop"]["name"], "Corner Shop");
    assert_eq!(shop["shop"]["currency"], "GBP");

    let mut orders = Vec::new();
    for page in 1..=3 {
        let (status, body) = get(
            "/commerce/api/orders".into(),
            vec![("page", page.to_string()), ("limit", "500".into())],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total_count"], 1203);
        assert_eq!(body["has_more"], page < 3);
        orders.extend(body["orders"].as_array().unwrap().clone());
    }
    assert_eq!(orders.len(), 1203);
    let ids: BTreeSet<u64> = orders.iter().map(|o| o["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 1203);
    let (_, payments) = get(
        "/commerce/api/payments".into(),
        vec![("limit", "1000".into())],
    )
    .await;
    let (_, rest) = get(
        "/commerce/api/payments".into(),
        vec![("limit", "1000".into()), ("page", "2".into())],
    )
    .await;
    let mut payments = payments["payments"].as_array().unwrap().clone();
    payments.extend(rest["payments"].as_array().unwrap().clone());
    assert_eq!(payments.len(), 1000);
    let by_order: std::collections::HashMap<u64, &Value> = payments
        .iter()
        .map(|p| (p["order_id"].as_u64().unwrap(), p))
        .collect();
    assert_eq!(by_order.len(), 1000);
    for o in &orders {
        let lines = o["line_items"].as_array().unwrap();
        let sub: i64 = lines
            .iter()
            .map(|l| {
                l["quantity"].as_i64().unwrap() * shop_cents(&l["price"])
                    - shop_cents(&l["total_discount"])
            })
            .sum();
        assert_eq!(shop_cents(&o["subtotal_price"]), sub);
        assert_eq!(
            shop_cents(&o["total_price"]),
            sub + shop_cents(&o["total_tax"]) + shop_cents(&o["shipping_lines"][0]["price"])
        );
        match by_order.get(&o["id"].as_u64().unwrap()) {
            Some(p) => assert_eq!(p["amount"].as_i64().unwrap(), shop_cents(&o["total_price"])),
            None => {
                assert!(o["financial_status"] == "pending" || o["financial_status"] == "voided")
            }
        }
    }

    // By id; customers and products; touches and updated_at_min.
    let oid = orders[42]["id"].as_u64().unwrap();
    let (status, one) = get(format!("/commerce/api/orders/{oid}"), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["order"], orders[42]);
    let pid = s(&payments[7]["id"]).to_owned();
    let (status, one) = get(format!("/commerce/api/payments/{pid}"), vec![]).await;
    assert_eq!((status, &one["payment"]), (StatusCode::OK, &payments[7]));
    let (status, _) = get("/commerce/api/orders/123".into(), vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, customers) = get(
        "/commerce/api/customers".into(),
        vec![("limit", "1000".into())],
    )
    .await;
    assert_eq!(customers["customers"].as_array().unwrap().len(), 80);
    let (_, products) = get("/commerce/api/products".into(), vec![]).await;
    assert_eq!(products["products"].as_array().unwrap().len(), 40);

    advance_secs(&env.clock, 5);
    let since = Timestamp::from_millis(START_MS + 1000).to_rfc3339();
    let (status, touched) = env
        .admin(
            reqwest::Method::POST,
            &format!("/admin/data/{store_id}/touch"),
            Some(json!({"type": "commerce-products", "indices": [3, 9]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{touched}");
    let (_, changed) = get(
        "/commerce/api/products".into(),
        vec![("updated_at_min", since)],
    )
    .await;
    let changed = changed["products"].as_array().unwrap();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0]["id"], products["products"][3]["id"]);
    assert_ne!(
        changed[0]["variants"][0]["inventory_quantity"],
        products["products"][3]["variants"][0]["inventory_quantity"]
    );
    assert_eq!(changed[1]["updated_at"], "2027-01-15T08:00:05+00:00");

    // The key is checked; faults reach the shop API too.
    let resp = env
        .http
        .get(env.url("/commerce/api/orders"))
        .bearer_auth("sk_sandbox_unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_api_key"
    );
    env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::InvalidToken, 1).for_type(DataType::CommerceOrders),
    );
    let (status, body) = get("/commerce/api/orders".into(), vec![]).await;
    assert_eq!(
        (status, s(&body["error"])),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
    env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::RateLimited, 1)
            .for_type(DataType::CommerceOrders)
            .on_page(2),
    );
    let (status, _) = get("/commerce/api/orders".into(), vec![("page", "2".into())]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let stats = env.sandbox.stats();
    assert_eq!(
        stats.data_requests_by_type["commerce-orders"],
        3 + 1 + 1 + 1 + 1 + 1
    );
    assert_eq!(stats.commerce_requests, stats.data_requests);
}

#[tokio::test]
async fn admin_data_settings() {
    let env = start(SandboxConfig::default()).await;
    let g = env.sandbox.mint("Admin Data Ltd").await.unwrap();
    let path = format!("/admin/data/{}", g.tenant_id);
    let (status, info) = env.admin(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["kind"], "organisation");
    assert_eq!(info["name"], "Admin Data Ltd");
    assert_eq!(info["counts"]["invoices"], 400);
    assert_eq!(info["counts"]["company"], 1);
    assert!(info["counts"].get("commerce-orders").is_none());
    assert_eq!(info["touched"], json!({}));

    let (status, info) = env
        .admin(
            reqwest::Method::POST,
            &path,
            Some(json!({"invoices": 100000, "bankTransactions": 100000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["profile"]["invoices"], 100_000);
    assert_eq!(info["counts"]["bankTransactions"], 100_000);
    assert_eq!(info["counts"]["bills"], 250);
    let got = env
        .data(
            "/api/invoices",
            &g.access_token,
            &[("page", "100"), ("pageSize", "1000")],
        )
        .await;
    assert_eq!(got.body["Invoices"].as_array().unwrap().len(), 1000);
    assert_eq!(got.body["Invoices"][999]["InvoiceNumber"], "INV-100000");

    for body in [
        json!({"payments": 100001}),
        json!({"customers": 0}),
        json!({"invoicez": 1}),
        json!({"invoices": -1}),
    ] {
        let (status, b) = env
            .admin(reqwest::Method::POST, &path, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {b}");
    }
    let (status, _) = env
        .admin(reqwest::Method::GET, "/admin/data/nobody", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env
        .admin(
            reqwest::Method::POST,
            "/admin/data/nobody",
            Some(json!({"invoices": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    env.sandbox
        .touch_data(&g.tenant_id, DataType::Bills, TouchSelection::Spread(3))
        .await
        .unwrap();
    let (_, info) = env.admin(reqwest::Method::GET, &path, None).await;
    assert_eq!(info["touched"], json!({"bills": 3}));
    let (status, info) = env.admin(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["counts"]["invoices"], 400);
    assert_eq!(info["touched"], json!({}));

    // Minting with data over HTTP; a bad profile mints nothing.
    let (status, minted) = env
        .admin(
            reqwest::Method::POST,
            "/admin/mint",
            Some(json!({"companyName": "Big Ltd", "data": {"invoices": 5}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let counts = env
        .sandbox
        .data_counts(s(&minted["tenant_id"]))
        .await
        .unwrap();
    assert_eq!(counts[&DataType::Invoices], 5);
    assert_eq!(
        counts[&DataType::Payments],
        3,
        "payments follow the invoices"
    );
    let before = env.sandbox.stats();
    for (route, body) in [
        (
            "/admin/mint",
            json!({"companyName": "Bad Ltd", "data": {"payments": 9999}}),
        ),
        (
            "/admin/commerce/stores",
            json!({"name": "Bad Shop", "data": {"commerce-products": 0}}),
        ),
        ("/admin/commerce/stores", json!({"data": {"invoicez": 1}})),
    ] {
        let (status, _) = env
            .admin(reqwest::Method::POST, route, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(env.sandbox.stats(), before);
    let store = env.sandbox.mint_commerce_store(None).await.unwrap();
    let (_, info) = env
        .admin(
            reqwest::Method::GET,
            &format!("/admin/data/{}", store.store_id),
            None,
        )
        .await;
    assert_eq!(info["kind"], "store");
    assert_eq!(info["counts"]["commerce-orders"], 400);
    assert!(info["counts"].get("invoices").is_none());
    assert_eq!(
        env.sandbox
            .data_record(&store.store_id, DataType::Invoices, 0)
            .await
            .unwrap(),
        None
    );
}
