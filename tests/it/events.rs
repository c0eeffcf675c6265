//! Every sample event in `events/`, through the handler against the local DynamoDB, as
//! API Gateway would deliver it. A file added to `events/` without a case here fails
//! `every_event_file_is_asserted`.

use jobs_api::job::time::Timestamp;
use jobs_api::job::{Job, JobIssue, JobUpdate, NewJob, ValidatedReport};
use serde_json::{Value, json};

use crate::common::*;

/// The job id the lifecycle events name; each event file has its own organization.
const EVENT_JOB_ID: &str = "019ac9f0-0000-7000-8000-00000000e001";

/// Every file this suite asserts.
const CASES: [&str; 25] = [
    "list-jobs.http-api.json",
    "list-jobs.rest-api.json",
    "get-job.http-api.json",
    "get-job.rest-api.json",
    "get-job-status.http-api.json",
    "get-job-status.rest-api.json",
    "report-progress.http-api.json",
    "report-progress.rest-api.json",
    "report-progress-minimal.http-api.json",
    "report-progress-increment.http-api.json",
    "cancel-job.http-api.json",
    "cancel-job.rest-api.json",
    "list-errors.http-api.json",
    "list-errors.rest-api.json",
    "list-warnings.http-api.json",
    "list-warnings.rest-api.json",
    "create-job.http-api.json",
    "create-job.rest-api.json",
    "create-job-base64.http-api.json",
    "create-job-missing-field.http-api.json",
    "create-job-negative-total.rest-api.json",
    "create-job-no-identity.http-api.json",
    "create-job-org-not-allowed.http-api.json",
    "method-not-allowed.http-api.json",
    "unknown-route.http-api.json",
];

#[test]
fn every_event_file_is_asserted() {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        // DynamoDB stream batches for jobs-events: job_events asserts those.
        .filter(|file| !file.starts_with("stream-"))
        .collect();
    files.sort();
    let mut cases: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    cases.sort();
    assert_eq!(files, cases, "each file in events/ needs a test here");
}

/// A created job from an event: 201, the full response, and the item stored under `org`.
async fn assert_created(
    file: &str,
    org: &str,
    job_type: &str,
    total_items: u64,
) -> serde_json::Value {
    let reply = send(&app().await, event(file)).await;
    assert_eq!(reply.status, 201, "{file}: {}", reply.body);
    let job_id = assert_new_job(&reply.body, job_type, total_items);
    assert_eq!(reply.headers["location"], format!("/api/jobs/{job_id}"));
    let item = stored_item(&client().await, org, &job_id).await;
    assert!(item.is_some(), "{file}: the job is stored under {org}");
    reply.body
}

#[tokio::test]
async fn http_api_event_with_jwt_authorizer_claims_creates_a_job() {
    let body = assert_created(
        "create-job.http-api.json",
        "org-events-http",
        "enrichment",
        100,
    )
    .await;
    assert_eq!(body["metadata"], json!({"source": "s3://bucket/leads.csv"}));
    assert_eq!(body["triggered_by"], "user-events");
}

#[tokio::test]
async fn rest_api_event_with_stage_and_lambda_authorizer_creates_a_job() {
    let body = assert_created("create-job.rest-api.json", "org-events-rest-b", "crawl", 25).await;
    assert_eq!(body["triggered_by"], "scheduler");
}

/// serde_json keeps numbers' text (`arbitrary_precision`), which changes how `lambda_http`
/// reads an event through its untagged request types: numbers of every kind, in an
/// authorizer's context and in fields it does not know, must still read.
#[tokio::test]
async fn events_holding_numbers_of_every_kind_are_read() {
    let numbers: Value = serde_json::from_str(
        r#"{"ratio": 1.5, "big": 98765432109876543210, "tiny": 1e-300, "zero": -0, "count": 7}"#,
    )
    .unwrap();
    for file in ["create-job.rest-api.json", "create-job.http-api.json"] {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut event: Value = serde_json::from_str(&text).unwrap();
        let authorizer = &mut event["requestContext"]["authorizer"];
        if authorizer["jwt"].is_object() {
            authorizer["lambda"] = numbers.clone();
        } else if let (Value::Object(fields), Value::Object(extra)) = (authorizer, &numbers) {
            fields.extend(extra.clone());
        }
        event["requestContext"]["extra"] = numbers.clone();
        event["extra"] = numbers.clone();
        let request = lambda_http::request::from_str(&event.to_string())
            .unwrap_or_else(|e| panic!("{file} with numbers: {e}"));
        let reply = send(&app().await, request).await;
        assert_eq!(reply.status, 201, "{file}: {}", reply.body);
    }
}

