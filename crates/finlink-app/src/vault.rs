//! Apideck Vault's view of the same model: a consumer is a company carrying a consumer
//! id (unique per client); a vault connection is the company's connection to the
//! integration whose slug is the `service_id`.

use std::collections::BTreeMap;

use finlink_domain::company::{Company, normalize_name};
use finlink_domain::connection::{Connection, ConnectionStatus, SourceType};
use finlink_domain::ids::{ClientId, CompanyId};
use finlink_domain::integration::{AuthType, Integration};
use finlink_domain::paging::{Page, PageRequest};
use finlink_domain::query::{Comparison, Expr, Op};
use finlink_domain::{Error, Result, Timestamp};
use finlink_store::ListQuery;
use serde_json::Value;

use crate::App;
use crate::migration::{Actor, check_fields};
use crate::refresh::RefreshOutcome;

pub const MAX_CONSUMER_ID_CHARS: usize = 256;

/// `expires_in` above this many is read as milliseconds (Apideck's guide sends 3600000
/// for an hour). Reading a long lifetime in seconds as milliseconds only refreshes early;
/// the opposite mistake would use an expired token, so the heuristic errs this way.
pub const EXPIRES_IN_MS_THRESHOLD: i64 = 1_000_000;

/// Credentials as Apideck's import sends them.
#[derive(Debug, Default)]
pub struct ImportCredentials {
    pub access_token: Option<finlink_vault::SecretString>,
    pub refresh_token: Option<finlink_vault::SecretString>,
    pub issued_at: Option<String>,
    pub expires_in: Option<i64>,
}

#[derive(Debug)]
pub struct ImportRequest {
    pub consumer_id: String,
    pub unified_api: String,
    pub service_id: String,
    pub credentials: ImportCredentials,
    pub settings: serde_json::Map<String, Value>,
    pub metadata: serde_json::Map<String, Value>,
}

/// A connection as the vault endpoints show it.
#[derive(Debug, Clone)]
pub struct VaultConnection {
    pub connection: Connection,
    pub integration: Integration,
    pub consumer_id: String,
    pub unified_api: &'static str,
    /// `added`, `authorized`, `callable` or `invalid`.
    pub state: &'static str,
    pub expires_at: Option<Timestamp>,
}

pub fn unified_api_of(st: SourceType) -> &'static str {
    match st {
        SourceType::Accounting => "accounting",
        SourceType::Commerce => "ecommerce",
        SourceType::Banking | SourceType::BankFeed => "banking",
        _ => "other",
    }
}

pub(crate) fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for ch in s.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

pub(crate) fn check_consumer_id(id: &str) -> Result<()> {
    if id.trim().is_empty()
        || id.chars().count() > MAX_CONSUMER_ID_CHARS
        || id.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "consumer_id",
            "Consumer",
            format!(
                "A consumer id is required (1 to {MAX_CONSUMER_ID_CHARS} printable characters), in the x-apideck-consumer-id header."
            ),
        ));
    }
    Ok(())
}

fn by_consumer(consumer_id: &str) -> ListQuery {
    ListQuery {
        page: PageRequest {
            page: 1,
            page_size: 1,
        },
        filter: Some(Expr::Cmp(Comparison {
            path: vec!["consumerId".into()],
            op: Op::Eq,
            value: consumer_id.to_owned(),
        })),
        ..ListQuery::default()
    }
}

impl App {
    /// The company for a consumer id, created (named after `metadata.account_name`, else
    /// the id) when `create` is set.
    pub async fn consumer(
        &self,
        client: ClientId,
        consumer_id: &str,
        create: bool,
        metadata: Option<&serde_json::Map<String, Value>>,
    ) -> Result<Company> {
        check_consumer_id(consumer_id)?;
        if let Some(c) = self
            .store
            .list_companies(client, &by_consumer(consumer_id))
            .await?
            .items
            .into_iter()
            .next()
        {
            return Ok(c);
        }
        if !create {
            return Err(Error::NotFound {
                message: format!("No consumer has the id '{consumer_id}'."),
            });
        }
        let name = metadata
            .and_then(|m| m.get("account_name"))
            .and_then(Value::as_str)
            .and_then(|n| normalize_name(n).ok())
            .or_else(|| normalize_name(consumer_id).ok())
            .unwrap_or_else(|| String::from("Consumer"));
        let now = self.clock.now();
        let company = Company {
            id: CompanyId::new_v7(now),
            client_id: client,
            name,
            description: None,
            tags: BTreeMap::new(),
            created: now,
            modified: now,
            last_sync: None,
            created_by_user_name: None,
            products: Vec::new(),
            consumer_id: Some(consumer_id.to_owned()),
            connections: Vec::new(),
        };
        let effects = self
            .raise(
                vec![self.company_event(finlink_domain::event::types::COMPANY_CREATED, &company)],
                Some(&company.tags),
            )
            .await?;
        match self.store.insert_company(&company, &effects).await {
            Ok(()) => Ok(company),
            // Another request created it first (the consumer id is unique per client).
            Err(e) => match self
                .store
                .list_companies(client, &by_consumer(consumer_id))
                .await?
                .items
                .into_iter()
                .next()
            {
                Some(c) => Ok(c),
                None => Err(e),
            },
        }
    }

