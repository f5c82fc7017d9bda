//! Paging: which records a page holds, and the page as JSON.
//!
//! A list ranges over a [`View`] of a type's indexes (all of them, or one bank account's
//! transactions: every `stride`-th from `start`), always in index order. Without a
//! modified-since filter, position `k` of the list is index `view.at(k)`. With one at `T`:
//! generated modified instants increase with the index, so the records modified at or after
//! `T` are those from the first such index `i0` on (a binary search), plus touched records
//! before `i0` whose touch is at or after `T` (read from SQLite); those come first, being
//! lower indexes. Touched records from `i0` on are in the list whatever `T` is, since every
//! touch is later than every generated instant.

use std::io::Write as _;

use rusqlite::Connection;

use super::accounting::{self, Org};
use super::commerce::{self, Shop};
use super::store::{self, Scope, Touch};
use super::{DataType, timing};

/// Indexes `start, start + stride, ...` below a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub start: u64,
    pub stride: u64,
    pub len: u64,
}

impl View {
    pub fn all(n: u64) -> Self {
        Self {
            start: 0,
            stride: 1,
            len: n,
        }
    }

    pub fn every(start: u64, stride: u64, n: u64) -> Self {
        let stride = stride.max(1);
        Self {
            start,
            stride,
            len: if start >= n {
                0
            } else {
                (n - start).div_ceil(stride)
            },
        }
    }

    pub fn at(&self, k: u64) -> u64 {
        self.start + k * self.stride
    }
}

/// A list request: a 1-based page, its size, and the modified-since instant (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageQuery {
    pub page: u64,
    pub size: u64,
    pub since: Option<i64>,
}

/// What a page holds: the matching total, and the page's records with their touches.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub total: u64,
    pub items: Vec<(u64, Option<Touch>)>,
}

impl Plan {
    pub fn page_count(&self, size: u64) -> u64 {
        self.total.div_ceil(size.max(1))
    }
}

