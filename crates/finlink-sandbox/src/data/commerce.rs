//! The Commerce Sandbox's records, in a shop platform's own shapes (snake_case, Shopify-like
//! orders with string prices and nested line items, Stripe-like payments in minor units with
//! Unix timestamps), generated per store.
//!
//! Invariants: an order line's `price` is its product's variant price; `subtotal_price` is the
//! sum of `quantity x price - total_discount` over the lines, `total_tax` the sum of their tax
//! lines, `total_price = subtotal_price + total_tax + shipping`; a paid or refunded order has
//! exactly one payment whose `amount` is the order's `total_price`; pending and voided orders
//! have none.

use std::fmt::Write as _;

use serde::Serialize;

use super::accounting::{phone_number, street};
use super::synth::{
    DAY_MS, Lines, MoneyStr, Rng, ShopTime, SmallStr, ZeroOrOne, mix, percent_of, permute,
    push_slug, small, unpermute,
};
use super::world::{self, COUNTRIES, Country};
use super::{DataProfile, DataType, timing};
use crate::commerce::STORE_CURRENCY;

/// Every store is in the UK and trades in [`STORE_CURRENCY`].
fn store_country() -> &'static Country {
    &COUNTRIES[0]
}

/// The VAT rate on taxable products, in basis points.
const VAT_BP: i64 = 2000;

/// A store's generation context.
pub(crate) struct Shop<'a> {
    pub seed: u64,
    pub store_id: &'a str,
    pub name: &'a str,
    pub profile: &'a DataProfile,
}

impl<'a> Shop<'a> {
    pub fn new(store_id: &'a str, name: &'a str, profile: &'a DataProfile) -> Self {
        Self {
            seed: super::synth::seed_of(store_id),
            store_id,
            name,
            profile,
        }
    }

    pub fn count(&self, t: DataType) -> u64 {
        self.profile.count_in(t, Some(store_country()))
    }

    fn id(&self, t: DataType, index: u64) -> u64 {
        int_id(self.seed, t, index)
    }
}

/// Integer ids (customers, orders, products): 13 digits, a per-store and per-type base plus
/// the index.
fn int_base(seed: u64, t: DataType) -> u64 {
    (1000 + mix(seed ^ t.tag().wrapping_mul(0x9FB2_1C65_1E98_DF25)) % 9000) * 1_000_000_000
}

pub(crate) fn int_id(seed: u64, t: DataType, index: u64) -> u64 {
    int_base(seed, t) + index
}

fn payment_key(seed: u64) -> u64 {
    mix(seed ^ 0x7061_796D_656E_7473)
}

/// A payment id: `py_` and 16 hex digits.
pub(crate) fn payment_id(seed: u64, index: u64) -> SmallStr<24> {
    small!(24, "py_{:016x}", permute(payment_key(seed), index))
}

/// The index an id of type `t` stands for, if it is one of this store's (the caller checks it
/// against the count).
pub(crate) fn index_of(seed: u64, t: DataType, id: &str) -> Option<u64> {
    if t == DataType::CommercePayments {
        let hex = id.strip_prefix("py_")?;
        if hex.len() != 16 {
            return None;
        }
        let v = u64::from_str_radix(hex, 16).ok()?;
        return Some(unpermute(payment_key(seed), v));
    }
    if id.starts_with('+') {
        return None;
    }
    let v: u64 = id.parse().ok()?;
    v.checked_sub(int_base(seed, t))
        .filter(|i| *i < 1_000_000_000)
}

