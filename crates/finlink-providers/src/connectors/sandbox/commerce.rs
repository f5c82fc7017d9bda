//! The Commerce Sandbox (Shopify/Stripe-like, snake_case) to Codat's Commerce models.
//!
//! - Prices are decimal strings, payment amounts minor units (per the currency's exponent),
//!   instants RFC 3339 (`+00:00`) or Unix seconds: all become Codat numbers and instants.
//! - Orders: a line's `totalAmount` is `quantity * price - discount + tax` and its tax rate a
//!   percentage; shipping lines are `Shipping` service charges; `totalAmount` is the order's
//!   total net of refunds (Codat: "including discounts, refunds, and tax") and `totalRefund` the
//!   refunded amount as a negative number.
//! - Payments: `succeeded` and captured is `Paid`, `succeeded` uncaptured `Authorized`.
//! - Products: one Codat product per shop product, its variants with their price in the shop's
//!   currency (fetched from the shop first), stock and tax flag; `active` variants are
//!   `Published`, `draft` and `archived` ones `Unpublished`.

use async_trait::async_trait;
use finlink_domain::Timestamp;
use finlink_domain::connection::SourceType;
use finlink_domain::data::commerce::{
    CommerceAddress, CommerceAddressType, CommerceCompanyInfo, CommerceCustomer,
    CommerceCustomerRef, CommerceOrder, CommercePayment, CommercePaymentStatus, CommerceProduct,
    OrderDiscountAllocation, OrderLineItem, PaymentMethodRef, ProductInventory, ProductPrice,
    ProductRef, ProductVariant, ProductVariantRef, ProductVariantStatus, ServiceCharge,
    ServiceChargeType, TaxComponentAllocation, TaxComponentRef,
};
use finlink_domain::data::common::{PhoneNumber, PhoneNumberType, WebLink, WebLinkType};
use finlink_domain::data::{DataType, Record, codat_instant};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::super::http::{
    AuthScheme, MapFailure, Mapped, PageApi, PageQuery, PageRequest, Pager, RawPage,
};
use super::super::{ConnectionContext, PullError};
use super::{
    COMMERCE_KEY, MAX_PAGE_SIZE, cents, endpoint, full_name, id_string, instant, instant_str,
    malformed, money,
};

const COMMERCE_TYPES: [DataType; 5] = [
    DataType::CommerceCompanyInfo,
    DataType::CommerceCustomers,
    DataType::CommerceOrders,
    DataType::CommerceProducts,
    DataType::CommercePayments,
];

/// The list path (under the API base) and the JSON key of its records.
fn endpoint_of(t: DataType) -> Option<(&'static str, &'static str)> {
    Some(match t {
        DataType::CommerceCompanyInfo => ("/shop", "shop"),
        DataType::CommerceCustomers => ("/customers", "customers"),
        DataType::CommerceOrders => ("/orders", "orders"),
        DataType::CommerceProducts => ("/products", "products"),
        DataType::CommercePayments => ("/payments", "payments"),
        _ => return None,
    })
}

fn not_supported(t: DataType) -> PullError {
    PullError::NotSupported {
        integration: COMMERCE_KEY.to_owned(),
        data_type: t,
    }
}

// ---------------------------------------------------------------------------------------------
// The shop's shapes (only what is mapped)

