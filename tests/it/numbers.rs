//! Numbers in free-form JSON (`metadata`, `metadata_patch`, error and warning `details`)
//! keep their digits, against the local DynamoDB. A number DynamoDB holds exactly comes
//! back from create, get, list, a progress report and the history as the same decimal,
//! in canonical text, and is stored as that decimal; any other is refused with a `422`
//! naming it, and nothing is written. Numbers are compared as exact decimals
//! (`jobs_api::job::decimal`) or as text, never as floats.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use jobs_api::App;
use jobs_api::job::decimal::Decimal;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value, json};

use crate::common::*;

/// The issue's cases: the text sent, and the canonical text every answer carries.
const KEPT: [(&str, &str); 11] = [
    ("98765432109876543210", "98765432109876543210"),
    ("12.345678901234567890123", "12.345678901234567890123"),
    ("-0", "0"),
    ("1e-130", "1e-130"),
    ("1e125", "1e+125"),
    ("1E+2", "100"),
    ("1.50", "1.5"),
    // 38 significant digits: an integer, a fraction, the largest number DynamoDB holds.
    (
        "12345678901234567890123456789012345678",
        "12345678901234567890123456789012345678",
    ),
    (
        "-0.12345678901234567890123456789012345678",
        "-0.12345678901234567890123456789012345678",
    ),
    (
        "9.9999999999999999999999999999999999999e125",
        "9.9999999999999999999999999999999999999e+125",
    ),
    ("1000000000000000000000000000000000000000", "1e+39"),
];

/// Numbers DynamoDB cannot hold exactly: 39 significant digits, or out of its range.
const REFUSED: [&str; 6] = [
    "123456789012345678901234567890123456789",
    "1.00000000000000000000000000000000000001",
    "1e126",
    "-1e126",
    "1e-131",
    "1e400",
];

fn decimal(text: &str) -> Decimal {
    Decimal::parse(text).unwrap_or_else(|| panic!("{text} is a decimal"))
}

/// `{"n0": …, "n1": …, "all": [all of them]}`, each number as written in `texts`.
fn numbers_object(texts: &[String]) -> Value {
    let fields: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| format!(r#""n{i}": {text}"#))
        .collect();
    let json = format!(
        r#"{{{}, "all": [{}]}}"#,
        fields.join(", "),
        texts.join(", ")
    );
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn number_text<'a>(value: &'a Value, context: &str) -> &'a str {
    match value {
        Value::Number(number) => number.as_str(),
        other => panic!("{context}: {other} is not a number"),
    }
}

/// An answer's copy of [`numbers_object`] carries exactly the `expected` texts.
fn assert_answered(found: &Value, expected: &[String], context: &str) {
    for (i, expected) in expected.iter().enumerate() {
        let single = number_text(&found[format!("n{i}")], context);
        let listed = number_text(&found["all"][i], context);
        assert_eq!(
            (single, listed),
            (expected.as_str(), expected.as_str()),
            "{context}: n{i}"
        );
    }
}

/// The stored copy of [`numbers_object`] holds the `expected` decimals.
fn assert_stored(found: &AttributeValue, expected: &[String], context: &str) {
    let stored = |value: &AttributeValue| match value {
        AttributeValue::N(text) => decimal(text),
        other => panic!("{context}: {other:?} is not a number"),
    };
    let AttributeValue::M(map) = found else {
        panic!("{context}: {found:?} is not a map");
    };
    let Some(AttributeValue::L(all)) = map.get("all") else {
        panic!("{context}: no list");
    };
    for (i, expected) in expected.iter().enumerate() {
        let expected = decimal(expected);
        assert_eq!(stored(&map[&format!("n{i}")]), expected, "{context}: n{i}");
        assert_eq!(stored(&all[i]), expected, "{context}: all[{i}]");
    }
}

fn details_of(item: &HashMap<String, AttributeValue>) -> &AttributeValue {
    item.get("details").expect("details stored")
}

