//! Sync settings: Codat's `GET/POST /profile/syncSettings` (the client's) and
//! `GET/POST /companies/{id}/syncSettings` (a company's), and the settings that apply to a
//! company (company over client over finlink's defaults; see
//! `finlink_domain::sync_settings`).
//!
//! - A `POST` replaces that level's settings. The body's `clientId` (or `companyId`) must be the
//!   caller's client (the path's company): another client's id is refused with 403 (Codat's
//!   "key not associated with that resource"), a company id other than the path's with 400.
//! - A `GET` answers every data type's setting as it applies at that level, with the level's
//!   stored `overridesDefaults` (false when nothing is stored).
//! - Saving settings reschedules: a `schedule` plan job, written with the settings, recomputes
//!   the next scheduled pull of every `Linked` connection they cover (`schedules`).

use finlink_domain::ids::{ClientId, CompanyId};
use finlink_domain::sync_settings::{
    EffectiveSyncSettings, SyncSetting, SyncSettingInput, SyncSettings, check,
};
use finlink_domain::{Error, Result};
use finlink_store::Effects;

use crate::App;

/// A level's settings as the API answers them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncSettingsView {
    /// Every data type, in Codat's order.
    pub settings: Vec<SyncSetting>,
    pub overrides_defaults: bool,
}

/// What a client sends to a `POST`.
#[derive(Clone, Debug, Default)]
pub struct SyncSettingsUpdate {
    /// `clientId` (profile) or `companyId` (company), as sent.
    pub owner_id: String,
    pub settings: Vec<SyncSettingInput>,
    pub overrides_defaults: bool,
}

impl App {
    /// The settings that apply to a company's syncs.
    pub async fn effective_sync_settings(
        &self,
        client: ClientId,
        company: CompanyId,
    ) -> Result<EffectiveSyncSettings> {
        let client_level = self.store.get_sync_settings(client, None).await?;
        let company_level = self.store.get_sync_settings(client, Some(company)).await?;
        Ok(EffectiveSyncSettings::resolve(
            client_level.as_ref(),
            company_level.as_ref(),
        ))
    }

    /// `GET /profile/syncSettings`.
    pub async fn client_sync_settings(&self, client: ClientId) -> Result<SyncSettingsView> {
        let stored = self.store.get_sync_settings(client, None).await?;
        Ok(SyncSettingsView {
            settings: EffectiveSyncSettings::resolve(stored.as_ref(), None).all(),
            overrides_defaults: stored.is_some_and(|s| s.overrides_defaults),
        })
    }

    /// `GET /companies/{id}/syncSettings`.
    pub async fn company_sync_settings(
        &self,
        client: ClientId,
        company: CompanyId,
    ) -> Result<SyncSettingsView> {
        self.get_company(client, company).await?;
        let client_level = self.store.get_sync_settings(client, None).await?;
        let stored = self.store.get_sync_settings(client, Some(company)).await?;
        Ok(SyncSettingsView {
            settings: EffectiveSyncSettings::resolve(client_level.as_ref(), stored.as_ref()).all(),
            overrides_defaults: stored.is_some_and(|s| s.overrides_defaults),
        })
    }

    /// `POST /profile/syncSettings`.
    pub async fn put_client_sync_settings(
        &self,
        client: ClientId,
        update: &SyncSettingsUpdate,
    ) -> Result<()> {
        let owner = update.owner_id.trim();
        match ClientId::parse(owner) {
            Ok(id) if id == client => {}
            Ok(_) => {
                return Err(Error::Forbidden(format!(
                    "clientId {} is not your client: you are using an API key not associated with that resource. Send your own client id ({client}, as GET /profile/syncSettings answers it).",
                    short(owner)
                )));
            }
            Err(_) => {
                return Err(Error::invalid(
                    "clientId",
                    "SyncSettings",
                    format!(
                        "clientId '{}' is not a client id; send your own ({client}, as GET /profile/syncSettings answers it).",
                        short(owner)
                    ),
                ));
            }
        }
        let settings = self.checked(update)?;
        let effects = self.reschedule_effects(client, None, &settings);
        self.store
            .put_sync_settings(client, None, &settings, &effects)
            .await?;
        tracing::info!(client_id = %client, settings = settings.settings.len(), overrides = settings.overrides_defaults, "sync settings saved for the client");
        Ok(())
    }

    /// `POST /companies/{id}/syncSettings`.
    pub async fn put_company_sync_settings(
        &self,
        client: ClientId,
        company: CompanyId,
        update: &SyncSettingsUpdate,
    ) -> Result<()> {
        self.get_company(client, company).await?;
        let owner = update.owner_id.trim();
        if CompanyId::parse(owner).ok() != Some(company) {
            return Err(Error::invalid(
                "companyId",
                "SyncSettings",
                format!(
                    "companyId '{}' in the body is not the company in the path ({company}); send the same id in both.",
                    short(owner)
                ),
            ));
        }
        let settings = self.checked(update)?;
        let effects = self.reschedule_effects(client, Some(company), &settings);
        if !self
            .store
            .put_sync_settings(client, Some(company), &settings, &effects)
            .await?
        {
            return Err(Error::not_found("company", company));
        }
        tracing::info!(client_id = %client, company_id = %company, settings = settings.settings.len(), overrides = settings.overrides_defaults, "sync settings saved for a company");
        Ok(())
    }

    fn checked(&self, update: &SyncSettingsUpdate) -> Result<SyncSettings> {
        Ok(SyncSettings {
            overrides_defaults: update.overrides_defaults,
            settings: check(&update.settings)?,
            updated: self.clock.now(),
        })
    }

    /// The plan job that reschedules what `settings` cover, written with them.
    fn reschedule_effects(
        &self,
        client: ClientId,
        company: Option<CompanyId>,
        settings: &SyncSettings,
    ) -> Effects {
        Effects {
            jobs: vec![self.schedule_plan_job(client, company, settings.updated)],
            ..Effects::none()
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}
