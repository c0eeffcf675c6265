//! `Idempotency-Key` on create, progress and cancel, against the real local DynamoDB:
//! a replay writes nothing and answers as the original did; a different request under
//! the same key is refused; concurrent duplicates make one job; keys are per
//! organization.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::*;

fn with_key(
    tenant: &Tenant,
    method: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> lambda_http::Request {
    request(
        method,
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &tenant.auth),
            ("idempotency-key", key),
        ],
        &body.to_string(),
    )
}

fn crawl() -> Value {
    json!({"job_type": "crawl", "total_items": 5})
}

#[tokio::test]
async fn a_replayed_create_returns_the_original_response_and_writes_nothing() {
    let app = app().await;
    let tenant = Tenant::new("idem-create");
    let first = send(
        &app,
        with_key(&tenant, "POST", "/api/jobs/", "create-1", &crawl()),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());

    // Same request (formatting differs): the original answer, marked replayed.
    let spaced: Value =
        serde_json::from_str(r#"{ "total_items": 5, "job_type": "crawl" }"#).unwrap();
    let again = send(
        &app,
        with_key(&tenant, "POST", "/api/jobs", "create-1", &spaced),
    )
    .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["location"], first.headers["location"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        items_of(&client().await, &tenant.org).await,
        2,
        "one job and its key record"
    );

    // A different request under the same key.
    let other = send(
        &app,
        with_key(
            &tenant,
            "POST",
            "/api/jobs/",
            "create-1",
            &json!({"job_type": "crawl", "total_items": 6}),
        ),
    )
    .await;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(
        other.body["detail"][0]["loc"],
        json!(["header", "idempotency-key"])
    );

    // Another key: another job.
    let second = send(
        &app,
        with_key(&tenant, "POST", "/api/jobs/", "create-2", &crawl()),
    )
    .await;
    assert_ne!(second.body["job_id"], first.body["job_id"]);
    let list = send(&app, tenant.get("/api/jobs/")).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_identical_creates_make_one_job() {
    let app = Arc::new(app().await);
    let tenant = Arc::new(Tenant::new("idem-race"));
    let mut racers = Vec::new();
    for _ in 0..20 {
        let (app, tenant) = (app.clone(), tenant.clone());
        racers.push(tokio::spawn(async move {
            send(
                &app,
                with_key(&tenant, "POST", "/api/jobs/", "same-key", &crawl()),
            )
            .await
        }));
    }
    let mut job_ids = Vec::new();
    for racer in racers {
        let reply = racer.await.unwrap();
        match reply.status.as_u16() {
            201 => job_ids.push(reply.body["job_id"].as_str().unwrap().to_owned()),
            409 => assert!(
                reply.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("in progress")
            ),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    job_ids.dedup();
    assert_eq!(job_ids.len(), 1, "every 201 names the same job");
    let list = send(&app, tenant.get("/api/jobs/")).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "exactly one job"
    );
    // Once settled, a retry replays it.
    let retry = send(
        &app,
        with_key(&tenant, "POST", "/api/jobs/", "same-key", &crawl()),
    )
    .await;
    assert_eq!(
        (
            retry.status.as_u16(),
            retry.body["job_id"].as_str().unwrap()
        ),
        (201, job_ids[0].as_str())
    );
}

#[tokio::test]
async fn the_same_key_in_two_organizations_makes_two_jobs() {
    let app = app().await;
    let (a, b) = (Tenant::new("idem-a"), Tenant::new("idem-b"));
    let from_a = send(&app, with_key(&a, "POST", "/api/jobs/", "shared", &crawl())).await;
    let from_b = send(&app, with_key(&b, "POST", "/api/jobs/", "shared", &crawl())).await;
    assert_eq!((from_a.status.as_u16(), from_b.status.as_u16()), (201, 201));
    assert!(from_b.headers.get("idempotent-replayed").is_none());
    assert_ne!(from_a.body["job_id"], from_b.body["job_id"]);
}

#[tokio::test]
async fn a_replayed_progress_report_is_counted_once() {
    let app = app().await;
    let tenant = Tenant::new("idem-progress");
    let job_id = tenant.create_id(&app, crawl()).await;
    let path = format!("/api/jobs/{job_id}/progress");
    let report = json!({"processed_items_increment": 2, "error": {"entity_key": "r1", "entity_type": "row", "error_type": "e", "message": "m"}});
    let first = send(&app, with_key(&tenant, "POST", &path, "report-1", &report)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    for _ in 0..3 {
        let again = send(&app, with_key(&tenant, "POST", &path, "report-1", &report)).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body, "the original response");
        assert_eq!(again.headers["idempotent-replayed"], "true");
    }
    let job = send(&app, tenant.get(&format!("/api/jobs/{job_id}")))
        .await
        .body;
    assert_eq!(
        (job["processed_items"].clone(), job["failed_items"].clone()),
        (json!(2), json!(1))
    );
    let errors = send(&app, tenant.get(&format!("/api/jobs/{job_id}/errors")))
        .await
        .body;
    assert_eq!(
        errors["items"].as_array().unwrap().len(),
        1,
        "the error is recorded once"
    );

    // The same key on another job's report is a different request.
    let other = tenant.create_id(&app, crawl()).await;
    let refused = send(
        &app,
        with_key(
            &tenant,
            "POST",
            &format!("/api/jobs/{other}/progress"),
            "report-1",
            &report,
        ),
    )
    .await;
    assert_eq!(refused.status, 422);
}

#[tokio::test]
async fn a_refused_request_does_not_use_up_its_key() {
    let app = app().await;
    let tenant = Tenant::new("idem-refused");
    let job_id = tenant.create_id(&app, crawl()).await;
    let cancel = format!("/api/jobs/{job_id}/cancel");
    assert_eq!(
        send(
            &app,
            with_key(&tenant, "POST", &cancel, "cancel-1", &json!({}))
        )
        .await
        .status,
        200
    );
    let replay = send(
        &app,
        with_key(&tenant, "POST", &cancel, "cancel-1", &json!({})),
    )
    .await;
    assert_eq!(
        (
            replay.status.as_u16(),
            replay.headers["idempotent-replayed"].to_str().unwrap()
        ),
        (200, "true")
    );
    assert_eq!(replay.body["status"], "cancelled");

    // A report on the ended job is refused (409) and keeps nothing under its key, so
    // the key is free for the next request.
    let path = format!("/api/jobs/{job_id}/progress");
    let refused = send(
        &app,
        with_key(
            &tenant,
            "POST",
            &path,
            "late",
            &json!({"processed_items": 1}),
        ),
    )
    .await;
    assert_eq!(refused.status, 409);
    let fresh = tenant.create_id(&app, crawl()).await;
    let reused = send(
        &app,
        with_key(
            &tenant,
            "POST",
            &format!("/api/jobs/{fresh}/progress"),
            "late",
            &json!({"processed_items": 1}),
        ),
    )
    .await;
    assert_eq!(reused.status, 200, "{}", reused.body);
}

#[tokio::test]
async fn malformed_keys_are_422_and_write_nothing() {
    let app = app().await;
    let tenant = Tenant::new("idem-bad");
    for key in ["k".repeat(256), String::new()] {
        let reply = send(
            &app,
            with_key(&tenant, "POST", "/api/jobs/", &key, &crawl()),
        )
        .await;
        assert_eq!(reply.status, 422, "{key:?}");
    }
    assert_eq!(items_of(&client().await, &tenant.org).await, 0);
}

#[tokio::test]
async fn a_replay_answers_in_the_form_the_original_asked_for() {
    let app = app().await;
    let tenant = Tenant::new("idem-prefer");
    let job_id = tenant.create_id(&app, crawl()).await;
    let path = format!("/api/jobs/{job_id}/progress");
    let report = json!({"processed_items_increment": 1});
    let keyed = |key: &str, prefer: Option<&str>| {
        let mut request = with_key(&tenant, "POST", &path, key, &report);
        if let Some(prefer) = prefer {
            request
                .headers_mut()
                .insert("prefer", prefer.parse().unwrap());
        }
        request
    };
    let applied = |reply: &Reply| {
        reply
            .headers
            .get("preference-applied")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // Asked minimal: every replay is that minimal answer, whatever the retry prefers.
    let first = send(&app, keyed("minimal", Some("return=minimal"))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.get("errors").is_none());
    for prefer in [None, Some("return=representation"), Some("return=minimal")] {
        let again = send(&app, keyed("minimal", prefer)).await;
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.body, first.body, "{prefer:?}");
        assert_eq!(applied(&again).as_deref(), Some("return=minimal"));
    }

    // Asked nothing: every replay is the full answer, with no Preference-Applied.
    let full = send(&app, keyed("full", None)).await;
    assert!(full.body.get("errors").is_some());
    let again = send(&app, keyed("full", Some("return=minimal"))).await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, full.body);
    assert_eq!(applied(&again), None);

    let job = send(&app, tenant.get(&format!("/api/jobs/{job_id}"))).await;
    assert_eq!(job.body["processed_items"], 2, "each key counted once");
}
