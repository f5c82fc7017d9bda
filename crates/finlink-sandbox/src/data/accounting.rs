//! The accounting platform's records, in the platform's own shapes (PascalCase, Xero-like:
//! `InvoiceID`, `Contact`, `LineItems`, `UpdatedDateUTC` ...), generated per organisation.
//!
//! Invariants every record keeps: line amounts are quantity x unit amount; a line's tax is its
//! amount x its tax rate, rounded to the cent; `SubTotal` is the sum of line amounts, `TotalTax`
//! the sum of line taxes, `Total = SubTotal + TotalTax`, `AmountDue = Total - AmountPaid -
//! AmountCredited`; an invoice's `AmountPaid` is the amount of the one payment that pays it;
//! journal lines sum to zero; a bank transaction's amount is the difference between its running
//! balance and the previous one of its account, and a bank account's balance is its last
//! running balance.

use std::fmt::Write as _;

use serde::Serialize;

use super::synth::{
    Date, DateTime, Guid, Lines, Money, Rng, SmallStr, mix, percent_of, permute, push_slug, small,
    unpermute,
};
use super::world::{
    self, ACCOUNTS, AccountDef, BANK_KINDS, BankKind, COUNTRIES, Country, FOREIGN_BANK, Item,
    PostcodeStyle,
};
use super::{DataProfile, DataType, timing};

/// An organisation's generation context.
pub(crate) struct Org<'a> {
    pub seed: u64,
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub profile: &'a DataProfile,
    pub country: &'static Country,
}

/// An organisation's country: mostly the UK, then the US, Ireland, Australia and Canada.
pub(crate) fn country_of(seed: u64) -> &'static Country {
    let r = Rng::new(seed, 0xC0, 0).below(100);
    let i = match r {
        0..40 => 0,
        40..65 => 1,
        65..80 => 2,
        80..90 => 3,
        _ => 4,
    };
    COUNTRIES.get(i).unwrap_or(&COUNTRIES[0])
}

impl<'a> Org<'a> {
    pub fn new(tenant_id: &'a str, name: &'a str, profile: &'a DataProfile) -> Self {
        let seed = super::synth::seed_of(tenant_id);
        Self {
            seed,
            tenant_id,
            name,
            profile,
            country: country_of(seed),
        }
    }

    pub fn count(&self, t: DataType) -> u64 {
        self.profile.count_in(t, Some(self.country))
    }

    fn id(&self, t: DataType, index: u64) -> Guid {
        record_id(self.seed, t, index)
    }
}

fn id_hi(seed: u64, t: DataType) -> u64 {
    mix(seed ^ t.tag().wrapping_mul(0xA24B_AED4_963E_E407))
}

fn id_key(seed: u64, t: DataType) -> u64 {
    mix(seed.rotate_left(17) ^ t.tag())
}

/// A UUID-shaped id from a per-(seed, type) tag and a per-record value: both halves look
/// random, and the tag is recovered as `first ^ mix(second)`.
fn guid(tag: u64, lo: u64) -> Guid {
    Guid::new(tag ^ mix(lo), lo)
}

/// The id of record `index` of a type: UUID-shaped, and [`index_of`] reads the index back.
pub(crate) fn record_id(seed: u64, t: DataType, index: u64) -> Guid {
    guid(id_hi(seed, t), permute(id_key(seed, t), index))
}

/// The index an id stands for, if it is an id of this type for this seed (the caller checks it
/// against the count).
pub(crate) fn index_of(seed: u64, t: DataType, id: &str) -> Option<u64> {
    let u = uuid::Uuid::try_parse(id).ok()?;
    let (hi, lo) = u.as_u64_pair();
    (hi ^ mix(lo) == id_hi(seed, t)).then(|| unpermute(id_key(seed, t), lo))
}

fn is_empty(s: &&str) -> bool {
    s.is_empty()
}

/// Appends ` (rev N)` to a text field of a touched record.
fn rev<const N: usize>(mut s: SmallStr<N>, version: u32) -> SmallStr<N> {
    if version > 0 {
        let _ = write!(s, " (rev {version})");
    }
    s
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Address {
    address_type: &'static str,
    address_line1: SmallStr<64>,
    city: &'static str,
    region: &'static str,
    postal_code: SmallStr<12>,
    country: &'static str,
}

/// A street address in a country: `(line1, city, postcode)`.
pub(crate) fn street(
    rng: &mut Rng,
    country: &'static Country,
) -> (SmallStr<64>, world::City, SmallStr<12>) {
    let city = rng.pick(country.cities);
    let line1 = small!(64, "{} {}", rng.range(1, 240), rng.pick(world::STREETS));
    let letter = |r: &mut Rng| char::from(b'A' + r.below(26) as u8);
    let postcode = match country.postcode {
        PostcodeStyle::Uk => small!(
            12,
            "{} {}{}{}",
            city.postcode,
            rng.below(10),
            letter(rng),
            letter(rng)
        ),
        PostcodeStyle::FiveDigits => {
            small!(12, "{}{:02}", city.postcode, rng.below(100))
        }
        PostcodeStyle::FourDigits => small!(12, "{}{:02}", city.postcode, rng.below(100)),
        PostcodeStyle::Eircode => {
            small!(
                12,
                "{} {}{:03}",
                city.postcode,
                letter(rng),
                rng.below(1000)
            )
        }
        PostcodeStyle::Canada => small!(
            12,
            "{} {}{}{}",
            city.postcode,
            rng.below(10),
            letter(rng),
            rng.below(10)
        ),
    };
    (line1, city, postcode)
}

fn address(rng: &mut Rng, country: &'static Country, kind: &'static str) -> Address {
    let (line1, city, postcode) = street(rng, country);
    Address {
        address_type: kind,
        address_line1: line1,
        city: city.name,
        region: city.region,
        postal_code: postcode,
        country: country.name,
    }
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Phone {
    phone_type: &'static str,
    phone_number: SmallStr<24>,
}

pub(crate) fn phone_number(rng: &mut Rng, country: &Country) -> SmallStr<24> {
    small!(24, "{} {:04}", country.phone_prefix, rng.below(10_000))
}

fn sales_currency_rate(rng: &mut Rng, base: &str, currency: &str) -> f64 {
    if base == currency {
        return 1.0;
    }
    let jitter = 1.0 + rng.range(-250, 250) as f64 / 10_000.0;
    (world::fx_rate(base, currency) * jitter * 1_000_000.0).round() / 1_000_000.0
}

// ---------------------------------------------------------------------------------------------
// Organisation

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Organisation<'a> {
    #[serde(rename = "OrganisationID")]
    organisation_id: &'a str,
    name: &'a str,
    legal_name: SmallStr<128>,
    short_code: SmallStr<8>,
    organisation_type: &'static str,
    organisation_status: &'static str,
    base_currency: &'static str,
    country_code: &'static str,
    timezone: &'static str,
    financial_year_end_day: u32,
    financial_year_end_month: u32,
    tax_number: SmallStr<24>,
    registration_number: SmallStr<16>,
    line_of_business: &'static str,
    addresses: [Address; 2],
    phones: [Phone; 1],
    email_address: SmallStr<96>,
    website: SmallStr<96>,
    #[serde(rename = "CreatedDateUTC")]
    created_date_utc: DateTime,
}

const LEGAL_SUFFIXES: &[&str] = &[
    "Ltd", "Ltd.", "Limited", "Inc", "Inc.", "LLC", "plc", "PLC", "Pty Ltd", "GmbH", "Corp",
];

pub(crate) fn organisation<'a>(org: &Org<'a>) -> Organisation<'a> {
    let mut rng = Rng::new(org.seed, DataType::Company.tag(), 0);
    let c = org.country;
    let legal_name = if LEGAL_SUFFIXES.iter().any(|s| org.name.ends_with(s)) {
        small!(128, "{}", org.name)
    } else {
        small!(128, "{} {}", org.name, c.legal_suffix)
    };
    let mut slug = SmallStr::<40>::new();
    push_slug(&mut slug, org.name);
    if slug.as_str().is_empty() {
        let _ = write!(slug, "company{}", org.seed % 10_000);
    }
    let short_code = small!(
        8,
        "!{}{}{}{}{}",
        char::from(b'a' + rng.below(26) as u8),
        char::from(b'A' + rng.below(26) as u8),
        rng.below(10),
        char::from(b'a' + rng.below(26) as u8),
        rng.below(10)
    );
    Organisation {
        organisation_id: org.tenant_id,
        name: org.name,
        legal_name,
        short_code,
        organisation_type: "COMPANY",
        organisation_status: "ACTIVE",
        base_currency: c.currency,
        country_code: c.code,
        timezone: c.timezone,
        financial_year_end_day: c.year_end.0,
        financial_year_end_month: c.year_end.1,
        tax_number: small!(24, "{}{:09}", c.tax_number_prefix, rng.below(1_000_000_000)),
        registration_number: small!(16, "{:08}", rng.below(100_000_000)),
        line_of_business: rng.pick(world::LINES_OF_BUSINESS),
        addresses: [
            address(&mut rng, c, "STREET"),
            address(&mut rng, c, "POBOX"),
        ],
        phones: [Phone {
            phone_type: "DEFAULT",
            phone_number: phone_number(&mut rng, c),
        }],
        email_address: small!(96, "accounts@{}.example.com", slug),
        website: small!(96, "https://www.{}.example.com", slug),
        created_date_utc: DateTime(timing::MASTER_START_MS - 30 * super::synth::DAY_MS),
    }
}

