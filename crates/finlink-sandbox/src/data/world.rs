//! The fixed tables generated data is drawn from: countries (currency, tax regime, cities,
//! conventions), names, the chart of accounts template, what companies sell and buy, bank
//! account kinds and payees. ASCII only, so generated strings never need escaping beyond JSON's.

/// A tax rate a country's companies use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaxRateDef {
    pub name: &'static str,
    pub tax_type: &'static str,
    /// Hundredths of a percent (20% is 2000).
    pub basis_points: i64,
    pub revenue: bool,
    pub expenses: bool,
    pub component: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct City {
    pub name: &'static str,
    pub region: &'static str,
    /// The first characters of its postal codes.
    pub postcode: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostcodeStyle {
    /// `LS1 4AP`: prefix, a digit, a space, a digit and two letters.
    Uk,
    /// `94107`: prefix and digits up to five.
    FiveDigits,
    /// `2000`: prefix and digits up to four.
    FourDigits,
    /// `D02 X285`: prefix, a space, a letter and three digits.
    Eircode,
    /// `M5V 2T6`: prefix, a digit, a letter, a space, digit letter digit.
    Canada,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Country {
    pub code: &'static str,
    pub name: &'static str,
    pub currency: &'static str,
    pub timezone: &'static str,
    /// Appended to short names ("Ltd"), and the legal form ("Limited").
    pub suffix: &'static str,
    pub legal_suffix: &'static str,
    pub tax_rates: &'static [TaxRateDef],
    /// Indexes into `tax_rates`.
    pub sales_tax: usize,
    pub reduced_sales_tax: usize,
    pub zero_sales_tax: usize,
    pub purchase_tax: usize,
    pub zero_purchase_tax: usize,
    /// Financial year end (day, month).
    pub year_end: (u32, u32),
    pub cities: &'static [City],
    pub postcode: PostcodeStyle,
    pub phone_prefix: &'static str,
    pub tax_number_prefix: &'static str,
    pub bank_names: &'static [&'static str],
}

const fn rate(
    name: &'static str,
    tax_type: &'static str,
    basis_points: i64,
    revenue: bool,
    expenses: bool,
    component: &'static str,
) -> TaxRateDef {
    TaxRateDef {
        name,
        tax_type,
        basis_points,
        revenue,
        expenses,
        component,
    }
}

const fn city(name: &'static str, region: &'static str, postcode: &'static str) -> City {
    City {
        name,
        region,
        postcode,
    }
}

const GB_TAX: &[TaxRateDef] = &[
    rate("20% (VAT on Income)", "OUTPUT2", 2000, true, false, "VAT"),
    rate("5% (VAT on Income)", "RROUTPUT", 500, true, false, "VAT"),
    rate(
        "Zero Rated Income",
        "ZERORATEDOUTPUT",
        0,
        true,
        false,
        "VAT",
    ),
    rate("20% (VAT on Expenses)", "INPUT2", 2000, false, true, "VAT"),
    rate(
        "Zero Rated Expenses",
        "ZERORATEDINPUT",
        0,
        false,
        true,
        "VAT",
    ),
    rate("Exempt Income", "EXEMPTOUTPUT", 0, true, false, "VAT"),
    rate("No VAT", "NONE", 0, true, true, "VAT"),
];

const US_TAX: &[TaxRateDef] = &[
    rate("Sales Tax", "OUTPUT", 825, true, false, "State Tax"),
    rate(
        "Reduced Sales Tax",
        "OUTPUTREDUCED",
        400,
        true,
        false,
        "State Tax",
    ),
    rate(
        "Tax Exempt Sales",
        "EXEMPTOUTPUT",
        0,
        true,
        false,
        "State Tax",
    ),
    rate(
        "Use Tax on Purchases",
        "INPUT",
        825,
        false,
        true,
        "State Tax",
    ),
    rate(
        "Tax Exempt Purchases",
        "EXEMPTINPUT",
        0,
        false,
        true,
        "State Tax",
    ),
    rate("No Tax", "NONE", 0, true, true, "State Tax"),
];

const IE_TAX: &[TaxRateDef] = &[
    rate("23% (VAT on Sales)", "OUTPUT", 2300, true, false, "VAT"),
    rate(
        "13.5% (VAT on Sales)",
        "OUTPUTREDUCED",
        1350,
        true,
        false,
        "VAT",
    ),
    rate("Zero Rated Sales", "ZERORATEDOUTPUT", 0, true, false, "VAT"),
    rate("23% (VAT on Purchases)", "INPUT", 2300, false, true, "VAT"),
    rate(
        "Zero Rated Purchases",
        "ZERORATEDINPUT",
        0,
        false,
        true,
        "VAT",
    ),
    rate("No VAT", "NONE", 0, true, true, "VAT"),
];

const AU_TAX: &[TaxRateDef] = &[
    rate("GST on Income", "OUTPUT", 1000, true, false, "GST"),
    rate("GST Free Income", "EXEMPTOUTPUT", 0, true, false, "GST"),
    rate("GST on Expenses", "INPUT", 1000, false, true, "GST"),
    rate("GST Free Expenses", "EXEMPTEXPENSES", 0, false, true, "GST"),
    rate("BAS Excluded", "BASEXCLUDED", 0, true, true, "GST"),
];

const CA_TAX: &[TaxRateDef] = &[
    rate("HST on Sales (ON)", "OUTPUT", 1300, true, false, "HST"),
    rate("GST on Sales", "GSTOUTPUT", 500, true, false, "GST"),
    rate("Zero Rated Sales", "ZERORATEDOUTPUT", 0, true, false, "GST"),
    rate("HST on Purchases (ON)", "INPUT", 1300, false, true, "HST"),
    rate(
        "Zero Rated Purchases",
        "ZERORATEDINPUT",
        0,
        false,
        true,
        "GST",
    ),
    rate("Tax Exempt", "NONE", 0, true, true, "GST"),
];

pub(crate) const COUNTRIES: &[Country] = &[
    Country {
        code: "GB",
        name: "United Kingdom",
        currency: "GBP",
        timezone: "Europe/London",
        suffix: "Ltd",
        legal_suffix: "Limited",
        tax_rates: GB_TAX,
        sales_tax: 0,
        reduced_sales_tax: 1,
        zero_sales_tax: 2,
        purchase_tax: 3,
        zero_purchase_tax: 4,
        year_end: (31, 3),
        cities: &[
            city("London", "Greater London", "EC1"),
            city("Manchester", "Greater Manchester", "M2"),
            city("Leeds", "West Yorkshire", "LS1"),
            city("Bristol", "Bristol", "BS1"),
            city("Birmingham", "West Midlands", "B3"),
            city("Edinburgh", "Midlothian", "EH2"),
            city("Glasgow", "Lanarkshire", "G1"),
            city("Cardiff", "South Glamorgan", "CF10"),
            city("Brighton", "East Sussex", "BN1"),
            city("Norwich", "Norfolk", "NR2"),
            city("Cambridge", "Cambridgeshire", "CB2"),
            city("York", "North Yorkshire", "YO1"),
        ],
        postcode: PostcodeStyle::Uk,
        phone_prefix: "+44 20 7946",
        tax_number_prefix: "GB",
        bank_names: &[
            "Barclays",
            "Lloyds Bank",
            "NatWest",
            "HSBC UK",
            "Starling Bank",
        ],
    },
    Country {
        code: "US",
        name: "United States",
        currency: "USD",
        timezone: "America/New_York",
        suffix: "Inc",
        legal_suffix: "Inc.",
        tax_rates: US_TAX,
        sales_tax: 0,
        reduced_sales_tax: 1,
        zero_sales_tax: 2,
        purchase_tax: 3,
        zero_purchase_tax: 4,
        year_end: (31, 12),
        cities: &[
            city("New York", "NY", "100"),
            city("San Francisco", "CA", "941"),
            city("Austin", "TX", "787"),
            city("Chicago", "IL", "606"),
            city("Seattle", "WA", "981"),
            city("Boston", "MA", "021"),
            city("Denver", "CO", "802"),
            city("Atlanta", "GA", "303"),
            city("Portland", "OR", "972"),
            city("Miami", "FL", "331"),
        ],
        postcode: PostcodeStyle::FiveDigits,
        phone_prefix: "+1 555 01",
        tax_number_prefix: "EIN ",
        bank_names: &[
            "Chase",
            "Bank of America",
            "Wells Fargo",
            "Silicon Valley Bank",
        ],
    },
    Country {
        code: "IE",
        name: "Ireland",
        currency: "EUR",
        timezone: "Europe/Dublin",
        suffix: "Ltd",
        legal_suffix: "Limited",
        tax_rates: IE_TAX,
        sales_tax: 0,
        reduced_sales_tax: 1,
        zero_sales_tax: 2,
        purchase_tax: 3,
        zero_purchase_tax: 4,
        year_end: (31, 12),
        cities: &[
            city("Dublin", "County Dublin", "D02"),
            city("Cork", "County Cork", "T12"),
            city("Galway", "County Galway", "H91"),
            city("Limerick", "County Limerick", "V94"),
            city("Waterford", "County Waterford", "X91"),
            city("Kilkenny", "County Kilkenny", "R95"),
        ],
        postcode: PostcodeStyle::Eircode,
        phone_prefix: "+353 1 555",
        tax_number_prefix: "IE",
        bank_names: &["AIB", "Bank of Ireland", "PTSB"],
    },
    Country {
        code: "AU",
        name: "Australia",
        currency: "AUD",
        timezone: "Australia/Sydney",
        suffix: "Pty Ltd",
        legal_suffix: "Pty Ltd",
        tax_rates: AU_TAX,
        sales_tax: 0,
        reduced_sales_tax: 0,
        zero_sales_tax: 1,
        purchase_tax: 2,
        zero_purchase_tax: 3,
        year_end: (30, 6),
        cities: &[
            city("Sydney", "NSW", "20"),
            city("Melbourne", "VIC", "30"),
            city("Brisbane", "QLD", "40"),
            city("Perth", "WA", "60"),
            city("Adelaide", "SA", "50"),
            city("Hobart", "TAS", "70"),
        ],
        postcode: PostcodeStyle::FourDigits,
        phone_prefix: "+61 2 5550",
        tax_number_prefix: "ABN ",
        bank_names: &["Commonwealth Bank", "Westpac", "ANZ", "NAB"],
    },
    Country {
        code: "CA",
        name: "Canada",
        currency: "CAD",
        timezone: "America/Toronto",
        suffix: "Inc",
        legal_suffix: "Inc.",
        tax_rates: CA_TAX,
        sales_tax: 0,
        reduced_sales_tax: 1,
        zero_sales_tax: 2,
        purchase_tax: 3,
        zero_purchase_tax: 4,
        year_end: (31, 12),
        cities: &[
            city("Toronto", "ON", "M5V"),
            city("Ottawa", "ON", "K1P"),
            city("Vancouver", "BC", "V6B"),
            city("Montreal", "QC", "H2Y"),
            city("Calgary", "AB", "T2P"),
            city("Halifax", "NS", "B3J"),
        ],
        postcode: PostcodeStyle::Canada,
        phone_prefix: "+1 416 555",
        tax_number_prefix: "BN ",
        bank_names: &["RBC", "TD Canada Trust", "Scotiabank", "BMO"],
    },
];

/// Units of each currency per US dollar (a fixed reference, jittered per document).
pub(crate) const FX_PER_USD: &[(&str, i64)] = &[
    ("USD", 1_000_000),
    ("GBP", 790_000),
    ("EUR", 920_000),
    ("AUD", 1_520_000),
    ("CAD", 1_360_000),
];

/// Units of `to` per unit of `from`, with six decimals, as a float.
pub(crate) fn fx_rate(from: &str, to: &str) -> f64 {
    let per = |c: &str| {
        FX_PER_USD
            .iter()
            .find(|(code, _)| *code == c)
            .map(|(_, v)| *v as f64)
            .unwrap_or(1_000_000.0)
    };
    per(to) / per(from)
}

pub(crate) const NAME_FIRST: &[&str] = &[
    "Bright",
    "Northern",
    "Blue",
    "Harbour",
    "Summit",
    "Oak",
    "Silver",
    "Red Kite",
    "Granite",
    "Meadow",
    "Atlas",
    "Pioneer",
    "Riverside",
    "Copper",
    "Lighthouse",
    "Evergreen",
    "Maple",
    "Falcon",
    "Orchard",
    "Beacon",
    "Cedar",
    "Horizon",
    "Kestrel",
    "Willow",
    "Juniper",
    "Quarry",
    "Hollow",
    "Bramble",
    "Ember",
    "Tidewater",
    "Foxglove",
    "Lark",
    "Ironbridge",
    "Saffron",
    "Thistle",
    "Wren",
    "Cobalt",
    "Ashford",
    "Birchwood",
    "Clearwater",
    "Driftwood",
    "Elmstead",
    "Fernhill",
    "Goldcrest",
    "Heron",
    "Indigo",
    "Kingfisher",
    "Larch",
    "Marlowe",
    "Nettle",
];

pub(crate) const CUSTOMER_SECOND: &[&str] = &[
    "Consulting",
    "Logistics",
    "Foods",
    "Design",
    "Engineering",
    "Traders",
    "Digital",
    "Builders",
    "Media",
    "Analytics",
    "Interiors",
    "Catering",
    "Motors",
    "Labs",
    "Textiles",
    "Studios",
    "Energy",
    "Garden Centre",
    "Dental",
    "Architects",
    "Events",
    "Fitness",
    "Bakery",
    "Hotels",
    "Veterinary",
    "Opticians",
    "Brewing",
    "Pharmacy",
    "Travel",
    "Academy",
];

pub(crate) const SUPPLIER_SECOND: &[&str] = &[
    "Wholesale",
    "Supplies",
    "Utilities",
    "Telecom",
    "Stationers",
    "Couriers",
    "Insurance",
    "Property",
    "Software",
    "Packaging",
    "Cleaning Services",
    "Accountants",
    "Solicitors",
    "Fleet Services",
    "Print Works",
    "Security",
    "IT Services",
    "Recruitment",
    "Hardware",
    "Freight",
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Sophia", "Grace", "Lily", "Freya", "Emily", "Noah",
    "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Archie", "Henry", "Jack", "Priya",
    "Aisha", "Chen", "Mateo", "Sofia", "Liam", "Nora", "Ethan", "Zara", "Samuel", "Hannah",
    "Daniel", "Chloe", "Lucas", "Ruby", "Isaac", "Maya", "Adam", "Ella", "Theo",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Nguyen", "Murphy", "Kelly", "O'Brien", "Garcia", "Martin",
    "Khan", "Lewis", "Hughes", "Edwards", "Hill", "Moore", "Clark", "Harris", "Scott",
];

pub(crate) const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Church Lane",
    "Park Avenue",
    "Victoria Road",
    "Mill Lane",
    "King Street",
    "Queens Road",
    "Market Place",
    "Bridge Street",
    "Harbour Way",
    "Elm Grove",
    "Main Street",
    "Oak Avenue",
    "Riverside Drive",
    "Canal Street",
    "Chapel Row",
    "North Road",
];

