//! The events path end to end against moto: the table's stream → the event source
//! mapping (played by `common::stream`, with the template's filter) → `jobs-events`'
//! handler → `PutEvents` → a rule on the bus → an SQS queue the test reads. Faults come
//! from a real HTTP proxy in front of EventBridge (`common::proxy`), not from a mock.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::config::retry::RetryPartition;
use aws_sdk_eventbridge::types::Target;
use jobs_api::events::publish::{self, Publisher, Retry};
use jobs_api::events::{Handler, StreamBatch, Summary};
use serde_json::{Value, json};

use crate::common;
use crate::common::proxy::{Entries, Fault, Proxy, THROTTLING};
use crate::common::stream::{Delivery, Invoke, Mapping, Moto, Stream};
use crate::common::*;

const SOURCE: &str = "jobs-api";

/// One test's bus, queues, organization and stream position.
struct Setup {
    moto: Moto,
    caller: Tenant,
    bus: String,
    queue: String,
    failure_queue: String,
    stream: Stream,
}

impl Setup {
    async fn new(name: &str) -> Setup {
        Setup::with(Tenant::new(name)).await
    }

    async fn with(caller: Tenant) -> Setup {
        let moto = Moto::new();
        let bus = format!("jobs-test-{}", uuid::Uuid::now_v7().simple());
        let events = publish::connect(&jobs_api::config::AwsConfig::from_env())
            .await
            .expect("the EventBridge client");
        events.create_event_bus().name(&bus).send().await.unwrap();
        let (queue, queue_arn) = moto.create_queue(&bus).await;
        let (failure_queue, _) = moto.create_queue(&format!("{bus}-failed")).await;
        // As a subscriber would: this source's status changes, of one organization.
        let pattern = json!({
            "source": [SOURCE],
            "detail-type": ["Job Status Changed"],
            "detail": {"organization_id": [caller.org]},
        });
        events
            .put_rule()
            .name("to-queue")
            .event_bus_name(&bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("to-queue")
            .event_bus_name(&bus)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let stream = Stream::latest(&moto, &env("JOBS_TABLE_NAME")).await;
        Setup {
            moto,
            caller,
            bus,
            queue,
            failure_queue,
            stream,
        }
    }

    /// A handler publishing to this test's bus, through `proxy` if given.
    async fn handler(&self, proxy: Option<&Proxy>, retry: Retry) -> Handler {
        let mut client = publish::connect(&jobs_api::config::AwsConfig::from_env())
            .await
            .unwrap();
        if let Some(proxy) = proxy {
            let config = client
                .config()
                .to_builder()
                .endpoint_url(proxy.url())
                .retry_partition(RetryPartition::new(format!(
                    "events-{}",
                    uuid::Uuid::now_v7().simple()
                )))
                .build();
            client = aws_sdk_eventbridge::Client::from_conf(config);
        }
        Handler::new(
            Publisher::new(client, self.bus.clone(), retry),
            SOURCE.into(),
        )
    }

    /// This organization's stream records since the last read.
    async fn records(&mut self) -> Vec<Value> {
        let prefix = format!("ORG#{}#", self.caller.org);
        let mut records = self.stream.read().await;
        records.retain(|r| {
            r["dynamodb"]["Keys"]["pk"]["S"]
                .as_str()
                .is_some_and(|pk| pk.starts_with(&prefix))
        });
        records
    }

    fn mapping(&self, max_retries: u32) -> Mapping {
        Mapping {
            stream_arn: self.stream.arn.clone(),
            shard_id: self.stream.shard_id().to_owned(),
            batch_size: 100,
            max_retries,
            bisect: true,
            failure_queue: Some(self.failure_queue.clone()),
        }
    }

    /// This organization's new records, delivered through the mapping to `handler`.
    async fn deliver(&mut self, handler: &Handler, max_retries: u32) -> (Delivery, Vec<Summary>) {
        let records = self.records().await;
        self.deliver_records(handler, records, max_retries).await
    }

    /// `records` delivered through the mapping to `handler`; the handler's summaries.
    async fn deliver_records(
        &self,
        handler: &Handler,
        records: Vec<Value>,
        max_retries: u32,
    ) -> (Delivery, Vec<Summary>) {
        let summaries = RefCell::new(Vec::new());
        let summaries_ref = &summaries;
        let invoke: Invoke = Box::new(move |event| {
            Box::pin(async move {
                let batch: StreamBatch =
                    serde_json::from_value(event).map_err(|e| e.to_string())?;
                let (answer, summary) = handler.handle_with_summary(batch).await;
                summaries_ref.borrow_mut().push(summary);
                serde_json::to_value(answer).map_err(|e| e.to_string())
            })
        });
        let delivery = self.mapping(max_retries).deliver(records, &invoke).await;
        (delivery, summaries.take())
    }

    /// The events the bus delivered to the queue, in order.
    async fn events(&self) -> Vec<Value> {
        self.moto.drain(&self.queue).await
    }
}

fn crawl(total: u64) -> Value {
    json!({"job_type": "crawl", "total_items": total})
}

/// (previous_status, status) of each event of `job_id`, in delivery order.
fn transitions_of(events: &[Value], job_id: &str) -> Vec<(Value, String)> {
    events
        .iter()
        .filter(|e| e["detail"]["job_id"] == job_id)
        .map(|e| {
            (
                e["detail"]["previous_status"].clone(),
                e["detail"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Each job's transitions with repeats (at-least-once deliveries) removed, checking on
/// the way that no event came before the first delivery of the one it follows.
fn first_deliveries(events: &[Value], job_id: &str) -> Vec<(Value, String)> {
    let mut seen: Vec<(Value, String)> = Vec::new();
    for (previous, status) in transitions_of(events, job_id) {
        if seen.iter().any(|(_, s)| *s == status) {
            continue;
        }
        let expected_previous = seen.last().map_or(Value::Null, |(_, s)| json!(s));
        assert_eq!(
            previous, expected_previous,
            "{job_id}: {status} delivered before the transition it follows"
        );
        seen.push((previous, status));
    }
    seen
}

fn lifecycle(statuses: &[&str]) -> Vec<(Value, String)> {
    let mut previous = Value::Null;
    statuses
        .iter()
        .map(|s| {
            let t = (previous.clone(), s.to_string());
            previous = json!(s);
            t
        })
        .collect()
}

#[tokio::test]
async fn a_lifecycle_publishes_each_status_change_once_in_order() {
    let app = app().await;
    let mut setup = Setup::new("events-lifecycle").await;
    let caller = &setup.caller;

    let done = caller.create_id(&app, crawl(10)).await;
    let started = caller
        .progress(&app, &done, json!({"mark_started": true}))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    for body in [
        json!({"processed_items_increment": 4, "stage": "fetch"}),
        json!({"processed_items_increment": 6, "warning":
            {"entity_key": "job", "error_type": "slow", "message": "rate limited"}}),
    ] {
        assert_eq!(caller.progress(&app, &done, body).await.status, 200);
    }
    let end = caller
        .progress(&app, &done, json!({"mark_completed": true}))
        .await;
    assert_eq!(end.body["status"], "completed_with_warnings");

    // Created under an idempotency key: its record is in the stream too.
    let keyed = request(
        "POST",
        "/api/jobs/",
        &[
            ("content-type", "application/json"),
            ("authorization", &caller.auth),
            ("idempotency-key", "events-1"),
        ],
        &crawl(3).to_string(),
    );
    let cancelled = send(&app, keyed).await.body["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = send(
        &app,
        caller.post(&format!("/api/jobs/{cancelled}/cancel"), &json!({})),
    )
    .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);

    let failed = caller.create_id(&app, crawl(5)).await;
    caller
        .progress(
            &app,
            &failed,
            json!({"mark_started": true, "processed_items_increment": 2}),
        )
        .await;
    caller
        .progress(
            &app,
            &failed,
            json!({"failed_items_increment": 1, "error":
            {"entity_key": "row-3", "error_type": "parse", "message": "bad row"}}),
        )
        .await;
    let fail = caller
        .progress(&app, &failed, json!({"mark_failed": "upstream gone"}))
        .await;
    assert_eq!(fail.body["status"], "failed", "{}", fail.body);

    let handler = setup.handler(None, Retry::default()).await;
    let records = setup.records().await;
    let jobs = records
        .iter()
        .filter(|r| r["dynamodb"]["Keys"]["sk"]["S"] == "JOB")
        .count();
    assert!(
        jobs < records.len(),
        "the stream also holds history items and idempotency records"
    );
    let (delivery, summaries) = setup.deliver_records(&handler, records, 2).await;
    assert_eq!(
        delivery.delivered_records, jobs,
        "the filter passes job items only: history and idempotency never invoke"
    );
    assert_eq!(delivery.invocations, 1);
    assert_eq!(summaries[0].transitions, 8);
    assert_eq!(summaries[0].published, 8);
    assert_eq!(summaries[0].skipped_malformed, 0);

    let events = setup.events().await;
    assert_eq!(events.len(), 8, "{events:#?}");
    assert_eq!(
        transitions_of(&events, &done),
        lifecycle(&["pending", "in_progress", "completed_with_warnings"])
    );
    assert_eq!(
        transitions_of(&events, &cancelled),
        lifecycle(&["pending", "cancelled"])
    );
    assert_eq!(
        transitions_of(&events, &failed),
        lifecycle(&["pending", "in_progress", "failed"])
    );
    let mut keys: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["event_key"].as_str().unwrap())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8, "one event_key per transition");

    let last = events
        .iter()
        .find(|e| e["detail"]["job_id"] == failed && e["detail"]["status"] == "failed")
        .unwrap();
    assert_eq!(last["source"], SOURCE);
    assert_eq!(last["detail-type"], "Job Status Changed");
    assert_eq!(
        last["resources"],
        json!([format!("{SOURCE}/jobs/{failed}")])
    );
    let detail = &last["detail"];
    assert_eq!(detail["organization_id"], json!(setup.caller.org));
    assert_eq!(detail["job_type"], "crawl");
    assert_eq!(detail["triggered_by"], "user-1");
    assert_eq!(detail["error_message"], "upstream gone");
    assert_eq!(
        (
            detail["processed_items"].clone(),
            detail["failed_items"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(detail["progress_percentage"], 60.0);
    assert_eq!(detail["event_key"], format!("{failed}:failed"));
    assert!(detail["duration_seconds"].as_f64().unwrap() >= 0.0);
    assert!(detail.get("metadata").is_none(), "metadata is not copied");
    // Every event on the bus reads into the wire model, unknown fields refused.
    for event in &events {
        let read: Result<jobs_model::JobStatusChanged, _> =
            serde_json::from_value(event["detail"].clone());
        let read = read.unwrap_or_else(|e| panic!("the model cannot read {event}: {e}"));
        assert_eq!(serde_json::to_value(&read).unwrap(), event["detail"]);
    }
    let completed = events
        .iter()
        .find(|e| {
            e["detail"]["job_id"] == done
                && e["detail"]["status"] != "pending"
                && e["detail"]["status"] != "in_progress"
        })
        .unwrap();
    assert_eq!(completed["detail"]["processed_items"], 10);
    assert_eq!(completed["detail"]["progress_percentage"], 100.0);
}

#[tokio::test]
async fn fifty_concurrent_increments_publish_nothing() {
    let app = Arc::new(app().await);
    let mut setup = Setup::new("events-busy").await;
    let job = setup.caller.create_id(&app, crawl(100)).await;
    setup
        .caller
        .progress(&app, &job, json!({"mark_started": true}))
        .await;
    let handler = setup.handler(None, Retry::default()).await;
    setup.deliver(&handler, 2).await;
    assert_eq!(setup.events().await.len(), 2, "the creation and the start");

    let mut workers = Vec::new();
    for _ in 0..50 {
        let (app, auth, job) = (app.clone(), setup.caller.auth.clone(), job.clone());
        workers.push(tokio::spawn(async move {
            let report = request(
                "POST",
                &format!("/api/jobs/{job}/progress"),
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                r#"{"processed_items_increment": 1}"#,
            );
            send(&app, report).await.status
        }));
    }
    for worker in workers {
        assert_eq!(worker.await.unwrap(), 200);
    }
    let (delivery, summaries) = setup.deliver(&handler, 2).await;
    assert_eq!(
        delivery.delivered_records, 50,
        "every report reached the function"
    );
    let transitions: usize = summaries.iter().map(|s| s.transitions).sum();
    assert_eq!(transitions, 0);
    assert_eq!(setup.events().await, Vec::<Value>::new());
}

/// Six jobs: all created, three started, two of those completed: 11 transitions. Each
/// must be published at least once, and a job's never out of order.
async fn publishes_everything_despite(
    name: &str,
    fault: Fault,
    times: usize,
    expect_batch_failures: bool,
) {
    let app = app().await;
    let mut setup = Setup::new(name).await;
    let mut jobs = Vec::new();
    for _ in 0..6 {
        jobs.push(setup.caller.create_id(&app, crawl(1)).await);
    }
    for job in &jobs[..3] {
        setup
            .caller
            .progress(&app, job, json!({"mark_started": true}))
            .await;
    }
    for job in &jobs[..2] {
        let done = setup
            .caller
            .progress(
                &app,
                job,
                json!({"processed_items_increment": 1, "mark_completed": true}),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
    }
    let proxy = Proxy::start(&env("AWS_ENDPOINT_URL_EVENTBRIDGE"));
    proxy.arm(fault, Some("PutEvents"), times);
    let retry = Retry {
        attempts: 2,
        backoff: Duration::from_millis(20),
    };
    let handler = setup.handler(Some(&proxy), retry).await;
    let (delivery, _) = setup.deliver(&handler, 5).await;

    assert!(
        proxy.seen().iter().any(|s| s.fault.is_some()),
        "the fault happened"
    );
    assert_eq!(
        delivery.partial_failures > 0,
        expect_batch_failures,
        "batchItemFailures reported: {delivery:?}"
    );
    assert!(delivery.sent_to_failure.is_empty(), "{delivery:?}");
    let events = setup.events().await;
    let mut published = 0;
    for (i, job) in jobs.iter().enumerate() {
        let want: &[&str] = match i {
            0 | 1 => &["pending", "in_progress", "completed"],
            2 => &["pending", "in_progress"],
            _ => &["pending"],
        };
        assert_eq!(
            first_deliveries(&events, job),
            lifecycle(want),
            "{events:#?}"
        );
        published += want.len();
    }
    assert_eq!(published, 11);
}

#[tokio::test]
async fn entries_that_failed_are_retried_until_published() {
    // Two failed tries of one entry exhaust the handler's attempts: the batch reports it.
    publishes_everything_despite(
        "events-entries",
        Fault::FailEntries(Entries::EverySecond),
        4,
        true,
    )
    .await;
}

#[tokio::test]
async fn a_throttled_put_events_is_retried() {
    // The SDK's three attempts, twice: the whole batch is reported and delivered again.
    publishes_everything_despite("events-throttled", Fault::Throttle(THROTTLING), 6, true).await;
}

#[tokio::test]
async fn an_unreachable_event_bus_is_retried() {
    // Connections closed without an answer, for every attempt of the first invocation.
    publishes_everything_despite("events-unreachable", Fault::Stop, 6, true).await;
}

#[tokio::test]
async fn a_record_that_cannot_be_published_ends_in_the_failure_queue() {
    let app = app().await;
    let mut setup = Setup::new("events-poison").await;
    let before = setup.caller.create_id(&app, crawl(1)).await;
    let poison = setup.caller.create_id(&app, crawl(1)).await;
    let after = setup.caller.create_id(&app, crawl(1)).await;
    for job in [&poison, &after] {
        setup
            .caller
            .progress(&app, job, json!({"mark_started": true}))
            .await;
    }
    let proxy = Proxy::start(&env("AWS_ENDPOINT_URL_EVENTBRIDGE"));
    let poison_id: &'static str = Box::leak(poison.clone().into_boxed_str());
    proxy.arm(
        Fault::FailEntries(Entries::Containing(poison_id)),
        Some("PutEvents"),
        10_000,
    );
    let retry = Retry {
        attempts: 2,
        backoff: Duration::from_millis(10),
    };
    let handler = setup.handler(Some(&proxy), retry).await;
    let records = setup.records().await;
    let poison_records: Vec<Value> = records
        .iter()
        .filter(|r| {
            r["dynamodb"]["Keys"]["pk"]["S"]
                .as_str()
                .unwrap()
                .ends_with(&poison)
        })
        .map(|r| r["dynamodb"]["SequenceNumber"].clone())
        .collect();
    assert_eq!(poison_records.len(), 2, "its creation and its start");
    let (delivery, _) = setup.deliver_records(&handler, records, 2).await;
    assert!(delivery.partial_failures > 0);

    let failures = setup.moto.drain(&setup.failure_queue).await;
    let mut ranges: Vec<(Value, Value, Value)> = failures
        .iter()
        .map(|f| {
            let info = &f["DDBStreamBatchInfo"];
            (
                info["startSequenceNumber"].clone(),
                info["endSequenceNumber"].clone(),
                info["batchSize"].clone(),
            )
        })
        .collect();
    ranges.sort_by_key(|r| r.0.as_str().unwrap().to_owned());
    let want: Vec<(Value, Value, Value)> = poison_records
        .iter()
        .map(|seq| (seq.clone(), seq.clone(), json!(1)))
        .collect();
    assert_eq!(
        ranges, want,
        "each poison record alone in the failure queue"
    );
    assert_eq!(
        failures[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );

    let events = setup.events().await;
    assert!(transitions_of(&events, &poison).is_empty());
    assert_eq!(first_deliveries(&events, &before), lifecycle(&["pending"]));
    assert_eq!(
        first_deliveries(&events, &after),
        lifecycle(&["pending", "in_progress"])
    );
}

/// A sample file, the records the filter passes, the (job, previous, status) it publishes,
/// the records skipped as malformed.
type Case<'a> = (&'a str, usize, &'a [(&'a str, Value, &'a str)], usize);

/// A stream batch from `events/`.
fn sample(file: &str) -> Value {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn the_sample_stream_batches_publish_what_they_show() {
    const J1: &str = "01938f5e-2b1c-7a3e-9c41-5d2f8a6b7c01";
    const J2: &str = "01938f5e-2b1c-7a3e-9c41-5d2f8a6b7c02";
    // file, records the template's filter passes, (job, previous, status) published, malformed.
    let cases: [Case; 6] = [
        (
            "stream-job-created.json",
            1,
            &[(J1, Value::Null, "pending")],
            0,
        ),
        (
            "stream-job-started.json",
            1,
            &[(J1, json!("pending"), "in_progress")],
            0,
        ),
        ("stream-job-counts-only.json", 1, &[], 0),
        ("stream-history-item.json", 0, &[], 0),
        ("stream-idempotency-record.json", 0, &[], 0),
        (
            "stream-mixed-batch.json",
            5,
            &[
                (J2, Value::Null, "pending"),
                (J1, json!("in_progress"), "completed"),
                (J2, json!("pending"), "in_progress"),
                (J2, json!("in_progress"), "failed"),
            ],
            1,
        ),
    ];
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|file| file.starts_with("stream-"))
        .collect();
    files.sort();
    let mut asserted: Vec<String> = cases.iter().map(|c| c.0.to_owned()).collect();
    asserted.sort();
    assert_eq!(
        files, asserted,
        "each stream batch in events/ needs a case here"
    );

    let filter = common::stream::template_filter();
    for (file, passing, published, malformed) in cases {
        // A bus of its own per file, subscribed to the samples' organization.
        let setup = Setup::with(Tenant {
            org: "org-dev".into(),
            auth: String::new(),
        })
        .await;
        let batch = sample(file);
        let records = batch["Records"].as_array().unwrap();
        let passed = records
            .iter()
            .filter(|r| common::stream::matches(&filter, r))
            .count();
        assert_eq!(passed, passing, "{file}: records the filter passes");

        // The whole file, unfiltered: the function must cope with anything delivered.
        let handler = setup.handler(None, Retry::default()).await;
        let (answer, summary) = handler
            .handle_with_summary(serde_json::from_value(batch.clone()).unwrap())
            .await;
        assert!(answer.batch_item_failures.is_empty(), "{file}");
        assert_eq!(summary.records, records.len(), "{file}");
        assert_eq!(summary.skipped_malformed, malformed, "{file}");
        assert_eq!(summary.published, published.len(), "{file}");

        let events = setup.events().await;
        assert_eq!(events.len(), published.len(), "{file}: {events:#?}");
        for job in [J1, J2] {
            let want: Vec<(Value, String)> = published
                .iter()
                .filter(|(j, _, _)| *j == job)
                .map(|(_, previous, status)| (previous.clone(), status.to_string()))
                .collect();
            assert_eq!(transitions_of(&events, job), want, "{file}: {job}");
        }
    }
    let failed = sample("stream-mixed-batch.json")["Records"][6]["dynamodb"]["NewImage"].clone();
    assert_eq!(failed["error_message"]["S"], "upstream gone");
}

#[tokio::test]
async fn a_cancelled_transaction_leaves_nothing_in_the_stream() {
    use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
    // DynamoDB records a transaction only once it commits; moto wrote each write of one
    // to the stream as it went, so a cancelled create or report would have published a
    // transition that never happened (scripts/dynamodb_server.py drops them again).
    let mut setup = Setup::new("events-cancelled").await;
    let dynamodb = client().await;
    let table = env("JOBS_TABLE_NAME");
    let (pk, sk) = jobs_api::store::keys::job(&setup.caller.org, "0190-never");
    let (missing, _) = jobs_api::store::keys::job(&setup.caller.org, "0190-missing");
    let put = Put::builder()
        .table_name(&table)
        .item("pk", s(&pk))
        .item("sk", s(&sk))
        .item("status", s("pending"))
        .build()
        .unwrap();
    let check = ConditionCheck::builder()
        .table_name(&table)
        .key("pk", s(&missing))
        .key("sk", s(&sk))
        .condition_expression("attribute_exists(pk)")
        .build()
        .unwrap();
    let cancelled = dynamodb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put.clone()).build())
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .send()
        .await;
    assert!(cancelled.is_err(), "the condition fails");
    assert_eq!(setup.records().await, Vec::<Value>::new());

    dynamodb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .unwrap();
    let records = setup.records().await;
    assert_eq!(records.len(), 1, "a committed transaction is in the stream");
    assert_eq!(records[0]["eventName"], "INSERT");
}

/// A stalled ending, written as the sweep writes it, is an ordinary status change: one
/// `in_progress` → `failed` event carrying the stall's message.
#[tokio::test]
async fn a_stalled_ending_publishes_an_ordinary_status_change() {
    let table = env("JOBS_TABLE_NAME");
    let app = app_with(&[
        ("JOBS_TABLE_NAME", table.as_str()),
        ("JOBS_MIN_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let mut setup = Setup::new("events-stalled").await;
    let caller = &setup.caller;
    let mut body = crawl(10);
    body["stall_timeout_seconds"] = json!(1);
    let id = caller.create_id(&app, body).await;
    let started = caller
        .progress(
            &app,
            &id,
            json!({"mark_started": true, "processed_items_increment": 2}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(caller.progress(&app, &id, json!({})).await.status, 409);

    // The sweep's own write, on this job only (the shared table is other tests' too).
    let store = jobs_api::store::Store::new(client().await, &table);
    let job = store
        .get_job(&caller.org, &id)
        .await
        .unwrap()
        .expect("the job");
    let expiry = job
        .timed_out
        .clone()
        .expect("shown stalled before it is written");
    assert_eq!(expiry.kind, jobs_api::job::DeadlineKind::Stall);
    let now = jobs_api::job::time::Timestamp::now();
    assert!(store.end_overdue(&job, &expiry, now).await.unwrap());

    let handler = setup.handler(None, Retry::default()).await;
    let records = setup.records().await;
    let (delivery, summaries) = setup.deliver_records(&handler, records.clone(), 2).await;
    assert_eq!(delivery.delivered_records, 3, "{delivery:?} {records:#?}");
    assert_eq!(
        (summaries[0].transitions, summaries[0].skipped_malformed),
        (3, 0),
        "{summaries:?} {records:#?}"
    );
    let events = setup.events().await;
    assert_eq!(
        transitions_of(&events, &id),
        lifecycle(&["pending", "in_progress", "failed"])
    );
    let last = events.last().unwrap();
    let message = last["detail"]["error_message"].as_str().unwrap();
    assert!(
        message.starts_with("Stalled: no count advanced for 1 s"),
        "{message}"
    );
    assert_eq!(last["detail"]["processed_items"], 2);
}
