//! Token migration: an application that already holds a connection's tokens hands them
//! to finlink (Codat's `PUT .../authorization`), and the connection is `Linked` without
//! the business logging in again. Fetch-on-first-link is not started: the client
//! starts syncs itself.

use std::collections::BTreeMap;

use finlink_domain::connection::{Connection, ConnectionStatus};
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::ids::{ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::{AuthType, FieldKind, Integration};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::ConnectionUpdate;
use finlink_vault::SecretString;
use serde_json::Value;

use crate::App;
use crate::credentials::{SecretFields, seal};

/// Who did something, for the audit log.
#[derive(Clone, Debug)]
pub enum Actor {
    ApiKey(finlink_domain::ids::ApiKeyId),
    Cli,
    /// The business, through the hosted Link pages.
    Link,
    /// A background job (proactive refresh, retention).
    Worker,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::ApiKey(id) => format!("apiKey:{id}"),
            Actor::Cli => String::from("cli"),
            Actor::Link => String::from("link"),
            Actor::Worker => String::from("worker"),
        }
    }
}

/// Fields every OAuth 2.0 migration may carry besides the integration's own.
const OAUTH_EXTRA: [&str; 5] = ["expiresAt", "expiresIn", "issuedAt", "tokenType", "scope"];

/// Expiry as the migration gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub expires_at: Option<Timestamp>,
    pub issued_at: Option<Timestamp>,
}

/// The checked content of a migration body.
#[derive(Debug)]
pub struct MigrationInput {
    pub secrets: SecretFields,
    pub settings: serde_json::Map<String, Value>,
    pub expiry: Expiry,
    pub token_type: Option<String>,
    pub scopes: Vec<String>,
}

fn accepted(integ: &Integration) -> Vec<String> {
    let mut names: Vec<String> = integ.fields.iter().map(|f| f.name.clone()).collect();
    if integ.auth_type == AuthType::Oauth2 {
        names.extend(OAUTH_EXTRA.iter().map(|s| (*s).to_owned()));
    }
    names
}

fn bad(field: &str, message: String) -> Error {
    Error::invalid(field, "UpdateAuthorization", message)
}