#[tokio::test]
async fn base64_encoded_body_is_decoded() {
    assert_created(
        "create-job-base64.http-api.json",
        "org-events-base64",
        "import",
        0,
    )
    .await;
}

async fn assert_refused_event(file: &str, org: Option<&str>, status: u16) -> Reply {
    let reply = send(&app().await, event(file)).await;
    assert_eq!(reply.status, status, "{file}: {}", reply.body);
    if let Some(org) = org {
        assert_eq!(
            items_of(&client().await, org).await,
            0,
            "{file} writes nothing"
        );
    }
    reply
}

#[tokio::test]
async fn missing_field_event_is_422() {
    let reply = assert_refused_event(
        "create-job-missing-field.http-api.json",
        Some("org-events-missing-field"),
        422,
    )
    .await;
    assert_eq!(
        reply.body,
        json!({"detail": [{"type": "missing", "loc": ["body", "job_type"], "msg": "Field required", "input": {"total_items": 10}}]})
    );
}

#[tokio::test]
async fn negative_total_event_is_422() {
    let reply = assert_refused_event(
        "create-job-negative-total.rest-api.json",
        Some("org-events-negative-total"),
        422,
    )
    .await;
    assert_eq!(reply.body["detail"][0]["type"], "greater_than_equal");
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "total_items"])
    );
}

#[tokio::test]
async fn event_without_identity_is_401() {
    let reply = assert_refused_event("create-job-no-identity.http-api.json", None, 401).await;
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn event_for_an_organization_not_in_the_claims_is_403() {
    assert_refused_event(
        "create-job-org-not-allowed.http-api.json",
        Some("org-events-not-a-member"),
        403,
    )
    .await;
    assert_eq!(items_of(&client().await, "org-events-member").await, 0);
}

#[tokio::test]
async fn method_not_allowed_event_is_405_with_allow() {
    let reply = assert_refused_event(
        "method-not-allowed.http-api.json",
        Some("org-events-put"),
        405,
    )
    .await;
    assert_eq!(reply.headers["allow"], "GET, POST");
}

#[tokio::test]
async fn unknown_route_event_is_404() {
    let reply = assert_refused_event("unknown-route.http-api.json", None, 404).await;
    assert_eq!(reply.body, json!({"detail": "Not Found"}));
}

/// Puts the events' job into `org` (pending), as a create would have.
async fn seed_job(org: &str) -> Job {
    let new = NewJob {
        job_type: "crawl".into(),
        total_items: 10,
        metadata: Default::default(),
        triggered_by: Some("user-events".into()),
        heartbeat_timeout_seconds: None,
        timeout_seconds: None,
        stall_timeout_seconds: None,
    };
    let job = Job::create(org.into(), EVENT_JOB_ID.into(), new, Timestamp::now());
    app()
        .await
        .store()
        .create_job(&job, None)
        .await
        .expect("seeding the events' job");
    job
}

/// Sends a lifecycle event for the seeded job and returns the reply (status checked).
async fn lifecycle_event(file: &str, org: &str, status: u16) -> Reply {
    seed_job(org).await;
    let reply = send(&app().await, event(file)).await;
    assert_eq!(reply.status, status, "{file}: {}", reply.body);
    reply
}

fn both(name: &str) -> [(String, String); 2] {
    [
        (
            format!("{name}.http-api.json"),
            format!("org-events-{name}-http"),
        ),
        (
            format!("{name}.rest-api.json"),
            format!("org-events-{name}-rest"),
        ),
    ]
}

#[tokio::test]
async fn list_jobs_events_list_the_organizations_jobs() {
    for (file, org) in both("list-jobs") {
        let reply = lifecycle_event(&file, &org, 200).await;
        let ids: Vec<&Value> = reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| &j["job_id"])
            .collect();
        assert_eq!(
            ids,
            [&json!(EVENT_JOB_ID)],
            "{file}: the query's status=pending filter keeps the seeded job"
        );
        assert_eq!(reply.body["next_cursor"], Value::Null);
    }
}