    pub async fn list_consumers(
        &self,
        client: ClientId,
        page: PageRequest,
    ) -> Result<Page<Company>> {
        self.store
            .list_companies(
                client,
                &ListQuery {
                    page,
                    consumers_only: true,
                    ..ListQuery::default()
                },
            )
            .await
    }

    /// Deletes a consumer with its connections and their credentials.
    pub async fn delete_consumer(
        &self,
        actor: &Actor,
        client: ClientId,
        consumer_id: &str,
    ) -> Result<()> {
        let company = self.consumer(client, consumer_id, false, None).await?;
        self.delete_company(client, company.id).await?;
        self.audit(
            actor,
            client,
            (Some(company.id), None),
            "consumer.delete",
            "success",
            format!("consumer {consumer_id} deleted"),
        )
        .await;
        Ok(())
    }

    fn vault_integration(&self, unified_api: &str, service_id: &str) -> Result<Integration> {
        let integ = self.catalog.by_slug(service_id).cloned().ok_or_else(|| Error::NotFound {
            message: format!("No integration has the service_id '{service_id}'; GET /integrations lists each one's slug."),
        })?;
        let expected = unified_api_of(integ.source_type);
        let given = if unified_api == "commerce" {
            "ecommerce"
        } else {
            unified_api
        };
        if given != expected {
            return Err(Error::invalid(
                "unified_api",
                "Vault",
                format!(
                    "{} belongs to the '{expected}' unified API, not '{unified_api}'.",
                    integ.name
                ),
            ));
        }
        Ok(integ)
    }

    pub(crate) async fn connection_of(
        &self,
        client: ClientId,
        company: CompanyId,
        integ: &Integration,
    ) -> Result<Option<Connection>> {
        let q = ListQuery {
            page: PageRequest {
                page: 1,
                page_size: 1,
            },
            filter: Some(Expr::Cmp(Comparison {
                path: vec!["integrationKey".into()],
                op: Op::Eq,
                value: integ.key.clone(),
            })),
            ..ListQuery::default()
        };
        Ok(self
            .store
            .list_connections(client, company, &q)
            .await?
            .items
            .into_iter()
            .next())
    }

    async fn vault_view(
        &self,
        client: ClientId,
        consumer_id: &str,
        connection: Connection,
    ) -> Result<VaultConnection> {
        let integration = self.integration(&connection.integration_key)?.clone();
        let creds = self.store.get_credentials(client, connection.id).await?;
        let missing_setting = integration.fields.iter().any(|f| {
            f.required
                && f.kind == finlink_domain::integration::FieldKind::Setting
                && !connection
                    .connection_info
                    .as_ref()
                    .is_some_and(|i| i.contains_key(&f.name))
        });
        let state = match (&creds, connection.status) {
            (_, ConnectionStatus::Deauthorized) => "invalid",
            (None, _) => "added",
            (Some(_), _) if missing_setting => "authorized",
            (Some(_), ConnectionStatus::Linked) => "callable",
            (Some(_), _) => "authorized",
        };
        Ok(VaultConnection {
            unified_api: unified_api_of(integration.source_type),
            integration,
            consumer_id: consumer_id.to_owned(),
            state,
            expires_at: creds.and_then(|c| c.expires_at),
            connection,
        })
    }