/// Checks a flat object of strings against the integration's field list. Unknown keys,
/// missing required keys, non-string values and malformed expiry are errors that name
/// the field and what is accepted.
pub fn check_fields(
    integ: &Integration,
    body: &BTreeMap<String, Value>,
    now: Timestamp,
) -> Result<MigrationInput> {
    if integ.auth_type == AuthType::OnPremise {
        return Err(bad(
            "platformKey",
            format!(
                "{} connects through a desktop connector; its credentials cannot be migrated.",
                integ.name
            ),
        ));
    }
    let names = accepted(integ);
    let mut values: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in body {
        if !names.iter().any(|n| n == k) {
            return Err(bad(
                k,
                format!(
                    "'{k}' is not a field of {} ({}); accepted fields: {}.",
                    integ.name,
                    integ.key,
                    names.join(", ")
                ),
            ));
        }
        match v {
            Value::String(s) if !s.trim().is_empty() => {
                values.insert(k.as_str(), s.as_str());
            }
            Value::String(_) | Value::Null => {}
            _ => return Err(bad(k, format!("'{k}' must be a string."))),
        }
    }
    for f in &integ.fields {
        if f.required && !values.contains_key(f.name.as_str()) {
            return Err(bad(
                &f.name,
                format!(
                    "'{}' ({}) is required for {}; accepted fields: {}.",
                    f.name,
                    f.label,
                    integ.name,
                    names.join(", ")
                ),
            ));
        }
    }
    let issued_at = match values.get("issuedAt") {
        Some(s) => Some(Timestamp::parse(s).ok_or_else(|| {
            bad(
                "issuedAt",
                String::from("issuedAt is not an RFC 3339 datetime such as 2026-11-23T10:00:00Z."),
            )
        })?),
        None => None,
    };
    let expires_at = match (values.get("expiresAt"), values.get("expiresIn")) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "expiresAt",
                String::from("Give expiresAt or expiresIn, not both."),
            ));
        }
        (Some(s), None) => Some(Timestamp::parse(s).ok_or_else(|| {
            bad(
                "expiresAt",
                String::from("expiresAt is not an RFC 3339 datetime such as 2026-11-23T10:00:00Z."),
            )
        })?),
        (None, Some(s)) => {
            let secs: i64 = s
                .trim()
                .parse()
                .ok()
                .filter(|n: &i64| *n > 0 && *n < 10 * 365 * 86_400)
                .ok_or_else(|| {
                    bad(
                        "expiresIn",
                        String::from("expiresIn must be a whole number of seconds, e.g. 1800."),
                    )
                })?;
            Some(issued_at.unwrap_or(now).plus_seconds(secs))
        }
        (None, None) => None,
    };
    let mut secrets = SecretFields::default();
    let mut settings = serde_json::Map::new();
    for f in &integ.fields {
        if let Some(v) = values.get(f.name.as_str()) {
            match f.kind {
                FieldKind::Credential => secrets.set(&f.name, SecretString::from((*v).to_owned())),
                FieldKind::Setting => {
                    settings.insert(f.name.clone(), Value::String((*v).to_owned()));
                }
            }
        }
    }
    Ok(MigrationInput {
        secrets,
        settings,
        expiry: Expiry {
            expires_at,
            issued_at,
        },
        token_type: values.get("tokenType").map(|s| (*s).to_owned()),
        scopes: values
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

impl App {
    /// Codat's `PUT /companies/{companyId}/connections/{connectionId}/authorization`.
    pub async fn migrate_connection(
        &self,
        actor: &Actor,
        client: ClientId,
        company: CompanyId,
        connection: ConnectionId,
        body: &BTreeMap<String, Value>,
    ) -> Result<Connection> {
        let existing = self.get_connection(client, company, connection).await?;
        let integ = self.integration(&existing.integration_key)?.clone();
        let now = self.clock.now();
        let input = check_fields(&integ, body, now)?;
        let updated = self
            .store_migrated(actor, &existing, &integ, input, "connection.migrate", false)
            .await?;
        Ok(updated)
    }

    /// Seals and stores migrated credentials, links the connection, audits; one transaction.
    /// `first_link` (a form submitted in Link for a new connection) queues the fetch on first
    /// link in the same transaction; a token migration never does.
    pub(crate) async fn store_migrated(
        &self,
        actor: &Actor,
        existing: &Connection,
        integ: &Integration,
        input: MigrationInput,
        action: &str,
        first_link: bool,
    ) -> Result<Connection> {
        let now = self.clock.now();
        let sealed = seal(&self.vault, existing.client_id, existing.id, &input.secrets)?;
        let needs_refresh =
            integ.auth_type == AuthType::Oauth2 && input.expiry.expires_at.is_none();
        let creds = SealedCredentials {
            client_id: existing.client_id,
            company_id: existing.company_id,
            connection_id: existing.id,
            auth_type: integ.auth_type,
            key_id: self.vault.active_id().to_string(),
            sealed,
            token_type: input.token_type,
            scopes: input.scopes,
            expires_at: input.expiry.expires_at,
            issued_at: input.expiry.issued_at.or(Some(now)),
            needs_refresh,
            version: 0,
            updated: now,
        };
        let mut info = existing.connection_info.clone().unwrap_or_default();
        info.extend(input.settings);
        let update = ConnectionUpdate {
            status: ConnectionStatus::Linked,
            connection_info: Some(info),
            errors: None,
            at: now,
        };
        let audit = AuditEntry {
            id: uuid::Uuid::now_v7(),
            client_id: existing.client_id,
            actor: actor.label(),
            action: action.to_owned(),
            company_id: Some(existing.company_id),
            connection_id: Some(existing.id),
            outcome: String::from("success"),
            detail: Some(format!(
                "{} credentials stored for {}{}",
                match integ.auth_type {
                    AuthType::Oauth2 => "OAuth 2.0",
                    AuthType::ApiKey => "API-key",
                    AuthType::Basic => "basic-auth",
                    AuthType::OnPremise => "on-premise",
                },
                integ.name,
                if needs_refresh {
                    "; expiry unknown, refresh before first use"
                } else {
                    ""
                }
            )),
            at: now,
        };
        let mut effects = self.credentials_effects(existing, integ, &creds).await?;
        if first_link {
            effects.pulls = self.first_link_pulls(existing).await?;
        }
        let linked = self
            .store
            .store_credentials(&creds, &update, &audit, &effects)
            .await?
            .ok_or_else(|| Error::NotFound {
                message: format!("Data connection {} not found.", existing.id),
            })?;
        tracing::info!(connection_id = %existing.id, platform = %integ.key, action, "credentials stored");
        Ok(linked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finlink_providers::Catalog;

    fn body(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn checks_fields_against_the_catalog() {
        let cat = Catalog::built_in().unwrap();
        let xero = cat.get("gbol").unwrap();
        let now = Timestamp::from_millis(1_000_000);
        let ok = body(&[
            ("accessToken", "a".into()),
            ("refreshToken", "r".into()),
            ("tenantId", "t".into()),
            ("expiresIn", "1800".into()),
        ]);
        let input = check_fields(xero, &ok, now).unwrap();
        assert_eq!(input.expiry.expires_at, Some(now.plus_seconds(1800)));
        assert_eq!(input.settings["tenantId"], "t");
        assert!(input.secrets.get("accessToken").is_some());
        assert!(!format!("{input:?}").contains("\"a\""));

        let mut unknown = ok.clone();
        unknown.insert("password".into(), "x".into());
        let e = check_fields(xero, &unknown, now).unwrap_err().to_string();
        assert!(
            e.contains("password") && e.contains("accepted fields"),
            "{e}"
        );
        let mut missing = ok.clone();
        missing.remove("refreshToken");
        assert!(
            check_fields(xero, &missing, now)
                .unwrap_err()
                .to_string()
                .contains("refreshToken")
        );
        let mut typed = ok.clone();
        typed.insert("accessToken".into(), Value::from(5));
        assert!(check_fields(xero, &typed, now).is_err());
        let mut bad_exp = ok.clone();
        bad_exp.insert("expiresIn".into(), "soon".into());
        assert!(
            check_fields(xero, &bad_exp, now)
                .unwrap_err()
                .to_string()
                .contains("expiresIn")
        );
        let mut at = ok.clone();
        at.remove("expiresIn");
        at.insert("expiresAt".into(), "2030-01-01T00:00:00Z".into());
        assert!(
            check_fields(xero, &at, now)
                .unwrap()
                .expiry
                .expires_at
                .is_some()
        );
        let mut none = ok.clone();
        none.remove("expiresIn");
        assert_eq!(
            check_fields(xero, &none, now).unwrap().expiry.expires_at,
            None
        );
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use finlink_providers::Catalog;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,40}".prop_map(Value::from),
            prop_oneof![
                Just("2026-11-23T10:00:00Z"),
                Just("1800"),
                Just("-5"),
                Just("99999999999"),
                Just("")
            ]
            .prop_map(Value::from),
            proptest::collection::vec("\\PC{0,5}", 0..3).prop_map(Value::from),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("accessToken".to_owned()),
            Just("refreshToken".to_owned()),
            Just("expiresAt".to_owned()),
            Just("expiresIn".to_owned()),
            Just("issuedAt".to_owned()),
            Just("tenantId".to_owned()),
            Just("realmId".to_owned()),
            Just("apiKey".to_owned()),
            "\\PC{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The migration body checker never panics, for any integration and any body.
        #[test]
        fn check_fields_never_panics(
            which in 0usize..34,
            body in proptest::collection::btree_map(key(), value(), 0..8),
            now in any::<i64>(),
        ) {
            let cat = Catalog::built_in().unwrap();
            let integ = &cat.all()[which % cat.all().len()];
            let _ = check_fields(integ, &body, Timestamp::from_millis(now));
        }
    }
}