/// `texts` through create, get, list, a progress report (`metadata_patch`, an error's and
/// a warning's `details`), the job again and its history: every answer carries `expected`
/// and every stored copy holds it.
async fn round_trip(app: &App, texts: &[String], expected: &[String]) {
    let client = client().await;
    let tenant = Tenant::new("numbers");
    let numbers = numbers_object(texts);
    let body = json!({"job_type": "crawl", "total_items": 1, "metadata": numbers});
    let created = tenant.create(app, body).await;
    assert_answered(&created["metadata"], expected, "create");
    let job_id = created["job_id"].as_str().expect("job id").to_owned();
    let item = stored_item(&client, &tenant.org, &job_id)
        .await
        .expect("stored");
    assert_stored(&item["metadata"], expected, "stored metadata");
    let read = send(app, tenant.get(&format!("/api/jobs/{job_id}"))).await;
    assert_answered(&read.body["metadata"], expected, "get");
    let listed = send(app, tenant.get("/api/jobs/")).await;
    assert_eq!(listed.status, 200, "list: {}", listed.body);
    assert_answered(&listed.body["items"][0]["metadata"], expected, "list");

    let issue =
        json!({"entity_key": "row-1", "error_type": "parse", "message": "bad", "details": numbers});
    let report = json!({"metadata_patch": {"patch": numbers}, "error": issue, "warning": issue});
    let reported = tenant.progress(app, &job_id, report).await;
    assert_eq!(reported.status, 200, "{}", reported.body);
    let read = send(app, tenant.get(&format!("/api/jobs/{job_id}"))).await;
    for (job, when) in [(&reported.body, "report"), (&read.body, "get after report")] {
        assert_answered(&job["metadata"], expected, &format!("{when}: metadata"));
        assert_answered(
            &job["metadata"]["patch"],
            expected,
            &format!("{when}: patch"),
        );
        assert_answered(
            &job["errors"][0]["details"],
            expected,
            &format!("{when}: error"),
        );
        assert_answered(
            &job["warnings"][0]["details"],
            expected,
            &format!("{when}: warning"),
        );
    }
    for kind in ["errors", "warnings"] {
        let history = send(app, tenant.get(&format!("/api/jobs/{job_id}/{kind}"))).await;
        assert_answered(&history.body["items"][0]["details"], expected, kind);
    }
    let item = stored_item(&client, &tenant.org, &job_id)
        .await
        .expect("stored");
    let AttributeValue::M(metadata) = &item["metadata"] else {
        panic!("metadata is a map");
    };
    assert_stored(&metadata["patch"], expected, "stored patch");
    let history = history_items(&client, &tenant.org, &job_id).await;
    assert_eq!(history.len(), 2, "an error and a warning");
    for issue in &history {
        assert_stored(details_of(issue), expected, "stored details");
    }
}

#[tokio::test]
async fn the_issues_numbers_keep_their_digits_everywhere() {
    let app = app().await;
    let sent: Vec<String> = KEPT.iter().map(|(sent, _)| sent.to_string()).collect();
    let kept: Vec<String> = KEPT.iter().map(|(_, kept)| kept.to_string()).collect();
    round_trip(&app, &sent, &kept).await;
}

/// The `422` for `bad` at `loc`, as FastAPI shapes it, naming the number.
fn assert_refused_at(reply: &Reply, loc: &[Value], bad: &str) {
    assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
    let detail = &reply.body["detail"];
    assert_eq!(detail.as_array().map(Vec::len), Some(1), "{bad}: {detail}");
    assert_eq!(detail[0]["type"], "value_error", "{bad}");
    assert_eq!(detail[0]["loc"].as_array().unwrap(), loc, "{bad}");
    let input = number_text(&detail[0]["input"], bad);
    assert_eq!(decimal(input), decimal(bad), "the input is the number");
    assert!(
        detail[0]["msg"].as_str().unwrap().contains("DynamoDB"),
        "{bad}: {detail}"
    );
}