/// The kind of an account in the chart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccountDef {
    pub code: &'static str,
    pub name: &'static str,
    /// The platform's account type (`REVENUE`, `EXPENSE`, `CURRENT`, ...).
    pub kind: &'static str,
    /// `ASSET`, `LIABILITY`, `EQUITY`, `REVENUE` or `EXPENSE`.
    pub class: &'static str,
    pub description: &'static str,
    /// A reporting code, as accounting platforms group accounts for statements.
    pub reporting: &'static str,
}

const fn acct(
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    class: &'static str,
    description: &'static str,
    reporting: &'static str,
) -> AccountDef {
    AccountDef {
        code,
        name,
        kind,
        class,
        description,
        reporting,
    }
}

/// The chart of accounts every sandbox organisation starts with. Line items, journals and
/// payments refer to these codes; a larger chart adds sub-accounts after them.
pub(crate) const ACCOUNTS: &[AccountDef] = &[
    acct(
        "200",
        "Sales",
        "REVENUE",
        "REVENUE",
        "Income from the sale of products and services.",
        "REV.TRA",
    ),
    acct(
        "260",
        "Other Revenue",
        "OTHERINCOME",
        "REVENUE",
        "Income from activities outside normal trading.",
        "REV.OTH",
    ),
    acct(
        "270",
        "Interest Income",
        "OTHERINCOME",
        "REVENUE",
        "Interest earned on bank balances.",
        "REV.INV",
    ),
    acct(
        "300",
        "Cost of Goods Sold",
        "DIRECTCOSTS",
        "EXPENSE",
        "Cost of the goods sold in the period.",
        "EXP.COS",
    ),
    acct(
        "310",
        "Subcontractors",
        "DIRECTCOSTS",
        "EXPENSE",
        "Work bought in to deliver to customers.",
        "EXP.COS",
    ),
    acct(
        "400",
        "Advertising",
        "OVERHEADS",
        "EXPENSE",
        "Advertising and marketing.",
        "EXP.ADV",
    ),
    acct(
        "404",
        "Bank Fees",
        "OVERHEADS",
        "EXPENSE",
        "Bank account and card processing fees.",
        "EXP.BAN",
    ),
    acct(
        "408",
        "Cleaning",
        "OVERHEADS",
        "EXPENSE",
        "Cleaning of the premises.",
        "EXP.CLE",
    ),
    acct(
        "412",
        "Consulting & Accounting",
        "OVERHEADS",
        "EXPENSE",
        "Professional fees.",
        "EXP.PRO",
    ),
    acct(
        "416",
        "Depreciation",
        "OVERHEADS",
        "EXPENSE",
        "Depreciation of fixed assets.",
        "EXP.DEP",
    ),
    acct(
        "420",
        "Entertainment",
        "OVERHEADS",
        "EXPENSE",
        "Client entertainment.",
        "EXP.ENT",
    ),
    acct(
        "425",
        "Postage & Courier",
        "OVERHEADS",
        "EXPENSE",
        "Postage and deliveries.",
        "EXP.POS",
    ),
    acct(
        "429",
        "General Expenses",
        "OVERHEADS",
        "EXPENSE",
        "Costs not classified elsewhere.",
        "EXP.GEN",
    ),
    acct(
        "433",
        "Insurance",
        "OVERHEADS",
        "EXPENSE",
        "Business insurance premiums.",
        "EXP.INS",
    ),
    acct(
        "437",
        "Interest Expense",
        "OVERHEADS",
        "EXPENSE",
        "Interest on loans and overdrafts.",
        "EXP.INT",
    ),
    acct(
        "441",
        "Legal Expenses",
        "OVERHEADS",
        "EXPENSE",
        "Legal fees.",
        "EXP.LEG",
    ),
    acct(
        "445",
        "Light, Power, Heating",
        "OVERHEADS",
        "EXPENSE",
        "Utilities for the premises.",
        "EXP.UTI",
    ),
    acct(
        "449",
        "Motor Vehicle Expenses",
        "OVERHEADS",
        "EXPENSE",
        "Fuel and running costs of vehicles.",
        "EXP.MOT",
    ),
    acct(
        "453",
        "Office Expenses",
        "OVERHEADS",
        "EXPENSE",
        "Office supplies and sundries.",
        "EXP.OFF",
    ),
    acct(
        "461",
        "Printing & Stationery",
        "OVERHEADS",
        "EXPENSE",
        "Printing and stationery.",
        "EXP.PRI",
    ),
    acct(
        "469",
        "Rent",
        "OVERHEADS",
        "EXPENSE",
        "Rent of the premises.",
        "EXP.REN",
    ),
    acct(
        "473",
        "Repairs and Maintenance",
        "OVERHEADS",
        "EXPENSE",
        "Repairs to premises and equipment.",
        "EXP.REP",
    ),
    acct(
        "477",
        "Salaries",
        "OVERHEADS",
        "EXPENSE",
        "Gross wages and salaries.",
        "EXP.SAL",
    ),
    acct(
        "485",
        "Subscriptions",
        "OVERHEADS",
        "EXPENSE",
        "Software and membership subscriptions.",
        "EXP.SUB",
    ),
    acct(
        "489",
        "Telephone & Internet",
        "OVERHEADS",
        "EXPENSE",
        "Phone lines and broadband.",
        "EXP.TEL",
    ),
    acct(
        "493",
        "Travel",
        "OVERHEADS",
        "EXPENSE",
        "Business travel.",
        "EXP.TRA",
    ),
    acct(
        "610",
        "Accounts Receivable",
        "CURRENT",
        "ASSET",
        "Amounts owed by customers.",
        "ASS.CUR.REC",
    ),
    acct(
        "620",
        "Prepayments",
        "CURRENT",
        "ASSET",
        "Expenses paid in advance.",
        "ASS.CUR.PRE",
    ),
    acct(
        "630",
        "Inventory",
        "INVENTORY",
        "ASSET",
        "Goods held for sale.",
        "ASS.CUR.INY",
    ),
    acct(
        "710",
        "Office Equipment",
        "FIXED",
        "ASSET",
        "Office equipment at cost.",
        "ASS.NCA.FIX",
    ),
    acct(
        "711",
        "Accumulated Depreciation on Office Equipment",
        "FIXED",
        "ASSET",
        "Depreciation charged on office equipment.",
        "ASS.NCA.FIX.ACC",
    ),
    acct(
        "720",
        "Computer Equipment",
        "FIXED",
        "ASSET",
        "Computer equipment at cost.",
        "ASS.NCA.FIX",
    ),
    acct(
        "800",
        "Accounts Payable",
        "CURRLIAB",
        "LIABILITY",
        "Amounts owed to suppliers.",
        "LIA.CUR.PAY",
    ),
    acct(
        "814",
        "Wages Payable",
        "CURRLIAB",
        "LIABILITY",
        "Net wages owed to employees.",
        "LIA.CUR.EMP",
    ),
    acct(
        "820",
        "Sales Tax",
        "CURRLIAB",
        "LIABILITY",
        "Sales tax collected less tax paid.",
        "LIA.CUR.TAX",
    ),
    acct(
        "821",
        "Accruals",
        "CURRLIAB",
        "LIABILITY",
        "Expenses incurred but not yet invoiced.",
        "LIA.CUR.ACC",
    ),
    acct(
        "825",
        "Employee Tax Payable",
        "CURRLIAB",
        "LIABILITY",
        "Payroll taxes withheld.",
        "LIA.CUR.EMP",
    ),
    acct(
        "900",
        "Loan",
        "TERMLIAB",
        "LIABILITY",
        "Long-term bank loan.",
        "LIA.NCL.LOA",
    ),
    acct(
        "960",
        "Retained Earnings",
        "EQUITY",
        "EQUITY",
        "Profits kept in the business.",
        "EQU.RET",
    ),
    acct(
        "970",
        "Owner Funds Introduced",
        "EQUITY",
        "EQUITY",
        "Capital introduced by the owners.",
        "EQU.SHA",
    ),
];

