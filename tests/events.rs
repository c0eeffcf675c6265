//! Every sample event in `events/`, through the handler against the local DynamoDB, as
//! API Gateway would deliver it. A file added to `events/` without a case here fails
//! `every_event_file_is_asserted`.

mod common;

use common::*;
use serde_json::json;

/// Every file this suite asserts.
const CASES: [&str; 9] = [
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
    assert_eq!(reply.headers["allow"], "POST");
}

#[tokio::test]
async fn unknown_route_event_is_404() {
    let reply = assert_refused_event("unknown-route.http-api.json", None, 404).await;
    assert_eq!(reply.body, json!({"detail": "Not Found"}));
}