#[tokio::test]
async fn get_job_events_return_the_job() {
    for (file, org) in both("get-job") {
        let reply = lifecycle_event(&file, &org, 200).await;
        assert_eq!(reply.body["job_id"], EVENT_JOB_ID, "{file}");
        assert_eq!(reply.body["status"], "pending");
        for field in JOB_RESPONSE_FIELDS {
            assert!(reply.body.get(field).is_some(), "{file}: {field}");
        }
    }
}

#[tokio::test]
async fn get_job_status_events_return_the_light_view() {
    for (file, org) in both("get-job-status") {
        let reply = lifecycle_event(&file, &org, 200).await;
        assert_eq!(reply.body["status"], "pending", "{file}");
        assert_eq!(reply.body["total_items"], 10);
        assert!(
            reply.body.get("errors").is_none(),
            "{file}: the light view only"
        );
    }
}

#[tokio::test]
async fn report_progress_events_start_the_job_and_record_the_error() {
    for (file, org) in both("report-progress") {
        let reply = lifecycle_event(&file, &org, 200).await;
        assert_eq!(reply.body["status"], "in_progress", "{file}");
        assert_eq!(reply.body["processed_items"], 3);
        assert_eq!(
            reply.body["failed_items"], 1,
            "{file}: the row error counts an item"
        );
        assert_eq!(reply.body["metadata"]["stage"], "fetch");
        assert_eq!(reply.body["errors"][0]["entity_key"], "row-7");
    }
}

#[tokio::test]
async fn report_progress_increment_event_answers_the_full_job() {
    let file = "report-progress-increment.http-api.json";
    let reply = lifecycle_event(file, "org-events-report-progress-increment-http", 200).await;
    assert!(reply.headers.get("preference-applied").is_none());
    assert_eq!(reply.body["processed_items"], 100);
    for field in JOB_RESPONSE_FIELDS {
        assert!(reply.body.get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn report_progress_minimal_event_answers_the_status_body() {
    let file = "report-progress-minimal.http-api.json";
    let reply = lifecycle_event(file, "org-events-report-progress-minimal-http", 200).await;
    assert_eq!(reply.headers["preference-applied"], "return=minimal");
    assert_eq!(reply.body["status"], "in_progress");
    assert_eq!(reply.body["processed_items"], 100);
    assert!(reply.body.get("errors").is_none(), "the light view only");
}

#[tokio::test]
async fn cancel_job_events_cancel_the_job() {
    for (file, org) in both("cancel-job") {
        let reply = lifecycle_event(&file, &org, 200).await;
        assert_eq!(reply.body["status"], "cancelled", "{file}");
        let again = send(&app().await, event(&file)).await;
        assert_eq!(
            again.status, 409,
            "{file}: an ended job cannot be cancelled again"
        );
    }
}

async fn seed_issues(org: &str) {
    let job = seed_job(org).await;
    let issue = |entity_key: &str| JobIssue {
        entity_key: entity_key.into(),
        entity_type: "row".into(),
        error_type: "parse".into(),
        message: "bad row".into(),
        timestamp: Timestamp::now(),
        details: None,
        step: None,
    };
    let report = ValidatedReport {
        error: Some(issue("row-1")),
        warning: Some(issue("row-2")),
        ..Default::default()
    };
    let update = JobUpdate::from_report(report, Timestamp::now(), None);
    app()
        .await
        .store()
        .update_job(org, &job.job_id, &update, None)
        .await
        .expect("seeding history");
}

#[tokio::test]
async fn list_errors_and_warnings_events_page_the_history() {
    for (name, key) in [("list-errors", "row-1"), ("list-warnings", "row-2")] {
        for (file, org) in both(name) {
            seed_issues(&org).await;
            let reply = send(&app().await, event(&file)).await;
            assert_eq!(reply.status, 200, "{file}: {}", reply.body);
            assert_eq!(reply.body["items"].as_array().unwrap().len(), 1, "{file}");
            assert_eq!(reply.body["items"][0]["entity_key"], key, "{file}");
            assert_eq!(reply.body["next_cursor"], Value::Null);
        }
    }
}
