//! A null DynamoDB for the bench: answers DynamoDB's JSON protocol (`X-Amz-Target:
//! DynamoDB_20120810.<Operation>`) on loopback at once, with the smallest valid answers.
//! Against it a run shows the caller's own cost, with DynamoDB's latency taken out.
//!
//! It keeps one item: the last one PutItem sent. GetItem and UpdateItem answer with it,
//! under the key they asked for, so that the function reads back a job in exactly the
//! shape it writes (a built-in job before any PutItem), except that the job has errors:
//! [`HISTORY_ERRORS`] of them. A Query of a job's history answers a full page of them
//! ([`HISTORY_PAGE`] items shaped as `src/store/item.rs` `from_issue` writes them, only
//! the attributes a `ProjectionExpression` names, as DynamoDB does), so a route that
//! reads and answers a history pays for it as against DynamoDB. Other queries (lists,
//! indexes) answer an empty page.
//!
//! It also answers EventBridge's `PutEvents` (`X-Amz-Target: AWSEvents.PutEvents`): every
//! entry accepted, an `EventId` each; the count of entries received is kept for the
//! events bench (`scripts/bench_events.sh`), which reads it at `GET /put-events-count`.
//!
//! bench_null_dynamodb --port PORT [--capture DIR]
//!
//! `--capture DIR` writes the first request body of each operation to DIR/<Operation>.json,
//! and the first history page it answers, as stored, to DIR/history-page.json, so the
//! bench can size the items the function really writes and reads.

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const EMPTY_PAGE: &str = r#"{"Items":[],"Count":0,"ScannedCount":0}"#;
/// Errors every job has recorded: more than a page, so a read of its most recent errors
/// gets a full one.
const HISTORY_ERRORS: u64 = 37;
/// The most recent errors a `JobResponse` carries (`RECENT_ISSUES_CAP`).
const HISTORY_PAGE: usize = 20;

