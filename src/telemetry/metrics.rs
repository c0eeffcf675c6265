//! CloudWatch metrics as Embedded Metric Format (EMF): each request's one log line
//! carries its metrics, which CloudWatch Logs extracts (no API call, no agent).
//!
//! Why not a crate: the kept EMF crates aggregate through the `metrics` facade and
//! flush lines of their own, which would log every request twice (the request line and
//! a metrics line) and add a registry to the cold start. One request is one line here,
//! so a small JSON writer does it.
//!
//! Deep code (the store's error mapping, the routes) notes what happened with the free
//! functions below ([`count`], [`job_created`], [`job_ended`]); they write into the
//! [`Tally`] of the request being handled (a task-local set by [`Tally::scope`]), and do
//! nothing outside one, so tests and tools need no setup.
//!
//! Dimensions are bounded: the route, the status class, the job type (from the
//! configured set) and the final status. Organization and job ids go in as plain
//! properties, never dimensions, so there is no metric per tenant.
//!
//! The line is written directly into a `String` (the function reuses one for every
//! request): its directives are constants, and building them as a `serde_json::Value`
//! tree per request cost ~145 k instructions, 14 % of a create (issue 26).

use std::cell::RefCell;
use std::future::Future;

use crate::job::JobStatus;
use crate::job::time::Timestamp;

/// The namespace every metric is published under; the template's alarms and dashboard
/// use the same one (`tests/it/template.rs` checks that the names agree).
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
    let mut line = String::with_capacity(LINE_CAPACITY);
    write_request_line(&mut line, facts, tally);
    line
}

/// What a request line takes, rounded up: one allocation, never a regrowth.
pub const LINE_CAPACITY: usize = 2048;

/// [`request_line`] written into `out` (appended): the hot path's form, so that the
/// function reuses one buffer for every request. Written directly, not through a
/// `serde_json::Value`: the directives are constants, and a tree of maps for a line of
/// constants cost ~15 % of a create.
pub fn write_request_line(out: &mut String, facts: &RequestFacts<'_>, tally: &Tally) {
    let mut line = Json::open(out, facts.at);
    line.string("level", "INFO");
    line.string("message", "request");
    line.string("method", facts.method);
    line.string("route", facts.route);
    line.integer("status", u64::from(facts.status));
    line.string("status_class", status_class(facts.status));
    for (key, value) in [
        ("request_id", facts.request_id),
        ("xray_trace_id", facts.xray_trace_id),
        ("organization_id", facts.organization_id),
        ("job_id", facts.job_id),
    ] {
        if let Some(value) = value {
            line.string(key, value);
        }
    }
    line.integer("Requests", 1);
    line.thousandths("Latency", facts.latency_ms);
    line.integer("DynamoDbThrottles", tally.dynamodb_throttles.into());
    line.integer("DynamoDbTimeouts", tally.dynamodb_timeouts.into());
    line.integer(
        "ConditionalCheckConflicts",
        tally.conditional_check_conflicts.into(),
    );
    line.integer("IdempotentReplays", tally.idempotent_replays.into());
    line.integer("UnreadableItems", tally.unreadable_items.into());
    // One `job_type` key even when a request both created and ended a job (the
    // ending's, as it is the job's last word).
    if let Some(job_type) = &tally.created {
        if tally.ended.is_none() {
            line.string("job_type", job_type);
        }
        line.integer("JobsCreated", 1);
    }
    if let Some(ending) = &tally.ended {
        line.ending(ending);
    }
    line.aws(facts.at);
    line.out.push_str(REQUEST_DIRECTIVES);
    if tally.created.is_some() {
        line.out.push(',');
        line.out.push_str(CREATED_DIRECTIVE);
    }
    if let Some(ending) = &tally.ended {
        line.out.push(',');
        line.out.push_str(ending_directive(ending));
    }
    line.out.push_str("]}}");
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
    line_outside_a_request(
        at,
        "INFO",
        message,
        properties,
        ending_directive(ending),
        |line| line.ending(ending),
    )
}

/// The line of items skipped as unreadable outside a request (the sweep's jobs, the
/// events function's stream records): `UnreadableItems` as a request line counts them.
pub fn unreadable_line(
    at: Timestamp,
    message: &str,
    unreadable: usize,
    properties: &[(&str, &str)],
) -> String {
    line_outside_a_request(
        at,
        "WARN",
        message,
        properties,
        UNREADABLE_DIRECTIVE,
        |line| line.integer("UnreadableItems", unreadable as u64),
    )
}