/// A tenant with one job, to send refused requests as, and a check that they wrote nothing.
struct Untouched {
    tenant: Tenant,
    job_id: String,
    item: HashMap<String, AttributeValue>,
}

impl Untouched {
    async fn new(app: &App) -> Self {
        let tenant = Tenant::new("numbers-refused");
        let job = tenant
            .create(
                app,
                json!({"job_type": "crawl", "total_items": 1, "metadata": {"n": 1}}),
            )
            .await;
        let job_id = job["job_id"].as_str().expect("job id").to_owned();
        let item = stored_item(&client().await, &tenant.org, &job_id)
            .await
            .expect("stored");
        Untouched {
            tenant,
            job_id,
            item,
        }
    }

    /// Sends `numbers`, which hold `bad` at `path`, as a new job's `metadata`, then as
    /// this job's `metadata_patch` and an error's `details`: each must be refused.
    async fn refuse(&self, app: &App, numbers: &Value, path: &[Value], bad: &str) {
        let at = |start: &[&str]| -> Vec<Value> {
            start
                .iter()
                .map(|&part| Value::from(part))
                .chain(path.iter().cloned())
                .collect()
        };
        let body = json!({"job_type": "crawl", "total_items": 1, "metadata": numbers});
        let reply = send(app, self.tenant.post("/api/jobs/", &body)).await;
        assert_refused_at(&reply, &at(&["body", "metadata"]), bad);
        let patch = json!({"metadata_patch": numbers, "processed_items": 1});
        let reply = self.tenant.progress(app, &self.job_id, patch).await;
        assert_refused_at(&reply, &at(&["body", "metadata_patch"]), bad);
        let error = json!({"error": {"entity_key": "k", "error_type": "t", "message": "m", "details": numbers}});
        let reply = self.tenant.progress(app, &self.job_id, error).await;
        assert_refused_at(&reply, &at(&["body", "error", "details"]), bad);
    }

    async fn assert_untouched(&self) {
        let client = client().await;
        let item = stored_item(&client, &self.tenant.org, &self.job_id).await;
        assert_eq!(item.as_ref(), Some(&self.item), "the job is unchanged");
        let history = history_items(&client, &self.tenant.org, &self.job_id).await;
        assert!(history.is_empty(), "no error recorded");
        assert_eq!(
            items_of(&client, &self.tenant.org).await,
            1,
            "no job created"
        );
    }
}

#[tokio::test]
async fn numbers_dynamodb_cannot_hold_are_refused_at_their_path_and_nothing_is_written() {
    let app = app().await;
    let job = Untouched::new(&app).await;
    for bad in REFUSED {
        let numbers: Value = serde_json::from_str(&format!(
            r#"{{"order": {{"lines": [1, {{"id": {bad}}}]}}}}"#
        ))
        .unwrap();
        let path = [json!("order"), json!("lines"), json!(1), json!("id")];
        job.refuse(&app, &numbers, &path, bad).await;
    }
    job.assert_untouched().await;
}

/// How a generated number is written.
#[derive(Clone, Copy, Debug)]
enum Notation {
    /// `123.45`, `0.00012`, `1200.00`
    Plain,
    /// `1.2345e2`, `12.345E+1`, `1.50e-3`
    Exponent,
    /// `0.0012345e5`
    LeadingZeros,
}

/// A decimal with `digits` whose first digit is at the power of ten `magnitude`.
#[derive(Clone, Debug)]
struct Generated {
    negative: bool,
    digits: String,
    magnitude: i64,
    notation: Notation,
    /// Where the point goes in exponent notation: after this many digits (1 to all).
    point: prop::sample::Index,
    /// Zeros added: after the last digit (behind a point) or before the first.
    zeros: usize,
    upper_e: bool,
    plus: bool,
}

