//! Unbounded error history: thousands of errors keep being accepted, the job shows the
//! most recent ones, and `/errors` pages through every one, oldest first.

use std::sync::Arc;

use serde_json::json;

use crate::common::*;

const ERRORS: usize = 2000;
const RECENT_CAP: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_errors_are_kept_and_paged_oldest_first() {
    let app = Arc::new(app().await);
    let caller = Arc::new(Tenant::new("history"));
    let job = caller
        .create(&app, json!({"job_type": "import", "total_items": ERRORS}))
        .await;
    let job_id = job["job_id"].as_str().unwrap().to_owned();

    // Sequential within each of 8 workers, so each worker's errors are in order.
    let workers = 8;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (app, caller, job_id) = (app.clone(), caller.clone(), job_id.clone());
        tasks.push(tokio::spawn(async move {
            for n in (worker..ERRORS).step_by(workers) {
                let error = json!({
                    "entity_key": format!("row-{n:05}"), "entity_type": "row", "error_type": "parse",
                    "message": format!("row {n} is malformed: {}", "x".repeat(200)), "details": {"n": n}
                });
                let reply = caller.progress(&app, &job_id, json!({"error": error})).await;
                assert_eq!(reply.status, 200, "error {n}: {}", reply.body);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let full = send(&app, caller.get(&format!("/api/jobs/{job_id}")))
        .await
        .body;
    assert_eq!(full["failed_items"], ERRORS);
    let recent = full["errors"].as_array().unwrap();
    assert_eq!(
        recent.len(),
        RECENT_CAP,
        "the job shows the most recent {RECENT_CAP}"
    );
    let stamps: Vec<&str> = recent
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "recent errors are oldest first"
    );

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/jobs/{job_id}/errors?limit=100&cursor={c}"),
            None => format!("/api/jobs/{job_id}/errors?limit=100"),
        };
        let page = send(&app, caller.get(&path)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["details"]["n"].as_u64().unwrap()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, ERRORS / 100);
    assert_eq!(seen.len(), ERRORS, "every error, once");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ERRORS, "no duplicates");
    // Each worker's errors appear in the order it sent them.
    for worker in 0..8 {
        let mine: Vec<u64> = seen
            .iter()
            .copied()
            .filter(|n| *n as usize % 8 == worker)
            .collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "worker {worker} out of order"
        );
    }
    // The most recent errors on the job are the last ones of the history.
    let tail: Vec<u64> = seen[ERRORS - RECENT_CAP..].to_vec();
    let shown: Vec<u64> = recent
        .iter()
        .map(|e| e["details"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(shown, tail);

    // The job still accepts progress after all that.
    let more = caller.progress(&app, &job_id, json!({"warning": {"entity_key": "job", "error_type": "w", "message": "m"}, "mark_completed": true})).await;
    assert_eq!(more.status, 200, "{}", more.body);
    assert_eq!(more.body["status"], "partial_success");
    let warnings = send(&app, caller.get(&format!("/api/jobs/{job_id}/warnings")))
        .await
        .body;
    assert_eq!(warnings["items"].as_array().unwrap().len(), 1);
    assert_eq!(warnings["next_cursor"], json!(null));
}

#[tokio::test]
async fn history_cursors_are_checked() {
    let app = app().await;
    let caller = Tenant::new("cursor");
    let job_id = caller
        .create(&app, json!({"job_type": "import", "total_items": 1}))
        .await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for query in ["cursor=garbage", "limit=0", "limit=1000", "limit=x"] {
        let reply = send(
            &app,
            caller.get(&format!("/api/jobs/{job_id}/errors?{query}")),
        )
        .await;
        assert_eq!(reply.status, 422, "{query}: {}", reply.body);
        assert_eq!(reply.body["detail"][0]["loc"][0], "query");
    }
}

/// A history item this version cannot read (its message not a string: a hand edit, a
/// later version's rollback) fails neither the job's `GET` nor its `/errors` pages: it is
/// skipped and counted (`UnreadableItems`), the rest shown in order.
#[tokio::test]
async fn an_unreadable_history_item_is_skipped_and_the_rest_shown() {
    let app = app().await;
    let client = client().await;
    let caller = Tenant::new("history-bad");
    let job_id = caller
        .create_id(&app, json!({"job_type": "import", "total_items": 3}))
        .await;
    for n in 0..3 {
        let error =
            json!({"entity_key": format!("row-{n}"), "error_type": "parse", "message": "bad"});
        let reply = caller
            .progress(&app, &job_id, json!({"error": error}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let mut items = history_items(&client, &caller.org, &job_id).await;
    items.sort_by_key(|item| format!("{:?}", item["sk"]));
    client
        .update_item()
        .table_name(env("JOBS_TABLE_NAME"))
        .key("pk", items[1]["pk"].clone())
        .key("sk", items[1]["sk"].clone())
        .update_expression("SET message = :n")
        .expression_attribute_values(":n", n(7))
        .send()
        .await
        .expect("spoiling a history item");
    let keys = |errors: &serde_json::Value| -> Vec<String> {
        errors
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["entity_key"].as_str().unwrap().to_owned())
            .collect()
    };
    let job = send(&app, caller.get(&format!("/api/jobs/{job_id}"))).await;
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(keys(&job.body["errors"]), ["row-0", "row-2"]);
    for limit in [1, 100] {
        let mut shown = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/api/jobs/{job_id}/errors?limit={limit}{cursor}");
            let page = send(&app, caller.get(&path)).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            shown.extend(keys(&page.body["items"]));
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(shown, ["row-0", "row-2"], "limit {limit}");
    }
}