    /// Apideck's import: an upsert per (client, consumer, unified API, service). Creates
    /// the consumer and the connection when missing, replaces credentials, merges settings
    /// and metadata. No sync starts.
    pub async fn vault_import(
        &self,
        actor: &Actor,
        client: ClientId,
        req: ImportRequest,
    ) -> Result<VaultConnection> {
        let integ = self.vault_integration(&req.unified_api, &req.service_id)?;
        let now = self.clock.now();
        // Build the flat field object the Codat path takes, then check it the same way.
        let mut body: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &req.settings {
            let name = snake_to_camel(k);
            match v {
                Value::String(_) => {
                    body.insert(name, v.clone());
                }
                Value::Number(n) => {
                    body.insert(name, Value::String(n.to_string()));
                }
                Value::Bool(b) => {
                    body.insert(name, Value::String(b.to_string()));
                }
                Value::Null => {}
                _ => {
                    return Err(Error::invalid(
                        &format!("settings.{k}"),
                        "Import",
                        format!("settings.{k} must be a string, number or boolean."),
                    ));
                }
            }
        }
        if integ.auth_type == AuthType::Oauth2 {
            let access = req.credentials.access_token.as_ref().ok_or_else(|| {
                Error::invalid(
                    "credentials.access_token",
                    "Import",
                    format!(
                        "{} is OAuth 2.0: credentials.access_token is required.",
                        integ.name
                    ),
                )
            })?;
            let refresh = req.credentials.refresh_token.as_ref().ok_or_else(|| {
                Error::invalid(
                    "credentials.refresh_token",
                    "Import",
                    format!(
                        "{} is OAuth 2.0: credentials.refresh_token is required.",
                        integ.name
                    ),
                )
            })?;
            body.insert("accessToken".into(), Value::String(access.expose().clone()));
            body.insert(
                "refreshToken".into(),
                Value::String(refresh.expose().clone()),
            );
            if let (Some(issued), Some(expires_in)) =
                (&req.credentials.issued_at, req.credentials.expires_in)
            {
                let issued_at = Timestamp::parse(issued).ok_or_else(|| {
                    Error::invalid(
                        "credentials.issued_at",
                        "Import",
                        String::from("credentials.issued_at is not an RFC 3339 datetime such as 2026-11-23T10:00:00Z."),
                    )
                })?;
                if expires_in <= 0 {
                    return Err(Error::invalid(
                        "credentials.expires_in",
                        "Import",
                        "credentials.expires_in must be a positive number of seconds.",
                    ));
                }
                let ms = if expires_in > EXPIRES_IN_MS_THRESHOLD {
                    expires_in
                } else {
                    expires_in.saturating_mul(1000)
                };
                body.insert("issuedAt".into(), Value::String(issued_at.to_rfc3339()));
                body.insert(
                    "expiresAt".into(),
                    Value::String(issued_at.plus_millis(ms).to_rfc3339()),
                );
            }
        }
        let input = check_fields(&integ, &body, now)?;
        check_consumer_id(&req.consumer_id)?;
        // Refuse before creating anything (the consumer included).
        self.ensure_enabled_for(client, &integ).await?;
        let company = self
            .consumer(client, &req.consumer_id, true, Some(&req.metadata))
            .await?;
        let connection = match self.connection_of(client, company.id, &integ).await? {
            Some(c) => c,
            None => {
                self.create_connection(client, company.id, &integ.key)
                    .await?
            }
        };
        let mut conn_for_merge = connection.clone();
        if !req.metadata.is_empty() {
            let mut info = conn_for_merge.connection_info.clone().unwrap_or_default();
            let mut meta = info
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            meta.extend(req.metadata.clone());
            info.insert("metadata".into(), Value::Object(meta));
            conn_for_merge.connection_info = Some(info);
        }
        let linked = self
            .store_migrated(
                actor,
                &conn_for_merge,
                &integ,
                input,
                "connection.import",
                false,
            )
            .await?;
        self.vault_view(client, &req.consumer_id, linked).await
    }

    pub async fn vault_connection(
        &self,
        client: ClientId,
        consumer_id: &str,
        unified_api: &str,
        service_id: &str,
    ) -> Result<VaultConnection> {
        let integ = self.vault_integration(unified_api, service_id)?;
        let company = self.consumer(client, consumer_id, false, None).await?;
        let conn = self
            .connection_of(client, company.id, &integ)
            .await?
            .ok_or_else(|| Error::NotFound {
                message: format!("Consumer '{consumer_id}' has no {} connection.", integ.name),
            })?;
        self.vault_view(client, consumer_id, conn).await
    }