/// Indexes into [`ACCOUNTS`] that a larger chart splits into sub-accounts.
pub(crate) const SUB_ACCOUNT_BASES: &[usize] = &[0, 5, 8, 12, 18, 22, 23, 25];

pub(crate) const DEPARTMENTS: &[&str] = &[
    "North",
    "South",
    "East",
    "West",
    "Online",
    "Retail",
    "Wholesale",
    "Projects",
    "Support",
    "Head Office",
];

/// Something a company sells or buys: a line description, its account code, and the unit
/// price range in minor units.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub description: &'static str,
    pub code: &'static str,
    pub account: &'static str,
    pub min_price: i64,
    pub max_price: i64,
    /// Sold at the reduced tax rate.
    pub reduced: bool,
}

const fn item(
    description: &'static str,
    code: &'static str,
    account: &'static str,
    min_price: i64,
    max_price: i64,
    reduced: bool,
) -> Item {
    Item {
        description,
        code,
        account,
        min_price,
        max_price,
        reduced,
    }
}

pub(crate) const SALES_ITEMS: &[Item] = &[
    item(
        "Consulting services (per day)",
        "CONS-DAY",
        "200",
        45_000,
        120_000,
        false,
    ),
    item("Project management", "PM-HR", "200", 6_500, 15_000, false),
    item("Website design", "WEB-DES", "200", 80_000, 450_000, false),
    item(
        "Monthly support retainer",
        "SUP-MON",
        "200",
        25_000,
        150_000,
        false,
    ),
    item(
        "Software licence (annual)",
        "LIC-ANN",
        "200",
        12_000,
        90_000,
        false,
    ),
    item("Training workshop", "TRN-WS", "200", 30_000, 180_000, false),
    item(
        "Hardware installation",
        "HW-INST",
        "200",
        15_000,
        60_000,
        false,
    ),
    item(
        "Printed brochures (box of 500)",
        "PRT-500",
        "200",
        9_000,
        25_000,
        true,
    ),
    item(
        "Catering for events (per head)",
        "CAT-HD",
        "200",
        1_500,
        6_000,
        true,
    ),
    item("Delivery charge", "DEL", "260", 500, 4_500, false),
    item("Sample pack", "SMP", "200", 1_000, 5_000, true),
    item(
        "Annual maintenance contract",
        "AMC",
        "200",
        60_000,
        300_000,
        false,
    ),
];

