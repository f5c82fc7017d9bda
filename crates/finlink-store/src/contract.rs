//! The contract suite: the behaviour every [`Store`] implementation must have.
//! `finlink-store-sqlite` runs it always, `finlink-store-postgres` when
//! `FINLINK_TEST_POSTGRES_URL` is set. Each check creates its own client, so checks
//! can share one database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support code

use std::collections::BTreeMap;
use std::sync::Arc;

use finlink_domain::api_key::ApiKey;
use finlink_domain::client::Client;
use finlink_domain::company::Company;
use finlink_domain::connection::{Connection, ConnectionError, ConnectionStatus, SourceType};
use finlink_domain::ids::{ApiKeyId, ClientId, CompanyId, ConnectionId};
use finlink_domain::integration::{integration_id_for, source_id_for};
use finlink_domain::link::{IntegrationCredentials, LinkFlow, LinkStage};
use finlink_domain::paging::PageRequest;
use finlink_domain::profile::Profile;
use finlink_domain::query::{parse, parse_order_by};
use finlink_domain::{Error, Timestamp};

use crate::{
    ApiKeyInsert, ConnectionInsert, ConnectionUpdate, ConnectionWrite, Effects, EventFilter,
    ListQuery, Store,
};
use finlink_domain::connection::RefreshHealth;
use finlink_domain::credentials::{AuditEntry, SealedCredentials};
use finlink_domain::event::Event;
use finlink_domain::integration::AuthType;

mod migration;
mod records;
mod settings;

const T0: i64 = 1_764_000_000_000;

fn ts(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

async fn new_client(store: &dyn Store, name: &str, at: i64) -> Client {
    let c = Client {
        id: ClientId::new_v7(ts(at)),
        name: name.into(),
        created: ts(at),
    };
    let profile = Profile {
        name: name.into(),
        ..Profile::default()
    };
    store.insert_client(&c, &profile).await.unwrap();
    c
}

fn company(client: ClientId, name: &str, at: i64, tags: &[(&str, &str)]) -> Company {
    Company {
        id: CompanyId::new_v7(ts(at)),
        client_id: client,
        name: name.into(),
        description: Some(format!("{name} description")),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        created: ts(at),
        modified: ts(at),
        last_sync: None,
        created_by_user_name: None,
        products: vec![],
        consumer_id: None,
        connections: vec![],
    }
}

fn connection(c: &Company, key: &str, st: SourceType, at: i64) -> Connection {
    Connection {
        id: ConnectionId::new_v7(ts(at)),
        client_id: c.client_id,
        company_id: c.id,
        integration_key: key.into(),
        integration_id: integration_id_for(key),
        source_id: source_id_for(key),
        source_type: st,
        platform_name: format!("Platform {key}"),
        status: ConnectionStatus::PendingAuth,
        created: ts(at),
        modified: ts(at),
        last_sync: None,
        errors: vec![],
        connection_info: None,
        refresh: Default::default(),
    }
}

fn q(
    filter: Option<&str>,
    tags: Option<&str>,
    order: Option<&str>,
    page: u32,
    size: u32,
) -> ListQuery {
    ListQuery {
        page: PageRequest {
            page,
            page_size: size,
        },
        filter: filter.map(|f| parse(f).unwrap()),
        tags: tags.map(|t| parse(t).unwrap()),
        order: order.map(|o| parse_order_by(o).unwrap()),
        consumers_only: false,
    }
}

/// Runs every check against `store`.
pub async fn run_all(store: Arc<dyn Store>) {
    let s = store.as_ref();
    s.ping().await.unwrap();
    clients_and_profiles(s).await;
    api_keys(s).await;
    companies_round_trip(s).await;
    company_listing_and_queries(s).await;
    connections(s).await;
    tenant_isolation(s).await;
    timestamps_are_identical(s).await;
    credentials_and_audit(s).await;
    connection_errors(s).await;
    status_counts(s).await;
    link_flows(s).await;
    integration_credentials(s).await;
    leases(s).await;
    jobs(s).await;
    effects_health_and_events(s).await;
    syncs(s).await;
    sync_records_follow_their_connection(s).await;
    settings::sync_settings(s).await;
    records::data_reads(s).await;
    migration::migration_runs(s).await;
}

async fn clients_and_profiles(s: &dyn Store) {
    let c = new_client(s, "Profiles", 1).await;
    assert_eq!(s.get_client(c.id).await.unwrap(), Some(c.clone()));
    assert!(s.list_clients().await.unwrap().iter().any(|x| x.id == c.id));
    let p = s.get_profile(c.id).await.unwrap().unwrap();
    assert_eq!(p.name, "Profiles");
    let p2 = Profile {
        name: "Bob's Burgers".into(),
        redirect_url: "https://bobs.example/{companyId}".into(),
        logo_url: Some("https://bobs.example/logo.png".into()),
        icon_url: None,
        white_list_urls: vec!["https://bobs.example".into(), "https://b2.example".into()],
        confirm_company_name: true,
        primary_color: Some("#AA3300".into()),
        default_language: Some("fr".into()),
        support_email: Some("help@bobs.example".into()),
        support_url: None,
    };
    s.put_profile(c.id, &p2).await.unwrap();
    assert_eq!(s.get_profile(c.id).await.unwrap(), Some(p2));
    assert_eq!(s.get_profile(ClientId::new_v7(ts(2))).await.unwrap(), None);
}

async fn api_keys(s: &dyn Store) {
    let c = new_client(s, "Keys", 10).await;
    let mut ids = vec![];
    for i in 0..3 {
        let k = ApiKey {
            id: ApiKeyId::new_v7(ts(20 + i)),
            client_id: c.id,
            name: if i == 0 {
                None
            } else {
                Some(format!("key {i}"))
            },
            lookup: format!("lookup{:06}x{}", i, &c.id.to_string()[..4]),
            hash: [i as u8; 32],
            permissions: if i == 2 {
                vec!["credentials:read".into()]
            } else {
                vec![]
            },
            created: ts(20 + i),
        };
        assert_eq!(
            s.insert_api_key(&k, 3).await.unwrap(),
            ApiKeyInsert::Inserted
        );
        assert_eq!(s.find_api_key(&k.lookup).await.unwrap(), Some(k.clone()));
        ids.push(k);
    }
    let extra = ApiKey {
        id: ApiKeyId::new_v7(ts(30)),
        lookup: "extra".into(),
        ..ids[0].clone()
    };
    assert_eq!(
        s.insert_api_key(&extra, 3).await.unwrap(),
        ApiKeyInsert::LimitReached
    );
    assert_eq!(s.find_api_key("extra").await.unwrap(), None);
    let listed = s.list_api_keys(c.id).await.unwrap();
    assert_eq!(listed, ids);
    assert!(s.delete_api_key(c.id, ids[0].id).await.unwrap());
    assert!(!s.delete_api_key(c.id, ids[0].id).await.unwrap());
    assert_eq!(s.find_api_key(&ids[0].lookup).await.unwrap(), None);
    assert_eq!(
        s.insert_api_key(&extra, 3).await.unwrap(),
        ApiKeyInsert::Inserted
    );
}

async fn companies_round_trip(s: &dyn Store) {
    let c = new_client(s, "Companies", 40).await;
    let mut co = company(c.id, "Acme Ltd", 41, &[("region", "uk"), ("team", "a")]);
    co.products = vec!["accounting".into()];
    co.consumer_id = Some("consumer-1".into());
    s.insert_company(&co, &Effects::none()).await.unwrap();
    assert_eq!(s.get_company(c.id, co.id).await.unwrap(), Some(co.clone()));

    co.name = "Acme Limited".into();
    co.description = None;
    co.tags = BTreeMap::new();
    co.modified = ts(50);
    assert!(s.update_company(&co).await.unwrap());
    assert_eq!(s.get_company(c.id, co.id).await.unwrap(), Some(co.clone()));
    // tags cleared means the tag query no longer matches
    let page = s
        .list_companies(c.id, &q(None, Some("region=uk"), None, 1, 10))
        .await
        .unwrap();
    assert_eq!(page.total, 0);

    let conn = connection(&co, "gbol", SourceType::Accounting, 60);
    assert_eq!(
        s.insert_connection(&conn, &Effects::none()).await.unwrap(),
        ConnectionInsert::Inserted
    );
    let before = s
        .list_companies(c.id, &ListQuery::default())
        .await
        .unwrap()
        .total;
    assert_eq!(before, 1);
    assert!(
        s.delete_company(c.id, co.id, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        s.list_companies(c.id, &ListQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(s.get_company(c.id, co.id).await.unwrap(), None);
    assert_eq!(s.get_connection(c.id, co.id, conn.id).await.unwrap(), None);
    assert!(
        !s.delete_company(c.id, co.id, &Effects::none())
            .await
            .unwrap()
    );
    assert!(!s.update_company(&co).await.unwrap());
}

async fn company_listing_and_queries(s: &dyn Store) {
    let c = new_client(s, "Listing", 100).await;
    let mut all = vec![];
    for i in 0..25i64 {
        let region = if i % 2 == 0 { "uk" } else { "us" };
        let co = company(
            c.id,
            &format!("Company {i:02}"),
            101 + i * 86_400_000,
            &[("region", region)],
        );
        s.insert_company(&co, &Effects::none()).await.unwrap();
        all.push(co);
    }
    // one linked accounting connection on company 3, pending on 4
    let mut linked = connection(&all[3], "gbol", SourceType::Accounting, 500);
    linked.status = ConnectionStatus::Linked;
    s.insert_connection(&linked, &Effects::none())
        .await
        .unwrap();
    s.insert_connection(
        &connection(&all[4], "qhyg", SourceType::Accounting, 501),
        &Effects::none(),
    )
    .await
    .unwrap();

    let page = s
        .list_companies(c.id, &q(None, None, None, 1, 10))
        .await
        .unwrap();
    assert_eq!(page.total, 25);
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.items[0].id, all[0].id);
    let page3 = s
        .list_companies(c.id, &q(None, None, None, 3, 10))
        .await
        .unwrap();
    assert_eq!(page3.items.len(), 5);
    assert!(!page3.has_next());
    assert!(page.has_next());

    let desc = s
        .list_companies(c.id, &q(None, None, Some("-created"), 1, 3))
        .await
        .unwrap();
    assert_eq!(desc.items[0].id, all[24].id);
    let by_name = s
        .list_companies(c.id, &q(None, None, Some("-name"), 1, 1))
        .await
        .unwrap();
    assert_eq!(by_name.items[0].name, "Company 24");

    let f = |filter: &'static str| q(Some(filter), None, None, 1, 100);
    assert_eq!(
        s.list_companies(c.id, &f("name=Company 07"))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_companies(c.id, &f("name~company 1"))
            .await
            .unwrap()
            .total,
        10
    );
    assert_eq!(
        s.list_companies(c.id, &f("name!=Company 07"))
            .await
            .unwrap()
            .total,
        24
    );
    assert_eq!(s.list_companies(c.id, &f("name~%")).await.unwrap().total, 0);
    assert_eq!(s.list_companies(c.id, &f("name~_")).await.unwrap().total, 0);
    assert_eq!(
        s.list_companies(
            c.id,
            &f("{name=Company 01 || name=Company 02} && tags.region=us")
        )
        .await
        .unwrap()
        .total,
        1
    );
    assert_eq!(
        s.list_companies(c.id, &f("dataConnections.status=Linked"))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_companies(c.id, &f("dataConnections.status=PendingAuth"))
            .await
            .unwrap()
            .total,
        1
    );
    let none = "dataConnections.status!=PendingAuth&&dataConnections.status!=Linked&&dataConnections.status!=Deauthorized&&dataConnections.status!=Unlinked";
    assert_eq!(s.list_companies(c.id, &f(none)).await.unwrap().total, 23);
    // dates: company i was created on day i after T0's day
    let day2 = Timestamp::from_millis(T0 + 2 * 86_400_000).to_rfc3339()[..10].to_owned();
    let on_day = format!("created={day2}");
    let after_day = format!("created>{day2}");
    assert_eq!(
        s.list_companies(c.id, &q(Some(&on_day), None, None, 1, 100))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_companies(c.id, &q(Some(&after_day), None, None, 1, 100))
            .await
            .unwrap()
            .total,
        22
    );
    // the tags parameter
    assert_eq!(
        s.list_companies(c.id, &q(None, Some("region=uk"), None, 1, 100))
            .await
            .unwrap()
            .total,
        13
    );
    assert_eq!(
        s.list_companies(c.id, &q(None, Some("region != uk"), None, 1, 100))
            .await
            .unwrap()
            .total,
        12
    );
    assert_eq!(
        s.list_companies(
            c.id,
            &q(Some("name~Company 0"), Some("region=uk"), None, 1, 100)
        )
        .await
        .unwrap()
        .total,
        5
    );
    // embedded connections
    let p = s
        .list_companies(
            c.id,
            &q(Some("dataConnections.status=Linked"), None, None, 1, 10),
        )
        .await
        .unwrap();
    assert_eq!(p.items[0].connections, vec![linked]);
    // errors
    let bad = s
        .list_companies(c.id, &q(Some("secret=1"), None, None, 1, 10))
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::Query(_)), "{bad:?}");
    let bad = s
        .list_companies(c.id, &q(None, None, Some("secret"), 1, 10))
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::Query(_)), "{bad:?}");
}

