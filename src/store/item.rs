//! A [`Job`] ⇄ its DynamoDB item, and a [`JobIssue`] → its history item → the
//! [`RecordedIssue`] answers carry. Attribute names are the API's field names; `pk`/`sk`
//! and the `*_key` index attributes are the keys (see [`super::keys`]). Absent optional
//! values are absent attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{Map, Value};

use super::attr;
use super::attr_json::MapJson;
use super::keys::{self, IssueKind};
use crate::job::MAX_COUNT;
use crate::job::time::Timestamp;
use crate::job::{Job, JobIssue, JobStatus, RecordedIssue};

pub type Item = HashMap<String, AttributeValue>;

/// Room for every attribute a job item can have (32), so that building one never
/// rehashes the map (a create grew it five times: ~5 k instructions).
const JOB_ATTRIBUTES: usize = 32;

pub fn from_job(job: &Job) -> Item {
    let (pk, sk) = keys::job(&job.organization_id, &job.job_id);
    let mut item = Item::with_capacity(JOB_ATTRIBUTES);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put("pk", AttributeValue::S(pk));
    put("sk", AttributeValue::S(sk));
    put("organization_id", s(&job.organization_id));
    put("job_id", s(&job.job_id));
    put("job_type", s(&job.job_type));
    put("status", s(job.status.as_str()));
    put("total_items", n(job.total_items));
    put("processed_items", n(job.processed_items));
    put("failed_items", n(job.failed_items));
    put("warned_items", n(job.warned_items));
    put(
        "metadata",
        AttributeValue::M(attr::from_json_map(&job.metadata)),
    );
    put("created_at", AttributeValue::S(job.created_at.rfc3339()));
    put("updated_at", AttributeValue::S(job.updated_at.rfc3339()));
    put("error_count", n(job.error_count));
    put("warning_count", n(job.warning_count));
    let shard = keys::shard(&job.job_id);
    put(
        keys::ORGANIZATION_KEY,
        s(&keys::organization(&job.organization_id, shard)),
    );
    put(
        keys::STATUS_KEY,
        s(&keys::status(&job.organization_id, job.status, shard)),
    );
    if let Some(user) = &job.triggered_by {
        put(
            keys::TRIGGERED_BY_KEY,
            s(&keys::triggered_by(&job.organization_id, user, shard)),
        );
    }
    let optional = [
        ("triggered_by", job.triggered_by.clone()),
        ("started_at", job.started_at.map(Timestamp::rfc3339)),
        ("completed_at", job.completed_at.map(Timestamp::rfc3339)),
        ("error_message", job.error_message.clone()),
        (
            "last_heartbeat_at",
            job.last_heartbeat_at.map(Timestamp::rfc3339),
        ),
        (
            "last_progress_at",
            job.last_progress_at.map(Timestamp::rfc3339),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            put(name, AttributeValue::S(value));
        }
    }
    put_deadlines(job, &mut item);
    item
}

/// The timeouts, and the numbers the conditional writes compare with the time (epoch
/// seconds: DynamoDB can add a timeout to them, `store::update`): `timeout_deadline`,
/// `heartbeat_deadline`, `stall_deadline`, and the sweep's index entry (`deadline_key`, `sweep_at`) while
/// the job has not ended.
fn put_deadlines(job: &Job, item: &mut Item) {
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    if let Some(seconds) = job.heartbeat_timeout_seconds {
        put("heartbeat_timeout_seconds", n(seconds));
    }
    if let Some(seconds) = job.timeout_seconds {
        put("timeout_seconds", n(seconds));
    }
    if let Some(seconds) = job.stall_timeout_seconds {
        put("stall_timeout_seconds", n(seconds));
    }
    if let Some(deadline) = job.timeout_deadline() {
        put(TIMEOUT_DEADLINE, seconds(deadline));
    }
    if let Some(deadline) = job.heartbeat_deadline() {
        put(HEARTBEAT_DEADLINE, seconds(deadline));
    }
    if let Some(deadline) = job.stall_deadline() {
        put(STALL_DEADLINE, seconds(deadline));
    }
    if let Some(at) = job.sweep_at(job.last_heartbeat_at.unwrap_or(job.created_at)) {
        let shard = keys::deadline_shard(&job.job_id);
        put(keys::DEADLINE_KEY, s(&keys::deadline(shard)));
        put(keys::SWEEP_AT, seconds(at));
    }
}