pub(crate) const PURCHASE_ITEMS: &[Item] = &[
    item("Office rent", "", "469", 150_000, 600_000, false),
    item("Electricity and gas", "", "445", 15_000, 90_000, false),
    item("Broadband and phone lines", "", "489", 4_000, 25_000, false),
    item("Accountancy fees", "", "412", 50_000, 250_000, false),
    item("Legal advice", "", "441", 30_000, 200_000, false),
    item(
        "Stationery and printer toner",
        "",
        "461",
        2_000,
        20_000,
        false,
    ),
    item("Office supplies", "", "453", 1_500, 30_000, false),
    item("Courier deliveries", "", "425", 1_000, 15_000, false),
    item("Insurance premium", "", "433", 20_000, 180_000, false),
    item("Cleaning contract", "", "408", 8_000, 40_000, false),
    item("Software subscriptions", "", "485", 1_000, 50_000, false),
    item("Subcontracted work", "", "310", 50_000, 500_000, false),
    item("Stock purchases", "", "300", 20_000, 800_000, false),
    item("Vehicle fuel", "", "449", 4_000, 25_000, false),
    item("Equipment repairs", "", "473", 5_000, 80_000, false),
    item("Advertising campaign", "", "400", 20_000, 400_000, false),
];

/// Bank account kinds, in the order an organisation's bank accounts are created: a current
/// account, a savings account, a credit card, then foreign currency accounts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BankKind {
    pub name: &'static str,
    pub kind: &'static str,
    /// Opening balance in minor units, and how far the balance wanders.
    pub opening: i64,
    pub swing: i64,
}

