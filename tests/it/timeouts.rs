//! Heartbeats and timeouts with real short timeouts (seconds, allowed here by
//! `JOBS_MIN_TIMEOUT_SECONDS=1`, a local-only setting), against the local DynamoDB:
//! a job with no reports times out; one reporting in time never does; the overall
//! timeout ends a job that keeps reporting; a pending job nobody picked up ends; reads
//! show the ending before the sweep writes it; a report racing the timeout ends one way
//! only; a job that heartbeats without progress ends `stalled`, one whose counts advance
//! never does, and a report racing the stall deadline ends it one way only; a sweep that fails half way loses nothing and ends no job twice. Each test has
//! a table of its own, so what a sweep finds is only that test's jobs.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use jobs_api::App;
use jobs_api::job::time::Timestamp;
use jobs_api::store::Store;
use jobs_api::sweep::{self, SweepReport};
use serde_json::{Value, json};

use crate::common::proxy::{Fault, Proxy};
use crate::common::{self, Reply, Tenant, send};

struct World {
    table: String,
    app: App,
    store: Store,
    client: Client,
    tenant: Tenant,
}

async fn world() -> World {
    let table = common::fresh_table("timeouts");
    let app = common::app_with(&[
        ("JOBS_TABLE_NAME", table.as_str()),
        ("JOBS_MIN_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let client = common::client().await;
    World {
        store: Store::new(client.clone(), &table),
        table,
        app,
        client,
        tenant: Tenant::new("timeouts"),
    }
}

impl World {
    async fn create(&self, body: Value) -> String {
        let mut body = body;
        body["job_type"] = json!("crawl");
        body["total_items"] = json!(10);
        self.tenant.create_id(&self.app, body).await
    }

    async fn report(&self, id: &str, body: Value) -> Reply {
        self.tenant.progress(&self.app, id, body).await
    }

    async fn cancel(&self, id: &str) -> Reply {
        let path = format!("/api/jobs/{id}/cancel");
        send(&self.app, self.tenant.post(&path, &json!({}))).await
    }

    async fn get(&self, path: &str) -> Value {
        let reply = send(&self.app, self.tenant.get(path)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.body
    }

    async fn job(&self, id: &str) -> Value {
        self.get(&format!("/api/jobs/{id}")).await
    }

    async fn sweep(&self) -> SweepReport {
        sweep::run(&self.store, Timestamp::now(), Duration::from_secs(30)).await
    }

    async fn stored(&self, id: &str) -> std::collections::HashMap<String, AttributeValue> {
        common::stored_item_in(&self.client, &self.table, &self.tenant.org, id).await
    }

    async fn stored_status(&self, id: &str) -> String {
        text(&self.stored(id).await, "status")
    }

    /// The job's recorded errors of `error_type`, straight from the table.
    async fn recorded_errors(&self, id: &str, error_type: &str) -> usize {
        let (pk, _) = jobs_api::store::keys::job(&self.tenant.org, id);
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :errors)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":errors", AttributeValue::S("ERROR#".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("querying the history")
            .items
            .unwrap_or_default();
        items
            .iter()
            .filter(|item| text(item, "error_type") == error_type)
            .count()
    }
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn time(value: &Value) -> Timestamp {
    Timestamp::parse(value.as_str().expect("a timestamp")).expect("RFC 3339")
}

async fn sleep_ms(millis: u64) {
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[tokio::test]
async fn a_started_job_with_no_reports_times_out_at_its_heartbeat_deadline() {
    let w = world().await;
    let id = w.create(json!({"heartbeat_timeout_seconds": 1})).await;
    let started = w.report(&id, json!({"mark_started": true})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["heartbeat_timeout_seconds"], 1);
    assert_eq!(started.body["timeout_seconds"], Value::Null);
    let beat = time(&started.body["last_heartbeat_at"]);
    sleep_ms(1_300).await;

    let before_sweep = w.job(&id).await;
    assert_eq!(before_sweep["status"], "failed");
    assert_eq!(time(&before_sweep["completed_at"]), beat.plus_seconds(1));
    let message = before_sweep["error_message"].as_str().unwrap();
    assert!(message.starts_with("Heartbeat timeout"), "{message}");
    assert!(message.contains("for 1 s"), "{message}");
    // Too late to report or cancel: 409, and nothing written.
    for reply in [w.report(&id, json!({})).await, w.cancel(&id).await] {
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert!(reply.body["detail"].as_str().unwrap().contains("failed"));
    }
    assert_eq!(w.stored_status(&id).await, "in_progress", "not written yet");

    let report = w.sweep().await;
    assert_eq!((report.ended, report.entries, report.failed), (1, 1, 0));
    let stored = w.stored(&id).await;
    assert_eq!(text(&stored, "status"), "failed");
    assert_eq!(text(&stored, "completed_at"), before_sweep["completed_at"]);
    assert!(
        !stored.contains_key("deadline_key"),
        "out of the sweep's index"
    );
    assert_eq!(w.recorded_errors(&id, "heartbeat_timeout").await, 1);

    let after_sweep = w.job(&id).await;
    for field in [
        "status",
        "completed_at",
        "error_message",
        "errors",
        "last_heartbeat_at",
    ] {
        assert_eq!(after_sweep[field], before_sweep[field], "{field}");
    }
    let errors = after_sweep["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error_type"], "heartbeat_timeout");
    assert_eq!(errors[0]["entity_type"], "job");

    // Ended once: the next sweep finds nothing.
    assert_eq!(
        w.sweep().await,
        SweepReport {
            finished: true,
            ..Default::default()
        }
    );
    assert_eq!(w.recorded_errors(&id, "heartbeat_timeout").await, 1);
}

#[tokio::test]
async fn a_job_reporting_more_often_than_its_heartbeat_timeout_never_times_out() {
    let w = world().await;
    let id = w.create(json!({"heartbeat_timeout_seconds": 3})).await;
    assert_eq!(
        w.report(&id, json!({"mark_started": true})).await.status,
        200
    );
    let mut moved = 0;
    // Two heartbeat periods, a report every 0.5 s (an empty one is a heartbeat too),
    // swept every second.
    for round in 0..12 {
        sleep_ms(500).await;
        let body = if round % 2 == 0 {
            json!({})
        } else {
            json!({"processed_items_increment": 1})
        };
        let reply = w.report(&id, body).await;
        assert_eq!(reply.status, 200, "round {round}: {}", reply.body);
        if round % 2 == 1 {
            let report = w.sweep().await;
            assert_eq!((report.ended, report.failed), (0, 0), "round {round}");
            moved += report.moved;
        }
    }
    assert!(moved >= 1, "the sweep found the job alive and moved it on");
    let job = w.job(&id).await;
    assert_eq!(job["status"], "in_progress");
    assert_eq!(job["processed_items"], 6);
    let done = w.report(&id, json!({"mark_completed": true})).await;
    assert_eq!(done.body["status"], "completed");
    assert!(!w.stored(&id).await.contains_key("deadline_key"));
    assert_eq!(w.recorded_errors(&id, "heartbeat_timeout").await, 0);
}

#[tokio::test]
async fn the_overall_timeout_ends_a_job_that_keeps_reporting() {
    let w = world().await;
    let created = w
        .tenant
        .create(
            &w.app,
            json!({"job_type": "crawl", "total_items": 10,
                "heartbeat_timeout_seconds": 10, "timeout_seconds": 3}),
        )
        .await;
    let id = created["job_id"].as_str().unwrap().to_owned();
    let deadline = time(&created["created_at"]).plus_seconds(3);
    assert_eq!(
        w.report(&id, json!({"mark_started": true})).await.status,
        200
    );
    let mut refused = None;
    for _ in 0..20 {
        sleep_ms(400).await;
        let reply = w.report(&id, json!({"processed_items_increment": 1})).await;
        if reply.status == 409 {
            refused = Some(Timestamp::now());
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let refused = refused.expect("a report after the overall deadline is refused");
    assert!(refused >= deadline, "refused before the deadline");

    let job = w.job(&id).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(time(&job["completed_at"]), deadline);
    let message = job["error_message"].as_str().unwrap();
    assert!(
        message.starts_with("Timeout") && message.contains("within 3 s"),
        "{message}"
    );

    assert_eq!(w.sweep().await.ended, 1);
    assert_eq!(w.stored_status(&id).await, "failed");
    assert_eq!(w.recorded_errors(&id, "timeout").await, 1);
    assert_eq!(w.recorded_errors(&id, "heartbeat_timeout").await, 0);
}

#[tokio::test]
async fn a_pending_job_nobody_picked_up_ends_at_its_overall_deadline() {
    let w = world().await;
    // The heartbeat timeout does not count before the first report.
    let created = w
        .tenant
        .create(
            &w.app,
            json!({"job_type": "crawl", "total_items": 10,
                "heartbeat_timeout_seconds": 1, "timeout_seconds": 4}),
        )
        .await;
    let id = created["job_id"].as_str().unwrap().to_owned();
    let deadline = time(&created["created_at"]).plus_seconds(4);
    sleep_ms(1_500).await;
    assert_eq!(w.job(&id).await["status"], "pending");
    // The sweep looks (its entry was due at creation + 1 s) and moves it on.
    let report = w.sweep().await;
    assert_eq!((report.ended, report.moved), (0, 1));
    sleep_ms((deadline.millis() + 200).saturating_sub(Timestamp::now().millis())).await;
    let status = w.get(&format!("/api/jobs/{id}/status")).await;
    assert_eq!(status["status"], "failed");
    let job = w.job(&id).await;
    assert_eq!(job["started_at"], Value::Null);
    assert_eq!(job["duration_seconds"], Value::Null);
    assert_eq!(time(&job["completed_at"]), deadline);
    // The entry moved to a heartbeat period later, not past the deadline.
    assert_eq!(w.sweep().await.ended, 1);
    assert_eq!(w.stored_status(&id).await, "failed");
    assert_eq!(w.recorded_errors(&id, "timeout").await, 1);
}

#[tokio::test]
async fn every_read_shows_the_ending_before_the_sweep_writes_it() {
    let w = world().await;
    let id = w.create(json!({"heartbeat_timeout_seconds": 1})).await;
    let other = w.create(json!({})).await;
    assert_eq!(
        w.report(&id, json!({"mark_started": true})).await.status,
        200
    );
    assert_eq!(
        w.report(&other, json!({"mark_started": true})).await.status,
        200
    );
    sleep_ms(1_300).await;
    assert_eq!(
        w.stored_status(&id).await,
        "in_progress",
        "nothing written yet"
    );

    let status = w.get(&format!("/api/jobs/{id}/status")).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["heartbeat_timeout_seconds"], 1);
    let listed = w.get("/api/jobs/").await;
    let items = listed["items"].as_array().unwrap();
    let find = |items: &[Value], id: &str| items.iter().find(|j| j["job_id"] == id).cloned();
    let item = find(items, &id).expect("listed");
    assert_eq!(item["status"], "failed");
    assert_eq!(item["completed_at"], w.job(&id).await["completed_at"]);
    assert_eq!(find(items, &other).unwrap()["status"], "in_progress");
    // Not listed as in progress any more, although the index still files it so.
    let running = w.get("/api/jobs/?status=in_progress").await;
    let running = running["items"].as_array().unwrap();
    assert!(find(running, &id).is_none());
    assert!(find(running, &other).is_some());
    // The history ends with the timeout error.
    let errors = w.get(&format!("/api/jobs/{id}/errors")).await;
    let errors = errors["items"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error_type"], "heartbeat_timeout");
    let unrecorded = errors[0].clone();

    assert_eq!(w.sweep().await.ended, 1);
    // Once written, the same error, once; and listed under its new status.
    let errors = w.get(&format!("/api/jobs/{id}/errors")).await;
    assert_eq!(errors["items"], json!([unrecorded]));
    let failed = w.get("/api/jobs/?status=failed").await;
    assert!(find(failed["items"].as_array().unwrap(), &id).is_some());
}

#[tokio::test]
async fn a_report_racing_the_timeout_ends_one_way_only() {
    let w = world().await;
    let mut jobs = Vec::new();
    for _ in 0..16 {
        let id = w.create(json!({"heartbeat_timeout_seconds": 1})).await;
        let started = w.report(&id, json!({"mark_started": true})).await;
        jobs.push((id, time(&started.body["last_heartbeat_at"]).plus_seconds(1)));
    }
    // Each job's report is sent around its deadline (from 60 ms before to 60 ms after,
    // in steps of 8 ms) while two sweeps run over and over.
    let w = &w;
    let reports = jobs
        .iter()
        .enumerate()
        .map(|(i, (id, deadline))| async move {
            let at = deadline.millis() + (i as u64) * 8;
            let wait = (at.saturating_sub(60)).saturating_sub(Timestamp::now().millis());
            sleep_ms(wait).await;
            w.report(id, json!({"processed_items_increment": 1})).await
        });
    let sweeps = async {
        let until = jobs.last().unwrap().1.plus_seconds(1);
        let mut ended = 0;
        while Timestamp::now() < until {
            let (a, b) = tokio::join!(w.sweep(), w.sweep());
            assert_eq!((a.failed, b.failed), (0, 0));
            ended += a.ended + b.ended;
            // Not flat out: the local DynamoDB serves the other tests too.
            sleep_ms(20).await;
        }
        ended
    };
    let (replies, _) = tokio::join!(futures_util::future::join_all(reports), sweeps);
    sleep_ms(1_200).await;
    let ended_after = w.sweep().await;
    assert_eq!(ended_after.failed, 0);

    let (mut won, mut lost) = (0, 0);
    for ((id, old_deadline), reply) in jobs.iter().zip(&replies) {
        let stored = w.stored(id).await;
        // Every job has timed out by now, exactly once.
        assert_eq!(text(&stored, "status"), "failed", "{id}");
        assert_eq!(w.recorded_errors(id, "heartbeat_timeout").await, 1, "{id}");
        let completed = Timestamp::parse(&text(&stored, "completed_at")).unwrap();
        let processed = stored["processed_items"].clone();
        match reply.status.as_u16() {
            200 => {
                won += 1;
                // The report landed: it counted, and moved the deadline, so the ending
                // is a heartbeat period after that report, not at the old deadline.
                assert_eq!(processed, AttributeValue::N("1".into()), "{id}");
                let beat = time(&reply.body["last_heartbeat_at"]);
                assert!(beat < *old_deadline, "{id}: accepted after its deadline");
                assert_eq!(completed, beat.plus_seconds(1), "{id}");
            }
            409 => {
                lost += 1;
                // The timeout won: nothing of the report was written.
                assert_eq!(processed, AttributeValue::N("0".into()), "{id}");
                assert_eq!(completed, *old_deadline, "{id}");
            }
            other => panic!("{id}: {other} {}", reply.body),
        }
    }
    eprintln!("report vs timeout: {won} reports won, {lost} timeouts won");
    assert_eq!(won + lost, jobs.len());
}

#[tokio::test]
async fn a_failed_sweep_loses_nothing_and_the_next_ends_each_job_once() {
    let w = world().await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(w.create(json!({"timeout_seconds": 1})).await);
    }
    sleep_ms(1_200).await;

    let proxy = Proxy::start(&common::env("AWS_ENDPOINT_URL_DYNAMODB"));
    let proxied = Store::new(common::client_behind(&proxy).await, &w.table);
    // DynamoDB throttles every ending past the SDK's retries: the sweep fails, and
    // what it read stays due.
    proxy.arm(
        Fault::Throttle(common::proxy::THROTTLING),
        Some("TransactWriteItems"),
        1_000,
    );
    let first = sweep::run(&proxied, Timestamp::now(), Duration::from_secs(30)).await;
    assert_eq!((first.ended, first.failed), (0, ids.len()), "{first:?}");
    for id in &ids {
        assert_eq!(
            w.stored_status(id).await,
            "pending",
            "{id}: nothing half written"
        );
    }
    // The next sweep finishes the work, although one ending's answer is lost after it
    // committed: the SDK's retry carries the transaction's token and writes nothing more.
    proxy.pass();
    proxy.arm(Fault::LoseAnswer, Some("TransactWriteItems"), 1);
    let second = sweep::run(&proxied, Timestamp::now(), Duration::from_secs(30)).await;
    assert_eq!((second.ended, second.failed), (ids.len(), 0), "{second:?}");
    assert!(
        proxy
            .seen()
            .iter()
            .any(|seen| seen.fault == Some(Fault::LoseAnswer))
    );
    for id in &ids {
        assert_eq!(w.stored_status(id).await, "failed", "{id}");
        assert_eq!(
            w.recorded_errors(id, "timeout").await,
            1,
            "{id}: ended once"
        );
    }
    assert_eq!(w.sweep().await.entries, 0, "nothing left in the index");
}

#[tokio::test]
async fn jobs_without_timeouts_are_untouched_and_timeouts_are_validated() {
    let w = world().await;
    let id = w.create(json!({})).await;
    let job = w.job(&id).await;
    assert_eq!(job["heartbeat_timeout_seconds"], Value::Null);
    assert_eq!(job["timeout_seconds"], Value::Null);
    assert_eq!(job["stall_timeout_seconds"], Value::Null);
    assert_eq!(job["last_heartbeat_at"], Value::Null);
    assert_eq!(job["last_progress_at"], Value::Null);
    let reply = w.report(&id, json!({})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["status"], "pending",
        "an empty report is a heartbeat only"
    );
    assert!(reply.body["last_heartbeat_at"].is_string());
    assert!(!w.stored(&id).await.contains_key("deadline_key"));
    assert_eq!(w.sweep().await.entries, 0);

    let refused = send(
        &w.app,
        w.tenant.post(
            "/api/jobs/",
            &json!({"job_type": "crawl", "total_items": 1,
                "heartbeat_timeout_seconds": 0, "timeout_seconds": 2_592_001,
                "stall_timeout_seconds": "60"}),
        ),
    )
    .await;
    assert_eq!(refused.status, 422);
    let locs: Vec<&Value> = refused.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert_eq!(
        locs,
        [
            &json!(["body", "heartbeat_timeout_seconds"]),
            &json!(["body", "timeout_seconds"]),
            &json!(["body", "stall_timeout_seconds"])
        ]
    );
}

/// The case: one job item the sweep cannot read (another organization's, in the
/// same `by_deadline` shard) made it abandon the whole shard, so every other overdue job
/// there stayed open, and nothing counted a failure. It is now skipped, logged and
/// counted, and the rest of the shard is swept.
#[tokio::test]
async fn an_unreadable_job_never_stops_the_sweep_of_its_shard() {
    let w = world().await;
    let id = w.create(json!({"timeout_seconds": 1})).await;
    let other = Tenant::new("timeouts-other");
    let bad = other
        .create_id(&w.app, json!({"job_type": "crawl", "total_items": 1}))
        .await;
    let shard = jobs_api::store::keys::deadline_shard(&id);
    common::spoil_job(
        &w.client,
        &w.table,
        &other.org,
        &bad,
        &[
            (
                "deadline_key",
                AttributeValue::S(jobs_api::store::keys::deadline(shard)),
            ),
            ("sweep_at", AttributeValue::N("0".into())),
        ],
    )
    .await;
    sleep_ms(1_200).await;
    let report = w.sweep().await;
    assert_eq!(report.ended, 1, "{report:?}");
    assert_eq!(
        (report.unreadable, report.finished),
        (1, true),
        "{report:?}"
    );
    assert_eq!(w.stored_status(&id).await, "failed");
    assert_eq!(w.recorded_errors(&id, "timeout").await, 1);
    // Still due, still skipped (and counted, so its alarm stays on) by every sweep.
    let again = w.sweep().await;
    assert_eq!((again.ended, again.unreadable), (0, 1), "{again:?}");
}

/// A shard whose due entries cannot be read (DynamoDB throttles its query past the
/// SDK's retries) is a failure the sweep reports (its function then fails, and
/// `SweepErrorsAlarm` counts it), not a quiet success; the next sweep ends the job.
#[tokio::test]
async fn a_shard_the_sweep_cannot_read_counts_as_a_failure() {
    let w = world().await;
    let id = w.create(json!({"timeout_seconds": 1})).await;
    sleep_ms(1_200).await;
    let proxy = Proxy::start(&common::env("AWS_ENDPOINT_URL_DYNAMODB"));
    let proxied = Store::new(common::client_behind(&proxy).await, &w.table);
    proxy.arm(
        Fault::Throttle(common::proxy::THROTTLING),
        Some("Query"),
        1_000,
    );
    let report = sweep::run(&proxied, Timestamp::now(), Duration::from_secs(30)).await;
    assert_eq!(report.ended, 0, "{report:?}");
    assert_eq!(report.failed, 16, "every shard unread: {report:?}");
    assert!(!report.finished);
    proxy.pass();
    assert_eq!(w.sweep().await.ended, 1);
    assert_eq!(w.stored_status(&id).await, "failed");
}

#[tokio::test]
async fn a_job_that_heartbeats_without_progress_ends_stalled() {
    let w = world().await;
    let id = w
        .create(json!({"heartbeat_timeout_seconds": 1, "stall_timeout_seconds": 2}))
        .await;
    let started = w.report(&id, json!({"mark_started": true})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["stall_timeout_seconds"], 2);
    let counted = w.report(&id, json!({"processed_items_increment": 3})).await;
    assert_eq!(counted.status, 200, "{}", counted.body);
    let progress = time(&counted.body["last_progress_at"]);
    let deadline = progress.plus_seconds(2);
    // Alive and stuck: heartbeats every 0.4 s (empty, a stage, a zero increment) keep
    // the heartbeat deadline ahead, and none moves the stall deadline.
    let bodies = [
        json!({}),
        json!({"stage": "fetch"}),
        json!({"processed_items_increment": 0}),
    ];
    let mut refused = None;
    for round in 0..10 {
        sleep_ms(400).await;
        let reply = w.report(&id, bodies[round % 3].clone()).await;
        if reply.status == 409 {
            refused = Some(Timestamp::now());
            break;
        }
        assert_eq!(reply.status, 200, "round {round}: {}", reply.body);
        assert_eq!(time(&reply.body["last_progress_at"]), progress, "{round}");
        assert!(time(&reply.body["last_heartbeat_at"]) > progress);
    }
    let refused = refused.expect("a report after the stall deadline is refused");
    assert!(refused >= deadline, "refused before the stall deadline");

    let before_sweep = w.job(&id).await;
    assert_eq!(before_sweep["status"], "failed");
    assert_eq!(time(&before_sweep["completed_at"]), deadline);
    assert_eq!(before_sweep["processed_items"], 3);
    let message = before_sweep["error_message"].as_str().unwrap();
    assert!(
        message.starts_with("Stalled") && message.contains("for 2 s"),
        "{message}"
    );
    assert_eq!(
        w.get(&format!("/api/jobs/{id}/status")).await["status"],
        "failed"
    );
    assert_eq!(w.cancel(&id).await.status, 409);
    assert_eq!(w.stored_status(&id).await, "in_progress", "not written yet");
    let errors = w.get(&format!("/api/jobs/{id}/errors")).await;
    let unrecorded = errors["items"].clone();
    assert_eq!(unrecorded[0]["error_type"], "stalled");
    assert_eq!(unrecorded[0]["details"]["stall_timeout_seconds"], 2);

    let report = w.sweep().await;
    assert_eq!((report.ended, report.failed), (1, 0));
    let stored = w.stored(&id).await;
    assert_eq!(text(&stored, "status"), "failed");
    assert_eq!(text(&stored, "completed_at"), before_sweep["completed_at"]);
    assert!(!stored.contains_key("deadline_key"));
    assert_eq!(w.recorded_errors(&id, "stalled").await, 1);
    assert_eq!(w.recorded_errors(&id, "heartbeat_timeout").await, 0);
    let errors = w.get(&format!("/api/jobs/{id}/errors")).await;
    assert_eq!(errors["items"], unrecorded, "the same error, once written");
    assert_eq!(w.sweep().await.ended, 0);
}

#[tokio::test]
async fn a_job_whose_counts_advance_never_stalls() {
    let w = world().await;
    let id = w.create(json!({"stall_timeout_seconds": 2})).await;
    assert_eq!(
        w.report(&id, json!({"mark_started": true})).await.status,
        200
    );
    let item_warning = json!({"warning": {"entity_key": "row-1", "entity_type": "row",
        "error_type": "slow", "message": "m"}});
    // Two and a half stall periods, a count advancing every 0.5 s (each kind in turn,
    // a heartbeat between), swept every second.
    let mut moved = 0;
    for round in 0..10u64 {
        sleep_ms(500).await;
        let body = match round % 4 {
            0 => json!({"processed_items_increment": 1}),
            1 => json!({"failed_items_increment": 1, "stage": "retry"}),
            2 => json!({"processed_items": 10 + round}),
            _ => item_warning.clone(),
        };
        let reply = w.report(&id, body).await;
        assert_eq!(reply.status, 200, "round {round}: {}", reply.body);
        assert_eq!(
            reply.body["last_progress_at"], reply.body["last_heartbeat_at"],
            "round {round}: progress"
        );
        if round % 2 == 1 {
            let report = w.sweep().await;
            assert_eq!((report.ended, report.failed), (0, 0), "round {round}");
            moved += report.moved;
        }
    }
    assert!(moved >= 1, "the sweep found the job alive and moved it on");
    assert_eq!(w.job(&id).await["status"], "in_progress");
    let done = w.report(&id, json!({"mark_completed": true})).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "partial_success");
    assert!(!w.stored(&id).await.contains_key("deadline_key"));
    assert_eq!(w.recorded_errors(&id, "stalled").await, 0);
}

#[tokio::test]
async fn a_report_racing_the_stall_deadline_ends_one_way_only() {
    let w = world().await;
    let mut jobs = Vec::new();
    for i in 0..16 {
        let id = w.create(json!({"stall_timeout_seconds": 1})).await;
        let started = w.report(&id, json!({"mark_started": true})).await;
        let deadline = time(&started.body["last_progress_at"]).plus_seconds(1);
        // Every other job gets a heartbeat, which cannot save it, the rest progress.
        jobs.push((id, deadline, i % 2 == 0));
    }
    let w = &w;
    let reports = jobs
        .iter()
        .enumerate()
        .map(|(i, (id, deadline, counts))| async move {
            let at = deadline.millis() + (i as u64) * 8;
            let wait = (at.saturating_sub(60)).saturating_sub(Timestamp::now().millis());
            sleep_ms(wait).await;
            let body = if *counts {
                json!({"processed_items_increment": 1})
            } else {
                json!({})
            };
            w.report(id, body).await
        });
    let sweeps = async {
        let until = jobs.last().unwrap().1.plus_seconds(1);
        while Timestamp::now() < until {
            let (a, b) = tokio::join!(w.sweep(), w.sweep());
            assert_eq!((a.failed, b.failed), (0, 0));
            sleep_ms(20).await;
        }
    };
    let (replies, ()) = tokio::join!(futures_util::future::join_all(reports), sweeps);
    sleep_ms(1_200).await;
    assert_eq!(w.sweep().await.failed, 0);

    let (mut won, mut lost) = (0, 0);
    for ((id, old_deadline, counts), reply) in jobs.iter().zip(&replies) {
        let stored = w.stored(id).await;
        assert_eq!(text(&stored, "status"), "failed", "{id}");
        assert_eq!(
            w.recorded_errors(id, "stalled").await,
            1,
            "{id}: ended once"
        );
        let completed = Timestamp::parse(&text(&stored, "completed_at")).unwrap();
        let processed = stored["processed_items"].clone();
        match (reply.status.as_u16(), counts) {
            (200, true) => {
                won += 1;
                // Counted, and moved the stall deadline: the ending is a stall period
                // after that report.
                assert_eq!(processed, AttributeValue::N("1".into()), "{id}");
                let progress = time(&reply.body["last_progress_at"]);
                assert!(
                    progress < *old_deadline,
                    "{id}: accepted after its deadline"
                );
                assert_eq!(completed, progress.plus_seconds(1), "{id}");
            }
            (200, false) => {
                won += 1;
                // A heartbeat landed in time, and the job still stalled at its deadline.
                assert!(time(&reply.body["last_heartbeat_at"]) < *old_deadline);
                assert_eq!(completed, *old_deadline, "{id}");
            }
            (409, _) => {
                lost += 1;
                assert_eq!(processed, AttributeValue::N("0".into()), "{id}");
                assert_eq!(completed, *old_deadline, "{id}");
            }
            (other, _) => panic!("{id}: {other} {}", reply.body),
        }
    }
    eprintln!("report vs stall: {won} reports landed, {lost} refused");
    assert_eq!(won + lost, jobs.len());
}
