//! CloudWatch metrics as Embedded Metric Format (EMF): each request's one log line
//! carries its metrics, which CloudWatch Logs extracts (no API call, no agent).
//!
//! Why not a crate: the kept EMF crates aggregate through the `metrics` facade and
//! flush lines of their own, which would log every request twice (the request line and
//! a metrics line) and add a registry to the cold start. One request is one line here,
//! so a small writer over `serde_json` does it.
//!
//! Deep code (the store's error mapping, the routes) notes what happened with the free
//! functions below ([`count`], [`job_created`], [`job_ended`]); they write into the
//! [`Tally`] of the request being handled (a task-local set by [`Tally::scope`]), and do
//! nothing outside one, so tests and tools need no setup.
//!
//! Dimensions are bounded: the route, the status class, the job type (from the
//! configured set) and the final status. Organization and job ids go in as plain
//! properties, never dimensions, so there is no metric per tenant.

use std::cell::RefCell;
use std::future::Future;

use serde_json::{Map, Value, json};

use crate::job::JobStatus;
use crate::time::Timestamp;

/// The namespace every metric is published under; the template's alarms and dashboard
/// use the same one (`tests/template.rs` checks that the names agree).
pub const NAMESPACE: &str = "JobsApi";

/// Every metric name the code emits, with its unit: the one list the template's alarms
/// are checked against.
pub const METRICS: &[(&str, &str)] = &[
    ("Requests", "Count"),
    ("Latency", "Milliseconds"),
    ("JobsCreated", "Count"),
    ("JobsEnded", "Count"),
    ("JobDuration", "Seconds"),
    ("DynamoDbThrottles", "Count"),
    ("DynamoDbTimeouts", "Count"),
    ("ConditionalCheckConflicts", "Count"),
    ("IdempotentReplays", "Count"),
    ("UnreadableItems", "Count"),
];

/// Something the store or a route noticed, counted once per occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// DynamoDB throttled a call beyond the SDK's retries.
    DynamoDbThrottle,
    /// DynamoDB did not answer in time, or could not be reached.
    DynamoDbTimeout,
    /// A conditional write or a transaction lost to the job's state or another write.
    ConditionalCheckConflict,
    /// A request with a used `Idempotency-Key` answered from its record.
    IdempotentReplay,
    /// A stored item this version cannot read, skipped (or, read alone, refused).
    UnreadableItem,
}

/// What one request did, beyond its route, status and latency.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub dynamodb_throttles: u32,
    pub dynamodb_timeouts: u32,
    pub conditional_check_conflicts: u32,
    pub idempotent_replays: u32,
    pub unreadable_items: u32,
    /// The type of the job this request created.
    pub created: Option<String>,
    /// The job this request ended: its type, final status and duration.
    pub ended: Option<JobEnded>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobEnded {
    pub job_type: String,
    pub status: JobStatus,
    pub duration_seconds: Option<f64>,
}

tokio::task_local! {
    static TALLY: RefCell<Tally>;
}

impl Tally {
    /// Runs `work` with a fresh tally that the functions below write into; returns the
    /// work's output and the tally.
    pub async fn scope<F: Future>(work: F) -> (F::Output, Tally) {
        TALLY
            .scope(RefCell::new(Tally::default()), async {
                let output = work.await;
                (output, TALLY.with(|tally| tally.take()))
            })
            .await
    }
}

fn with_tally(change: impl FnOnce(&mut Tally)) {
    let _outside_a_request = TALLY.try_with(|tally| change(&mut tally.borrow_mut()));
}

pub fn count(counter: Counter) {
    with_tally(|tally| {
        let field = match counter {
            Counter::DynamoDbThrottle => &mut tally.dynamodb_throttles,
            Counter::DynamoDbTimeout => &mut tally.dynamodb_timeouts,
            Counter::ConditionalCheckConflict => &mut tally.conditional_check_conflicts,
            Counter::IdempotentReplay => &mut tally.idempotent_replays,
            Counter::UnreadableItem => &mut tally.unreadable_items,
        };
        *field += 1;
    });
}

pub fn job_created(job_type: &str) {
    with_tally(|tally| tally.created = Some(job_type.to_owned()));
}

pub fn job_ended(ending: JobEnded) {
    with_tally(|tally| tally.ended = Some(ending));
}

/// The request line's facts that are not metrics.
pub struct RequestFacts<'a> {
    pub at: Timestamp,
    pub route: &'a str,
    pub method: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub request_id: Option<&'a str>,
    pub xray_trace_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    pub job_id: Option<&'a str>,
}

