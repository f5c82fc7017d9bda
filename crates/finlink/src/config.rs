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
    /// The operator's own platforms (`[[custom_integrations]]`), in the catalog's file format
    /// (`crates/finlink-providers/catalog/README.md`) plus `logo_file`. Their OAuth app goes in
    /// `[integrations.KEY]` like any other.
    pub custom_integrations: Vec<CustomIntegration>,
    /// Maximum PostgreSQL connections per process.
    pub database_max_connections: u32,
    /// Master keys, comma-separated `ID:BASE64` (32-byte keys) or bare base64; the first
    /// is active. Also `FINLINK_MASTER_KEYS_FILE`. Unset on SQLite: a development key is
    /// generated into `data_dir/master.key`. Unset on PostgreSQL: finlink refuses to start.
    #[serde(skip_serializing)]
    pub master_keys: Option<SecretString>,
    pub workers: WorkersConfig,
    pub refresh: RefreshConfig,
    pub webhooks: WebhooksConfig,
}

/// Webhook targets (`[webhooks]`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct WebhooksConfig {
    /// Allow `http://` consumer URLs (default: https only).
    pub allow_http: bool,
    /// Allow consumer URLs whose host is or resolves to a loopback, private, link-local or
    /// metadata address (default: refused at creation and at every delivery).
    pub allow_private_targets: bool,
}

/// Background workers (`[workers]`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct WorkersConfig {
    /// Whether `finlink serve` runs workers (`--no-workers` turns them off).
    pub enabled: bool,
    /// Jobs one process runs at once.
    pub concurrency: usize,
    /// Seconds a claimed job is held before another worker may take it over (heartbeats
    /// extend it while the job runs).
    pub lease_secs: i64,
    /// Milliseconds between looks for due work when nothing wakes the worker (PostgreSQL
    /// wakes it with NOTIFY; SQLite within one process).
    pub poll_ms: u64,
    /// Seconds `SIGTERM` waits for running jobs before exiting.
    pub shutdown_grace_secs: u64,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 64,
            lease_secs: 60,
            poll_ms: 1000,
            shutdown_grace_secs: 20,
        }
    }
}

/// Token refresh and its failure lifecycle (`[refresh]`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct RefreshConfig {
    /// How long a rejected grant's credentials are kept (and retried) before deletion.
    pub retention_days: f64,
    /// Tokens of unknown expiry (imports) refresh at once, spread over this many seconds.
    pub unknown_expiry_spread_secs: i64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            retention_days: 7.0,
            unknown_expiry_spread_secs: 60,
        }
    }
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

/// A platform the operator adds in the configuration file. Unknown keys are refused (a typo
/// must not silently drop a setting), so it is read through a map rather than `flatten`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct CustomIntegration {
    #[serde(flatten)]
    pub integration: finlink_domain::integration::Integration,
    /// An SVG logo (at most 64 kB, no script); default: the name's initials on `brand_color`.
    #[serde(default)]
    pub logo_file: Option<PathBuf>,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for CustomIntegration {
    type Error = String;

    fn try_from(mut map: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let logo_file = match map.remove("logo_file") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(p)) => Some(PathBuf::from(p)),
            Some(_) => return Err(String::from("logo_file must be a path")),
        };
        let key = map
            .get("key")
            .and_then(|k| k.as_str())
            .unwrap_or("?")
            .to_owned();
        let integration = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| format!("custom integration {key}: {e}"))?;
        Ok(Self {
            integration,
            logo_file,
        })
    }
}