fn rev_tags<const N: usize>(mut s: SmallStr<N>, version: u32) -> SmallStr<N> {
    if version > 0 {
        if !s.as_str().is_empty() {
            let _ = s.write_str(", ");
        }
        let _ = write!(s, "rev-{version}");
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Shop

#[derive(Serialize)]
pub(crate) struct ShopInfo<'a> {
    id: &'a str,
    name: &'a str,
    email: SmallStr<96>,
    domain: SmallStr<96>,
    currency: &'static str,
    country_code: &'static str,
    country_name: &'static str,
    province: &'static str,
    city: &'static str,
    address1: SmallStr<64>,
    zip: SmallStr<12>,
    phone: SmallStr<24>,
    timezone: &'static str,
    iana_timezone: &'static str,
    shop_owner: SmallStr<64>,
    plan_name: &'static str,
    taxes_included: bool,
    created_at: ShopTime,
    updated_at: ShopTime,
}

pub(crate) fn shop_info<'a>(shop: &Shop<'a>) -> ShopInfo<'a> {
    let mut rng = Rng::new(shop.seed, DataType::CommerceInfo.tag(), 0);
    let c = store_country();
    let mut slug = SmallStr::<48>::new();
    push_slug(&mut slug, shop.name);
    if slug.as_str().is_empty() {
        let _ = write!(slug, "store{}", shop.seed % 10_000);
    }
    let (address1, city, zip) = street(&mut rng, c);
    let created = timing::MASTER_START_MS - 60 * DAY_MS;
    ShopInfo {
        id: shop.store_id,
        name: shop.name,
        email: small!(96, "hello@{slug}.example.com"),
        domain: small!(96, "{slug}.shop.example.com"),
        currency: STORE_CURRENCY,
        country_code: c.code,
        country_name: c.name,
        province: city.region,
        city: city.name,
        address1,
        zip,
        phone: phone_number(&mut rng, c),
        timezone: "(GMT+00:00) Europe/London",
        iana_timezone: c.timezone,
        shop_owner: small!(
            64,
            "{} {}",
            rng.pick(world::FIRST_NAMES),
            rng.pick(world::LAST_NAMES)
        ),
        plan_name: rng.pick(&["basic", "shopify", "advanced"]),
        taxes_included: false,
        created_at: ShopTime(created),
        updated_at: ShopTime(created),
    }
}

// ---------------------------------------------------------------------------------------------
// Customers

pub(crate) struct CustomerCore {
    pub id: u64,
    pub first: &'static str,
    pub last: &'static str,
    pub email: SmallStr<112>,
    rng: Rng,
}

fn customer_core(shop: &Shop<'_>, index: u64) -> CustomerCore {
    let t = DataType::CommerceCustomers;
    let mut rng = Rng::new(shop.seed, t.tag(), index);
    let first = rng.pick(world::FIRST_NAMES);
    let last = rng.pick(world::LAST_NAMES);
    let mut email = SmallStr::<112>::new();
    push_slug(&mut email, first);
    let _ = email.write_char('.');
    push_slug(&mut email, last);
    let _ = write!(email, "{}@mail.example.com", index + 1);
    CustomerCore {
        id: shop.id(t, index),
        first,
        last,
        email,
        rng,
    }
}

#[derive(Serialize)]
pub(crate) struct ShopAddress {
    id: u64,
    customer_id: u64,
    first_name: &'static str,
    last_name: &'static str,
    address1: SmallStr<64>,
    city: &'static str,
    province: &'static str,
    zip: SmallStr<12>,
    country: &'static str,
    country_code: &'static str,
    default: bool,
}

#[derive(Serialize)]
pub(crate) struct ShopCustomer {
    id: u64,
    email: SmallStr<112>,
    first_name: &'static str,
    last_name: &'static str,
    phone: SmallStr<24>,
    state: &'static str,
    verified_email: bool,
    accepts_marketing: bool,
    currency: &'static str,
    tags: SmallStr<64>,
    addresses: [ShopAddress; 1],
    created_at: ShopTime,
    updated_at: ShopTime,
}

