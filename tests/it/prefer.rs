//! `Prefer: return=minimal` (RFC 7240) on progress reports and cancels, against the real
//! local DynamoDB: the light `/status` body with `Preference-Applied`, no history read at
//! all (the DynamoDB calls counted at the fault proxy, passing everything through), and
//! every other preference ignored.

use jobs_api::App;
use serde_json::{Value, json};

use crate::common::proxy::Proxy;
use crate::common::*;

const MINIMAL: &str = "return=minimal";

fn crawl() -> Value {
    json!({"job_type": "crawl", "total_items": 10})
}

fn error(key: &str) -> Value {
    json!({"entity_key": key, "entity_type": "row", "error_type": "parse", "message": "bad", "details": {"column": 3}})
}

/// A request from `tenant` with a `Prefer` field for each of `prefer`.
fn post(tenant: &Tenant, path: &str, prefer: &[&str], body: &Value) -> lambda_http::Request {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("authorization", tenant.auth.as_str()),
    ];
    headers.extend(prefer.iter().map(|value| ("prefer", *value)));
    request("POST", path, &headers, &body.to_string())
}

/// The `/status` body of the job, read after the request.
async fn status(app: &App, tenant: &Tenant, job_id: &str) -> Value {
    let reply = send(app, tenant.get(&format!("/api/jobs/{job_id}/status"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn applied(reply: &Reply) -> Option<&str> {
    reply
        .headers
        .get("preference-applied")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_minimal_report_answers_the_status_body() {
    let app = app().await;
    let tenant = Tenant::new("prefer-report");
    let job_id = tenant.create_id(&app, crawl()).await;
    let path = format!("/api/jobs/{job_id}/progress");

    let reply = send(
        &app,
        post(
            &tenant,
            &path,
            &[MINIMAL],
            &json!({"processed_items_increment": 4, "error": error("r1")}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(applied(&reply), Some(MINIMAL));
    assert_eq!(
        reply.body,
        status(&app, &tenant, &job_id).await,
        "exactly the /status body"
    );
    assert_eq!(
        (
            reply.body["processed_items"].clone(),
            reply.body["failed_items"].clone()
        ),
        (json!(4), json!(1))
    );

    // Without the header, or asking for the representation: the full JobResponse.
    let full = send(&app, post(&tenant, &path, &[], &json!({}))).await;
    assert_eq!(applied(&full), None, "nothing asked, nothing applied");
    assert_eq!(full.body["errors"][0]["entity_key"], "r1");
    let asked = send(
        &app,
        post(&tenant, &path, &["return=representation"], &json!({})),
    )
    .await;
    assert_eq!(applied(&asked), Some("return=representation"));
    for field in JOB_RESPONSE_FIELDS {
        assert!(asked.body.get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn unknown_preferences_are_ignored() {
    let app = app().await;
    let tenant = Tenant::new("prefer-unknown");
    let job_id = tenant.create_id(&app, crawl()).await;
    let path = format!("/api/jobs/{job_id}/progress");
    for prefer in [
        &["respond-async, wait=10"][..],
        &["return=MINIMAL"],
        &["return=everything"],
        &["handling=lenient; return=minimal"],
        &["return=representation", MINIMAL],
    ] {
        let reply = send(&app, post(&tenant, &path, prefer, &json!({}))).await;
        assert_eq!(reply.status, 200, "{prefer:?}: {}", reply.body);
        assert!(
            reply.body.get("errors").is_some(),
            "{prefer:?}: the full answer"
        );
        assert_ne!(applied(&reply), Some(MINIMAL), "{prefer:?}");
    }
    // Listed among others, with parameters, in a second field: applied.
    for prefer in [
        &["respond-async, return=minimal; foo=bar"][..],
        &["wait=5", "RETURN=minimal"],
    ] {
        let reply = send(&app, post(&tenant, &path, prefer, &json!({}))).await;
        assert_eq!(applied(&reply), Some(MINIMAL), "{prefer:?}");
        assert!(reply.body.get("errors").is_none(), "{prefer:?}");
    }
}

#[tokio::test]
async fn a_minimal_cancel_answers_the_status_body_and_errors_stay_errors() {
    let app = app().await;
    let tenant = Tenant::new("prefer-cancel");
    let job_id = tenant.create_id(&app, crawl()).await;
    let cancel = format!("/api/jobs/{job_id}/cancel");
    let reply = send(&app, post(&tenant, &cancel, &[MINIMAL], &json!({}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(applied(&reply), Some(MINIMAL));
    assert_eq!(reply.body["status"], "cancelled");
    assert_eq!(reply.body, status(&app, &tenant, &job_id).await);

    // A refusal is the same error whatever the preference.
    let again = send(&app, post(&tenant, &cancel, &[MINIMAL], &json!({}))).await;
    assert_eq!(again.status, 409);
    assert_eq!(applied(&again), None);
    assert!(again.body["detail"].is_string());
    let report = format!("/api/jobs/{job_id}/progress");
    let late = send(&app, post(&tenant, &report, &[MINIMAL], &json!({}))).await;
    assert_eq!((late.status.as_u16(), applied(&late)), (409, None));
}

/// The DynamoDB operations one request sends, counted at a pass-through proxy.
async fn operations(
    proxy: &Proxy,
    app: &App,
    request: lambda_http::Request,
) -> (Reply, Vec<String>) {
    let before = proxy.seen().len();
    let reply = send(app, request).await;
    let ops = proxy.seen()[before..]
        .iter()
        .map(|s| s.op.clone())
        .collect();
    (reply, ops)
}

#[tokio::test]
async fn a_minimal_answer_reads_no_history() {
    let proxy = Proxy::start(&env("AWS_ENDPOINT_URL_DYNAMODB"));
    let app = app_behind(&proxy).await;
    let tenant = Tenant::new("prefer-reads");
    let job_id = tenant.create_id(&app, crawl()).await;
    let path = format!("/api/jobs/{job_id}/progress");
    let with_error = json!({"error": error("r1"), "processed_items_increment": 1});
    let increment = json!({"processed_items_increment": 1});

    // The job has errors: a full answer reads them.
    let (full, ops) = operations(&proxy, &app, post(&tenant, &path, &[], &with_error)).await;
    assert_eq!(full.status, 200, "{}", full.body);
    assert_eq!(ops, ["TransactWriteItems", "GetItem", "Query"]);
    let (_, ops) = operations(&proxy, &app, post(&tenant, &path, &[], &increment)).await;
    assert_eq!(ops, ["UpdateItem", "Query"]);

    // Minimal: the write alone (a transaction's job is read back; nothing else).
    let (minimal, ops) =
        operations(&proxy, &app, post(&tenant, &path, &[MINIMAL], &increment)).await;
    assert_eq!(minimal.status, 200, "{}", minimal.body);
    assert_eq!(ops, ["UpdateItem"]);
    let (_, ops) = operations(&proxy, &app, post(&tenant, &path, &[MINIMAL], &with_error)).await;
    assert_eq!(ops, ["TransactWriteItems", "GetItem"]);
    let cancel = format!("/api/jobs/{job_id}/cancel");
    let (cancelled, ops) =
        operations(&proxy, &app, post(&tenant, &cancel, &[MINIMAL], &json!({}))).await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(ops, ["UpdateItem"]);
}
