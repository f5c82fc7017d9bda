//! Sync settings and schedules: `GET/POST /profile/syncSettings` and
//! `GET/POST /companies/{id}/syncSettings` (round trips, defaults, validation, company over
//! client); `data/all` following `fetchOnFirstLink`, `syncOrder` and `syncFromUtc`; scheduled
//! pulls on the manual clock (`run_jobs` after each move), rescheduled by a settings change,
//! stopped by an unlink; a token migration that pulls nothing until its first scheduled pull.

use finlink_domain::data::DataType;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_engines;
use crate::credentials::migrated;
use crate::harness::{TestServer, assert_error};

/// The data types the accounting sandbox (`mqjo`) provides: 12 accounting, 2 banking.
const SANDBOX_TYPES: usize = 14;
/// Codat's data types.
const ALL_TYPES: usize = 43;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

fn setting(data_type: &str, fetch: bool, schedule: i64, order: i64) -> Value {
    json!({"dataType": data_type, "fetchOnFirstLink": fetch, "syncSchedule": schedule, "syncOrder": order})
}

fn find<'a>(body: &'a Value, data_type: &str) -> &'a Value {
    body["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dataType"] == data_type)
        .unwrap_or_else(|| panic!("no {data_type} in {body}"))
}

async fn company_settings(ts: &TestServer, cid: &str, body: Value) {
    let (s, b) = ts
        .post(&format!("/companies/{cid}/syncSettings"), body)
        .await;
    assert_eq!(s, 204, "{b}");
}

/// How many pulls of a data type the company's history holds.
async fn pulls_of(ts: &TestServer, cid: &str, data_type: &str) -> u64 {
    let (s, h) = ts
        .get(&format!(
            "/companies/{cid}/data/history?pageSize=1&query=dataType%3D{data_type}"
        ))
        .await;
    assert_eq!(s, 200, "{h}");
    h["totalResults"].as_u64().unwrap()
}

/// How many records of a data type the company has stored.
async fn stored(ts: &TestServer, cid: &str, data_type: DataType) -> u64 {
    let company = finlink_domain::ids::CompanyId::parse(cid).unwrap();
    let client = ts
        .app()
        .store
        .company_owner(company)
        .await
        .unwrap()
        .unwrap();
    ts.app()
        .store
        .list_records(
            client,
            company,
            None,
            data_type,
            finlink_domain::paging::PageRequest {
                page: 1,
                page_size: 1,
            },
        )
        .await
        .unwrap()
        .total
}

/// PostgreSQL only (None on SQLite): how many schedule steps are queued for the connection, per
/// data type.
async fn queued_steps(ts: &TestServer, conn_id: &str) -> Option<Vec<(String, i64)>> {
    let (Some(url), Some(schema)) = (&ts.config.database_url, &ts.config.database_schema) else {
        return None;
    };
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows = sqlx::query_as(&format!(
        "SELECT (payload::json)->>'dataType', COUNT(*) FROM {schema}.jobs \
         WHERE kind = 'schedule' AND state = 'queued' AND payload LIKE $1 GROUP BY 1 ORDER BY 1"
    ))
    .bind(format!("%{conn_id}%"))
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    Some(rows)
}

/// One queued step per data type the sandbox provides (PostgreSQL only): stale steps (of
/// earlier settings, or started before a pull) converge on the due one when they run.
async fn one_step_per_type(ts: &TestServer, conn_id: &str) {
    if let Some(steps) = queued_steps(ts, conn_id).await {
        assert_eq!(steps.len(), SANDBOX_TYPES, "{steps:?}");
        assert!(steps.iter().all(|(_, n)| *n == 1), "{steps:?}");
    }
}

// -- 1 -------------------------------------------------------------------------------------------

