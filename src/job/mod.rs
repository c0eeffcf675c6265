//! The job and its rules: statuses, the computed fields, and the two views the API
//! answers with (the wire model's `JobResponse` and `JobStatusResponse`, borrowed from
//! the job). Plain data and functions; nothing here talks to AWS.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::job::time::Timestamp;

mod deadline;
pub mod decimal;
pub mod time;
mod update;

pub use deadline::{DeadlineKind, Expiry, SweepAction};
pub use update::{CountChange, Ending, ExpectedCounts, JobUpdate, ValidatedReport};

/// The largest count a job holds: the largest integer every JSON client can represent
/// exactly. Input past it is refused; totals are kept within it.
pub const MAX_COUNT: u64 = (1 << 53) - 1;

/// Top-level keys one `metadata_patch` may set (with `stage` and `message`): each is a
/// clause of the report's update expression, which DynamoDB limits to 4 KB; at this many
/// the longest expression stays below 4,000 bytes (`store::update`'s tests measure it).
pub const MAX_PATCH_KEYS: usize = 100;

/// One type for each shape on the wire, the server's and its clients': the wire model's
/// (`crates/model`).
pub use jobs_model::{JobIssue, JobResponse, JobStatus, JobStatusResponse};

/// An error or warning as the API answers it, serialized once, straight from what the
/// store read: its size is known without serializing it again, and every answer that
/// carries it copies these bytes. The `I` of the server's [`JobResponse`], which a
/// client reads as a [`JobIssue`].
#[derive(Clone, Debug)]
pub struct RecordedIssue {
    pub timestamp: Timestamp,
    pub json: Box<RawValue>,
}

impl RecordedIssue {
    /// What it adds to a JSON list: itself and a separator.
    pub fn size(&self) -> usize {
        self.json.get().len() + 1
    }
}

impl PartialEq for RecordedIssue {
    fn eq(&self, other: &Self) -> bool {
        self.timestamp == other.timestamp && self.json.get() == other.json.get()
    }
}

impl Serialize for RecordedIssue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// What a caller asks for when creating a job, once validated.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub job_type: String,
    pub total_items: u64,
    pub metadata: Map<String, Value>,
    pub triggered_by: Option<String>,
    /// `None`: no heartbeat deadline (see `job::deadline`).
    pub heartbeat_timeout_seconds: Option<u64>,
    /// `None`: no overall deadline.
    pub timeout_seconds: Option<u64>,
    /// `None`: no stall deadline.
    pub stall_timeout_seconds: Option<u64>,
}

/// A job as stored: the organization it belongs to and everything the API shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub organization_id: String,
    pub job_id: String,
    pub job_type: String,
    pub status: JobStatus,
    pub total_items: u64,
    pub processed_items: u64,
    pub failed_items: u64,
    pub warned_items: u64,
    pub metadata: Map<String, Value>,
    pub triggered_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub error_message: Option<String>,
    /// Errors and warnings ever recorded (each kept as its own item beside the job).
    pub error_count: u64,
    pub warning_count: u64,
    pub heartbeat_timeout_seconds: Option<u64>,
    pub timeout_seconds: Option<u64>,
    pub stall_timeout_seconds: Option<u64>,
    /// The last accepted progress report (every report is a heartbeat).
    pub last_heartbeat_at: Option<Timestamp>,
    /// The last report that advanced a count or started the job (see `job::deadline`).
    pub last_progress_at: Option<Timestamp>,
    /// Set by [`Job::as_of`] when a deadline passed that no write has ended the job for
    /// yet: the job is shown ended, and this is the ending the sweep will write.
    pub timed_out: Option<Expiry>,
}

impl Job {
    /// A freshly created job: `pending`, nothing counted, not started.
    pub fn create(organization_id: String, job_id: String, new: NewJob, now: Timestamp) -> Job {
        Job {
            organization_id,
            job_id,
            job_type: new.job_type,
            status: JobStatus::Pending,
            total_items: new.total_items,
            processed_items: 0,
            failed_items: 0,
            warned_items: 0,
            metadata: new.metadata,
            triggered_by: new.triggered_by,
            created_at: now,
            updated_at: now,
            started_at: None,
            completed_at: None,
            error_message: None,
            error_count: 0,
            warning_count: 0,
            heartbeat_timeout_seconds: new.heartbeat_timeout_seconds,
            timeout_seconds: new.timeout_seconds,
            stall_timeout_seconds: new.stall_timeout_seconds,
            last_heartbeat_at: None,
            last_progress_at: None,
            timed_out: None,
        }
    }