/// `2xx`, `4xx`, `5xx`…: a bounded dimension.
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// The request's one JSON log line: what the log always said (`level`, `message`,
/// route, status, latency, ids) plus the `_aws` block that makes CloudWatch extract
/// its metrics. Every metric is written in every line (zeros too), so that a sum over a
/// period counts requests and an alarm on a rare event sees zeros, not missing data.
pub fn request_line(facts: &RequestFacts<'_>, tally: &Tally) -> String {
    let mut line = Map::new();
    line.insert("timestamp".into(), json!(facts.at.to_string()));
    line.insert("level".into(), json!("INFO"));
    line.insert("message".into(), json!("request"));
    line.insert("method".into(), json!(facts.method));
    line.insert("route".into(), json!(facts.route));
    line.insert("status".into(), json!(facts.status));
    line.insert("status_class".into(), json!(status_class(facts.status)));
    for (key, value) in [
        ("request_id", facts.request_id),
        ("xray_trace_id", facts.xray_trace_id),
        ("organization_id", facts.organization_id),
        ("job_id", facts.job_id),
    ] {
        if let Some(value) = value {
            line.insert(key.into(), json!(value));
        }
    }
    line.insert("Requests".into(), json!(1));
    line.insert("Latency".into(), json!(round3(facts.latency_ms)));
    line.insert("DynamoDbThrottles".into(), json!(tally.dynamodb_throttles));
    line.insert("DynamoDbTimeouts".into(), json!(tally.dynamodb_timeouts));
    line.insert(
        "ConditionalCheckConflicts".into(),
        json!(tally.conditional_check_conflicts),
    );
    line.insert("IdempotentReplays".into(), json!(tally.idempotent_replays));
    line.insert("UnreadableItems".into(), json!(tally.unreadable_items));

    let request_metrics = |names: &[&str]| -> Value {
        json!(
            names
                .iter()
                .map(|name| json!({"Name": name, "Unit": unit(name)}))
                .collect::<Vec<_>>()
        )
    };
    let mut directives = vec![
        json!({
            "Namespace": NAMESPACE,
            "Dimensions": [["route"], ["status_class"], ["route", "status_class"]],
            "Metrics": request_metrics(&["Requests", "Latency"]),
        }),
        json!({
            "Namespace": NAMESPACE,
            "Dimensions": [[]],
            "Metrics": request_metrics(&[
                "DynamoDbThrottles",
                "DynamoDbTimeouts",
                "ConditionalCheckConflicts",
                "IdempotentReplays",
                "UnreadableItems",
            ]),
        }),
    ];
    if let Some(job_type) = &tally.created {
        line.insert("job_type".into(), json!(job_type));
        line.insert("JobsCreated".into(), json!(1));
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": [[], ["job_type"]],
            "Metrics": request_metrics(&["JobsCreated"]),
        }));
    }
    if let Some(ending) = &tally.ended {
        directives.push(ending_directive(&mut line, ending));
    }
    line.insert(
        "_aws".into(),
        json!({"Timestamp": facts.at.millis(), "CloudWatchMetrics": directives}),
    );
    Value::Object(line).to_string()
}

/// The line of a job ended outside a request (the sweep's timeouts): the same
/// `JobsEnded` and `JobDuration` a request that ends a job writes, with `message` and
/// the ids and facts given in `properties`.
pub fn ending_line(
    at: Timestamp,
    message: &str,
    ending: &JobEnded,
    properties: &[(&str, &str)],
) -> String {
    let mut line = Map::new();
    line.insert("timestamp".into(), json!(at.to_string()));
    line.insert("level".into(), json!("INFO"));
    line.insert("message".into(), json!(message));
    for (key, value) in properties {
        line.insert((*key).into(), json!(value));
    }
    let directive = ending_directive(&mut line, ending);
    line.insert(
        "_aws".into(),
        json!({"Timestamp": at.millis(), "CloudWatchMetrics": [directive]}),
    );
    Value::Object(line).to_string()
}

/// The line of items skipped as unreadable outside a request (the sweep's jobs, the
/// events function's stream records): `UnreadableItems` as a request line counts them.
pub fn unreadable_line(
    at: Timestamp,
    message: &str,
    unreadable: usize,
    properties: &[(&str, &str)],
) -> String {
    let mut line = Map::new();
    line.insert("timestamp".into(), json!(at.to_string()));
    line.insert("level".into(), json!("WARN"));
    line.insert("message".into(), json!(message));
    for (key, value) in properties {
        line.insert((*key).into(), json!(value));
    }
    line.insert("UnreadableItems".into(), json!(unreadable));
    let directive = json!({
        "Namespace": NAMESPACE,
        "Dimensions": [[]],
        "Metrics": [{"Name": "UnreadableItems", "Unit": unit("UnreadableItems")}],
    });
    line.insert(
        "_aws".into(),
        json!({"Timestamp": at.millis(), "CloudWatchMetrics": [directive]}),
    );
    Value::Object(line).to_string()
}

/// Writes an ending's values and dimensions into `line`; returns their directive.
fn ending_directive(line: &mut Map<String, Value>, ending: &JobEnded) -> Value {
    line.insert("job_type".into(), json!(ending.job_type));
    line.insert("final_status".into(), json!(ending.status.as_str()));
    line.insert("JobsEnded".into(), json!(1));
    let mut names = vec!["JobsEnded"];
    if let Some(seconds) = ending.duration_seconds {
        line.insert("JobDuration".into(), json!(round3(seconds)));
        names.push("JobDuration");
    }
    json!({
        "Namespace": NAMESPACE,
        "Dimensions": [["final_status"], ["job_type", "final_status"]],
        "Metrics": names
            .iter()
            .map(|name| json!({"Name": name, "Unit": unit(name)}))
            .collect::<Vec<_>>(),
    })
}