pub const TIMEOUT_DEADLINE: &str = "timeout_deadline";
pub const HEARTBEAT_DEADLINE: &str = "heartbeat_deadline";
pub const STALL_DEADLINE: &str = "stall_deadline";

/// An instant as a table number: epoch seconds, exact to the millisecond.
pub fn seconds(at: Timestamp) -> AttributeValue {
    AttributeValue::N(at.epoch_seconds())
}

pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

pub fn n(count: u64) -> AttributeValue {
    AttributeValue::N(count.to_string())
}

/// The history item of an error or warning: its own item, so a job's history can grow
/// without bound while the job item stays small.
pub fn from_issue(
    organization_id: &str,
    job_id: &str,
    kind: IssueKind,
    issue_id: &str,
    issue: &JobIssue,
) -> Item {
    let (pk, sk) = keys::issue(organization_id, job_id, kind, issue_id);
    let mut map = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
        ("organization_id".to_owned(), s(organization_id)),
        ("job_id".to_owned(), s(job_id)),
        ("entity_key".to_owned(), s(&issue.entity_key)),
        ("entity_type".to_owned(), s(&issue.entity_type)),
        ("error_type".to_owned(), s(&issue.error_type)),
        ("message".to_owned(), s(&issue.message)),
        (
            "timestamp".to_owned(),
            AttributeValue::S(issue.timestamp.rfc3339()),
        ),
    ]);
    if let Some(details) = &issue.details {
        map.insert(
            "details".into(),
            AttributeValue::M(attr::from_json_map(details)),
        );
    }
    if let Some(step) = &issue.step {
        map.insert("step".into(), s(step));
    }
    map
}

/// Why a stored item could not be read as a job: the table holds something this
/// version does not understand. Never caused by a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadItem(pub String);

pub fn to_job(item: &Item) -> Result<Job, BadItem> {
    let status_text = text(item, "status")?;
    let status = JobStatus::parse(&status_text)
        .ok_or_else(|| BadItem("status is not a known status".into()))?;
    Ok(Job {
        organization_id: text(item, "organization_id")?,
        job_id: text(item, "job_id")?,
        job_type: text(item, "job_type")?,
        status,
        total_items: count(item, "total_items")?,
        processed_items: count(item, "processed_items")?,
        failed_items: count(item, "failed_items")?,
        warned_items: count(item, "warned_items")?,
        metadata: map(item.get("metadata")),
        triggered_by: optional_text(item, "triggered_by"),
        created_at: timestamp(item, "created_at")?,
        updated_at: timestamp(item, "updated_at")?,
        started_at: optional_timestamp(item, "started_at")?,
        completed_at: optional_timestamp(item, "completed_at")?,
        error_message: optional_text(item, "error_message"),
        error_count: count(item, "error_count")?,
        warning_count: count(item, "warning_count")?,
        heartbeat_timeout_seconds: optional_count(item, "heartbeat_timeout_seconds")?,
        timeout_seconds: optional_count(item, "timeout_seconds")?,
        stall_timeout_seconds: optional_count(item, "stall_timeout_seconds")?,
        last_heartbeat_at: optional_timestamp(item, "last_heartbeat_at")?,
        last_progress_at: optional_timestamp(item, "last_progress_at")?,
        timed_out: None,
    })
}

fn optional_str<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

fn str_of<'a>(item: &'a Item, name: &str) -> Result<&'a str, BadItem> {
    required(optional_str(item, name), name)
}

/// A string attribute an item must have.
pub(super) fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, BadItem> {
    value.ok_or_else(|| BadItem(format!("{name} missing")))
}

/// A string attribute, if the item has one by that name.
pub fn optional_text(item: &Item, name: &str) -> Option<String> {
    optional_str(item, name).map(str::to_owned)
}

fn text(item: &Item, name: &str) -> Result<String, BadItem> {
    str_of(item, name).map(str::to_owned)
}

/// A count as answers show it: at most [`MAX_COUNT`]. Writes keep totals within it;
/// an item written before they did may hold more (even past `u64`), and is read as
/// holding the cap rather than failing every read and list page that meets it.
fn count(item: &Item, name: &str) -> Result<u64, BadItem> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => match value.parse::<u64>() {
            Ok(count) => Ok(count.min(MAX_COUNT)),
            Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(MAX_COUNT)
            }
            Err(_) => Err(BadItem(format!("{name} is not a whole number"))),
        },
        None => Ok(0),
        Some(_) => Err(BadItem(format!("{name} is not a number"))),
    }
}

