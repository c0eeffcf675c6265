//! `POST /api/jobs/` through the handler, against the real local DynamoDB: what is
//! answered, what is stored, and that a refused request stores nothing.

use aws_sdk_dynamodb::types::AttributeValue;
use jobs_api::{App, Config};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn creates_a_job_and_stores_it_under_the_callers_organization() {
    let (app, client) = (app().await, client().await);
    let org = unique_org("create");
    let body = json!({"job_type": "enrichment", "total_items": 40, "metadata": {"source": "crm", "batch": {"size": 20, "ratio": 0.5}}});
    let reply = send(&app, create_request(&token(&claims(&org)), &body)).await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    let job_id = assert_new_job(&reply.body, "enrichment", 40);
    assert_eq!(reply.headers["location"], format!("/api/jobs/{job_id}"));
    assert_eq!(reply.body["metadata"], body["metadata"]);
    assert_eq!(
        reply.body["triggered_by"], "user-1",
        "defaults to the token's subject"
    );

    let item = stored_item(&client, &org, &job_id)
        .await
        .expect("the job is stored");
    assert_eq!(item["pk"], s(&format!("ORG#{org}#JOB#{job_id}")));
    assert_eq!(item["sk"], s("JOB"));
    assert_eq!(item["organization_id"], s(&org));
    assert_eq!(item["job_id"], s(&job_id));
    assert_eq!(item["status"], s("pending"));
    assert_eq!(item["job_type"], s("enrichment"));
    assert_eq!(item["total_items"], n(40));
    assert_eq!(item["processed_items"], n(0));
    assert_eq!(item["triggered_by"], s("user-1"));
    assert_eq!(
        item["created_at"],
        s(reply.body["created_at"].as_str().unwrap())
    );
    let AttributeValue::M(metadata) = &item["metadata"] else {
        panic!("metadata is a map")
    };
    assert_eq!(metadata["source"], s("crm"));
    assert!(!item.contains_key("started_at"), "not started");

    let stored = app
        .store()
        .get_job(&org, &job_id)
        .await
        .unwrap()
        .expect("readable");
    assert_eq!(
        serde_json::to_value(
            stored.to_response(jobs_api::job::time::Timestamp::now(), &Default::default())
        )
        .unwrap(),
        reply.body
    );
}

#[tokio::test]
async fn the_path_may_end_with_or_without_a_slash_and_triggered_by_is_kept() {
    let app = app().await;
    let org = unique_org("slash");
    let auth = format!("Bearer {}", token(&claims(&org)));
    let body = json!({"job_type": "crawl", "total_items": 0, "triggered_by": "nightly-scheduler"})
        .to_string();
    for path in ["/api/jobs", "/api/jobs/"] {
        let request = request(
            "POST",
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            &body,
        );
        let reply = send(&app, request).await;
        assert_eq!(reply.status, 201, "{path}: {}", reply.body);
        assert_eq!(reply.body["triggered_by"], "nightly-scheduler");
    }
    assert_eq!(items_of(&client().await, &org).await, 2);
}

#[tokio::test]
async fn two_creates_make_two_distinct_jobs() {
    let app = app().await;
    let org = unique_org("distinct");
    let token = token(&claims(&org));
    let body = json!({"job_type": "import", "total_items": 1});
    let first = send(&app, create_request(&token, &body)).await;
    let second = send(&app, create_request(&token, &body)).await;
    assert_ne!(first.body["job_id"], second.body["job_id"]);
    assert_eq!(items_of(&client().await, &org).await, 2);
}

/// Each refused request: its status, and that nothing was written for the organization.
async fn assert_refused(app: &App, org: &str, request: lambda_http::Request, status: u16) -> Reply {
    let reply = send(app, request).await;
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.body["detail"].is_string() || reply.body["detail"].is_array());
    assert_eq!(
        items_of(&client().await, org).await,
        0,
        "a refused request writes nothing"
    );
    reply
}