#[derive(Deserialize)]
struct RawShop {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    name: Option<String>,
    domain: Option<String>,
    currency: Option<String>,
    country_name: Option<String>,
    province: Option<String>,
    city: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    zip: Option<String>,
    phone: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct RawAddress {
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province: Option<String>,
    zip: Option<String>,
    country: Option<String>,
}

#[derive(Deserialize)]
struct RawCustomer {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    currency: Option<String>,
    note: Option<String>,
    #[serde(default)]
    addresses: Vec<RawAddress>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct RawVariant {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    title: Option<String>,
    sku: Option<String>,
    barcode: Option<String>,
    #[serde(default, deserialize_with = "cents")]
    price: Option<i64>,
    inventory_quantity: Option<f64>,
    taxable: Option<bool>,
    requires_shipping: Option<bool>,
}

#[derive(Deserialize)]
struct RawProduct {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    title: Option<String>,
    body_html: Option<String>,
    product_type: Option<String>,
    status: Option<String>,
    #[serde(default)]
    variants: Vec<RawVariant>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct RawTaxLine {
    title: Option<String>,
    rate: Option<f64>,
    #[serde(default, deserialize_with = "cents")]
    price: Option<i64>,
}

#[derive(Deserialize)]
struct RawOrderLine {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    product_id: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    variant_id: Option<String>,
    sku: Option<String>,
    title: Option<String>,
    quantity: Option<f64>,
    #[serde(default, deserialize_with = "cents")]
    price: Option<i64>,
    #[serde(default, deserialize_with = "cents")]
    total_discount: Option<i64>,
    #[serde(default)]
    tax_lines: Vec<RawTaxLine>,
}

#[derive(Deserialize)]
struct RawOrderCustomer {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct RawShippingLine {
    title: Option<String>,
    #[serde(default, deserialize_with = "cents")]
    price: Option<i64>,
    #[serde(default)]
    tax_lines: Vec<RawTaxLine>,
}

#[derive(Deserialize)]
struct RawOrder {
    #[serde(default, deserialize_with = "id_string")]
    id: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    order_number: Option<String>,
    currency: Option<String>,
    financial_status: Option<String>,
    customer: Option<RawOrderCustomer>,
    #[serde(default)]
    line_items: Vec<RawOrderLine>,
    #[serde(default)]
    shipping_lines: Vec<RawShippingLine>,
    #[serde(default, deserialize_with = "cents")]
    total_discounts: Option<i64>,
    #[serde(default, deserialize_with = "cents")]
    total_tax: Option<i64>,
    #[serde(default, deserialize_with = "cents")]
    total_price: Option<i64>,
    cancelled_at: Option<String>,
    closed_at: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct RawCard {
    brand: Option<String>,
}

#[derive(Deserialize)]
struct RawPaymentMethod {
    #[serde(rename = "type")]
    kind: Option<String>,
    card: Option<RawCard>,
}

#[derive(Deserialize)]
struct RawPayment {
    id: Option<String>,
    amount: Option<i64>,
    currency: Option<String>,
    status: Option<String>,
    captured: Option<bool>,
    payment_method: Option<RawPaymentMethod>,
    created: Option<i64>,
    updated: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Mapping

fn shape<T: DeserializeOwned>(raw: &Value) -> Result<T, MapFailure> {
    T::deserialize(raw).map_err(|e| {
        let id = raw.get("id").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        MapFailure::new(id.as_deref(), format!("unexpected record shape: {e}"))
    })
}

fn required_id(id: Option<String>) -> Result<String, MapFailure> {
    id.ok_or_else(|| MapFailure::new(None, "the record has no id"))
}

fn mapped(
    source_id: String,
    source_modified: Option<Timestamp>,
    record: impl Into<Record>,
) -> Result<Mapped, MapFailure> {
    Ok(Mapped {
        source_id,
        source_modified,
        record: record.into(),
    })
}

fn unix(secs: Option<i64>) -> Option<Timestamp> {
    secs.map(|s| Timestamp::from_millis(s.saturating_mul(1000)))
}

fn cents_opt(c: Option<i64>) -> Option<f64> {
    c.map(money::amount)
}

fn company_info(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let s: RawShop = shape(raw)?;
    let id = required_id(s.id.clone())?;
    let info = CommerceCompanyInfo {
        company_name: s.name.clone(),
        company_legal_name: None,
        commerce_platform_ref: Some(id.clone()),
        base_currency: s.currency.clone(),
        addresses: s.address1.is_some().then(|| {
            vec![CommerceAddress {
                address_type: Some(CommerceAddressType::Billing),
                line1: s.address1.clone(),
                line2: s.address2.clone(),
                city: s.city.clone(),
                region: s.province.clone(),
                country: s.country_name.clone(),
                postal_code: s.zip.clone(),
            }]
        }),
        phone_numbers: s.phone.clone().map(|number| {
            vec![PhoneNumber {
                number: Some(number),
                phone_type: PhoneNumberType::Primary,
            }]
        }),
        web_links: s.domain.as_ref().map(|d| {
            vec![WebLink {
                link_type: Some(WebLinkType::Website),
                url: Some(format!("https://{d}")),
            }]
        }),
        registration_number: None,
        source_urls: None,
        created_date: instant_str(s.created_at.as_deref()),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(s.updated_at.as_deref()),
    };
    mapped(id, instant(s.updated_at.as_deref()), info)
}

fn address(a: &RawAddress) -> CommerceAddress {
    CommerceAddress {
        address_type: Some(CommerceAddressType::Billing),
        line1: a.address1.clone(),
        line2: a.address2.clone(),
        city: a.city.clone(),
        region: a.province.clone(),
        country: a.country.clone(),
        postal_code: a.zip.clone(),
    }
}

fn customer(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let c: RawCustomer = shape(raw)?;
    let id = required_id(c.id.clone())?;
    let record = CommerceCustomer {
        id: id.clone(),
        customer_name: full_name(c.first_name.as_deref(), c.last_name.as_deref())
            .or_else(|| c.email.clone()),
        email_address: c.email.clone(),
        phone: c.phone.clone(),
        default_currency: c.currency.clone(),
        addresses: (!c.addresses.is_empty()).then(|| c.addresses.iter().map(address).collect()),
        note: c.note.clone().filter(|n| !n.is_empty()),
        created_date: instant_str(c.created_at.as_deref()),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(c.updated_at.as_deref()),
    };
    mapped(id, instant(c.updated_at.as_deref()), record)
}

fn taxes(lines: &[RawTaxLine]) -> (Vec<TaxComponentAllocation>, i64, f64) {
    let mut total = 0;
    let mut pct = 0.0;
    let allocations = lines
        .iter()
        .map(|t| {
            total += t.price.unwrap_or(0);
            let rate = t.rate.map(|r| (r * 100.0 * 10_000.0).round() / 10_000.0);
            pct += rate.unwrap_or(0.0);
            TaxComponentAllocation {
                rate,
                tax_component_ref: t.title.clone().map(|title| TaxComponentRef {
                    id: title.clone(),
                    name: title,
                }),
            }
        })
        .collect();
    (allocations, total, pct)
}

fn order(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let o: RawOrder = shape(raw)?;
    let id = required_id(o.id.clone())?;
    let mut lines = Vec::with_capacity(o.line_items.len());
    for l in &o.line_items {
        let line_id =
            l.id.clone()
                .ok_or_else(|| MapFailure::new(Some(&id), "an order line has no id"))?;
        let quantity = l.quantity.unwrap_or(1.0);
        let price = l.price.unwrap_or(0);
        let discount = l.total_discount.unwrap_or(0);
        let (allocations, tax, pct) = taxes(&l.tax_lines);
        let net = money::cents(quantity * money::amount(price)) - discount;
        lines.push(OrderLineItem {
            id: line_id,
            product_ref: l.product_id.clone().map(|p| ProductRef {
                id: p,
                name: l.title.clone(),
            }),
            product_variant_ref: l.variant_id.clone().map(|v| ProductVariantRef {
                id: v,
                name: l.sku.clone().or_else(|| l.title.clone()),
            }),
            quantity: Some(quantity),
            unit_price: Some(money::amount(price)),
            tax_percentage: Some(pct),
            total_tax_amount: Some(money::amount(tax)),
            total_amount: Some(money::amount(net + tax)),
            discount_allocations: (discount != 0).then(|| {
                vec![OrderDiscountAllocation {
                    name: Some(String::from("Discount")),
                    total_amount: Some(money::amount(discount)),
                }]
            }),
            taxes: (!allocations.is_empty()).then_some(allocations),
        });
    }
    let charges: Vec<ServiceCharge> = o
        .shipping_lines
        .iter()
        .map(|s| {
            let (_, tax, pct) = taxes(&s.tax_lines);
            ServiceCharge {
                description: s.title.clone(),
                quantity: Some(1),
                tax_amount: Some(money::amount(tax)),
                tax_percentage: Some(pct),
                total_amount: Some(money::amount(s.price.unwrap_or(0) + tax)),
                charge_type: Some(ServiceChargeType::Shipping),
            }
        })
        .collect();
    let total = o.total_price.unwrap_or(0);
    let refund = if o.financial_status.as_deref() == Some("refunded") {
        total
    } else {
        0
    };
    let record = CommerceOrder {
        id: id.clone(),
        order_number: o.name.clone().or_else(|| o.order_number.clone()),
        country: None,
        currency: o.currency.clone(),
        customer_ref: o.customer.as_ref().and_then(|c| {
            Some(CommerceCustomerRef {
                id: c.id.clone()?,
                name: full_name(c.first_name.as_deref(), c.last_name.as_deref())
                    .or_else(|| c.email.clone()),
            })
        }),
        created_date: instant_str(o.created_at.as_deref()),
        closed_date: instant_str(o.closed_at.as_deref().or(o.cancelled_at.as_deref())),
        order_line_items: Some(lines),
        service_charges: (!charges.is_empty()).then_some(charges),
        total_amount: Some(money::amount(total - refund)),
        total_discount: cents_opt(o.total_discounts),
        total_gratuity: Some(0.0),
        total_refund: Some(money::amount(-refund)),
        total_tax_amount: cents_opt(o.total_tax),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(o.updated_at.as_deref()),
    };
    mapped(id, instant(o.updated_at.as_deref()), record)
}

fn product(raw: &Value, refs: &CommerceRefs, at: &str) -> Result<Mapped, MapFailure> {
    let p: RawProduct = shape(raw)?;
    let id = required_id(p.id.clone())?;
    let status = match p.status.as_deref() {
        Some("active") => ProductVariantStatus::Published,
        Some("draft" | "archived") => ProductVariantStatus::Unpublished,
        _ => ProductVariantStatus::Unknown,
    };
    let mut variants = Vec::with_capacity(p.variants.len());
    for v in &p.variants {
        let variant_id =
            v.id.clone()
                .ok_or_else(|| MapFailure::new(Some(&id), "a variant has no id"))?;
        let name = match (p.title.as_deref(), v.title.as_deref()) {
            (Some(t), Some("Default Title") | None) => Some(t.to_owned()),
            (Some(t), Some(vt)) => Some(format!("{t} - {vt}")),
            (None, vt) => vt.map(str::to_owned),
        };
        variants.push(ProductVariant {
            id: variant_id,
            name,
            sku: v.sku.clone(),
            barcode: v.barcode.clone(),
            prices: v.price.map(|price| {
                vec![ProductPrice {
                    currency: refs.currency.clone(),
                    unit_price: Some(money::amount(price)),
                }]
            }),
            inventory: v.inventory_quantity.map(|q| ProductInventory {
                total_quantity: Some(q),
            }),
            is_tax_enabled: v.taxable,
            vat_percentage: None,
            shipping_required: v.requires_shipping,
            unit_of_measure: None,
            status: Some(status),
            created_date: instant_str(p.created_at.as_deref()),
            modified_date: Some(at.to_owned()),
            source_modified_date: instant_str(p.updated_at.as_deref()),
        });
    }
    let record = CommerceProduct {
        id: id.clone(),
        name: p.title.clone(),
        description: p.body_html.clone().filter(|d| !d.is_empty()),
        categorization: p.product_type.clone().filter(|c| !c.is_empty()),
        is_gift_card: Some(
            p.product_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("gift card")),
        ),
        variants: Some(variants),
        modified_date: Some(at.to_owned()),
        source_modified_date: instant_str(p.updated_at.as_deref()),
    };
    mapped(id, instant(p.updated_at.as_deref()), record)
}

fn payment(raw: &Value, at: &str) -> Result<Mapped, MapFailure> {
    let p: RawPayment = shape(raw)?;
    let id = required_id(p.id.clone())?;
    let currency = p.currency.as_deref().map(str::to_ascii_uppercase);
    let status = match (p.status.as_deref(), p.captured) {
        (Some("succeeded"), Some(false)) => CommercePaymentStatus::Authorized,
        (Some("succeeded"), _) => CommercePaymentStatus::Paid,
        (Some("pending" | "processing"), _) => CommercePaymentStatus::Pending,
        (Some("requires_capture"), _) => CommercePaymentStatus::Authorized,
        (Some("failed"), _) => CommercePaymentStatus::Failed,
        (Some("canceled" | "cancelled"), _) => CommercePaymentStatus::Cancelled,
        _ => CommercePaymentStatus::Unknown,
    };
    let method = p.payment_method.as_ref();
    let record = CommercePayment {
        id: id.clone(),
        amount: match (p.amount, currency.as_deref()) {
            (Some(a), Some(c)) => Some(money::from_minor(a, c)),
            (Some(_), None) => {
                return Err(MapFailure::new(
                    Some(&id),
                    "a payment amount without a currency",
                ));
            }
            (None, _) => None,
        },
        currency,
        status: Some(status),
        payment_method_ref: method.and_then(|m| {
            Some(PaymentMethodRef {
                id: m.kind.clone()?,
                name: m.card.as_ref().and_then(|c| c.brand.clone()),
            })
        }),
        payment_provider: None,
        due_date: None,
        created_date: unix(p.created).map(codat_instant),
        modified_date: Some(at.to_owned()),
        source_modified_date: unix(p.updated).map(codat_instant),
    };
    mapped(id, unix(p.updated), record)
}

// ---------------------------------------------------------------------------------------------
// The API

/// What commerce mapping needs from the shop.
#[derive(Debug, Default)]
pub struct CommerceRefs {
    /// The shop's currency (product prices carry none).
    currency: Option<String>,
}

/// The Commerce Sandbox's data for Codat's Commerce API. The credential is the store's API
/// key (a [`super::super::StaticToken`]).
#[derive(Clone, Debug)]
pub struct SandboxCommerce {
    base: String,
}

impl SandboxCommerce {
    /// `api_base`: the absolute API base, e.g. `http://127.0.0.1:8080/sandbox/commerce/api`.
    pub fn new(api_base: impl Into<String>) -> Self {
        Self {
            base: api_base.into(),
        }
    }
}

#[async_trait]
impl PageApi for SandboxCommerce {
    type Refs = CommerceRefs;