/// A line of the sweep or the events function: its level, message and properties, the
/// metric values `values` writes, and their one `directive`.
fn line_outside_a_request(
    at: Timestamp,
    level: &str,
    message: &str,
    properties: &[(&str, &str)],
    directive: &str,
    values: impl FnOnce(&mut Json),
) -> String {
    let mut out = String::with_capacity(LINE_CAPACITY);
    let mut line = Json::open(&mut out, at);
    line.string("level", level);
    line.string("message", message);
    for (key, value) in properties {
        line.string(key, value);
    }
    values(&mut line);
    line.aws(at);
    line.out.push_str(directive);
    line.out.push_str("]}}");
    out
}

// The directives: constants, as CloudWatch reads them. The tests parse each one and
// check its namespace, its units against `METRICS`, and that the line has a value for
// every metric and dimension it names.
const REQUEST_DIRECTIVES: &str = concat!(
    r#"{"Namespace":"JobsApi","Dimensions":[["route"],["status_class"],["route","status_class"]],"#,
    r#""Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]},"#,
    r#"{"Namespace":"JobsApi","Dimensions":[[]],"Metrics":["#,
    r#"{"Name":"DynamoDbThrottles","Unit":"Count"},{"Name":"DynamoDbTimeouts","Unit":"Count"},"#,
    r#"{"Name":"ConditionalCheckConflicts","Unit":"Count"},{"Name":"IdempotentReplays","Unit":"Count"},"#,
    r#"{"Name":"UnreadableItems","Unit":"Count"}]}"#,
);
const UNREADABLE_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"JobsApi","Dimensions":[[]],"#,
    r#""Metrics":[{"Name":"UnreadableItems","Unit":"Count"}]}"#,
);
const CREATED_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"JobsApi","Dimensions":[[],["job_type"]],"#,
    r#""Metrics":[{"Name":"JobsCreated","Unit":"Count"}]}"#,
);
const ENDED_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"JobsApi","Dimensions":[["final_status"],["job_type","final_status"]],"#,
    r#""Metrics":[{"Name":"JobsEnded","Unit":"Count"}]}"#,
);
const ENDED_WITH_DURATION_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"JobsApi","Dimensions":[["final_status"],["job_type","final_status"]],"#,
    r#""Metrics":[{"Name":"JobsEnded","Unit":"Count"},{"Name":"JobDuration","Unit":"Seconds"}]}"#,
);

fn ending_directive(ending: &JobEnded) -> &'static str {
    match ending.duration_seconds {
        Some(_) => ENDED_WITH_DURATION_DIRECTIVE,
        None => ENDED_DIRECTIVE,
    }
}

/// A JSON object written member by member into a `String`: keys are this module's
/// constants (plain ASCII, written as they are), string values are escaped.
struct Json<'a> {
    out: &'a mut String,
}