// ---------------------------------------------------------------------------------------------
// Chart of accounts and tax rates

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Account {
    #[serde(rename = "AccountID")]
    account_id: Guid,
    code: SmallStr<16>,
    name: SmallStr<96>,
    #[serde(rename = "Type")]
    kind: &'static str,
    class: &'static str,
    status: &'static str,
    description: SmallStr<128>,
    tax_type: &'static str,
    currency_code: &'static str,
    enable_payments_to_account: bool,
    show_in_expense_claims: bool,
    reporting_code: &'static str,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

fn no_tax(c: &Country) -> &'static str {
    c.tax_rates
        .iter()
        .rev()
        .find(|r| r.revenue && r.expenses)
        .map_or("NONE", |r| r.tax_type)
}

fn account_def(index: u64) -> (AccountDef, u64) {
    let template = ACCOUNTS.len() as u64;
    if index < template {
        return (ACCOUNTS[index as usize], 0);
    }
    let extra = index - template;
    let bases = world::SUB_ACCOUNT_BASES;
    let base = bases[(extra % bases.len() as u64) as usize];
    (ACCOUNTS[base], extra / bases.len() as u64 + 1)
}

/// The index in the chart of a template account code.
fn account_index(code: &str) -> u64 {
    ACCOUNTS.iter().position(|a| a.code == code).unwrap_or(0) as u64
}