/// Both levels round trip; defaults when nothing is stored; every invalid body is a 400 (or a
/// 403 for another client's id) that changes nothing; a company's settings override the
/// client's unless `overridesDefaults` is false, and a locked client setting is not overridden.
async fn settings_round_trip_and_validation(ts: &TestServer) {
    let (s, defaults) = ts.get("/profile/syncSettings").await;
    assert_eq!(s, 200, "{defaults}");
    let client_id = defaults["clientId"].as_str().unwrap().to_owned();
    assert_eq!(defaults["overridesDefaults"], false);
    assert_eq!(defaults["settings"].as_array().unwrap().len(), ALL_TYPES);
    let inv = find(&defaults, "invoices");
    assert_eq!(inv["fetchOnFirstLink"], true);
    assert_eq!(inv["syncSchedule"], 24);
    assert_eq!(inv["isLocked"], false);
    assert!(inv.get("syncFromUtc").is_none(), "{inv}");
    assert_eq!(find(&defaults, "balanceSheet")["fetchOnFirstLink"], false);
    assert_eq!(find(&defaults, "company")["syncOrder"], 0);
    assert_eq!(find(&defaults, "chartOfAccounts")["syncOrder"], 1);
    assert_eq!(find(&defaults, "taxRates")["syncOrder"], 2);

    // The client's settings: the listed types change, the others keep their defaults.
    let mut bills = setting("bills", false, 168, 7);
    bills["syncFromUtc"] = json!("2021-06-01T00:00:00Z");
    bills["isLocked"] = json!(true);
    let mut customers = setting("customers", true, 1, 3);
    customers["syncFromWindow"] = json!(12);
    customers["monthsToSync"] = json!(6);
    let (s, b) = ts
        .post(
            "/profile/syncSettings",
            json!({"clientId": client_id, "settings": [bills, customers]}),
        )
        .await;
    assert_eq!((s, &b), (204, &Value::Null));
    let (_, saved) = ts.get("/profile/syncSettings").await;
    assert_eq!(saved["clientId"], client_id.as_str());
    assert_eq!(saved["overridesDefaults"], true, "the default of the body");
    assert_eq!(saved["settings"].as_array().unwrap().len(), ALL_TYPES);
    let b = find(&saved, "bills");
    assert_eq!(
        (
            b["fetchOnFirstLink"].clone(),
            b["syncSchedule"].clone(),
            b["syncOrder"].clone()
        ),
        (json!(false), json!(168), json!(7))
    );
    assert_eq!(b["syncFromUtc"], "2021-06-01T00:00:00.000Z");
    assert_eq!(b["isLocked"], true);
    let c = find(&saved, "customers");
    assert_eq!(c["syncFromWindow"], 12);
    assert_eq!(c["monthsToSync"], 6);
    assert!(c.get("syncFromUtc").is_none(), "{c}");
    assert_eq!(find(&saved, "invoices"), find(&defaults, "invoices"));

    // Invalid bodies: 400 with the field at fault, or 403 for another client; nothing changes.
    let mut both = setting("invoices", true, 24, 0);
    both["syncFromUtc"] = json!("2020-01-01T00:00:00Z");
    both["syncFromWindow"] = json!(3);
    let other_client = uuid::Uuid::now_v7().to_string();
    let cases = [
        (
            json!({"clientId": client_id, "settings": [setting("invoices", true, 0, 0)]}),
            400,
            "settings[0].syncSchedule",
        ),
        (
            json!({"clientId": client_id, "settings": [setting("invoices", true, 721, 0)]}),
            400,
            "settings[0].syncSchedule",
        ),
        (
            json!({"clientId": client_id, "settings": [both]}),
            400,
            "settings[0].syncFromWindow",
        ),
        (
            json!({"clientId": client_id, "settings": [setting("nope", true, 24, 0)]}),
            400,
            "settings[0].dataType",
        ),
        (
            json!({"clientId": client_id, "settings": [setting("bills", true, 24, 0), setting("bills", true, 24, 0)]}),
            400,
            "settings[1].dataType",
        ),
        (
            json!({"clientId": client_id, "settings": [{"dataType": "bills", "fetchOnFirstLink": true, "syncSchedule": 24}]}),
            400,
            "settings[0]",
        ),
        (json!({"clientId": client_id}), 400, "."),
        (json!({"settings": []}), 400, "."),
        (
            json!({"clientId": "not-a-client", "settings": []}),
            400,
            "clientId",
        ),
        (json!({"clientId": other_client, "settings": []}), 403, ""),
    ];
    for (body, status, item) in cases {
        let (s, b) = ts.post("/profile/syncSettings", body.clone()).await;
        let msg = assert_error(s, &b, status);
        assert!(!msg.is_empty(), "{body}");
        if status == 400 {
            let items: Vec<&str> = b["validation"]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["itemId"].as_str().unwrap())
                .collect();
            assert!(
                items.iter().any(|i| i.starts_with(item)),
                "{item} in {b} for {body}"
            );
        }
    }
    let (_, after) = ts.get("/profile/syncSettings").await;
    assert_eq!(after, saved, "refused bodies change nothing");
    // Another client's key sees its own defaults, not these.
    let other = ts.other_client_key().await;
    let (s, theirs) = ts
        .call(ts.req_as(&other, Method::GET, "/profile/syncSettings"))
        .await;
    assert_eq!(s, 200);
    assert_ne!(theirs["clientId"], client_id.as_str());
    assert_eq!(theirs["overridesDefaults"], false);
    assert_eq!(find(&theirs, "bills"), find(&defaults, "bills"));
    let (s, b) = ts
        .call(
            ts.req_as(&other, Method::POST, "/profile/syncSettings")
                .json(&json!({"clientId": client_id, "settings": []})),
        )
        .await;
    assert_error(s, &b, 403);

    // A company: the client's settings until it has its own.
    let co = ts.company("Settings Co").await;
    let cid = co["id"].as_str().unwrap().to_owned();
    let (s, cs) = ts.get(&format!("/companies/{cid}/syncSettings")).await;
    assert_eq!(s, 200, "{cs}");
    assert_eq!(cs["companyId"], cid.as_str());
    assert_eq!(cs["overridesDefaults"], false);
    assert_eq!(cs["settings"], saved["settings"]);
    let mut locked_bills = setting("bills", true, 2, 0);
    locked_bills["syncFromWindow"] = json!(1);
    company_settings(
        ts,
        &cid,
        json!({"companyId": cid, "settings": [setting("customers", false, 720, 1), setting("invoices", false, 48, 9), locked_bills], "overridesDefaults": true}),
    )
    .await;
    let (_, cs) = ts.get(&format!("/companies/{cid}/syncSettings")).await;
    assert_eq!(cs["overridesDefaults"], true);
    let c = find(&cs, "customers");
    assert_eq!(
        (c["fetchOnFirstLink"].clone(), c["syncSchedule"].clone()),
        (json!(false), json!(720))
    );
    assert!(
        c.get("syncFromWindow").is_none(),
        "the company's replaces the client's: {c}"
    );
    assert_eq!(find(&cs, "invoices")["syncSchedule"], 48);
    assert_eq!(
        find(&cs, "bills"),
        find(&saved, "bills"),
        "locked at the client"
    );
    assert_eq!(find(&cs, "taxRates"), find(&saved, "taxRates"));
    // The client's settings are unchanged by the company's.
    let (_, again) = ts.get("/profile/syncSettings").await;
    assert_eq!(again, saved);
    // overridesDefaults false: kept, but the client's apply.
    company_settings(
        ts,
        &cid,
        json!({"companyId": cid, "settings": [setting("customers", false, 720, 1)], "overridesDefaults": false}),
    )
    .await;
    let (_, cs) = ts.get(&format!("/companies/{cid}/syncSettings")).await;
    assert_eq!(cs["overridesDefaults"], false);
    assert_eq!(cs["settings"], saved["settings"]);

    // Company errors: 400 (body), 404 (no such company, or another client's).
    let mut both = setting("invoices", true, 24, 0);
    both["syncFromUtc"] = json!("2020-01-01");
    both["syncFromWindow"] = json!(3);
    for body in [
        json!({"companyId": uuid::Uuid::now_v7().to_string(), "settings": []}),
        json!({"companyId": cid, "settings": [setting("invoices", true, 0, 0)]}),
        json!({"companyId": cid, "settings": [setting("invoices", true, 721, 0)]}),
        json!({"companyId": cid, "settings": [both]}),
        json!({"companyId": cid, "settings": [setting("Invoices", true, 24, 0)]}),
        json!({"companyId": cid, "settings": [setting("invoices", true, 24, 0)], "overridesDefaults": "yes"}),
    ] {
        let (s, b) = ts
            .post(&format!("/companies/{cid}/syncSettings"), body.clone())
            .await;
        assert_error(s, &b, 400);
    }
    let missing = uuid::Uuid::now_v7().to_string();
    let (s, b) = ts
        .post(
            &format!("/companies/{missing}/syncSettings"),
            json!({"companyId": missing, "settings": []}),
        )
        .await;
    assert_error(s, &b, 404);
    let (s, b) = ts.get(&format!("/companies/{missing}/syncSettings")).await;
    assert_error(s, &b, 404);
    let (s, b) = ts
        .call(ts.req_as(
            &other,
            Method::GET,
            &format!("/companies/{cid}/syncSettings"),
        ))
        .await;
    assert_error(s, &b, 404);
    let (s, b) = ts
        .call(
            ts.req_as(
                &other,
                Method::POST,
                &format!("/companies/{cid}/syncSettings"),
            )
            .json(&json!({"companyId": cid, "settings": []})),
        )
        .await;
    assert_error(s, &b, 404);
    let (_, cs) = ts.get(&format!("/companies/{cid}/syncSettings")).await;
    assert_eq!(
        cs["settings"], saved["settings"],
        "refused bodies change nothing"
    );
}

