//! What the integration tests share: the local DynamoDB and function settings that
//! `scripts/test.sh` exports, tokens, requests and reads of the stored items.

pub mod http;
pub mod idp;
pub mod proxy;
pub mod stream;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_sdk_dynamodb::types::AttributeValue;
use jobs_api::{App, Config, store};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// A setting `scripts/test.sh` provides; the tests need the real local DynamoDB.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with scripts/test.sh, which starts the local DynamoDB"
        )
    })
}

pub async fn client() -> Client {
    env("AWS_ENDPOINT_URL_DYNAMODB");
    store::connect(&jobs_api::config::AwsConfig::from_env())
        .await
        .expect("the DynamoDB client")
}

pub async fn app() -> App {
    app_with(&[]).await
}

/// An app configured as the test command's, with some settings changed (`""` unsets one).
pub async fn app_with(settings: &[(&str, &str)]) -> App {
    // The handler's log lines, shown for failing tests (`RUST_LOG=info` for more).
    let level = std::env::var("RUST_LOG").ok().and_then(|l| l.parse().ok());
    let _ = tracing_subscriber::fmt()
        .with_max_level(level.unwrap_or(tracing_subscriber::filter::LevelFilter::WARN))
        .with_test_writer()
        .try_init();
    let config = Config::from_lookup(|name| match settings.iter().find(|(n, _)| *n == name) {
        Some((_, value)) => Some(value.to_string()),
        None => std::env::var(name).ok(),
    })
    .expect("test configuration");
    App::new(config, client().await)
}

/// An app configured as the test command's whose DynamoDB calls go through `proxy`, with
/// an SDK retry partition of its own (the retry token bucket is per partition and
/// process; a Lambda container has its own), so that faults armed for one app never
/// drain another's retries.
pub async fn app_behind(proxy: &proxy::Proxy) -> App {
    App::new(
        Config::from_env().expect("test configuration"),
        client_behind(proxy).await,
    )
}

/// An organization id no other test uses.
pub fn unique_org(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

pub fn claims(org: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"sub": "user-1", "organizations": [org], "iat": now, "exp": now + 600})
}

/// A token signed with the function's configured HS256 secret.
pub fn token(claims: &Value) -> String {
    sign(claims, env("JOBS_JWT_SECRET").as_bytes())
}

pub fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("signing a test token")
}

/// A request as `cargo lambda watch` or a function URL delivers it (no authorizer).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::from(body.to_owned())
    };
    builder.body(body).expect("test request")
}

/// `POST /api/jobs/` with a JSON body and a bearer token.
pub fn create_request(token: &str, body: &Value) -> Request {
    let auth = format!("Bearer {token}");
    request(
        "POST",
        "/api/jobs/",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        &body.to_string(),
    )
}

/// An API Gateway event from `events/`, as `lambda_http` turns it into a request.
pub fn event(file: &str) -> Request {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Every response of this API is JSON: parse it, and fail the test if it is not.
pub fn reply(response: Response<Body>) -> Reply {
    let (parts, body) = response.into_parts();
    assert_eq!(
        parts
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "every response is JSON"
    );
    let body = serde_json::from_slice(body.as_ref()).expect("response body is JSON");
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub async fn send(app: &App, request: Request) -> Reply {
    // Boxed, as the function's own entry point does: a debug build's request future is
    // large, and a test awaiting many of them in one body would overflow its stack.
    reply(Box::pin(app.handle(request)).await)
}

/// The raw stored item of a job, read straight from the table.
pub async fn stored_item(
    client: &Client,
    org: &str,
    job_id: &str,
) -> Option<HashMap<String, AttributeValue>> {
    let (pk, sk) = store::keys::job(org, job_id);
    client
        .get_item()
        .table_name(env("JOBS_TABLE_NAME"))
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .expect("reading the table")
        .item
}

/// How many items of the organization the table holds (jobs, history, idempotency
/// records): every key of an organization starts with its prefix.
pub async fn items_of(client: &Client, org: &str) -> i32 {
    count_items(client, &store::keys::organization_prefix(org), None).await
}

/// How many items have a `pk` starting with `prefix` (and the sort key `sk`, if given).
/// A consistent scan: slow on a big table, exact on any layout.
pub async fn count_items(client: &Client, prefix: &str, sk: Option<&str>) -> i32 {
    let mut total = 0;
    let mut start = None;
    loop {
        let mut scan = client
            .scan()
            .table_name(env("JOBS_TABLE_NAME"))
            .filter_expression(if sk.is_some() {
                "begins_with(pk, :prefix) AND sk = :sk"
            } else {
                "begins_with(pk, :prefix)"
            })
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start);
        if let Some(sk) = sk {
            scan = scan.expression_attribute_values(":sk", AttributeValue::S(sk.to_owned()));
        }
        let output = scan.send().await.expect("scanning the table");
        total += output.count;
        start = output.last_evaluated_key;
        if start.is_none() {
            return total;
        }
    }
}

/// The error and warning items of a job (not the job itself, which shares their
/// partition), read straight from the table.
pub async fn history_items(
    client: &Client,
    org: &str,
    job_id: &str,
) -> Vec<HashMap<String, AttributeValue>> {
    client
        .query()
        .table_name(env("JOBS_TABLE_NAME"))
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(store::keys::job_partition(org, job_id)),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("querying the table")
        .items
        .unwrap_or_default()
        .into_iter()
        .filter(|item| item.get("sk") != Some(&s(store::keys::JOB_SORT_KEY)))
        .collect()
}

pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The fields every `JobResponse` carries: the reference's, and the timeouts'.
pub const JOB_RESPONSE_FIELDS: [&str; 23] = [
    "job_id",
    "job_type",
    "status",
    "total_items",
    "processed_items",
    "failed_items",
    "warned_items",
    "progress_percentage",
    "success_rate",
    "metadata",
    "triggered_by",
    "created_at",
    "started_at",
    "completed_at",
    "duration_seconds",
    "error_message",
    "heartbeat_timeout_seconds",
    "timeout_seconds",
    "stall_timeout_seconds",
    "last_heartbeat_at",
    "last_progress_at",
    "errors",
    "warnings",
];

/// Asserts `body` is a freshly created job's response and returns its id.
pub fn assert_new_job(body: &Value, job_type: &str, total_items: u64) -> String {
    let fields: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for field in JOB_RESPONSE_FIELDS {
        assert!(fields.contains(&field), "{field} missing from {body}");
    }
    assert_eq!(body["job_type"], job_type);
    assert_eq!(body["total_items"], total_items);
    assert_eq!(body["status"], "pending");
    for count in ["processed_items", "failed_items", "warned_items"] {
        assert_eq!(body[count], 0, "{count}");
    }
    assert_eq!(body["progress_percentage"], 0.0);
    assert_eq!(body["success_rate"], 0.0);
    for absent in [
        "started_at",
        "completed_at",
        "duration_seconds",
        "error_message",
        "last_heartbeat_at",
        "last_progress_at",
    ] {
        assert!(body[absent].is_null(), "{absent} should be null");
    }
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["warnings"], json!([]));
    let job_id = body["job_id"].as_str().expect("job_id is a string");
    let uuid = uuid::Uuid::parse_str(job_id).expect("job_id is a UUID");
    assert_eq!(uuid.get_version_num(), 7, "job ids are time-ordered UUIDv7");
    let created = jobs_api::job::time::Timestamp::parse(body["created_at"].as_str().unwrap())
        .expect("created_at is RFC 3339");
    let age = jobs_api::job::time::Timestamp::now().seconds_since(created);
    assert!(age < 60.0, "created_at is now, not {age}s ago");
    job_id.to_owned()
}

