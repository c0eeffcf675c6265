//! Browser callers: a write authenticated by a session cookie is refused unless an
//! allowed origin sent it (forged forms of every kind write nothing), bearer tokens are
//! unaffected, and CORS lets an allowed page call the API.

use jobs_api::App;
use lambda_http::Body;
use serde_json::json;

use crate::common::*;

const APP_ORIGIN: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example";

async fn browser_app() -> App {
    app_with(&[(
        "JOBS_ALLOWED_ORIGINS",
        "https://app.example.com, http://localhost:5173",
    )])
    .await
}

/// A request carrying the tenant's session in the `stytch_session_jwt` cookie, as a
/// browser sends it, with the given headers and raw body.
fn with_cookie(
    org: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> lambda_http::Request {
    let cookie = format!("theme=dark; stytch_session_jwt={}", token(&claims(org)));
    let mut all = vec![("cookie", cookie.as_str())];
    all.extend_from_slice(headers);
    request("POST", path, &all, body)
}

/// The three writes, each as a forged request would send it: a form's body, or none.
fn writes(job_id: &str) -> [(String, &'static str); 3] {
    [
        ("/api/jobs/".to_owned(), "job_type=crawl&total_items=1"),
        (
            format!("/api/jobs/{job_id}/progress"),
            "processed_items_increment=1",
        ),
        (format!("/api/jobs/{job_id}/cancel"), ""),
    ]
}

#[tokio::test]
async fn cookie_writes_from_other_sites_are_refused_and_write_nothing() {
    let app = browser_app().await;
    let tenant = Tenant::new("csrf");
    let job = tenant
        .create(&app, json!({"job_type": "crawl", "total_items": 10}))
        .await;
    let job_id = job["job_id"].as_str().unwrap();
    let json_body = r#"{"job_type": "crawl", "total_items": 1, "processed_items_increment": 1}"#;
    // Every way a page on another site (or no page at all) could send the writes.
    // (what, headers, whether the body is JSON rather than a form's)
    type Forged<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let forged: &[Forged] = &[
        (
            "form, urlencoded",
            &[
                ("origin", EVIL),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            false,
        ),
        (
            "form, multipart",
            &[
                ("origin", EVIL),
                ("content-type", "multipart/form-data; boundary=x"),
            ],
            false,
        ),
        (
            "form, text/plain holding JSON",
            &[("origin", EVIL), ("content-type", "text/plain")],
            true,
        ),
        ("no content type", &[("origin", EVIL)], true),
        (
            "JSON from another origin",
            &[("origin", EVIL), ("content-type", "application/json")],
            true,
        ),
        (
            "Origin: null (sandboxed frame, data: URL)",
            &[("origin", "null"), ("content-type", "application/json")],
            true,
        ),
        (
            "neither Origin nor Referer",
            &[("content-type", "application/json")],
            true,
        ),
        (
            "Referer of another site",
            &[
                ("referer", "https://evil.example/app.example.com"),
                ("content-type", "application/json"),
            ],
            true,
        ),
        (
            "allowed Referer, but an Origin of another site",
            &[
                ("origin", EVIL),
                ("referer", "https://app.example.com/jobs"),
                ("content-type", "application/json"),
            ],
            true,
        ),
    ];
    for (case, headers, json_payload) in forged {
        for (path, form) in writes(job_id) {
            let body = if *json_payload { json_body } else { form };
            let reply = send(&app, with_cookie(&tenant.org, &path, headers, body)).await;
            assert_eq!(reply.status, 403, "{case}: POST {path}: {}", reply.body);
            assert!(
                reply.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Cross-site request refused"),
                "{case}: {}",
                reply.body
            );
        }
    }
    let client = client().await;
    assert_eq!(
        items_of(&client, &tenant.org).await,
        1,
        "no job was created"
    );
    let stored = stored_item(&client, &tenant.org, job_id).await.unwrap();
    assert_eq!(stored["processed_items"], n(0), "no progress was counted");
    assert_eq!(stored["status"], s("pending"), "the job was not cancelled");
}

#[tokio::test]
async fn cookie_writes_from_an_allowed_origin_go_through() {
    let app = browser_app().await;
    let tenant = Tenant::new("csrf-ok");
    let json_type = ("content-type", "application/json");
    let created = send(
        &app,
        with_cookie(
            &tenant.org,
            "/api/jobs/",
            &[("origin", APP_ORIGIN), json_type],
            r#"{"job_type": "crawl", "total_items": 3}"#,
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let job_id = created.body["job_id"].as_str().unwrap();
    let progress = format!("/api/jobs/{job_id}/progress");
    let increment = r#"{"processed_items_increment": 1}"#;
    // The origin as a browser may write it (case), and a same-site Referer without Origin.
    for origin in [
        ("origin", "HTTPS://APP.EXAMPLE.COM"),
        ("referer", "https://app.example.com/jobs/1?tab=errors"),
    ] {
        let reply = send(
            &app,
            with_cookie(&tenant.org, &progress, &[origin, json_type], increment),
        )
        .await;
        assert_eq!(reply.status, 200, "{origin:?}: {}", reply.body);
    }
    let cancel = format!("/api/jobs/{job_id}/cancel");
    let cancelled = send(
        &app,
        with_cookie(
            &tenant.org,
            &cancel,
            &[("origin", "http://localhost:5173")],
            "",
        ),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["processed_items"], 2);
}

#[tokio::test]
async fn bearer_tokens_are_not_subject_to_the_origin_rule() {
    let app = browser_app().await;
    let tenant = Tenant::new("csrf-bearer");
    let mut request = tenant.post(
        "/api/jobs/",
        &json!({"job_type": "crawl", "total_items": 1}),
    );
    request
        .headers_mut()
        .insert("origin", EVIL.parse().unwrap());
    assert_eq!(send(&app, request).await.status, 201);
    // A cookie beside the header is not looked at: the header authenticated the request.
    let mut request = tenant.post(
        "/api/jobs/",
        &json!({"job_type": "crawl", "total_items": 1}),
    );
    let cookie = format!("stytch_session_jwt={}", token(&claims(&tenant.org)));
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    assert_eq!(send(&app, request).await.status, 201);
    assert_eq!(items_of(&client().await, &tenant.org).await, 2);
}

fn preflight(origin: &str) -> lambda_http::Request {
    request(
        "OPTIONS",
        "/api/jobs/",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type, idempotency-key, prefer, x-organization-id",
            ),
        ],
        "",
    )
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let app = browser_app().await;
    let ok = app.handle(preflight(APP_ORIGIN)).await;
    assert_eq!(ok.status(), 204);
    let headers = ok.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    for name in [
        "authorization",
        "content-type",
        "idempotency-key",
        "prefer",
        "x-organization-id",
    ] {
        assert!(
            allowed_headers.contains(name),
            "{name} in {allowed_headers}"
        );
    }
    assert!(matches!(ok.body(), Body::Empty));

    let refused = reply(app.handle(preflight(EVIL)).await);
    assert_eq!(refused.status, 403);
    assert!(!refused.headers.contains_key("access-control-allow-origin"));

    // Without configured origins there is no CORS: OPTIONS is a method like any other.
    let plain = reply(app_with(&[]).await.handle(preflight(APP_ORIGIN)).await);
    assert_eq!(plain.status, 405);
}

#[tokio::test]
async fn answers_are_readable_by_allowed_origins_only() {
    let app = browser_app().await;
    let tenant = Tenant::new("cors");
    let mut request = tenant.post(
        "/api/jobs/",
        &json!({"job_type": "crawl", "total_items": 1}),
    );
    request
        .headers_mut()
        .insert("origin", APP_ORIGIN.parse().unwrap());
    let created = send(&app, request).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.headers["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(created.headers["access-control-allow-credentials"], "true");
    let exposed = created.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in [
        "location",
        "idempotent-replayed",
        "preference-applied",
        "retry-after",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert_eq!(created.headers["vary"], "Origin");

    let mut request = tenant.get("/api/jobs/");
    request
        .headers_mut()
        .insert("origin", EVIL.parse().unwrap());
    let foreign = send(&app, request).await;
    assert_eq!(foreign.status, 200);
    assert!(!foreign.headers.contains_key("access-control-allow-origin"));
    assert_eq!(foreign.headers["vary"], "Origin");
}
