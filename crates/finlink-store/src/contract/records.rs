//! Contract checks of the read endpoints' store methods: `data_type_read` and `query_records`
//! (Codat's query language and `orderBy` over the records' JSON, paging, isolation).

use finlink_domain::Error;
use finlink_domain::connection::SourceType;
use finlink_domain::data::{DataType, DatasetStatus};
use finlink_domain::ids::ConnectionId;
use finlink_domain::paging::PageRequest;
use finlink_domain::query::{parse, parse_order_by};
use serde_json::{Value, json};

use super::{batch_of, company, connection, new_client, ts};
use crate::records::RecordQuery;
use crate::{DatasetStart, DatasetUpdate, Effects, NewRecord, PageWrite, QueueOutcome, Store};

fn record(v: Value) -> NewRecord {
    let id = v["id"].as_str().unwrap().to_owned();
    NewRecord {
        record_id: id.clone(),
        data: v.to_string(),
        raw: format!("{{\"ID\":\"{id}\"}}"),
        hash: format!("h-{id}"),
        source_modified: Some(ts(40_000)),
        modified: ts(40_001),
    }
}

fn rq(filter: Option<&str>, order: Option<&str>, page: u32, size: u32) -> RecordQuery {
    RecordQuery {
        page: PageRequest {
            page,
            page_size: size,
        },
        filter: filter.map(|f| parse(f).unwrap()),
        order: order.map(|o| parse_order_by(o).unwrap()),
        field_equals: None,
    }
}