/// A caller of one organization, with a valid token.
pub struct Tenant {
    pub org: String,
    pub auth: String,
}

impl Tenant {
    pub fn new(prefix: &str) -> Self {
        let org = unique_org(prefix);
        let auth = format!("Bearer {}", token(&claims(&org)));
        Tenant { org, auth }
    }

    pub fn get(&self, path: &str) -> Request {
        request("GET", path, &[("authorization", &self.auth)], "")
    }

    pub fn post(&self, path: &str, body: &Value) -> Request {
        request(
            "POST",
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", &self.auth),
            ],
            &body.to_string(),
        )
    }

    /// Creates a job and returns its response.
    pub async fn create(&self, app: &App, body: Value) -> Value {
        let reply = send(app, self.post("/api/jobs/", &body)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Creates a job and returns its id.
    pub async fn create_id(&self, app: &App, body: Value) -> String {
        let job = self.create(app, body).await;
        job["job_id"].as_str().expect("job_id").to_owned()
    }

    pub async fn progress(&self, app: &App, job_id: &str, body: Value) -> Reply {
        send(
            app,
            self.post(&format!("/api/jobs/{job_id}/progress"), &body),
        )
        .await
    }
}

/// A table of its own on the local DynamoDB, made from template.yaml like the test
/// command's (by scripts/create_table.py), for tests that sweep: the sweep reads the
/// whole table's due jobs, so its counts are exact only where no other test writes.
pub fn fresh_table(prefix: &str) -> String {
    env("AWS_ENDPOINT_URL_DYNAMODB");
    let name = format!("{prefix}-{}", uuid::Uuid::now_v7().simple());
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new(format!("{root}/.tools/venv/bin/python"))
        .arg(format!("{root}/scripts/create_table.py"))
        .args(["--table-name", &name])
        .output()
        .expect("running scripts/create_table.py (installed by scripts/tools.sh)");
    assert!(
        output.status.success(),
        "create_table.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    name
}

/// The raw stored item of a job in `table`.
pub async fn stored_item_in(
    client: &Client,
    table: &str,
    org: &str,
    job_id: &str,
) -> HashMap<String, AttributeValue> {
    let (pk, sk) = store::keys::job(org, job_id);
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .expect("reading the table")
        .item
        .expect("the job's item")
}

/// A client like [`client`] whose calls go through `proxy`, with a retry partition of
/// its own (see [`app_behind`]).
pub async fn client_behind(proxy: &proxy::Proxy) -> Client {
    let proxied = client()
        .await
        .config()
        .to_builder()
        .endpoint_url(proxy.url())
        .retry_partition(RetryPartition::new(format!(
            "proxied-{}",
            uuid::Uuid::now_v7().simple()
        )))
        .build();
    Client::from_conf(proxied)
}

/// Makes a stored job unreadable by this version (a status it does not know, as a
/// later version or a hand edit could leave), and sets `more` on it too.
pub async fn spoil_job(
    client: &Client,
    table: &str,
    org: &str,
    job_id: &str,
    more: &[(&str, AttributeValue)],
) {
    let (pk, sk) = store::keys::job(org, job_id);
    let mut expression = "SET #status = :spoiled".to_owned();
    let mut update = client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":spoiled", s("archived"));
    for (index, (name, value)) in more.iter().enumerate() {
        expression.push_str(&format!(", #n{index} = :v{index}"));
        update = update
            .expression_attribute_names(format!("#n{index}"), *name)
            .expression_attribute_values(format!(":v{index}"), value.clone());
    }
    update
        .update_expression(expression)
        .send()
        .await
        .expect("spoiling a job item");
}
