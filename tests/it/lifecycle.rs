//! The life of a job through the handler, against the real local DynamoDB: read, poll,
//! report progress, end, cancel; concurrency without loss; tenancy on every route.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::*;

fn crawl(total: u64) -> Value {
    json!({"job_type": "crawl", "total_items": total, "metadata": {"seed": "https://example.com"}})
}

fn id(job: &Value) -> String {
    job["job_id"].as_str().expect("job_id").to_owned()
}

#[tokio::test]
async fn get_returns_the_full_job_and_status_the_light_view() {
    let app = app().await;
    let caller = Tenant::new("get");
    let created = caller.create(&app, crawl(4)).await;
    let job_id = id(&created);

    let full = send(&app, caller.get(&format!("/api/jobs/{job_id}"))).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body, created, "a fresh job reads back as created");

    let status = send(&app, caller.get(&format!("/api/jobs/{job_id}/status/"))).await;
    assert_eq!(status.status, 200);
    let keys: Vec<&str> = status
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "job_id",
        "status",
        "progress_percentage",
        "processed_items",
        "failed_items",
        "warned_items",
        "total_items",
        "updated_at",
        "heartbeat_timeout_seconds",
        "timeout_seconds",
        "stall_timeout_seconds",
        "last_heartbeat_at",
        "last_progress_at",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(status.body["status"], "pending");
    assert_eq!(status.body["updated_at"], created["created_at"]);
}

#[tokio::test]
async fn a_worker_takes_a_job_from_start_to_partial_success() {
    let app = app().await;
    let caller = Tenant::new("worker");
    let job_id = id(&caller.create(&app, crawl(10)).await);

    let started = caller
        .progress(
            &app,
            &job_id,
            json!({"mark_started": true, "stage": "fetch"}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["status"], "in_progress");
    assert!(started.body["started_at"].is_string());
    assert_eq!(
        started.body["metadata"],
        json!({"seed": "https://example.com", "stage": "fetch"})
    );

    let counted = caller
        .progress(
            &app,
            &job_id,
            json!({"processed_items_increment": 6, "message": "6 done"}),
        )
        .await;
    assert_eq!(counted.body["processed_items"], 6);
    assert_eq!(counted.body["progress_percentage"], 60.0);
    assert_eq!(counted.body["metadata"]["last_message"], "6 done");

    let error = json!({"entity_key": "https://example.com/x", "entity_type": "url", "error_type": "http_404", "message": "not found", "details": {"status": 404}, "step": "fetch"});
    let failed = caller
        .progress(&app, &job_id, json!({"error": error}))
        .await;
    assert_eq!(
        failed.body["failed_items"], 1,
        "an item error counts the item"
    );
    assert_eq!(failed.body["errors"].as_array().unwrap().len(), 1);
    assert_eq!(
        failed.body["errors"][0]["entity_key"],
        "https://example.com/x"
    );
    assert_eq!(failed.body["errors"][0]["details"], json!({"status": 404}));
    assert!(failed.body["errors"][0]["timestamp"].is_string());

    let warning = json!({"entity_key": "job", "error_type": "slow", "message": "rate limited"});
    let warned = caller
        .progress(
            &app,
            &job_id,
            json!({"warning": warning, "processed_items_increment": 3}),
        )
        .await;
    assert_eq!(
        warned.body["warned_items"], 0,
        "a job-level warning counts no item"
    );
    assert_eq!(warned.body["warnings"][0]["entity_type"], "job");
    assert_eq!(warned.body["success_rate"], 90.0);

    let done = caller
        .progress(&app, &job_id, json!({"mark_completed": true}))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "partial_success");
    assert_eq!(done.body["progress_percentage"], 100.0);
    assert!(done.body["completed_at"].is_string());
    assert!(done.body["duration_seconds"].as_f64().unwrap() >= 0.0);

    // Ended: no more progress, no cancel.
    let late = caller
        .progress(&app, &job_id, json!({"processed_items_increment": 1}))
        .await;
    assert_eq!(late.status, 409, "{}", late.body);
    let cancel = send(
        &app,
        caller.post(&format!("/api/jobs/{job_id}/cancel"), &json!({})),
    )
    .await;
    assert_eq!(cancel.status, 409);
    let after = send(&app, caller.get(&format!("/api/jobs/{job_id}"))).await;
    assert_eq!(
        after.body["processed_items"], 9,
        "the refused report changed nothing"
    );
}

