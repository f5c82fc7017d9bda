#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The connectors against a real sandbox on a loopback port: full pulls, mapped values, faults
//! (429, 5xx, invalid tokens), resume, modified-since and budgets. Time is a `ManualClock`;
//! waits go through a `ClockSleeper`, so nothing sleeps on the wall clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use finlink_domain::data::accounting::{BankAccountType, InvoiceStatus};
use finlink_domain::data::banking::BankingAccountType;
use finlink_domain::data::{DataType, DatasetStatus, Record};
use finlink_domain::integration::ClientAuthMethod;
use finlink_domain::{Clock, ManualClock, Timestamp};
use finlink_providers::Catalog;
use finlink_providers::connectors::{
    Budget, ClockSleeper, ConnectionContext, Connector, ConnectorEnv, ConnectorRegistry,
    IntegrationBudgets, Page, PageItem, Progress, PullError, PullRequest, PullSink, RateLimiter,
    RetryPolicy, SinkError, StaticToken, TokenError, TokenSource,
};
use finlink_providers::oauth::{OAuthClient, OAuthError, TokenEndpoint};
use finlink_sandbox::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DataFailure, DataFailureKind, DataProfileUpdate,
    DataType as SandboxType, MintedGrant, Sandbox, SandboxConfig, TouchSelection,
};
use finlink_vault::SecretString;
use serde_json::{Value, json};

const START_MS: i64 = 1_800_000_000_000;

struct Env {
    sandbox: Sandbox,
    clock: ManualClock,
    sleeper: ClockSleeper,
    base: String,
    registry: ConnectorRegistry,
}

async fn start() -> Env {
    start_with(ConnectorRegistry::default_limits(), RetryPolicy::default()).await
}

