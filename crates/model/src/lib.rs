//! The Jobs API on the wire: every body its routes answer and every event it publishes,
//! as `openapi.yaml` and `events/` describe them, and the requests a client sends.
//!
//! serde only (no HTTP, no AWS, no runtime), shared by the server, its events function,
//! `jobs-client` and the `jobsctl` command line: one definition of each shape. The
//! server answers with these same types, borrowing from what it read (`Cow` fields
//! borrowed, recent issues as the JSON the store read: see [`JobResponse`]'s `I`); a
//! client reads them owned (`'static`, the default `I`). Two pieces of an answer are
//! still written by the server without these types, a list page's frame (each item is
//! measured against the page's size budget) and a history item's JSON (written from the
//! table's bytes): the server's `tests/it/model_drift.rs` reads real answers of every route
//! into these types with `deny_unknown_fields`, and writes them back unchanged.
//!
//! The timeout fields (`heartbeat_timeout_seconds`, `timeout_seconds`,
//! `stall_timeout_seconds`, `last_heartbeat_at`, `last_progress_at`) are `null` when none; bodies from a server that predates them
//! (absent) read as none too.

mod event;
mod time;

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use event::JobStatusChanged;
pub use time::Timestamp;

/// A JSON object: `metadata`, `metadata_patch`, `details`.
pub type Object = Map<String, Value>;

/// A job's status. The last five have ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    InProgress,
    Completed,
    CompletedWithWarnings,
    PartialSuccess,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Pending,
        JobStatus::InProgress,
        JobStatus::Completed,
        JobStatus::CompletedWithWarnings,
        JobStatus::PartialSuccess,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// True once the job can change no more.
    pub fn has_ended(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::InProgress)
    }

    /// Ended by `mark_completed`: every item was attempted, whatever each one's outcome.
    pub fn ended_successfully(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::CompletedWithWarnings | JobStatus::PartialSuccess
        )
    }

    /// The status named `text` on the wire, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// The name on the wire (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::InProgress => "in_progress",
            JobStatus::Completed => "completed",
            JobStatus::CompletedWithWarnings => "completed_with_warnings",
            JobStatus::PartialSuccess => "partial_success",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        JobStatus::parse(text).ok_or_else(|| {
            let names: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status {text:?} (one of {})", names.join(", "))
        })
    }
}

/// A job in full (`POST /api/jobs/`, `GET /api/jobs/{id}`, a report or a cancel without
/// `Prefer: return=minimal`, and each item of a list). Fields in the order the API
/// writes them.
///
/// `'a`: what the server borrows from its job while it writes the answer; a client
/// reads `JobResponse<'static>` (owned). `I`: the type of each recent error and
/// warning: [`JobIssue`] for a reader, and on the server the issue's JSON as the store
/// read it, copied into the answer as it is (no issue is parsed to be written again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobResponse<'a, I: Clone = JobIssue> {
    pub job_id: Cow<'a, str>,
    pub job_type: Cow<'a, str>,
    pub status: JobStatus,
    pub total_items: u64,
    pub processed_items: u64,
    pub failed_items: u64,
    pub warned_items: u64,
    pub progress_percentage: f64,
    pub success_rate: f64,
    pub metadata: Cow<'a, Object>,
    pub triggered_by: Option<Cow<'a, str>>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub duration_seconds: Option<f64>,
    pub error_message: Option<Cow<'a, str>>,
    /// Seconds without a report (counted from the last one, or the start) after which
    /// the job fails; `None`: never.
    #[serde(default)]
    pub heartbeat_timeout_seconds: Option<u64>,
    /// Seconds after creation after which the job fails, reported to or not; `None`: never.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Seconds of a running job without progress (no count advanced since the last one
    /// that did, or the start) after which the job fails, heartbeats or not; `None`: never.
    #[serde(default)]
    pub stall_timeout_seconds: Option<u64>,
    /// When a worker last reported.
    #[serde(default)]
    pub last_heartbeat_at: Option<Timestamp>,
    /// When a report last advanced a count (or started the job).
    #[serde(default)]
    pub last_progress_at: Option<Timestamp>,
    /// The most recent errors (at most 20, oldest first; the whole history is paged at
    /// `/errors`). Empty in a list's items.
    pub errors: Cow<'a, [I]>,
    /// The most recent warnings, as `errors`.
    pub warnings: Cow<'a, [I]>,
}

impl<I: Clone> JobResponse<'_, I> {
    /// `metadata.stage`, as a report's `stage` sets it.
    pub fn stage(&self) -> Option<&str> {
        self.metadata.get("stage").and_then(Value::as_str)
    }

    /// `metadata.last_message`, as a report's `message` sets it.
    pub fn last_message(&self) -> Option<&str> {
        self.metadata.get("last_message").and_then(Value::as_str)
    }
}

/// The light view of a job, read from the job alone: `GET /api/jobs/{id}/status`, and a
/// report or cancel with `Prefer: return=minimal`. `'a` as for [`JobResponse`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStatusResponse<'a> {
    pub job_id: Cow<'a, str>,
    pub status: JobStatus,
    pub progress_percentage: f64,
    pub processed_items: u64,
    pub failed_items: u64,
    pub warned_items: u64,
    pub total_items: u64,
    pub updated_at: Timestamp,
    /// See [`JobResponse::heartbeat_timeout_seconds`].
    #[serde(default)]
    pub heartbeat_timeout_seconds: Option<u64>,
    /// See [`JobResponse::timeout_seconds`].
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// See [`JobResponse::stall_timeout_seconds`].
    #[serde(default)]
    pub stall_timeout_seconds: Option<u64>,
    /// When a worker last reported.
    #[serde(default)]
    pub last_heartbeat_at: Option<Timestamp>,
    /// See [`JobResponse::last_progress_at`].
    #[serde(default)]
    pub last_progress_at: Option<Timestamp>,
}