#[tokio::test]
async fn completion_status_follows_warnings_and_failures() {
    let app = app().await;
    let caller = Tenant::new("complete");
    let cases = [
        (json!({"processed_items": 2}), "completed"),
        (
            json!({"warning": {"entity_key": "r1", "entity_type": "row", "error_type": "gap", "message": "m"}}),
            "completed_with_warnings",
        ),
        (json!({"failed_items": 1}), "partial_success"),
    ];
    for (report, status) in cases {
        let job_id = id(&caller.create(&app, crawl(2)).await);
        assert_eq!(caller.progress(&app, &job_id, report).await.status, 200);
        let done = caller
            .progress(&app, &job_id, json!({"mark_completed": true}))
            .await;
        assert_eq!(done.body["status"], status);
    }
    let job_id = id(&caller.create(&app, crawl(2)).await);
    let failed = caller
        .progress(&app, &job_id, json!({"mark_failed": "upstream gone"}))
        .await;
    assert_eq!(
        (
            failed.body["status"].clone(),
            failed.body["error_message"].clone()
        ),
        (json!("failed"), json!("upstream gone"))
    );
}

#[tokio::test]
async fn a_running_jobs_duration_grows() {
    let app = app().await;
    let caller = Tenant::new("duration");
    let job_id = id(&caller.create(&app, crawl(1)).await);
    caller
        .progress(&app, &job_id, json!({"mark_started": true}))
        .await;
    let first = send(&app, caller.get(&format!("/api/jobs/{job_id}")))
        .await
        .body["duration_seconds"]
        .as_f64()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = send(&app, caller.get(&format!("/api/jobs/{job_id}")))
        .await
        .body["duration_seconds"]
        .as_f64()
        .unwrap();
    assert!(second >= first + 0.25, "{first} then {second}");
}

#[tokio::test]
async fn cancel_ends_pending_and_running_jobs_only() {
    let app = app().await;
    let caller = Tenant::new("cancel");
    let pending = id(&caller.create(&app, crawl(1)).await);
    let running = id(&caller.create(&app, crawl(1)).await);
    caller
        .progress(&app, &running, json!({"mark_started": true}))
        .await;
    for job_id in [&pending, &running] {
        let reply = send(
            &app,
            caller.post(&format!("/api/jobs/{job_id}/cancel"), &json!({})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], "cancelled");
        assert!(reply.body["completed_at"].is_string());
        let again = send(
            &app,
            caller.post(&format!("/api/jobs/{job_id}/cancel"), &json!({})),
        )
        .await;
        assert_eq!(again.status, 409);
    }
}