pub(crate) const BANK_KINDS: &[BankKind] = &[
    BankKind {
        name: "Business Current Account",
        kind: "BANK",
        opening: 2_500_000,
        swing: 400_000,
    },
    BankKind {
        name: "Business Savings Account",
        kind: "BANK",
        opening: 8_000_000,
        swing: 150_000,
    },
    BankKind {
        name: "Company Credit Card",
        kind: "CREDITCARD",
        opening: -150_000,
        swing: 60_000,
    },
];

/// A foreign currency account beyond [`BANK_KINDS`].
pub(crate) const FOREIGN_BANK: BankKind = BankKind {
    name: "Currency Account",
    kind: "BANK",
    opening: 1_000_000,
    swing: 250_000,
};

pub(crate) const SPEND_PAYEES: &[&str] = &[
    "Amazon Web Services",
    "Google Workspace",
    "Microsoft 365",
    "Staples",
    "Shell",
    "Uber",
    "Zoom Video",
    "Slack Technologies",
    "Royal Mail",
    "FedEx",
    "Adobe",
    "Dropbox",
    "Costco",
    "Premier Inn",
    "Trainline",
    "Deliveroo",
    "IKEA",
    "Screwfix",
    "Apple Store",
    "LinkedIn Ads",
];

pub(crate) const SPEND_KINDS: &[&str] = &[
    "Card payment",
    "Direct debit",
    "Standing order",
    "Bank transfer",
];