    pub async fn vault_connections(
        &self,
        client: ClientId,
        consumer_id: &str,
        api: Option<&str>,
    ) -> Result<Vec<VaultConnection>> {
        let company = self.consumer(client, consumer_id, false, None).await?;
        let mut out = Vec::new();
        for c in company.connections {
            let view = self.vault_view(client, consumer_id, c).await?;
            if api.is_none_or(|a| {
                a == view.unified_api || (a == "commerce" && view.unified_api == "ecommerce")
            }) {
                out.push(view);
            }
        }
        Ok(out)
    }

    /// PATCH: merges settings (provider settings) and metadata.
    pub async fn vault_update(
        &self,
        actor: &Actor,
        client: ClientId,
        consumer_id: &str,
        unified_api: &str,
        service_id: &str,
        (settings, metadata): (
            serde_json::Map<String, Value>,
            serde_json::Map<String, Value>,
        ),
    ) -> Result<VaultConnection> {
        let view = self
            .vault_connection(client, consumer_id, unified_api, service_id)
            .await?;
        let mut info = view.connection.connection_info.clone().unwrap_or_default();
        for (k, v) in settings {
            let name = snake_to_camel(&k);
            if !view.integration.fields.iter().any(|f| {
                f.name == name && f.kind == finlink_domain::integration::FieldKind::Setting
            }) {
                let names: Vec<&str> = view
                    .integration
                    .fields
                    .iter()
                    .filter(|f| f.kind == finlink_domain::integration::FieldKind::Setting)
                    .map(|f| f.name.as_str())
                    .collect();
                return Err(Error::invalid(
                    &format!("settings.{k}"),
                    "Vault",
                    format!(
                        "'{k}' is not a setting of {}; settings: {}.",
                        view.integration.name,
                        names.join(", ")
                    ),
                ));
            }
            info.insert(name, v);
        }
        if !metadata.is_empty() {
            let mut meta = info
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            meta.extend(metadata);
            info.insert("metadata".into(), Value::Object(meta));
        }
        let updated = self
            .store
            .set_connection_info(
                client,
                view.connection.company_id,
                view.connection.id,
                &info,
                self.clock.now(),
            )
            .await?
            .ok_or_else(|| Error::NotFound {
                message: String::from("The connection is gone."),
            })?;
        self.audit(
            actor,
            client,
            (Some(updated.company_id), Some(updated.id)),
            "connection.update",
            "success",
            String::from("settings or metadata changed"),
        )
        .await;
        self.vault_view(client, consumer_id, updated).await
    }

    pub async fn vault_delete(
        &self,
        actor: &Actor,
        client: ClientId,
        consumer_id: &str,
        unified_api: &str,
        service_id: &str,
    ) -> Result<()> {
        let view = self
            .vault_connection(client, consumer_id, unified_api, service_id)
            .await?;
        self.delete_connection(client, view.connection.company_id, view.connection.id)
            .await?;
        self.audit(
            actor,
            client,
            (Some(view.connection.company_id), Some(view.connection.id)),
            "connection.delete",
            "success",
            format!("{} connection deleted", view.integration.name),
        )
        .await;
        Ok(())
    }

    /// Apideck's validate: API-key and basic connections are checked for their required
    /// fields; OAuth 2.0 ones are refreshed now, whatever their expiry.
    pub async fn vault_validate(
        &self,
        actor: &Actor,
        client: ClientId,
        consumer_id: &str,
        unified_api: &str,
        service_id: &str,
    ) -> Result<(VaultConnection, Option<RefreshOutcome>)> {
        let view = self
            .vault_connection(client, consumer_id, unified_api, service_id)
            .await?;
        if view.integration.auth_type != AuthType::Oauth2 {
            return Ok((view, None));
        }
        let outcome = self
            .refresh_now(
                actor,
                client,
                view.connection.company_id,
                view.connection.id,
            )
            .await?;
        let fresh = self
            .vault_connection(client, consumer_id, unified_api, service_id)
            .await?;
        let fresh = match &outcome {
            RefreshOutcome::Rejected { .. } => VaultConnection {
                state: "invalid",
                ..fresh
            },
            _ => fresh,
        };
        Ok((fresh, Some(outcome)))
    }
}