impl Generated {
    /// The number as sent.
    fn text(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        let len = self.digits.len() as i64;
        let zeros = "0".repeat(self.zeros);
        let exponent = |power: i64| {
            let e = if self.upper_e { "E" } else { "e" };
            let plus = if self.plus && power >= 0 { "+" } else { "" };
            format!("{e}{plus}{power}")
        };
        match self.notation {
            Notation::Plain => {
                let last = self.magnitude - len + 1;
                if last >= 0 {
                    let point = if zeros.is_empty() { "" } else { "." };
                    format!(
                        "{sign}{}{}{point}{zeros}",
                        self.digits,
                        "0".repeat(last as usize)
                    )
                } else if self.magnitude >= 0 {
                    let (whole, fraction) = self.digits.split_at(self.magnitude as usize + 1);
                    format!("{sign}{whole}.{fraction}{zeros}")
                } else {
                    let leading = "0".repeat((-self.magnitude - 1) as usize);
                    format!("{sign}0.{leading}{}{zeros}", self.digits)
                }
            }
            Notation::Exponent => {
                let at = self.point.index(self.digits.len()) + 1;
                let (whole, fraction) = self.digits.split_at(at);
                let fraction = format!("{fraction}{zeros}");
                let point = if fraction.is_empty() { "" } else { "." };
                let power = self.magnitude - (at as i64 - 1);
                format!("{sign}{whole}{point}{fraction}{}", exponent(power))
            }
            Notation::LeadingZeros => {
                let power = self.magnitude + self.zeros as i64 + 1;
                format!("{sign}0.{zeros}{}{}", self.digits, exponent(power))
            }
        }
    }

    /// The same value, written the one way this test knows to be right.
    fn value(&self) -> Decimal {
        let sign = if self.negative { "-" } else { "" };
        let (first, rest) = self.digits.split_at(1);
        decimal(&format!("{sign}{first}.{rest}0e{}", self.magnitude))
    }
}

/// Numbers with `digits` significant digits (a regex) at `magnitudes`, in every notation
/// (plain only where its text stays short).
fn numbers(
    digits: &'static str,
    magnitudes: impl Strategy<Value = i64>,
) -> impl Strategy<Value = Generated> {
    let notation = prop_oneof![
        Just(Notation::Plain),
        Just(Notation::Exponent),
        Just(Notation::LeadingZeros)
    ];
    (
        any::<bool>(),
        digits,
        magnitudes,
        notation,
        any::<prop::sample::Index>(),
        0usize..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(negative, digits, magnitude, notation, point, zeros, upper_e, plus)| {
                let notation = match notation {
                    Notation::Plain if !(-20..=60).contains(&magnitude) => Notation::Exponent,
                    other => other,
                };
                Generated {
                    negative,
                    digits,
                    magnitude,
                    notation,
                    point,
                    zeros,
                    upper_e,
                    plus,
                }
            },
        )
}

/// Weighted towards DynamoDB's limits: 38 digits, 1e-130, 9.99…e125.
fn storable_numbers() -> impl Strategy<Value = Generated> {
    prop_oneof![
        numbers("[1-9][0-9]{0,37}", -130i64..=125),
        // Integers and everyday fractions, more often than the whole range gives them.
        numbers("[1-9][0-9]{0,37}", -8i64..=40),
        numbers("[1-9][0-9]{36}[1-9]", -130i64..=125),
        numbers("[1-9][0-9]{0,37}", prop_oneof![Just(-130i64), Just(125)]),
    ]
}

/// Weighted towards just past DynamoDB's limits: 39 digits, 1e126, 9.99…e-131.
fn unstorable_numbers() -> impl Strategy<Value = Generated> {
    prop_oneof![
        numbers("[1-9][0-9]{37}[1-9]", -130i64..=125),
        numbers("[1-9][0-9]{37,58}[1-9]", -130i64..=125),
        numbers("[1-9][0-9]{0,37}", prop_oneof![Just(-131i64), Just(126)]),
        numbers("[1-9][0-9]{0,10}", 126i64..=400),
        numbers("[1-9][0-9]{0,10}", -400i64..=-131),
    ]
}

