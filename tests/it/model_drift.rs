//! The server's answers against `jobs-model` as a client reads them: real responses of
//! every route (the handler against the local DynamoDB) are read into the model, owned,
//! with `deny_unknown_fields`, and written back. The server writes with the same types
//! (borrowed), but a list's frame, a history item's JSON and the error bodies are written
//! without them: a field the server adds and the model lacks fails the read; a field the
//! model has and the server does not send, or one whose value changes on the way, fails
//! the comparison. (The model's optional fields that are `null` may be absent on the
//! server: they are compared without nulls.)

use jobs_model::{
    ErrorDetail, JobIssue, JobResponse, JobStatus, JobStatusResponse, Page, ValidationErrors,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::common::*;

/// Nulls dropped and numbers compared as numbers (`100` and `100.0` are one value).
fn normal(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normal(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        Value::Number(n) => json!(n.as_f64().expect("a finite number")),
        other => other.clone(),
    }
}

/// Reads `body` into `T` and checks that writing it back gives the same JSON.
fn check<T: DeserializeOwned + Serialize>(what: &str, body: &Value) -> T {
    let typed: T = serde_json::from_value(body.clone()).unwrap_or_else(|e| {
        panic!("{what}: jobs-model cannot read the server's body ({e}): {body}")
    });
    let back = serde_json::to_value(&typed).expect("the model serializes");
    assert_eq!(
        normal(&back),
        normal(body),
        "{what}: the model and the server disagree"
    );
    typed
}

fn issue(key: &str) -> Value {
    json!({"entity_key": key, "entity_type": "row", "error_type": "parse",
           "message": "bad date", "details": {"column": 3, "ratio": 1.5}, "step": "load"})
}

#[tokio::test]
async fn every_route_answers_what_the_model_reads() {
    let app = app().await;
    let tenant = Tenant::new("drift");

    let created = tenant
        .create(
            &app,
            json!({"job_type": "import", "total_items": 10,
                   "metadata": {"source": "s3://b/k", "n": 1e2, "nested": {"a": [1, "x"]}}}),
        )
        .await;
    let job: JobResponse = check("create (201)", &created);
    assert_eq!(job.status, JobStatus::Pending);
    let id = job.job_id.clone();

    let started = tenant
        .progress(
            &app,
            &id,
            json!({"mark_started": true, "processed_items": 3, "stage": "load",
                   "message": "3 rows", "error": issue("row-1"), "warning": issue("row-2")}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let full: JobResponse = check("progress (full)", &started.body);
    assert_eq!((full.errors.len(), full.warnings.len()), (1, 1));
    assert_eq!(full.stage(), Some("load"));

    let minimal = send(
        &app,
        request(
            "POST",
            &format!("/api/jobs/{id}/progress"),
            &[
                ("content-type", "application/json"),
                ("authorization", &tenant.auth),
                ("prefer", "return=minimal"),
            ],
            r#"{"processed_items_increment": 2}"#,
        ),
    )
    .await;
    assert_eq!(minimal.status, 200, "{}", minimal.body);
    let status: JobStatusResponse = check("progress (minimal)", &minimal.body);
    assert_eq!(status.processed_items, 5);

    let got = send(&app, tenant.get(&format!("/api/jobs/{id}"))).await;
    let got: JobResponse = check("get", &got.body);
    assert!(got.started_at.is_some() && got.duration_seconds.is_some());
    let polled = send(&app, tenant.get(&format!("/api/jobs/{id}/status"))).await;
    check::<JobStatusResponse>("status", &polled.body);

    for history in ["errors", "warnings"] {
        let page = send(&app, tenant.get(&format!("/api/jobs/{id}/{history}"))).await;
        let page: Page<JobIssue> = check(history, &page.body);
        assert_eq!(page.items.len(), 1);
        assert!(page.items[0].details.is_some() && page.items[0].step.is_some());
    }

    let completed = tenant
        .progress(&app, &id, json!({"mark_completed": true}))
        .await;
    let completed: JobResponse = check("progress (completed)", &completed.body);
    assert_eq!(completed.status, JobStatus::PartialSuccess);
    assert!(completed.completed_at.is_some());

    // Cancels, in both forms, and the failed and refused answers.
    let second = tenant
        .create_id(
            &app,
            json!({"job_type": "crawl", "total_items": 0, "triggered_by": null}),
        )
        .await;
    let cancelled = send(
        &app,
        tenant.post(&format!("/api/jobs/{second}/cancel"), &json!({})),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    check::<JobResponse>("cancel (full)", &cancelled.body);
    let third = tenant
        .create_id(&app, json!({"job_type": "crawl", "total_items": 4}))
        .await;
    let cancelled = send(
        &app,
        request(
            "POST",
            &format!("/api/jobs/{third}/cancel"),
            &[
                ("authorization", &tenant.auth),
                ("prefer", "return=minimal"),
            ],
            "",
        ),
    )
    .await;
    let cancelled: JobStatusResponse = check("cancel (minimal)", &cancelled.body);
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let failed = tenant
        .create_id(&app, json!({"job_type": "export", "total_items": 1}))
        .await;
    let failed = tenant
        .progress(&app, &failed, json!({"mark_failed": "disk full"}))
        .await;
    let failed: JobResponse = check("progress (failed)", &failed.body);
    assert_eq!(failed.error_message.as_deref(), Some("disk full"));

    // Lists: a full page and one that goes on.
    let list = send(&app, tenant.get("/api/jobs/")).await;
    let list: Page<JobResponse> = check("list", &list.body);
    assert_eq!(list.items.len(), 4);
    let first = send(&app, tenant.get("/api/jobs/?limit=1&job_type=crawl")).await;
    let first: Page<JobResponse> = check("list (paged)", &first.body);
    assert!(first.next_cursor.is_some());

    // Errors: 422 (with ctx), 409, 404, 401.
    let invalid = send(
        &app,
        tenant.post(
            "/api/jobs/",
            &json!({"job_type": "import", "total_items": -1}),
        ),
    )
    .await;
    assert_eq!(invalid.status, 422);
    let invalid: ValidationErrors = check("422", &invalid.body);
    assert_eq!(invalid.detail[0].field(), "total_items");
    assert!(invalid.detail[0].ctx.is_some());
    let ended = send(
        &app,
        tenant.post(&format!("/api/jobs/{id}/cancel"), &json!({})),
    )
    .await;
    assert_eq!(ended.status, 409);
    check::<ErrorDetail>("409", &ended.body);
    let missing = send(
        &app,
        tenant.get("/api/jobs/0190d1c0-0000-7000-8000-000000000000"),
    )
    .await;
    assert_eq!(missing.status, 404);
    check::<ErrorDetail>("404", &missing.body);
    let anonymous = send(&app, request("GET", "/api/jobs/", &[], "")).await;
    assert_eq!(anonymous.status, 401);
    check::<ErrorDetail>("401", &anonymous.body);
}

#[test]
fn the_check_catches_a_field_on_either_side() {
    let body = json!({"job_id": "j", "status": "pending", "progress_percentage": 0,
        "processed_items": 0, "failed_items": 0, "warned_items": 0, "total_items": 1,
        "updated_at": "2026-11-28T12:00:00.000Z"});
    check::<JobStatusResponse>("as sent", &body);
    let mut extra = body.clone();
    extra["new_field"] = json!(1);
    let caught = std::panic::catch_unwind(|| check::<JobStatusResponse>("extra", &extra));
    assert!(caught.is_err(), "a server field the model lacks must fail");
    let mut changed = body;
    changed["last_heartbeat_at"] = json!("2026-11-28T12:00:01.000Z");
    // A field the model knows, sent by the server: read and written back alike.
    check::<JobStatusResponse>("pending field", &changed);
}
