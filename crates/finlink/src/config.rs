//! Configuration: defaults < TOML file (`--config`, `FINLINK_CONFIG`) < `FINLINK_*`
//! environment variables < command-line flags. Nested keys use `__` in variables
//! (`FINLINK_INTEGRATIONS__GBOL__CLIENT_ID`). Every value can also be read from a
//! file: `FINLINK_<KEY>_FILE=/path` (and `client_secret_file` in TOML), so secrets
//! need not sit in the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Address the server listens on.
    pub listen: String,
    /// `postgres://...` selects PostgreSQL; unset means SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL schema to use (created if missing); default: the user's search path.
    pub database_schema: Option<String>,
    /// Where the SQLite database (and, later, the development master key) live.
    pub data_dir: PathBuf,
    /// The URL the outside world reaches finlink at; every generated URL starts with it.
    /// Default: `http://` + the listen address.
    pub public_url: Option<String>,
    /// Log filter (`info`, `warn`, `finlink_http=debug,info`, ...).
    pub log: String,
    /// `json` or `text`; default: text on a terminal, JSON otherwise.
    pub log_format: Option<String>,
    pub sandbox: SandboxConfig,
    /// Per-integration settings, by platform key (`[integrations.gbol]`).
    pub integrations: BTreeMap<String, IntegrationConfig>,
    /// Maximum PostgreSQL connections per process.
    pub database_max_connections: u32,
    /// Master keys, comma-separated `ID:BASE64` (32-byte keys) or bare base64; the first
    /// is active. Also `FINLINK_MASTER_KEYS_FILE`. Unset on SQLite: a development key is
    /// generated into `data_dir/master.key`. Unset on PostgreSQL: finlink refuses to start.
    #[serde(skip_serializing)]
    pub master_keys: Option<SecretString>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// The built-in Sandbox (mqjo) and Commerce Sandbox (aiwb) platforms.
    pub enabled: bool,
    /// Access-token lifetime in seconds (default 1800).
    pub access_token_ttl_secs: Option<i64>,
    /// How long a rotated-away refresh token still works (default 0: reuse revokes the grant).
    pub refresh_token_grace_secs: Option<i64>,
    /// Refresh tokens die when unused this many days (default: never).
    pub refresh_token_idle_days: Option<i64>,
    /// Organisations behind one grant (default 1; more for Xero-style tenant selection).
    pub organisations_per_grant: Option<u32>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            access_token_ttl_secs: None,
            refresh_token_grace_secs: None,
            refresh_token_idle_days: None,
            organisations_per_grant: None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct IntegrationConfig {
    pub client_id: Option<String>,
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    /// Read the client secret from this file instead.
    pub client_secret_file: Option<PathBuf>,
    /// Enable an integration that needs no OAuth app (API-key and basic platforms).
    pub enabled: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: String::from("127.0.0.1:8080"),
            database_url: None,
            database_schema: None,
            data_dir: PathBuf::from("./finlink-data"),
            public_url: None,
            log: String::from("info"),
            log_format: None,
            sandbox: SandboxConfig::default(),
            integrations: BTreeMap::new(),
            database_max_connections: 16,
            master_keys: None,
        }
    }
}

/// Values given on the command line, which win over everything else.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

fn read_secret_file(path: &Path) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secret file {}", path.display()))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

/// `FINLINK_A__B_FILE=/path` becomes the value of key `a.b`, read from the file.
fn file_variables() -> anyhow::Result<Figment> {
    let mut fig = Figment::new();
    for (name, path) in std::env::vars() {
        let Some(rest) = name.strip_prefix("FINLINK_") else {
            continue;
        };
        let Some(key) = rest.strip_suffix("_FILE") else {
            continue;
        };
        if key == "CONFIG" || key.is_empty() {
            continue;
        }
        let value = read_secret_file(Path::new(&path)).with_context(|| name.to_string())?;
        let dotted = key.to_lowercase().replace("__", ".");
        fig = fig.merge(Serialized::global(&dotted, value));
    }
    Ok(fig)
}

