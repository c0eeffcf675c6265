//! Through `cargo lambda watch` over HTTP, as a client sees the function locally: the
//! emulator turns each request into an API Gateway v2 event for the real binary.

mod common;

use common::http::send;
use common::*;
use serde_json::json;

fn watch() -> String {
    env("JOBS_TEST_WATCH_URL")
}

#[tokio::test]
async fn create_job_over_http_is_201_and_stored() {
    let org = unique_org("e2e");
    let auth = format!("Bearer {}", token(&claims(&org)));
    let body =
        json!({"job_type": "document_ingestion", "total_items": 12, "metadata": {"via": "watch"}})
            .to_string();
    for path in ["/api/jobs/", "/api/jobs"] {
        let reply = send(
            &watch(),
            "POST",
            path,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &auth),
            ],
            &body,
        );
        assert_eq!(
            reply.status,
            201,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let job = reply.json();
        let job_id = assert_new_job(&job, "document_ingestion", 12);
        assert_eq!(
            reply.header("location"),
            Some(format!("/api/jobs/{job_id}").as_str())
        );
        assert_eq!(job["metadata"], json!({"via": "watch"}));
        let item = stored_item(&client().await, &org, &job_id)
            .await
            .expect("stored");
        assert_eq!(item["status"], s("pending"));
    }
    assert_eq!(items_of(&client().await, &org).await, 2);
}

#[tokio::test]
async fn errors_over_http_are_json_with_their_headers() {
    let org = unique_org("e2e-errors");
    let auth = format!("Bearer {}", token(&claims(&org)));
    let json_type = ("Content-Type", "application/json");

    let invalid = send(
        &watch(),
        "POST",
        "/api/jobs/",
        &[json_type, ("Authorization", &auth)],
        r#"{"job_type":"crawl","total_items":-1}"#,
    );
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.json()["detail"][0]["type"], "greater_than_equal");

    let anonymous = send(
        &watch(),
        "POST",
        "/api/jobs/",
        &[json_type],
        r#"{"job_type":"crawl","total_items":1}"#,
    );
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));

    let wrong_method = send(
        &watch(),
        "DELETE",
        "/api/jobs/",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET, POST"));

    let unknown = send(&watch(), "GET", "/nowhere", &[], "");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json(), json!({"detail": "Not Found"}));

    assert_eq!(items_of(&client().await, &org).await, 0);
}
