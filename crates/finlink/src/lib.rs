//! The `finlink` binary's library part: configuration, wiring, `serve`, and
//! [`spawn`], which tests use to run a real server on a loopback port with an
//! injected clock.

pub mod cli;
pub mod config;
pub mod migrate;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use finlink_app::{App, AppParts, AppSettings, OAuthApp};
use finlink_domain::Clock;
use finlink_providers::Catalog;
use finlink_store::Store;
use finlink_store_postgres::PostgresStore;
use finlink_store_sqlite::SqliteStore;
use finlink_vault::Keyring;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Layer as _;

pub use config::Config;

/// Opens the configured database (PostgreSQL when `database_url` is set, else SQLite
/// under `data_dir`) and applies migrations.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &cfg.database_url {
        Some(url) => {
            let store = PostgresStore::connect(
                url,
                cfg.database_schema.as_deref(),
                cfg.database_max_connections,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Arc::new(store))
        }
        None => {
            create_private_dir(&cfg.data_dir)?;
            let path = cfg.data_dir.join("finlink.db");
            let store = SqliteStore::open(&path)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// The client id and secret the built-in sandbox accepts by default.
pub const SANDBOX_CLIENT_ID: &str = "finlink-sandbox";
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-secret";

/// Loads the master keys: from the configuration, else (SQLite only) the development key
/// file under `data_dir`, which is created on first use.
pub fn load_keyring(cfg: &Config) -> anyhow::Result<Keyring> {
    if let Some(spec) = &cfg.master_keys {
        return Keyring::parse(spec.expose_secret())
            .map_err(|e| anyhow::anyhow!("master_keys: {e}"));
    }
    if cfg.database_url.is_some() {
        anyhow::bail!(
            "no master key is configured, and finlink will not store credentials on PostgreSQL without one.\n\
             Make one with `finlink encryption new-key` and give it to every finlink process as \
             FINLINK_MASTER_KEYS=<key> (or FINLINK_MASTER_KEYS_FILE=/path, or master_keys in the config file)."
        );
    }
    create_private_dir(&cfg.data_dir)?;
    let path = cfg.data_dir.join("master.key");
    let (keyring, created) =
        finlink_vault::load_or_create_key_file(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if created {
        tracing::warn!(
            path = %path.display(),
            key_id = %keyring.active_id(),
            "generated a development master key; back it up (without it stored credentials cannot be read) and set FINLINK_MASTER_KEYS in production"
        );
    }
    Ok(keyring)
}

/// Refuses to run when a stored secret is sealed under a key that is not configured.
pub async fn check_keys(store: &dyn Store, keyring: &Keyring) -> anyhow::Result<()> {
    let counts = store
        .credential_key_counts()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (key_id, n) in counts {
        let known = finlink_vault::KeyId::parse(&key_id)
            .map(|k| keyring.contains(&k))
            .unwrap_or(false);
        if !known {
            anyhow::bail!(
                "{n} stored secret(s) are sealed with master key '{key_id}', which is not configured. \
                 Add it back to master_keys (after the active key) and run `finlink encryption rotate` before removing it."
            );
        }
    }
    Ok(())
}

/// Builds the services over an open store.
pub fn build_app(
    cfg: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    public_url: String,
    internal_url: String,
    keyring: Keyring,
) -> anyhow::Result<App> {
    let mut catalog = Catalog::built_in().context("the built-in integration catalog is broken")?;
    if !cfg.custom_integrations.is_empty() {
        let mut logos = std::collections::BTreeMap::new();
        for c in &cfg.custom_integrations {
            let i = &c.integration;
            if let Some(b) = catalog
                .get(&i.key)
                .or_else(|| catalog.all().iter().find(|b| b.slug == i.slug))
            {
                anyhow::bail!(
                    "custom integration {} ({}): the key or slug is already {}'s; choose another",
                    i.key,
                    i.slug,
                    b.name
                );
            }
            logos.insert(c.integration.slug.clone(), c.logo_svg()?);
        }
        catalog = catalog
            .with_custom(
                cfg.custom_integrations
                    .iter()
                    .map(|c| c.integration.clone())
                    .collect(),
                logos,
            )
            .context("a custom integration in the configuration is not valid")?;
    }
    for key in cfg.integrations.keys() {
        if catalog.get(key).is_none() {
            let hint = catalog
                .all()
                .iter()
                .find(|i| i.slug == *key || i.name.eq_ignore_ascii_case(key))
                .map(|i| format!(" ({} is [integrations.{}])", i.name, i.key))
                .unwrap_or_default();
            anyhow::bail!(
                "[integrations.{key}] in the configuration names no known integration{hint}; GET /integrations lists the keys"
            );
        }
    }
    let mut oauth_apps = std::collections::BTreeMap::new();
    for (key, i) in &cfg.integrations {
        if let Some(id) = &i.client_id {
            oauth_apps.insert(
                key.clone(),
                OAuthApp {
                    client_id: id.clone(),
                    client_secret: i
                        .client_secret
                        .as_ref()
                        .map(|s| s.expose_secret().to_owned().into()),
                },
            );
        }
    }
    for builtin in catalog
        .all()
        .iter()
        .filter(|i| i.built_in && i.oauth.is_some())
    {
        oauth_apps
            .entry(builtin.key.clone())
            .or_insert_with(|| OAuthApp {
                client_id: SANDBOX_CLIENT_ID.to_owned(),
                client_secret: Some(SANDBOX_CLIENT_SECRET.to_owned().into()),
            });
    }
    let settings = AppSettings {
        public_url,
        configured_integrations: cfg.configured_integrations(),
        sandbox_enabled: cfg.sandbox.enabled,
        internal_url,
        lifecycle: finlink_app::lifecycle::LifecycleSettings {
            retention_secs: (cfg.refresh.retention_days * 86_400.0).round() as i64,
            unknown_expiry_spread_secs: cfg.refresh.unknown_expiry_spread_secs.max(0),
        },
        webhook_targets: finlink_providers::webhook::TargetPolicy {
            allow_http: cfg.webhooks.allow_http,
            allow_private: cfg.webhooks.allow_private_targets,
        },
    };
    let parts = AppParts {
        catalog: Arc::new(catalog),
        settings,
        vault: Arc::new(keyring),
        oauth_apps,
    };
    App::new(store, clock, parts).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: App,
    /// The built-in sandbox platform, when enabled (mounted at `/sandbox`).
    pub sandbox: Option<finlink_sandbox::Sandbox>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and claiming jobs, lets in-flight ones finish, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task")?.context("server")?;
        if let Some(w) = self.workers {
            w.await.context("workers")?;
        }
        Ok(())
    }
}

/// Binds `cfg.listen` (port 0 picks a free port), opens the store and starts serving.
pub async fn spawn(cfg: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    spawn_with(cfg, clock, None).await
}

/// [`spawn`], with the connectors waiting (rate limits, retries) through `sleeper`: tests with a
/// manual clock give one that moves it.
pub async fn spawn_with(
    cfg: &Config,
    clock: Arc<dyn Clock>,
    sleeper: Option<Arc<dyn finlink_providers::connectors::Sleeper>>,
) -> anyhow::Result<Server> {
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let keyring = load_keyring(cfg)?;
    let store = open_store(cfg).await?;
    check_keys(store.as_ref(), &keyring).await?;
    let sandbox = if cfg.sandbox.enabled {
        Some(open_sandbox(cfg, Arc::clone(&clock))?)
    } else {
        None
    };
    let mut app = build_app(
        cfg,
        store,
        clock,
        public_url,
        format!("http://{addr}"),
        keyring,
    )?;
    if let Some(sleeper) = sleeper {
        app = app
            .with_connector_sleeper(sleeper)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut server = start(listener, app, sandbox);
    if cfg.workers.enabled {
        server.workers = Some(spawn_workers(cfg, &server.app, server.shutdown.subscribe()));
    }
    Ok(server)
}

/// Runs the job workers in the background until `stop` turns true.
pub fn spawn_workers(
    cfg: &Config,
    app: &App,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let settings = finlink_app::jobs::WorkerSettings {
        concurrency: cfg.workers.concurrency.max(1),
        lease_secs: cfg.workers.lease_secs.max(5),
        idle_poll: std::time::Duration::from_millis(cfg.workers.poll_ms.max(10)),
    };
    let grace = std::time::Duration::from_secs(cfg.workers.shutdown_grace_secs);
    tokio::spawn(finlink_app::jobs::run_workers(
        app.clone(),
        settings,
        stop,
        grace,
    ))
}

/// Opens the built-in sandbox platform's own database (`data_dir/sandbox.db`).
pub fn open_sandbox(
    cfg: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<finlink_sandbox::Sandbox> {
    create_private_dir(&cfg.data_dir)?;
    let path = cfg.data_dir.join("sandbox.db");
    let mut sc = finlink_sandbox::SandboxConfig::default();
    let c = &cfg.sandbox;
    if let Some(v) = c.access_token_ttl_secs {
        sc.access_token_ttl_secs = v;
    }
    if let Some(v) = c.refresh_token_grace_secs {
        sc.refresh_token_grace_secs = v;
    }
    if c.refresh_token_idle_days.is_some() {
        sc.refresh_token_idle_days = c.refresh_token_idle_days;
    }
    if let Some(v) = c.organisations_per_grant {
        sc.organisations_per_grant = v;
    }
    finlink_sandbox::Sandbox::open(Some(&path), sc, clock)
        .map_err(|e| anyhow::anyhow!("cannot open the sandbox platform ({}): {e}", path.display()))
}

/// Serves `app` (and the sandbox at `/sandbox`, when given) on `listener` until shut down.
pub fn start(listener: TcpListener, app: App, sandbox: Option<finlink_sandbox::Sandbox>) -> Server {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let state = finlink_http::HttpState::new(app.clone());
    let mut router = finlink_http::router(state);
    if let Some(sb) = &sandbox {
        router = router.nest("/sandbox", sb.router());
    }
    // Normalise the path before routing (the Codat SDK may send `//companies`).
    let service = tower::util::MapRequestLayer::new(
        finlink_http::middleware::normalize_path::<axum::body::Body>,
    )
    .layer(router);
    let (tx, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(service),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        })
        .await
    });
    Server {
        addr,
        app,
        sandbox,
        shutdown: tx,
        task,
        workers: None,
    }
}

/// Creates the first client and its first API key when the database has no client.
/// Returns the key when it made one.
pub async fn bootstrap(app: &App) -> anyhow::Result<Option<String>> {
    if app
        .first_client()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_some()
    {
        return Ok(None);
    }
    let client = app
        .create_client("Default")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = app
        .create_api_key(client.id, Some(String::from("first key")), Vec::new())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(key.key))
}
