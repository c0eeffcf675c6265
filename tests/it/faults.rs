//! DynamoDB faults, through the real handler: `App` with the production client
//! configuration (`store::connect`: 1 s connect, 2 s attempt, 6 s operation timeouts,
//! standard retries, 3 attempts) aimed at a fault-injecting proxy in front of the local
//! DynamoDB (`common::proxy`). For create (with and without `Idempotency-Key`), a progress
//! increment, a progress error (a transaction) and cancel, each fault gives:
//!
//! - the status: the success after the SDK's retry, or `503` / `429` with `Retry-After`,
//!   a JSON body that names nothing internal;
//! - the writes, read straight from the table through an unproxied client: the jobs in
//!   the organization's partition, `processed_items`, the error history.
//!
//! "Lose the answer" (DynamoDB commits, the connection drops) is where a retry can write
//! twice. Each case asserts what is observed: the write landed once (or not at all), and
//! the status the caller gets, including the one ambiguity left (an increment without a
//! key whose answer was lost: landed, yet `503`). With a key, exactly once is asserted,
//! the client's own retry included.
//!
//! Each case gets its own organization, proxy and SDK retry partition (the retry token
//! bucket is per partition and process; a Lambda container has its own), and the cases of
//! one test run concurrently. `FAULTS_TABLE=1` prints the observations.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use jobs_api::{App, store};
use serde_json::{Value, json};

use crate::common::proxy::{Fault, PROVISIONED_THROUGHPUT_EXCEEDED, Proxy, THROTTLING};
use crate::common::*;

/// Every request's number of SDK attempts, as configured in `store::connect`.
const ATTEMPTS: usize = 3;
const ALWAYS: usize = usize::MAX;
const UNAVAILABLE: &str = "Service temporarily unavailable, retry later";
const THROTTLED: &str = "Too many requests, retry later";

/// One case: a proxy, the handler behind it, a direct client, a fresh organization.
struct Rig {
    proxy: Proxy,
    app: App,
    direct: Client,
    tenant: Tenant,
}

async fn rig(name: &str) -> Rig {
    let proxy = Proxy::start(&env("AWS_ENDPOINT_URL_DYNAMODB"));
    // The production client, unproxied: the reference for what was written.
    let direct = client().await;
    let app = app_behind(&proxy).await;
    Rig {
        proxy,
        app,
        direct,
        tenant: Tenant::new(name),
    }
}

impl Rig {
    fn with_key(&self, path: &str, key: Option<&str>, body: &Value) -> lambda_http::Request {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("authorization", self.tenant.auth.as_str()),
        ];
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        request("POST", path, &headers, &body.to_string())
    }

    async fn create(&self, key: Option<&str>) -> Reply {
        let body = json!({"job_type": "crawl", "total_items": 10});
        send(&self.app, self.with_key("/api/jobs/", key, &body)).await
    }

    /// A job created with no fault armed.
    async fn job(&self) -> String {
        let reply = self.create(None).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["job_id"].as_str().unwrap().to_owned()
    }

    async fn progress(&self, job_id: &str, key: Option<&str>, body: &Value) -> Reply {
        let path = format!("/api/jobs/{job_id}/progress");
        send(&self.app, self.with_key(&path, key, body)).await
    }

    async fn cancel(&self, job_id: &str, key: Option<&str>) -> Reply {
        let path = format!("/api/jobs/{job_id}/cancel");
        let mut headers = vec![("authorization", self.tenant.auth.as_str())];
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        send(&self.app, request("POST", &path, &headers, "")).await
    }

    /// The organization's jobs (its idempotency records not counted).
    async fn jobs(&self) -> i32 {
        let prefix = format!("{}JOB#", store::keys::organization_prefix(&self.tenant.org));
        count_items(&self.direct, &prefix, Some(store::keys::JOB_SORT_KEY)).await
    }

    async fn stored(&self, job_id: &str) -> std::collections::HashMap<String, AttributeValue> {
        stored_item(&self.direct, &self.tenant.org, job_id)
            .await
            .expect("the job is stored")
    }

    async fn number(&self, job_id: &str, field: &str) -> u64 {
        match &self.stored(job_id).await[field] {
            AttributeValue::N(n) => n.parse().unwrap(),
            other => panic!("{field}: {other:?}"),
        }
    }

    async fn status(&self, job_id: &str) -> String {
        match &self.stored(job_id).await["status"] {
            AttributeValue::S(s) => s.clone(),
            other => panic!("status: {other:?}"),
        }
    }

    /// The job's error history (items of its own).
    async fn errors(&self, job_id: &str) -> i32 {
        let pk = store::keys::job_partition(&self.tenant.org, job_id);
        count(&self.direct, &pk, "ERROR#").await
    }
}