#[tokio::test]
async fn invalid_progress_is_422_and_changes_nothing() {
    let app = app().await;
    let caller = Tenant::new("badprogress");
    let created = caller.create(&app, crawl(3)).await;
    let job_id = id(&created);
    for body in [
        json!({"processed_items_increment": -1}),
        json!({"processed_items": "5", "mark_started": true}),
        json!({"mark_completed": true, "mark_failed": "x"}),
        json!({"error": {"entity_key": "k"}}),
        json!({"metadata_patch": "not an object", "mark_started": true}),
    ] {
        let reply = caller.progress(&app, &job_id, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
    }
    let after = send(&app, caller.get(&format!("/api/jobs/{job_id}"))).await;
    assert_eq!(after.body, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_increments_are_all_counted() {
    let app = Arc::new(app().await);
    let caller = Arc::new(Tenant::new("concurrent"));
    let job_id = id(&caller.create(&app, crawl(100)).await);
    caller
        .progress(&app, &job_id, json!({"processed_items": 7}))
        .await;
    let mut workers = Vec::new();
    for _ in 0..50 {
        let (app, caller, job_id) = (app.clone(), caller.clone(), job_id.clone());
        workers.push(tokio::spawn(async move {
            caller
                .progress(&app, &job_id, json!({"processed_items_increment": 1}))
                .await
                .status
        }));
    }
    for worker in workers {
        assert_eq!(worker.await.unwrap(), 200);
    }
    let job = send(&app, caller.get(&format!("/api/jobs/{job_id}/status")))
        .await
        .body;
    assert_eq!(job["processed_items"], 57, "exactly 50 more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_transitions_cannot_both_win() {
    let app = Arc::new(app().await);
    let caller = Arc::new(Tenant::new("race"));
    for _ in 0..5 {
        let job_id = id(&caller.create(&app, crawl(1)).await);
        let endings = [
            json!({"mark_completed": true}),
            json!({"mark_failed": "stop"}),
            json!({"mark_completed": true, "failed_items_increment": 1}),
        ];
        let mut racers = Vec::new();
        for ending in endings {
            let (app, caller, job_id) = (app.clone(), caller.clone(), job_id.clone());
            racers.push(tokio::spawn(async move {
                caller.progress(&app, &job_id, ending).await
            }));
        }
        let cancel = {
            let (app, caller, job_id) = (app.clone(), caller.clone(), job_id.clone());
            tokio::spawn(async move {
                send(
                    &app,
                    caller.post(&format!("/api/jobs/{job_id}/cancel"), &json!({})),
                )
                .await
            })
        };
        racers.push(cancel);
        let mut winners = Vec::new();
        for racer in racers {
            let reply = racer.await.unwrap();
            match reply.status.as_u16() {
                200 => winners.push(reply.body["status"].as_str().unwrap().to_owned()),
                409 => {}
                other => panic!("unexpected {other}: {}", reply.body),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one transition wins: {winners:?}");
        let stored = send(&app, caller.get(&format!("/api/jobs/{job_id}")))
            .await
            .body;
        assert_eq!(stored["status"], winners[0].as_str());
    }
}

#[tokio::test]
async fn another_organizations_job_is_404_on_every_route_like_a_missing_one() {
    let app = app().await;
    let (owner, stranger) = (Tenant::new("owner"), Tenant::new("stranger"));
    let job_id = id(&owner.create(&app, crawl(2)).await);
    let missing = "019ac9f0-0000-7000-8000-000000000001".to_owned();
    let odd = [
        "..%2F..%2Fetc",
        "019AC9F0-0000-7000-8000-000000000001",
        "not-a-uuid",
    ];
    for target in [&job_id, &missing] {
        let requests = [
            stranger.get(&format!("/api/jobs/{target}")),
            stranger.get(&format!("/api/jobs/{target}/status")),
            stranger.get(&format!("/api/jobs/{target}/errors")),
            stranger.get(&format!("/api/jobs/{target}/warnings")),
            stranger.post(
                &format!("/api/jobs/{target}/progress"),
                &json!({"processed_items_increment": 1}),
            ),
            stranger.post(&format!("/api/jobs/{target}/cancel"), &json!({})),
        ];
        for request in requests {
            let path = request.uri().path().to_owned();
            let reply = send(&app, request).await;
            assert_eq!(
                (reply.status.as_u16(), reply.body.clone()),
                (404, json!({"detail": "Job not found"})),
                "{path}"
            );
        }
    }
    for target in odd {
        let reply = send(&app, owner.get(&format!("/api/jobs/{target}"))).await;
        assert_eq!(reply.status, 404, "{target}");
    }
    let untouched = send(&app, owner.get(&format!("/api/jobs/{job_id}")))
        .await
        .body;
    assert_eq!(
        (
            untouched["status"].clone(),
            untouched["processed_items"].clone()
        ),
        (json!("pending"), json!(0))
    );
}