both_engines!(settings_round_trip_and_validation);

// -- 2 -------------------------------------------------------------------------------------------

/// `data/all` pulls only the types with `fetchOnFirstLink`, queued in `syncOrder`; a company's
/// settings override the client's; `syncFromUtc` bounds the first pull (the sandbox honours
/// modified-since).
async fn data_all_follows_the_settings(ts: &TestServer) {
    let (_, profile) = ts.get("/profile/syncSettings").await;
    let client_id = profile["clientId"].as_str().unwrap().to_owned();
    // The client: no bills, tax rates first.
    let (s, b) = ts
        .post(
            "/profile/syncSettings",
            json!({"clientId": client_id, "settings": [setting("bills", false, 24, 0), setting("taxRates", true, 24, -5)]}),
        )
        .await;
    assert_eq!(s, 204, "{b}");
    let (cid, _conn, _) = migrated(ts).await;
    // The company: no chart of accounts, invoices before everything but tax rates, and only
    // the invoices modified after 2100 (none).
    let mut invoices = setting("invoices", true, 24, -1);
    invoices["syncFromUtc"] = json!("2100-01-01T00:00:00Z");
    company_settings(
        ts,
        &cid,
        json!({"companyId": cid, "settings": [setting("chartOfAccounts", false, 24, 0), invoices]}),
    )
    .await;
    ts.run_jobs().await;
    let (s, b) = ts
        .call(ts.req(Method::POST, &format!("/companies/{cid}/data/all")))
        .await;
    assert_eq!(s, 204, "{b}");
    let (s, h) = ts
        .get(&format!("/companies/{cid}/data/history?orderBy=id"))
        .await;
    assert_eq!(s, 200, "{h}");
    let order: Vec<&str> = h["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dataType"].as_str().unwrap())
        .collect();
    assert_eq!(order.len(), SANDBOX_TYPES - 2, "{order:?}");
    assert!(
        !order.contains(&"bills") && !order.contains(&"chartOfAccounts"),
        "{order:?}"
    );
    assert_eq!(
        &order[..4],
        ["taxRates", "invoices", "company", "customers"],
        "{order:?}"
    );
    ts.run_jobs().await;
    let (_, status) = ts.get(&format!("/companies/{cid}/dataStatus")).await;
    let status = status.as_object().unwrap();
    assert_eq!(status.len(), SANDBOX_TYPES - 2);
    assert!(
        status.values().all(|s| s["currentStatus"] == "Complete"),
        "{status:?}"
    );
    assert_eq!(
        stored(ts, &cid, DataType::Invoices).await,
        0,
        "syncFromUtc bounds the first pull"
    );
    assert!(stored(ts, &cid, DataType::Customers).await > 0);
    assert_eq!(pulls_of(ts, &cid, "invoices").await, 1);
}