impl Config {
    /// Loads the configuration from every source.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let file = config_file
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("FINLINK_CONFIG").map(PathBuf::from));
        if let Some(f) = &file {
            if !f.exists() {
                anyhow::bail!("the configuration file {} does not exist", f.display());
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig
            .merge(
                Env::prefixed("FINLINK_")
                    .split("__")
                    .ignore(&["config", "test_postgres_url"])
                    .filter(|k| !k.as_str().ends_with("_file") || k.as_str().contains('.')),
            )
            .merge(file_variables()?)
            .merge(Serialized::defaults(overrides));
        let mut cfg: Config = fig.extract().context("the configuration is not valid")?;
        for (key, integ) in cfg.integrations.iter_mut() {
            if integ.client_secret.is_none()
                && let Some(p) = &integ.client_secret_file
            {
                integ.client_secret = Some(SecretString::from(
                    read_secret_file(p)
                        .with_context(|| format!("integrations.{key}.client_secret_file"))?,
                ));
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            anyhow::bail!(
                "database_url must be a postgres:// URL (leave it unset for SQLite); got a URL starting with '{}'",
                url.split(':').next().unwrap_or("")
            );
        }
        if let Some(p) = &self.public_url
            && !(p.starts_with("http://") || p.starts_with("https://"))
        {
            anyhow::bail!("public_url must start with http:// or https://; got '{p}'");
        }
        for key in self.integrations.keys() {
            if key.len() != 4 || !key.bytes().all(|b| b.is_ascii_lowercase()) {
                anyhow::bail!(
                    "[integrations.{key}]: integrations are keyed by their four-letter platform key, e.g. [integrations.gbol] for Xero"
                );
            }
        }
        Ok(())
    }

    /// Integration keys that count as configured (enabled) on this installation.
    pub fn configured_integrations(&self) -> std::collections::BTreeSet<String> {
        self.integrations
            .iter()
            .filter(|(_, i)| {
                i.enabled
                    .unwrap_or(i.client_id.is_some() && i.client_secret.is_some())
            })
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn layers_file_env_secret_files_and_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "finlink.toml",
                r#"
                listen = "0.0.0.0:9000"
                public_url = "https://finlink.example.com"
                [integrations.gbol]
                client_id = "from-file"
                [integrations.qhyg]
                client_id = "qb"
                client_secret_file = "qb.secret"
                "#,
            )?;
            jail.create_file("qb.secret", "qb-secret\n")?;
            jail.create_file("xero.secret", "xero-secret\n")?;
            jail.set_env(
                "FINLINK_INTEGRATIONS__GBOL__CLIENT_SECRET_FILE",
                "xero.secret",
            );
            jail.set_env("FINLINK_LOG", "warn");
            jail.set_env("FINLINK_SANDBOX__ENABLED", "false");
            let flags = Overrides {
                listen: Some("127.0.0.1:7000".into()),
                database_url: None,
            };
            let cfg =
                Config::load(Some(Path::new("finlink.toml")), &flags).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "127.0.0.1:7000");
            assert_eq!(
                cfg.public_url.as_deref(),
                Some("https://finlink.example.com")
            );
            assert_eq!(cfg.log, "warn");
            assert!(!cfg.sandbox.enabled);
            let gbol = &cfg.integrations["gbol"];
            assert_eq!(gbol.client_id.as_deref(), Some("from-file"));
            assert_eq!(
                gbol.client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .as_deref(),
                Some("xero-secret")
            );
            let qhyg = &cfg.integrations["qhyg"];
            assert_eq!(
                qhyg.client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .as_deref(),
                Some("qb-secret")
            );
            assert_eq!(
                cfg.configured_integrations()
                    .into_iter()
                    .collect::<Vec<_>>(),
                vec!["gbol".to_string(), "qhyg".to_string()]
            );
            // secrets never show in Debug output
            assert!(!format!("{cfg:?}").contains("xero-secret"));
            Ok(())
        });
    }

    #[test]
    fn rejects_what_cannot_work() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINLINK_DATABASE_URL", "mysql://x");
            assert!(Config::load(None, &Overrides::default()).is_err());
            jail.set_env("FINLINK_DATABASE_URL", "postgres://x/db");
            jail.set_env("FINLINK_PUBLIC_URL", "finlink.example.com");
            let e = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("public_url"), "{e}");
            jail.set_env("FINLINK_PUBLIC_URL", "https://ok.example");
            jail.create_file("bad.toml", "[integrations.quickbooks]\nclient_id = \"x\"\n")?;
            let e = Config::load(Some(Path::new("bad.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("four-letter"), "{e}");
            Ok(())
        });
    }
}
