//! `jobs-migrate` on a local table seeded with items exactly as the first key layout
//! wrote them: a dry run writes nothing, a run cut short resumes from its checkpoint, a
//! second run copies nothing, and the function then serves every copied job, its
//! history, its list filters and its idempotency record from the new table.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use jobs_api::store::{Store, keys};
use jobs_migrate::{OldItem, Options, Report, classify, migrate, new_item};
use serde_json::json;

use crate::common::*;

type Item = HashMap<String, AttributeValue>;

const NOW: u64 = 1_800_000_000;

/// A job item as the first layout wrote it (`ORG#{org}` / `JOB#{id}`, its index keys).
fn old_job(org: &str, id: &str, status: &str, job_type: &str, processed: u64) -> Item {
    Item::from([
        ("pk".into(), s(&format!("ORG#{org}"))),
        ("sk".into(), s(&format!("JOB#{id}"))),
        ("organization_id".into(), s(org)),
        ("job_id".into(), s(id)),
        ("job_type".into(), s(job_type)),
        ("status".into(), s(status)),
        ("total_items".into(), n(10)),
        ("processed_items".into(), n(processed)),
        ("failed_items".into(), n(0)),
        ("warned_items".into(), n(0)),
        (
            "metadata".into(),
            AttributeValue::M(HashMap::from([(
                "order".into(),
                AttributeValue::N("98765432109876543210".into()),
            )])),
        ),
        ("created_at".into(), s("2026-11-28T12:00:00.123Z")),
        ("updated_at".into(), s("2026-11-28T12:00:05.000Z")),
        ("error_count".into(), n(if processed > 0 { 1 } else { 0 })),
        ("warning_count".into(), n(0)),
        ("triggered_by".into(), s("alice")),
        (
            "status_key".into(),
            s(&format!("ORG#{org}#STATUS#{status}")),
        ),
        (
            "job_type_key".into(),
            s(&format!("ORG#{org}#JOB_TYPE#{job_type}")),
        ),
        (
            "triggered_by_key".into(),
            s(&format!("ORG#{org}#TRIGGERED_BY#alice")),
        ),
    ])
}

fn old_error(org: &str, job_id: &str, error_id: &str) -> Item {
    Item::from([
        ("pk".into(), s(&format!("ORG#{org}#JOB#{job_id}"))),
        ("sk".into(), s(&format!("ERROR#{error_id}"))),
        ("organization_id".into(), s(org)),
        ("job_id".into(), s(job_id)),
        ("entity_key".into(), s("row-7")),
        ("entity_type".into(), s("row")),
        ("error_type".into(), s("parse")),
        ("message".into(), s("bad date")),
        ("timestamp".into(), s("2026-11-28T12:00:04.000Z")),
    ])
}

fn old_idempotency(org: &str, key: &str, expires_at: u64, job_id: &str) -> Item {
    Item::from([
        ("pk".into(), s(&format!("ORG#{org}"))),
        ("sk".into(), s(&format!("IDEMPOTENCY#{key}"))),
        ("state".into(), s("completed")),
        ("fingerprint".into(), s("f")),
        ("claim".into(), s("c")),
        ("claimed_at".into(), n(expires_at - 86_400)),
        ("expires_at".into(), n(expires_at)),
        ("job_id".into(), s(job_id)),
        ("status_code".into(), n(201)),
        ("response_body".into(), s("{}")),
    ])
}

async fn create_old_table(client: &Client, name: &str) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("creating the old table");
}

fn options(source: &str, checkpoint: &std::path::Path) -> Options {
    Options {
        source_table: source.to_owned(),
        dry_run: false,
        checkpoint: Some(checkpoint.to_owned()),
        page_size: 2,
        max_pages: None,
    }
}