both_engines!(data_all_follows_the_settings);

// -- 3 -------------------------------------------------------------------------------------------

/// A schedule of one hour on the manual clock: each hour a new invoices pull (the others stay
/// daily); lengthening the schedule moves the next pull; an unlink stops the schedule, and a
/// deleted connection's schedule ends quietly.
async fn hourly_schedule_pulls_until_unlinked(ts: &TestServer) {
    let (cid, conn_id) = crate::link::link_sandbox(ts, "Hourly Ltd").await;
    ts.run_jobs().await;
    assert_eq!(
        pulls_of(ts, &cid, "invoices").await,
        1,
        "fetch on first link"
    );
    company_settings(
        ts,
        &cid,
        json!({"companyId": cid, "settings": [setting("invoices", true, 1, 0)]}),
    )
    .await;
    ts.run_jobs().await;
    assert_eq!(pulls_of(ts, &cid, "invoices").await, 1, "not due yet");
    // An hour (and the jitter, at most 5 % of it) later: a pull; and again.
    for n in [2, 3] {
        ts.clock.advance_millis(HOUR_MS + 3 * MINUTE_MS);
        ts.run_jobs().await;
        assert_eq!(pulls_of(ts, &cid, "invoices").await, n);
        assert_eq!(pulls_of(ts, &cid, "bills").await, 1, "bills stay daily");
    }
    let (_, h) = ts
        .get(&format!(
            "/companies/{cid}/data/history?query=dataType%3Dinvoices&orderBy=-requested"
        ))
        .await;
    assert!(
        h["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "Complete"),
        "{h}"
    );
    // Back to daily: the hourly step finds nothing due.
    company_settings(
        ts,
        &cid,
        json!({"companyId": cid, "settings": [setting("invoices", true, 24, 0)]}),
    )
    .await;
    ts.run_jobs().await;
    ts.clock.advance_millis(HOUR_MS + 3 * MINUTE_MS);
    ts.run_jobs().await;
    assert_eq!(pulls_of(ts, &cid, "invoices").await, 3);
    // Hourly again: due at once (the last pull is more than an hour old).
    company_settings(
        ts,
        &cid,
        json!({"companyId": cid, "settings": [setting("invoices", true, 1, 0)]}),
    )
    .await;
    ts.run_jobs().await;
    assert_eq!(pulls_of(ts, &cid, "invoices").await, 4);
    // A day after the link, the daily types are pulled again (bills once more).
    ts.clock.advance_millis(22 * HOUR_MS);
    ts.run_jobs().await;
    assert_eq!(pulls_of(ts, &cid, "bills").await, 2);
    let invoices = pulls_of(ts, &cid, "invoices").await;
    assert_eq!(
        invoices, 5,
        "one hourly pull per due time, however far the clock moved"
    );
    for _ in 0..3 {
        ts.clock.advance_millis(HOUR_MS + 3 * MINUTE_MS);
        ts.run_jobs().await;
    }
    let invoices = pulls_of(ts, &cid, "invoices").await;
    assert_eq!(invoices, 8);
    // The steps of earlier settings have run (and converged): one per data type.
    one_step_per_type(ts, &conn_id).await;

    // Unlinked: no more pulls.
    let (s, b) = ts
        .call(
            ts.req(
                Method::PATCH,
                &format!("/companies/{cid}/connections/{conn_id}"),
            )
            .json(&json!({"status": "Unlinked"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    for _ in 0..3 {
        ts.clock.advance_millis(HOUR_MS + 3 * MINUTE_MS);
        ts.run_jobs().await;
    }
    assert_eq!(pulls_of(ts, &cid, "invoices").await, invoices);
    // Deleted: its schedule's jobs end quietly.
    let (s, b) = ts
        .call(ts.req(
            Method::DELETE,
            &format!("/companies/{cid}/connections/{conn_id}"),
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    ts.clock.advance_millis(25 * HOUR_MS);
    ts.run_jobs().await;
    assert_eq!(pulls_of(ts, &cid, "invoices").await, 0);
}

both_engines!(hourly_schedule_pulls_until_unlinked);

// -- 4 -------------------------------------------------------------------------------------------

/// A token migration pulls nothing at once (no fetch on first link), but starts the schedule:
/// the first scheduled pulls come one schedule (a day) later.
async fn migration_starts_the_schedule_without_pulling(ts: &TestServer) {
    let (cid, _conn, _) = migrated(ts).await;
    ts.run_jobs().await;
    assert_eq!(
        ts.get(&format!("/companies/{cid}/dataStatus")).await.1,
        json!({})
    );
    ts.clock.advance_millis(23 * HOUR_MS);
    ts.run_jobs().await;
    assert_eq!(
        ts.get(&format!("/companies/{cid}/dataStatus")).await.1,
        json!({}),
        "nothing before a day"
    );
    ts.clock.advance_millis(HOUR_MS + 10 * MINUTE_MS);
    ts.run_jobs().await;
    let (_, status) = ts.get(&format!("/companies/{cid}/dataStatus")).await;
    let status = status.as_object().unwrap();
    assert_eq!(status.len(), SANDBOX_TYPES, "{status:?}");
    assert!(
        status.values().all(|s| s["currentStatus"] == "Complete"),
        "{status:?}"
    );
    let (s, info) = ts.get(&format!("/companies/{cid}/data/info")).await;
    assert_eq!(s, 200, "{info}");
}

both_engines!(migration_starts_the_schedule_without_pulling);
