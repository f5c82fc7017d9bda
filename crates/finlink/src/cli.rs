//! The command line: `serve`, `clients create`, `keys create`, `openapi`.

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
    },
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
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        listen,
        database_url: cli.database_url.clone(),
    };
    if matches!(cli.command, Command::Openapi) {
        let doc = finlink_http::openapi();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let cfg = Config::load(cli.config.as_deref(), &overrides)?;
    init_logging(&cfg);
    match cli.command {
        Command::Serve { .. } => serve(cfg).await,
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
        Command::Openapi => Ok(()),
    }
}

/// The services over the configured database, without a server (for CLI commands).
async fn offline_app(cfg: &Config) -> anyhow::Result<finlink_app::App> {
    let store = crate::open_store(cfg).await?;
    let public = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.listen));
    crate::build_app(cfg, store, Arc::new(SystemClock), public)
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let server = crate::spawn(&cfg, Arc::new(SystemClock)).await?;
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