#[tokio::test]
async fn a_first_layout_table_is_copied_once_resumably_and_served_after() {
    let client = client().await;
    let source = format!("jobs-old-{}", uuid::Uuid::now_v7().simple());
    create_old_table(&client, &source).await;
    let (org, other) = (unique_org("migrated"), unique_org("migrated-b"));
    // Ids a UUIDv7 would have, in creation order.
    let ids = [
        "01a22ff0-0000-7000-8000-000000000001",
        "01a22ff0-0000-7000-8000-000000000002",
        "01a22ff0-0000-7000-8000-000000000003",
    ];
    let items = vec![
        old_job(&org, ids[0], "completed", "import", 10),
        old_job(&org, ids[1], "in_progress", "crawl", 4),
        old_job(&other, ids[2], "pending", "crawl", 0),
        old_error(&org, ids[0], "01a22ff0-0000-7000-8000-0000000000e1"),
        old_idempotency(&org, "key-live", NOW + 3_600, ids[1]),
        old_idempotency(&org, "key-expired", NOW - 1, ids[0]),
    ];
    for item in items {
        client
            .put_item()
            .table_name(&source)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let store = Store::new(client.clone(), env("JOBS_TABLE_NAME"));
    let checkpoint = std::env::temp_dir().join(format!("{source}.checkpoint"));

    let dry = migrate(
        &store,
        &Options {
            dry_run: true,
            ..options(&source, &checkpoint)
        },
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        (dry.jobs, dry.history, dry.idempotency_records, dry.skipped),
        (3, 1, 1, 1)
    );
    assert_eq!(
        items_of(&client, &org).await + items_of(&client, &other).await,
        0,
        "a dry run writes nothing"
    );
    assert!(!checkpoint.exists());

    // Cut short after one page of two items, as a failure would; then resumed.
    let cut = migrate(
        &store,
        &Options {
            max_pages: Some(1),
            ..options(&source, &checkpoint)
        },
        NOW,
    )
    .await
    .unwrap();
    assert!(!cut.finished && cut.scanned == 2 && checkpoint.exists());
    let rest = migrate(&store, &options(&source, &checkpoint), NOW)
        .await
        .unwrap();
    assert!(rest.finished && !checkpoint.exists());
    let copied = |r: &Report| r.jobs + r.history + r.idempotency_records;
    assert_eq!(
        copied(&cut) + copied(&rest),
        5,
        "every live item, once: {cut:?} {rest:?}"
    );
    assert_eq!(cut.scanned + rest.scanned, 6);

    // Again from the start: nothing to copy, nothing doubled.
    let again = migrate(&store, &options(&source, &checkpoint), NOW)
        .await
        .unwrap();
    assert_eq!((copied(&again), again.already_there), (0, 5));
    assert_eq!(
        items_of(&client, &org).await,
        4,
        "2 jobs, 1 error, 1 idempotency record"
    );
    assert_eq!(items_of(&client, &other).await, 1);

    // The function serves the copies from the new layout.
    let app = app().await;
    let tenant = Tenant {
        org: org.clone(),
        auth: format!("Bearer {}", token(&claims(&org))),
    };
    let job = send(&app, tenant.get(&format!("/api/jobs/{}", ids[0]))).await;
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(job.body["status"], "completed");
    assert_eq!(job.body["processed_items"], 10);
    assert_eq!(
        job.body["metadata"],
        json!({"order": 98765432109876543210u128})
    );
    assert_eq!(job.body["errors"][0]["entity_key"], "row-7");
    let errors = send(&app, tenant.get(&format!("/api/jobs/{}/errors", ids[0]))).await;
    assert_eq!(errors.body["items"].as_array().map(Vec::len), Some(1));
    let list = send(&app, tenant.get("/api/jobs/")).await;
    let listed: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [ids[1], ids[0]],
        "newest first, this organization only"
    );
    let running = send(
        &app,
        tenant.get("/api/jobs/?status=in_progress&triggered_by=alice"),
    )
    .await;
    assert_eq!(running.body["items"][0]["job_id"], ids[1]);
    // A report to a copied job lands on its new item.
    let reported = tenant
        .progress(&app, ids[1], json!({"processed_items_increment": 2}))
        .await;
    assert_eq!(reported.body["processed_items"], 6, "{}", reported.body);

    let record = idempotency_record(&client, &org, "key-live")
        .await
        .expect("the live idempotency record moved to its own partition");
    assert_eq!(record["job_id"], s(ids[1]));
    let expired = idempotency_record(&client, &org, "key-expired").await;
    assert!(expired.is_none(), "an expired record is not copied");
}

/// The idempotency record of `key` in the new table, read straight from it.
async fn idempotency_record(client: &Client, org: &str, key: &str) -> Option<Item> {
    let (pk, sk) = keys::idempotency(org, key);
    client
        .get_item()
        .table_name(env("JOBS_TABLE_NAME"))
        .key("pk", s(&pk))
        .key("sk", s(&sk))
        .send()
        .await
        .expect("reading the table")
        .item
}

// The rules of the copy, without a table.

fn keyed(pk: &str, sk: &str) -> Item {
    Item::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

#[test]
fn first_layout_items_are_told_apart_by_their_keys() {
    assert_eq!(classify(&keyed("ORG#o", "JOB#j")), OldItem::Job);
    assert_eq!(classify(&keyed("ORG#o#JOB#j", "ERROR#e")), OldItem::History);
    assert_eq!(
        classify(&keyed("ORG#o#JOB#j", "WARNING#w")),
        OldItem::History
    );
    assert_eq!(
        classify(&keyed("ORG#o", "IDEMPOTENCY#k#1")),
        OldItem::Idempotency {
            organization_id: "o".into(),
            key: "k#1".into()
        }
    );
    // The new layout's own items, and strangers, are left alone.
    assert_eq!(classify(&keyed("ORG#o#JOB#j", "JOB")), OldItem::Unknown);
    assert_eq!(
        classify(&keyed("ORG#o#IDEMPOTENCY#k", "IDEMPOTENCY")),
        OldItem::Unknown
    );
    assert_eq!(classify(&keyed("USER#u", "JOB#j")), OldItem::Unknown);
    assert_eq!(classify(&Item::new()), OldItem::Unknown);
}

#[test]
fn idempotency_records_move_to_their_own_partition_unless_expired() {
    let mut record = keyed("ORG#o", "IDEMPOTENCY#k");
    record.insert("expires_at".into(), AttributeValue::N("2000".into()));
    record.insert("state".into(), AttributeValue::S("completed".into()));
    let moved = new_item(&record, 1_999).unwrap().unwrap();
    assert_eq!(moved["pk"], AttributeValue::S("ORG#o#IDEMPOTENCY#k".into()));
    assert_eq!(moved["sk"], AttributeValue::S("IDEMPOTENCY".into()));
    assert_eq!(moved["state"], record["state"]);
    assert_eq!(new_item(&record, 2_000).unwrap(), None);
}

#[test]
fn an_unreadable_job_stops_the_run_rather_than_copying_half_a_job() {
    assert!(new_item(&keyed("ORG#o", "JOB#j"), 0).is_err());
}
