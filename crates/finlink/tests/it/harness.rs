//! Starts a server per test with its own database (a temp SQLite file, or a fresh
//! PostgreSQL schema) and a manual clock.

use std::sync::Arc;

use base64::Engine as _;
use finlink::{Config, Server};
use finlink_domain::{ManualClock, Timestamp};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub engine: Engine,
    pub config: Config,
    pub server: Option<Server>,
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

/// Generates one test per engine from an `async fn(TestServer)`.
#[macro_export]
macro_rules! both_engines {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let ts = $crate::harness::TestServer::start($crate::harness::Engine::Sqlite).await;
                super::$name(&ts).await;
                ts.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if std::env::var("FINLINK_TEST_POSTGRES_URL").is_err() {
                    eprintln!("FINLINK_TEST_POSTGRES_URL is not set: skipping");
                    return;
                }
                let ts =
                    $crate::harness::TestServer::start($crate::harness::Engine::Postgres).await;
                super::$name(&ts).await;
                ts.stop().await;
            }
        }
    };
}

pub fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

impl TestServer {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, |_| {}).await
    }

    pub async fn start_with(engine: Engine, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let mut schema = None;
        if engine == Engine::Postgres {
            let url = std::env::var("FINLINK_TEST_POSTGRES_URL").unwrap();
            let name = format!("finlink_it_{}", uuid::Uuid::new_v4().simple());
            cfg.database_url = Some(url.clone());
            cfg.database_schema = Some(name.clone());
            cfg.database_max_connections = 4;
            let (_, spec) = finlink_vault::Keyring::generate();
            cfg.master_keys = Some(spec.expose().clone().into());
            schema = Some((url, name));
        }
        // Jobs run when a test calls `run_jobs` (after moving the clock), not in the background.
        cfg.workers.enabled = false;
        tweak(&mut cfg);
        let clock = ManualClock::new(Timestamp::from_millis(1_795_000_000_000));
        // Connectors wait (Retry-After, backoff) by moving the manual clock.
        let sleeper = finlink_providers::connectors::ClockSleeper::new(clock.clone());
        let server = finlink::spawn_with(&cfg, Arc::new(clock.clone()), Some(Arc::new(sleeper)))
            .await
            .unwrap();
        let key = finlink::bootstrap(&server.app).await.unwrap().unwrap();
        let base = server.base_url();
        Self {
            engine,
            config: cfg,
            server: Some(server),
            base,
            key,
            http: reqwest::Client::new(),
            clock,
            _dir: dir,
            schema,
        }
    }

    /// Every byte the database holds, as text (SQLite: the files; PostgreSQL: every row of every table).
    pub async fn database_dump(&self) -> String {
        match self.engine {
            Engine::Sqlite => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(&self.config.data_dir).unwrap() {
                    let p = entry.unwrap().path();
                    if p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("finlink.db")
                    {
                        all.extend(std::fs::read(&p).unwrap());
                    }
                }
                String::from_utf8_lossy(&all).into_owned()
            }
            Engine::Postgres => {
                let (url, schema) = self.schema.clone().unwrap();
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1")
                        .bind(&schema)
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                let mut out = String::new();
                for (t,) in tables {
                    let rows: Vec<(String,)> =
                        sqlx::query_as(&format!("SELECT t::text FROM {schema}.{t} t"))
                            .fetch_all(&pool)
                            .await
                            .unwrap();
                    for (r,) in rows {
                        out.push_str(&r);
                        out.push('\n');
                    }
                }
                out
            }
        }
    }

    /// Runs every job due at the test clock's time (repeatedly, until none is due).
    pub async fn run_jobs(&self) -> usize {
        let mut total = 0;
        loop {
            let n = self
                .app()
                .run_due_jobs("test-worker", 100, 60)
                .await
                .unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    pub fn app(&self) -> &finlink_app::App {
        &self.server.as_ref().unwrap().app
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
        if let Some((url, schema)) = self.schema.take() {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&pool)
                .await
                .unwrap();
        }
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.req_as(&self.key, method, path)
    }

    pub fn req_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .header("authorization", basic(key))
    }

    /// Sends and returns (status, JSON body or Null).
    pub async fn call(&self, rb: RequestBuilder) -> (u16, Value) {
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(self.req(Method::POST, path).json(&body)).await
    }

    /// A second client with its own key.
    pub async fn other_client_key(&self) -> String {
        let app = self.app();
        let c = app.create_client("Other").await.unwrap();
        app.create_api_key(c.id, None, vec![]).await.unwrap().key
    }

    pub async fn company(&self, name: &str) -> Value {
        let (s, b) = self
            .post("/companies", serde_json::json!({ "name": name }))
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }
}

/// Asserts an error answer in Codat's shape and returns its message.
pub fn assert_error(status: u16, body: &Value, expected: u16) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["statusCode"], expected, "{body}");
    assert!(body["service"].is_string(), "{body}");
    assert!(body["canBeRetried"].is_string(), "{body}");
    let cid = body["correlationId"].as_str().unwrap();
    assert_eq!(cid.len(), 32, "{body}");
    body["error"].as_str().unwrap().to_owned()
}
