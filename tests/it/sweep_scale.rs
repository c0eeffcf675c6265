//! The sweep reads in proportion to the overdue jobs, not to the jobs: 1,000 jobs with
//! deadlines, 10 of them overdue; the DynamoDB requests of one sweep are counted at a
//! proxy in front of the local DynamoDB, and the index entries it read by the sweep.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use jobs_api::job::time::Timestamp;
use jobs_api::store::Store;
use jobs_api::store::keys::DEADLINE_SHARDS;
use jobs_api::sweep;
use serde_json::json;

use crate::common::proxy::Proxy;
use crate::common::{self, Tenant};

const JOBS: usize = 1_000;
const OVERDUE: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_1000_jobs_with_10_overdue_reads_10_and_ends_exactly_those() {
    let table = common::fresh_table("sweep-scale");
    let app = common::app_with(&[
        ("JOBS_TABLE_NAME", table.as_str()),
        ("JOBS_MIN_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let tenant = Tenant::new("sweep-scale");
    let client = common::client().await;

    // 990 jobs with deadlines far ahead (some started, so heartbeats count), then 10
    // with a 1 s overall timeout.
    let mut alive = Vec::new();
    for chunk in 0..(JOBS - OVERDUE).div_ceil(30) {
        let creates = (0..30)
            .filter(|i| chunk * 30 + i < JOBS - OVERDUE)
            .map(|i| {
                let body = match i % 3 {
                    0 => json!({"job_type": "crawl", "total_items": 1, "heartbeat_timeout_seconds": 600}),
                    1 => json!({"job_type": "crawl", "total_items": 1, "timeout_seconds": 3600}),
                    _ => json!({"job_type": "crawl", "total_items": 1,
                        "heartbeat_timeout_seconds": 300, "timeout_seconds": 7200}),
                };
                tenant.create_id(&app, body)
            });
        alive.extend(futures_util::future::join_all(creates).await);
    }
    let started: Vec<&String> = alive.iter().step_by(4).collect();
    for chunk in started.chunks(25) {
        let starts = chunk
            .iter()
            .map(|id| tenant.progress(&app, id, json!({"mark_started": true})));
        for reply in futures_util::future::join_all(starts).await {
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    }
    let mut overdue = Vec::new();
    for _ in 0..OVERDUE {
        let body = json!({"job_type": "crawl", "total_items": 1, "timeout_seconds": 1});
        overdue.push(tenant.create_id(&app, body).await);
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let proxy = Proxy::start(&common::env("AWS_ENDPOINT_URL_DYNAMODB"));
    let store = Store::new(common::client_behind(&proxy).await, &table);
    let report = sweep::run(&store, Timestamp::now(), Duration::from_secs(30)).await;
    let seen = |op: &str| proxy.attempts(op);
    eprintln!(
        "1,000 jobs, 10 overdue: {report:?}; requests: Query {}, BatchGetItem {}, \
         TransactWriteItems {}, UpdateItem {}",
        seen("Query"),
        seen("BatchGetItem"),
        seen("TransactWriteItems"),
        seen("UpdateItem")
    );
    assert_eq!(
        report.entries, OVERDUE,
        "index entries read: the overdue ones only"
    );
    assert_eq!((report.ended, report.moved, report.failed), (OVERDUE, 0, 0));
    // One query per shard (each a page below the page size), at most one batch read per
    // shard that had due entries, one transaction per ending, nothing else.
    assert_eq!(seen("Query"), DEADLINE_SHARDS as usize);
    assert!(seen("BatchGetItem") <= OVERDUE, "{}", seen("BatchGetItem"));
    assert_eq!(seen("TransactWriteItems"), OVERDUE);
    assert_eq!(seen("Scan"), 0);
    assert_eq!(
        proxy.seen().len(),
        seen("Query") + seen("BatchGetItem") + OVERDUE
    );

    // Exactly those 10 ended.
    let failed = |id: &String| {
        let client = client.clone();
        let table = table.clone();
        let org = tenant.org.clone();
        let id = id.clone();
        async move {
            let item = common::stored_item_in(&client, &table, &org, &id).await;
            item.get("status") == Some(&AttributeValue::S("failed".into()))
        }
    };
    for id in &overdue {
        assert!(failed(id).await, "{id} should have ended");
    }
    let mut ended_alive = 0;
    for chunk in alive.chunks(50) {
        let states = futures_util::future::join_all(chunk.iter().map(failed)).await;
        ended_alive += states.into_iter().filter(|f| *f).count();
    }
    assert_eq!(ended_alive, 0, "no job that was not overdue ended");

    // The next sweep reads no entry at all: its cost is the shards' empty queries.
    let before = proxy.seen().len();
    let again = sweep::run(&store, Timestamp::now(), Duration::from_secs(30)).await;
    assert_eq!((again.entries, again.ended), (0, 0));
    assert_eq!(proxy.seen().len() - before, DEADLINE_SHARDS as usize);
}