async fn connections(s: &dyn Store) {
    let c = new_client(s, "Connections", 1000).await;
    let co = company(c.id, "Conn Co", 1001, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let mut acc = connection(&co, "gbol", SourceType::Accounting, 1002);
    acc.connection_info = Some(
        serde_json::json!({"tenantId": "t-1"})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert_eq!(
        s.insert_connection(&acc, &Effects::none()).await.unwrap(),
        ConnectionInsert::Inserted
    );
    let second = connection(&co, "qhyg", SourceType::Accounting, 1003);
    assert_eq!(
        s.insert_connection(&second, &Effects::none())
            .await
            .unwrap(),
        ConnectionInsert::AccountingExists(acc.id)
    );
    let bank = connection(&co, "suuo", SourceType::Banking, 1004);
    let bank2 = connection(&co, "upvr", SourceType::Banking, 1005);
    let shop = connection(&co, "fztf", SourceType::Commerce, 1006);
    for x in [&bank, &bank2, &shop] {
        assert_eq!(
            s.insert_connection(x, &Effects::none()).await.unwrap(),
            ConnectionInsert::Inserted
        );
    }
    let ghost = Company {
        id: CompanyId::new_v7(ts(1)),
        ..co.clone()
    };
    assert_eq!(
        s.insert_connection(
            &connection(&ghost, "gbol", SourceType::Accounting, 1007),
            &Effects::none()
        )
        .await
        .unwrap(),
        ConnectionInsert::NoSuchCompany
    );

    assert_eq!(
        s.get_connection(c.id, co.id, acc.id).await.unwrap(),
        Some(acc.clone())
    );
    let all = s
        .list_connections(c.id, co.id, &q(None, None, None, 1, 100))
        .await
        .unwrap();
    assert_eq!(
        all.items,
        vec![acc.clone(), bank.clone(), bank2.clone(), shop.clone()]
    );
    let banks = s
        .list_connections(
            c.id,
            co.id,
            &q(Some("sourceType=Banking"), None, Some("-created"), 1, 100),
        )
        .await
        .unwrap();
    assert_eq!(banks.items, vec![bank2.clone(), bank.clone()]);
    assert!(matches!(
        s.list_connections(c.id, co.id, &q(Some("status>Linked"), None, None, 1, 100))
            .await,
        Err(Error::Query(_))
    ));

    let unlinked = s
        .set_connection_status(
            c.id,
            co.id,
            acc.id,
            ConnectionStatus::Unlinked,
            ts(2000),
            &Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unlinked.status, ConnectionStatus::Unlinked);
    assert_eq!(unlinked.modified, ts(2000));
    // still the company's accounting connection: a second one is refused
    assert_eq!(
        s.insert_connection(&second, &Effects::none())
            .await
            .unwrap(),
        ConnectionInsert::AccountingExists(acc.id)
    );
    let fetched = s.get_company(c.id, co.id).await.unwrap().unwrap();
    assert_eq!(fetched.connections.len(), 4);
    assert_eq!(fetched.connections[0].status, ConnectionStatus::Unlinked);

    assert!(
        s.delete_connection(c.id, co.id, acc.id, &Effects::none())
            .await
            .unwrap()
    );
    assert!(
        !s.delete_connection(c.id, co.id, acc.id, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(s.get_connection(c.id, co.id, acc.id).await.unwrap(), None);
    // once deleted, a new accounting connection is allowed
    assert_eq!(
        s.insert_connection(&second, &Effects::none())
            .await
            .unwrap(),
        ConnectionInsert::Inserted
    );
    assert_eq!(
        s.set_connection_status(
            c.id,
            co.id,
            acc.id,
            ConnectionStatus::Unlinked,
            ts(1),
            &Effects::none()
        )
        .await
        .unwrap(),
        None
    );
}

async fn tenant_isolation(s: &dyn Store) {
    let a = new_client(s, "Tenant A", 3000).await;
    let b = new_client(s, "Tenant B", 3001).await;
    let co = company(a.id, "A's company", 3002, &[("x", "y")]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let conn = connection(&co, "gbol", SourceType::Accounting, 3003);
    s.insert_connection(&conn, &Effects::none()).await.unwrap();
    let key = ApiKey {
        id: ApiKeyId::new_v7(ts(3004)),
        client_id: a.id,
        name: None,
        lookup: format!("tenant{}", &a.id.to_string()[..6]),
        hash: [9; 32],
        permissions: vec![],
        created: ts(3004),
    };
    s.insert_api_key(&key, 10).await.unwrap();

    assert_eq!(s.get_company(b.id, co.id).await.unwrap(), None);
    assert_eq!(
        s.list_companies(b.id, &ListQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    let mut hijack = co.clone();
    hijack.client_id = b.id;
    hijack.name = "hijacked".into();
    assert!(!s.update_company(&hijack).await.unwrap());
    assert!(
        !s.delete_company(b.id, co.id, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(s.get_connection(b.id, co.id, conn.id).await.unwrap(), None);
    assert_eq!(
        s.list_connections(b.id, co.id, &ListQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        s.set_connection_status(
            b.id,
            co.id,
            conn.id,
            ConnectionStatus::Unlinked,
            ts(1),
            &Effects::none()
        )
        .await
        .unwrap(),
        None
    );
    assert!(
        !s.delete_connection(b.id, co.id, conn.id, &Effects::none())
            .await
            .unwrap()
    );
    let mut foreign = connection(&co, "suuo", SourceType::Banking, 3005);
    foreign.client_id = b.id;
    assert_eq!(
        s.insert_connection(&foreign, &Effects::none())
            .await
            .unwrap(),
        ConnectionInsert::NoSuchCompany
    );
    assert!(!s.delete_api_key(b.id, key.id).await.unwrap());
    assert!(s.list_api_keys(b.id).await.unwrap().is_empty());
    // A's things are intact
    assert_eq!(
        s.get_company(a.id, co.id).await.unwrap().unwrap().name,
        "A's company"
    );
    assert_eq!(s.list_api_keys(a.id).await.unwrap().len(), 1);
}

async fn timestamps_are_identical(s: &dyn Store) {
    let c = new_client(s, "Times", 4000).await;
    let mut co = company(c.id, "Times", 4001, &[]);
    co.created = Timestamp::from_millis(1_234_567_890_123);
    co.last_sync = Some(Timestamp::from_millis(1_234_567_890_999));
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let got = s.get_company(c.id, co.id).await.unwrap().unwrap();
    assert_eq!(got.created.to_rfc3339(), "2009-02-13T23:31:30.123Z");
    assert_eq!(got.last_sync, co.last_sync);
}

fn audit(c: &Connection, action: &str, at: i64) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7(),
        client_id: c.client_id,
        actor: "cli".into(),
        action: action.into(),
        company_id: Some(c.company_id),
        connection_id: Some(c.id),
        outcome: "success".into(),
        detail: Some("test".into()),
        at: ts(at),
    }
}

async fn credentials_and_audit(s: &dyn Store) {
    let c = new_client(s, "Credentials", 5000).await;
    let co = company(c.id, "Cred Co", 5001, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let conn = connection(&co, "mqjo", SourceType::Accounting, 5002);
    s.insert_connection(&conn, &Effects::none()).await.unwrap();
    let creds = SealedCredentials {
        client_id: c.id,
        company_id: co.id,
        connection_id: conn.id,
        auth_type: AuthType::Oauth2,
        key_id: "keyA".into(),
        sealed: vec![1, 2, 3, 0, 255],
        token_type: Some("Bearer".into()),
        scopes: vec!["accounting.read".into()],
        expires_at: Some(ts(9000)),
        issued_at: Some(ts(5000)),
        needs_refresh: false,
        version: 0,
        updated: ts(5003),
    };
    let info = serde_json::json!({"tenantId": "t-9"})
        .as_object()
        .unwrap()
        .clone();
    let update = ConnectionUpdate {
        status: ConnectionStatus::Linked,
        connection_info: Some(info.clone()),
        errors: None,
        at: ts(5003),
    };
    let linked = s
        .store_credentials(
            &creds,
            &update,
            &audit(&conn, "connection.migrate", 5003),
            &Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.status, ConnectionStatus::Linked);
    assert_eq!(linked.connection_info, Some(info));
    let got = s.get_credentials(c.id, conn.id).await.unwrap().unwrap();
    assert_eq!(
        got,
        SealedCredentials {
            version: 1,
            ..creds.clone()
        }
    );

    // a re-migration replaces the credentials and bumps the version
    let again = SealedCredentials {
        sealed: vec![9; 40],
        key_id: "keyB".into(),
        expires_at: None,
        needs_refresh: true,
        ..creds.clone()
    };
    s.store_credentials(
        &again,
        &ConnectionUpdate {
            connection_info: None,
            ..update.clone()
        },
        &audit(&conn, "connection.migrate", 5004),
        &Effects::none(),
    )
    .await
    .unwrap()
    .unwrap();
    let got = s.get_credentials(c.id, conn.id).await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.sealed, vec![9; 40]);
    assert!(got.needs_refresh);
    assert_eq!(
        s.get_connection(c.id, co.id, conn.id)
            .await
            .unwrap()
            .unwrap()
            .connection_info
            .unwrap()["tenantId"],
        "t-9"
    );

    // compare-and-swap: only one of two writers holding version 2 wins
    let w1 = SealedCredentials {
        sealed: vec![1; 10],
        ..got.clone()
    };
    let w2 = SealedCredentials {
        sealed: vec![2; 10],
        ..got.clone()
    };
    assert!(
        s.swap_credentials(&w1, 2, None, &Effects::none())
            .await
            .unwrap()
    );
    assert!(
        !s.swap_credentials(&w2, 2, None, &Effects::none())
            .await
            .unwrap()
    );
    let now = s.get_credentials(c.id, conn.id).await.unwrap().unwrap();
    assert_eq!(now.sealed, vec![1; 10]);
    assert_eq!(now.version, 3);

    // key bookkeeping for rotation
    let counts = s.credential_key_counts().await.unwrap();
    assert!(
        counts.iter().any(|(k, n)| k == "keyB" && *n >= 1),
        "{counts:?}"
    );
    let old = s.credentials_not_under("keyZ", 1000).await.unwrap();
    assert!(old.iter().any(|x| x.connection_id == conn.id));
    assert!(
        s.credentials_not_under("keyB", 1000)
            .await
            .unwrap()
            .iter()
            .all(|x| x.key_id != "keyB")
    );

    // scoped by client; a missing connection changes nothing
    let other = new_client(s, "Credentials B", 5005).await;
    assert_eq!(s.get_credentials(other.id, conn.id).await.unwrap(), None);
    let foreign = SealedCredentials {
        client_id: other.id,
        ..creds.clone()
    };
    assert_eq!(
        s.store_credentials(
            &foreign,
            &update,
            &audit(&conn, "x", 5006),
            &Effects::none()
        )
        .await
        .unwrap(),
        None
    );
    assert!(
        !s.swap_credentials(&foreign, 3, None, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_credentials(c.id, conn.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        3
    );

    // the audit log: newest first, per client, only the committed entries
    s.insert_audit(&audit(&conn, "connection.validate", 5007))
        .await
        .unwrap();
    let log = s
        .list_audit(
            c.id,
            PageRequest {
                page: 1,
                page_size: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(log.total, 3);
    assert_eq!(log.items[0].action, "connection.validate");
    assert_eq!(log.items[2].action, "connection.migrate");
    assert_eq!(
        s.list_audit(other.id, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );

    // deleting the connection deletes its credentials
    assert!(
        s.delete_connection(c.id, co.id, conn.id, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(s.get_credentials(c.id, conn.id).await.unwrap(), None);
}

async fn status_counts(s: &dyn Store) {
    let before: u64 = s
        .connection_status_counts()
        .await
        .unwrap()
        .iter()
        .filter(|(k, _)| k == "PendingAuth")
        .map(|(_, n)| *n)
        .sum();
    let c = new_client(s, "Counts", 6100).await;
    let co = company(c.id, "Count Co", 6101, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    s.insert_connection(
        &connection(&co, "mqjo", SourceType::Accounting, 6102),
        &Effects::none(),
    )
    .await
    .unwrap();
    let after: u64 = s
        .connection_status_counts()
        .await
        .unwrap()
        .iter()
        .filter(|(k, _)| k == "PendingAuth")
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(after, before + 1);
}

async fn connection_errors(s: &dyn Store) {
    let c = new_client(s, "Errors", 6000).await;
    let co = company(c.id, "Err Co", 6001, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let conn = connection(&co, "mqjo", SourceType::Accounting, 6002);
    s.insert_connection(&conn, &Effects::none()).await.unwrap();
    let errors = vec![ConnectionError {
        status_code: "403".into(),
        status_text: "access_denied".into(),
        error_message: "The user denied access.".into(),
        errored_on_utc: ts(6003),
        status: "Active".into(),
        resolved_on_utc: None,
    }];
    let got = s
        .set_connection_errors(
            c.id,
            co.id,
            conn.id,
            &errors,
            &audit(&conn, "link.failed", 6003),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.errors, errors);
    assert_eq!(got.status, ConnectionStatus::PendingAuth);
    assert_eq!(got.modified, ts(6003));
    let log = s.list_audit(c.id, PageRequest::default()).await.unwrap();
    assert_eq!(log.items[0].action, "link.failed");
    // another client cannot touch it, and nothing is logged for it
    let other = new_client(s, "Errors other", 6004).await;
    assert!(
        s.set_connection_errors(other.id, co.id, conn.id, &[], &audit(&conn, "x", 6005))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.list_audit(other.id, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}

fn flow(c: &Connection, id: &str, state: &str, at: i64) -> LinkFlow {
    LinkFlow {
        id: id.into(),
        state_hash: state.into(),
        browser_hash: "b".repeat(64),
        client_id: c.client_id,
        company_id: c.company_id,
        connection_id: c.id,
        integration_key: c.integration_key.clone(),
        lang: "fr".into(),
        stage: LinkStage::Authorizing,
        sealed: vec![0, 1, 2, 254],
        version: 0,
        created: ts(at),
        expires: ts(at + 600_000),
    }
}

async fn link_flows(s: &dyn Store) {
    let c = new_client(s, "Link flows", 7000).await;
    let co = company(c.id, "Flow Co", 7001, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let conn = connection(&co, "mqjo", SourceType::Accounting, 7002);
    s.insert_connection(&conn, &Effects::none()).await.unwrap();
    let f = flow(
        &conn,
        &format!("flow-{}", conn.id),
        &format!("state-{}", conn.id),
        7003,
    );
    s.insert_link_flow(&f).await.unwrap();
    assert_eq!(s.company_owner(co.id).await.unwrap(), Some(c.id));
    assert_eq!(
        s.company_owner(CompanyId::new_v7(ts(1))).await.unwrap(),
        None
    );
    assert_eq!(s.get_link_flow(&f.id).await.unwrap(), Some(f.clone()));
    assert_eq!(
        s.find_link_flow_by_state(&f.state_hash).await.unwrap(),
        Some(f.clone())
    );
    assert_eq!(s.get_link_flow("nope").await.unwrap(), None);
    assert_eq!(s.find_link_flow_by_state("nope").await.unwrap(), None);
    // the state is unique
    let dup = LinkFlow {
        id: format!("other-{}", conn.id),
        ..f.clone()
    };
    assert!(s.insert_link_flow(&dup).await.is_err());

    // compare-and-swap: one of two racing updates wins
    let next = LinkFlow {
        stage: LinkStage::Exchanging,
        sealed: vec![9; 40],
        expires: ts(9999),
        ..f.clone()
    };
    assert!(s.update_link_flow(&next, 0).await.unwrap());
    assert!(!s.update_link_flow(&next, 0).await.unwrap());
    let got = s.get_link_flow(&f.id).await.unwrap().unwrap();
    assert_eq!(got.stage, LinkStage::Exchanging);
    assert_eq!(got.sealed, vec![9; 40]);
    assert_eq!(got.version, 1);
    assert_eq!(got.expires, ts(9999));
    // immutable columns stay
    assert_eq!(got.state_hash, f.state_hash);
    assert_eq!(got.lang, "fr");

    // flows that expired over a day ago are swept when a new one starts
    let later = flow(
        &conn,
        &format!("later-{}", conn.id),
        &format!("state2-{}", conn.id),
        7003 + 2 * 24 * 3600 * 1000,
    );
    s.insert_link_flow(&later).await.unwrap();
    assert_eq!(s.get_link_flow(&f.id).await.unwrap(), None);
    assert!(s.get_link_flow(&later.id).await.unwrap().is_some());
}

async fn integration_credentials(s: &dyn Store) {
    let c = new_client(s, "Integration creds", 8000).await;
    let other = new_client(s, "Integration creds other", 8001).await;
    assert!(
        s.list_integration_credentials(c.id)
            .await
            .unwrap()
            .is_empty()
    );
    let creds = IntegrationCredentials {
        client_id: c.id,
        integration_key: "gbol".into(),
        oauth_client_id: "xero-client".into(),
        sealed_secret: Some(vec![7, 7, 7]),
        key_id: Some("keyA".into()),
        updated: ts(8002),
    };
    s.put_integration_credentials(&creds).await.unwrap();
    assert_eq!(
        s.get_integration_credentials(c.id, "gbol").await.unwrap(),
        Some(creds.clone())
    );
    // rotation sees it (sealed under keyA, not the active keyB) and the key counts include it
    let stale = s
        .integration_credentials_not_under("keyB", 1000)
        .await
        .unwrap();
    assert!(
        stale
            .iter()
            .any(|x| x.client_id == c.id && x.integration_key == "gbol")
    );
    assert!(
        !s.integration_credentials_not_under("keyA", 1000)
            .await
            .unwrap()
            .iter()
            .any(|x| x.client_id == c.id)
    );
    assert!(
        s.credential_key_counts()
            .await
            .unwrap()
            .iter()
            .any(|(k, n)| k == "keyA" && *n >= 1)
    );
    assert_eq!(
        s.get_integration_credentials(other.id, "gbol")
            .await
            .unwrap(),
        None
    );
    let replaced = IntegrationCredentials {
        oauth_client_id: "xero-client-2".into(),
        sealed_secret: None,
        key_id: None,
        updated: ts(8003),
        ..creds.clone()
    };
    s.put_integration_credentials(&replaced).await.unwrap();
    assert_eq!(
        s.list_integration_credentials(c.id).await.unwrap(),
        vec![replaced]
    );
    assert!(
        !s.delete_integration_credentials(other.id, "gbol")
            .await
            .unwrap()
    );
    assert!(
        s.delete_integration_credentials(c.id, "gbol")
            .await
            .unwrap()
    );
    assert!(
        !s.delete_integration_credentials(c.id, "gbol")
            .await
            .unwrap()
    );
    assert!(
        s.list_integration_credentials(c.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn leases(s: &dyn Store) {
    let key = format!("refresh:{}", uuid::Uuid::now_v7());
    // free: taken
    assert!(s.try_lease(&key, "a", ts(100), ts(0)).await.unwrap());
    // held by a until 100: b cannot take it, a can extend it
    assert!(!s.try_lease(&key, "b", ts(200), ts(50)).await.unwrap());
    assert!(s.try_lease(&key, "a", ts(150), ts(60)).await.unwrap());
    // run out at 150: b takes it
    assert!(!s.try_lease(&key, "b", ts(300), ts(149)).await.unwrap());
    assert!(s.try_lease(&key, "b", ts(300), ts(150)).await.unwrap());
    // a's release does nothing now; b's frees it
    s.release_lease(&key, "a").await.unwrap();
    assert!(!s.try_lease(&key, "c", ts(400), ts(200)).await.unwrap());
    s.release_lease(&key, "b").await.unwrap();
    assert!(s.try_lease(&key, "c", ts(400), ts(200)).await.unwrap());
    // keys are independent
    assert!(
        s.try_lease(&format!("{key}-other"), "d", ts(400), ts(200))
            .await
            .unwrap()
    );
}

fn new_job(
    kind: &str,
    at: i64,
    idem: Option<&str>,
    conc: Option<&str>,
) -> finlink_domain::job::NewJob {
    finlink_domain::job::NewJob {
        id: uuid::Uuid::now_v7(),
        kind: kind.into(),
        payload: r#"{"x":1}"#.into(),
        run_at: ts(at),
        max_attempts: 3,
        idempotency_key: idem.map(str::to_owned),
        concurrency_key: conc.map(str::to_owned),
        created: ts(at),
    }
}

async fn jobs(s: &dyn Store) {
    use finlink_domain::job::JobState;
    // Jobs share one table across clients: use times far from other checks' jobs.
    let base = 9_000_000;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let idem = format!("idem-{tag}");
    let conc = format!("conc-{tag}");
    let a = new_job("refresh", base, Some(&idem), None);
    assert!(s.enqueue_job(&a).await.unwrap());
    // the same idempotency key is a no-op
    assert!(
        !s.enqueue_job(&new_job("refresh", base, Some(&idem), None))
            .await
            .unwrap()
    );
    let b = new_job("refresh", base + 10, None, Some(&conc));
    let c = new_job("refresh", base + 20, None, Some(&conc));
    let later = new_job("refresh", base + 1_000_000, None, None);
    for j in [&b, &c, &later] {
        assert!(s.enqueue_job(j).await.unwrap());
    }
    let mine = |jobs: &[finlink_domain::job::Job]| -> Vec<uuid::Uuid> {
        jobs.iter()
            .map(|j| j.id)
            .filter(|id| [a.id, b.id, c.id, later.id].contains(id))
            .collect()
    };
    // Not due yet: nothing of ours.
    let got = s
        .claim_jobs("w1", ts(base - 1), ts(base + 100), 50, 1)
        .await
        .unwrap();
    assert!(mine(&got).is_empty());
    // Due: a, and one of b/c (same concurrency key), never `later`.
    let got = s
        .claim_jobs("w1", ts(base + 30), ts(base + 100), 50, 1)
        .await
        .unwrap();
    let ids = mine(&got);
    assert!(ids.contains(&a.id) && ids.contains(&b.id), "{ids:?}");
    assert!(!ids.contains(&c.id) && !ids.contains(&later.id), "{ids:?}");
    let ja = got.iter().find(|j| j.id == a.id).unwrap().clone();
    assert_eq!(ja.state, JobState::Running);
    assert_eq!(ja.attempts, 1);
    assert_eq!(ja.fence, 1);
    assert_eq!(ja.lease_owner.as_deref(), Some("w1"));
    assert_eq!(ja.payload, r#"{"x":1}"#);
    // c stays waiting while b runs with a live lease
    let got = s
        .claim_jobs("w2", ts(base + 40), ts(base + 140), 50, 1)
        .await
        .unwrap();
    assert!(mine(&got).is_empty(), "{:?}", mine(&got));
    // heartbeat extends; finishing needs the right fence
    assert!(s.heartbeat_job(a.id, 1, ts(base + 500)).await.unwrap());
    assert!(!s.finish_job(a.id, 0, ts(base + 50)).await.unwrap());
    assert!(s.finish_job(a.id, 1, ts(base + 50)).await.unwrap());
    assert_eq!(
        s.get_job(a.id).await.unwrap().unwrap().state,
        JobState::Done
    );
    // b's worker dies: its lease runs out at base+100 and w2 takes it over (fence 2); the old
    // worker can no longer commit
    let got = s
        .claim_jobs("w2", ts(base + 100), ts(base + 300), 50, 1)
        .await
        .unwrap();
    let jb = got
        .iter()
        .find(|j| j.id == b.id)
        .expect("b taken over")
        .clone();
    assert_eq!(
        (jb.fence, jb.attempts, jb.lease_owner.as_deref()),
        (2, 2, Some("w2"))
    );
    assert!(!mine(&got).contains(&c.id), "c waits for b's key");
    assert!(!s.finish_job(b.id, 1, ts(base + 110)).await.unwrap());
    assert!(!s.heartbeat_job(b.id, 1, ts(base + 900)).await.unwrap());
    // a failed attempt is queued again at retry_at with its error; then dead
    assert!(
        s.fail_job(
            b.id,
            2,
            "provider 503",
            Some(ts(base + 200)),
            ts(base + 110)
        )
        .await
        .unwrap()
    );
    let jb = s.get_job(b.id).await.unwrap().unwrap();
    assert_eq!(
        (jb.state, jb.run_at, jb.last_error.as_deref()),
        (JobState::Queued, ts(base + 200), Some("provider 503"))
    );
    assert!(jb.lease_owner.is_none());
    // now the key is free: c (due earlier) or b can run, one of them
    let got = s
        .claim_jobs("w3", ts(base + 200), ts(base + 400), 50, 1)
        .await
        .unwrap();
    let ids = mine(&got);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let j = got.iter().find(|j| ids.contains(&j.id)).unwrap().clone();
    assert!(
        s.fail_job(j.id, j.fence, "gave up", None, ts(base + 210))
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_job(j.id).await.unwrap().unwrap().state,
        JobState::Dead
    );
    let counts = s.job_state_counts().await.unwrap();
    for state in ["done", "dead"] {
        assert!(
            counts.iter().any(|(k, n)| k == state && *n >= 1),
            "{counts:?}"
        );
    }
    assert_eq!(s.get_job(uuid::Uuid::now_v7()).await.unwrap(), None);
    // A backlog behind one busy key never hides other due work.
    let b2 = base + 10_000;
    for i in 0..10 {
        s.enqueue_job(&finlink_domain::job::NewJob {
            id: uuid::Uuid::now_v7(),
            kind: "deliver".into(),
            payload: format!("{{\"n\":{i}}}"),
            run_at: ts(b2 + i),
            max_attempts: 3,
            idempotency_key: None,
            concurrency_key: Some("lane-busy".into()),
            created: ts(b2),
        })
        .await
        .unwrap();
    }
    // Take everything due now: one of the busy lane's jobs (never two), and whatever else is due.
    let first = s
        .claim_jobs("w9", ts(b2 + 100), ts(b2 + 100_000), 50, 1)
        .await
        .unwrap();
    let busy = first
        .iter()
        .filter(|j| j.concurrency_key.as_deref() == Some("lane-busy"))
        .count();
    assert_eq!(busy, 1, "one running job per key");
    // A job due after the nine waiting behind the busy key is still found with limit 1.
    let other = finlink_domain::job::NewJob {
        id: uuid::Uuid::now_v7(),
        kind: "deliver".into(),
        payload: "{}".into(),
        run_at: ts(b2 + 50),
        max_attempts: 3,
        idempotency_key: None,
        concurrency_key: Some("lane-free".into()),
        created: ts(b2),
    };
    s.enqueue_job(&other).await.unwrap();
    let next = s
        .claim_jobs("w9", ts(b2 + 100), ts(b2 + 100_000), 1, 1)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    for j in first.iter().chain(next.iter()) {
        assert!(s.finish_job(j.id, j.fence, ts(b2 + 200)).await.unwrap());
    }
    // Groups: a key's next due jobs come with its head, in run order, for one owner.
    let group = s
        .claim_jobs("w9", ts(b2 + 100), ts(b2 + 100_000), 10, 4)
        .await
        .unwrap();
    let lane: Vec<&finlink_domain::job::Job> = group
        .iter()
        .filter(|j| j.concurrency_key.as_deref() == Some("lane-busy"))
        .collect();
    assert_eq!(lane.len(), 4, "{group:?}");
    assert!(lane.windows(2).all(|w| w[0].run_at < w[1].run_at));
    assert!(
        lane.iter()
            .all(|j| j.state == JobState::Running && j.lease_owner.as_deref() == Some("w9"))
    );
    // Another owner finds the key busy while the group runs.
    let other_owner = s
        .claim_jobs("w8", ts(b2 + 100), ts(b2 + 100_000), 10, 4)
        .await
        .unwrap();
    assert!(
        other_owner
            .iter()
            .all(|j| j.concurrency_key.as_deref() != Some("lane-busy"))
    );
    // Outcomes are recorded together; a stale fence is refused and leaves its job alone.
    let records: Vec<finlink_domain::job::JobRecord> = lane
        .iter()
        .enumerate()
        .map(|(i, j)| finlink_domain::job::JobRecord {
            id: j.id,
            fence: if i == 3 { j.fence + 7 } else { j.fence },
            result: if i == 1 {
                finlink_domain::job::JobResult::Retry {
                    at: ts(b2 + 5_000),
                    error: "503".into(),
                }
            } else {
                finlink_domain::job::JobResult::Done
            },
            at: ts(b2 + 150),
            delivery: None,
        })
        .collect();
    assert_eq!(
        s.record_jobs(&records).await.unwrap(),
        vec![true, true, true, false]
    );
    let retried = s.get_job(lane[1].id).await.unwrap().unwrap();
    assert_eq!(
        (retried.state, retried.run_at),
        (JobState::Queued, ts(b2 + 5_000))
    );
    assert_eq!(retried.last_error.as_deref(), Some("503"));
    assert_eq!(
        s.get_job(lane[3].id).await.unwrap().unwrap().state,
        JobState::Running
    );
    assert!(
        s.finish_job(lane[3].id, lane[3].fence, ts(b2 + 160))
            .await
            .unwrap()
    );
    let rest = s
        .claim_jobs("w9", ts(b2 + 200), ts(b2 + 100_000), 10, 100)
        .await
        .unwrap();
    assert_eq!(
        rest.iter()
            .filter(|j| j.concurrency_key.as_deref() == Some("lane-busy"))
            .count(),
        5
    );
    for j in rest.iter().chain(other_owner.iter()) {
        assert!(s.finish_job(j.id, j.fence, ts(b2 + 300)).await.unwrap());
    }
    // Finished jobs are pruned; dead ones are kept for the operator.
    assert!(s.prune_jobs(ts(base + 1_000_000), 1000).await.unwrap() >= 1);
    let counts = s.job_state_counts().await.unwrap();
    assert!(!counts.iter().any(|(k, _)| k == "done"), "{counts:?}");
    assert!(counts.iter().any(|(k, n)| k == "dead" && *n >= 1));
}

fn event(
    client: ClientId,
    t: &str,
    co: Option<CompanyId>,
    conn: Option<ConnectionId>,
    at: i64,
) -> Event {
    Event {
        id: uuid::Uuid::now_v7(),
        client_id: client,
        event_type: t.into(),
        company_id: co,
        connection_id: conn,
        payload: format!("{{\"t\":\"{t}\"}}"),
        occurred_at: ts(at),
    }
}

/// Effects (events, jobs) are written with the change, and only when it happens; refresh health
/// round-trips; a connection write can drop the credentials; events list newest first, filtered.
async fn effects_health_and_events(s: &dyn Store) {
    let c = new_client(s, "Effects", 9000).await;
    let co = company(c.id, "Effects Co", 9001, &[]);
    let created = Effects {
        events: vec![event(c.id, "company.created", Some(co.id), None, 9001)],
        jobs: Vec::new(),
        deliveries: Vec::new(),
        pulls: None,
    };
    s.insert_company(&co, &created).await.unwrap();
    let conn = connection(&co, "mqjo", SourceType::Accounting, 9002);
    let job = finlink_domain::job::NewJob {
        id: uuid::Uuid::now_v7(),
        kind: "refresh".into(),
        payload: "{}".into(),
        run_at: ts(9500),
        max_attempts: 3,
        idempotency_key: Some(format!("effects:{}", conn.id)),
        concurrency_key: None,
        created: ts(9002),
    };
    let with_job = Effects {
        events: vec![event(
            c.id,
            "connection.created",
            Some(co.id),
            Some(conn.id),
            9002,
        )],
        jobs: vec![job.clone()],
        deliveries: Vec::new(),
        pulls: None,
    };
    assert_eq!(
        s.insert_connection(&conn, &with_job).await.unwrap(),
        ConnectionInsert::Inserted
    );
    assert_eq!(s.get_job(job.id).await.unwrap().unwrap().run_at, ts(9500));
    // A second accounting connection is refused: its effects are not written.
    let refused = connection(&co, "gbol", SourceType::Accounting, 9003);
    let ghost = Effects {
        events: vec![event(
            c.id,
            "connection.created",
            Some(co.id),
            Some(refused.id),
            9003,
        )],
        jobs: Vec::new(),
        deliveries: Vec::new(),
        pulls: None,
    };
    assert!(matches!(
        s.insert_connection(&refused, &ghost).await.unwrap(),
        ConnectionInsert::AccountingExists(_)
    ));
    let health = RefreshHealth {
        failing_since: Some(ts(9100)),
        last_failed_at: Some(ts(9200)),
        credentials_expire_at: Some(ts(99_000)),
        revoked: false,
    };
    let write = ConnectionWrite {
        status: Some(ConnectionStatus::Deauthorized),
        errors: None,
        refresh: Some(health.clone()),
        drop_credentials: false,
        at: ts(9200),
        only_if_failing: false,
        only_if_connected: false,
    };
    let failed = s
        .update_connection(
            c.id,
            co.id,
            conn.id,
            &write,
            &Effects {
                events: vec![event(
                    c.id,
                    "connection.failed",
                    Some(co.id),
                    Some(conn.id),
                    9200,
                )],
                jobs: Vec::new(),
                deliveries: Vec::new(),
                pulls: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, ConnectionStatus::Deauthorized);
    assert_eq!(failed.refresh, health);
    let got = s
        .get_connection(c.id, co.id, conn.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.refresh, health);
    // Unknown connection: nothing written.
    assert!(
        s.update_connection(c.id, co.id, ConnectionId::new_v7(ts(1)), &write, &with_job)
            .await
            .unwrap()
            .is_none()
    );
    // Store credentials, then a write that drops them (retention ran out).
    let creds = SealedCredentials {
        client_id: c.id,
        company_id: co.id,
        connection_id: conn.id,
        auth_type: AuthType::Oauth2,
        key_id: "keyA".into(),
        sealed: vec![9, 9],
        token_type: None,
        scopes: vec![],
        expires_at: None,
        issued_at: None,
        needs_refresh: true,
        version: 0,
        updated: ts(9300),
    };
    let relinked = s
        .store_credentials(
            &creds,
            &ConnectionUpdate {
                status: ConnectionStatus::Linked,
                connection_info: None,
                errors: None,
                at: ts(9300),
            },
            &audit(&conn, "connection.migrate", 9300),
            &Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        relinked.refresh.failing_since, None,
        "new credentials close the cycle"
    );
    assert_eq!(relinked.refresh.last_failed_at, Some(ts(9200)));
    let revoked = ConnectionWrite {
        status: None,
        errors: None,
        refresh: Some(RefreshHealth {
            revoked: true,
            ..RefreshHealth::default()
        }),
        drop_credentials: true,
        at: ts(9400),
        only_if_failing: false,
        only_if_connected: false,
    };
    let after = s
        .update_connection(c.id, co.id, conn.id, &revoked, &Effects::none())
        .await
        .unwrap()
        .unwrap();
    assert!(after.refresh.revoked);
    assert_eq!(s.get_credentials(c.id, conn.id).await.unwrap(), None);
    // Events: newest first, filtered; a deleted company's events stay.
    assert!(
        s.delete_company(
            c.id,
            co.id,
            &Effects {
                events: vec![event(c.id, "company.deleted", Some(co.id), None, 9500)],
                jobs: Vec::new(),
                deliveries: Vec::new(),
                pulls: None,
            },
        )
        .await
        .unwrap()
    );
    let all = s
        .list_events(c.id, &EventFilter::default(), PageRequest::default())
        .await
        .unwrap();
    let types: Vec<&str> = all.items.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "company.deleted",
            "connection.failed",
            "connection.created",
            "company.created"
        ]
    );
    assert_eq!(all.total, 4);
    let of_conn = s
        .list_events(
            c.id,
            &EventFilter {
                connection: Some(conn.id),
                ..EventFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(of_conn.total, 2);
    let typed = s
        .list_events(
            c.id,
            &EventFilter {
                event_type: Some("company.created".into()),
                company: Some(co.id),
                connection: None,
                since: None,
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(typed.items.len(), 1);
    assert_eq!(typed.items[0].payload, "{\"t\":\"company.created\"}");
    let other = new_client(s, "Effects other", 9600).await;
    assert_eq!(
        s.list_events(other.id, &EventFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}

// -- syncs ---------------------------------------------------------------------------------------

fn pull_job(dataset: uuid::Uuid, at: i64) -> finlink_domain::job::NewJob {
    finlink_domain::job::NewJob {
        id: uuid::Uuid::now_v7(),
        kind: "pull".into(),
        payload: format!("{{\"dataset\":\"{dataset}\"}}"),
        run_at: ts(at),
        max_attempts: 10,
        idempotency_key: Some(format!("pull:{dataset}")),
        concurrency_key: None,
        created: ts(at),
    }
}

fn batch_of(
    co: &Company,
    items: &[(&Connection, finlink_domain::data::DataType)],
    initial: bool,
    at: i64,
) -> crate::PullBatch {
    let batch = finlink_domain::sync::SyncBatch {
        id: uuid::Uuid::now_v7(),
        client_id: co.client_id,
        company_id: co.id,
        is_initial: initial,
        requested: ts(at),
        completed: None,
    };
    let pulls = items
        .iter()
        .map(|(conn, t)| {
            let id = uuid::Uuid::now_v7();
            crate::NewPull {
                dataset: finlink_domain::sync::Dataset::queued(
                    id,
                    co.client_id,
                    co.id,
                    conn.id,
                    batch.id,
                    *t,
                    initial,
                    ts(at),
                ),
                job: pull_job(id, at),
            }
        })
        .collect();
    crate::PullBatch { batch, pulls }
}

fn rec(id: &str, body: &str, hash: &str, modified: i64) -> crate::NewRecord {
    crate::NewRecord {
        record_id: id.into(),
        data: format!("{{\"id\":\"{id}\",\"body\":\"{body}\",\"modifiedDate\":\"{modified}\"}}"),
        raw: format!("{{\"ID\":\"{id}\"}}"),
        hash: hash.into(),
        source_modified: Some(ts(modified - 100)),
        modified: ts(modified),
    }
}

/// Datasets are queued once per connection and data type at a time, with their jobs and batch;
/// a run starts and resumes with a token, stores pages atomically (an unchanged record keeps
/// its row), ends once, and carries its watermark; history, data status, batches, records.
async fn syncs(s: &dyn Store) {
    use crate::{DatasetStart, DatasetUpdate, PageWrite, QueueOutcome};
    use finlink_domain::data::{DataType, DatasetStatus};
    let c = new_client(s, "Syncs", 20_000).await;
    let co = company(c.id, "Syncs Co", 20_001, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let acc = connection(&co, "mqjo", SourceType::Accounting, 20_002);
    s.insert_connection(&acc, &Effects::none()).await.unwrap();

    // Queued with jobs and the batch.
    let b1 = batch_of(
        &co,
        &[(&acc, DataType::Invoices), (&acc, DataType::Company)],
        true,
        20_010,
    );
    let ids = match s.queue_pulls(&b1, true).await.unwrap() {
        QueueOutcome::Queued(ids) => ids,
        other => panic!("{other:?}"),
    };
    assert_eq!(ids.len(), 2);
    let inv_id = b1.pulls[0].dataset.id;
    let inv = s.get_dataset(c.id, inv_id).await.unwrap().unwrap();
    assert_eq!(inv, b1.pulls[0].dataset);
    assert_eq!(inv.status, DatasetStatus::Queued);
    assert!(s.get_job(b1.pulls[0].job.id).await.unwrap().is_some());
    let (batch, in_batch) = s.get_batch(c.id, b1.batch.id).await.unwrap().unwrap();
    assert_eq!(batch, b1.batch);
    assert_eq!(in_batch.len(), 2);

    // Busy: all or nothing refuses and writes nothing; otherwise the busy one is left out.
    let b2 = batch_of(
        &co,
        &[(&acc, DataType::Bills), (&acc, DataType::Invoices)],
        false,
        20_020,
    );
    assert_eq!(
        s.queue_pulls(&b2, true).await.unwrap(),
        QueueOutcome::Busy(inv_id)
    );
    assert!(s.get_batch(c.id, b2.batch.id).await.unwrap().is_none());
    assert!(
        s.get_dataset(c.id, b2.pulls[0].dataset.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.get_job(b2.pulls[0].job.id).await.unwrap().is_none());
    assert_eq!(
        s.queue_pulls(&b2, false).await.unwrap(),
        QueueOutcome::Queued(vec![b2.pulls[0].dataset.id])
    );
    assert!(s.get_job(b2.pulls[1].job.id).await.unwrap().is_none());
    let b3 = batch_of(&co, &[(&acc, DataType::Invoices)], false, 20_021);
    assert_eq!(
        s.queue_pulls(&b3, false).await.unwrap(),
        QueueOutcome::Queued(vec![])
    );
    assert!(
        s.get_batch(c.id, b3.batch.id).await.unwrap().is_none(),
        "no empty batch"
    );

    // Another client sees none of it.
    let other = new_client(s, "Syncs Other", 20_030).await;
    assert!(s.get_dataset(other.id, inv_id).await.unwrap().is_none());
    assert!(s.get_batch(other.id, b1.batch.id).await.unwrap().is_none());

    // A run starts: Fetching, its watermark; a second run (a takeover) keeps the first's.
    let run1 = DatasetStart {
        client: c.id,
        dataset: inv_id,
        run_token: "run-1".into(),
        modified_since: Some(ts(5_000)),
        at: ts(20_100),
    };
    let started = s.start_dataset(&run1).await.unwrap().unwrap();
    assert_eq!(started.status, DatasetStatus::Fetching);
    assert_eq!(started.started, Some(ts(20_100)));
    assert_eq!(started.modified_since, Some(ts(5_000)));
    let page =
        |token: &str, records: Vec<crate::NewRecord>, next: u32, last: bool, at: i64| PageWrite {
            client: c.id,
            company: co.id,
            connection: acc.id,
            data_type: DataType::Invoices,
            dataset: inv_id,
            run_token: token.into(),
            rejected: 1,
            next_page: next,
            progress: Some(i32::try_from(next * 25).unwrap()),
            max_source_modified: records.iter().filter_map(|r| r.source_modified).max(),
            is_last: last,
            records,
            at: ts(at),
        };
    assert!(
        s.store_page(&page(
            "run-1",
            vec![
                rec("b", "one", "h-b1", 20_200),
                rec("a", "one", "h-a1", 20_200)
            ],
            2,
            false,
            20_200
        ))
        .await
        .unwrap()
    );
    let run2 = DatasetStart {
        run_token: "run-2".into(),
        modified_since: Some(ts(9_999)),
        at: ts(20_300),
        ..run1.clone()
    };
    let resumed = s.start_dataset(&run2).await.unwrap().unwrap();
    assert_eq!(resumed.started, Some(ts(20_100)));
    assert_eq!(
        resumed.modified_since,
        Some(ts(5_000)),
        "the first run's watermark"
    );
    assert_eq!(resumed.resume_page, 2);
    assert_eq!(
        (resumed.records, resumed.rejected, resumed.changed),
        (2, 1, 2)
    );
    // The taken-over run writes nothing.
    assert!(
        !s.store_page(&page(
            "run-1",
            vec![rec("z", "x", "h-z", 20_310)],
            3,
            false,
            20_310
        ))
        .await
        .unwrap()
    );
    // The last page: "a" again unchanged (same hash) keeps its row; "b" changed; "c" is new.
    assert!(
        s.store_page(&page(
            "run-2",
            vec![
                rec("a", "one-again", "h-a1", 20_400),
                rec("b", "two", "h-b2", 20_400),
                rec("c", "one", "h-c1", 20_400)
            ],
            4,
            true,
            20_400
        ))
        .await
        .unwrap()
    );
    let mapped = s.get_dataset(c.id, inv_id).await.unwrap().unwrap();
    assert_eq!(mapped.status, DatasetStatus::Mapping);
    assert_eq!((mapped.records, mapped.rejected, mapped.changed), (5, 2, 4));
    assert_eq!((mapped.resume_page, mapped.progress), (4, 100));
    assert_eq!(mapped.max_source_modified, Some(ts(20_300)));
    let listed = s
        .list_records(
            c.id,
            co.id,
            None,
            DataType::Invoices,
            PageRequest {
                page: 1,
                page_size: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.total, 3);
    let ids_listed: Vec<&str> = listed.items.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids_listed, ["a", "b"]);
    let a = &listed.items[0];
    assert_eq!((a.modified, a.raw.as_deref()), (ts(20_200), None));
    assert!(
        a.data.contains("\"one\""),
        "unchanged: the stored row stays: {}",
        a.data
    );
    let b = s
        .get_record(c.id, co.id, Some(acc.id), DataType::Invoices, "b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.modified, ts(20_400));
    assert!(b.data.contains("\"two\""));
    assert_eq!(b.raw.as_deref(), Some("{\"ID\":\"b\"}"));
    assert_eq!((b.connection_id, b.dataset_id), (acc.id, inv_id));
    assert!(
        s.get_record(other.id, co.id, None, DataType::Invoices, "b")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.get_record(c.id, co.id, None, DataType::Bills, "b")
            .await
            .unwrap()
            .is_none()
    );

    // The end: once, with its effects; Complete sets lastSync and keeps the watermark.
    let done = |token: Option<&str>, status: DatasetStatus, at: i64| DatasetUpdate {
        client: c.id,
        dataset: inv_id,
        run_token: token.map(str::to_owned),
        status,
        status_description: None,
        error_message: None,
        progress: Some(100),
        at: ts(at),
    };
    let check = Effects {
        jobs: vec![pull_job(uuid::Uuid::now_v7(), 20_500)],
        ..Effects::none()
    };
    assert!(
        s.update_dataset(
            &done(Some("run-1"), DatasetStatus::Complete, 20_500),
            &check
        )
        .await
        .unwrap()
        .is_none(),
        "another run's token"
    );
    assert!(s.get_job(check.jobs[0].id).await.unwrap().is_none());
    let complete = s
        .update_dataset(
            &done(Some("run-2"), DatasetStatus::Complete, 20_500),
            &check,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(complete.status, DatasetStatus::Complete);
    assert_eq!(complete.completed, Some(ts(20_500)));
    assert!(s.get_job(check.jobs[0].id).await.unwrap().is_some());
    assert!(
        s.update_dataset(
            &done(None, DatasetStatus::FetchError, 20_600),
            &Effects::none()
        )
        .await
        .unwrap()
        .is_none(),
        "an ended dataset does not change"
    );
    assert_eq!(
        s.get_company(c.id, co.id).await.unwrap().unwrap().last_sync,
        Some(ts(20_500))
    );
    assert_eq!(
        s.get_connection(c.id, co.id, acc.id)
            .await
            .unwrap()
            .unwrap()
            .last_sync,
        Some(ts(20_500))
    );
    // The newest source-modified time seen (20_300), but never later than 5 minutes before
    // the pull started (20_100): records changed on early pages while later ones were fetched
    // are not skipped by the next incremental pull.
    assert_eq!(
        s.sync_watermark(c.id, acc.id, DataType::Invoices)
            .await
            .unwrap(),
        Some(ts(20_100).plus_seconds(-300))
    );
    assert_eq!(
        s.sync_watermark(c.id, acc.id, DataType::Bills)
            .await
            .unwrap(),
        None
    );

    // A pull that found nothing newer keeps the previous watermark (its modified_since).
    let company_id = b1.pulls[1].dataset.id;
    s.start_dataset(&DatasetStart {
        client: c.id,
        dataset: company_id,
        run_token: "run-c".into(),
        modified_since: Some(ts(7_000)),
        at: ts(20_700),
    })
    .await
    .unwrap()
    .unwrap();
    let ended = s
        .update_dataset(
            &DatasetUpdate {
                client: c.id,
                dataset: company_id,
                run_token: Some("run-c".into()),
                status: DatasetStatus::Complete,
                status_description: None,
                error_message: None,
                progress: Some(100),
                at: ts(20_800),
            },
            &Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.max_source_modified, Some(ts(7_000)));

    // A failed pull: the data type's latest is the failure, its latest success stays.
    let b4 = batch_of(&co, &[(&acc, DataType::Invoices)], false, 21_000);
    assert_eq!(
        s.queue_pulls(&b4, true).await.unwrap(),
        QueueOutcome::Queued(vec![b4.pulls[0].dataset.id])
    );
    let failed = s
        .update_dataset(
            &DatasetUpdate {
                client: c.id,
                dataset: b4.pulls[0].dataset.id,
                run_token: None,
                status: DatasetStatus::AuthError,
                status_description: None,
                error_message: Some("the platform refused the credentials".into()),
                progress: None,
                at: ts(21_100),
            },
            &Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.completed, Some(ts(21_100)));
    assert_eq!(
        s.sync_watermark(c.id, acc.id, DataType::Invoices)
            .await
            .unwrap(),
        Some(ts(20_100).plus_seconds(-300)),
        "failures do not move the watermark"
    );
    let status = s.data_status(c.id, co.id).await.unwrap();
    let types: Vec<DataType> = status.iter().map(|x| x.data_type).collect();
    assert_eq!(
        types,
        [DataType::Bills, DataType::Company, DataType::Invoices]
    );
    let inv_status = &status[2];
    assert_eq!(inv_status.latest.id, b4.pulls[0].dataset.id);
    assert_eq!(inv_status.latest.status, DatasetStatus::AuthError);
    assert_eq!(
        inv_status.latest_success.as_ref().map(|d| d.id),
        Some(inv_id)
    );
    assert_eq!(status[0].latest.status, DatasetStatus::Queued);
    assert!(status[0].latest_success.is_none());
    assert!(s.data_status(other.id, co.id).await.unwrap().is_empty());

    // History: newest first; query and orderBy.
    let all = s
        .list_datasets(c.id, co.id, &q(None, None, None, 1, 100))
        .await
        .unwrap();
    assert_eq!(all.total, 4);
    assert_eq!(all.items[0].id, b4.pulls[0].dataset.id);
    let complete_only = s
        .list_datasets(
            c.id,
            co.id,
            &q(Some("status=Complete"), None, Some("dataType"), 1, 100),
        )
        .await
        .unwrap();
    let kinds: Vec<DataType> = complete_only.items.iter().map(|d| d.data_type).collect();
    assert_eq!(kinds, [DataType::Company, DataType::Invoices]);
    let paged = s
        .list_datasets(
            c.id,
            co.id,
            &q(Some("dataType=invoices"), None, Some("requested"), 2, 1),
        )
        .await
        .unwrap();
    assert_eq!(
        (paged.total, paged.items[0].id),
        (2, b4.pulls[0].dataset.id)
    );
    assert!(matches!(
        s.list_datasets(c.id, co.id, &q(Some("isCompleted=true"), None, None, 1, 10))
            .await,
        Err(Error::Query(_))
    ));
    assert_eq!(
        s.list_datasets(other.id, co.id, &q(None, None, None, 1, 10))
            .await
            .unwrap()
            .total,
        0
    );

    // A batch is reported once.
    assert!(
        s.complete_batch(c.id, b1.batch.id, ts(21_200), &check)
            .await
            .unwrap()
    );
    assert!(
        !s.complete_batch(c.id, b1.batch.id, ts(21_300), &Effects::none())
            .await
            .unwrap()
    );
    assert!(
        !s.complete_batch(other.id, b2.batch.id, ts(21_300), &Effects::none())
            .await
            .unwrap()
    );
    let (reported, _) = s.get_batch(c.id, b1.batch.id).await.unwrap().unwrap();
    assert_eq!(reported.completed, Some(ts(21_200)));

    // Fetch on first link: datasets queued as effects of another write, busy ones left out.
    let banking = connection(&co, "mqjo-bank", SourceType::Banking, 21_400);
    let first = batch_of(
        &co,
        &[
            (&banking, DataType::BankingAccounts),
            (&acc, DataType::Bills),
        ],
        true,
        21_400,
    );
    let with_pulls = Effects {
        pulls: Some(first.clone()),
        ..Effects::none()
    };
    assert_eq!(
        s.insert_connection(&banking, &with_pulls).await.unwrap(),
        ConnectionInsert::Inserted
    );
    assert!(
        s.get_dataset(c.id, first.pulls[0].dataset.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.get_job(first.pulls[0].job.id).await.unwrap().is_some());
    assert!(
        s.get_dataset(c.id, first.pulls[1].dataset.id)
            .await
            .unwrap()
            .is_none(),
        "bills busy"
    );
    assert!(s.get_job(first.pulls[1].job.id).await.unwrap().is_none());
    let (fb, fd) = s.get_batch(c.id, first.batch.id).await.unwrap().unwrap();
    assert!(fb.is_initial);
    assert_eq!(fd.len(), 1);
}

/// Records stay readable when their connection is unlinked and go with it when it is deleted
/// (its datasets too); another connection's records are untouched.
async fn sync_records_follow_their_connection(s: &dyn Store) {
    use crate::{DatasetStart, PageWrite, QueueOutcome};
    use finlink_domain::data::DataType;
    let c = new_client(s, "Sync Records", 22_000).await;
    let co = company(c.id, "Sync Records Co", 22_001, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let one = connection(&co, "aiwb", SourceType::Commerce, 22_002);
    let two = connection(&co, "aiwb", SourceType::Commerce, 22_003);
    for conn in [&one, &two] {
        s.insert_connection(conn, &Effects::none()).await.unwrap();
    }
    let b = batch_of(
        &co,
        &[
            (&one, DataType::CommerceOrders),
            (&two, DataType::CommerceOrders),
        ],
        false,
        22_010,
    );
    assert!(
        matches!(s.queue_pulls(&b, true).await.unwrap(), QueueOutcome::Queued(ids) if ids.len() == 2)
    );
    for (i, conn) in [&one, &two].into_iter().enumerate() {
        let d = b.pulls[i].dataset.id;
        s.start_dataset(&DatasetStart {
            client: c.id,
            dataset: d,
            run_token: format!("t{i}"),
            modified_since: None,
            at: ts(22_020),
        })
        .await
        .unwrap()
        .unwrap();
        assert!(
            s.store_page(&PageWrite {
                client: c.id,
                company: co.id,
                connection: conn.id,
                data_type: DataType::CommerceOrders,
                dataset: d,
                run_token: format!("t{i}"),
                records: vec![
                    rec("o1", &format!("c{i}"), &format!("h{i}"), 22_030),
                    rec("o2", &format!("c{i}"), &format!("h{i}"), 22_030),
                    rec("o2", &format!("c{i}"), &format!("h{i}"), 22_030),
                ],
                rejected: 0,
                next_page: 2,
                progress: None,
                max_source_modified: None,
                is_last: true,
                at: ts(22_030),
            })
            .await
            .unwrap()
        );
    }
    let count = |conn: Option<ConnectionId>| {
        s.list_records(
            c.id,
            co.id,
            conn,
            DataType::CommerceOrders,
            PageRequest::default(),
        )
    };
    assert_eq!(count(None).await.unwrap().total, 4, "one row per record id");
    assert_eq!(count(Some(one.id)).await.unwrap().total, 2);
    s.set_connection_status(
        c.id,
        co.id,
        one.id,
        ConnectionStatus::Unlinked,
        ts(22_040),
        &Effects::none(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        count(Some(one.id)).await.unwrap().total,
        2,
        "unlinking keeps the data"
    );
    assert!(
        s.delete_connection(c.id, co.id, one.id, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(count(Some(one.id)).await.unwrap().total, 0);
    assert_eq!(count(None).await.unwrap().total, 2);
    assert!(
        s.get_dataset(c.id, b.pulls[0].dataset.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.get_dataset(c.id, b.pulls[1].dataset.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.delete_company(c.id, co.id, &Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(count(None).await.unwrap().total, 0);
    assert!(s.get_batch(c.id, b.batch.id).await.unwrap().is_none());
}