pub(crate) const RECEIVE_KINDS: &[&str] =
    &["Faster payment from", "Transfer from", "Card settlement"];

pub(crate) const PRODUCT_ADJECTIVES: &[&str] = &[
    "Classic", "Organic", "Handmade", "Deluxe", "Everyday", "Vintage", "Recycled", "Premium",
    "Travel", "Studio", "Heritage", "Coastal",
];

/// Shop products: a name, a category, unit price range in minor units, whether zero-rated.
pub(crate) const PRODUCT_NOUNS: &[(&str, &str, i64, i64, bool)] = &[
    ("Coffee Beans 1kg", "Food & Drink", 1_200, 2_800, true),
    ("Ceramic Mug", "Homeware", 800, 2_400, false),
    ("Linen Tea Towel", "Homeware", 600, 1_800, false),
    ("Notebook A5", "Stationery", 500, 1_900, false),
    ("Cotton T-Shirt", "Clothing", 1_500, 3_500, false),
    ("Wool Scarf", "Clothing", 2_500, 6_500, false),
    ("Scented Candle", "Homeware", 1_400, 3_800, false),
    ("Leather Wallet", "Accessories", 2_900, 7_900, false),
    ("Children's Book", "Books", 599, 1_499, true),
    ("Tote Bag", "Accessories", 900, 2_900, false),
    ("Olive Oil 500ml", "Food & Drink", 700, 1_900, true),
    ("Desk Lamp", "Homeware", 2_900, 8_900, false),
    ("Water Bottle", "Accessories", 1_200, 3_200, false),
    ("Chocolate Gift Box", "Food & Drink", 1_000, 3_500, true),
];