impl CustomIntegration {
    /// The logo's SVG text: the file's, checked, or generated.
    pub fn logo_svg(&self) -> anyhow::Result<String> {
        let i = &self.integration;
        if let Some(path) = &self.logo_file {
            let svg = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "custom integration {}: cannot read logo_file {}",
                    i.key,
                    path.display()
                )
            })?;
            let lower = svg.to_ascii_lowercase();
            if svg.len() > 64 * 1024
                || !lower.contains("<svg")
                || lower.contains("<script")
                || lower.contains("javascript:")
            {
                anyhow::bail!(
                    "custom integration {}: logo_file {} must be an SVG under 64 kB without script",
                    i.key,
                    path.display()
                );
            }
            return Ok(svg);
        }
        let initials: String = i
            .name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .filter(|c| c.is_alphanumeric())
            .take(2)
            .collect::<String>()
            .to_uppercase();
        let color = i
            .brand_color
            .as_deref()
            .filter(|c| finlink_domain::profile::is_hex_color(c))
            .unwrap_or("#475569");
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        Ok(format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img"><title>{}</title><rect width="64" height="64" rx="14" fill="{color}"/><text x="32" y="41" text-anchor="middle" font-family="system-ui, sans-serif" font-size="24" font-weight="700" fill="#fff">{}</text></svg>"##,
            esc(&i.name),
            esc(&initials)
        ))
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
            custom_integrations: Vec::new(),
            database_max_connections: 16,
            master_keys: None,
            workers: WorkersConfig::default(),
            refresh: RefreshConfig::default(),
            webhooks: WebhooksConfig::default(),
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
        for c in &self.custom_integrations {
            let i = &c.integration;
            if i.built_in {
                anyhow::bail!(
                    "custom integration {}: built_in is only for finlink's own sandboxes",
                    i.key
                );
            }
            if i.auth_type == finlink_domain::integration::AuthType::Oauth2 {
                let Some(o) = &i.oauth else {
                    anyhow::bail!(
                        "custom integration {}: an oauth2 integration needs an [custom_integrations.oauth] table",
                        i.key
                    );
                };
                for (what, u) in [
                    ("authorize_url", Some(&o.authorize_url)),
                    ("token_url", Some(&o.token_url)),
                    ("revoke_url", o.revoke_url.as_ref()),
                    ("identity_url", o.identity_url.as_ref()),
                ] {
                    if let Some(u) = u
                        && !(u.starts_with("https://") || u.starts_with("http://"))
                    {
                        anyhow::bail!(
                            "custom integration {}: {what} must be an absolute http(s) URL; got '{u}'",
                            i.key
                        );
                    }
                }
            }
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

    #[test]
    fn custom_integrations_from_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                r##"
                [[custom_integrations]]
                key = "oidc"
                slug = "acme-books"
                name = "Acme Books"
                source_type = "Accounting"
                auth_type = "oauth2"
                brand_color = "#0F766E"
                [custom_integrations.oauth]
                authorize_url = "http://127.0.0.1:9999/auth"
                token_url = "http://127.0.0.1:9999/token"
                identity_url = "http://127.0.0.1:9999/me"
                scopes = ["openid", "offline_access"]
                client_auth = "client_secret_post"
                [[custom_integrations.fields]]
                name = "accessToken"
                label = "Access token"
                kind = "credential"
                secret = true
                required = true

                [integrations.oidc]
                client_id = "finlink"
                client_secret = "s3cret"
                "##,
            )?;
            let cfg = Config::load(Some(Path::new("custom.toml")), &Overrides::default()).unwrap();
            let c = &cfg.custom_integrations[0];
            assert_eq!(c.integration.name, "Acme Books");
            assert_eq!(
                c.integration.oauth.as_ref().unwrap().client_auth,
                finlink_domain::integration::ClientAuthMethod::ClientSecretPost
            );
            let svg = c.logo_svg().unwrap();
            assert!(
                svg.contains("<title>Acme Books</title>") && svg.contains(">AB<"),
                "{svg}"
            );
            assert!(cfg.configured_integrations().contains("oidc"));

            // unknown keys and relative URLs are refused
            jail.create_file(
                "typo.toml",
                "[[custom_integrations]]\nkey = \"oidc\"\nslug = \"x\"\nname = \"X\"\nsource_type = \"Accounting\"\nauth_type = \"apiKey\"\nlogo = \"x.svg\"\n",
            )?;
            assert!(Config::load(Some(Path::new("typo.toml")), &Overrides::default()).is_err());
            jail.create_file(
                "relative.toml",
                "[[custom_integrations]]\nkey = \"oidc\"\nslug = \"x\"\nname = \"X\"\nsource_type = \"Accounting\"\nauth_type = \"oauth2\"\n[custom_integrations.oauth]\nauthorize_url = \"/auth\"\ntoken_url = \"/token\"\n",
            )?;
            let e = Config::load(Some(Path::new("relative.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("authorize_url"), "{e}");
            Ok(())
        });
    }
}
