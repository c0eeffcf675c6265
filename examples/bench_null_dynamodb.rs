//! A null DynamoDB for the bench: answers DynamoDB's JSON protocol (`X-Amz-Target:
//! DynamoDB_20120810.<Operation>`) on loopback at once, with the smallest valid answers.
//! Against it a run shows the caller's own cost, with DynamoDB's latency taken out.
//!
//! It keeps one item: the last one PutItem sent. GetItem and UpdateItem answer with it,
//! under the key they asked for, so that the function reads back a job in exactly the
//! shape it writes (a built-in job before any PutItem).
//!
//! bench_null_dynamodb --port PORT [--capture DIR]
//!
//! `--capture DIR` writes the first request body of each operation to DIR/<Operation>.json,
//! so the bench can size the items the function really sends.

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

struct State {
    capture: Option<PathBuf>,
    seen: Mutex<HashSet<String>>,
    last_item: Mutex<Option<Value>>,
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
    if let Some(dir) = &state.capture
        && state.seen.lock().unwrap().insert(operation.clone())
    {
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
        "Query" | "Scan" => r#"{"Items":[],"Count":0,"ScannedCount":0}"#.into(),
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
    let key = |name: &str, prefix: &str| {
        request["Key"][name]["S"]
            .as_str()
            .and_then(|v| v.strip_prefix(prefix))
            .unwrap_or("unknown")
            .to_owned()
    };
    let (organization_id, job_id) = (key("pk", "ORG#"), key("sk", "JOB#"));
    let s = |v: &str| json!({ "S": v });
    let n = |v: u64| json!({ "N": v.to_string() });
    if let Some(mut item) = state.last_item.lock().unwrap().clone() {
        item["pk"] = s(&format!("ORG#{organization_id}"));
        item["sk"] = s(&format!("JOB#{job_id}"));
        item["organization_id"] = s(&organization_id);
        item["job_id"] = s(&job_id);
        return item;
    }
    json!({
        "pk": s(&format!("ORG#{organization_id}")),
        "sk": s(&format!("JOB#{job_id}")),
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
        "error_count": n(0),
        "warning_count": n(0),
        "triggered_by": s("user-events"),
    })
}