#[tokio::test]
async fn invalid_bodies_are_422_in_fastapi_shape_and_write_nothing() {
    let app = app().await;
    let org = unique_org("invalid");
    let token = token(&claims(&org));
    let cases = [
        (json!({"total_items": 1}), vec!["missing"]),
        (json!({"job_type": "crawl"}), vec!["missing"]),
        (
            json!({"job_type": "crawl", "total_items": -1}),
            vec!["greater_than_equal"],
        ),
        (
            json!({"job_type": "crawl", "total_items": 1.5}),
            vec!["int_from_float"],
        ),
        (
            json!({"job_type": "crawl", "total_items": "3"}),
            vec!["int_type"],
        ),
        (
            json!({"job_type": "crawl", "total_items": true}),
            vec!["int_type"],
        ),
        (
            json!({"job_type": "mining", "total_items": 1}),
            vec!["enum"],
        ),
        (
            json!({"job_type": "crawl", "total_items": 1, "metadata": [1]}),
            vec!["dict_type"],
        ),
        (
            json!({"job_type": "crawl", "total_items": 1, "metadata": {"x": "y".repeat(20_000)}}),
            vec!["value_error"],
        ),
        (
            json!({"job_type": "crawl", "total_items": 1, "triggered_by": 12}),
            vec!["string_type"],
        ),
        (json!({}), vec!["missing", "missing"]),
        (
            json!({"job_type": 1, "total_items": -2, "metadata": "m"}),
            vec!["enum", "greater_than_equal", "dict_type"],
        ),
        (json!([]), vec!["model_attributes_type"]),
    ];
    for (body, kinds) in cases {
        let reply = assert_refused(&app, &org, create_request(&token, &body), 422).await;
        let found: Vec<&str> = reply.body["detail"]
            .as_array()
            .expect("detail is a list")
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(found, kinds, "{body}");
        for entry in reply.body["detail"].as_array().unwrap() {
            assert!(
                entry["loc"][0] == "body"
                    && entry["msg"].is_string()
                    && entry.get("input").is_some()
            );
        }
    }
}

#[tokio::test]
async fn bodies_that_are_not_json_are_refused_and_write_nothing() {
    let app = app().await;
    let org = unique_org("notjson");
    let auth = format!("Bearer {}", token(&claims(&org)));
    let json_type = ("content-type", "application/json");
    let bearer = ("authorization", auth.as_str());
    let cases = [
        (
            request(
                "POST",
                "/api/jobs/",
                &[json_type, bearer],
                "{\"job_type\": ",
            ),
            400,
        ),
        (
            request("POST", "/api/jobs/", &[json_type, bearer], "job_type=crawl"),
            400,
        ),
        (
            request(
                "POST",
                "/api/jobs/",
                &[("content-type", "text/plain"), bearer],
                "{}",
            ),
            415,
        ),
        (
            request(
                "POST",
                "/api/jobs/",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    bearer,
                ],
                "a=b",
            ),
            415,
        ),
        (request("POST", "/api/jobs/", &[json_type, bearer], ""), 422),
    ];
    for (request, status) in cases {
        assert_refused(&app, &org, request, status).await;
    }
    let huge =
        json!({"job_type": "crawl", "total_items": 1, "metadata": {"x": "y".repeat(70_000)}});
    let reply = assert_refused(
        &app,
        &org,
        create_request(&token(&claims(&org)), &huge),
        413,
    )
    .await;
    assert!(reply.body["detail"].as_str().unwrap().contains("65536"));
}