async fn count(client: &Client, pk: &str, sk_prefix: &str) -> i32 {
    client
        .query()
        .table_name(env("JOBS_TABLE_NAME"))
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
        .expression_attribute_values(":prefix", AttributeValue::S(sk_prefix.to_owned()))
        .consistent_read(true)
        .select(Select::Count)
        .send()
        .await
        .expect("querying the table")
        .count
}

/// A refusal because of DynamoDB: the status, `Retry-After: 1`, and a body that is
/// exactly `{"detail": <the fixed text>}`: no endpoint, SDK error or operation in it.
fn assert_retry_later(reply: &Reply, status: u16, rig: &Rig) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply
            .headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1"),
        "Retry-After"
    );
    let detail = if status == 503 {
        UNAVAILABLE
    } else {
        THROTTLED
    };
    assert_eq!(reply.body, json!({ "detail": detail }));
    let text = reply.body.to_string().to_lowercase();
    for internal in [
        "127.0.0.1",
        &rig.proxy.url(),
        "dynamodb",
        "dispatch",
        "timeout",
    ] {
        assert!(!text.contains(internal), "{internal} in {text}");
    }
}

/// One line of the observation table (printed with `FAULTS_TABLE=1`).
fn observe(fault: &str, operation: &str, reply: &Reply, writes: String, started: Instant) {
    if std::env::var_os("FAULTS_TABLE").is_some() {
        println!(
            "| {fault} | {operation} | {} | {writes} | {:.1} s |",
            reply.status.as_u16(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// Runs the cases concurrently, each on its own task; any failure fails the test.
async fn all(cases: Vec<tokio::task::JoinHandle<()>>) {
    let mut failures = Vec::new();
    for case in cases {
        if let Err(error) = case.await {
            failures.push(error);
        }
    }
    if let Some(first) = failures.into_iter().next() {
        std::panic::resume_unwind(first.into_panic());
    }
}

// ---- create ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_without_a_key() {
    all(vec![
        tokio::spawn(async {
            let rig = rig("f-create-stop").await;
            rig.proxy.arm(Fault::Stop, None, ALWAYS);
            let t = Instant::now();
            let reply = rig.create(None).await;
            assert_retry_later(&reply, 503, &rig);
            assert_eq!(
                rig.proxy.attempts("PutItem") + rig.proxy.attempts("(connection)"),
                ATTEMPTS
            );
            rig.proxy.pass();
            assert_eq!(rig.jobs().await, 0);
            observe("stopped", "create", &reply, "0 jobs".into(), t);
        }),
        tokio::spawn(async {
            let rig = rig("f-create-stop-once").await;
            rig.proxy.arm(Fault::Stop, None, 1);
            let t = Instant::now();
            let reply = rig.create(None).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            assert_eq!(rig.jobs().await, 1);
            observe("stopped, 1 attempt", "create", &reply, "1 job".into(), t);
        }),
        tokio::spawn(async {
            let rig = rig("f-create-throttle-2").await;
            rig.proxy.arm(
                Fault::Throttle(PROVISIONED_THROUGHPUT_EXCEEDED),
                Some("PutItem"),
                2,
            );
            let t = Instant::now();
            let reply = rig.create(None).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            assert_eq!(
                rig.proxy.attempts("PutItem"),
                3,
                "two throttled, the third lands"
            );
            assert_eq!(rig.jobs().await, 1);
            observe("throttled ×2 (PTEE)", "create", &reply, "1 job".into(), t);
        }),
        tokio::spawn(async {
            let rig = rig("f-create-throttle").await;
            rig.proxy.arm(Fault::Throttle(THROTTLING), None, ALWAYS);
            let t = Instant::now();
            let reply = rig.create(None).await;
            assert_retry_later(&reply, 429, &rig);
            assert_eq!(rig.proxy.attempts("PutItem"), ATTEMPTS);
            rig.proxy.pass();
            assert_eq!(rig.jobs().await, 0);
            observe(
                "throttled always (Throttling)",
                "create",
                &reply,
                "0 jobs".into(),
                t,
            );
        }),
        tokio::spawn(async {
            // The PutItem landed, its answer was lost, the SDK retried it: the retry's
            // `attribute_not_exists` fails, and the create recognises its own job there.
            let rig = rig("f-create-lost").await;
            rig.proxy.arm(Fault::LoseAnswer, Some("PutItem"), 1);
            let t = Instant::now();
            let reply = rig.create(None).await;
            assert_eq!(
                rig.proxy.attempts("PutItem"),
                2,
                "the SDK retried the lost answer"
            );
            assert_eq!(reply.status, 201, "{}", reply.body);
            assert_eq!(rig.jobs().await, 1, "written exactly once");
            let job_id = reply.body["job_id"].as_str().unwrap();
            assert!(
                stored_item(&rig.direct, &rig.tenant.org, job_id)
                    .await
                    .is_some()
            );
            observe("answer lost", "create", &reply, "1 job".into(), t);
        }),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_with_a_key() {
    all(vec![
        tokio::spawn(async {
            // The job and the key's completion commit in one transaction; its answer is
            // lost; the SDK's retry carries the same ClientRequestToken, so DynamoDB
            // answers success without writing again. The client's own retry replays.
            let rig = rig("f-createk-lost").await;
            rig.proxy
                .arm(Fault::LoseAnswer, Some("TransactWriteItems"), 1);
            let t = Instant::now();
            let reply = rig.create(Some("k1")).await;
            assert_eq!(rig.proxy.attempts("TransactWriteItems"), 2);
            assert_eq!(reply.status, 201, "{}", reply.body);
            let again = rig.create(Some("k1")).await;
            assert_eq!(again.status, 201);
            assert_eq!(again.body, reply.body, "the original response, replayed");
            assert_eq!(again.headers["idempotent-replayed"], "true");
            assert_eq!(rig.jobs().await, 1, "exactly once");
            observe(
                "answer lost (transaction)",
                "create + key",
                &reply,
                "1 job; retry replays".into(),
                t,
            );
        }),
        tokio::spawn(async {
            // The claim's PutItem committed, its answer lost, the SDK retried: the
            // retry finds the key held by its own claim token, so the request goes on
            // and creates the job once; the client's retry replays it.
            let rig = rig("f-createk-lost-claim").await;
            rig.proxy.arm(Fault::LoseAnswer, Some("PutItem"), 1);
            let t = Instant::now();
            let reply = rig.create(Some("k1")).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            let again = rig.create(Some("k1")).await;
            assert_eq!(again.status, 201, "{}", again.body);
            assert_eq!(again.headers["idempotent-replayed"], "true");
            assert_eq!(again.body, reply.body);
            assert_eq!(rig.jobs().await, 1, "exactly once");
            observe(
                "answer lost (claim)",
                "create + key",
                &reply,
                "1 job; retry replays".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-createk-stop").await;
            rig.proxy.arm(Fault::Stop, None, ALWAYS);
            let t = Instant::now();
            let reply = rig.create(Some("k1")).await;
            assert_retry_later(&reply, 503, &rig);
            rig.proxy.pass();
            assert_eq!(rig.jobs().await, 0);
            let again = rig.create(Some("k1")).await;
            assert_eq!(
                again.status, 201,
                "the key is free for the retry: {}",
                again.body
            );
            assert_eq!(rig.jobs().await, 1);
            observe(
                "stopped",
                "create + key",
                &reply,
                "0 jobs; retry 201".into(),
                t,
            );
        }),
        tokio::spawn(async {
            // The claim lands, the transaction is throttled: 429, and the claim is given
            // back, so the client's retry goes through.
            let rig = rig("f-createk-throttle").await;
            rig.proxy.arm(
                Fault::Throttle(PROVISIONED_THROUGHPUT_EXCEEDED),
                Some("TransactWriteItems"),
                ALWAYS,
            );
            let t = Instant::now();
            let reply = rig.create(Some("k1")).await;
            assert_retry_later(&reply, 429, &rig);
            assert_eq!(rig.proxy.attempts("TransactWriteItems"), ATTEMPTS);
            rig.proxy.pass();
            assert_eq!(rig.jobs().await, 0);
            let again = rig.create(Some("k1")).await;
            assert_eq!(again.status, 201, "{}", again.body);
            assert_eq!(rig.jobs().await, 1);
            observe(
                "throttled always (transaction)",
                "create + key",
                &reply,
                "0 jobs; retry 201".into(),
                t,
            );
        }),
    ])
    .await;
}

// ---- progress: an increment -----------------------------------------------------------

fn increment() -> Value {
    json!({"processed_items_increment": 3})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_increment() {
    all(vec![
        tokio::spawn(async {
            // Without a key an increment is a plain UpdateItem ADD, which a retry after a
            // lost answer would apply again: it is not retried. The caller gets 503
            // although the increment landed (once): retrying it without a key would
            // double it (the README's documented limit).
            let rig = rig("f-inc-lost").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::LoseAnswer, Some("UpdateItem"), 1);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &increment()).await;
            assert_retry_later(&reply, 503, &rig);
            assert_eq!(
                rig.proxy.attempts("UpdateItem"),
                1,
                "an ambiguous ADD is not retried"
            );
            assert_eq!(rig.number(&job, "processed_items").await, 3, "landed once");
            observe(
                "answer lost",
                "progress +3, no key",
                &reply,
                "processed 3 (landed, yet 503)".into(),
                t,
            );
        }),
        tokio::spawn(async {
            // With a key the update is a transaction with the key's completion: the SDK's
            // retry is deduplicated by its ClientRequestToken, the client's by the key.
            let rig = rig("f-inc-lost-key").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::LoseAnswer, Some("TransactWriteItems"), 1);
            let t = Instant::now();
            let reply = rig.progress(&job, Some("p1"), &increment()).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(rig.proxy.attempts("TransactWriteItems"), 2);
            assert_eq!(reply.body["processed_items"], 3);
            let again = rig.progress(&job, Some("p1"), &increment()).await;
            assert_eq!(again.status, 200, "{}", again.body);
            assert_eq!(again.headers["idempotent-replayed"], "true");
            assert_eq!(again.body["processed_items"], 3);
            assert_eq!(rig.number(&job, "processed_items").await, 3, "exactly once");
            observe(
                "answer lost (transaction)",
                "progress +3, key",
                &reply,
                "processed 3; retry replays".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-inc-lost-claim").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::LoseAnswer, Some("PutItem"), 1);
            let t = Instant::now();
            let reply = rig.progress(&job, Some("p1"), &increment()).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let again = rig.progress(&job, Some("p1"), &increment()).await;
            assert_eq!(again.status, 200, "{}", again.body);
            assert_eq!(again.headers["idempotent-replayed"], "true");
            assert_eq!(rig.number(&job, "processed_items").await, 3, "exactly once");
            observe(
                "answer lost (claim)",
                "progress +3, key",
                &reply,
                "processed 3; retry replays".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-inc-throttle-2").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::Throttle(THROTTLING), Some("UpdateItem"), 2);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &increment()).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(rig.proxy.attempts("UpdateItem"), 3);
            assert_eq!(rig.number(&job, "processed_items").await, 3);
            observe(
                "throttled ×2",
                "progress +3, no key",
                &reply,
                "processed 3".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-inc-throttle").await;
            let job = rig.job().await;
            rig.proxy.arm(
                Fault::Throttle(PROVISIONED_THROUGHPUT_EXCEEDED),
                None,
                ALWAYS,
            );
            let t = Instant::now();
            let reply = rig.progress(&job, None, &increment()).await;
            assert_retry_later(&reply, 429, &rig);
            rig.proxy.pass();
            assert_eq!(rig.number(&job, "processed_items").await, 0);
            observe(
                "throttled always",
                "progress +3, no key",
                &reply,
                "processed 0".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-inc-stop").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::Stop, None, ALWAYS);
            let t = Instant::now();
            let reply = rig.progress(&job, Some("p1"), &increment()).await;
            assert_retry_later(&reply, 503, &rig);
            rig.proxy.pass();
            assert_eq!(rig.number(&job, "processed_items").await, 0);
            let again = rig.progress(&job, Some("p1"), &increment()).await;
            assert_eq!(again.status, 200, "{}", again.body);
            assert_eq!(rig.number(&job, "processed_items").await, 3);
            observe(
                "stopped",
                "progress +3, key",
                &reply,
                "processed 0; retry 200 → 3".into(),
                t,
            );
        }),
    ])
    .await;
}

// ---- progress: an error (a transaction: the job update and the history item) ----------

fn item_error() -> Value {
    json!({"error": {"entity_key": "row-7", "entity_type": "row", "error_type": "parse", "message": "bad date"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_error() {
    all(vec![
        tokio::spawn(async {
            let rig = rig("f-err-lost").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::LoseAnswer, Some("TransactWriteItems"), 1);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &item_error()).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(rig.proxy.attempts("TransactWriteItems"), 2);
            assert_eq!(rig.errors(&job).await, 1, "one history item");
            assert_eq!(rig.number(&job, "failed_items").await, 1);
            assert_eq!(rig.number(&job, "error_count").await, 1);
            observe(
                "answer lost",
                "progress error, no key",
                &reply,
                "1 error, failed 1".into(),
                t,
            );
        }),
        tokio::spawn(async {
            // Exactly once even without DynamoDB's ClientRequestToken deduplication (the
            // proxy not playing it: moto as is): the retried transaction puts the same
            // history item again, whose condition fails, and the job's `last_request`
            // shows the first attempt landed.
            let rig = rig("f-err-lost-notoken").await;
            let job = rig.job().await;
            rig.proxy.honour_tokens(false);
            rig.proxy
                .arm(Fault::LoseAnswer, Some("TransactWriteItems"), 1);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &item_error()).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(rig.proxy.attempts("TransactWriteItems"), 2);
            assert_eq!(rig.errors(&job).await, 1, "one history item");
            assert_eq!(rig.number(&job, "failed_items").await, 1);
            assert_eq!(reply.body["failed_items"], 1);
            observe(
                "answer lost, token NOT honoured",
                "progress error, no key",
                &reply,
                "1 error, failed 1".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-err-throttle-2").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::Throttle(THROTTLING), Some("TransactWriteItems"), 2);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &item_error()).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(rig.errors(&job).await, 1);
            observe(
                "throttled ×2",
                "progress error, no key",
                &reply,
                "1 error".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-err-throttle").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::Throttle(THROTTLING), None, ALWAYS);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &item_error()).await;
            assert_retry_later(&reply, 429, &rig);
            rig.proxy.pass();
            assert_eq!(rig.errors(&job).await, 0);
            assert_eq!(rig.number(&job, "failed_items").await, 0);
            observe(
                "throttled always",
                "progress error, no key",
                &reply,
                "0 errors".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-err-stop").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::Stop, None, ALWAYS);
            let t = Instant::now();
            let reply = rig.progress(&job, None, &item_error()).await;
            assert_retry_later(&reply, 503, &rig);
            rig.proxy.pass();
            assert_eq!(rig.errors(&job).await, 0);
            observe(
                "stopped",
                "progress error, no key",
                &reply,
                "0 errors".into(),
                t,
            );
        }),
    ])
    .await;
}

// ---- cancel ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel() {
    all(vec![
        tokio::spawn(async {
            // The cancel's UpdateItem landed, its answer was lost, the SDK retried: the
            // retry's condition (not ended) fails, and the job's `last_request` shows
            // it was this very request: 200, not a false 409.
            let rig = rig("f-cancel-lost").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::LoseAnswer, Some("UpdateItem"), 1);
            let t = Instant::now();
            let reply = rig.cancel(&job, None).await;
            assert_eq!(rig.proxy.attempts("UpdateItem"), 2);
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.body["status"], "cancelled");
            assert_eq!(rig.status(&job).await, "cancelled", "cancelled once");
            observe(
                "answer lost",
                "cancel, no key",
                &reply,
                "cancelled".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-cancel-lost-key").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::LoseAnswer, Some("TransactWriteItems"), 1);
            let t = Instant::now();
            let reply = rig.cancel(&job, Some("c1")).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.body["status"], "cancelled");
            let again = rig.cancel(&job, Some("c1")).await;
            assert_eq!(again.status, 200, "{}", again.body);
            assert_eq!(again.headers["idempotent-replayed"], "true");
            assert_eq!(rig.status(&job).await, "cancelled");
            observe(
                "answer lost (transaction)",
                "cancel, key",
                &reply,
                "cancelled; retry replays".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-cancel-throttle").await;
            let job = rig.job().await;
            rig.proxy.arm(
                Fault::Throttle(PROVISIONED_THROUGHPUT_EXCEEDED),
                None,
                ALWAYS,
            );
            let t = Instant::now();
            let reply = rig.cancel(&job, None).await;
            assert_retry_later(&reply, 429, &rig);
            rig.proxy.pass();
            assert_eq!(rig.status(&job).await, "pending");
            observe(
                "throttled always",
                "cancel, no key",
                &reply,
                "pending".into(),
                t,
            );
        }),
        tokio::spawn(async {
            let rig = rig("f-cancel-stop").await;
            let job = rig.job().await;
            rig.proxy.arm(Fault::Stop, None, ALWAYS);
            let t = Instant::now();
            let reply = rig.cancel(&job, None).await;
            assert_retry_later(&reply, 503, &rig);
            rig.proxy.pass();
            assert_eq!(rig.status(&job).await, "pending");
            observe("stopped", "cancel, no key", &reply, "pending".into(), t);
        }),
        tokio::spawn(async {
            // A failed condition is an answer, not a fault: never retried.
            let rig = rig("f-cancel-ended").await;
            let job = rig.job().await;
            assert_eq!(rig.cancel(&job, None).await.status, 200);
            let before = rig.proxy.attempts("UpdateItem");
            let t = Instant::now();
            let reply = rig.cancel(&job, None).await;
            assert_eq!(reply.status, 409, "{}", reply.body);
            assert_eq!(
                rig.proxy.attempts("UpdateItem") - before,
                1,
                "a ConditionalCheckFailed is not retried"
            );
            observe(
                "none (job ended)",
                "cancel, no key",
                &reply,
                "1 UpdateItem attempt".into(),
                t,
            );
        }),
    ])
    .await;
}

// ---- slow: past the 2 s attempt timeout (each case costs seconds) ---------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_dynamodb() {
    all(vec![
        tokio::spawn(async {
            // One slow answer: the attempt times out at 2 s, the retry answers.
            let rig = rig("f-slow-read").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::Slow(Duration::from_millis(2500)), Some("GetItem"), 1);
            let t = Instant::now();
            let reply = send(&rig.app, rig.tenant.get(&format!("/api/jobs/{job}"))).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(rig.proxy.attempts("GetItem"), 2);
            assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
            observe("slow ×1 (2.5 s)", "get", &reply, "-".into(), t);
        }),
        tokio::spawn(async {
            // An increment's attempt times out: not retried (it may have landed, and it
            // did): 503 after one attempt.
            let rig = rig("f-slow-inc").await;
            let job = rig.job().await;
            rig.proxy.arm(
                Fault::Slow(Duration::from_millis(2500)),
                Some("UpdateItem"),
                1,
            );
            let t = Instant::now();
            let reply = rig.progress(&job, None, &increment()).await;
            assert_retry_later(&reply, 503, &rig);
            assert_eq!(rig.proxy.attempts("UpdateItem"), 1);
            assert_eq!(rig.number(&job, "processed_items").await, 3, "landed once");
            observe(
                "slow ×1 (2.5 s)",
                "progress +3, no key",
                &reply,
                "processed 3 (landed, yet 503)".into(),
                t,
            );
        }),
        tokio::spawn(async {
            // Every answer slow: each attempt times out, then the 6 s operation timeout:
            // 503. The first attempt's claim had reached DynamoDB, so the client's retry
            // with the key is refused (in progress) instead of writing: never twice.
            let rig = rig("f-slow-progress").await;
            let job = rig.job().await;
            rig.proxy
                .arm(Fault::Slow(Duration::from_millis(2500)), None, ALWAYS);
            let t = Instant::now();
            let reply = rig.progress(&job, Some("p1"), &increment()).await;
            assert_retry_later(&reply, 503, &rig);
            let took = t.elapsed();
            assert!(
                took >= Duration::from_secs(4) && took < Duration::from_secs(9),
                "bounded by the operation timeout: {took:?}"
            );
            rig.proxy.pass();
            assert_eq!(rig.number(&job, "processed_items").await, 0);
            let again = rig.progress(&job, Some("p1"), &increment()).await;
            assert_eq!(again.status, 409, "{}", again.body);
            assert_eq!(rig.number(&job, "processed_items").await, 0);
            observe(
                "slow always (2.5 s)",
                "progress +3, key",
                &reply,
                "processed 0; retry 409".into(),
                t,
            );
        }),
    ])
    .await;
}

/// A transaction DynamoDB throttles comes back cancelled, with `ThrottlingError`
/// reasons (no `ThrottlingException`, no SDK retry): `429` with `Retry-After` as any
/// throttle (it was a `500`), counted as a throttle, and nothing written.
#[tokio::test]
async fn a_throttled_transaction_is_429_and_writes_nothing() {
    let rig = rig("f-cancel-throttled").await;
    let job = rig.job().await;
    rig.proxy
        .arm(Fault::CancelThrottled, Some("TransactWriteItems"), ALWAYS);
    let reply = rig.progress(&job, None, &item_error()).await;
    assert_retry_later(&reply, 429, &rig);
    let reply = rig
        .progress(
            &job,
            Some("throttled-key"),
            &json!({"processed_items_increment": 1}),
        )
        .await;
    assert_retry_later(&reply, 429, &rig);
    rig.proxy.pass();
    assert_eq!(rig.errors(&job).await, 0);
    assert_eq!(rig.number(&job, "failed_items").await, 0);
    assert_eq!(rig.number(&job, "processed_items").await, 0);
}