fn optional_count(item: &Item, name: &str) -> Result<Option<u64>, BadItem> {
    item.contains_key(name)
        .then(|| count(item, name))
        .transpose()
}

fn optional_timestamp(item: &Item, name: &str) -> Result<Option<Timestamp>, BadItem> {
    optional_str(item, name)
        .map(|value| {
            Timestamp::parse(value).ok_or_else(|| BadItem(format!("{name} is not a timestamp")))
        })
        .transpose()
}

fn timestamp(item: &Item, name: &str) -> Result<Timestamp, BadItem> {
    optional_timestamp(item, name)?.ok_or_else(|| BadItem(format!("{name} missing")))
}

fn map(value: Option<&AttributeValue>) -> Map<String, Value> {
    match value {
        Some(AttributeValue::M(map)) => attr::to_json_map(map),
        _ => Map::new(),
    }
}

/// What a history item is read for: the attributes [`to_recorded_issue`] reads, and its
/// sort key.
pub const ISSUE_ATTRIBUTES: [&str; 8] = [
    "sk",
    "entity_key",
    "entity_type",
    "error_type",
    "message",
    "timestamp",
    "details",
    "step",
];

/// A history item as answers carry it: the JSON of its [`JobIssue`], written straight
/// from the item's attributes, every field checked.
pub fn to_recorded_issue(item: &Item) -> Result<RecordedIssue, BadItem> {
    IssueFields {
        entity_key: str_of(item, "entity_key"),
        entity_type: str_of(item, "entity_type"),
        error_type: str_of(item, "error_type"),
        message: str_of(item, "message"),
        timestamp: optional_str(item, "timestamp"),
        details: item.get("details").map(MapJson::of),
        step: optional_str(item, "step"),
    }
    .into_recorded_issue()
}

/// A history item's fields as read from it, whatever held them (the SDK's item, or
/// `history_answer`'s borrowed one): a string field is `Err` when it is missing or not a
/// string; `details` written as it is (a map attribute as an object, anything else `{}`).
pub(super) struct IssueFields<'a, D> {
    pub entity_key: Result<&'a str, BadItem>,
    pub entity_type: Result<&'a str, BadItem>,
    pub error_type: Result<&'a str, BadItem>,
    pub message: Result<&'a str, BadItem>,
    /// `None`: missing, or not a string.
    pub timestamp: Option<&'a str>,
    pub details: Option<D>,
    pub step: Option<&'a str>,
}

impl<D: Serialize> IssueFields<'_, D> {
    /// The issue's JSON, in [`JobIssue`]'s field order, every field checked.
    pub fn into_recorded_issue(self) -> Result<RecordedIssue, BadItem> {
        let timestamp = self
            .timestamp
            .map(|value| {
                Timestamp::parse(value)
                    .ok_or_else(|| BadItem("timestamp is not a timestamp".into()))
            })
            .transpose()?
            .ok_or_else(|| BadItem("timestamp missing".into()))?;
        let json = IssueJson {
            entity_key: self.entity_key?,
            entity_type: self.entity_type?,
            error_type: self.error_type?,
            message: self.message?,
            timestamp,
            details: self.details,
            step: self.step,
        };
        let json = serde_json::value::to_raw_value(&json)
            .map_err(|error| BadItem(format!("history item: {error}")))?;
        Ok(RecordedIssue { timestamp, json })
    }
}