    /// `(processed + failed) / total × 100`, capped at 100; a job that ended successfully
    /// is at 100 whatever its counts say, and a job with nothing to do is at 0 until then.
    pub fn progress_percentage(&self) -> f64 {
        if self.status.ended_successfully() {
            return 100.0;
        }
        if self.total_items == 0 {
            return 0.0;
        }
        let attempted = self.processed_items.saturating_add(self.failed_items) as f64;
        round2((attempted / self.total_items as f64 * 100.0).min(100.0))
    }

    /// `processed / (processed + failed) × 100`; 0 when nothing was attempted.
    pub fn success_rate(&self) -> f64 {
        let attempted = self.processed_items.saturating_add(self.failed_items);
        if attempted == 0 {
            return 0.0;
        }
        round2(self.processed_items as f64 / attempted as f64 * 100.0)
    }

    /// `(completed_at or now) − started_at`; `None` before the job started.
    pub fn duration_seconds(&self, now: Timestamp) -> Option<f64> {
        let started = self.started_at?;
        Some(self.completed_at.unwrap_or(now).seconds_since(started))
    }

    /// The API's view of the job at `now` (computed fields are computed, not stored),
    /// with its most recent errors and warnings.
    pub fn to_response<'a>(
        &'a self,
        now: Timestamp,
        recent: &'a RecentIssues,
    ) -> JobResponse<'a, RecordedIssue> {
        JobResponse {
            job_id: Cow::Borrowed(&self.job_id),
            job_type: Cow::Borrowed(&self.job_type),
            status: self.status,
            total_items: self.total_items,
            processed_items: self.processed_items,
            failed_items: self.failed_items,
            warned_items: self.warned_items,
            progress_percentage: self.progress_percentage(),
            success_rate: self.success_rate(),
            metadata: Cow::Borrowed(&self.metadata),
            triggered_by: self.triggered_by.as_deref().map(Cow::Borrowed),
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            duration_seconds: self.duration_seconds(now),
            error_message: self.error_message.as_deref().map(Cow::Borrowed),
            heartbeat_timeout_seconds: self.heartbeat_timeout_seconds,
            timeout_seconds: self.timeout_seconds,
            stall_timeout_seconds: self.stall_timeout_seconds,
            last_heartbeat_at: self.last_heartbeat_at,
            last_progress_at: self.last_progress_at,
            errors: Cow::Borrowed(&recent.errors),
            warnings: Cow::Borrowed(&recent.warnings),
        }
    }

    /// The light view: what `/status` answers (no history read).
    pub fn to_status_response(&self) -> JobStatusResponse<'_> {
        JobStatusResponse {
            job_id: Cow::Borrowed(&self.job_id),
            status: self.status,
            progress_percentage: self.progress_percentage(),
            processed_items: self.processed_items,
            failed_items: self.failed_items,
            warned_items: self.warned_items,
            total_items: self.total_items,
            updated_at: self.updated_at,
            heartbeat_timeout_seconds: self.heartbeat_timeout_seconds,
            timeout_seconds: self.timeout_seconds,
            stall_timeout_seconds: self.stall_timeout_seconds,
            last_heartbeat_at: self.last_heartbeat_at,
            last_progress_at: self.last_progress_at,
        }
    }

    /// The status `mark_completed` ends the job in, given its counts at that moment.
    pub fn completion_status(&self) -> JobStatus {
        if self.failed_items > 0 {
            JobStatus::PartialSuccess
        } else if self.warned_items > 0 || self.warning_count > 0 {
            JobStatus::CompletedWithWarnings
        } else {
            JobStatus::Completed
        }
    }
}

/// How many of the most recent errors (and, separately, warnings) a `JobResponse` shows;
/// the full history is paged at `/errors` and `/warnings`.
pub const RECENT_ISSUES_CAP: usize = 20;