    fn integration_key(&self) -> &str {
        COMMERCE_KEY
    }

    fn source_type(&self) -> SourceType {
        SourceType::Commerce
    }

    fn data_types(&self) -> &[DataType] {
        &COMMERCE_TYPES
    }

    fn auth(&self) -> AuthScheme {
        AuthScheme::Header("x-api-key")
    }

    fn default_page_size(&self) -> u32 {
        MAX_PAGE_SIZE
    }

    fn page_request(
        &self,
        _connection: &ConnectionContext,
        query: &PageQuery,
    ) -> Result<PageRequest, PullError> {
        let (path, _) =
            endpoint_of(query.data_type).ok_or_else(|| not_supported(query.data_type))?;
        let mut url = endpoint(&self.base, path)?;
        if !query.data_type.is_single() {
            let mut q = url.query_pairs_mut();
            q.append_pair("page", &query.page.to_string());
            q.append_pair("limit", &query.page_size.min(MAX_PAGE_SIZE).to_string());
            if let Some(since) = query.modified_since {
                q.append_pair("updated_at_min", &since.to_rfc3339());
            }
        }
        Ok(PageRequest {
            url,
            headers: Vec::new(),
        })
    }

    fn parse_page(&self, query: &PageQuery, body: &[u8]) -> Result<RawPage, PullError> {
        let (_, key) =
            endpoint_of(query.data_type).ok_or_else(|| not_supported(query.data_type))?;
        let mut obj: serde_json::Map<String, Value> =
            serde_json::from_slice(body).map_err(|e| malformed("page", e))?;
        if query.data_type.is_single() {
            let records = match obj.remove(key) {
                Some(Value::Object(o)) => vec![Value::Object(o)],
                _ => return Err(malformed("page", format!("no \"{key}\" object"))),
            };
            return Ok(RawPage {
                records,
                has_more: false,
                total_records: Some(1),
                total_pages: Some(1),
            });
        }
        let records = match obj.remove(key) {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(malformed("page", format!("\"{key}\" is not a list"))),
        };
        let total = obj.get("total_count").and_then(Value::as_u64);
        let has_more = match obj.get("has_more").and_then(Value::as_bool) {
            Some(more) => more,
            None => records.len() as u64 >= u64::from(query.page_size),
        };
        Ok(RawPage {
            records,
            has_more,
            total_records: total,
            total_pages: total.map(|t| {
                u32::try_from(t.div_ceil(u64::from(query.page_size.max(1)))).unwrap_or(u32::MAX)
            }),
        })
    }

