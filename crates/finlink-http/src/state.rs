use std::sync::Arc;

use finlink_app::App;

/// What every handler gets.
#[derive(Clone)]
pub struct HttpState {
    pub app: App,
    /// The OpenAPI document, rendered once at start.
    pub openapi_json: Arc<String>,
    /// The `/docs` page, rendered once at start.
    pub docs_html: Arc<String>,
    /// The proxy's HTTP client (no redirects followed: a redirect could leave the allowed hosts).
    pub proxy_http: reqwest::Client,
}

impl HttpState {
    pub fn new(app: App) -> Self {
        crate::ops::metrics::install();
        let doc = crate::openapi();
        let openapi_json =
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| String::from("{}"));
        let docs_html = crate::ops::docs::render(&doc);
        let proxy_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("finlink/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "proxy: cannot build the HTTP client; using the default");
                reqwest::Client::new()
            });
        Self {
            app,
            openapi_json: Arc::new(openapi_json),
            docs_html: Arc::new(docs_html),
            proxy_http,
        }
    }
}