pub(crate) fn customer(shop: &Shop<'_>, index: u64, modified: i64, version: u32) -> ShopCustomer {
    let t = DataType::CommerceCustomers;
    let mut core = customer_core(shop, index);
    let rng = &mut core.rng;
    let c = store_country();
    let (address1, city, zip) = street(rng, c);
    let created = timing::instant(t, index, shop.count(t));
    ShopCustomer {
        id: core.id,
        email: core.email,
        first_name: core.first,
        last_name: core.last,
        phone: phone_number(rng, c),
        state: if rng.chance(5) { "disabled" } else { "enabled" },
        verified_email: rng.chance(90),
        accepts_marketing: rng.chance(40),
        currency: STORE_CURRENCY,
        tags: rev_tags(
            small!(
                64,
                "{}",
                rng.pick(&["", "", "vip", "wholesale", "newsletter"])
            ),
            version,
        ),
        addresses: [ShopAddress {
            id: core.id * 10 + 1,
            customer_id: core.id,
            first_name: core.first,
            last_name: core.last,
            address1,
            city: city.name,
            province: city.region,
            zip,
            country: c.name,
            country_code: c.code,
            default: true,
        }],
        created_at: ShopTime(created),
        updated_at: ShopTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Products

pub(crate) struct ProductCore {
    pub id: u64,
    pub title: SmallStr<64>,
    pub sku: SmallStr<24>,
    pub category: &'static str,
    pub price: i64,
    pub taxable: bool,
    rng: Rng,
}

fn product_core(shop: &Shop<'_>, index: u64) -> ProductCore {
    let t = DataType::CommerceProducts;
    let mut rng = Rng::new(shop.seed, t.tag(), index);
    let adjs = world::PRODUCT_ADJECTIVES.len() as u64;
    let combos = adjs * world::PRODUCT_NOUNS.len() as u64;
    let c = (index % combos * 97 + shop.seed % combos) % combos;
    let adj = world::PRODUCT_ADJECTIVES[(c % adjs) as usize];
    let (noun, category, lo, hi, zero_rated) = world::PRODUCT_NOUNS[(c / adjs) as usize];
    let round = index / combos;
    let title = if round == 0 {
        small!(64, "{adj} {noun}")
    } else {
        small!(64, "{adj} {noun} No. {}", round + 1)
    };
    let price = (rng.range(lo, hi) / 100) * 100 + 99;
    ProductCore {
        id: shop.id(t, index),
        title,
        sku: small!(24, "SKU-{:06}", index + 1),
        category,
        price,
        taxable: !zero_rated,
        rng,
    }
}

#[derive(Serialize)]
pub(crate) struct Variant {
    id: u64,
    product_id: u64,
    title: &'static str,
    sku: SmallStr<24>,
    price: MoneyStr,
    inventory_quantity: i64,
    taxable: bool,
    requires_shipping: bool,
}

#[derive(Serialize)]
pub(crate) struct Product<'a> {
    id: u64,
    title: SmallStr<64>,
    handle: SmallStr<80>,
    vendor: &'a str,
    product_type: &'static str,
    status: &'static str,
    tags: SmallStr<64>,
    variants: [Variant; 1],
    created_at: ShopTime,
    updated_at: ShopTime,
}

pub(crate) fn product<'a>(shop: &Shop<'a>, index: u64, modified: i64, version: u32) -> Product<'a> {
    let t = DataType::CommerceProducts;
    let mut core = product_core(shop, index);
    let rng = &mut core.rng;
    let mut handle = SmallStr::<80>::new();
    for word in core.title.as_str().split(' ') {
        if !handle.as_str().is_empty() {
            let _ = handle.write_char('-');
        }
        push_slug(&mut handle, word);
    }
    let _ = write!(handle, "-{}", index + 1);
    let stock = rng.range(0, 400);
    Product {
        id: core.id,
        title: core.title,
        handle,
        vendor: shop.name,
        product_type: core.category,
        status: match rng.below(100) {
            0..90 => "active",
            90..95 => "draft",
            _ => "archived",
        },
        tags: small!(64, "{}", core.category),
        variants: [Variant {
            id: ProductCore::variant_id(core.id),
            product_id: core.id,
            title: "Default Title",
            sku: core.sku,
            price: MoneyStr(core.price),
            // A touch is a stock movement.
            inventory_quantity: (stock + 37 * i64::from(version)) % 437,
            taxable: core.taxable,
            requires_shipping: true,
        }],
        created_at: ShopTime(timing::instant(t, index, shop.count(t))),
        updated_at: ShopTime(modified),
    }
}