/// A [`JobIssue`]'s fields, in its order, borrowed from its history item.
#[derive(Serialize)]
struct IssueJson<'a, D> {
    entity_key: &'a str,
    entity_type: &'a str,
    error_type: &'a str,
    message: &'a str,
    timestamp: Timestamp,
    details: Option<D>,
    step: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::NewJob;
    use serde_json::json;

    #[test]
    fn counts_past_the_cap_are_read_as_the_cap_and_other_numbers_are_refused() {
        let read = |text: &str| {
            let item = Item::from([("n".to_owned(), AttributeValue::N(text.into()))]);
            count(&item, "n")
        };
        assert_eq!(read("0"), Ok(0));
        assert_eq!(read("9007199254740991"), Ok(MAX_COUNT));
        assert_eq!(read("27021597764222973"), Ok(MAX_COUNT));
        assert_eq!(read("18446744073709551616000"), Ok(MAX_COUNT));
        for bad in ["-1", "1.5", "1E+30", ""] {
            let error = read(bad).unwrap_err();
            assert!(
                !error.0.contains(bad) || bad.is_empty(),
                "no content logged: {error:?}"
            );
        }
    }

    fn sample() -> Job {
        let new = NewJob {
            job_type: "crawl".into(),
            total_items: 7,
            metadata: json!({"source": "s3", "depth": 2, "tags": ["a"]})
                .as_object()
                .unwrap()
                .clone(),
            triggered_by: Some("user-1".into()),
            heartbeat_timeout_seconds: None,
            timeout_seconds: None,
            stall_timeout_seconds: None,
        };
        Job::create(
            "org-a".into(),
            "0190-job-b".into(),
            new,
            Timestamp::from_millis(1_795_867_200_123),
        )
    }

    #[test]
    fn a_new_job_round_trips() {
        let job = sample();
        assert_eq!(to_job(&from_job(&job)), Ok(job));
    }

    #[test]
    fn a_job_with_every_field_set_round_trips() {
        let mut job = sample();
        job.status = JobStatus::PartialSuccess;
        job.processed_items = 5;
        job.failed_items = 2;
        job.warned_items = 1;
        job.started_at = Some(Timestamp::from_millis(1_795_867_201_000));
        job.completed_at = Some(Timestamp::from_millis(1_795_867_209_500));
        job.error_message = Some("boom".into());
        job.error_count = 4;
        job.warning_count = 1;
        job.heartbeat_timeout_seconds = Some(30);
        job.timeout_seconds = Some(3600);
        job.stall_timeout_seconds = Some(600);
        job.last_heartbeat_at = Some(Timestamp::from_millis(1_795_867_209_000));
        job.last_progress_at = Some(Timestamp::from_millis(1_795_867_208_000));
        assert_eq!(to_job(&from_job(&job)), Ok(job));
    }

    #[test]
    fn the_fullest_job_item_fits_the_room_it_is_given() {
        let mut job = sample();
        job.status = JobStatus::InProgress;
        job.triggered_by = Some("user-1".into());
        job.started_at = Some(Timestamp::from_millis(1_795_867_201_000));
        job.completed_at = Some(Timestamp::from_millis(1_795_867_209_500));
        job.error_message = Some("boom".into());
        job.heartbeat_timeout_seconds = Some(30);
        job.timeout_seconds = Some(3600);
        job.stall_timeout_seconds = Some(600);
        job.last_heartbeat_at = Some(Timestamp::from_millis(1_795_867_209_000));
        job.last_progress_at = Some(Timestamp::from_millis(1_795_867_208_000));
        let item = from_job(&job);
        assert!(item.contains_key(keys::DEADLINE_KEY) && item.contains_key(HEARTBEAT_DEADLINE));
        assert!(item.contains_key(STALL_DEADLINE));
        assert_eq!(item.len(), JOB_ATTRIBUTES);
        assert_eq!(
            item.capacity(),
            Item::with_capacity(JOB_ATTRIBUTES).capacity(),
            "the map grew"
        );
    }

    #[test]
    fn a_job_with_timeouts_gets_its_deadlines_and_an_entry_in_the_sweeps_index() {
        let mut job = sample();
        assert!(
            !from_job(&job).contains_key(keys::DEADLINE_KEY),
            "no timeout, no entry"
        );
        job.heartbeat_timeout_seconds = Some(30);
        job.timeout_seconds = Some(3600);
        let item = from_job(&job);
        // Created 2026-11-28T12:00:00.123Z = 1795867200.123; the id ends in "b" = 11.
        assert_eq!(
            item[TIMEOUT_DEADLINE],
            AttributeValue::N("1795870800.123".into())
        );
        assert!(!item.contains_key(HEARTBEAT_DEADLINE), "no report yet");
        assert_eq!(item[keys::DEADLINE_KEY], s("DEADLINE#11"));
        assert_eq!(
            item[keys::SWEEP_AT],
            AttributeValue::N("1795867230.123".into())
        );
        // A stall timeout alone puts the job in the index too, a stall period out.
        let mut stalling = sample();
        stalling.stall_timeout_seconds = Some(20);
        let item = from_job(&stalling);
        assert!(!item.contains_key(STALL_DEADLINE), "not started yet");
        assert_eq!(item["stall_timeout_seconds"], n(20));
        assert_eq!(
            item[keys::SWEEP_AT],
            AttributeValue::N("1795867220.123".into())
        );
        stalling.last_progress_at = Some(stalling.created_at.plus_seconds(5));
        assert_eq!(
            from_job(&stalling)[STALL_DEADLINE],
            AttributeValue::N("1795867225.123".into())
        );
        job.status = JobStatus::Cancelled;
        assert!(
            !from_job(&job).contains_key(keys::DEADLINE_KEY),
            "ended: out of the index"
        );
    }

    #[test]
    fn an_issue_reads_back_from_its_history_item_as_it_was_given() {
        let mut issue = JobIssue {
            entity_key: "row-3".into(),
            entity_type: "row".into(),
            error_type: "parse".into(),
            message: "bad \"date\"".into(),
            timestamp: Timestamp::from_millis(1_795_867_205_000),
            details: Some(
                json!({"column": "d", "row": 3, "seen": [1.5, null, {"b": true, "a": "x"}]})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            step: Some("load".into()),
        };
        let item = from_issue("org-a", "job-1", IssueKind::Error, "0190-x", &issue);
        assert_eq!(item["pk"], AttributeValue::S("ORG#org-a#JOB#job-1".into()));
        assert_eq!(
            item["pk"],
            from_job(&{
                let mut job = sample();
                job.job_id = "job-1".into();
                job
            })["pk"],
            "a job's history lives in the job's partition"
        );
        assert_eq!(item["sk"], AttributeValue::S("ERROR#0190-x".into()));
        let recorded = to_recorded_issue(&item).unwrap();
        assert_eq!(recorded.timestamp, issue.timestamp);
        assert_eq!(recorded.json.get(), serde_json::to_string(&issue).unwrap());
        let projected: Item = item
            .iter()
            .filter(|(name, _)| ISSUE_ATTRIBUTES.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        assert_eq!(
            to_recorded_issue(&projected),
            Ok(recorded),
            "the projection holds all it reads"
        );

        (issue.details, issue.step) = (None, None);
        let bare = from_issue("org-a", "job-1", IssueKind::Warning, "0190-y", &issue);
        let recorded = to_recorded_issue(&bare).unwrap();
        assert_eq!(recorded.json.get(), serde_json::to_string(&issue).unwrap());
    }

    #[test]
    fn a_history_item_without_a_field_is_a_bad_item() {
        let issue = JobIssue {
            entity_key: "k".into(),
            entity_type: "job".into(),
            error_type: "t".into(),
            message: "m".into(),
            timestamp: Timestamp::from_millis(0),
            details: None,
            step: None,
        };
        let mut item = from_issue("org-a", "job-1", IssueKind::Error, "0190-x", &issue);
        item.remove("message");
        assert!(to_recorded_issue(&item).is_err());
    }

    #[test]
    fn the_item_is_keyed_by_organization_and_uses_api_field_names() {
        let item = from_job(&sample());
        assert_eq!(
            item["pk"],
            AttributeValue::S("ORG#org-a#JOB#0190-job-b".into())
        );
        assert_eq!(item["sk"], AttributeValue::S("JOB".into()));
        assert_eq!(item["status"], AttributeValue::S("pending".into()));
        assert_eq!(item["total_items"], AttributeValue::N("7".into()));
        assert_eq!(
            item["created_at"],
            AttributeValue::S("2026-11-28T12:00:00.123Z".into())
        );
        assert!(!item.contains_key("started_at") && !item.contains_key("error_message"));
        // The sample's id ends in "b": shard 0xb % 4 = 3.
        assert_eq!(
            item["organization_key"],
            AttributeValue::S("ORG#org-a#3".into())
        );
        assert_eq!(
            item["status_key"],
            AttributeValue::S("ORG#org-a#STATUS#pending#3".into())
        );
        assert_eq!(
            item["triggered_by_key"],
            AttributeValue::S("ORG#org-a#TRIGGERED_BY#user-1#3".into())
        );
        assert!(!item.contains_key("job_type_key"));
    }

    #[test]
    fn an_unknown_status_is_a_bad_item() {
        let mut item = from_job(&sample());
        item.insert("status".into(), AttributeValue::S("exploded".into()));
        assert!(to_job(&item).is_err());
    }
}