fn runner(cases: u32) -> (TestRunner, tokio::runtime::Runtime) {
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    (TestRunner::new(config), runtime)
}

#[test]
fn any_number_dynamodb_holds_comes_back_as_the_same_decimal() {
    let (mut runner, runtime) = runner(48);
    let app = runtime.block_on(app());
    let result = runner.run(
        &prop::collection::vec(storable_numbers(), 1..=16),
        |generated| {
            let sent: Vec<String> = generated.iter().map(Generated::text).collect();
            let canonical: Vec<String> =
                sent.iter().map(|text| decimal(text).to_string()).collect();
            for ((number, sent), canonical) in generated.iter().zip(&sent).zip(&canonical) {
                prop_assert_eq!(
                    &decimal(canonical),
                    &number.value(),
                    "{} read as {}",
                    sent,
                    canonical
                );
            }
            runtime.block_on(round_trip(&app, &sent, &canonical));
            Ok(())
        },
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn any_number_dynamodb_cannot_hold_is_refused() {
    let (mut runner, runtime) = runner(32);
    let app = runtime.block_on(app());
    let job = runtime.block_on(Untouched::new(&app));
    let strategy = (
        prop::collection::vec(storable_numbers(), 0..8),
        unstorable_numbers(),
        any::<prop::sample::Index>(),
    );
    let result = runner.run(&strategy, |(fine, bad, position)| {
        let mut texts: Vec<String> = fine.iter().map(Generated::text).collect();
        let at = position.index(texts.len() + 1);
        let bad = bad.text();
        texts.insert(at, bad.clone());
        let numbers: Value =
            serde_json::from_str(&format!(r#"{{"lines": [{}]}}"#, texts.join(", ")))
                .unwrap_or_else(|e| panic!("{texts:?}: {e}"));
        let path = [json!("lines"), json!(at)];
        runtime.block_on(job.refuse(&app, &numbers, &path, &bad));
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    runtime.block_on(job.assert_untouched());
}

/// 2^53 − 1: the largest count a job holds, in total as in one report.
const MAX_COUNT: u64 = (1 << 53) - 1;

/// A stored count, as DynamoDB holds it (text: it may be past `u64`).
async fn stored_count(
    client: &aws_sdk_dynamodb::Client,
    org: &str,
    id: &str,
    name: &str,
) -> String {
    match stored_item(client, org, id).await.expect("the job")[name].clone() {
        AttributeValue::N(text) => text,
        other => panic!("{name} is {other:?}"),
    }
}

/// The issue's case: increments of 2^53 − 1 each are accepted one by one, but the total
/// must stay within the cap the README promises. The first fills the count; the next
/// is refused with `409` naming the field (one conditional write decides: the same
/// write that adds), and writes nothing, in a plain update as in a transaction.
#[tokio::test]
async fn count_totals_never_pass_the_cap() {
    let app = app().await;
    let client = client().await;
    let t = Tenant::new("cap");
    let id = t
        .create_id(&app, json!({"job_type": "import", "total_items": 10}))
        .await;
    let reply = t
        .progress(&app, &id, json!({"processed_items_increment": MAX_COUNT}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["processed_items"], MAX_COUNT);
    for _ in 0..2 {
        let reply = t
            .progress(&app, &id, json!({"processed_items_increment": MAX_COUNT}))
            .await;
        assert_eq!(reply.status, 409, "{}", reply.body);
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains("processed_items"), "{detail}");
        assert!(detail.contains(&MAX_COUNT.to_string()), "{detail}");
    }
    let reply = t
        .progress(&app, &id, json!({"processed_items_increment": 1}))
        .await;
    assert_eq!(reply.status, 409, "even by one: {}", reply.body);
    assert_eq!(
        stored_count(&client, &t.org, &id, "processed_items").await,
        MAX_COUNT.to_string()
    );

    // failed_items through an item error: the transaction's condition refuses it.
    let reply = t
        .progress(&app, &id, json!({"failed_items_increment": MAX_COUNT}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let error = json!({"entity_key": "row-1", "entity_type": "row", "error_type": "parse", "message": "bad"});
    let reply = t.progress(&app, &id, json!({"error": error})).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("failed_items")
    );
    assert!(
        history_items(&client, &t.org, &id).await.is_empty(),
        "no history written"
    );
    assert_eq!(
        stored_count(&client, &t.org, &id, "failed_items").await,
        MAX_COUNT.to_string()
    );
    // A set brings the count back within reach; the job is as usable as before.
    let reply = t
        .progress(
            &app,
            &id,
            json!({"processed_items": 5, "processed_items_increment": 1}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["processed_items"], 6);

    // A set and an increment of one report past the cap together: 422 at the increment.
    let reply = t
        .progress(
            &app,
            &id,
            json!({"processed_items": MAX_COUNT, "processed_items_increment": 1}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "processed_items_increment"])
    );
    let reply = t
        .progress(
            &app,
            &id,
            json!({"failed_items_increment": MAX_COUNT, "error": error}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "failed_items_increment"])
    );
    assert_eq!(
        stored_count(&client, &t.org, &id, "processed_items").await,
        "6"
    );
}

/// Concurrent increments racing for the last units below the cap: exactly as many land
/// as fit, the others are `409`, and the total is the cap, never past it.
#[tokio::test]
async fn concurrent_increments_cannot_race_past_the_cap() {
    let app = app().await;
    let client = client().await;
    let t = Tenant::new("cap-race");
    let id = t
        .create_id(&app, json!({"job_type": "import", "total_items": 10}))
        .await;
    let reply = t
        .progress(&app, &id, json!({"processed_items": MAX_COUNT - 10}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let replies = futures_util::future::join_all(
        (0..20).map(|_| t.progress(&app, &id, json!({"processed_items_increment": 1}))),
    )
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        stored_count(&client, &t.org, &id, "processed_items").await,
        MAX_COUNT.to_string()
    );
}

/// A job stored before totals were capped may hold counts past 2^53 − 1, even past
/// `u64`: every read still answers (the count shown as the cap), every list page that
/// holds it too, and an increment is refused with the cap's `409`.
#[tokio::test]
async fn a_job_whose_stored_counts_passed_the_cap_is_still_read_and_listed() {
    let app = app().await;
    let client = client().await;
    let t = Tenant::new("cap-old");
    let id = t
        .create_id(&app, json!({"job_type": "import", "total_items": 10}))
        .await;
    let (pk, sk) = jobs_api::store::keys::job(&t.org, &id);
    client
        .update_item()
        .table_name(env("JOBS_TABLE_NAME"))
        .key("pk", s(&pk))
        .key("sk", s(&sk))
        .update_expression("SET processed_items = :past_u64, failed_items = :past_cap")
        .expression_attribute_values(
            ":past_u64",
            AttributeValue::N("18446744073709551616000".into()),
        )
        .expression_attribute_values(":past_cap", AttributeValue::N("27021597764222973".into()))
        .send()
        .await
        .expect("an old item's counts");
    for path in [format!("/api/jobs/{id}"), format!("/api/jobs/{id}/status")] {
        let reply = send(&app, t.get(&path)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(reply.body["processed_items"], MAX_COUNT, "{path}");
        assert_eq!(reply.body["failed_items"], MAX_COUNT, "{path}");
    }
    let reply = send(&app, t.get("/api/jobs/")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["items"][0]["job_id"], id.as_str());
    let reply = t
        .progress(&app, &id, json!({"processed_items_increment": 1}))
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("processed_items")
    );
}