/// The first position of the view whose generated modified instant is at or after `since`.
fn first_since(t: DataType, n: u64, view: &View, since: i64) -> u64 {
    let (mut lo, mut hi) = (0, view.len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if timing::modified(t, view.at(mid), n) >= since {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

pub(crate) fn plan(
    conn: &Connection,
    owner_id: &str,
    t: DataType,
    n: u64,
    view: View,
    q: &PageQuery,
) -> rusqlite::Result<Plan> {
    let scope = Scope {
        owner_id,
        data_type: t,
        start: view.start,
        stride: view.stride,
    };
    let k0 = q.since.map_or(0, |s| first_since(t, n, &view, s));
    let bound = if k0 < view.len { view.at(k0) } else { n };
    let early = match q.since {
        Some(s) => store::early_count(conn, &scope, bound, s)?,
        None => 0,
    };
    let total = early + (view.len - k0);
    let offset = q.page.saturating_sub(1).saturating_mul(q.size);
    let end = offset.saturating_add(q.size).min(total);
    let mut items = Vec::with_capacity(end.saturating_sub(offset) as usize);
    if offset < end {
        if let (true, Some(s)) = (offset < early, q.since) {
            let limit = end.min(early) - offset;
            for (i, touch) in store::early_touches(conn, &scope, bound, s, (limit, offset))? {
                items.push((i, Some(touch)));
            }
        }
        let from = offset.max(early);
        if from < end {
            let (ka, kb) = (k0 + (from - early), k0 + (end - early));
            let touched = store::touches_between(conn, &scope, view.at(ka), view.at(kb - 1))?;
            let mut next = touched.into_iter().peekable();
            for k in ka..kb {
                let i = view.at(k);
                while next.peek().is_some_and(|(ti, _)| *ti < i) {
                    next.next();
                }
                let touch = next.next_if(|(ti, _)| *ti == i).map(|(_, t)| t);
                items.push((i, touch));
            }
        }
    }
    Ok(Plan { total, items })
}

/// The generator of an owner's records.
pub(crate) enum Gen<'a> {
    Org(Org<'a>),
    Shop(Shop<'a>),
}

impl Gen<'_> {
    pub fn count(&self, t: DataType) -> u64 {
        match self {
            Self::Org(o) => o.count(t),
            Self::Shop(s) => s.count(t),
        }
    }

    /// The index an id of type `t` stands for, if it is one of this owner's records.
    pub fn index_of(&self, t: DataType, id: &str) -> Option<u64> {
        let i = match self {
            Self::Org(o) => accounting::index_of(o.seed, t, id),
            Self::Shop(s) => commerce::index_of(s.seed, t, id),
        }?;
        (i < self.count(t)).then_some(i)
    }

    /// The id of record `i` as the data API shows it.
    pub fn id_string(&self, t: DataType, i: u64) -> String {
        match (self, t) {
            (Self::Org(o), DataType::Company) => o.tenant_id.to_owned(),
            (Self::Org(o), _) => accounting::record_id(o.seed, t, i).0.to_string(),
            (Self::Shop(s), DataType::CommerceInfo) => s.store_id.to_owned(),
            (Self::Shop(s), DataType::CommercePayments) => {
                commerce::payment_id(s.seed, i).to_string()
            }
            (Self::Shop(s), _) => commerce::int_id(s.seed, t, i).to_string(),
        }
    }

    /// Writes one record as JSON.
    pub fn write(
        &self,
        t: DataType,
        i: u64,
        touch: Option<Touch>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<()> {
        let (modified, version) = match touch {
            Some(x) => (x.modified_ms, x.version),
            None => (timing::modified(t, i, self.count(t)), 0),
        };
        match self {
            Self::Org(o) => accounting::write(o, t, i, modified, version, out),
            Self::Shop(s) => commerce::write(s, t, i, modified, version, out),
        }
    }

    fn size_hint(&self, t: DataType) -> usize {
        match self {
            Self::Org(_) => accounting::size_hint(t),
            Self::Shop(_) => commerce::size_hint(t),
        }
    }

    fn records(
        &self,
        t: DataType,
        items: &[(u64, Option<Touch>)],
        out: &mut Vec<u8>,
    ) -> serde_json::Result<()> {
        out.push(b'[');
        for (n, (i, touch)) in items.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            self.write(t, *i, *touch, out)?;
        }
        out.push(b']');
        Ok(())
    }

    /// A list page: `{"pagination": {...}, "Invoices": [...]}` for the accounting API,
    /// `{"orders": [...], "page", "limit", "total_count", "has_more"}` for the shop API.
    pub fn list(&self, t: DataType, q: &PageQuery, plan: &Plan) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256 + plan.items.len() * self.size_hint(t));
        match self {
            Self::Org(_) => {
                let _ = write!(
                    out,
                    "{{\"pagination\":{{\"page\":{},\"pageSize\":{},\"pageCount\":{},\"itemCount\":{}}},\"{}\":",
                    q.page,
                    q.size,
                    plan.page_count(q.size),
                    plan.total,
                    accounting::list_key(t)
                );
                self.records(t, &plan.items, &mut out)?;
                out.push(b'}');
            }
            Self::Shop(_) => {
                let _ = write!(out, "{{\"{}\":", commerce::keys(t).0);
                self.records(t, &plan.items, &mut out)?;
                let has_more = q.page.saturating_mul(q.size) < plan.total;
                let _ = write!(
                    out,
                    ",\"page\":{},\"limit\":{},\"total_count\":{},\"has_more\":{}}}",
                    q.page, q.size, plan.total, has_more
                );
            }
        }
        Ok(out)
    }

    /// One record: `{"Invoices": [{...}]}` (accounting, as its lists) or `{"order": {...}}`.
    pub fn single(&self, t: DataType, i: u64, touch: Option<Touch>) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64 + self.size_hint(t));
        match self {
            Self::Org(_) => {
                let _ = write!(out, "{{\"{}\":", accounting::list_key(t));
                self.records(t, &[(i, touch)], &mut out)?;
            }
            Self::Shop(_) => {
                let _ = write!(out, "{{\"{}\":", commerce::keys(t).1);
                self.write(t, i, touch, &mut out)?;
            }
        }
        out.push(b'}');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataProfile;

    fn db() -> Connection {
        crate::db::open(None).unwrap()
    }

    fn indexes(p: &Plan) -> Vec<u64> {
        p.items.iter().map(|(i, _)| *i).collect()
    }

    #[test]
    fn views() {
        assert_eq!(View::every(2, 3, 11).len, 3); // 2, 5, 8
        assert_eq!(View::every(0, 3, 9).len, 3);
        assert_eq!(View::every(5, 3, 5).len, 0);
        assert_eq!(
            View::every(1, 1, 4),
            View {
                start: 1,
                stride: 1,
                len: 3
            }
        );
    }

    #[test]
    fn pages_cover_everything_once() {
        let conn = db();
        let t = DataType::Invoices;
        let mut seen = Vec::new();
        for page in 1..=5 {
            let q = PageQuery {
                page,
                size: 7,
                since: None,
            };
            let p = plan(&conn, "o", t, 30, View::all(30), &q).unwrap();
            assert_eq!(p.total, 30);
            assert_eq!(p.page_count(7), 5);
            seen.extend(indexes(&p));
        }
        assert_eq!(seen, (0..30).collect::<Vec<_>>());
        let q = PageQuery {
            page: 9,
            size: 7,
            since: None,
        };
        assert!(
            plan(&conn, "o", t, 30, View::all(30), &q)
                .unwrap()
                .items
                .is_empty()
        );
    }

    #[test]
    fn modified_since_with_touches() {
        let mut conn = db();
        let t = DataType::Invoices;
        let n = 100;
        let at = timing::GENERATED_END_MS + 5_000;
        store::touch(&mut conn, "o", t, &[3, 10, 95], at).unwrap();
        store::touch(&mut conn, "other", t, &[4], at).unwrap();
        let since = timing::modified(t, 90, n);
        let q = |page, size, since| PageQuery { page, size, since };

        // Touched 3 and 10 come first, then 90.. (95 among them, touched).
        let p = plan(&conn, "o", t, n, View::all(n), &q(1, 100, Some(since))).unwrap();
        assert_eq!(p.total, 12);
        assert_eq!(indexes(&p), [3, 10, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
        assert_eq!(p.items[0].1.unwrap().version, 1);
        assert_eq!(p.items[7].1.unwrap().modified_ms, at);
        assert!(p.items[2].1.is_none());
        // Paged across the boundary.
        let mut paged = Vec::new();
        for page in 1..=4 {
            paged.extend(indexes(
                &plan(&conn, "o", t, n, View::all(n), &q(page, 5, Some(since))).unwrap(),
            ));
        }
        assert_eq!(paged, indexes(&p));
        let p = plan(&conn, "o", t, n, View::all(n), &q(2, 1, Some(since))).unwrap();
        assert_eq!(indexes(&p), [10]);

        // After every generated instant: only the touched ones.
        let p = plan(
            &conn,
            "o",
            t,
            n,
            View::all(n),
            &q(1, 100, Some(timing::GENERATED_END_MS)),
        )
        .unwrap();
        assert_eq!(indexes(&p), [3, 10, 95]);
        let p = plan(&conn, "o", t, n, View::all(n), &q(1, 100, Some(at + 1))).unwrap();
        assert_eq!(p.total, 0);
        // Inclusive: a record modified exactly at `since` is in.
        let p = plan(
            &conn,
            "o",
            t,
            n,
            View::all(n),
            &q(1, 100, Some(timing::modified(t, 99, n))),
        )
        .unwrap();
        assert_eq!(indexes(&p), [3, 10, 95, 99]);

        // A stride view (bank account 1 of 4): touches outside it do not count.
        let v = View::every(1, 4, n);
        let p = plan(&conn, "o", t, n, v, &q(1, 100, Some(since))).unwrap();
        assert_eq!(indexes(&p), [93, 97]);
        store::touch(&mut conn, "o", t, &[5], at).unwrap();
        let p = plan(&conn, "o", t, n, v, &q(1, 100, Some(since))).unwrap();
        assert_eq!(indexes(&p), [5, 93, 97]);
    }

    /// Rendering cost of a full page of each list type; run with
    /// `cargo test --release -p finlink-sandbox -- --ignored --nocapture render_cost`.
    #[test]
    #[ignore = "a timing probe, meaningful in release builds only"]
    fn render_cost() {
        let conn = db();
        let profile = DataProfile {
            invoices: 100_000,
            payments: 75_000,
            customers: 100_000,
            bank_transactions: 100_000,
            commerce_orders: 100_000,
            commerce_payments: 87_500,
            ..DataProfile::default()
        };
        let org = Gen::Org(Org::new("tenant", "Timing Ltd", &profile));
        let shop = Gen::Shop(Shop::new("store_t", "Timing Shop", &profile));
        for (g, t) in [
            (&org, DataType::Invoices),
            (&org, DataType::BankTransactions),
            (&org, DataType::Payments),
            (&org, DataType::Customers),
            (&shop, DataType::CommerceOrders),
            (&shop, DataType::CommercePayments),
        ] {
            let n = g.count(t);
            let q = PageQuery {
                page: 7,
                size: 1000.min(n),
                since: None,
            };
            let p = plan(&conn, "tenant", t, n, View::all(n), &q).unwrap();
            // The best of 50 rounds: the machine may be busy with other work.
            let (mut best, mut bytes) = (f64::MAX, 0);
            for _ in 0..50 {
                let watch = finlink_domain::clock::Stopwatch::start();
                bytes = g.list(t, &q, &p).unwrap().len();
                best = best.min(watch.seconds() * 1000.0);
            }
            println!(
                "{t}: {best:.2} ms for {} records, {bytes} bytes",
                p.items.len()
            );
        }
    }

    #[test]
    fn rendered_pages_are_json_with_metadata() {
        let conn = db();
        let profile = DataProfile::default();
        let org = Gen::Org(Org::new("tenant", "Render Ltd", &profile));
        let q = PageQuery {
            page: 2,
            size: 3,
            since: None,
        };
        let p = plan(&conn, "tenant", DataType::Invoices, 400, View::all(400), &q).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&org.list(DataType::Invoices, &q, &p).unwrap()).unwrap();
        assert_eq!(v["pagination"]["page"], 2);
        assert_eq!(v["pagination"]["pageSize"], 3);
        assert_eq!(v["pagination"]["pageCount"], 134);
        assert_eq!(v["pagination"]["itemCount"], 400);
        assert_eq!(v["Invoices"].as_array().unwrap().len(), 3);
        assert_eq!(v["Invoices"][0]["InvoiceNumber"], "INV-000004");

        let shop = Gen::Shop(Shop::new("store_x", "Shop", &profile));
        let p = plan(
            &conn,
            "store_x",
            DataType::CommerceOrders,
            400,
            View::all(400),
            &q,
        )
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&shop.list(DataType::CommerceOrders, &q, &p).unwrap()).unwrap();
        assert_eq!(v["orders"][0]["order_number"], 1004);
        assert_eq!(v["total_count"], 400);
        assert_eq!(v["has_more"], true);
        let one: serde_json::Value =
            serde_json::from_slice(&shop.single(DataType::CommerceOrders, 3, None).unwrap())
                .unwrap();
        assert_eq!(one["order"], v["orders"][0]);
    }
}
