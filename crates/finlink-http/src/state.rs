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
}

impl HttpState {
    pub fn new(app: App) -> Self {
        let doc = crate::openapi();
        let openapi_json =
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| String::from("{}"));
        let docs_html = crate::ops::docs::render(&doc);
        Self {
            app,
            openapi_json: Arc::new(openapi_json),
            docs_html: Arc::new(docs_html),
        }
    }
}