/// An error or a warning recorded against a job (one shape for both).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobIssue {
    pub entity_key: String,
    pub entity_type: String,
    pub error_type: String,
    pub message: String,
    pub timestamp: Timestamp,
    pub details: Option<Object>,
    pub step: Option<String>,
}

impl JobIssue {
    /// `entity_type` of an error or warning about the job as a whole, not one item.
    pub const ABOUT_THE_JOB: &str = "job";

    /// An error or warning about one item (not the job as a whole) counts that item.
    pub fn is_about_an_item(&self) -> bool {
        self.entity_type != Self::ABOUT_THE_JOB
    }
}

/// A page of `GET /api/jobs/` (`T` = [`JobResponse`]) or of a job's history
/// (`T` = [`JobIssue`]; on the server, each issue's JSON as the store read it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `POST /api/jobs/`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateJobRequest {
    pub job_type: String,
    pub total_items: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// See [`JobResponse::heartbeat_timeout_seconds`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_seconds: Option<u64>,
    /// See [`JobResponse::timeout_seconds`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// See [`JobResponse::stall_timeout_seconds`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_timeout_seconds: Option<u64>,
}

impl CreateJobRequest {
    pub fn new(job_type: impl Into<String>, total_items: u64) -> Self {
        CreateJobRequest {
            job_type: job_type.into(),
            total_items,
            ..Default::default()
        }
    }
}

/// An error or warning to record (`error` / `warning` of a report). One about an item
/// (`entity_type` other than `job`) also counts the item as failed / warned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IssueInput {
    pub entity_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    pub error_type: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// `POST /api/jobs/{id}/progress`: only the fields present act. `ProgressReport::default()`
/// is `{}`, a heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_started: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_items_increment: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_items_increment: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_patch: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<IssueInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<IssueInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_completed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_failed: Option<String>,
}

impl ProgressReport {
    /// True for `{}`: a report that changes nothing but the job's `updated_at`.
    pub fn is_empty(&self) -> bool {
        self == &ProgressReport::default()
    }
}

/// One entry of a `422` (pydantic's shape): `loc` starts with `body`, `query` or `header`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationError {
    #[serde(rename = "type")]
    pub kind: String,
    /// Strings and indexes (kept as JSON values: a number in a path stays exact).
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Object>,
}

impl ValidationError {
    /// The field it is about, `body.` / `query.` / `header.` prefix dropped:
    /// `metadata.a.0`, `total_items`; the whole body is `body`.
    pub fn field(&self) -> String {
        let parts: Vec<String> = self
            .loc
            .iter()
            .map(|part| match part {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        match parts.split_first() {
            Some((_, rest)) if !rest.is_empty() => rest.join("."),
            Some((first, _)) => first.clone(),
            None => String::new(),
        }
    }
}

/// `422`: every problem with the request at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationErrors {
    pub detail: Vec<ValidationError>,
}

/// Every other error body: `{"detail": "..."}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_read_and_print_their_wire_names() {
        for status in JobStatus::ALL {
            let text = serde_json::to_value(status).unwrap();
            assert_eq!(text, json!(status.as_str()));
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(status));
        }
        assert!("done".parse::<JobStatus>().is_err());
        let ended: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.has_ended())
            .collect();
        assert_eq!(ended.len(), 5);
        assert!(!ended.contains(&JobStatus::InProgress));
    }

    #[test]
    fn an_empty_report_is_an_empty_object() {
        assert_eq!(
            serde_json::to_string(&ProgressReport::default()).unwrap(),
            "{}"
        );
        let report = ProgressReport {
            processed_items_increment: Some(3),
            ..Default::default()
        };
        assert!(!report.is_empty());
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"processed_items_increment": 3})
        );
    }

    #[test]
    fn a_validation_entry_names_its_field_without_the_location_kind() {
        let entry: ValidationError = serde_json::from_value(json!({
            "type": "greater_than_equal", "loc": ["body", "metadata", "rows", 0],
            "msg": "Input should be greater than or equal to 0", "input": -1, "ctx": {"ge": 0}
        }))
        .unwrap();
        assert_eq!(entry.field(), "metadata.rows.0");
        let whole: ValidationError = serde_json::from_value(
            json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}),
        )
        .unwrap();
        assert_eq!(whole.field(), "body");
    }

    #[test]
    fn a_job_body_without_the_timeout_fields_reads_and_one_with_an_unknown_field_does_not() {
        let mut body = json!({
            "job_id": "0190d1c0-0000-7000-8000-000000000000", "job_type": "crawl",
            "status": "in_progress", "total_items": 10, "processed_items": 4,
            "failed_items": 1, "warned_items": 0, "progress_percentage": 50.0,
            "success_rate": 80.0, "metadata": {"stage": "fetch", "last_message": "hi"},
            "triggered_by": null, "created_at": "2026-11-28T12:00:00.123Z",
            "started_at": null, "completed_at": null, "duration_seconds": null,
            "error_message": null, "errors": [], "warnings": []
        });
        let job: JobResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(job.stage(), Some("fetch"));
        assert_eq!(job.last_message(), Some("hi"));
        assert_eq!(job.timeout_seconds, None);
        body["timeout_seconds"] = json!(3600);
        let job: JobResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(job.timeout_seconds, Some(3600));
        body["surprise"] = json!(1);
        let err = serde_json::from_value::<JobResponse>(body).unwrap_err();
        assert!(err.to_string().contains("surprise"), "{err}");
    }
}
