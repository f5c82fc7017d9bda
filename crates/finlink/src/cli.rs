//! The command line: `serve`, `worker`, `clients`, `keys`, `sandbox`, `encryption`, `migrate`, `openapi`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use finlink_domain::SystemClock;
use finlink_domain::ids::ClientId;

use crate::config::{Config, Overrides};

#[derive(Parser, Debug)]
#[command(
    name = "finlink",
    version,
    about = "A self-hosted connection platform for financial data."
)]
pub struct Cli {
    /// TOML configuration file (also FINLINK_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// PostgreSQL URL (also FINLINK_DATABASE_URL); without it, SQLite under the data directory.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the API, the Link pages and the workers.
    Serve {
        /// Address to listen on (also FINLINK_LISTEN; default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Do not run background jobs here (run `finlink worker` elsewhere); also
        /// FINLINK_WORKERS__ENABLED=false.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run only the background workers (token refreshes, retention), for split deployments:
    /// any number of `finlink worker` and `finlink serve --no-workers` processes may share one
    /// PostgreSQL database.
    Worker,
    /// Manage clients (tenants).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Run the sandbox platform alone (OAuth server at /sandbox), or mint a grant or a store.
    Sandbox {
        /// Address to listen on (default 127.0.0.1:8090).
        #[arg(long)]
        listen: Option<String>,
        #[command(subcommand)]
        command: Option<SandboxCommand>,
    },
    /// Bulk migration: import connections from JSON Lines or CSV (validate, canary, resume,
    /// report), show runs, print the checklist, export.
    Migrate {
        #[command(subcommand)]
        command: crate::migrate::MigrateCommand,
    },
    /// Master keys: status, rotation, new keys.
    Encryption {
        #[command(subcommand)]
        command: EncryptionCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum SandboxCommand {
    /// Print a JSON grant (tokens, expiry, tenant id) as an existing integration would hold it.
    Mint {
        #[arg(long)]
        company: String,
    },
    /// Print a JSON Commerce Sandbox store (apiKey, storeId, storeName) to paste on the Link page.
    MintStore {
        /// Default: "Sandbox Store N".
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum EncryptionCommand {
    /// Print, per master key id, how many stored secrets it seals.
    Status,
    /// Re-seal every secret not under the active (first) key, in batches; safe to stop and rerun.
    Rotate {
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
    /// Print a new random master key as ID:BASE64 (put it first in FINLINK_MASTER_KEYS to rotate).
    NewKey,
}

#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Create a client; prints its id alone on stdout.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key; prints the key alone on stdout. Without --client, the first
    /// client (created if the database has none).
    Create {
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Extra permission, e.g. credentials:read (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match cfg.log_format.as_deref() {
        Some("json") => true,
        Some(_) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        listen,
        database_url: cli.database_url.clone(),
    };
    if matches!(
        cli.command,
        Command::Encryption {
            command: EncryptionCommand::NewKey
        }
    ) {
        let (_, spec) = finlink_vault::Keyring::generate();
        println!("{}", spec.expose());
        return Ok(());
    }
    if matches!(cli.command, Command::Openapi) {
        let doc = finlink_http::openapi();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let mut cfg = Config::load(cli.config.as_deref(), &overrides)?;
    init_logging(&cfg);
    match cli.command {
        Command::Serve { no_workers, .. } => {
            if no_workers {
                cfg.workers.enabled = false;
            }
            serve(cfg).await
        }
        Command::Worker => worker(cfg).await,
        Command::Clients {
            command: ClientsCommand::Create { name },
        } => {
            let app = offline_app(&cfg).await?;
            let client = app
                .create_client(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", client.id);
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    client,
                    name,
                    permissions,
                },
        } => {
            let app = offline_app(&cfg).await?;
            let client_id = match client {
                Some(c) => {
                    let id = ClientId::parse(&c).map_err(|e| anyhow::anyhow!("{e}"))?;
                    app.get_client(id)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                        .id
                }
                None => match app
                    .first_client()
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                {
                    Some(c) => c.id,
                    None => {
                        app.create_client("Default")
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?
                            .id
                    }
                },
            };
            let key = app
                .create_api_key(client_id, name, permissions)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", key.key);
            Ok(())
        }
        Command::Encryption { command } => encryption(&cfg, command).await,
        Command::Migrate { command } => crate::migrate::run(&cfg, command).await,
        Command::Sandbox { listen, command } => sandbox(&cfg, listen, command).await,
        Command::Openapi => Ok(()),
    }
}

async fn sandbox(
    cfg: &Config,
    listen: Option<String>,
    command: Option<SandboxCommand>,
) -> anyhow::Result<()> {
    let sb = crate::open_sandbox(cfg, Arc::new(SystemClock))?;
    match command {
        Some(SandboxCommand::Mint { company }) => {
            let grant = sb
                .mint(&company)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&grant)?);
            return Ok(());
        }
        Some(SandboxCommand::MintStore { name }) => {
            let store = sb
                .mint_commerce_store(name.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&store)?);
            return Ok(());
        }
        None => {}
    }
    let addr = listen.unwrap_or_else(|| String::from("127.0.0.1:8090"));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let router = axum::Router::new().nest("/sandbox", sb.router());
    println!(
        "finlink sandbox listening on http://{bound} (OAuth at /sandbox/oauth/*, commerce API at /sandbox/commerce/api/*)"
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn encryption(cfg: &Config, command: EncryptionCommand) -> anyhow::Result<()> {
    let keyring = crate::load_keyring(cfg)?;
    let store = crate::open_store(cfg).await?;
    match command {
        EncryptionCommand::Status => {
            let counts = store
                .credential_key_counts()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let active = keyring.active_id().to_string();
            println!("{:<34} {:>10}  state", "key id", "secrets");
            let mut ids: Vec<String> = keyring.ids().iter().map(ToString::to_string).collect();
            for (k, _) in &counts {
                if !ids.contains(k) {
                    ids.push(k.clone());
                }
            }
            for id in ids {
                let n = counts
                    .iter()
                    .find(|(k, _)| *k == id)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                let state = if id == active {
                    "active"
                } else if keyring.ids().iter().any(|k| k.as_str() == id) {
                    if n == 0 {
                        "retired: no secrets left, can be removed"
                    } else {
                        "old: run `finlink encryption rotate`"
                    }
                } else {
                    "MISSING: not configured, these secrets cannot be opened"
                };
                println!("{id:<34} {n:>10}  {state}");
            }
            Ok(())
        }
        EncryptionCommand::Rotate { batch } => {
            let app = crate::build_app(
                cfg,
                store,
                Arc::new(SystemClock),
                String::new(),
                String::new(),
                keyring,
            )?;
            let n = app
                .reseal_all(batch.max(1))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("re-sealed {n} secret(s) under {}", app.vault.active_id());
            Ok(())
        }
        EncryptionCommand::NewKey => Ok(()),
    }
}

/// The services over the configured database, without a server (for CLI commands).
pub(crate) async fn offline_app(cfg: &Config) -> anyhow::Result<finlink_app::App> {
    let keyring = crate::load_keyring(cfg)?;
    let store = crate::open_store(cfg).await?;
    let public = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.listen));
    crate::build_app(
        cfg,
        store,
        Arc::new(SystemClock),
        public.clone(),
        public,
        keyring,
    )
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let server = crate::spawn(&cfg, Arc::new(SystemClock)).await?;
    // Re-seal secrets still under an old master key, in the background.
    let app = server.app.clone();
    tokio::spawn(async move {
        match app.reseal_all(200).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(resealed = n, key_id = %app.vault.active_id(), "re-sealed secrets under the active master key")
            }
            Err(e) => {
                tracing::error!(error = %e, "re-sealing under the active master key failed; `finlink encryption rotate` retries")
            }
        }
    });
    let engine = server.app.store.engine();
    tracing::info!(addr = %server.addr, public_url = %server.app.settings.public_url, database = engine, "finlink started");
    if let Some(key) = crate::bootstrap(&server.app).await? {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "finlink: the database was empty, so a client was created with this API key."
        )?;
        writeln!(out, "It is shown only this once; store it now:")?;
        writeln!(out)?;
        writeln!(out, "    {key}")?;
        writeln!(out)?;
        writeln!(
            out,
            "Use it as: Authorization: Basic <base64 of the key>  (or: Bearer <key>)"
        )?;
        out.flush()?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "finlink listening on http://{}", server.addr)?;
        out.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.shutdown().await.context("shutdown")?;
    Ok(())
}

/// `finlink worker`: the workers without the HTTP server, until SIGTERM or Ctrl-C.
async fn worker(cfg: Config) -> anyhow::Result<()> {
    let app = offline_app(&cfg).await?;
    crate::check_keys(app.store.as_ref(), &app.vault).await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let workers = crate::spawn_workers(&cfg, &app, rx);
    tracing::info!(database = app.store.engine(), "finlink worker started");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "finlink worker running")?;
        out.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing running jobs");
    let _ = tx.send(true);
    workers.await.context("workers")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
