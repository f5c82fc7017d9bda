//! Sync settings (Codat's `SyncSetting`): per data type, whether a sync of everything pulls it
//! (`fetchOnFirstLink`), how often it is pulled again (`syncSchedule`, hours), in which order
//! (`syncOrder`) and from when (`syncFromUtc` or `syncFromWindow`).
//!
//! - Settings are stored per client (`/profile/syncSettings`) and per company
//!   (`/companies/{id}/syncSettings`), each as a list of [`SyncSetting`] with an
//!   `overridesDefaults` flag. [`EffectiveSyncSettings::resolve`] gives what applies to a
//!   company, per data type: the company's setting, else the client's, else finlink's default
//!   ([`default_setting`]). A level whose `overridesDefaults` is false is kept but does not
//!   apply; a client setting with `isLocked` is not overridden by a company's.
//! - [`check`] validates what a client sends (one [`FieldError`] per problem, all at once).
//! - [`schedule_due`] is when a data type's next scheduled pull is due: a pure function of the
//!   last pull's time, the schedule and the (connection, data type), so every process (and
//!   every stale job) computes the same instant.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::data::DataType;
use crate::error::{Error, FieldError, Result};

/// The shortest schedule, in hours (hourly).
pub const MIN_SCHEDULE_HOURS: u32 = 1;
/// The longest schedule, in hours (30 days: monthly).
pub const MAX_SCHEDULE_HOURS: u32 = 720;
/// The default schedule: daily.
pub const DEFAULT_SCHEDULE_HOURS: u32 = 24;
/// The most months `syncFromWindow` and `monthsToSync` take (50 years).
pub const MAX_MONTHS: u32 = 600;
/// The most a scheduled pull is spread after its due time: 5 % of the schedule, at most this.
pub const MAX_JITTER_SECS: i64 = 600;

const VALIDATOR: &str = "SyncSettings";

/// How one data type is synced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSetting {
    pub data_type: DataType,
    /// Pulled by `data/all` and by the fetch on first link, and kept fresh on schedule.
    pub fetch_on_first_link: bool,
    /// Hours between scheduled pulls, [`MIN_SCHEDULE_HOURS`] to [`MAX_SCHEDULE_HOURS`].
    pub sync_schedule: u32,
    /// Lower first.
    pub sync_order: i32,
    /// The first (full) pull asks only for records modified since this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_from_utc: Option<Timestamp>,
    /// The first (full) pull asks only for records modified in these last months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_from_window: Option<u32>,
    /// Months of a report (balance sheet, profit and loss); stored and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months_to_sync: Option<u32>,
    /// A client setting that companies' settings do not override.
    #[serde(default)]
    pub is_locked: bool,
}

impl SyncSetting {
    /// The bound of a first (full) pull: `syncFromUtc`, or `syncFromWindow` months before `now`.
    pub fn sync_from(&self, now: Timestamp) -> Option<Timestamp> {
        match (self.sync_from_utc, self.sync_from_window) {
            (Some(t), _) => Some(t),
            (None, Some(months)) => Some(months_before(now, months)),
            (None, None) => None,
        }
    }
}

/// `months` calendar months before `t` (the last day of a shorter month when the day is gone).
pub fn months_before(t: Timestamp, months: u32) -> Timestamp {
    Utc.timestamp_millis_opt(t.as_millis())
        .single()
        .and_then(|dt| dt.checked_sub_months(Months::new(months)))
        .map_or(Timestamp::from_millis(0), |dt| {
            Timestamp::from_millis(dt.timestamp_millis())
        })
}

/// The settings stored at one level (a client, or one of its companies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncSettings {
    /// Whether these settings apply (`false`: kept, but the level below applies).
    pub overrides_defaults: bool,
    /// At most one per data type.
    pub settings: Vec<SyncSetting>,
    pub updated: Timestamp,
}

/// The stored form of a list of settings (JSON, Codat's field names).
pub fn encode_settings(settings: &[SyncSetting]) -> Result<String> {
    serde_json::to_string(settings).map_err(|e| Error::internal(format!("sync settings: {e}")))
}

/// Reads [`encode_settings`] back.
pub fn decode_settings(text: &str) -> Result<Vec<SyncSetting>> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("stored sync settings: {e}")))
}