fn unit(name: &str) -> &'static str {
    METRICS
        .iter()
        .find(|(known, _)| *known == name)
        .map_or("None", |(_, unit)| unit)
}

/// Milliseconds to the microsecond: more digits are noise in a log line.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: u16) -> RequestFacts<'static> {
        RequestFacts {
            at: Timestamp::from_millis(1_764_000_000_123),
            route: "POST /api/jobs/",
            method: "POST",
            status,
            latency_ms: 12.345_678,
            request_id: Some("req-1"),
            xray_trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793"),
            organization_id: Some("org-1"),
            job_id: None,
        }
    }

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).expect("a request line is JSON")
    }

    /// Every metric a directive names has a numeric value at the top level, and every
    /// dimension it names is a string there: what CloudWatch needs to extract it.
    fn assert_valid_emf(line: &Value) {
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert!(line["_aws"]["Timestamp"].is_u64());
        for directive in directives {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for set in directive["Dimensions"].as_array().unwrap() {
                for dimension in set.as_array().unwrap() {
                    let name = dimension.as_str().unwrap();
                    assert!(line[name].is_string(), "dimension {name} missing");
                    assert!(!["organization_id", "job_id"].contains(&name));
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(line[name].is_number(), "metric {name} has no value");
                assert!(
                    METRICS
                        .iter()
                        .any(|(known, unit)| *known == name && metric["Unit"] == *unit)
                );
            }
        }
    }

    #[test]
    fn a_plain_request_counts_itself_by_route_and_status_class() {
        let (_, tally) = futures_util::FutureExt::now_or_never(Tally::scope(async {})).unwrap();
        let line = parse(&request_line(&facts(503), &tally));
        assert_valid_emf(&line);
        assert_eq!(line["status_class"], "5xx");
        assert_eq!(line["Requests"], 1);
        assert_eq!(line["Latency"], 12.346);
        assert_eq!(line["level"], "INFO");
        assert_eq!(
            line["xray_trace_id"],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_764_000_000_123u64);
        assert!(line.get("JobsCreated").is_none());
        assert!(line.get("job_id").is_none(), "absent ids are left out");
    }

    #[test]
    fn what_deep_code_notes_lands_in_the_requests_tally_only() {
        count(Counter::DynamoDbThrottle); // outside a request: nothing, no panic
        let work = async {
            count(Counter::DynamoDbThrottle);
            count(Counter::ConditionalCheckConflict);
            count(Counter::ConditionalCheckConflict);
            count(Counter::IdempotentReplay);
            count(Counter::UnreadableItem);
            job_created("crawl");
            job_ended(JobEnded {
                job_type: "crawl".into(),
                status: JobStatus::Failed,
                duration_seconds: Some(61.5),
            });
            7
        };
        let (output, tally) = futures_util::FutureExt::now_or_never(Tally::scope(work)).unwrap();
        assert_eq!(output, 7);
        assert_eq!(tally.dynamodb_throttles, 1);
        assert_eq!(tally.conditional_check_conflicts, 2);
        let line = parse(&request_line(&facts(201), &tally));
        assert_valid_emf(&line);
        assert_eq!(line["DynamoDbThrottles"], 1);
        assert_eq!(line["ConditionalCheckConflicts"], 2);
        assert_eq!(line["IdempotentReplays"], 1);
        assert_eq!(line["JobsCreated"], 1);
        assert_eq!(line["JobsEnded"], 1);
        assert_eq!(line["JobDuration"], 61.5);
        assert_eq!(line["final_status"], "failed");
        assert_eq!(line["job_type"], "crawl");
        for (name, _) in METRICS {
            assert!(line[name].is_number(), "{name} is listed but never written");
        }
    }

    #[test]
    fn a_job_ended_by_the_sweep_counts_as_every_other_ending() {
        let ending = JobEnded {
            job_type: "import".into(),
            status: JobStatus::Failed,
            duration_seconds: Some(300.0),
        };
        let at = Timestamp::from_millis(1_764_000_000_000);
        let text = ending_line(at, "sweep: job ended", &ending, &[("job_id", "j-1")]);
        let line = parse(&text);
        assert_valid_emf(&line);
        assert_eq!(line["JobsEnded"], 1);
        assert_eq!(line["JobDuration"], 300.0);
        assert_eq!(line["final_status"], "failed");
        assert_eq!(line["job_id"], "j-1");
        assert_eq!(line["message"], "sweep: job ended");
    }

    #[test]
    fn items_skipped_outside_a_request_are_counted_as_in_one() {
        let at = Timestamp::from_millis(1_764_000_000_000);
        let text = unreadable_line(at, "sweep: unreadable job skipped", 2, &[("shard", "7")]);
        let line = parse(&text);
        assert_valid_emf(&line);
        assert_eq!(line["UnreadableItems"], 2);
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["shard"], "7");
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(500), "5xx");
        assert_eq!(status_class(503), "5xx");
    }
}