impl ProductCore {
    fn variant_id(product_id: u64) -> u64 {
        product_id * 10 + 1
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

#[derive(Serialize, Clone, Copy)]
pub(crate) struct TaxLine {
    title: &'static str,
    rate: f64,
    price: MoneyStr,
}

#[derive(Serialize, Clone, Copy)]
pub(crate) struct OrderLine {
    id: u64,
    product_id: u64,
    variant_id: u64,
    sku: SmallStr<24>,
    title: SmallStr<64>,
    quantity: i64,
    price: MoneyStr,
    total_discount: MoneyStr,
    taxable: bool,
    #[serde(serialize_with = "tax_lines")]
    tax_lines: Option<TaxLine>,
}

fn tax_lines<S: serde::Serializer>(v: &Option<TaxLine>, s: S) -> Result<S::Ok, S::Error> {
    ZeroOrOne(*v).serialize(s)
}

const EMPTY_ORDER_LINE: OrderLine = OrderLine {
    id: 0,
    product_id: 0,
    variant_id: 0,
    sku: SmallStr::EMPTY,
    title: SmallStr::EMPTY,
    quantity: 0,
    price: MoneyStr(0),
    total_discount: MoneyStr(0),
    taxable: false,
    tax_lines: None,
};

pub(crate) struct OrderCore {
    pub id: u64,
    pub customer: CustomerCore,
    pub lines: Lines<OrderLine, 5>,
    pub subtotal: i64,
    pub discounts: i64,
    pub tax: i64,
    pub shipping: (&'static str, i64),
    pub total: i64,
    pub created: i64,
    rng: Rng,
}

fn order_core(shop: &Shop<'_>, index: u64) -> OrderCore {
    let t = DataType::CommerceOrders;
    let mut rng = Rng::new(shop.seed, t.tag(), index);
    let customer = customer_core(shop, rng.below(shop.count(DataType::CommerceCustomers)));
    let id = shop.id(t, index);
    let n_lines = match rng.below(100) {
        0..50 => 1,
        50..80 => 2,
        80..93 => 3,
        93..98 => 4,
        _ => 5,
    };
    let mut lines = Lines::new(EMPTY_ORDER_LINE);
    let (mut subtotal, mut discounts, mut tax) = (0, 0, 0);
    for l in 0..n_lines {
        let p = product_core(shop, rng.below(shop.count(DataType::CommerceProducts)));
        let qty = rng.range(1, 3);
        let gross = qty * p.price;
        let discount = if rng.chance(10) {
            percent_of(gross, 1000)
        } else {
            0
        };
        let net = gross - discount;
        let line_tax = if p.taxable {
            percent_of(net, VAT_BP)
        } else {
            0
        };
        subtotal += net;
        discounts += discount;
        tax += line_tax;
        lines.push(OrderLine {
            id: id * 10 + l + 1,
            product_id: p.id,
            variant_id: ProductCore::variant_id(p.id),
            sku: p.sku,
            title: p.title,
            quantity: qty,
            price: MoneyStr(p.price),
            total_discount: MoneyStr(discount),
            taxable: p.taxable,
            tax_lines: p.taxable.then_some(TaxLine {
                title: "VAT",
                rate: VAT_BP as f64 / 10_000.0,
                price: MoneyStr(line_tax),
            }),
        });
    }
    let shipping = rng.pick(world::SHIPPING);
    let created = timing::instant(t, index, shop.count(t)) + rng.range(0, 7 * 3_600_000);
    OrderCore {
        id,
        customer,
        lines,
        subtotal,
        discounts,
        tax,
        shipping,
        total: subtotal + tax + shipping.1,
        created,
        rng,
    }
}

/// The payment of order `j`, if it has one (payment `p` pays order `p * orders / payments`).
pub(crate) fn payment_of_order(shop: &Shop<'_>, j: u64) -> Option<u64> {
    let (n, p) = (
        shop.count(DataType::CommerceOrders),
        shop.count(DataType::CommercePayments),
    );
    if p == 0 || n == 0 || j >= n {
        return None;
    }
    let q = (u128::from(j) * u128::from(p)).div_ceil(u128::from(n)) as u64;
    (q < p && order_of_payment(n, p, q) == j).then_some(q)
}

fn order_of_payment(orders: u64, payments: u64, p: u64) -> u64 {
    (u128::from(p) * u128::from(orders) / u128::from(payments.max(1))) as u64
}

#[derive(Serialize)]
pub(crate) struct OrderCustomer {
    id: u64,
    email: SmallStr<112>,
    first_name: &'static str,
    last_name: &'static str,
}

#[derive(Serialize)]
pub(crate) struct ShippingLine {
    title: &'static str,
    price: MoneyStr,
}

#[derive(Serialize)]
pub(crate) struct Order {
    id: u64,
    name: SmallStr<16>,
    order_number: u64,
    email: SmallStr<112>,
    currency: &'static str,
    financial_status: &'static str,
    fulfillment_status: Option<&'static str>,
    customer: OrderCustomer,
    line_items: Lines<OrderLine, 5>,
    shipping_lines: [ShippingLine; 1],
    subtotal_price: MoneyStr,
    total_discounts: MoneyStr,
    total_tax: MoneyStr,
    total_price: MoneyStr,
    tags: SmallStr<48>,
    cancelled_at: Option<ShopTime>,
    processed_at: ShopTime,
    created_at: ShopTime,
    updated_at: ShopTime,
}

pub(crate) fn order(shop: &Shop<'_>, index: u64, modified: i64, version: u32) -> Order {
    let mut o = order_core(shop, index);
    let rng = &mut o.rng;
    let (financial, fulfillment, cancelled) = match payment_of_order(shop, index) {
        Some(p) => {
            if payment_refunded(shop, p) {
                ("refunded", None, None)
            } else if rng.chance(90) {
                ("paid", Some("fulfilled"), None)
            } else {
                ("paid", None, None)
            }
        }
        None if rng.chance(80) => ("pending", None, None),
        None => ("voided", None, Some(ShopTime(o.created + 3_600_000))),
    };
    Order {
        id: o.id,
        name: small!(16, "#{}", 1001 + index),
        order_number: 1001 + index,
        email: o.customer.email,
        currency: STORE_CURRENCY,
        financial_status: financial,
        fulfillment_status: fulfillment,
        customer: OrderCustomer {
            id: o.customer.id,
            email: o.customer.email,
            first_name: o.customer.first,
            last_name: o.customer.last,
        },
        line_items: o.lines,
        shipping_lines: [ShippingLine {
            title: o.shipping.0,
            price: MoneyStr(o.shipping.1),
        }],
        subtotal_price: MoneyStr(o.subtotal),
        total_discounts: MoneyStr(o.discounts),
        total_tax: MoneyStr(o.tax),
        total_price: MoneyStr(o.total),
        tags: rev_tags(
            small!(48, "{}", rng.pick(&["", "", "gift", "online", "repeat"])),
            version,
        ),
        cancelled_at: cancelled,
        processed_at: ShopTime(o.created),
        created_at: ShopTime(o.created),
        updated_at: ShopTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Payments

fn payment_refunded(shop: &Shop<'_>, p: u64) -> bool {
    Rng::new(shop.seed, DataType::CommercePayments.tag(), p).chance(5)
}

#[derive(Serialize)]
pub(crate) struct Card {
    brand: &'static str,
    last4: SmallStr<4>,
    exp_month: i64,
    exp_year: i64,
}

#[derive(Serialize)]
pub(crate) struct PaymentMethod {
    #[serde(rename = "type")]
    kind: &'static str,
    card: Card,
}

#[derive(Serialize)]
pub(crate) struct ShopPayment {
    id: SmallStr<24>,
    object: &'static str,
    /// Minor units.
    amount: i64,
    amount_refunded: i64,
    currency: SmallStr<4>,
    status: &'static str,
    captured: bool,
    refunded: bool,
    order_id: u64,
    customer_id: u64,
    description: SmallStr<48>,
    payment_method: PaymentMethod,
    fee: i64,
    net: i64,
    /// Unix seconds.
    created: i64,
    updated: i64,
}

pub(crate) fn payment(shop: &Shop<'_>, p: u64, modified: i64, version: u32) -> ShopPayment {
    let orders = shop.count(DataType::CommerceOrders);
    let j = order_of_payment(orders, shop.count(DataType::CommercePayments), p);
    let o = order_core(shop, j);
    let refunded = payment_refunded(shop, p);
    let mut rng = Rng::new(shop.seed, DataType::CommercePayments.tag(), p);
    rng.next(); // the refund draw
    let created = o.created + rng.range(0, 2 * DAY_MS);
    let fee = percent_of(o.total, 140) + 20;
    let mut currency = SmallStr::<4>::new();
    let _ = currency.write_str(&STORE_CURRENCY.to_ascii_lowercase());
    let mut description = small!(48, "Order #{}", 1001 + j);
    if version > 0 {
        let _ = write!(description, " (rev {version})");
    }
    ShopPayment {
        id: payment_id(shop.seed, p),
        object: "payment",
        amount: o.total,
        amount_refunded: if refunded { o.total } else { 0 },
        currency,
        status: "succeeded",
        captured: true,
        refunded,
        order_id: o.id,
        customer_id: o.customer.id,
        description,
        payment_method: PaymentMethod {
            kind: "card",
            card: Card {
                brand: rng.pick(world::CARD_BRANDS),
                last4: small!(4, "{:04}", rng.below(10_000)),
                exp_month: rng.range(1, 12),
                exp_year: rng.range(2026, 2031),
            },
        },
        fee,
        net: o.total - fee,
        created: created.div_euclid(1000),
        updated: modified.div_euclid(1000),
    }
}

/// The JSON key of a list (`{"orders": [...]}`) and of one record (`{"order": {...}}`).
pub(crate) fn keys(t: DataType) -> (&'static str, &'static str) {
    match t {
        DataType::CommerceCustomers => ("customers", "customer"),
        DataType::CommerceOrders => ("orders", "order"),
        DataType::CommerceProducts => ("products", "product"),
        DataType::CommercePayments => ("payments", "payment"),
        _ => ("shops", "shop"),
    }
}

pub(crate) fn size_hint(t: DataType) -> usize {
    match t {
        DataType::CommerceOrders => 1500,
        _ => 700,
    }
}

/// Writes record `index` of `t` as JSON (see `accounting::write`).
pub(crate) fn write(
    shop: &Shop<'_>,
    t: DataType,
    index: u64,
    modified: i64,
    version: u32,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    match t {
        DataType::CommerceInfo => serde_json::to_writer(out, &shop_info(shop)),
        DataType::CommerceCustomers => {
            serde_json::to_writer(out, &customer(shop, index, modified, version))
        }
        DataType::CommerceOrders => {
            serde_json::to_writer(out, &order(shop, index, modified, version))
        }
        DataType::CommerceProducts => {
            serde_json::to_writer(out, &product(shop, index, modified, version))
        }
        DataType::CommercePayments => {
            serde_json::to_writer(out, &payment(shop, index, modified, version))
        }
        _ => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(shop: &Shop<'_>, t: DataType, i: u64) -> Value {
        let mut out = Vec::new();
        write(
            shop,
            t,
            i,
            timing::modified(t, i, shop.count(t)),
            0,
            &mut out,
        )
        .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn cents(v: &Value) -> i64 {
        let s = v.as_str().unwrap();
        let (units, frac) = s.split_once('.').unwrap();
        units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
    }

    #[test]
    fn ids_round_trip() {
        for t in [DataType::CommerceOrders, DataType::CommerceCustomers] {
            let id = int_id(9, t, 1234).to_string();
            assert_eq!(id.len(), 13);
            assert_eq!(index_of(9, t, &id), Some(1234));
        }
        let pid = payment_id(9, 77).to_string();
        assert_eq!(index_of(9, DataType::CommercePayments, &pid), Some(77));
        assert_eq!(index_of(9, DataType::CommercePayments, "py_zz"), None);
        assert_eq!(index_of(9, DataType::CommerceOrders, "12"), None);
        assert_eq!(index_of(9, DataType::CommerceOrders, "+1"), None);
    }

    #[test]
    fn orders_add_up_and_payments_match() {
        let p = DataProfile::default();
        let shop = Shop::new("store_00112233aabbccdd", "Corner Shop", &p);
        let mut by_order = std::collections::BTreeMap::new();
        for pi in 0..shop.count(DataType::CommercePayments) {
            let pay = json(&shop, DataType::CommercePayments, pi);
            assert!(
                by_order
                    .insert(pay["order_id"].as_u64().unwrap(), pay)
                    .is_none()
            );
        }
        for j in 0..shop.count(DataType::CommerceOrders) {
            let o = json(&shop, DataType::CommerceOrders, j);
            let (mut sub, mut disc, mut tax) = (0, 0, 0);
            for l in o["line_items"].as_array().unwrap() {
                let gross = l["quantity"].as_i64().unwrap() * cents(&l["price"]);
                sub += gross - cents(&l["total_discount"]);
                disc += cents(&l["total_discount"]);
                tax += l["tax_lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| cents(&t["price"]))
                    .sum::<i64>();
                // The line's price is its product's price.
                let pid = l["product_id"].as_u64().unwrap().to_string();
                let pi = index_of(shop.seed, DataType::CommerceProducts, &pid).unwrap();
                let prod = json(&shop, DataType::CommerceProducts, pi);
                assert_eq!(prod["variants"][0]["price"], l["price"]);
            }
            assert_eq!(cents(&o["subtotal_price"]), sub);
            assert_eq!(cents(&o["total_discounts"]), disc);
            assert_eq!(cents(&o["total_tax"]), tax);
            assert_eq!(
                cents(&o["total_price"]),
                sub + tax + cents(&o["shipping_lines"][0]["price"])
            );
            match by_order.get(&o["id"].as_u64().unwrap()) {
                Some(pay) => {
                    assert!(o["financial_status"] == "paid" || o["financial_status"] == "refunded");
                    assert_eq!(pay["amount"].as_i64().unwrap(), cents(&o["total_price"]));
                    assert_eq!(pay["refunded"], o["financial_status"] == "refunded");
                    assert_eq!(pay["customer_id"], o["customer"]["id"]);
                }
                None => {
                    assert!(o["financial_status"] == "pending" || o["financial_status"] == "voided")
                }
            }
        }
        let info = json(&shop, DataType::CommerceInfo, 0);
        assert_eq!(info["id"], "store_00112233aabbccdd");
        assert_eq!(info["currency"], "GBP");
        assert_eq!(info["domain"], "cornershop.shop.example.com");
    }
}