struct State {
    capture: Option<PathBuf>,
    seen: Mutex<HashSet<String>>,
    last_item: Mutex<Option<Value>>,
    put_events_entries: Mutex<u64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let port: u16 = arg("--port").ok_or("--port PORT is required")?.parse()?;
    let state = Arc::new(State {
        capture: arg("--capture").map(PathBuf::from),
        seen: Mutex::default(),
        last_item: Mutex::default(),
        put_events_entries: Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bench_null_dynamodb: listening on http://127.0.0.1:{port}");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| answer(request, Arc::clone(&state)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if request.uri().path() == "/put-events-count" {
        let count = *state.put_events_entries.lock().unwrap();
        return Ok(reply(200, count.to_string()));
    }
    if target == "AWSEvents.PutEvents" {
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => Bytes::new(),
        };
        let request: Value = serde_json::from_slice(&body).unwrap_or_default();
        let n = request["Entries"].as_array().map_or(0, Vec::len);
        *state.put_events_entries.lock().unwrap() += n as u64;
        let entries: Vec<Value> = (0..n)
            .map(|i| json!({"EventId": format!("00000000-0000-0000-0000-{i:012}")}))
            .collect();
        return Ok(reply(
            200,
            json!({"FailedEntryCount": 0, "Entries": entries}).to_string(),
        ));
    }
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DynamoDB_20120810."))
        .unwrap_or("")
        .to_owned();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let capture = state
        .capture
        .as_ref()
        .filter(|_| state.seen.lock().unwrap().insert(operation.clone()));
    if let Some(dir) = capture {
        let _ = std::fs::write(dir.join(format!("{operation}.json")), &body);
    }
    let answer = match operation.as_str() {
        "" => return Ok(reply(400, r#"{"__type":"MissingTarget"}"#.into())),
        "PutItem" => {
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            *state.last_item.lock().unwrap() = Some(request["Item"].clone());
            "{}".into()
        }
        "GetItem" => json!({ "Item": job_item(&body, &state) }).to_string(),
        "UpdateItem" => json!({ "Attributes": job_item(&body, &state) }).to_string(),
        "Query" => match history_page(&body) {
            Some((stored, answer)) => {
                // The items as stored, which DynamoDB bills whatever the projection.
                if let Some(dir) = capture {
                    let _ = std::fs::write(dir.join("history-page.json"), stored.to_string());
                }
                answer
            }
            None => EMPTY_PAGE.into(),
        },
        "Scan" => EMPTY_PAGE.into(),
        "BatchGetItem" => r#"{"Responses":{},"UnprocessedKeys":{}}"#.into(),
        "BatchWriteItem" => r#"{"UnprocessedItems":{}}"#.into(),
        "TransactGetItems" => r#"{"Responses":[]}"#.into(),
        _ => "{}".into(), // DeleteItem, TransactWriteItems
    };
    Ok(reply(200, answer))
}

fn reply(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "x-amzn-requestid",
            "NULLDYNAMODB0000000000000000000000000000000000000000",
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// The job item to answer with, under the key the request asked for, so that a route
/// reading it back finds the organization and id it expects.
fn job_item(request: &[u8], state: &State) -> Value {
    let request: Value = serde_json::from_slice(request).unwrap_or_default();
    // The job's key (`store::keys::job`): `ORG#{org}#JOB#{job}` and `JOB`.
    let (organization_id, job_id) = request["Key"]["pk"]["S"]
        .as_str()
        .and_then(|pk| pk.strip_prefix("ORG#")?.split_once("#JOB#"))
        .map_or(
            ("unknown".to_owned(), "unknown".to_owned()),
            |(org, job)| (org.to_owned(), job.to_owned()),
        );
    let s = |v: &str| json!({ "S": v });
    let n = |v: u64| json!({ "N": v.to_string() });
    if let Some(mut item) = state.last_item.lock().unwrap().clone() {
        item["pk"] = s(&format!("ORG#{organization_id}#JOB#{job_id}"));
        item["sk"] = s("JOB");
        item["organization_id"] = s(&organization_id);
        item["job_id"] = s(&job_id);
        item["error_count"] = n(HISTORY_ERRORS);
        return item;
    }
    json!({
        "pk": s(&format!("ORG#{organization_id}#JOB#{job_id}")),
        "sk": s("JOB"),
        "organization_id": s(&organization_id),
        "job_id": s(&job_id),
        "job_type": s("enrichment"),
        "status": s("in_progress"),
        "total_items": n(100),
        "processed_items": n(40),
        "failed_items": n(1),
        "warned_items": n(0),
        "metadata": { "M": { "source": s("s3://bucket/leads.csv") } },
        "created_at": s("2026-11-28T12:00:00.123Z"),
        "updated_at": s("2026-11-28T12:00:05.456Z"),
        "started_at": s("2026-11-28T12:00:01.000Z"),
        "error_count": n(HISTORY_ERRORS),
        "warning_count": n(0),
        "triggered_by": s("user-events"),
    })
}

/// The attributes a `ProjectionExpression` names (`#placeholders` resolved), as
/// DynamoDB sends only those; `None` without one.
fn projection(request: &Value) -> Option<Vec<String>> {
    let expression = request["ProjectionExpression"].as_str()?;
    let names = &request["ExpressionAttributeNames"];
    let resolve = |name: &str| names[name].as_str().unwrap_or(name).to_owned();
    Some(
        expression
            .split(',')
            .map(|name| resolve(name.trim()))
            .collect(),
    )
}

/// A page of the history a Query asks for (`pk = ORG#{org}#JOB#{job}` and an `sk` prefix,
/// `ERROR#` or `WARNING#`), newest first as the function asks: errors as a worker
/// reports them, each with `details` of a few hundred bytes. The items as stored, and the
/// answer; `None` for any other query.
fn history_page(request: &[u8]) -> Option<(Value, String)> {
    let request: Value = serde_json::from_slice(request).ok()?;
    let values = &request["ExpressionAttributeValues"];
    let pk = values[":pk"]["S"].as_str()?;
    let prefix = values[":prefix"]["S"].as_str()?;
    let (organization_id, job_id) = pk.strip_prefix("ORG#")?.split_once("#JOB#")?;
    let s = |v: &str| json!({ "S": v });
    let n = |v: u64| json!({ "N": v.to_string() });
    let items: Vec<Value> = (0..HISTORY_PAGE as u64)
        .map(|i| {
            let row = 1_000 + HISTORY_PAGE as u64 - i;
            let second = 59 - i;
            let details = json!({ "M": {
                "column": s("signup_date"),
                "row": n(row),
                "value": s("2026-13-45"),
                "expected": s("YYYY-MM-DD"),
                "source": s("s3://acme-imports/leads/2026-11-28/batch-0042.csv"),
                "line": s(&format!(
                    "{row},Jane Doe,jane.doe@example.com,ACME Corp,2026-13-45,\"Sales, EMEA\",+44 20 7946 0958"
                )),
                "http": { "M": { "status": n(422), "retryable": { "BOOL": false } } },
                "attempt": n(1),
            }});
            json!({
                "pk": s(pk),
                "sk": s(&format!("{prefix}019ac9f0-{:04x}-7000-8000-00000000e001", 0xffff - i)),
                "organization_id": s(organization_id),
                "job_id": s(job_id),
                "entity_key": s(&format!("row-{row}")),
                "entity_type": s("row"),
                "error_type": s("parse"),
                "message": s(&format!("Column signup_date of row {row} is not a date: 2026-13-45")),
                "timestamp": s(&format!("2026-11-28T12:00:{second:02}.123Z")),
                "details": details,
                "step": s("parse"),
            })
        })
        .collect();
    let last = items
        .last()
        .map(|item| json!({ "pk": item["pk"], "sk": item["sk"] }));
    let mut sent = items.clone();
    if let Some(names) = projection(&request) {
        for fields in sent.iter_mut().filter_map(Value::as_object_mut) {
            fields.retain(|name, _| names.contains(name));
        }
    }
    let answer = json!({
        "Items": sent,
        "Count": HISTORY_PAGE,
        "ScannedCount": HISTORY_PAGE,
        "LastEvaluatedKey": last,
    });
    Some((Value::Array(items), answer.to_string()))
}