/// A setting as a client sent it, before [`check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSettingInput {
    pub data_type: String,
    pub fetch_on_first_link: bool,
    pub sync_schedule: i64,
    pub sync_order: i64,
    pub sync_from_utc: Option<String>,
    pub sync_from_window: Option<i64>,
    pub months_to_sync: Option<i64>,
    pub is_locked: Option<bool>,
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Checks a list of settings as a client sent it; every problem is reported at once, each
/// with its place (`settings[2].syncSchedule`).
pub fn check(inputs: &[SyncSettingInput]) -> Result<Vec<SyncSetting>> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(inputs.len());
    let mut seen = BTreeSet::new();
    for (i, s) in inputs.iter().enumerate() {
        let mut err = |field: &str, message: String| {
            errors.push(FieldError {
                item_id: format!("settings[{i}].{field}"),
                message,
                validator_name: VALIDATOR.to_owned(),
            })
        };
        let data_type = DataType::parse(&s.data_type);
        match data_type {
            None => err(
                "dataType",
                format!(
                    "'{}' is not a data type; use one of Codat's data types, e.g. invoices, chartOfAccounts, company, banking-accounts, commerce-orders.",
                    short(&s.data_type)
                ),
            ),
            Some(t) if !seen.insert(t) => err(
                "dataType",
                format!("{t} is listed more than once; send one setting per data type."),
            ),
            Some(_) => {}
        }
        let schedule = u32::try_from(s.sync_schedule)
            .ok()
            .filter(|h| (MIN_SCHEDULE_HOURS..=MAX_SCHEDULE_HOURS).contains(h));
        if schedule.is_none() {
            err(
                "syncSchedule",
                format!(
                    "syncSchedule is {} hours; it must be from {MIN_SCHEDULE_HOURS} (hourly) to {MAX_SCHEDULE_HOURS} (every 30 days).",
                    s.sync_schedule
                ),
            );
        }
        let order = i32::try_from(s.sync_order).ok();
        if order.is_none() {
            err(
                "syncOrder",
                format!("syncOrder {} is out of range.", s.sync_order),
            );
        }
        let months = |v: Option<i64>| -> std::result::Result<Option<u32>, ()> {
            match v {
                None => Ok(None),
                Some(m) => u32::try_from(m)
                    .ok()
                    .filter(|m| (1..=MAX_MONTHS).contains(m))
                    .map(Some)
                    .ok_or(()),
            }
        };
        let window = months(s.sync_from_window).unwrap_or_else(|()| {
            err(
                "syncFromWindow",
                format!(
                    "syncFromWindow is {} months; it must be from 1 to {MAX_MONTHS}.",
                    s.sync_from_window.unwrap_or_default()
                ),
            );
            None
        });
        let months_to_sync = months(s.months_to_sync).unwrap_or_else(|()| {
            err(
                "monthsToSync",
                format!(
                    "monthsToSync is {} months; it must be from 1 to {MAX_MONTHS}.",
                    s.months_to_sync.unwrap_or_default()
                ),
            );
            None
        });
        let from_text = s.sync_from_utc.as_deref().filter(|t| !t.trim().is_empty());
        let from = from_text.and_then(Timestamp::parse);
        if let (Some(text), None) = (from_text, from) {
            err(
                "syncFromUtc",
                format!(
                    "syncFromUtc '{}' is not a date-time; send ISO 8601, e.g. 2020-01-01T00:00:00Z.",
                    short(text)
                ),
            );
        }
        if from_text.is_some() && s.sync_from_window.is_some() {
            err(
                "syncFromWindow",
                String::from("Set syncFromUtc or syncFromWindow, not both."),
            );
        }
        if let (Some(data_type), Some(sync_schedule), Some(sync_order)) =
            (data_type, schedule, order)
        {
            out.push(SyncSetting {
                data_type,
                fetch_on_first_link: s.fetch_on_first_link,
                sync_schedule,
                sync_order,
                sync_from_utc: from,
                sync_from_window: window,
                months_to_sync,
                is_locked: s.is_locked.unwrap_or(false),
            });
        }
    }
    if errors.is_empty() {
        return Ok(out);
    }
    let message = if errors.len() == 1 {
        errors[0].message.clone()
    } else {
        format!(
            "{} sync settings are not valid: {}",
            errors.len(),
            errors
                .iter()
                .map(|e| format!("{}: {}", e.item_id, e.message))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    Err(Error::Validation { message, errors })
}

/// The data types in finlink's default order: the company, its chart of accounts and tax rates
/// first (other records refer to them), then the modelled types, then the rest in Codat's order.
fn default_rank() -> Vec<DataType> {
    let mut order: Vec<DataType> = DataType::MODELLED.to_vec();
    order.extend(DataType::ALL.iter().copied().filter(|t| !t.has_model()));
    order
}

/// finlink's default for a data type: fetched on first link when finlink reads it (it has a
/// model and connectors), daily, in the default order.
pub fn default_setting(data_type: DataType) -> SyncSetting {
    let rank = default_rank()
        .iter()
        .position(|t| *t == data_type)
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or(i32::MAX);
    SyncSetting {
        data_type,
        fetch_on_first_link: data_type.has_model(),
        sync_schedule: DEFAULT_SCHEDULE_HOURS,
        sync_order: rank,
        sync_from_utc: None,
        sync_from_window: None,
        months_to_sync: None,
        is_locked: false,
    }
}

/// The settings that apply, one per data type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveSyncSettings {
    by_type: BTreeMap<DataType, SyncSetting>,
}