pub(crate) fn account(org: &Org<'_>, index: u64, modified: i64, version: u32) -> Account {
    let mut rng = Rng::new(org.seed, DataType::ChartOfAccounts.tag(), index);
    let (def, sub) = account_def(index);
    let c = org.country;
    let (code, name, description) = if sub == 0 {
        (
            small!(16, "{}", def.code),
            small!(96, "{}", def.name),
            small!(128, "{}", def.description),
        )
    } else {
        let dept = world::DEPARTMENTS[(sub as usize - 1) % world::DEPARTMENTS.len()];
        (
            small!(16, "{}.{:03}", def.code, sub),
            small!(96, "{} - {} {}", def.name, dept, sub),
            small!(128, "{} ({} department).", def.name, dept),
        )
    };
    let tax_type = match def.class {
        "REVENUE" => c.tax_rates[c.sales_tax].tax_type,
        "EXPENSE" => c.tax_rates[c.purchase_tax].tax_type,
        _ => no_tax(c),
    };
    Account {
        account_id: org.id(DataType::ChartOfAccounts, index),
        code,
        name,
        kind: def.kind,
        class: def.class,
        status: if sub > 0 && rng.chance(5) {
            "ARCHIVED"
        } else {
            "ACTIVE"
        },
        description: rev(description, version),
        tax_type,
        currency_code: c.currency,
        enable_payments_to_account: false,
        show_in_expense_claims: def.class == "EXPENSE",
        reporting_code: def.reporting,
        updated_date_utc: DateTime(modified),
    }
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TaxComponent {
    name: &'static str,
    rate: f64,
    is_compound: bool,
    is_non_recoverable: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TaxRate {
    #[serde(rename = "TaxRateID")]
    tax_rate_id: Guid,
    name: SmallStr<64>,
    tax_type: &'static str,
    status: &'static str,
    can_apply_to_revenue: bool,
    can_apply_to_expenses: bool,
    can_apply_to_assets: bool,
    can_apply_to_liabilities: bool,
    display_tax_rate: f64,
    effective_rate: f64,
    tax_components: [TaxComponent; 1],
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

pub(crate) fn tax_rate(org: &Org<'_>, index: u64, modified: i64, version: u32) -> TaxRate {
    let rates = org.country.tax_rates;
    let def = rates[(index as usize).min(rates.len().saturating_sub(1))];
    let pct = def.basis_points as f64 / 100.0;
    TaxRate {
        tax_rate_id: org.id(DataType::TaxRates, index),
        name: rev(small!(64, "{}", def.name), version),
        tax_type: def.tax_type,
        status: "ACTIVE",
        can_apply_to_revenue: def.revenue,
        can_apply_to_expenses: def.expenses,
        can_apply_to_assets: def.expenses,
        can_apply_to_liabilities: false,
        display_tax_rate: pct,
        effective_rate: pct,
        tax_components: [TaxComponent {
            name: def.component,
            rate: pct,
            is_compound: false,
            is_non_recoverable: false,
        }],
        updated_date_utc: DateTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Contacts (customers and suppliers)

/// What other records need of a contact: a function of (seed, type, index) alone.
pub(crate) struct ContactCore {
    pub id: Guid,
    pub country: &'static Country,
    pub name: SmallStr<80>,
    slug: SmallStr<48>,
    first: &'static str,
    last: &'static str,
    rng: Rng,
}

pub(crate) fn contact_core(org: &Org<'_>, t: DataType, index: u64) -> ContactCore {
    let mut rng = Rng::new(org.seed, t.tag(), index);
    let (second, foreign_pct) = if t == DataType::Suppliers {
        (world::SUPPLIER_SECOND, 10)
    } else {
        (world::CUSTOMER_SECOND, 15)
    };
    let country = if rng.chance(foreign_pct) {
        let base = COUNTRIES
            .iter()
            .position(|c| c.code == org.country.code)
            .unwrap_or(0) as u64;
        let n = COUNTRIES.len() as u64;
        &COUNTRIES[((base + 1 + rng.below(n - 1)) % n) as usize]
    } else {
        org.country
    };
    let firsts = world::NAME_FIRST.len() as u64;
    let combos = firsts * second.len() as u64;
    let c = (index % combos * 7919 + org.seed % combos) % combos;
    let round = index / combos;
    let (f, s) = (
        world::NAME_FIRST[(c % firsts) as usize],
        second[(c / firsts) as usize],
    );
    let mut name = SmallStr::<80>::new();
    let mut slug = SmallStr::<48>::new();
    let _ = write!(name, "{f} {s}");
    push_slug(&mut slug, f);
    push_slug(&mut slug, s);
    if round > 0 {
        let _ = write!(name, " {}", round + 1);
        let _ = write!(slug, "{}", round + 1);
    }
    let _ = write!(name, " {}", country.suffix);
    ContactCore {
        id: org.id(t, index),
        country,
        name,
        slug,
        first: rng.pick(world::FIRST_NAMES),
        last: rng.pick(world::LAST_NAMES),
        rng,
    }
}

#[derive(Serialize, Clone, Copy)]
pub(crate) struct ContactRef {
    #[serde(rename = "ContactID")]
    contact_id: Guid,
    #[serde(rename = "Name")]
    name: SmallStr<80>,
}

impl ContactCore {
    fn reference(&self) -> ContactRef {
        ContactRef {
            contact_id: self.id,
            name: self.name,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Contact {
    #[serde(rename = "ContactID")]
    contact_id: Guid,
    contact_number: SmallStr<16>,
    contact_status: &'static str,
    name: SmallStr<80>,
    first_name: &'static str,
    last_name: &'static str,
    email_address: SmallStr<112>,
    phones: [Phone; 1],
    addresses: [Address; 1],
    #[serde(skip_serializing_if = "SmallStr::is_empty")]
    tax_number: SmallStr<24>,
    default_currency: &'static str,
    is_customer: bool,
    is_supplier: bool,
    website: SmallStr<80>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

pub(crate) fn contact(
    org: &Org<'_>,
    t: DataType,
    index: u64,
    modified: i64,
    version: u32,
) -> Contact {
    let mut core = contact_core(org, t, index);
    let rng = &mut core.rng;
    let customer = t != DataType::Suppliers;
    let mut email = SmallStr::<112>::new();
    if version == 0 {
        push_slug(&mut email, core.first);
        let _ = email.write_char('.');
        push_slug(&mut email, core.last);
    } else {
        let _ = write!(email, "accounts.rev{version}");
    }
    let _ = write!(email, "@{}.example.com", core.slug);
    let tax_number = if rng.chance(70) {
        small!(
            24,
            "{}{:09}",
            core.country.tax_number_prefix,
            rng.below(1_000_000_000)
        )
    } else {
        SmallStr::new()
    };
    Contact {
        contact_id: core.id,
        contact_number: small!(
            16,
            "{}-{:06}",
            if customer { "CUS" } else { "SUP" },
            index + 1
        ),
        contact_status: if rng.chance(4) { "ARCHIVED" } else { "ACTIVE" },
        name: core.name,
        first_name: core.first,
        last_name: core.last,
        email_address: email,
        phones: [Phone {
            phone_type: "DEFAULT",
            phone_number: phone_number(rng, core.country),
        }],
        addresses: [address(rng, core.country, "POBOX")],
        tax_number,
        default_currency: core.country.currency,
        is_customer: customer,
        is_supplier: !customer,
        website: small!(80, "https://www.{}.example.com", core.slug),
        updated_date_utc: DateTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Invoices, bills, credit notes

pub(crate) const MAX_LINES: usize = 4;

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LineItem {
    #[serde(rename = "LineItemID")]
    line_item_id: Guid,
    #[serde(skip_serializing_if = "is_empty")]
    item_code: &'static str,
    description: &'static str,
    quantity: i64,
    unit_amount: Money,
    account_code: &'static str,
    tax_type: &'static str,
    tax_amount: Money,
    line_amount: Money,
}

const EMPTY_LINE: LineItem = LineItem {
    line_item_id: Guid(uuid::Uuid::nil()),
    item_code: "",
    description: "",
    quantity: 0,
    unit_amount: Money(0),
    account_code: "",
    tax_type: "",
    tax_amount: Money(0),
    line_amount: Money(0),
};

/// What an invoice, bill or credit note is made of.
pub(crate) struct Doc {
    pub contact: ContactCore,
    pub currency: &'static str,
    pub rate: f64,
    pub date: Date,
    pub lines: Lines<LineItem, MAX_LINES>,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    rng: Rng,
}

pub(crate) fn doc(org: &Org<'_>, t: DataType, index: u64) -> Doc {
    let mut rng = Rng::new(org.seed, t.tag(), index);
    let sale = t != DataType::Bills;
    let (contact_type, items): (DataType, &[Item]) = if sale {
        (DataType::Customers, world::SALES_ITEMS)
    } else {
        (DataType::Suppliers, world::PURCHASE_ITEMS)
    };
    let contact = contact_core(org, contact_type, rng.below(org.count(contact_type)));
    let c = org.country;
    let foreign = contact.country.code != c.code;
    let currency = contact.country.currency;
    let fx = world::fx_rate(c.currency, currency);
    let n_lines = match rng.below(100) {
        0..45 => 1,
        45..75 => 2,
        75..92 => 3,
        _ => 4,
    };
    let n_lines = if t == DataType::CreditNotes {
        n_lines.min(2)
    } else {
        n_lines
    };
    let id_lo = permute(id_key(org.seed, t), index);
    let line_hi = id_hi(org.seed, t) ^ 0x5EED_11E5;
    let mut lines = Lines::new(EMPTY_LINE);
    let (mut subtotal, mut tax) = (0i64, 0i64);
    for l in 0..n_lines {
        let item = rng.pick(items);
        let qty = if item.max_price < 10_000 {
            rng.range(1, 40)
        } else {
            rng.range(1, 5)
        };
        let base_price = rng.range(item.min_price, item.max_price) / 50 * 50;
        let unit = if foreign {
            ((base_price as f64 * fx) / 50.0).round() as i64 * 50
        } else {
            base_price
        };
        let rate_index = if foreign {
            if sale {
                c.zero_sales_tax
            } else {
                c.zero_purchase_tax
            }
        } else if sale {
            if item.reduced {
                c.reduced_sales_tax
            } else if rng.chance(6) {
                c.zero_sales_tax
            } else {
                c.sales_tax
            }
        } else if rng.chance(10) {
            c.zero_purchase_tax
        } else {
            c.purchase_tax
        };
        let rate = c.tax_rates[rate_index];
        let amount = qty * unit.max(50);
        let line_tax = percent_of(amount, rate.basis_points);
        subtotal += amount;
        tax += line_tax;
        lines.push(LineItem {
            line_item_id: guid(line_hi, mix(id_lo.wrapping_add(l + 1))),
            item_code: item.code,
            description: item.description,
            quantity: qty,
            unit_amount: Money(unit.max(50)),
            account_code: item.account,
            tax_type: rate.tax_type,
            tax_amount: Money(line_tax),
            line_amount: Money(amount),
        });
    }
    let rate = sales_currency_rate(&mut rng, c.currency, currency);
    Doc {
        contact,
        currency,
        rate,
        date: Date::of_ms(timing::instant(t, index, org.count(t))),
        lines,
        subtotal,
        tax,
        total: subtotal + tax,
        rng,
    }
}

/// The payment that pays invoice `j`, if any: payments are spread evenly over the invoices
/// (payment `p` pays invoice `p * invoices / payments`).
pub(crate) fn payment_of_invoice(org: &Org<'_>, j: u64) -> Option<u64> {
    let (n, p) = (org.count(DataType::Invoices), org.count(DataType::Payments));
    if p == 0 || n == 0 || j >= n {
        return None;
    }
    // The smallest payment index whose invoice is at least j.
    let q = (u128::from(j) * u128::from(p)).div_ceil(u128::from(n)) as u64;
    (q < p && invoice_of_payment(n, p, q) == j).then_some(q)
}

fn invoice_of_payment(invoices: u64, payments: u64, p: u64) -> u64 {
    (u128::from(p) * u128::from(invoices) / u128::from(payments.max(1))) as u64
}

/// A payment's facts, shared by the payment and the invoice it pays.
pub(crate) struct PaymentCore {
    pub invoice: u64,
    pub amount: i64,
    pub date: Date,
    pub doc: Doc,
    rng: Rng,
}

pub(crate) fn payment_core(org: &Org<'_>, p: u64) -> PaymentCore {
    let invoice = invoice_of_payment(
        org.count(DataType::Invoices),
        org.count(DataType::Payments),
        p,
    );
    let doc = doc(org, DataType::Invoices, invoice);
    let (amount, _, date, rng) = payment_terms(org, p, &doc);
    PaymentCore {
        invoice,
        amount,
        date,
        doc,
        rng,
    }
}

/// How payment `p` pays its invoice: `(amount, in full, date, the payment's random stream)`.
fn payment_terms(org: &Org<'_>, p: u64, invoice: &Doc) -> (i64, bool, Date, Rng) {
    let mut rng = Rng::new(org.seed, DataType::Payments.tag(), p);
    let delay = rng.range(0, 45);
    let full = invoice.total < 2 || rng.chance(80);
    let amount = if full {
        invoice.total
    } else {
        percent_of(invoice.total, rng.range(3000, 9000)).clamp(1, invoice.total - 1)
    };
    (amount, full, invoice.date.plus_days(delay), rng)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Invoice {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(rename = "InvoiceID")]
    invoice_id: Guid,
    invoice_number: SmallStr<24>,
    reference: SmallStr<48>,
    contact: ContactRef,
    date: Date,
    due_date: Date,
    status: &'static str,
    line_amount_types: &'static str,
    line_items: Lines<LineItem, MAX_LINES>,
    sub_total: Money,
    total_tax: Money,
    total: Money,
    amount_paid: Money,
    amount_credited: Money,
    amount_due: Money,
    currency_code: &'static str,
    currency_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    fully_paid_on_date: Option<Date>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

fn invoice_number(t: DataType, index: u64) -> SmallStr<24> {
    match t {
        DataType::Bills => small!(24, "BILL-{:06}", index + 1),
        _ => small!(24, "INV-{:06}", index + 1),
    }
}

/// An invoice (`t == Invoices`, type `ACCREC`) or a bill (`t == Bills`, type `ACCPAY`).
pub(crate) fn invoice(
    org: &Org<'_>,
    t: DataType,
    index: u64,
    modified: i64,
    version: u32,
) -> Invoice {
    let mut d = doc(org, t, index);
    let rng = &mut d.rng;
    let terms = rng.pick(&[14, 30, 30, 45]);
    let reference = if t == DataType::Bills {
        small!(48, "{}", rng.range(10_000, 999_999))
    } else {
        small!(48, "PO-{}", rng.range(1_000, 99_999))
    };
    let (status, paid, paid_on) = if t == DataType::Invoices {
        match payment_of_invoice(org, index) {
            Some(p) => {
                let (amount, full, date, _) = payment_terms(org, p, &d);
                if full {
                    ("PAID", amount, Some(date))
                } else {
                    ("AUTHORISED", amount, None)
                }
            }
            None => match rng.below(100) {
                0..8 => ("DRAFT", 0, None),
                8..13 => ("SUBMITTED", 0, None),
                _ => ("AUTHORISED", 0, None),
            },
        }
    } else {
        match rng.below(100) {
            0..60 => ("PAID", d.total, Some(d.date.plus_days(rng.range(0, 40)))),
            60..70 => (
                "AUTHORISED",
                percent_of(d.total, rng.range(2000, 8000)).clamp(0, d.total),
                None,
            ),
            70..90 => ("AUTHORISED", 0, None),
            _ => ("DRAFT", 0, None),
        }
    };
    Invoice {
        kind: if t == DataType::Bills {
            "ACCPAY"
        } else {
            "ACCREC"
        },
        invoice_id: org.id(t, index),
        invoice_number: invoice_number(t, index),
        reference: rev(reference, version),
        contact: d.contact.reference(),
        date: d.date,
        due_date: d.date.plus_days(terms),
        status,
        line_amount_types: "Exclusive",
        line_items: d.lines,
        sub_total: Money(d.subtotal),
        total_tax: Money(d.tax),
        total: Money(d.total),
        amount_paid: Money(paid),
        amount_credited: Money(0),
        amount_due: Money(d.total - paid),
        currency_code: d.currency,
        currency_rate: d.rate,
        fully_paid_on_date: paid_on,
        updated_date_utc: DateTime(modified),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreditNote {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(rename = "CreditNoteID")]
    credit_note_id: Guid,
    credit_note_number: SmallStr<24>,
    reference: SmallStr<64>,
    contact: ContactRef,
    date: Date,
    status: &'static str,
    line_amount_types: &'static str,
    line_items: Lines<LineItem, MAX_LINES>,
    sub_total: Money,
    total_tax: Money,
    total: Money,
    remaining_credit: Money,
    currency_code: &'static str,
    currency_rate: f64,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

pub(crate) fn credit_note(org: &Org<'_>, index: u64, modified: i64, version: u32) -> CreditNote {
    let mut d = doc(org, DataType::CreditNotes, index);
    let rng = &mut d.rng;
    let invoices = org.count(DataType::Invoices);
    let reference = if invoices > 0 {
        small!(64, "Credit against INV-{:06}", rng.below(invoices) + 1)
    } else {
        small!(64, "Goodwill credit")
    };
    let applied = rng.chance(60);
    CreditNote {
        kind: "ACCRECCREDIT",
        credit_note_id: org.id(DataType::CreditNotes, index),
        credit_note_number: small!(24, "CN-{:06}", index + 1),
        reference: rev(reference, version),
        contact: d.contact.reference(),
        date: d.date,
        status: if applied { "PAID" } else { "AUTHORISED" },
        line_amount_types: "Exclusive",
        line_items: d.lines,
        sub_total: Money(d.subtotal),
        total_tax: Money(d.tax),
        total: Money(d.total),
        remaining_credit: Money(if applied { 0 } else { d.total }),
        currency_code: d.currency,
        currency_rate: d.rate,
        updated_date_utc: DateTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Payments

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountRef {
    #[serde(rename = "AccountID")]
    account_id: Guid,
    code: SmallStr<8>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InvoiceRef {
    #[serde(rename = "InvoiceID")]
    invoice_id: Guid,
    invoice_number: SmallStr<24>,
    #[serde(rename = "Type")]
    kind: &'static str,
    currency_code: &'static str,
    contact: ContactRef,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Payment {
    #[serde(rename = "PaymentID")]
    payment_id: Guid,
    date: Date,
    amount: Money,
    currency_rate: f64,
    reference: SmallStr<48>,
    payment_type: &'static str,
    status: &'static str,
    is_reconciled: bool,
    account: AccountRef,
    invoice: InvoiceRef,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

pub(crate) fn payment(org: &Org<'_>, p: u64, modified: i64, version: u32) -> Payment {
    let mut pc = payment_core(org, p);
    let rng = &mut pc.rng;
    let bank = bank_account_for(org, pc.doc.currency);
    Payment {
        payment_id: org.id(DataType::Payments, p),
        date: pc.date,
        amount: Money(pc.amount),
        currency_rate: pc.doc.rate,
        reference: rev(
            small!(48, "Remittance {}", rng.range(100_000, 999_999)),
            version,
        ),
        payment_type: "ACCRECPAYMENT",
        status: "AUTHORISED",
        is_reconciled: rng.chance(85),
        account: AccountRef {
            account_id: org.id(DataType::BankAccounts, bank),
            code: bank_code(bank),
        },
        invoice: InvoiceRef {
            invoice_id: org.id(DataType::Invoices, pc.invoice),
            invoice_number: invoice_number(DataType::Invoices, pc.invoice),
            kind: "ACCREC",
            currency_code: pc.doc.currency,
            contact: pc.doc.contact.reference(),
        },
        updated_date_utc: DateTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Manual journals

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct JournalLine {
    #[serde(rename = "AccountID")]
    account_id: Guid,
    account_code: &'static str,
    description: &'static str,
    /// Debits are positive, credits negative; a journal's lines sum to zero.
    line_amount: Money,
    tax_type: &'static str,
}

const EMPTY_JOURNAL_LINE: JournalLine = JournalLine {
    account_id: Guid(uuid::Uuid::nil()),
    account_code: "",
    description: "",
    line_amount: Money(0),
    tax_type: "",
};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ManualJournal {
    #[serde(rename = "ManualJournalID")]
    manual_journal_id: Guid,
    narration: SmallStr<96>,
    date: Date,
    status: &'static str,
    line_amount_types: &'static str,
    show_on_cash_basis_reports: bool,
    journal_lines: Lines<JournalLine, 4>,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) fn manual_journal(
    org: &Org<'_>,
    index: u64,
    modified: i64,
    version: u32,
) -> ManualJournal {
    let t = DataType::JournalEntries;
    let mut rng = Rng::new(org.seed, t.tag(), index);
    let date = Date::of_ms(timing::instant(t, index, org.count(t)));
    let (y, m, _) = super::synth::civil(date.0);
    let month = MONTHS[(m as usize + 11) % 12];
    let tax = no_tax(org.country);
    let mut lines = Lines::new(EMPTY_JOURNAL_LINE);
    let mut line = |code: &'static str, description: &'static str, amount: i64| {
        lines.push(JournalLine {
            account_id: org.id(DataType::ChartOfAccounts, account_index(code)),
            account_code: code,
            description,
            line_amount: Money(amount),
            tax_type: tax,
        });
    };
    let amount = rng.range(20_000, 900_000);
    let title = match rng.below(6) {
        0 => {
            line("416", "Depreciation charge", amount);
            line("711", "Accumulated depreciation", -amount);
            "Depreciation"
        }
        1 => {
            line("412", "Accountancy fees accrued", amount);
            line("821", "Accrued accountancy fees", -amount);
            "Accrual for accountancy fees"
        }
        2 => {
            let gross = amount * 10;
            let withheld = percent_of(gross, rng.range(1800, 2600));
            line("477", "Gross salaries", gross);
            line("825", "Payroll taxes withheld", -withheld);
            line("814", "Net wages payable", -(gross - withheld));
            "Payroll journal"
        }
        3 => {
            line("469", "Rent for the month", amount);
            line("620", "Release of prepaid rent", -amount);
            "Prepayment release"
        }
        4 => {
            line("437", "Loan interest", amount / 4);
            line("900", "Interest added to the loan", -(amount / 4));
            "Loan interest"
        }
        _ => {
            let a = amount / 3;
            let b = amount - a;
            line("453", "Office expenses reclassified", a);
            line("461", "Stationery reclassified", b);
            line("429", "From general expenses", -(a + b));
            "Reclassification of general expenses"
        }
    };
    ManualJournal {
        manual_journal_id: org.id(t, index),
        narration: rev(small!(96, "{title} - {month} {y}"), version),
        date,
        status: "POSTED",
        line_amount_types: "NoTax",
        show_on_cash_basis_reports: rng.chance(50),
        journal_lines: lines,
        updated_date_utc: DateTime(modified),
    }
}

// ---------------------------------------------------------------------------------------------
// Bank accounts and transactions

fn bank_kind(a: u64) -> BankKind {
    BANK_KINDS.get(a as usize).copied().unwrap_or(FOREIGN_BANK)
}

/// The currencies other than the base, in a fixed order (foreign currency accounts cycle
/// through them).
fn foreign_currency(base: &str, n: u64) -> &'static str {
    let others: [&str; 4] = {
        let mut out = ["USD"; 4];
        let mut k = 0;
        for (code, _) in world::FX_PER_USD {
            if *code != base && k < out.len() {
                out[k] = code;
                k += 1;
            }
        }
        out
    };
    others[(n % 4) as usize]
}

fn bank_currency(org: &Org<'_>, a: u64) -> &'static str {
    if (a as usize) < BANK_KINDS.len() {
        org.country.currency
    } else {
        foreign_currency(org.country.currency, a - BANK_KINDS.len() as u64)
    }
}

/// The bank account money in `currency` goes to: the first account in that currency, else the
/// current account.
fn bank_account_for(org: &Org<'_>, currency: &str) -> u64 {
    if currency == org.country.currency {
        return 0;
    }
    let first_foreign = BANK_KINDS.len() as u64;
    (0..4)
        .map(|n| first_foreign + n)
        .find(|a| *a < org.count(DataType::BankAccounts) && bank_currency(org, *a) == currency)
        .unwrap_or(0)
}

fn bank_code(a: u64) -> SmallStr<8> {
    small!(8, "{:03}", 90 + a)
}

fn bank_name(org: &Org<'_>, a: u64) -> SmallStr<64> {
    let kind = bank_kind(a);
    if (a as usize) < BANK_KINDS.len() {
        small!(64, "{}", kind.name)
    } else {
        let n = (a - BANK_KINDS.len() as u64) / 4;
        let cur = bank_currency(org, a);
        if n == 0 {
            small!(64, "{cur} {}", kind.name)
        } else {
            small!(64, "{cur} {} {}", kind.name, n + 1)
        }
    }
}

/// The running balance of bank account `a` after its `k`-th transaction (`k == -1`: the
/// opening balance). Consecutive balances always differ, so no transaction is zero.
pub(crate) fn balance(org: &Org<'_>, a: u64, k: i64) -> i64 {
    let kind = bank_kind(a);
    if k < 0 {
        return kind.opening;
    }
    let mut rng = Rng::new(org.seed ^ 0xBA1A_11CE, a, k as u64);
    // Alternating parity: even swing, so consecutive values differ by an odd amount.
    let noise = 2 * rng.below(kind.swing as u64) as i64 + ((k + 1) & 1);
    kind.opening + noise - kind.swing
}

/// How many transactions bank account `a` has.
fn transactions_in(org: &Org<'_>, a: u64) -> u64 {
    let (t, b) = (
        org.count(DataType::BankTransactions),
        org.count(DataType::BankAccounts).max(1),
    );
    if a >= t { 0 } else { (t - a).div_ceil(b) }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BankAccount {
    #[serde(rename = "AccountID")]
    account_id: Guid,
    code: SmallStr<8>,
    name: SmallStr<64>,
    #[serde(rename = "Type")]
    kind: &'static str,
    bank_name: &'static str,
    bank_account_number: SmallStr<40>,
    currency_code: &'static str,
    opening_balance: Money,
    balance: Money,
    description: SmallStr<96>,
    status: &'static str,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

pub(crate) fn bank_account(org: &Org<'_>, a: u64, modified: i64, version: u32) -> BankAccount {
    let mut rng = Rng::new(org.seed, DataType::BankAccounts.tag(), a);
    let kind = bank_kind(a);
    let n = transactions_in(org, a);
    let number = if kind.kind == "CREDITCARD" {
        small!(40, "**** **** **** {:04}", rng.below(10_000))
    } else {
        match org.country.code {
            "GB" => small!(
                40,
                "{:02}-{:02}-{:02} {:08}",
                rng.range(10, 99),
                rng.below(100),
                rng.below(100),
                rng.below(100_000_000)
            ),
            "IE" => small!(
                40,
                "IE{:02} BOFI {:04} {:04} {:04} {:02}",
                rng.below(100),
                rng.below(10_000),
                rng.below(10_000),
                rng.below(10_000),
                rng.below(100)
            ),
            "AU" => small!(
                40,
                "{:03}-{:03} {:09}",
                rng.below(1000),
                rng.below(1000),
                rng.below(1_000_000_000)
            ),
            _ => small!(
                40,
                "{:09} {:010}",
                rng.below(1_000_000_000),
                rng.below(10_000_000_000)
            ),
        }
    };
    let description = match kind.kind {
        "CREDITCARD" => small!(96, "Company card for travel and subscriptions"),
        _ if a == 0 => small!(96, "Main operating account"),
        _ if a == 1 => small!(96, "Reserve account"),
        _ => small!(96, "Receipts and payments in {}", bank_currency(org, a)),
    };
    BankAccount {
        account_id: org.id(DataType::BankAccounts, a),
        code: bank_code(a),
        name: bank_name(org, a),
        kind: kind.kind,
        bank_name: rng.pick(org.country.bank_names),
        bank_account_number: number,
        currency_code: bank_currency(org, a),
        opening_balance: Money(kind.opening),
        balance: Money(balance(org, a, n as i64 - 1)),
        description: rev(description, version),
        status: "ACTIVE",
        updated_date_utc: DateTime(modified),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BankAccountRef {
    #[serde(rename = "AccountID")]
    account_id: Guid,
    code: SmallStr<8>,
    name: SmallStr<64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BankTransaction {
    #[serde(rename = "BankTransactionID")]
    bank_transaction_id: Guid,
    #[serde(rename = "Type")]
    kind: &'static str,
    bank_account: BankAccountRef,
    date: Date,
    description: SmallStr<112>,
    reference: SmallStr<48>,
    /// Always positive; `Type` says which way the money went.
    amount: Money,
    currency_code: &'static str,
    running_balance: Money,
    is_reconciled: bool,
    status: &'static str,
    #[serde(rename = "UpdatedDateUTC")]
    updated_date_utc: DateTime,
}

pub(crate) fn bank_transaction(
    org: &Org<'_>,
    i: u64,
    modified: i64,
    version: u32,
) -> BankTransaction {
    let t = DataType::BankTransactions;
    let b = org.count(DataType::BankAccounts).max(1);
    let (a, k) = (i % b, (i / b) as i64);
    let after = balance(org, a, k);
    let change = after - balance(org, a, k - 1);
    let mut rng = Rng::new(org.seed, t.tag(), i);
    let kind = bank_kind(a);
    let description = if change > 0 {
        match (kind.kind, a) {
            ("CREDITCARD", _) => small!(112, "Payment received - thank you"),
            (_, 1) => small!(112, "Interest and transfers in"),
            _ => {
                let customer = contact_core(
                    org,
                    DataType::Customers,
                    rng.below(org.count(DataType::Customers)),
                );
                small!(112, "{} {}", rng.pick(world::RECEIVE_KINDS), customer.name)
            }
        }
    } else {
        small!(
            112,
            "{} - {}",
            rng.pick(world::SPEND_KINDS),
            rng.pick(world::SPEND_PAYEES)
        )
    };
    BankTransaction {
        bank_transaction_id: org.id(t, i),
        kind: if change > 0 { "RECEIVE" } else { "SPEND" },
        bank_account: BankAccountRef {
            account_id: org.id(DataType::BankAccounts, a),
            code: bank_code(a),
            name: bank_name(org, a),
        },
        date: Date::of_ms(timing::instant(t, i, org.count(t))),
        description,
        reference: rev(small!(48, "FP{:010}", rng.below(10_000_000_000)), version),
        amount: Money(change.abs()),
        currency_code: bank_currency(org, a),
        running_balance: Money(after),
        is_reconciled: rng.chance(85),
        status: "AUTHORISED",
        updated_date_utc: DateTime(modified),
    }
}

/// The JSON key of a type's list in a response (`{"Invoices": [...]}`).
pub(crate) fn list_key(t: DataType) -> &'static str {
    match t {
        DataType::Company => "Organisations",
        DataType::ChartOfAccounts => "Accounts",
        DataType::TaxRates => "TaxRates",
        DataType::Customers | DataType::Suppliers => "Contacts",
        DataType::Invoices => "Invoices",
        DataType::Bills => "Bills",
        DataType::Payments => "Payments",
        DataType::CreditNotes => "CreditNotes",
        DataType::JournalEntries => "ManualJournals",
        DataType::BankAccounts => "BankAccounts",
        DataType::BankTransactions => "BankTransactions",
        _ => "Items",
    }
}

/// Rough size of one serialised record, to size the output buffer.
pub(crate) fn size_hint(t: DataType) -> usize {
    match t {
        DataType::Invoices | DataType::Bills | DataType::CreditNotes => 1400,
        DataType::Payments | DataType::Customers | DataType::Suppliers => 800,
        DataType::JournalEntries => 900,
        _ => 600,
    }
}

/// Writes record `index` of `t` as JSON. `modified` and `version` come from the record's
/// touch, if any (else the generated instant and 0).
pub(crate) fn write(
    org: &Org<'_>,
    t: DataType,
    index: u64,
    modified: i64,
    version: u32,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    match t {
        DataType::Company => serde_json::to_writer(out, &organisation(org)),
        DataType::ChartOfAccounts => {
            serde_json::to_writer(out, &account(org, index, modified, version))
        }
        DataType::TaxRates => serde_json::to_writer(out, &tax_rate(org, index, modified, version)),
        DataType::Customers | DataType::Suppliers => {
            serde_json::to_writer(out, &contact(org, t, index, modified, version))
        }
        DataType::Invoices | DataType::Bills => {
            serde_json::to_writer(out, &invoice(org, t, index, modified, version))
        }
        DataType::Payments => serde_json::to_writer(out, &payment(org, index, modified, version)),
        DataType::CreditNotes => {
            serde_json::to_writer(out, &credit_note(org, index, modified, version))
        }
        DataType::JournalEntries => {
            serde_json::to_writer(out, &manual_journal(org, index, modified, version))
        }
        DataType::BankAccounts => {
            serde_json::to_writer(out, &bank_account(org, index, modified, version))
        }
        DataType::BankTransactions => {
            serde_json::to_writer(out, &bank_transaction(org, index, modified, version))
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

    fn org_json(org: &Org<'_>, t: DataType, i: u64) -> Value {
        let mut out = Vec::new();
        let n = org.count(t);
        write(org, t, i, timing::modified(t, i, n), 0, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn cents(v: &Value) -> i64 {
        (v.as_f64().unwrap() * 100.0).round() as i64
    }

    #[test]
    fn ids_round_trip_per_type_and_seed() {
        let seed = 42;
        for t in [DataType::Invoices, DataType::Customers] {
            for i in [0u64, 1, 99_999, 9_999_999] {
                let id = record_id(seed, t, i);
                let s = id.0.to_string();
                assert_eq!(index_of(seed, t, &s), Some(i));
                assert_eq!(index_of(seed + 1, t, &s), None);
            }
        }
        let other = record_id(seed, DataType::Bills, 5).0.to_string();
        assert_eq!(index_of(seed, DataType::Invoices, &other), None);
        assert_eq!(index_of(seed, DataType::Invoices, "not-a-uuid"), None);
    }

    #[test]
    fn same_org_same_records_other_org_other_records() {
        let p = DataProfile::default();
        let a = Org::new("0b8f5a8e-0000-4000-8000-000000000001", "Acme", &p);
        let a2 = Org::new("0b8f5a8e-0000-4000-8000-000000000001", "Acme", &p);
        let b = Org::new("0b8f5a8e-0000-4000-8000-000000000002", "Acme", &p);
        for t in [
            DataType::Company,
            DataType::ChartOfAccounts,
            DataType::TaxRates,
            DataType::Customers,
            DataType::Suppliers,
            DataType::Invoices,
            DataType::Bills,
            DataType::Payments,
            DataType::CreditNotes,
            DataType::JournalEntries,
            DataType::BankAccounts,
            DataType::BankTransactions,
        ] {
            for i in [0, 1, 7] {
                let x = org_json(&a, t, i);
                assert_eq!(x, org_json(&a2, t, i), "{t} {i}");
                if t != DataType::Company {
                    assert_ne!(x, org_json(&b, t, i), "{t} {i}");
                }
            }
        }
    }

    #[test]
    fn invoices_add_up_and_payments_match() {
        let p = DataProfile::default();
        let mut paid_seen = 0;
        for tenant in ["t-1", "t-2", "t-3", "t-4", "t-5", "t-6"] {
            let org = Org::new(tenant, "Sums Ltd", &p);
            for t in [DataType::Invoices, DataType::Bills, DataType::CreditNotes] {
                for i in 0..org.count(t) {
                    let v = org_json(&org, t, i);
                    let lines = v["LineItems"].as_array().unwrap();
                    assert!((1..=MAX_LINES).contains(&lines.len()));
                    let (mut sub, mut tax) = (0, 0);
                    for l in lines {
                        let amount = cents(&l["LineAmount"]);
                        assert_eq!(
                            amount,
                            l["Quantity"].as_i64().unwrap() * cents(&l["UnitAmount"])
                        );
                        sub += amount;
                        tax += cents(&l["TaxAmount"]);
                        assert!(!l["AccountCode"].as_str().unwrap().is_empty());
                    }
                    assert_eq!(cents(&v["SubTotal"]), sub);
                    assert_eq!(cents(&v["TotalTax"]), tax);
                    assert_eq!(cents(&v["Total"]), sub + tax);
                    if t != DataType::CreditNotes {
                        assert_eq!(
                            cents(&v["AmountDue"]),
                            cents(&v["Total"])
                                - cents(&v["AmountPaid"])
                                - cents(&v["AmountCredited"])
                        );
                        if v["Status"] == "PAID" {
                            assert_eq!(cents(&v["AmountDue"]), 0);
                            assert!(
                                v["FullyPaidOnDate"].as_str().unwrap()
                                    >= v["Date"].as_str().unwrap()
                            );
                        }
                    }
                }
            }
            // Every payment pays exactly what its invoice says was paid.
            for pi in 0..org.count(DataType::Payments) {
                let pay = org_json(&org, DataType::Payments, pi);
                let inv_id = pay["Invoice"]["InvoiceID"].as_str().unwrap();
                let j = index_of(org.seed, DataType::Invoices, inv_id).unwrap();
                assert_eq!(payment_of_invoice(&org, j), Some(pi));
                let inv = org_json(&org, DataType::Invoices, j);
                assert_eq!(cents(&pay["Amount"]), cents(&inv["AmountPaid"]));
                assert_eq!(pay["Invoice"]["CurrencyCode"], inv["CurrencyCode"]);
                assert_eq!(pay["Invoice"]["Contact"], inv["Contact"]);
                assert!(pay["Date"].as_str().unwrap() >= inv["Date"].as_str().unwrap());
                assert!(
                    &pay["UpdatedDateUTC"].as_str().unwrap()[..10] >= pay["Date"].as_str().unwrap()
                );
                paid_seen += 1;
            }
            let unpaid_with_amount = (0..org.count(DataType::Invoices))
                .filter(|j| payment_of_invoice(&org, *j).is_none())
                .filter(|j| cents(&org_json(&org, DataType::Invoices, *j)["AmountPaid"]) != 0)
                .count();
            assert_eq!(unpaid_with_amount, 0);
        }
        assert_eq!(paid_seen, 6 * 300);
    }

    #[test]
    fn journals_balance_and_bank_balances_run() {
        let p = DataProfile {
            bank_accounts: 5,
            bank_transactions: 503,
            ..DataProfile::default()
        };
        let org = Org::new("bank-org", "Bank Ltd", &p);
        for i in 0..org.count(DataType::JournalEntries) {
            let v = org_json(&org, DataType::JournalEntries, i);
            let lines = v["JournalLines"].as_array().unwrap();
            assert!(lines.len() >= 2);
            assert_eq!(
                lines.iter().map(|l| cents(&l["LineAmount"])).sum::<i64>(),
                0
            );
        }
        let mut last: std::collections::BTreeMap<String, i64> = Default::default();
        for a in 0..5 {
            let acct = org_json(&org, DataType::BankAccounts, a);
            last.insert(
                acct["AccountID"].as_str().unwrap().to_owned(),
                cents(&acct["OpeningBalance"]),
            );
        }
        let mut prev_date = String::new();
        for i in 0..org.count(DataType::BankTransactions) {
            let v = org_json(&org, DataType::BankTransactions, i);
            let id = v["BankAccount"]["AccountID"].as_str().unwrap().to_owned();
            let before = last[&id];
            let amount = cents(&v["Amount"]);
            assert!(amount > 0);
            let signed = if v["Type"] == "RECEIVE" {
                amount
            } else {
                -amount
            };
            assert_eq!(before + signed, cents(&v["RunningBalance"]), "{i}");
            last.insert(id, cents(&v["RunningBalance"]));
            let date = v["Date"].as_str().unwrap().to_owned();
            assert!(date >= prev_date);
            prev_date = date;
        }
        for a in 0..5 {
            let acct = org_json(&org, DataType::BankAccounts, a);
            assert_eq!(
                cents(&acct["Balance"]),
                last[acct["AccountID"].as_str().unwrap()],
                "account {a}"
            );
        }
        let foreign = org_json(&org, DataType::BankAccounts, 3);
        assert_ne!(foreign["CurrencyCode"], org.country.currency);
    }

    #[test]
    fn several_currencies_and_countries_appear() {
        let p = DataProfile::default();
        let mut bases = std::collections::BTreeSet::new();
        let mut invoice_currencies = std::collections::BTreeSet::new();
        for k in 0..40 {
            let id = format!("tenant-{k}");
            let org = Org::new(&id, "Multi", &p);
            bases.insert(org.country.currency);
            for i in 0..50 {
                let v = org_json(&org, DataType::Invoices, i);
                invoice_currencies.insert(v["CurrencyCode"].as_str().unwrap().to_owned());
                if v["CurrencyCode"] == org.country.currency {
                    assert_eq!(v["CurrencyRate"], 1.0);
                }
            }
        }
        assert_eq!(bases.len(), 5, "{bases:?}");
        assert_eq!(invoice_currencies.len(), 5);
    }

    #[test]
    fn contacts_are_unique_and_realistic() {
        let p = DataProfile {
            customers: 4000,
            ..DataProfile::default()
        };
        let org = Org::new("names", "Names Ltd", &p);
        let mut names = std::collections::BTreeSet::new();
        for i in 0..4000 {
            assert!(names.insert(contact_core(&org, DataType::Customers, i).name.to_string()));
        }
        let v = org_json(&org, DataType::Customers, 3);
        assert!(v["EmailAddress"].as_str().unwrap().contains('@'));
        assert_eq!(v["IsCustomer"], true);
        assert!(!v["Addresses"][0]["City"].as_str().unwrap().is_empty());
        let touched = {
            let mut out = Vec::new();
            write(&org, DataType::Customers, 3, 1, 2, &mut out).unwrap();
            serde_json::from_slice::<Value>(&out).unwrap()
        };
        assert_ne!(touched["EmailAddress"], v["EmailAddress"]);
        assert_eq!(touched["Name"], v["Name"]);
        assert_eq!(touched["UpdatedDateUTC"], "1970-01-01T00:00:00.001Z");
        let org_v = org_json(&org, DataType::Company, 0);
        assert_eq!(org_v["OrganisationID"], "names");
        assert_eq!(org_v["Name"], "Names Ltd");
        assert_eq!(org_v["LegalName"], "Names Ltd");
    }
}
