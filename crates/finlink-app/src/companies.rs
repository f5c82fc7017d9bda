//! Companies: create, read, replace, update, delete, list.

use finlink_domain::company::{Company, Tags, normalize_name, validate_description, validate_tags};
use finlink_domain::ids::{ClientId, CompanyId};
use finlink_domain::paging::Page;
use finlink_domain::{Error, Result};
use finlink_store::ListQuery;

use crate::App;

/// The body of a create or replace: fields left out are cleared on replace.
#[derive(Clone, Debug, Default)]
pub struct CompanyInput {
    pub name: String,
    pub description: Option<String>,
    pub tags: Option<Tags>,
}

/// The body of an update: `None` keeps a field. For tags, `Some(None)` (JSON null) and
/// `Some(Some({}))` both clear them, as Codat documents.
#[derive(Clone, Debug, Default)]
pub struct CompanyPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Option<Tags>>,
}

fn clean_description(d: Option<String>) -> Result<Option<String>> {
    match d {
        Some(d) => {
            validate_description(&d)?;
            Ok(Some(d))
        }
        None => Ok(None),
    }
}

impl App {
    pub async fn create_company(&self, client: ClientId, input: CompanyInput) -> Result<Company> {
        let name = normalize_name(&input.name)?;
        let description = clean_description(input.description)?;
        let tags = input.tags.unwrap_or_default();
        validate_tags(&tags)?;
        let now = self.clock.now();
        let company = Company {
            id: CompanyId::new_v7(now),
            client_id: client,
            name,
            description,
            tags,
            created: now,
            modified: now,
            last_sync: None,
            created_by_user_name: None,
            products: Vec::new(),
            consumer_id: None,
            connections: Vec::new(),
        };
        let effects = self
            .raise(
                vec![self.company_event(finlink_domain::event::types::COMPANY_CREATED, &company)],
                Some(&company.tags),
            )
            .await?;
        self.store.insert_company(&company, &effects).await?;
        tracing::info!(company_id = %company.id, "company created");
        Ok(company)
    }

    pub async fn get_company(&self, client: ClientId, id: CompanyId) -> Result<Company> {
        self.store
            .get_company(client, id)
            .await?
            .ok_or_else(|| Error::not_found("company", id))
    }

    pub async fn replace_company(
        &self,
        client: ClientId,
        id: CompanyId,
        input: CompanyInput,
    ) -> Result<Company> {
        let name = normalize_name(&input.name)?;
        let description = clean_description(input.description)?;
        let tags = input.tags.unwrap_or_default();
        validate_tags(&tags)?;
        let mut company = self.get_company(client, id).await?;
        company.name = name;
        company.description = description;
        company.tags = tags;
        company.modified = self.clock.now();
        if !self.store.update_company(&company).await? {
            return Err(Error::not_found("company", id));
        }
        Ok(company)
    }

    pub async fn update_company(
        &self,
        client: ClientId,
        id: CompanyId,
        patch: CompanyPatch,
    ) -> Result<Company> {
        let name = patch.name.map(|n| normalize_name(&n)).transpose()?;
        let description = clean_description(patch.description)?;
        let tags = match patch.tags {
            None => None,
            Some(t) => {
                let t = t.unwrap_or_default();
                validate_tags(&t)?;
                Some(t)
            }
        };
        let mut company = self.get_company(client, id).await?;
        if let Some(n) = name {
            company.name = n;
        }
        if description.is_some() {
            company.description = description;
        }
        if let Some(t) = tags {
            company.tags = t;
        }
        company.modified = self.clock.now();
        if !self.store.update_company(&company).await? {
            return Err(Error::not_found("company", id));
        }
        Ok(company)
    }

    /// Deletes a company and its connections.
    pub async fn delete_company(&self, client: ClientId, id: CompanyId) -> Result<()> {
        let company = self.get_company(client, id).await?;
        let effects = self
            .raise(
                vec![self.company_event(finlink_domain::event::types::COMPANY_DELETED, &company)],
                Some(&company.tags),
            )
            .await?;
        if self.store.delete_company(client, id, &effects).await? {
            tracing::info!(company_id = %id, "company deleted");
            Ok(())
        } else {
            Err(Error::not_found("company", id))
        }
    }

    pub async fn list_companies(
        &self,
        client: ClientId,
        query: &ListQuery,
    ) -> Result<Page<Company>> {
        self.store.list_companies(client, query).await
    }
}
