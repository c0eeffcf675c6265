//! Through `cargo lambda watch` over HTTP, as a client sees the function locally: the
//! emulator turns each request into an API Gateway v2 event for the real binary.

use serde_json::json;

use crate::common::http::send;
use crate::common::*;

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

/// The jobs page through the watch: served without a token, with its policy; the API
/// beside it answers `no-store`; a cookie write from the page on this very host goes
/// through, one from another port of the host (the same site: the cookie goes along) does
/// not. (tests/browser/ drives the page itself in Chromium.)
#[tokio::test]
async fn the_page_is_served_without_a_token_and_only_its_own_host_may_write_with_the_cookie() {
    let page = send(&watch(), "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let script = send(&watch(), "GET", "/app/app.js", &[], "");
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(send(&watch(), "GET", "/app/nope.js", &[], "").status, 404);
    assert_eq!(send(&watch(), "POST", "/", &[], "").status, 405);

    let org = unique_org("e2e-page");
    let bearer = format!("Bearer {}", token(&claims(&org)));
    let created = send(
        &watch(),
        "POST",
        "/api/jobs/",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
        ],
        r#"{"job_type":"import","total_items":3}"#,
    );
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let job_id = created.json()["job_id"].as_str().unwrap().to_owned();
    let cookie = format!("stytch_session_jwt={}", token(&claims(&org)));
    let cancel = format!("/api/jobs/{job_id}/cancel");
    let this_host = watch();
    let other_port = {
        let (host, port) = this_host.rsplit_once(':').unwrap();
        format!("{host}:{}", port.parse::<u16>().unwrap() ^ 1)
    };
    let forged = send(
        &watch(),
        "POST",
        &cancel,
        &[("Cookie", &cookie), ("Origin", &other_port)],
        "",
    );
    assert_eq!(
        forged.status,
        403,
        "{}",
        String::from_utf8_lossy(&forged.body)
    );
    let listed = send(&watch(), "GET", "/api/jobs/", &[("Cookie", &cookie)], "");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("cache-control"), Some("no-store"));
    assert_eq!(listed.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        listed.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(listed.json()["items"][0]["status"], "pending");
    let own = send(
        &watch(),
        "POST",
        &cancel,
        &[
            ("Cookie", &cookie),
            ("Origin", &this_host),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        "",
    );
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    assert_eq!(own.json()["status"], "cancelled");
}