pub(crate) const CARD_BRANDS: &[&str] = &["visa", "mastercard", "amex"];

pub(crate) const SHIPPING: &[(&str, i64)] = &[
    ("Standard Delivery", 399),
    ("Express Delivery", 799),
    ("Click & Collect", 0),
];

pub(crate) const LINES_OF_BUSINESS: &[&str] = &[
    "Professional services",
    "Software and IT services",
    "Wholesale trade",
    "Creative agency",
    "Engineering consultancy",
    "Hospitality",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for c in COUNTRIES {
            for i in [
                c.sales_tax,
                c.reduced_sales_tax,
                c.zero_sales_tax,
                c.purchase_tax,
                c.zero_purchase_tax,
            ] {
                assert!(i < c.tax_rates.len(), "{}", c.code);
            }
            assert!(c.tax_rates[c.sales_tax].revenue);
            assert!(c.tax_rates[c.purchase_tax].expenses);
            assert!(FX_PER_USD.iter().any(|(code, _)| *code == c.currency));
            assert!(!c.cities.is_empty() && !c.bank_names.is_empty());
        }
        let codes: std::collections::BTreeSet<&str> = ACCOUNTS.iter().map(|a| a.code).collect();
        assert_eq!(codes.len(), ACCOUNTS.len());
        for i in SALES_ITEMS.iter().chain(PURCHASE_ITEMS) {
            assert!(codes.contains(i.account), "{}", i.account);
            assert!(i.min_price <= i.max_price);
        }
        for b in SUB_ACCOUNT_BASES {
            assert!(*b < ACCOUNTS.len());
        }
        assert!((fx_rate("USD", "GBP") - 0.79).abs() < 1e-9);
    }
}