    async fn references(
        &self,
        pager: &Pager,
        connection: &ConnectionContext,
        data_type: DataType,
    ) -> Result<CommerceRefs, PullError> {
        if data_type != DataType::CommerceProducts {
            return Ok(CommerceRefs::default());
        }
        let shop = pager
            .fetch_all(self, connection, DataType::CommerceCompanyInfo)
            .await?;
        Ok(CommerceRefs {
            currency: shop
                .first()
                .and_then(|s| s.get("currency"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    fn map(
        &self,
        data_type: DataType,
        raw: &Value,
        refs: &CommerceRefs,
        fetched_at: Timestamp,
    ) -> Result<Mapped, MapFailure> {
        let at = codat_instant(fetched_at);
        match data_type {
            DataType::CommerceCompanyInfo => company_info(raw, &at),
            DataType::CommerceCustomers => customer(raw, &at),
            DataType::CommerceOrders => order(raw, &at),
            DataType::CommerceProducts => product(raw, refs, &at),
            DataType::CommercePayments => payment(raw, &at),
            other => Err(MapFailure::new(
                None,
                format!("{other} is not a commerce type"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_add_up() {
        let raw = json!({
            "id": 5875000000001u64, "name": "#1002", "order_number": 1002, "currency": "GBP",
            "financial_status": "refunded",
            "customer": {"id": 7433000000040u64, "first_name": "Isaac", "last_name": "Kelly"},
            "line_items": [{
                "id": 58750000000011u64, "product_id": 1798000000031u64,
                "variant_id": 17980000000311u64, "sku": "SKU-000032", "title": "Bottle",
                "quantity": 2, "price": "17.99", "total_discount": "3.60",
                "tax_lines": [{"title": "VAT", "rate": 0.2, "price": "6.48"}]
            }],
            "shipping_lines": [{"title": "Courier", "price": "4.99"}],
            "total_discounts": "3.60", "total_tax": "6.48", "total_price": "43.85",
            "created_at": "2023-07-03T02:37:50+00:00", "updated_at": "2023-07-03T03:48:00+00:00"
        });
        let m = order(&raw, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(m.source_id, "5875000000001");
        let Record::CommerceOrder(o) = m.record else {
            panic!("not an order")
        };
        let l = &o.order_line_items.as_ref().unwrap()[0];
        assert_eq!(l.total_amount, Some(38.86)); // 2 * 17.99 - 3.60 + 6.48
        assert_eq!(l.tax_percentage, Some(20.0));
        assert_eq!(l.unit_price, Some(17.99));
        assert_eq!(o.total_refund, Some(-43.85));
        assert_eq!(o.total_amount, Some(0.0));
        assert_eq!(o.customer_ref.unwrap().name.as_deref(), Some("Isaac Kelly"));
        assert_eq!(
            o.source_modified_date.as_deref(),
            Some("2023-07-03T03:48:00Z")
        );
    }

    #[test]
    fn payments_in_major_units() {
        let raw = json!({"id": "py_1", "amount": 14034, "currency": "gbp", "status": "succeeded",
            "captured": true, "payment_method": {"type": "card", "card": {"brand": "visa"}},
            "created": 1688351870, "updated": 1688355000});
        let Record::CommercePayment(p) = payment(&raw, "t").unwrap().record else {
            panic!("not a payment")
        };
        assert_eq!(p.amount, Some(140.34));
        assert_eq!(p.currency.as_deref(), Some("GBP"));
        assert_eq!(p.status, Some(CommercePaymentStatus::Paid));
        assert_eq!(p.created_date.as_deref(), Some("2023-07-03T02:37:50Z"));
        let no_currency = json!({"id": "py_2", "amount": 100});
        assert!(payment(&no_currency, "t").is_err());
    }
}