impl Default for EffectiveSyncSettings {
    fn default() -> Self {
        Self::resolve(None, None)
    }
}

impl EffectiveSyncSettings {
    /// Company over client over defaults (see the module's documentation).
    pub fn resolve(client: Option<&SyncSettings>, company: Option<&SyncSettings>) -> Self {
        let mut by_type: BTreeMap<DataType, SyncSetting> = DataType::ALL
            .iter()
            .map(|t| (*t, default_setting(*t)))
            .collect();
        let mut locked = BTreeSet::new();
        if let Some(c) = client.filter(|c| c.overrides_defaults) {
            for s in &c.settings {
                if s.is_locked {
                    locked.insert(s.data_type);
                }
                by_type.insert(s.data_type, s.clone());
            }
        }
        if let Some(c) = company.filter(|c| c.overrides_defaults) {
            for s in c.settings.iter().filter(|s| !locked.contains(&s.data_type)) {
                by_type.insert(s.data_type, s.clone());
            }
        }
        Self { by_type }
    }

    /// The setting of a data type.
    pub fn get(&self, data_type: DataType) -> SyncSetting {
        self.by_type
            .get(&data_type)
            .cloned()
            .unwrap_or_else(|| default_setting(data_type))
    }

    /// Every data type's setting, in Codat's order of data types.
    pub fn all(&self) -> Vec<SyncSetting> {
        DataType::ALL.iter().map(|t| self.get(*t)).collect()
    }

    /// Of `available` (what a connection's connectors pull), those with `fetchOnFirstLink`, in
    /// `syncOrder` (ties in finlink's default order).
    pub fn fetch_on_first_link(&self, available: &[DataType]) -> Vec<DataType> {
        let rank = default_rank();
        let pos = |t: &DataType| rank.iter().position(|r| r == t).unwrap_or(usize::MAX);
        let mut out: Vec<DataType> = available
            .iter()
            .copied()
            .filter(|t| self.get(*t).fetch_on_first_link)
            .collect();
        out.sort_by_key(|t| (self.get(*t).sync_order, pos(t)));
        out.dedup();
        out
    }
}

/// FNV-1a: a hash that every build of finlink computes alike (the jitter must be the same in
/// every process).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The most a pull on a schedule of `hours` is spread after its due time: 5 % of the schedule,
/// at most [`MAX_JITTER_SECS`].
pub fn max_jitter_secs(hours: u32) -> i64 {
    (i64::from(hours) * 3600 / 20).min(MAX_JITTER_SECS)
}

