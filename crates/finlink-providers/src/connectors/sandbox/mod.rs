//! The built-in sandboxes' connectors: the first complete ones.
//!
//! - [`SandboxAccounting`] (`mqjo`, source type Accounting): company info, chart of accounts,
//!   tax rates, customers, suppliers, invoices, bills, payments, credit notes, journal entries
//!   (manual journals), bank accounts and bank transactions, from the sandbox's Xero-like API
//!   at the catalog's `api_base_url` (`/sandbox/api`), with the grant's access token and the
//!   connection's `tenantId` setting as `X-Tenant-Id`.
//! - [`SandboxBanking`] (`mqjo` too, source type Banking): the same bank accounts and
//!   transactions mapped to the Banking API's `banking-accounts` and `banking-transactions`.
//! - [`SandboxCommerce`] (`aiwb`, source type Commerce): the Commerce Sandbox's shop,
//!   customers, orders, products and payments (Shopify/Stripe-like) at `/sandbox/commerce/api`,
//!   with the store's API key (`X-Api-Key`) as the credential.
//!
//! The shapes they read are in `docs/sandbox-data.md`; this module knows them the way a real
//! connector knows its platform's API, without depending on the sandbox crate.

mod accounting;
mod commerce;

pub use accounting::{SandboxAccounting, SandboxBanking};
pub use commerce::SandboxCommerce;

use finlink_domain::Timestamp;
use finlink_domain::data::{codat_date_str, codat_instant};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::PullError;

/// The accounting sandbox's catalog key.
pub const ACCOUNTING_KEY: &str = "mqjo";
/// The Commerce Sandbox's catalog key.
pub const COMMERCE_KEY: &str = "aiwb";
/// The connection setting naming the sandbox organisation (sent as `X-Tenant-Id`).
pub const TENANT_SETTING: &str = "tenantId";
/// The sandbox's largest page (`pageSize`, `limit`).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// `base` + `path` (`base` without its trailing slash).
fn endpoint(base: &str, path: &str) -> Result<url::Url, PullError> {
    url::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| PullError::Config(format!("bad platform URL {base}{path}: {e}")))
}

/// A body that is not the JSON the platform promised.
fn malformed(what: &str, e: impl std::fmt::Display) -> PullError {
    PullError::Platform {
        status: Some(200),
        message: format!("the platform's {what} is not the expected JSON: {e}"),
        transient: false,
    }
}

/// Amounts: computed in minor units so sums print as the decimals they are.
mod money {
    /// Minor units of a JSON amount with at most two decimals.
    pub fn cents(x: f64) -> i64 {
        (x * 100.0).round() as i64
    }

    /// A JSON number of minor units.
    pub fn amount(cents: i64) -> f64 {
        cents as f64 / 100.0
    }

    /// `x` rounded to two decimals.
    pub fn round2(x: f64) -> f64 {
        amount(cents(x))
    }

    /// A decimal string (`"17.99"`, `"-3.5"`, `"12"`) in minor units; `None` for more than two
    /// decimals or anything else.
    pub fn parse_cents(s: &str) -> Option<i64> {
        let s = s.trim();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty()
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        let v = whole.checked_mul(100)?.checked_add(frac)?;
        Some(if neg { -v } else { v })
    }

    /// Digits after the point of a currency's minor unit (ISO 4217; Stripe's zero-decimal
    /// currencies and the three-decimal dinars).
    pub fn exponent(currency: &str) -> u32 {
        match currency.to_ascii_uppercase().as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "MGA" | "PYG"
            | "RWF" | "UGX" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// An amount in a currency's minor units, in major units.
    pub fn from_minor(minor: i64, currency: &str) -> f64 {
        minor as f64 / 10f64.powi(exponent(currency) as i32)
    }
}

/// Codat's currency rate (base currency per unit of the document's currency) from the
/// platform's (document currency per unit of base currency, Xero's convention), to 9 decimals.
fn codat_rate(platform_rate: Option<f64>) -> Option<f64> {
    let r = platform_rate.filter(|r| r.is_finite() && *r > 0.0)?;
    if r == 1.0 {
        return Some(1.0);
    }
    Some(((1.0 / r) * 1e9).round() / 1e9)
}

fn instant(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(Timestamp::parse)
}

fn instant_str(s: Option<&str>) -> Option<String> {
    instant(s).map(codat_instant)
}

fn date_str(s: Option<&str>) -> Option<String> {
    s.and_then(codat_date_str)
}

/// An id sent as a JSON string or number.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// An amount sent as a decimal string or a JSON number, in minor units.
fn cents<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => money::parse_cents(&s),
        Some(Value::Number(n)) => n.as_f64().map(money::cents),
        _ => None,
    })
}

/// `a b`, either may be missing.
fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact() {
        assert_eq!(money::parse_cents("17.99"), Some(1799));
        assert_eq!(money::parse_cents("-3.5"), Some(-350));
        assert_eq!(money::parse_cents("12"), Some(1200));
        assert_eq!(money::parse_cents(".5"), Some(50));
        assert_eq!(money::parse_cents("1.234"), None);
        assert_eq!(money::parse_cents("abc"), None);
        assert_eq!(money::parse_cents(""), None);
        assert_eq!(money::round2(0.1 + 0.2), 0.3);
        assert_eq!(money::amount(1799).to_string(), "17.99");
        assert_eq!(money::from_minor(14034, "gbp"), 140.34);
        assert_eq!(money::from_minor(500, "JPY"), 500.0);
    }

    #[test]
    fn currency_rates_turn_around() {
        assert_eq!(codat_rate(Some(1.0)), Some(1.0));
        assert_eq!(codat_rate(Some(0.8)), Some(1.25));
        assert_eq!(codat_rate(Some(0.913008)), Some(1.095280655));
        assert_eq!(codat_rate(Some(0.0)), None);
        assert_eq!(codat_rate(None), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            full_name(Some("Ada"), Some("Lovelace")).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            full_name(None, Some("Lovelace")).as_deref(),
            Some("Lovelace")
        );
        assert_eq!(full_name(Some(" "), None), None);
    }
}
