//! The hosted Link pages, driven like a browser: a cookie-less client with redirects off, the
//! `finlink_link` cookie handled by hand, every hop asserted. OAuth goes through the built-in
//! sandbox's consent page; API keys through the Commerce Sandbox.

use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::{Engine, TestServer};

const COOKIE: &str = "finlink_link";

/// One answer, as a browser sees it.
struct Hop {
    status: u16,
    location: Option<String>,
    /// The value of a `finlink_link` cookie the answer set.
    cookie: Option<String>,
    /// That cookie's whole `Set-Cookie` header.
    set_cookie: Option<String>,
    csp: Option<String>,
    body: String,
}

impl Hop {
    fn location(&self) -> &str {
        self.location
            .as_deref()
            .unwrap_or_else(|| panic!("no Location (status {}): {}", self.status, self.body))
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(rb: reqwest::RequestBuilder) -> Hop {
    let res = rb.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let location = header("location");
    let csp = header("content-security-policy");
    let set_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{COOKIE}=")))
        .map(str::to_owned);
    let cookie = set_cookie.as_deref().map(|v| {
        let first = v.split(';').next().unwrap().trim();
        first[COOKIE.len() + 1..].to_owned()
    });
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    Hop {
        status,
        location,
        cookie,
        set_cookie,
        csp,
        body,
    }
}

async fn get(url: &str, cookie: Option<&str>) -> Hop {
    let mut rb = browser().get(url);
    if let Some(c) = cookie {
        rb = rb.header("cookie", format!("{COOKIE}={c}"));
    }
    send(rb).await
}

async fn post_form(url: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Hop {
    let mut rb = browser().post(url).form(form);
    if let Some(c) = cookie {
        rb = rb.header("cookie", format!("{COOKIE}={c}"));
    }
    send(rb).await
}

/// The `value` of the input named `name` (`name="..." value="..."`, in that order).
fn input_value(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no input {name} in {html}"))
        + needle.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Turns a relative Location into an absolute URL on the server.
fn absolute(ts: &TestServer, location: &str) -> String {
    if location.starts_with('/') {
        format!("{}{location}", ts.base)
    } else {
        location.to_owned()
    }
}

async fn set_profile(ts: &TestServer, confirm: bool) {
    let (s, b) = ts
        .call(ts.req(Method::PUT, "/profile").json(&json!({
            "name": "Bob's Burgers",
            "redirectUrl": "https://app.example/done/{companyId}",
            "whiteListUrls": ["https://app.example"],
            "confirmCompanyName": confirm,
        })))
        .await;
    assert_eq!(s, 200, "{b}");
}

/// A company with one connection to `platform`: (company id, connection JSON).
async fn company_with(ts: &TestServer, platform: &str) -> (String, Value) {
    let c = ts.company("Link Co").await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let (s, conn) = ts
        .post(
            &format!("/companies/{cid}/connections"),
            json!({ "platformKey": platform }),
        )
        .await;
    assert_eq!(s, 200, "{conn}");
    assert_eq!(conn["status"], "PendingAuth");
    (cid, conn)
}

async fn connection(ts: &TestServer, cid: &str, conn_id: &str) -> Value {
    let (s, b) = ts
        .get(&format!("/companies/{cid}/connections/{conn_id}"))
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// The audit entries of a connection, oldest first as actions.
async fn audit_actions(ts: &TestServer, conn_id: &str) -> Vec<String> {
    let (s, log) = ts.get("/audit?pageSize=500").await;
    assert_eq!(s, 200, "{log}");
    let mut out: Vec<String> = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["connectionId"] == conn_id)
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    out.reverse();
    out
}

/// An OAuth attempt started from a connection's `linkUrl`.
struct Started {
    cookie: String,
    state: String,
    authorize: String,
}

async fn start_oauth(ts: &TestServer, link_url: &str) -> Started {
    let hop = get(link_url, None).await;
    assert_eq!(hop.status, 303, "{}", hop.body);
    let cookie = hop.cookie.clone().expect("a finlink_link cookie");
    assert!(cookie.len() >= 32, "{cookie}");
    let attributes = hop.set_cookie.as_deref().unwrap();
    for a in ["Path=/link", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(a), "{attributes}");
    }
    let authorize = absolute(ts, hop.location());
    assert!(
        authorize.starts_with(&format!("{}/sandbox/oauth/authorize?", ts.base)),
        "{authorize}"
    );
    let state = query_param(&authorize, "state").expect("state");
    assert!(state.len() >= 32, "{state}");
    let challenge = query_param(&authorize, "code_challenge").expect("code_challenge");
    assert_eq!(challenge.len(), 43, "{challenge}");
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri"),
        Some(format!("{}/link/oauth/callback", ts.base))
    );
    assert_eq!(
        query_param(&authorize, "response_type").as_deref(),
        Some("code")
    );
    Started {
        cookie,
        state,
        authorize,
    }
}

/// Answers the sandbox's consent page; returns the callback URL it redirects to.
async fn consent(ts: &TestServer, started: &Started, decision: &str, company: &str) -> String {
    let page = get(&started.authorize, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let request = input_value(&page.body, "request");
    assert!(page.body.contains(r#"name="decision" value="approve""#));
    assert!(page.body.contains(r#"name="decision" value="deny""#));
    let hop = post_form(
        &format!("{}/sandbox/oauth/authorize", ts.base),
        None,
        &[
            ("request", &request),
            ("company_name", company),
            ("decision", decision),
        ],
    )
    .await;
    assert_eq!(hop.status, 302, "{}", hop.body);
    let callback = absolute(ts, hop.location());
    assert!(
        callback.starts_with(&format!("{}/link/oauth/callback?", ts.base)),
        "{callback}"
    );
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(started.state.as_str())
    );
    callback
}

fn done_url(cid: &str, conn_id: &str) -> String {
    format!("https://app.example/done/{cid}?statusCode=200&statusText=OK&connectionId={conn_id}")
}

fn unescape(html: &str) -> String {
    html.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The hand-over to the application (a page with a meta refresh and a link, not a 303: a
/// platform's `form-action` CSP may block a redirect chain to a third origin). Returns the URL
/// it hands over to.
fn handed_over(hop: &Hop) -> String {
    assert_eq!(hop.status, 200, "{}", hop.body);
    assert!(hop.location.is_none(), "{:?}", hop.location);
    let between = |start: &str, end: &str| {
        let i = hop
            .body
            .find(start)
            .unwrap_or_else(|| panic!("no {start} in {}", hop.body))
            + start.len();
        let j = hop.body[i..].find(end).unwrap();
        unescape(&hop.body[i..i + j])
    };
    let refresh = between(r#"<meta http-equiv="refresh" content="0; url="#, "\"");
    let link = between(r#"<a class="button" href=""#, "\"");
    assert_eq!(refresh, link);
    assert!(
        hop.csp
            .as_deref()
            .is_some_and(|c| c.contains("script-src 'none'")),
        "{:?}",
        hop.csp
    );
    link
}

/// Links a new Sandbox connection through the hosted Link pages (no name confirmation), the
/// business consenting as `company_name`: (company id, connection id).
pub(crate) async fn link_sandbox(ts: &TestServer, company_name: &str) -> (String, String) {
    set_profile(ts, false).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let started = start_oauth(ts, conn["linkUrl"].as_str().unwrap()).await;
    let callback = consent(ts, &started, "approve", company_name).await;
    handed_over(&get(&callback, Some(&started.cookie)).await);
    assert_eq!(connection(ts, &cid, &conn_id).await["status"], "Linked");
    (cid, conn_id)
}

// -- 1 -------------------------------------------------------------------------------------------

async fn oauth_flow_links_and_redirects(ts: &TestServer) {
    set_profile(ts, true).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap();
    let started = start_oauth(ts, conn["linkUrl"].as_str().unwrap()).await;
    let callback = consent(ts, &started, "approve", "Acme Sandbox Ltd").await;
    let code = query_param(&callback, "code").expect("code");

    let hop = get(&callback, Some(&started.cookie)).await;
    assert_eq!(hop.status, 303, "{}", hop.body);
    let confirm = hop.location().to_owned();
    assert!(
        confirm.starts_with("/link/flows/") && confirm.contains("/confirm"),
        "{confirm}"
    );
    let confirm_path = confirm.split('?').next().unwrap().to_owned();
    // not linked before the business confirms
    assert_eq!(connection(ts, &cid, conn_id).await["status"], "PendingAuth");

    let page = get(&absolute(ts, &confirm), Some(&started.cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Acme Sandbox Ltd"), "{}", page.body);
    assert!(page.body.contains(r#"name="answer" value="yes""#));
    let csrf = input_value(&page.body, "csrf");
    assert!(
        page.csp
            .as_deref()
            .is_some_and(|c| c.contains("script-src 'none'"))
    );

    let hop = post_form(
        &absolute(ts, &confirm_path),
        Some(&started.cookie),
        &[("csrf", &csrf), ("answer", "yes")],
    )
    .await;
    assert_eq!(handed_over(&hop), done_url(&cid, conn_id));

    let linked = connection(ts, &cid, conn_id).await;
    assert_eq!(linked["status"], "Linked", "{linked}");
    assert!(linked["connectionInfo"]["tenantId"].is_string(), "{linked}");

    let actions = audit_actions(ts, conn_id).await;
    assert!(actions.iter().any(|a| a == "link.started"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a == "link.authorized"),
        "{actions:?}"
    );

    let dump = ts.database_dump().await;
    assert!(!dump.contains(&started.state), "the state is stored hashed");
    assert!(!dump.contains(&code), "the code is not stored");
    assert!(
        !dump.contains(&started.cookie),
        "the browser cookie is stored hashed"
    );
    assert!(!dump.contains(&csrf), "CSRF tokens are not stored");
}
both_engines!(oauth_flow_links_and_redirects);

// -- 2 -------------------------------------------------------------------------------------------

async fn replayed_state_is_refused_and_changes_nothing(ts: &TestServer) {
    set_profile(ts, false).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap();
    let started = start_oauth(ts, conn["linkUrl"].as_str().unwrap()).await;
    let callback = consent(ts, &started, "approve", "Replay Ltd").await;

    let hop = get(&callback, Some(&started.cookie)).await;
    assert_eq!(handed_over(&hop), done_url(&cid, conn_id));
    let before = connection(ts, &cid, conn_id).await;
    assert_eq!(before["status"], "Linked");
    let audit_before = audit_actions(ts, conn_id).await;

    for _ in 0..2 {
        let hop = get(&callback, Some(&started.cookie)).await;
        assert_eq!(hop.status, 400, "{}", hop.body);
        assert!(hop.location.is_none());
        assert!(hop.body.contains("already completed"), "{}", hop.body);
        assert!(hop.body.contains("Nothing was changed"), "{}", hop.body);
    }
    assert_eq!(connection(ts, &cid, conn_id).await, before);
    assert_eq!(audit_actions(ts, conn_id).await, audit_before);

    // a made-up state is refused the same way
    let forged = format!(
        "{}/link/oauth/callback?code=x&state={}",
        ts.base,
        "A".repeat(43)
    );
    let hop = get(&forged, Some(&started.cookie)).await;
    assert_eq!(hop.status, 400, "{}", hop.body);
    assert_eq!(audit_actions(ts, conn_id).await, audit_before);
}
both_engines!(replayed_state_is_refused_and_changes_nothing);

// -- 3 -------------------------------------------------------------------------------------------

async fn foreign_browser_and_expired_state_are_refused(ts: &TestServer) {
    set_profile(ts, false).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap();
    let started = start_oauth(ts, conn["linkUrl"].as_str().unwrap()).await;
    // the sandbox's code is obtained before the clock moves
    let callback = consent(ts, &started, "approve", "Foreign Ltd").await;
    let audit_before = audit_actions(ts, conn_id).await;

    // another browser (its own cookie), then no cookie at all
    let other = get(&format!("{}/link/company/{cid}", ts.base), None)
        .await
        .cookie
        .expect("a cookie for the other browser");
    assert_ne!(other, started.cookie);
    for cookie in [Some(other.as_str()), None] {
        let hop = get(&callback, cookie).await;
        assert_eq!(hop.status, 400, "{}", hop.body);
        assert!(hop.body.contains("another browser"), "{}", hop.body);
        assert_eq!(connection(ts, &cid, conn_id).await["status"], "PendingAuth");
    }
    assert_eq!(audit_actions(ts, conn_id).await, audit_before);

    // the right browser, too late
    ts.clock.advance_millis(11 * 60 * 1000);
    let hop = get(&callback, Some(&started.cookie)).await;
    assert_eq!(hop.status, 400, "{}", hop.body);
    assert!(hop.body.contains("expired"), "{}", hop.body);
    let after = connection(ts, &cid, conn_id).await;
    assert_eq!(after["status"], "PendingAuth");
    assert_eq!(after["dataConnectionErrors"], json!([]), "{after}");
    assert_eq!(audit_actions(ts, conn_id).await, audit_before);
}
both_engines!(foreign_browser_and_expired_state_are_refused);

// -- 4 -------------------------------------------------------------------------------------------

async fn denied_consent_fails_with_error_entry(ts: &TestServer) {
    set_profile(ts, true).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap();
    let started = start_oauth(ts, conn["linkUrl"].as_str().unwrap()).await;
    let callback = consent(ts, &started, "deny", "Denied Ltd").await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&callback, "code"), None);

    let hop = get(&callback, Some(&started.cookie)).await;
    let to = &handed_over(&hop);
    assert!(
        to.starts_with(&format!("https://app.example/done/{cid}?")),
        "{to}"
    );
    assert_eq!(query_param(to, "statusCode").as_deref(), Some("403"));
    assert_eq!(query_param(to, "statusText").as_deref(), Some("Forbidden"));
    assert_eq!(query_param(to, "connectionId").as_deref(), Some(conn_id));
    let message = query_param(to, "errorMessage").expect("errorMessage");
    assert!(message.contains("Sandbox"), "{message}");

    let failed = connection(ts, &cid, conn_id).await;
    assert_eq!(failed["status"], "PendingAuth", "{failed}");
    let errors = failed["dataConnectionErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{failed}");
    assert_eq!(errors[0]["statusCode"], "403");
    assert_eq!(errors[0]["status"], "Active");
    assert_eq!(errors[0]["errorMessage"], message.as_str());
    let actions = audit_actions(ts, conn_id).await;
    assert!(actions.iter().any(|a| a == "link.failed"), "{actions:?}");
    assert!(
        !actions.iter().any(|a| a == "link.authorized"),
        "{actions:?}"
    );
}
both_engines!(denied_consent_fails_with_error_entry);

// -- 5 -------------------------------------------------------------------------------------------

async fn mint_store_key(ts: &TestServer) -> String {
    let res = browser()
        .post(format!("{}/sandbox/admin/commerce/stores", ts.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    assert!(b["storeId"].is_string(), "{b}");
    b["apiKey"].as_str().unwrap().to_owned()
}

/// Opens an API-key connection's form: (cookie, csrf, form action URL).
async fn open_form(ts: &TestServer, link_url: &str) -> (String, String, String) {
    let hop = get(link_url, None).await;
    assert_eq!(hop.status, 200, "{}", hop.body);
    let cookie = hop.cookie.clone().expect("a finlink_link cookie");
    assert!(
        hop.body.contains(r#"name="apiKey" type="password""#),
        "{}",
        hop.body
    );
    let csrf = input_value(&hop.body, "csrf");
    let action = link_url.replace("/start", "/credentials");
    assert!(hop.body.contains(&action[ts.base.len()..]), "{}", hop.body);
    (cookie, csrf, action)
}

async fn api_key_form_checks_the_key(ts: &TestServer) {
    set_profile(ts, true).await;
    let key = mint_store_key(ts).await;
    let (cid, conn) = company_with(ts, "aiwb").await;
    let conn_id = conn["id"].as_str().unwrap();
    let (cookie, csrf, action) = open_form(ts, conn["linkUrl"].as_str().unwrap()).await;

    let wrong = "not-a-store-key-0123456789";
    let hop = post_form(
        &action,
        Some(&cookie),
        &[("csrf", &csrf), ("lang", "en"), ("apiKey", wrong)],
    )
    .await;
    assert_eq!(hop.status, 422, "{}", hop.body);
    assert!(hop.body.contains(r#"role="alert""#), "{}", hop.body);
    assert!(
        hop.body.contains(r#"name="apiKey" type="password""#),
        "the form again"
    );
    assert!(!hop.body.contains(wrong), "a secret is not echoed");
    assert_eq!(connection(ts, &cid, conn_id).await["status"], "PendingAuth");

    // an empty key is refused before the platform is asked
    let hop = post_form(&action, Some(&cookie), &[("csrf", &csrf), ("apiKey", " ")]).await;
    assert_eq!(hop.status, 422, "{}", hop.body);

    let csrf = input_value(&hop.body, "csrf");
    let hop = post_form(
        &action,
        Some(&cookie),
        &[("csrf", &csrf), ("lang", "en"), ("apiKey", &key)],
    )
    .await;
    assert_eq!(handed_over(&hop), done_url(&cid, conn_id));
    let linked = connection(ts, &cid, conn_id).await;
    assert_eq!(linked["status"], "Linked", "{linked}");
    assert!(!linked.to_string().contains(&key));
    let actions = audit_actions(ts, conn_id).await;
    assert!(actions.iter().any(|a| a == "link.failed"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a == "link.authorized"),
        "{actions:?}"
    );

    let dump = ts.database_dump().await;
    assert!(!dump.contains(&key), "the API key is sealed");
    assert!(!dump.contains(wrong), "a refused key is not stored");
}
both_engines!(api_key_form_checks_the_key);

// -- 6 -------------------------------------------------------------------------------------------

async fn csrf_is_required(ts: &TestServer) {
    let key = mint_store_key(ts).await;
    let (cid, conn) = company_with(ts, "aiwb").await;
    let conn_id = conn["id"].as_str().unwrap();
    let (cookie, csrf, action) = open_form(ts, conn["linkUrl"].as_str().unwrap()).await;
    let other = get(&format!("{}/link/company/{cid}", ts.base), None)
        .await
        .cookie
        .unwrap();

    type Form<'a> = &'a [(&'a str, &'a str)];
    let attempts: [(Option<&str>, Form); 4] = [
        // no token
        (Some(&cookie), &[("apiKey", &key)]),
        // a forged token
        (Some(&cookie), &[("csrf", "AAAA"), ("apiKey", &key)]),
        // the right token from another browser
        (Some(&other), &[("csrf", &csrf), ("apiKey", &key)]),
        // no cookie at all
        (None, &[("csrf", &csrf), ("apiKey", &key)]),
    ];
    for (cookie, form) in attempts {
        let hop = post_form(&action, cookie, form).await;
        assert_eq!(hop.status, 403, "{}", hop.body);
        assert!(hop.body.contains("This form has expired"), "{}", hop.body);
    }
    let conn = connection(ts, &cid, conn_id).await;
    assert_eq!(conn["status"], "PendingAuth");
    assert!(audit_actions(ts, conn_id).await.is_empty());

    // the token expires (two hours)
    ts.clock.advance_millis(2 * 3600 * 1000 + 1000);
    let hop = post_form(&action, Some(&cookie), &[("csrf", &csrf), ("apiKey", &key)]).await;
    assert_eq!(hop.status, 403, "{}", hop.body);
}
both_engines!(csrf_is_required);

// -- 7 -------------------------------------------------------------------------------------------

async fn organisation_pick_on(engine: Engine) {
    let ts = TestServer::start_with(engine, |cfg| {
        cfg.sandbox.organisations_per_grant = Some(3);
    })
    .await;
    organisation_pick_flow(&ts).await;
    ts.stop().await;
}

async fn organisation_pick_flow(ts: &TestServer) {
    set_profile(ts, false).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap();
    let started = start_oauth(ts, conn["linkUrl"].as_str().unwrap()).await;
    let callback = consent(ts, &started, "approve", "Multi Org").await;

    let hop = get(&callback, Some(&started.cookie)).await;
    assert_eq!(hop.status, 303, "{}", hop.body);
    let to = hop.location().to_owned();
    assert!(
        to.starts_with("/link/flows/") && to.contains("/organisation"),
        "{to}"
    );
    let path = to.split('?').next().unwrap().to_owned();

    let page = get(&absolute(ts, &to), Some(&started.cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let values: Vec<String> = page
        .body
        .split(r#"type="radio""#)
        .skip(1)
        .map(|rest| input_value(rest, "organisation"))
        .collect();
    assert_eq!(values.len(), 3, "{}", page.body);
    assert!(page.body.contains("Multi Org (2)"), "{}", page.body);
    let csrf = input_value(&page.body, "csrf");
    // the page is the business's alone
    let other = get(&absolute(ts, &to), None).await;
    assert_eq!(other.status, 400, "{}", other.body);

    // an organisation that is not listed shows the page again
    let hop = post_form(
        &absolute(ts, &path),
        Some(&started.cookie),
        &[("csrf", &csrf), ("organisation", "not-listed")],
    )
    .await;
    assert_eq!(hop.status, 200, "{}", hop.body);
    assert_eq!(connection(ts, &cid, conn_id).await["status"], "PendingAuth");

    let hop = post_form(
        &absolute(ts, &path),
        Some(&started.cookie),
        &[("csrf", &csrf), ("organisation", &values[1])],
    )
    .await;
    assert_eq!(handed_over(&hop), done_url(&cid, conn_id));
    let linked = connection(ts, &cid, conn_id).await;
    assert_eq!(linked["status"], "Linked", "{linked}");
    assert_eq!(
        linked["connectionInfo"]["tenantId"],
        values[1].as_str(),
        "{linked}"
    );

    // answered: the step cannot be answered again
    let hop = post_form(
        &absolute(ts, &path),
        Some(&started.cookie),
        &[("csrf", &csrf), ("organisation", &values[2])],
    )
    .await;
    assert_eq!(hop.status, 400, "{}", hop.body);
    assert_eq!(
        connection(ts, &cid, conn_id).await["connectionInfo"]["tenantId"],
        values[1].as_str()
    );
}

mod organisation_pick {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::organisation_pick_on(crate::harness::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            eprintln!("FINLINK_TEST_POSTGRES_URL is not set: skipping");
            return;
        }
        super::organisation_pick_on(crate::harness::Engine::Postgres).await;
    }
}

// -- 8 -------------------------------------------------------------------------------------------

async fn company_page_lists_enabled_platforms_in_french(ts: &TestServer) {
    let c = ts.company("Page Co").await;
    let cid = c["id"].as_str().unwrap();
    let url = format!("{}/link/company/{cid}", ts.base);

    let hop = get(&format!("{url}?lang=fr"), None).await;
    assert_eq!(hop.status, 200, "{}", hop.body);
    assert!(hop.body.contains(r#"lang="fr""#), "{}", hop.body);
    assert!(
        hop.body.contains("Logiciels de comptabilité"),
        "{}",
        hop.body
    );
    assert!(hop.body.contains("Sandbox"), "{}", hop.body);
    assert!(hop.body.contains(r#"value="mqjo""#), "{}", hop.body);
    assert!(hop.body.contains(r#"value="aiwb""#), "{}", hop.body);
    assert!(
        !hop.body.contains(r#"value="gbol""#),
        "Xero is not enabled for this client"
    );
    let csp = hop.csp.clone().expect("a CSP");
    assert!(csp.contains("script-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        hop.cookie.is_some(),
        "the page gives the browser its cookie"
    );

    let res = browser()
        .get(&url)
        .header("accept-language", "fr-CA,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"lang="fr""#), "{body}");
    assert!(body.contains("Logiciels de comptabilité"), "{body}");

    let hop = get(&url, None).await;
    assert!(hop.body.contains(r#"lang="en""#), "{}", hop.body);
    assert!(hop.body.contains("Accounting software"), "{}", hop.body);

    for missing in [
        format!("{}/link/company/{}", ts.base, uuid::Uuid::new_v4()),
        format!("{}/link/company/not-a-company", ts.base),
    ] {
        let hop = get(&missing, None).await;
        assert_eq!(hop.status, 404, "{missing}: {}", hop.body);
        assert!(hop.body.contains("<html"), "{}", hop.body);
        assert!(
            hop.body.contains("This page does not exist"),
            "{}",
            hop.body
        );
    }
}
both_engines!(company_page_lists_enabled_platforms_in_french);

// -- 9 -------------------------------------------------------------------------------------------

async fn integration_credentials_api(ts: &TestServer) {
    let path = "/integrations/gbol/credentials";
    let (s, b) = ts.get("/integrations/gbol").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["enabled"], false, "{b}");
    let (s, b) = ts.get(path).await;
    assert_eq!(s, 404, "{b}");

    let (s, put) = ts
        .call(
            ts.req(Method::PUT, path)
                .json(&json!({"clientId": "abc", "clientSecret": "shh-integration-secret-7d1f"})),
        )
        .await;
    assert_eq!(s, 200, "{put}");
    assert_eq!(put["clientId"], "abc");
    assert_eq!(put["clientSecretSet"], true);
    assert_eq!(put["platformKey"], "gbol");
    assert_eq!(
        put["redirectUri"],
        format!("{}/link/oauth/callback", ts.base)
    );
    assert!(
        !put.to_string().contains("shh-integration-secret-7d1f"),
        "{put}"
    );

    let (s, got) = ts.get(path).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got, put);

    let (s, b) = ts.get("/integrations/gbol").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["enabled"], true, "{b}");

    // another client sees none of it
    let other = ts.other_client_key().await;
    let (s, b) = ts.call(ts.req_as(&other, Method::GET, path)).await;
    assert_eq!(s, 404, "{b}");

    assert!(
        !ts.database_dump()
            .await
            .contains("shh-integration-secret-7d1f"),
        "the secret is sealed"
    );

    let (s, b) = ts.call(ts.req(Method::DELETE, path)).await;
    assert_eq!(s, 204, "{b}");
    let (s, b) = ts.get(path).await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = ts.get("/integrations/gbol").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["enabled"], false, "{b}");
}
both_engines!(integration_credentials_api);

// -- 10 ------------------------------------------------------------------------------------------

/// A `Deauthorized` connection is offered as "Reconnect" on the company page; reconnecting keeps
/// its id, replaces its credentials and links it again.
async fn reconnect_keeps_the_connection_id(ts: &TestServer) {
    use finlink_domain::Clock as _;
    set_profile(ts, false).await;
    let (cid, conn) = company_with(ts, "mqjo").await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let link_url = conn["linkUrl"].as_str().unwrap().to_owned();
    let started = start_oauth(ts, &link_url).await;
    let callback = consent(ts, &started, "approve", "First Grant Ltd").await;
    handed_over(&get(&callback, Some(&started.cookie)).await);
    assert_eq!(connection(ts, &cid, &conn_id).await["status"], "Linked");

    let company = finlink_domain::ids::CompanyId::parse(&cid).unwrap();
    let id = finlink_domain::ids::ConnectionId::parse(&conn_id).unwrap();
    let client = ts
        .app()
        .store
        .company_owner(company)
        .await
        .unwrap()
        .unwrap();
    ts.app()
        .store
        .set_connection_status(
            client,
            company,
            id,
            finlink_domain::connection::ConnectionStatus::Deauthorized,
            ts.clock.now(),
            &finlink_store::Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();

    let page = get(&format!("{}/link/company/{cid}", ts.base), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let reconnect = format!("/link/companies/{cid}/connections/{conn_id}/start?lang=en");
    assert!(page.body.contains(&reconnect), "{}", page.body);
    assert!(page.body.contains("Reconnect"), "{}", page.body);
    assert!(page.body.contains("Access expired"), "{}", page.body);

    let started = start_oauth(ts, &format!("{}{reconnect}", ts.base)).await;
    let callback = consent(ts, &started, "approve", "Second Grant Ltd").await;
    let target = handed_over(&get(&callback, Some(&started.cookie)).await);
    assert_eq!(target, done_url(&cid, &conn_id));
    let after = connection(ts, &cid, &conn_id).await;
    assert_eq!(after["status"], "Linked");
    assert_eq!(after["id"], conn_id.as_str());
    let (_, log) = ts.get("/audit?pageSize=500").await;
    assert!(
        log["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "link.authorized"
                && e["detail"].as_str().unwrap_or("").contains("reconnected")),
        "{log}"
    );
}
both_engines!(reconnect_keeps_the_connection_id);

// -- 11 ------------------------------------------------------------------------------------------

/// Shopify-style platforms ask for the shop's address first, then go to that shop's own
/// authorization page (with the catalog's scope separator, and without PKCE for Shopify).
async fn shop_address_first(engine: Engine) {
    let ts = TestServer::start_with(engine, |cfg| {
        cfg.integrations.insert(
            "fztf".into(),
            finlink::config::IntegrationConfig {
                client_id: Some("shopify-test-app".into()),
                client_secret: Some("shopify-test-secret".to_owned().into()),
                ..Default::default()
            },
        );
    })
    .await;
    let (_, conn) = company_with(&ts, "fztf").await;
    let link_url = conn["linkUrl"].as_str().unwrap().to_owned();
    let hop = get(&link_url, None).await;
    assert_eq!(hop.status, 200, "{}", hop.body);
    assert!(hop.body.contains(r#"name="shop""#), "{}", hop.body);
    let cookie = hop.cookie.clone().unwrap();
    let csrf = input_value(&hop.body, "csrf");
    let action = link_url.replace("/start", "/shop");

    let bad = post_form(
        &action,
        Some(&cookie),
        &[("csrf", &csrf), ("shop", "not a shop")],
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("shop-error"), "{}", bad.body);

    let hop = post_form(
        &action,
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("shop", "https://Acme-Store.myshopify.com/admin"),
        ],
    )
    .await;
    assert_eq!(hop.status, 303, "{}", hop.body);
    let to = hop.location().to_owned();
    assert!(
        to.starts_with("https://acme-store.myshopify.com/admin/oauth/authorize?"),
        "{to}"
    );
    assert_eq!(
        query_param(&to, "client_id").as_deref(),
        Some("shopify-test-app")
    );
    assert!(
        query_param(&to, "scope")
            .unwrap()
            .starts_with("read_orders,read_all_orders"),
        "{to}"
    );
    assert_eq!(
        query_param(&to, "code_challenge"),
        None,
        "Shopify's catalog entry has pkce = false"
    );
    assert!(query_param(&to, "state").is_some());
    ts.stop().await;
}

mod shop_address {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::shop_address_first(crate::harness::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
            eprintln!("FINLINK_TEST_POSTGRES_URL is not set: skipping");
            return;
        }
        super::shop_address_first(crate::harness::Engine::Postgres).await;
    }
}