/// The most recent errors and warnings of a job, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecentIssues {
    pub errors: Vec<RecordedIssue>,
    pub warnings: Vec<RecordedIssue>,
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(total: u64, processed: u64, failed: u64, status: JobStatus) -> Job {
        let new = NewJob {
            job_type: "crawl".into(),
            total_items: total,
            metadata: Map::new(),
            triggered_by: None,
            heartbeat_timeout_seconds: None,
            timeout_seconds: None,
            stall_timeout_seconds: None,
        };
        let mut job = Job::create("org".into(), "id".into(), new, Timestamp::from_millis(0));
        job.processed_items = processed;
        job.failed_items = failed;
        job.status = status;
        job
    }

    #[test]
    fn progress_counts_processed_and_failed_rounded_to_two_decimals() {
        assert_eq!(
            job(3, 1, 0, JobStatus::InProgress).progress_percentage(),
            33.33
        );
        assert_eq!(
            job(3, 1, 1, JobStatus::InProgress).progress_percentage(),
            66.67
        );
        assert_eq!(
            job(8, 1, 0, JobStatus::InProgress).progress_percentage(),
            12.5
        );
    }

    #[test]
    fn progress_is_capped_at_100() {
        assert_eq!(
            job(10, 9, 5, JobStatus::InProgress).progress_percentage(),
            100.0
        );
    }

    #[test]
    fn progress_with_no_items_is_0_until_the_job_ends_successfully() {
        assert_eq!(job(0, 0, 0, JobStatus::Pending).progress_percentage(), 0.0);
        assert_eq!(
            job(0, 0, 0, JobStatus::InProgress).progress_percentage(),
            0.0
        );
        assert_eq!(job(0, 0, 0, JobStatus::Failed).progress_percentage(), 0.0);
        assert_eq!(
            job(0, 0, 0, JobStatus::Cancelled).progress_percentage(),
            0.0
        );
        for status in [
            JobStatus::Completed,
            JobStatus::CompletedWithWarnings,
            JobStatus::PartialSuccess,
        ] {
            assert_eq!(job(0, 0, 0, status).progress_percentage(), 100.0);
            assert_eq!(job(10, 2, 1, status).progress_percentage(), 100.0);
        }
    }

    #[test]
    fn a_failed_or_cancelled_job_shows_how_far_it_got() {
        assert_eq!(job(10, 2, 1, JobStatus::Failed).progress_percentage(), 30.0);
        assert_eq!(
            job(10, 4, 0, JobStatus::Cancelled).progress_percentage(),
            40.0
        );
    }

    #[test]
    fn success_rate_is_processed_over_attempted() {
        assert_eq!(job(10, 0, 0, JobStatus::InProgress).success_rate(), 0.0);
        assert_eq!(job(10, 2, 1, JobStatus::InProgress).success_rate(), 66.67);
        assert_eq!(job(10, 0, 4, JobStatus::InProgress).success_rate(), 0.0);
        assert_eq!(job(10, 5, 0, JobStatus::InProgress).success_rate(), 100.0);
    }

    #[test]
    fn duration_runs_from_start_to_completion_or_now() {
        let mut job = job(1, 0, 0, JobStatus::InProgress);
        let now = Timestamp::from_millis(9_000);
        assert_eq!(job.duration_seconds(now), None);
        job.started_at = Some(Timestamp::from_millis(1_000));
        assert_eq!(job.duration_seconds(now), Some(8.0));
        job.completed_at = Some(Timestamp::from_millis(3_500));
        assert_eq!(job.duration_seconds(now), Some(2.5));
    }

    #[test]
    fn completion_status_reflects_failures_then_warnings() {
        let mut job = job(10, 10, 0, JobStatus::InProgress);
        assert_eq!(job.completion_status(), JobStatus::Completed);
        job.warning_count = 1;
        assert_eq!(job.completion_status(), JobStatus::CompletedWithWarnings);
        job.warning_count = 0;
        job.warned_items = 2;
        assert_eq!(job.completion_status(), JobStatus::CompletedWithWarnings);
        job.failed_items = 1;
        assert_eq!(job.completion_status(), JobStatus::PartialSuccess);
    }

    #[test]
    fn statuses_round_trip_and_know_when_they_have_ended() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                json!(status.as_str())
            );
        }
        assert_eq!(JobStatus::parse("done"), None);
        let ended: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.has_ended())
            .collect();
        assert_eq!(ended.len(), 5);
        assert!(!JobStatus::Pending.has_ended() && !JobStatus::InProgress.has_ended());
    }

    #[test]
    fn a_new_job_responds_with_every_reference_field() {
        let new = NewJob {
            job_type: "enrichment".into(),
            total_items: 5,
            metadata: json!({"source": "s3"}).as_object().unwrap().clone(),
            triggered_by: Some("user-1".into()),
            heartbeat_timeout_seconds: Some(60),
            timeout_seconds: None,
            stall_timeout_seconds: None,
        };
        let now = Timestamp::from_millis(1_795_867_200_123);
        let job = Job::create("org-a".into(), "job-1".into(), new, now);
        let response =
            serde_json::to_value(job.to_response(now, &RecentIssues::default())).unwrap();
        assert_eq!(
            response,
            json!({
                "job_id": "job-1",
                "job_type": "enrichment",
                "status": "pending",
                "total_items": 5,
                "processed_items": 0,
                "failed_items": 0,
                "warned_items": 0,
                "progress_percentage": 0.0,
                "success_rate": 0.0,
                "metadata": {"source": "s3"},
                "triggered_by": "user-1",
                "created_at": "2026-11-28T12:00:00.123Z",
                "started_at": null,
                "completed_at": null,
                "duration_seconds": null,
                "error_message": null,
                "heartbeat_timeout_seconds": 60,
                "timeout_seconds": null,
                "stall_timeout_seconds": null,
                "last_heartbeat_at": null,
                "last_progress_at": null,
                "errors": [],
                "warnings": []
            })
        );
    }

    /// The bytes, not only the values: the model's field order is the API's, and a
    /// recent issue is copied in as the store read it.
    #[test]
    fn the_answers_are_written_in_the_api_s_field_order() {
        let mut job = job(10, 3, 1, JobStatus::InProgress);
        job.started_at = Some(Timestamp::from_millis(1_000));
        job.updated_at = Timestamp::from_millis(2_500);
        job.last_heartbeat_at = Some(job.updated_at);
        let issue = r#"{"entity_key":"row-1","entity_type":"row","error_type":"parse","message":"m","timestamp":"1970-01-01T00:00:02.000Z","details":null,"step":null}"#;
        let recent = RecentIssues {
            errors: vec![RecordedIssue {
                timestamp: Timestamp::from_millis(2_000),
                json: RawValue::from_string(issue.to_owned()).unwrap(),
            }],
            warnings: Vec::new(),
        };
        let full = serde_json::to_string(&job.to_response(Timestamp::from_millis(3_000), &recent));
        assert_eq!(
            full.unwrap(),
            format!(
                r#"{{"job_id":"id","job_type":"crawl","status":"in_progress","total_items":10,"processed_items":3,"failed_items":1,"warned_items":0,"progress_percentage":40.0,"success_rate":75.0,"metadata":{{}},"triggered_by":null,"created_at":"1970-01-01T00:00:00.000Z","started_at":"1970-01-01T00:00:01.000Z","completed_at":null,"duration_seconds":2.0,"error_message":null,"heartbeat_timeout_seconds":null,"timeout_seconds":null,"stall_timeout_seconds":null,"last_heartbeat_at":"1970-01-01T00:00:02.500Z","last_progress_at":null,"errors":[{issue}],"warnings":[]}}"#
            )
        );
        let light = serde_json::to_string(&job.to_status_response()).unwrap();
        assert_eq!(
            light,
            r#"{"job_id":"id","status":"in_progress","progress_percentage":40.0,"processed_items":3,"failed_items":1,"warned_items":0,"total_items":10,"updated_at":"1970-01-01T00:00:02.500Z","heartbeat_timeout_seconds":null,"timeout_seconds":null,"stall_timeout_seconds":null,"last_heartbeat_at":"1970-01-01T00:00:02.500Z","last_progress_at":null}"#
        );
        // What a client reads back is the same job, issue included.
        let read: jobs_model::JobResponse = serde_json::from_str(&format!(
            r#"{{"job_id":"id","job_type":"crawl","status":"in_progress","total_items":10,"processed_items":3,"failed_items":1,"warned_items":0,"progress_percentage":40.0,"success_rate":75.0,"metadata":{{}},"triggered_by":null,"created_at":"1970-01-01T00:00:00.000Z","started_at":null,"completed_at":null,"duration_seconds":null,"error_message":null,"errors":[{issue}],"warnings":[]}}"#
        ))
        .unwrap();
        assert_eq!(read.errors[0].entity_key, "row-1");
        assert_eq!(read.errors[0].timestamp, Timestamp::from_millis(2_000));
    }
}