async fn start_with(limits: finlink_providers::connectors::RateLimits, retry: RetryPolicy) -> Env {
    let clock = ManualClock::new(Timestamp::from_millis(START_MS));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let sandbox = Sandbox::open(None, SandboxConfig::default(), Arc::clone(&shared)).unwrap();
    let app = Router::new().nest("/sandbox", sandbox.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    let sleeper = ClockSleeper::new(clock.clone());
    let env = ConnectorEnv {
        base_url: base.clone(),
        clock: Arc::clone(&shared),
        sleeper: Arc::new(sleeper.clone()),
        limiter: Arc::new(RateLimiter::new(limits, shared)),
        retry,
        timeout: Duration::from_secs(30),
    };
    let registry = ConnectorRegistry::built_in(&Catalog::built_in().unwrap(), &env).unwrap();
    Env {
        sandbox,
        clock,
        sleeper,
        base,
        registry,
    }
}

fn update(v: Value) -> DataProfileUpdate {
    serde_json::from_value(v).unwrap()
}

/// A grant's tokens, refreshed at the sandbox's token endpoint when a data request is refused
/// (what finlink's single-flight lifecycle path does, minus the storage).
struct GrantTokens {
    oauth: OAuthClient,
    endpoint: TokenEndpoint,
    tokens: tokio::sync::Mutex<(SecretString, SecretString)>,
    rejections: AtomicU32,
    refreshes: AtomicU32,
}

impl GrantTokens {
    fn new(base: &str, grant: &MintedGrant) -> Arc<Self> {
        Arc::new(Self {
            oauth: OAuthClient::new(Duration::from_secs(10)).unwrap(),
            endpoint: TokenEndpoint {
                url: format!("{base}/sandbox/oauth/token"),
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_secret: Some(SecretString::from(DEFAULT_CLIENT_SECRET.to_owned())),
                auth: ClientAuthMethod::ClientSecretBasic,
            },
            tokens: tokio::sync::Mutex::new((
                SecretString::from(grant.access_token.clone()),
                SecretString::from(grant.refresh_token.clone()),
            )),
            rejections: AtomicU32::new(0),
            refreshes: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl TokenSource for GrantTokens {
    async fn token(&self) -> Result<SecretString, TokenError> {
        Ok(self.tokens.lock().await.0.clone())
    }

    async fn rejected(&self, token: &SecretString) -> Result<(), TokenError> {
        self.rejections.fetch_add(1, Ordering::SeqCst);
        let mut t = self.tokens.lock().await;
        if t.0.expose() != token.expose() {
            return Ok(());
        }
        match self.oauth.refresh(&self.endpoint, &t.1).await {
            Ok(r) => {
                t.0 = r.access_token;
                if let Some(rt) = r.refresh_token {
                    t.1 = rt;
                }
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(OAuthError::Rejected { error, .. }) => Err(TokenError::Rejected(error)),
            Err(e) => Err(TokenError::Unavailable(e.to_string())),
        }
    }
}

/// Keeps every page; fails on `fail_at` (a crash while storing).
#[derive(Default)]
struct Collect {
    pages: Vec<Page>,
    progress: Vec<Progress>,
    fail_at: Option<u32>,
}

#[async_trait]
impl PullSink for Collect {
    async fn page(&mut self, page: Page) -> Result<(), SinkError> {
        if self.fail_at == Some(page.number) {
            return Err(SinkError(String::from("the database went away")));
        }
        self.pages.push(page);
        Ok(())
    }

    fn progress(&mut self, progress: &Progress) {
        self.progress.push(*progress);
    }
}

impl Collect {
    fn items(&self) -> impl Iterator<Item = &PageItem> {
        self.pages.iter().flat_map(|p| p.items.iter())
    }

    fn ids(&self) -> Vec<String> {
        self.items().map(|i| i.source_id.clone()).collect()
    }

    fn numbers(&self) -> Vec<u32> {
        self.pages.iter().map(|p| p.number).collect()
    }

    fn records(&self) -> Vec<Record> {
        self.items().map(|i| i.record.clone()).collect()
    }
}

fn assert_unique(ids: &[String], what: &str) {
    let set: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(set.len(), ids.len(), "{what}: duplicate ids");
}

struct Accounting {
    env: Env,
    grant: MintedGrant,
    tokens: Arc<GrantTokens>,
}

impl Accounting {
    fn connection(&self) -> ConnectionContext {
        let tokens: Arc<dyn TokenSource> = Arc::clone(&self.tokens) as Arc<dyn TokenSource>;
        ConnectionContext::new("conn-accounting", tokens)
            .with_setting("tenantId", &self.grant.tenant_id)
    }

    fn connector(&self, t: DataType) -> Arc<dyn Connector> {
        self.env.registry.connector("mqjo", t).unwrap()
    }

    async fn pull(
        &self,
        request: PullRequest,
    ) -> (
        Result<finlink_providers::connectors::PullSummary, PullError>,
        Collect,
    ) {
        let mut sink = Collect::default();
        let r = self
            .connector(request.data_type)
            .pull(&self.connection(), &request, &mut sink)
            .await;
        (r, sink)
    }

    async fn pull_all(&self, t: DataType, page_size: u32) -> Collect {
        let (r, sink) = self.pull(PullRequest::full(t).page_size(page_size)).await;
        let summary = r.unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(summary.records, sink.items().count() as u64);
        assert_eq!(
            summary.rejected,
            0,
            "{t}: {:?}",
            sink.pages
                .iter()
                .flat_map(|p| &p.rejected)
                .collect::<Vec<_>>()
        );
        sink
    }

    async fn requests(&self, t: &str) -> u64 {
        self.env
            .sandbox
            .stats()
            .data_requests_by_type
            .get(t)
            .copied()
            .unwrap_or(0)
    }
}

async fn accounting(data: Value) -> Accounting {
    accounting_in(start().await, data).await
}

async fn accounting_in(env: Env, data: Value) -> Accounting {
    let grant = env
        .sandbox
        .mint_with_data("Quarry Labs Ltd", &update(data))
        .await
        .unwrap();
    let tokens = GrantTokens::new(&env.base, &grant);
    Accounting { env, grant, tokens }
}

fn sandbox_type(t: DataType) -> SandboxType {
    SandboxType::parse(match t {
        DataType::BankingAccounts => "bankAccounts",
        DataType::BankingTransactions => "bankTransactions",
        other => other.as_str(),
    })
    .unwrap()
}

#[tokio::test]
async fn full_pulls_match_the_sandbox() {
    let a = accounting(json!({
        "invoices": 250, "bills": 130, "payments": 180, "creditNotes": 45, "journalEntries": 70,
        "customers": 120, "suppliers": 60, "chartOfAccounts": 150, "bankAccounts": 4,
        "bankTransactions": 330
    }))
    .await;
    let counts = a.env.sandbox.data_counts(&a.grant.tenant_id).await.unwrap();
    let mut types = a.env.registry.data_types("mqjo");
    types.sort();
    assert_eq!(types.len(), 14);
    for t in types {
        let sink = a.pull_all(t, 100).await;
        let expected = counts[&sandbox_type(t)];
        let ids = sink.ids();
        assert_eq!(ids.len() as u64, expected, "{t}");
        assert_unique(&ids, t.as_str());
        assert!(sink.items().all(|i| i.record.data_type() == t), "{t}");
        // Pages 1..n in order, the last one last; progress after each.
        let n = sink.pages.len() as u32;
        assert_eq!(sink.numbers(), (1..=n).collect::<Vec<_>>(), "{t}");
        assert!(sink.pages.last().unwrap().is_last);
        assert!(
            sink.pages
                .iter()
                .rev()
                .skip(1)
                .all(|p| !p.is_last && p.resume_from == Some(p.number + 1))
        );
        let last = sink.progress.last().unwrap();
        assert_eq!(last.records, expected);
        assert_eq!(last.pages_done, n);
        if !t.is_single() {
            assert_eq!(last.total_records, Some(expected), "{t}");
            assert_eq!(last.percent(), Some(100));
            assert_eq!(n as u64, expected.div_ceil(100).max(1), "{t}");
        }
        // The raw record is the sandbox's, byte for byte (spot check of the first).
        if !t.is_single() {
            let first = &sink.pages[0].items[0];
            let generated = a
                .env
                .sandbox
                .data_record(&a.grant.tenant_id, sandbox_type(t), 0)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(first.raw, generated, "{t}");
        }
        // Every mapped record reads back from its JSON.
        for item in sink.items() {
            let json = item.record.to_json();
            assert_eq!(Record::from_json(t, &json).unwrap(), item.record, "{t}");
        }
    }
}

#[tokio::test]
async fn accounting_values_are_mapped() {
    let a = accounting(
        json!({"invoices": 300, "payments": 200, "bankAccounts": 5, "bankTransactions": 400}),
    )
    .await;
    let tenant = a.grant.tenant_id.clone();
    let info = a.env.sandbox.data_info(&tenant).await.unwrap();

    // Company info.
    let company = a.pull_all(DataType::Company, 100).await.records();
    let Record::Company(c) = &company[0] else {
        panic!()
    };
    assert_eq!(c.company_name.as_deref(), Some("Quarry Labs Ltd"));
    assert_eq!(
        c.base_currency.as_deref(),
        Some(info.base_currency.as_str())
    );
    assert_eq!(c.accounting_platform_ref.as_deref(), Some(tenant.as_str()));
    let fy = c.financial_year_start_date.as_deref().unwrap();
    assert!(fy.ends_with("T00:00:00") && fy.starts_with("202"), "{fy}");
    assert!(c.addresses.as_ref().is_some_and(|a| !a.is_empty()));

    // Reference data, to check the refs against.
    let chart: HashMap<String, (String, String)> = a
        .pull_all(DataType::ChartOfAccounts, 1000)
        .await
        .records()
        .into_iter()
        .map(|r| match r {
            Record::Account(a) => (a.id.clone(), (a.nominal_code.unwrap(), a.name.unwrap())),
            _ => panic!(),
        })
        .collect();
    let tax: HashMap<String, (String, f64)> = a
        .pull_all(DataType::TaxRates, 1000)
        .await
        .records()
        .into_iter()
        .map(|r| match r {
            Record::TaxRate(t) => (
                t.id.clone(),
                (t.code.unwrap(), t.effective_tax_rate.unwrap()),
            ),
            _ => panic!(),
        })
        .collect();

    // Invoices against what the sandbox generated.
    let invoices = a.pull_all(DataType::Invoices, 1000).await;
    let by_id: HashMap<String, &PageItem> =
        invoices.items().map(|i| (i.source_id.clone(), i)).collect();
    let mut statuses = BTreeSet::new();
    let mut currencies = BTreeSet::new();
    for item in invoices.items() {
        let Record::Invoice(inv) = &item.record else {
            panic!()
        };
        let raw = &item.raw;
        statuses.insert(inv.status);
        currencies.insert(inv.currency.clone().unwrap());
        assert_eq!(inv.id, raw["InvoiceID"]);
        assert_eq!(inv.invoice_number.as_deref(), raw["InvoiceNumber"].as_str());
        assert_eq!(inv.total_amount, raw["Total"].as_f64().unwrap());
        assert_eq!(inv.amount_due, raw["AmountDue"].as_f64().unwrap());
        assert_eq!(inv.total_tax_amount, raw["TotalTax"].as_f64().unwrap());
        assert_eq!(inv.currency.as_deref(), raw["CurrencyCode"].as_str());
        let cref = inv.customer_ref.as_ref().unwrap();
        assert_eq!(cref.id, raw["Contact"]["ContactID"]);
        assert_eq!(
            cref.company_name.as_deref(),
            raw["Contact"]["Name"].as_str()
        );
        assert_eq!(
            inv.issue_date,
            format!("{}T00:00:00", raw["Date"].as_str().unwrap())
        );
        let rate = raw["CurrencyRate"].as_f64().unwrap();
        let codat_rate = inv.currency_rate.unwrap();
        assert!(
            (codat_rate * rate - 1.0).abs() < 1e-6,
            "{codat_rate} x {rate}"
        );
        if inv.currency.as_deref() == Some(info.base_currency.as_str()) {
            assert_eq!(codat_rate, 1.0);
        }
        match raw["Status"].as_str().unwrap() {
            "PAID" => {
                assert_eq!(inv.status, InvoiceStatus::Paid);
                assert_eq!(
                    inv.paid_on_date.as_deref().unwrap(),
                    format!("{}T00:00:00", raw["FullyPaidOnDate"].as_str().unwrap())
                );
            }
            "AUTHORISED" if raw["AmountPaid"].as_f64().unwrap() > 0.0 => {
                assert_eq!(inv.status, InvoiceStatus::PartiallyPaid)
            }
            "AUTHORISED" | "SUBMITTED" => assert_eq!(inv.status, InvoiceStatus::Submitted),
            "DRAFT" => assert_eq!(inv.status, InvoiceStatus::Draft),
            other => panic!("{other}"),
        }
        let lines = inv.line_items.as_ref().unwrap();
        assert_eq!(lines.len(), raw["LineItems"].as_array().unwrap().len());
        let mut total_cents = 0i64;
        for (l, rl) in lines.iter().zip(raw["LineItems"].as_array().unwrap()) {
            total_cents += (l.total_amount.unwrap() * 100.0).round() as i64;
            let account = l.account_ref.as_ref().unwrap();
            let (code, name) = &chart[account.id.as_ref().unwrap()];
            assert_eq!(code, rl["AccountCode"].as_str().unwrap());
            assert_eq!(account.name.as_ref(), Some(name));
            let tr = l.tax_rate_ref.as_ref().unwrap();
            let (tax_code, pct) = &tax[tr.id.as_ref().unwrap()];
            assert_eq!(tax_code, rl["TaxType"].as_str().unwrap());
            assert_eq!(tr.effective_tax_rate, Some(*pct));
            assert_eq!(l.sub_total, rl["LineAmount"].as_f64());
        }
        assert_eq!(
            total_cents,
            (inv.total_amount * 100.0).round() as i64,
            "{}",
            inv.id
        );
    }
    for s in [
        InvoiceStatus::Paid,
        InvoiceStatus::PartiallyPaid,
        InvoiceStatus::Submitted,
        InvoiceStatus::Draft,
    ] {
        assert!(statuses.contains(&s), "no {s} invoice among {statuses:?}");
    }
    assert!(
        currencies.len() > 1,
        "foreign currency invoices: {currencies:?}"
    );

    // Payments link to invoices and pay what the invoices say was paid.
    let bank = a.pull_all(DataType::BankAccounts, 1000).await;
    let bank_ids: BTreeSet<String> = bank.ids().into_iter().collect();
    for item in a.pull_all(DataType::Payments, 1000).await.items() {
        let Record::Payment(p) = &item.record else {
            panic!()
        };
        let line = &p.lines.as_ref().unwrap()[0];
        let link = &line.links.as_ref().unwrap()[0];
        let invoice = by_id[link.id.as_ref().unwrap()];
        let Record::Invoice(inv) = &invoice.record else {
            panic!()
        };
        assert_eq!(link.amount, Some(-p.total_amount.unwrap()));
        assert_eq!(line.amount, p.total_amount.unwrap());
        let paid = ((inv.total_amount - inv.amount_due) * 100.0).round();
        assert_eq!((p.total_amount.unwrap() * 100.0).round(), paid, "{}", p.id);
        assert_eq!(p.currency, inv.currency);
        assert_eq!(p.customer_ref, inv.customer_ref);
        assert!(bank_ids.contains(p.account_ref.as_ref().unwrap().id.as_ref().unwrap()));
        assert!(p.date >= inv.issue_date);
    }

    // Journals balance, on accounts of the chart.
    for r in a.pull_all(DataType::JournalEntries, 1000).await.records() {
        let Record::JournalEntry(j) = r else { panic!() };
        let lines = j.journal_lines.unwrap();
        assert_eq!(
            lines
                .iter()
                .map(|l| (l.net_amount * 100.0).round() as i64)
                .sum::<i64>(),
            0
        );
        for l in lines {
            let account = l.account_ref.unwrap();
            assert_eq!(
                account.name.as_ref(),
                Some(&chart[account.id.as_ref().unwrap()].1)
            );
            assert_eq!(l.currency.as_deref(), Some(info.base_currency.as_str()));
        }
    }

    // Bank transactions run their accounts' balances in Codat's signs: Debit accounts add the
    // amount, Credit accounts (the card) subtract it; the last balance is the account's.
    let types: HashMap<String, (BankAccountType, f64)> = bank
        .records()
        .into_iter()
        .map(|r| match r {
            Record::BankAccount(b) => (b.id, (b.account_type.unwrap(), b.balance.unwrap())),
            _ => panic!(),
        })
        .collect();
    assert!(types.values().any(|(t, _)| *t == BankAccountType::Credit));
    let mut last: HashMap<String, f64> = HashMap::new();
    for r in a.pull_all(DataType::BankTransactions, 1000).await.records() {
        let Record::BankTransaction(t) = r else {
            panic!()
        };
        let account = t.account_id.unwrap();
        let (kind, _) = types[&account];
        if let Some(before) = last.get(&account) {
            let expected = match kind {
                BankAccountType::Credit => before - t.amount.unwrap(),
                _ => before + t.amount.unwrap(),
            };
            assert!((expected - t.balance.unwrap()).abs() < 0.005, "{}", t.id);
        }
        last.insert(account, t.balance.unwrap());
    }
    for (id, (_, balance)) in &types {
        assert!((last[id] - balance).abs() < 0.005, "{id}");
    }

    // The Banking API's view of the same accounts.
    for r in a.pull_all(DataType::BankingAccounts, 1000).await.records() {
        let Record::BankingAccount(b) = r else {
            panic!()
        };
        let (kind, balance) = types[&b.id];
        assert_eq!(b.balance.current, Some(balance));
        assert_eq!(
            b.account_type,
            if kind == BankAccountType::Credit {
                BankingAccountType::Credit
            } else {
                BankingAccountType::Debit
            }
        );
        assert_eq!(b.holder.as_deref(), Some("Quarry Labs Ltd"));
    }
    let banking = a.pull_all(DataType::BankingTransactions, 1000).await;
    assert_eq!(banking.items().count(), 400);
    for item in banking.items() {
        let Record::BankingTransaction(t) = &item.record else {
            panic!()
        };
        let signed = if item.raw["Type"] == "RECEIVE" {
            1.0
        } else {
            -1.0
        } * item.raw["Amount"].as_f64().unwrap();
        assert_eq!(t.amount, Some(signed));
        assert_eq!(t.currency, item.raw["CurrencyCode"]);
    }
}

struct Commerce {
    env: Env,
    store_id: String,
    key: String,
}

impl Commerce {
    async fn pull(
        &self,
        request: PullRequest,
        key: &str,
    ) -> (
        Result<finlink_providers::connectors::PullSummary, PullError>,
        Collect,
    ) {
        let connection = ConnectionContext::new(
            "conn-shop",
            Arc::new(StaticToken::new(SecretString::from(key.to_owned()))),
        );
        let mut sink = Collect::default();
        let r = self
            .env
            .registry
            .connector("aiwb", request.data_type)
            .unwrap()
            .pull(&connection, &request, &mut sink)
            .await;
        (r, sink)
    }
}

async fn commerce(data: Value) -> Commerce {
    let env = start().await;
    let store = env
        .sandbox
        .mint_commerce_store(Some("Corner Shop"))
        .await
        .unwrap();
    env.sandbox
        .set_data_profile(&store.store_id, &update(data))
        .await
        .unwrap();
    Commerce {
        store_id: store.store_id.clone(),
        key: store.api_key.clone(),
        env,
    }
}

#[tokio::test]
async fn commerce_pulls_match_and_map() {
    let c = commerce(json!({"commerce-orders": 230, "commerce-payments": 200, "commerce-customers": 90, "commerce-products": 45})).await;
    let counts = c.env.sandbox.data_counts(&c.store_id).await.unwrap();
    let mut pulled: BTreeMap<DataType, Collect> = BTreeMap::new();
    for t in c.env.registry.data_types("aiwb") {
        let (r, sink) = c.pull(PullRequest::full(t).page_size(50), &c.key).await;
        r.unwrap_or_else(|e| panic!("{t}: {e}"));
        let ids = sink.ids();
        assert_eq!(ids.len() as u64, counts[&sandbox_type(t)], "{t}");
        assert_unique(&ids, t.as_str());
        assert!(sink.pages.iter().all(|p| p.rejected.is_empty()), "{t}");
        pulled.insert(t, sink);
    }
    let Record::CommerceCompanyInfo(shop) = &pulled[&DataType::CommerceCompanyInfo].records()[0]
    else {
        panic!()
    };
    assert_eq!(shop.company_name.as_deref(), Some("Corner Shop"));
    assert_eq!(shop.base_currency.as_deref(), Some("GBP"));
    assert_eq!(
        shop.commerce_platform_ref.as_deref(),
        Some(c.store_id.as_str())
    );

    let products: HashMap<String, Record> = pulled[&DataType::CommerceProducts]
        .items()
        .map(|i| (i.source_id.clone(), i.record.clone()))
        .collect();
    let customers: BTreeSet<String> = pulled[&DataType::CommerceCustomers]
        .ids()
        .into_iter()
        .collect();
    let mut orders: HashMap<String, (f64, f64)> = HashMap::new();
    for item in pulled[&DataType::CommerceOrders].items() {
        let Record::CommerceOrder(o) = &item.record else {
            panic!()
        };
        assert_eq!(o.currency.as_deref(), Some("GBP"));
        assert!(customers.contains(&o.customer_ref.as_ref().unwrap().id));
        let lines: i64 = o
            .order_line_items
            .as_ref()
            .unwrap()
            .iter()
            .map(|l| {
                let Record::CommerceProduct(p) = &products[&l.product_ref.as_ref().unwrap().id]
                else {
                    panic!()
                };
                let variant = &p.variants.as_ref().unwrap()[0];
                assert_eq!(variant.id, l.product_variant_ref.as_ref().unwrap().id);
                assert_eq!(variant.prices.as_ref().unwrap()[0].unit_price, l.unit_price);
                (l.total_amount.unwrap() * 100.0).round() as i64
            })
            .sum();
        let shipping: i64 = o
            .service_charges
            .iter()
            .flatten()
            .map(|s| (s.total_amount.unwrap() * 100.0).round() as i64)
            .sum();
        let gross = o.total_amount.unwrap() - o.total_refund.unwrap();
        assert_eq!(lines + shipping, (gross * 100.0).round() as i64, "{}", o.id);
        assert_eq!(
            gross,
            item.raw["total_price"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        );
        orders.insert(o.id.clone(), (gross, o.total_refund.unwrap()));
    }
    for item in pulled[&DataType::CommercePayments].items() {
        let Record::CommercePayment(p) = &item.record else {
            panic!()
        };
        let (gross, _) = orders[&item.raw["order_id"].as_u64().unwrap().to_string()];
        assert_eq!(p.amount, Some(gross));
        assert_eq!(p.currency.as_deref(), Some("GBP"));
    }

    // A bad key: one retry with the same key, then an AuthError; nothing leaks.
    let (r, sink) = c
        .pull(
            PullRequest::full(DataType::CommerceOrders),
            "sk_sandbox_nope",
        )
        .await;
    let err = r.unwrap_err();
    assert_eq!(err.dataset_status(), DatasetStatus::AuthError, "{err}");
    assert!(!format!("{err:?}{err}").contains("sk_sandbox_nope"));
    assert!(sink.pages.is_empty());
}

#[tokio::test]
async fn a_rate_limited_page_waits_and_is_fetched_again() {
    let a = accounting(json!({"invoices": 250})).await;
    a.env.sandbox.inject_data_failure(DataFailure {
        retry_after: Some(7),
        ..DataFailure::new(DataFailureKind::RateLimited, 1)
            .for_type(SandboxType::Invoices)
            .on_page(2)
    });
    // References (chart, tax rates) are fetched first; count invoices requests alone.
    let before = a.requests("invoices").await;
    let start = a.env.clock.now();
    let sink = a.pull_all(DataType::Invoices, 100).await;
    assert_eq!(sink.numbers(), vec![1, 2, 3]);
    assert_eq!(sink.ids().len(), 250);
    assert_unique(&sink.ids(), "invoices");
    assert_eq!(
        a.requests("invoices").await - before,
        4,
        "page 2 twice, nothing else"
    );
    assert_eq!(a.env.sleeper.slept(), vec![Duration::from_secs(7)]);
    assert_eq!(a.env.clock.now().as_millis() - start.as_millis(), 7000);
    assert_eq!(a.env.sandbox.stats().data_failures_injected, 1);

    // More 429s on one page than allowed: RateLimitError, for the job to reschedule.
    let env = start_with(
        ConnectorRegistry::default_limits(),
        RetryPolicy {
            max_rate_limit_waits: 2,
            ..RetryPolicy::default()
        },
    )
    .await;
    let a = accounting_in(env, json!({"invoices": 250})).await;
    a.env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::RateLimited, 3)
            .for_type(SandboxType::Invoices)
            .on_page(2),
    );
    let (r, sink) = a
        .pull(PullRequest::full(DataType::Invoices).page_size(100))
        .await;
    let err = r.unwrap_err();
    assert!(
        matches!(
            err,
            PullError::RateLimited {
                retry_after_secs: Some(1)
            }
        ),
        "{err}"
    );
    assert_eq!(err.dataset_status(), DatasetStatus::RateLimitError);
    assert!(err.is_retryable());
    assert_eq!(sink.numbers(), vec![1]);
    assert_eq!(a.env.sleeper.slept(), vec![Duration::from_secs(1); 2]);

    // A Retry-After beyond what a pull waits for ends it at once.
    a.env.sandbox.clear_data_failures();
    a.env.sleeper.clear();
    a.env.sandbox.inject_data_failure(DataFailure {
        retry_after: Some(3600),
        ..DataFailure::new(DataFailureKind::RateLimited, 1).for_type(SandboxType::Invoices)
    });
    let (r, _) = a.pull(PullRequest::full(DataType::Invoices)).await;
    assert!(matches!(
        r,
        Err(PullError::RateLimited {
            retry_after_secs: Some(3600)
        })
    ));
    assert!(a.env.sleeper.slept().is_empty());
}

#[tokio::test]
async fn a_failing_page_is_retried_alone() {
    let a = accounting(json!({"invoices": 450})).await;
    a.env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::ServerError, 2)
            .for_type(SandboxType::Invoices)
            .on_page(3),
    );
    let before = a.requests("invoices").await;
    let sink = a.pull_all(DataType::Invoices, 100).await;
    assert_eq!(sink.numbers(), vec![1, 2, 3, 4, 5]);
    assert_eq!(sink.ids().len(), 450);
    assert_unique(&sink.ids(), "invoices");
    assert_eq!(a.requests("invoices").await - before, 5 + 2);
    // Exponential backoff.
    assert_eq!(
        a.env.sleeper.slept(),
        vec![Duration::from_secs(1), Duration::from_secs(2)]
    );

    // 503 waits at least its Retry-After.
    a.env.sleeper.clear();
    a.env.sandbox.inject_data_failure(DataFailure {
        retry_after: Some(5),
        ..DataFailure::new(DataFailureKind::TemporarilyUnavailable, 1)
            .for_type(SandboxType::Invoices)
            .on_page(2)
    });
    a.pull_all(DataType::Invoices, 100).await;
    assert_eq!(a.env.sleeper.slept(), vec![Duration::from_secs(5)]);

    // Beyond the retries: a FetchError after the pages before it were stored; resuming from
    // the failed page finishes the pull without duplicates.
    a.env.sleeper.clear();
    a.env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::ServerError, 4)
            .for_type(SandboxType::Invoices)
            .on_page(3),
    );
    let (r, first) = a
        .pull(PullRequest::full(DataType::Invoices).page_size(100))
        .await;
    let err = r.unwrap_err();
    assert!(
        matches!(
            err,
            PullError::Platform {
                status: Some(500),
                transient: true,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.dataset_status(), DatasetStatus::FetchError);
    assert_eq!(first.numbers(), vec![1, 2]);
    assert_eq!(a.env.sleeper.slept().len(), 3);
    let resume = first.pages.last().unwrap().resume_from.unwrap();
    assert_eq!(resume, 3);
    let (r, rest) = a
        .pull(
            PullRequest::full(DataType::Invoices)
                .page_size(100)
                .resume_from(resume),
        )
        .await;
    r.unwrap();
    assert_eq!(rest.numbers(), vec![3, 4, 5]);
    let mut all = first.ids();
    all.extend(rest.ids());
    assert_eq!(all.len(), 450);
    assert_unique(&all, "resumed");
}

#[tokio::test]
async fn an_invalid_token_mid_pull_is_refreshed_once() {
    let a = accounting(json!({"bankTransactions": 500})).await;
    let old = a.tokens.token().await.unwrap().expose().clone();
    a.env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::InvalidToken, 1)
            .for_type(SandboxType::BankTransactions)
            .on_page(3),
    );
    let sink = a.pull_all(DataType::BankTransactions, 100).await;
    assert_eq!(sink.ids().len(), 500);
    assert_unique(&sink.ids(), "bankTransactions");
    assert_eq!(a.tokens.rejections.load(Ordering::SeqCst), 1);
    assert_eq!(a.tokens.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(a.env.sandbox.stats().refresh_requests, 1);
    assert_ne!(a.tokens.token().await.unwrap().expose(), &old);

    // Refused again after the refresh: AuthError; what came before was handed over.
    a.env.sandbox.inject_data_failure(
        DataFailure::new(DataFailureKind::InvalidToken, 2)
            .for_type(SandboxType::BankTransactions)
            .on_page(2),
    );
    let (r, sink) = a
        .pull(PullRequest::full(DataType::BankTransactions).page_size(100))
        .await;
    let err = r.unwrap_err();
    assert!(matches!(err, PullError::Auth(_)), "{err}");
    assert_eq!(err.dataset_status(), DatasetStatus::AuthError);
    assert!(!err.is_retryable());
    assert_eq!(sink.numbers(), vec![1]);
    assert_eq!(a.tokens.refreshes.load(Ordering::SeqCst), 2);

    // A grant revoked at the platform: the refresh itself is refused (invalid_grant).
    let current = a.tokens.tokens.lock().await.1.expose().clone();
    let revoked = reqwest::Client::new()
        .post(format!("{}/sandbox/oauth/revoke", a.env.base))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .form(&[
            ("token", current.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let (r, _) = a.pull(PullRequest::full(DataType::BankTransactions)).await;
    let err = r.unwrap_err();
    assert!(
        matches!(&err, PullError::Auth(m) if m.contains("invalid_grant")),
        "{err}"
    );
    let secrets = a.tokens.tokens.lock().await;
    let shown = format!("{err:?} {err}");
    assert!(
        !shown.contains(secrets.0.expose().as_str())
            && !shown.contains(secrets.1.expose().as_str())
    );
}

#[tokio::test]
async fn a_pull_resumes_from_a_page() {
    let a = accounting(json!({"customers": 520})).await;
    // A crash while storing page 4: pages 1-3 are stored, the pull stops.
    let mut sink = Collect {
        fail_at: Some(4),
        ..Collect::default()
    };
    let err = a
        .connector(DataType::Customers)
        .pull(
            &a.connection(),
            &PullRequest::full(DataType::Customers).page_size(100),
            &mut sink,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::Sink(_)));
    assert_eq!(err.dataset_status(), DatasetStatus::InternalError);
    assert_eq!(sink.numbers(), vec![1, 2, 3]);
    let resume = sink.pages.last().unwrap().resume_from.unwrap();

    let before = a.requests("customers").await;
    let (r, rest) = a
        .pull(
            PullRequest::full(DataType::Customers)
                .page_size(100)
                .resume_from(resume),
        )
        .await;
    let summary = r.unwrap();
    assert_eq!(rest.numbers(), vec![4, 5, 6]);
    assert_eq!(summary.pages, 3);
    assert_eq!(summary.last_page, 6);
    assert_eq!(
        a.requests("customers").await - before,
        3,
        "only the later pages"
    );
    assert_eq!(rest.progress.first().unwrap().pages_done, 1);
    assert_eq!(rest.progress.first().unwrap().page, 4);
    let mut all = sink.ids();
    all.extend(rest.ids());
    assert_eq!(all.len(), 520);
    assert_unique(&all, "customers");
    // The later pages are exactly the sandbox's records 300.. .
    let first_later = a
        .env
        .sandbox
        .data_record(&a.grant.tenant_id, SandboxType::Customers, 300)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest.pages[0].items[0].raw, first_later);
}

#[tokio::test]
async fn modified_since_yields_only_touched_records() {
    let a = accounting(json!({"invoices": 600})).await;
    let full = a.pull_all(DataType::Invoices, 200).await;
    assert_eq!(full.ids().len(), 600);
    let watermark = a.env.clock.now();
    a.env.clock.advance_millis(60_000);
    let touched = a
        .env
        .sandbox
        .touch_data(
            &a.grant.tenant_id,
            SandboxType::Invoices,
            TouchSelection::Spread(5),
        )
        .await
        .unwrap();
    let (r, sink) = a
        .pull(
            PullRequest::full(DataType::Invoices)
                .page_size(200)
                .modified_since(watermark),
        )
        .await;
    let summary = r.unwrap();
    let got: BTreeSet<String> = sink.ids().into_iter().collect();
    let want: BTreeSet<String> = touched.ids.iter().cloned().collect();
    assert_eq!(got, want);
    assert_eq!(sink.numbers(), vec![1]);
    for item in sink.items() {
        let Record::Invoice(inv) = &item.record else {
            panic!()
        };
        assert!(inv.note.as_deref().unwrap().ends_with("(rev 1)"));
        assert_eq!(item.source_modified, Timestamp::parse(&touched.modified_at));
    }
    assert_eq!(
        summary.max_source_modified,
        Timestamp::parse(&touched.modified_at)
    );

    // Commerce too (`updated_at_min`).
    let c = commerce(json!({"commerce-orders": 300})).await;
    let watermark = c.env.clock.now();
    c.env.clock.advance_millis(60_000);
    let touched = c
        .env
        .sandbox
        .touch_data(
            &c.store_id,
            SandboxType::CommerceOrders,
            TouchSelection::Indices(vec![3, 150, 299]),
        )
        .await
        .unwrap();
    let (r, sink) = c
        .pull(
            PullRequest::full(DataType::CommerceOrders).modified_since(watermark),
            &c.key,
        )
        .await;
    r.unwrap();
    let got: BTreeSet<String> = sink.ids().into_iter().collect();
    assert_eq!(got, touched.ids.iter().cloned().collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn budgets_are_waited_for_not_exceeded() {
    // Two requests at once and one a second per connection.
    let limits = ConnectorRegistry::default_limits().with_integration(
        "mqjo",
        IntegrationBudgets {
            integration: Some(Budget::per_second(100, 100.0)),
            connection: Some(Budget::per_second(2, 1.0)),
        },
    );
    let a = accounting_in(
        start_with(limits, RetryPolicy::default()).await,
        json!({"suppliers": 500}),
    )
    .await;
    let start = a.env.clock.now();
    let sink = a.pull_all(DataType::Suppliers, 100).await;
    assert_eq!(sink.ids().len(), 500);
    // Five pages: two at once, then one a second.
    assert_eq!(a.env.sleeper.slept(), vec![Duration::from_secs(1); 3]);
    assert_eq!(a.env.clock.now().as_millis() - start.as_millis(), 3000);
}

#[tokio::test]
async fn unsupported_types_are_not_pulled() {
    let a = accounting(json!({})).await;
    let connector = a.connector(DataType::Invoices);
    for t in [
        DataType::Items,
        DataType::BankingAccounts,
        DataType::CommerceOrders,
    ] {
        let err = connector
            .pull(
                &a.connection(),
                &PullRequest::full(t),
                &mut Collect::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, PullError::NotSupported { .. }), "{t}");
        assert_eq!(err.dataset_status(), DatasetStatus::NotSupported);
    }
    assert_eq!(a.env.sandbox.stats().data_requests, 0);
}
