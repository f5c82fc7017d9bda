//! Values shared by several of Codat's models: addresses, phone numbers, web links, and the
//! references from one record to another (`accountRef`, `taxRateRef`, `customerRef` ...).

use serde::{Deserialize, Serialize};

use super::codat_enum;

codat_enum! {
    /// `AccountingAddressType`.
    AccountingAddressType {
        Unknown = "Unknown",
        Billing = "Billing",
        Delivery = "Delivery",
    }
}

codat_enum! {
    /// `PhoneNumberType`.
    PhoneNumberType {
        Primary = "Primary",
        Landline = "Landline",
        Mobile = "Mobile",
        Fax = "Fax",
        Unknown = "Unknown",
    }
}

codat_enum! {
    /// The `type` of a company's web link.
    WebLinkType {
        Website = "Website",
        Social = "Social",
        Unknown = "Unknown",
    }
}

/// An address in the Accounting API (`AccountingAddress`; `type` is required).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccountingAddress {
    #[serde(rename = "type")]
    pub address_type: AccountingAddressType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// A phone number (`type` is required).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PhoneNumber {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(rename = "type")]
    pub phone_type: PhoneNumberType,
}

/// A company's web link.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WebLink {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub link_type: Option<WebLinkType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `accountRef`: a chart-of-accounts account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct AccountRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `taxRateRef`: a tax rate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaxRateRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Percent (20 for 20%).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_tax_rate: Option<f64>,
}

/// `itemRef`: an item (product or service) of the `items` data type.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ItemRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `customerRef` in the Accounting API (`AccountingCustomerRef`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
}

/// `supplierRef`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SupplierRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_name: Option<String>,
}