#[tokio::test]
async fn callers_without_valid_credentials_are_401_with_www_authenticate() {
    let app = app().await;
    let org = unique_org("unauth");
    let mut expired = claims(&org);
    expired["exp"] = json!(1_000_000_000);
    let body = json!({"job_type": "crawl", "total_items": 1}).to_string();
    let json_type = ("content-type", "application/json");
    let tokens = [
        format!("Bearer {}", token(&expired)),
        format!(
            "Bearer {}",
            sign(&claims(&org), b"some-other-secret-some-other-secret")
        ),
        "Bearer not-a-jwt".to_owned(),
        format!("Basic {}", token(&claims(&org))),
    ];
    for auth in &tokens {
        let request = request(
            "POST",
            "/api/jobs/",
            &[json_type, ("authorization", auth)],
            &body,
        );
        let reply = assert_refused(&app, &org, request, 401).await;
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
    let anonymous = assert_refused(
        &app,
        &org,
        request("POST", "/api/jobs/", &[json_type], &body),
        401,
    )
    .await;
    assert_eq!(anonymous.body, json!({"detail": "Not authenticated"}));
}

#[tokio::test]
async fn a_token_in_a_session_cookie_is_accepted() {
    // A write by cookie must come from an allowed origin (browser_callers).
    let app = app_with(&[("JOBS_ALLOWED_ORIGINS", "https://app.example.com")]).await;
    for cookie in ["stytch_session_jwt", "stytch_session"] {
        let org = unique_org("cookie");
        let header = format!("theme=dark; {cookie}={}", token(&claims(&org)));
        let body = json!({"job_type": "crawl", "total_items": 2}).to_string();
        let request = request(
            "POST",
            "/api/jobs/",
            &[
                ("content-type", "application/json"),
                ("cookie", &header),
                ("origin", "https://app.example.com"),
            ],
            &body,
        );
        let reply = send(&app, request).await;
        assert_eq!(reply.status, 201, "{cookie}: {}", reply.body);
        assert_eq!(items_of(&client().await, &org).await, 1);
    }
}

#[tokio::test]
async fn organization_and_permission_rules_are_enforced() {
    let app = app().await;
    let (member_of, other) = (unique_org("member"), unique_org("other"));
    let body = json!({"job_type": "crawl", "total_items": 1}).to_string();
    let send_as = |claims: Value, org_header: Option<String>| {
        let auth = format!("Bearer {}", token(&claims));
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("authorization".to_owned(), auth),
        ];
        if let Some(org) = org_header {
            headers.push(("x-organization-id".to_owned(), org));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        request("POST", "/api/jobs/", &headers, &body)
    };

    // An organization the caller does not belong to.
    assert_refused(
        &app,
        &other,
        send_as(claims(&member_of), Some(other.clone())),
        403,
    )
    .await;
    // Read-only permissions cannot create.
    let mut reader = claims(&member_of);
    reader["permissions"] = json!(["job:read"]);
    assert_refused(&app, &member_of, send_as(reader, None), 403).await;
    // Several organizations and no header: which one is ambiguous.
    let mut both = claims(&member_of);
    both["organizations"] = json!([member_of, other]);
    let reply = assert_refused(&app, &member_of, send_as(both.clone(), None), 422).await;
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["header", "x-organization-id"])
    );
    // The header picks one of them; job:create allows the write.
    both["permissions"] = json!(["job:read", "job:create"]);
    let reply = send(&app, send_as(both, Some(other.clone()))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(items_of(&client().await, &other).await, 1);
    assert_eq!(items_of(&client().await, &member_of).await, 0);
}

#[tokio::test]
async fn two_organizations_cannot_reach_each_others_jobs() {
    let (app, client) = (app().await, client().await);
    let (org_a, org_b) = (unique_org("tenant-a"), unique_org("tenant-b"));
    let body = json!({"job_type": "export", "total_items": 3});
    let job_a = send(&app, create_request(&token(&claims(&org_a)), &body))
        .await
        .body["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job_b = send(&app, create_request(&token(&claims(&org_b)), &body))
        .await
        .body["job_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Each job lives only under its own organization's key.
    assert!(stored_item(&client, &org_a, &job_a).await.is_some());
    assert!(stored_item(&client, &org_b, &job_a).await.is_none());
    assert!(app.store().get_job(&org_b, &job_a).await.unwrap().is_none());
    assert!(app.store().get_job(&org_a, &job_b).await.unwrap().is_none());
    // B's token cannot act in A's organization.
    let auth = format!("Bearer {}", token(&claims(&org_b)));
    let request = request(
        "POST",
        "/api/jobs/",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
            ("x-organization-id", &org_a),
        ],
        &body.to_string(),
    );
    assert_eq!(send(&app, request).await.status, 403);
    assert_eq!(items_of(&client, &org_a).await, 1);
    assert_eq!(items_of(&client, &org_b).await, 1);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let app = app().await;
    let missing = send(&app, request("GET", "/api/nothing", &[], "")).await;
    assert_eq!(
        (missing.status.as_u16(), missing.body),
        (404, json!({"detail": "Not Found"}))
    );
    for method in ["PUT", "DELETE", "PATCH", "HEAD"] {
        let reply = send(&app, request(method, "/api/jobs/", &[], "")).await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.headers["allow"], "GET, POST");
        assert_eq!(reply.body, json!({"detail": "Method Not Allowed"}));
    }
}

#[tokio::test]
async fn dynamodb_unreachable_is_503_with_retry_after_and_nothing_is_written() {
    // A client aimed at a port nothing listens on; the table itself is fine.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(200))
                .build(),
        )
        .load()
        .await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dead_config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{closed}"))
        .build();
    let app = App::new(
        Config::from_env().unwrap(),
        aws_sdk_dynamodb::Client::from_conf(dead_config),
    );
    let org = unique_org("down");
    let reply = assert_refused(
        &app,
        &org,
        create_request(
            &token(&claims(&org)),
            &json!({"job_type": "crawl", "total_items": 1}),
        ),
        503,
    )
    .await;
    assert_eq!(reply.headers["retry-after"], "1");
    assert!(
        !reply.body.to_string().contains("127.0.0.1"),
        "no internal details in a 5xx body"
    );
}