/// A data type is readable once a pull of it completed; records are filtered with Codat's
/// query language over their fields (text ignoring case, numbers numerically, days as whole
/// days, nested refs, AND/OR groups, `!=` matching missing fields), ordered by a field with
/// missing values first ascending and record id breaking ties, paged with exact totals, and
/// isolated by client and connection.
pub(super) async fn data_reads(s: &dyn Store) {
    let c = new_client(s, "Reads", 40_000).await;
    let other = new_client(s, "Reads other", 40_001).await;
    let co = company(c.id, "Reads Co", 40_002, &[]);
    s.insert_company(&co, &Effects::none()).await.unwrap();
    let acc = connection(&co, "mqjo", SourceType::Accounting, 40_003);
    s.insert_connection(&acc, &Effects::none()).await.unwrap();

    let b = batch_of(&co, &[(&acc, DataType::Invoices)], false, 40_010);
    assert!(matches!(
        s.queue_pulls(&b, true).await.unwrap(),
        QueueOutcome::Queued(_)
    ));
    let ds = b.pulls[0].dataset.id;
    let read = |conn: Option<ConnectionId>| s.data_type_read(c.id, co.id, conn, DataType::Invoices);
    assert!(!read(None).await.unwrap(), "queued: not read yet");
    s.start_dataset(&DatasetStart {
        client: c.id,
        dataset: ds,
        run_token: "r".into(),
        modified_since: None,
        at: ts(40_020),
    })
    .await
    .unwrap()
    .unwrap();
    let invoices = vec![
        json!({"id": "i1", "status": "Paid", "totalAmount": 50, "amountDue": 0,
               "issueDate": "2023-01-30T00:00:00", "customerRef": {"id": "61", "companyName": "Acme Ltd"},
               "note": "50% off_now", "isDirectIncome": true}),
        json!({"id": "i2", "status": "Submitted", "totalAmount": 150.5, "amountDue": 150.5,
               "issueDate": "2023-01-31T00:00:00", "customerRef": {"id": "62", "companyName": "Bolt plc"}}),
        json!({"id": "i3", "status": "PartiallyPaid", "totalAmount": 1000, "amountDue": 10,
               "issueDate": "2023-02-01T00:00:00", "customerRef": {"id": "61", "companyName": "Acme Ltd"},
               "isDirectIncome": false}),
        json!({"id": "i4", "totalAmount": "500", "issueDate": "2023-02-15T00:00:00",
               "customerRef": {"id": "c-63"}}),
        json!({"id": "i5", "status": "paid", "totalAmount": 100, "amountDue": 0,
               "issueDate": "2022-12-31T00:00:00", "customerRef": {"id": "62"}}),
        json!({"id": "i0", "status": "Draft", "amountDue": 99, "issueDate": "2024-06-01T12:00:00"}),
    ];
    assert!(
        s.store_page(&PageWrite {
            client: c.id,
            company: co.id,
            connection: acc.id,
            data_type: DataType::Invoices,
            dataset: ds,
            run_token: "r".into(),
            records: invoices.into_iter().map(record).collect(),
            rejected: 0,
            next_page: 2,
            progress: Some(100),
            max_source_modified: None,
            is_last: true,
            at: ts(40_030),
        })
        .await
        .unwrap()
    );
    assert!(
        !read(None).await.unwrap(),
        "stored but not complete: not read yet"
    );
    s.update_dataset(
        &DatasetUpdate {
            client: c.id,
            dataset: ds,
            run_token: Some("r".into()),
            status: DatasetStatus::Complete,
            status_description: None,
            error_message: None,
            progress: Some(100),
            at: ts(40_040),
        },
        &Effects::none(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(read(None).await.unwrap());
    assert!(read(Some(acc.id)).await.unwrap());
    assert!(
        !s.data_type_read(c.id, co.id, None, DataType::Bills)
            .await
            .unwrap()
    );
    assert!(
        !s.data_type_read(other.id, co.id, None, DataType::Invoices)
            .await
            .unwrap(),
        "another client's company"
    );

    let ids = |q: RecordQuery| async move {
        let page = s
            .query_records(c.id, co.id, None, DataType::Invoices, &q)
            .await
            .unwrap();
        let ids: Vec<String> = page.items.iter().map(|r| r.record_id.clone()).collect();
        (ids, page.total)
    };
    let query = |f: &'static str| ids(rq(Some(f), None, 1, 100));

    // Default order: record id; every record, with its data as stored.
    let all = s
        .query_records(
            c.id,
            co.id,
            None,
            DataType::Invoices,
            &rq(None, None, 1, 100),
        )
        .await
        .unwrap();
    assert_eq!(all.total, 6);
    assert_eq!(
        all.items
            .iter()
            .map(|r| r.record_id.as_str())
            .collect::<Vec<_>>(),
        ["i0", "i1", "i2", "i3", "i4", "i5"]
    );
    let i1: Value = serde_json::from_str(&all.items[1].data).unwrap();
    assert_eq!(i1["customerRef"]["companyName"], "Acme Ltd");

    // Text: = and != ignore case; != matches a missing field; ~ is contains with wildcards literal.
    assert_eq!(
        query("status=PAID").await,
        (vec!["i1".into(), "i5".into()], 2)
    );
    assert_eq!(
        query("status!=paid").await,
        (vec!["i0".into(), "i2".into(), "i3".into(), "i4".into()], 4)
    );
    assert_eq!(query("note~50% OFF").await.0, ["i1"]);
    assert_eq!(query("note~5_%").await.1, 0, "_ and % are literal");
    assert_eq!(query("customerRef.companyName~acme").await.0, ["i1", "i3"]);
    // Numbers compare numerically, only with numbers; = also matches a text id.
    assert_eq!(query("totalAmount>100").await.0, ["i2", "i3"]);
    assert_eq!(query("totalAmount>=100").await.0, ["i2", "i3", "i5"]);
    assert_eq!(query("totalAmount<100").await.0, ["i1"]);
    assert_eq!(query("totalAmount=150.5").await.0, ["i2"]);
    assert_eq!(
        query("totalAmount=500").await.0,
        ["i4"],
        "a text field holding 500"
    );
    assert_eq!(query("customerRef.id=61").await.0, ["i1", "i3"]);
    assert_eq!(
        query("customerRef.id!=61").await.0,
        ["i0", "i2", "i4", "i5"]
    );
    // Days are whole days; date-times compare exactly.
    assert_eq!(query("issueDate>2023-01-31").await.0, ["i0", "i3", "i4"]);
    assert_eq!(
        query("issueDate>=2023-01-31").await.0,
        ["i0", "i2", "i3", "i4"]
    );
    assert_eq!(query("issueDate<2023-01-31").await.0, ["i1", "i5"]);
    assert_eq!(query("issueDate<=2023-01-31").await.0, ["i1", "i2", "i5"]);
    assert_eq!(query("issueDate=2024-06-01").await.0, ["i0"]);
    assert_eq!(query("issueDate!=2024-06-01").await.1, 5);
    assert_eq!(query("issueDate=2023-02-01T00:00:00").await.0, ["i3"]);
    assert_eq!(query("issueDate>2023-02-01T00:00:00").await.0, ["i0", "i4"]);
    // Booleans.
    assert_eq!(query("isDirectIncome=true").await.0, ["i1"]);
    assert_eq!(query("isDirectIncome!=true").await.1, 5);
    // AND binds tighter than OR; braces group.
    assert_eq!(
        query("status=paid&&totalAmount>60||customerRef.id=62")
            .await
            .0,
        ["i2", "i5"]
    );
    assert_eq!(
        query("{totalAmount>100||totalAmount<60}&&customerRef.id=61")
            .await
            .0,
        ["i1", "i3"]
    );
    assert_eq!(
        query("nothing=here").await.1,
        0,
        "an unknown field matches nothing"
    );
    // Bad queries are query errors.
    for bad in [
        "status>Paid",
        "isDirectIncome<true",
        "a'b=1",
        "issueDate>2023-02-30",
    ] {
        let e = s
            .query_records(
                c.id,
                co.id,
                None,
                DataType::Invoices,
                &rq(Some(bad), None, 1, 10),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Query(_)), "{bad}: {e:?}");
    }

    // orderBy: missing first ascending, numbers numerically, ties by record id; descending
    // reverses all of it.
    assert_eq!(
        ids(rq(None, Some("amountDue"), 1, 100)).await.0,
        ["i4", "i1", "i5", "i3", "i0", "i2"]
    );
    assert_eq!(
        ids(rq(None, Some("-amountDue"), 1, 100)).await.0,
        ["i2", "i0", "i3", "i5", "i1", "i4"]
    );
    assert_eq!(
        ids(rq(None, Some("-issueDate"), 1, 100)).await.0,
        ["i0", "i4", "i3", "i2", "i1", "i5"]
    );
    assert_eq!(
        ids(rq(
            Some("amountDue>=0"),
            Some("customerRef.companyName"),
            1,
            100
        ))
        .await
        .0,
        ["i0", "i5", "i1", "i3", "i2"]
    );
    let mut bad_order = rq(None, None, 1, 10);
    bad_order.order = Some(finlink_domain::query::OrderBy {
        property: "line-items".into(),
        descending: false,
    });
    assert!(matches!(
        s.query_records(c.id, co.id, None, DataType::Invoices, &bad_order)
            .await
            .unwrap_err(),
        Error::Query(_)
    ));

    // Paging: every record once, exact totals on every page (and past the end).
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (p, total) = ids(rq(None, Some("-totalAmount"), page, 2)).await;
        assert_eq!(total, 6, "page {page}");
        seen.extend(p);
    }
    // Descending: text (i4's "500") above numbers above missing, as on both engines.
    assert_eq!(seen, ["i4", "i3", "i2", "i5", "i1", "i0"]);
    assert_eq!(ids(rq(None, None, 4, 2)).await, (vec![], 6));
    assert_eq!(
        ids(rq(Some("status=paid"), None, 2, 1)).await,
        (vec!["i5".to_owned()], 2)
    );

    // A field equal to a value exactly (a bank account's transactions).
    let mut by_field = rq(None, None, 1, 10);
    by_field.field_equals = Some(("status".into(), "paid".into()));
    assert_eq!(ids(by_field).await.0, ["i5"], "exact, case and all");

    // Isolation: another client, another connection, another data type.
    let theirs = s
        .query_records(
            other.id,
            co.id,
            None,
            DataType::Invoices,
            &rq(None, None, 1, 10),
        )
        .await
        .unwrap();
    assert_eq!((theirs.items.len(), theirs.total), (0, 0));
    let acc2 = connection(&co, "aiwb", SourceType::Commerce, 40_050);
    s.insert_connection(&acc2, &Effects::none()).await.unwrap();
    let none = s
        .query_records(
            c.id,
            co.id,
            Some(acc2.id),
            DataType::Invoices,
            &rq(None, None, 1, 10),
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    assert!(!read(Some(acc2.id)).await.unwrap());
    let bills = s
        .query_records(c.id, co.id, None, DataType::Bills, &rq(None, None, 1, 10))
        .await
        .unwrap();
    assert_eq!(bills.total, 0);

    // Deleting the connection deletes what was read.
    assert!(
        s.delete_connection(c.id, co.id, acc.id, &Effects::none())
            .await
            .unwrap()
    );
    assert!(!read(None).await.unwrap());
    assert_eq!(ids(rq(None, None, 1, 10)).await, (vec![], 0));
}