/// When the next scheduled pull of `data_type` on `connection` is due: `schedule_hours` after
/// `anchor` (the last pull's request, or when the schedule started), plus a jitter of up to
/// [`max_jitter_secs`] that depends only on the connection, the data type and the anchor, so
/// the pulls of many connections linked (or migrated) at once are spread, and every process
/// computes the same instant.
pub fn schedule_due(
    anchor: Timestamp,
    schedule_hours: u32,
    connection: &str,
    data_type: DataType,
) -> Timestamp {
    let span_ms = max_jitter_secs(schedule_hours) * 1000;
    let jitter = if span_ms > 0 {
        let h = fnv1a(&[
            connection.as_bytes(),
            data_type.as_str().as_bytes(),
            &anchor.as_millis().to_le_bytes(),
        ]);
        i64::try_from(h % u64::try_from(span_ms + 1).unwrap_or(1)).unwrap_or(0)
    } else {
        0
    };
    anchor
        .plus_seconds(i64::from(schedule_hours) * 3600)
        .plus_millis(jitter)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn input(dt: &str, schedule: i64) -> SyncSettingInput {
        SyncSettingInput {
            data_type: dt.into(),
            fetch_on_first_link: true,
            sync_schedule: schedule,
            sync_order: 0,
            ..SyncSettingInput::default()
        }
    }

    #[test]
    fn checks_every_field_at_once() {
        assert_eq!(check(&[input("invoices", 24)]).unwrap().len(), 1);
        assert!(check(&[input("invoices", 1), input("bills", 720)]).is_ok());
        let mut both = input("bills", 24);
        both.sync_from_utc = Some("2020-01-01T00:00:00Z".into());
        both.sync_from_window = Some(12);
        let mut bad_date = input("customers", 24);
        bad_date.sync_from_utc = Some("yesterday".into());
        let err = check(&[
            input("invoices", 0),
            input("nope", 24),
            input("payments", 721),
            both,
            bad_date,
            input("invoices", 24),
        ])
        .unwrap_err();
        let Error::Validation { errors, message } = err else {
            panic!("not a validation error");
        };
        let ids: Vec<&str> = errors.iter().map(|e| e.item_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "settings[0].syncSchedule",
                "settings[1].dataType",
                "settings[2].syncSchedule",
                "settings[3].syncFromWindow",
                "settings[4].syncFromUtc",
                "settings[5].dataType",
            ]
        );
        assert!(message.contains("not both"), "{message}");
    }

    #[test]
    fn defaults_cover_every_type_in_a_sensible_order() {
        let eff = EffectiveSyncSettings::default();
        assert_eq!(eff.all().len(), DataType::ALL.len());
        assert!(eff.get(DataType::Invoices).fetch_on_first_link);
        assert!(!eff.get(DataType::BalanceSheet).fetch_on_first_link);
        assert_eq!(eff.get(DataType::Bills).sync_schedule, 24);
        let order = eff.fetch_on_first_link(&[
            DataType::Invoices,
            DataType::TaxRates,
            DataType::Company,
            DataType::BalanceSheet,
            DataType::ChartOfAccounts,
        ]);
        assert_eq!(
            order,
            [
                DataType::Company,
                DataType::ChartOfAccounts,
                DataType::TaxRates,
                DataType::Invoices
            ]
        );
    }

    #[test]
    fn company_over_client_over_defaults() {
        let at = Timestamp::from_millis(0);
        let set = |dt, fofl: bool, order: i32, locked: bool| SyncSetting {
            fetch_on_first_link: fofl,
            sync_order: order,
            is_locked: locked,
            ..default_setting(dt)
        };
        let client = SyncSettings {
            overrides_defaults: true,
            settings: vec![
                set(DataType::Invoices, false, 0, false),
                set(DataType::Bills, true, 99, true),
            ],
            updated: at,
        };
        let company = SyncSettings {
            overrides_defaults: true,
            settings: vec![
                set(DataType::Invoices, true, 5, false),
                set(DataType::Bills, false, 0, false),
            ],
            updated: at,
        };
        let c = EffectiveSyncSettings::resolve(Some(&client), None);
        assert!(!c.get(DataType::Invoices).fetch_on_first_link);
        let both = EffectiveSyncSettings::resolve(Some(&client), Some(&company));
        assert!(both.get(DataType::Invoices).fetch_on_first_link);
        assert_eq!(both.get(DataType::Invoices).sync_order, 5);
        // Locked at the client: the company's does not apply.
        assert!(both.get(DataType::Bills).fetch_on_first_link);
        assert_eq!(both.get(DataType::Bills).sync_order, 99);
        // A level that does not override the defaults does not apply.
        let off = SyncSettings {
            overrides_defaults: false,
            ..company.clone()
        };
        assert_eq!(EffectiveSyncSettings::resolve(Some(&client), Some(&off)), c);
    }

    #[test]
    fn due_times_are_deterministic_and_spread_within_the_jitter() {
        let a = Timestamp::from_millis(1_700_000_000_000);
        let d = schedule_due(a, 1, "conn-1", DataType::Invoices);
        assert_eq!(d, schedule_due(a, 1, "conn-1", DataType::Invoices));
        assert!(d >= a.plus_seconds(3600) && d <= a.plus_seconds(3600 + 180));
        let spread: BTreeSet<i64> = (0..50)
            .map(|i| schedule_due(a, 24, &format!("conn-{i}"), DataType::Invoices).as_millis())
            .collect();
        assert!(spread.len() > 40);
        assert!(
            spread
                .iter()
                .all(|t| *t >= a.plus_seconds(86_400).as_millis()
                    && *t <= a.plus_seconds(86_400 + 600).as_millis())
        );
    }

    #[test]
    fn windows_count_calendar_months() {
        let t = Timestamp::parse("2024-03-31T10:00:00Z").unwrap();
        assert_eq!(
            months_before(t, 1),
            Timestamp::parse("2024-02-29T10:00:00Z").unwrap()
        );
        let s = SyncSetting {
            sync_from_window: Some(12),
            ..default_setting(DataType::Invoices)
        };
        assert_eq!(s.sync_from(t), Timestamp::parse("2023-03-31T10:00:00Z"));
    }
}
