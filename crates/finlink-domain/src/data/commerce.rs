//! Codat's Commerce API models (`commerce-companyInfo`, `commerce-customers`, `commerce-orders`,
//! `commerce-products`, `commerce-payments`), from `codat-commerce` (PyPI): `CompanyInfo`,
//! `Customer`, `Order`, `Product`, `Payment`. All are read per connection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::codat_enum;
use super::common::{PhoneNumber, WebLink};

codat_enum! {
    /// `CommerceAddressType`.
    CommerceAddressType {
        Billing = "Billing",
        Delivery = "Delivery",
        Order = "Order",
        Inventory = "Inventory",
        Unknown = "Unknown",
    }
}

/// An address in the Commerce API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommerceAddress {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub address_type: Option<CommerceAddressType>,
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

/// The shop (`commerce-companyInfo`, `GET .../data/commerce-info`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CommerceCompanyInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_legal_name: Option<String>,
    /// The shop's id in the platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commerce_platform_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<CommerceAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_links: Option<Vec<WebLink>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_urls: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// A shop customer (`commerce-customers`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommerceCustomer {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<CommerceAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// `customerRef` of an order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CommerceCustomerRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `productRef` of an order line.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ProductRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `productVariantRef` of an order line.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ProductVariantRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A discount on an order line.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrderDiscountAllocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
}

/// `taxComponentRef`: both fields are required.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaxComponentRef {
    pub id: String,
    pub name: String,
}

/// A tax applied to an order line or a service charge.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaxComponentAllocation {
    /// Percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_component_ref: Option<TaxComponentRef>,
}

/// A line of an order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineItem {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_ref: Option<ProductRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_variant_ref: Option<ProductVariantRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    /// Excluding discounts and tax.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<f64>,
    /// Percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_percentage: Option<f64>,
    /// After discounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tax_amount: Option<f64>,
    /// Including discounts and tax.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_allocations: Option<Vec<OrderDiscountAllocation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxes: Option<Vec<TaxComponentAllocation>>,
}

codat_enum! {
    /// `ServiceChargeType`.
    ServiceChargeType {
        Generic = "Generic",
        Shipping = "Shipping",
        Overpayment = "Overpayment",
        Unknown = "Unknown",
    }
}

/// A service charge of an order (shipping ...).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCharge {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_percentage: Option<f64>,
    /// Including tax.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<ServiceChargeType>,
}

/// An order (`commerce-orders`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommerceOrder {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<CommerceCustomerRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_line_items: Option<Vec<OrderLineItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_charges: Option<Vec<ServiceCharge>>,
    /// Including discounts, refunds and tax, excluding gratuities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    /// Excluding tax.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_discount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_gratuity: Option<f64>,
    /// Always zero or negative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_refund: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tax_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `ProductVariantStatus`.
    ProductVariantStatus {
        Unknown = "Unknown",
        Published = "Published",
        Unpublished = "Unpublished",
    }
}

/// A price of a product variant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProductPrice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<f64>,
}

/// Stock of a product variant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProductInventory {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_quantity: Option<f64>,
}

/// A variant of a product.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProductVariant {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<Vec<ProductPrice>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ProductInventory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_tax_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vat_percentage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_of_measure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductVariantStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

/// A product (`commerce-products`). Codat's model dates the variants; finlink also dates the
/// product (extra fields the SDK ignores) so that every stored record has both dates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommerceProduct {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Retail category, e.g. `Hardware`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categorization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_gift_card: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<ProductVariant>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}

codat_enum! {
    /// `PaymentStatus` of a commerce payment.
    CommercePaymentStatus {
        Pending = "Pending",
        Authorized = "Authorized",
        Paid = "Paid",
        Failed = "Failed",
        Cancelled = "Cancelled",
        Unknown = "Unknown",
    }
}

/// `paymentMethodRef` of a commerce payment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PaymentMethodRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A payment (`commerce-payments`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommercePayment {
    pub id: String,
    /// Including gratuity, in major units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CommercePaymentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_ref: Option<PaymentMethodRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_modified_date: Option<String>,
}