impl<'a> Json<'a> {
    /// `{"timestamp":"…"`: every line starts with its RFC 3339 time.
    fn open(out: &'a mut String, at: Timestamp) -> Self {
        out.push_str(r#"{"timestamp":""#);
        at.write_rfc3339(out);
        out.push('"');
        Json { out }
    }

    fn key(&mut self, key: &str) {
        self.out.push_str(",\"");
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(self.out, value);
    }

    fn integer(&mut self, key: &str, value: u64) {
        self.key(key);
        push_u64(self.out, value);
    }

    /// A non-negative quantity to the thousandth (milliseconds to the microsecond: more
    /// digits are noise in a log line), without a float formatter: `12.346`, `61.5`, `3`.
    fn thousandths(&mut self, key: &str, value: f64) {
        self.key(key);
        // Not finite or negative (a clock that went back): 0, still a number.
        let scaled = if value.is_finite() && value > 0.0 {
            (value * 1000.0).round().min(u64::MAX as f64) as u64
        } else {
            0
        };
        push_u64(self.out, scaled / 1000);
        let mut fraction = scaled % 1000;
        if fraction != 0 {
            self.out.push('.');
            let mut digits = 3;
            while fraction % 10 == 0 {
                fraction /= 10;
                digits -= 1;
            }
            for _ in 0..digits - decimal_digits(fraction) {
                self.out.push('0');
            }
            push_u64(self.out, fraction);
        }
    }

    /// An ending's values and dimensions: `final_status`, `JobsEnded`, `JobDuration`.
    fn ending(&mut self, ending: &JobEnded) {
        self.string("job_type", &ending.job_type);
        self.string("final_status", ending.status.as_str());
        self.integer("JobsEnded", 1);
        if let Some(seconds) = ending.duration_seconds {
            self.thousandths("JobDuration", seconds);
        }
    }

    /// `,"_aws":{"Timestamp":…,"CloudWatchMetrics":[`: the directives follow.
    fn aws(&mut self, at: Timestamp) {
        self.out.push_str(r#","_aws":{"Timestamp":"#);
        push_u64(self.out, at.millis());
        self.out.push_str(r#","CloudWatchMetrics":["#);
    }
}

fn decimal_digits(mut value: u64) -> usize {
    let mut digits = 1;
    while value >= 10 {
        value /= 10;
        digits += 1;
    }
    digits
}

fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// `value` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\t`… or
/// `\u00XX` (RFC 8259 §7); everything else, non-ASCII included, as it is. Most values
/// need no escape at all: they are copied whole.
pub fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    let bytes = value.as_bytes();
    let mut copied = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `at` is a character boundary.
        out.push_str(&value[copied..at]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        copied = at + 1;
    }
    out.push_str(&value[copied..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "",
            "plain",
            "quote \" and backslash \\",
            "line\nbreak\r\ttab\u{8}\u{c}",
            "\u{0}\u{1}\u{1f} controls",
            "déjà vu ✓ 🚀",
            "\\\"",
            "ends with \u{7f}",
        ] {
            let mut written = String::new();
            push_json_string(&mut written, text);
            assert_eq!(written, serde_json::to_string(text).unwrap(), "{text:?}");
            assert_eq!(serde_json::from_str::<String>(&written).unwrap(), text);
        }
    }

    #[test]
    fn a_caller_controlled_value_cannot_break_out_of_its_string() {
        let mut facts = facts(404);
        facts.job_id = Some("x\",\"route\":\"GET /\"}\n{\"level\":\"ERROR");
        let text = request_line(&facts, &Tally::default());
        assert!(!text.contains('\n'), "one line");
        let line = parse(&text);
        assert_eq!(line["job_id"], facts.job_id.unwrap());
        assert_eq!(line["route"], "POST /api/jobs/");
        assert_eq!(line["level"], "INFO");
    }

    #[test]
    fn quantities_are_written_to_the_thousandth() {
        let cases = [
            (12.345_678, "12.346"),
            (61.5, "61.5"),
            (300.0, "300"),
            (0.005, "0.005"),
            (0.05, "0.05"),
            (1.0004, "1"),
            (0.0, "0"),
            (-3.0, "0"),
            (f64::NAN, "0"),
            (1e300, "18446744073709551.615"),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            Json { out: &mut out }.thousandths("x", value);
            assert_eq!(out, format!(",\"x\":{expected}"), "{value}");
        }
    }

    #[test]
    fn the_constant_directives_name_known_metrics_in_the_namespace() {
        let directives = format!(
            "[{REQUEST_DIRECTIVES},{CREATED_DIRECTIVE},{ENDED_DIRECTIVE},{ENDED_WITH_DURATION_DIRECTIVE},{UNREADABLE_DIRECTIVE}]"
        );
        let directives: Value = serde_json::from_str(&directives).expect("directives are JSON");
        let mut named = std::collections::BTreeSet::new();
        for directive in directives.as_array().unwrap() {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                let unit = METRICS.iter().find(|(known, _)| *known == name);
                assert_eq!(
                    unit.map(|(_, unit)| *unit),
                    metric["Unit"].as_str(),
                    "{name}"
                );
                named.insert(name);
            }
        }
        assert_eq!(named.len(), METRICS.len(), "every metric has a directive");
    }

    #[test]
    fn a_request_that_creates_and_ends_a_job_writes_one_job_type() {
        let tally = Tally {
            created: Some("crawl".into()),
            ended: Some(JobEnded {
                job_type: "crawl".into(),
                status: JobStatus::Completed,
                duration_seconds: None,
            }),
            ..Tally::default()
        };
        let text = request_line(&facts(201), &tally);
        assert_eq!(text.matches("\"job_type\":").count(), 1, "{text}");
        let line = parse(&text);
        assert_valid_emf(&line);
        assert!(line.get("JobDuration").is_none());
        let reused = {
            let mut buffer = String::from("stale");
            buffer.clear();
            write_request_line(&mut buffer, &facts(201), &tally);
            buffer
        };
        assert_eq!(reused, text);
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
