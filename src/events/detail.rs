//! A [`Transition`] → the `Job Status Changed` event subscribers receive. Pure.

use std::borrow::Cow;

use super::record::Transition;
use crate::job::JobStatus;

/// The event's `detail`: the wire model's, borrowed from the transition's job.
pub use jobs_model::JobStatusChanged;

/// The event's `detail-type`.
pub const DETAIL_TYPE: &str = JobStatusChanged::DETAIL_TYPE;

/// The job as `transition` left it, without its metadata.
pub fn of(transition: &Transition) -> JobStatusChanged<'_> {
    let job = &transition.job;
    JobStatusChanged {
        event_key: Cow::Owned(event_key(&job.job_id, job.status)),
        job_id: Cow::Borrowed(&job.job_id),
        organization_id: Cow::Borrowed(&job.organization_id),
        job_type: Cow::Borrowed(&job.job_type),
        triggered_by: job.triggered_by.as_deref().map(Cow::Borrowed),
        status: job.status,
        previous_status: transition.previous,
        total_items: job.total_items,
        processed_items: job.processed_items,
        failed_items: job.failed_items,
        warned_items: job.warned_items,
        progress_percentage: job.progress_percentage(),
        success_rate: job.success_rate(),
        created_at: job.created_at,
        updated_at: job.updated_at,
        started_at: job.started_at,
        completed_at: job.completed_at,
        // As of the transition, not of the delivery: every delivery says the same.
        duration_seconds: job.duration_seconds(job.updated_at),
        error_message: job.error_message.as_deref().map(Cow::Borrowed),
    }
}

/// The same for every delivery of one transition, and different for any other: a job
/// enters each status at most once (statuses only move forward: pending → in_progress
/// → an ending), so the job and the status entered name the transition.
pub fn event_key(job_id: &str, status: JobStatus) -> String {
    format!("{job_id}:{}", status.as_str())
}

/// The event's `resources`: the job, named by its path in the API.
pub fn resource(source: &str, job_id: &str) -> String {
    format!("{source}/jobs/{job_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::record::tests::job;
    use crate::job::time::Timestamp;
    use serde_json::json;

    #[test]
    fn the_detail_holds_every_field_and_no_metadata() {
        let mut job = job();
        job.status = JobStatus::Failed;
        job.processed_items = 3;
        job.failed_items = 1;
        job.started_at = Some(Timestamp::from_millis(1_795_867_201_000));
        job.completed_at = Some(Timestamp::from_millis(1_795_867_203_500));
        job.updated_at = job.completed_at.unwrap();
        job.error_message = Some("source gone".into());
        let transition = Transition {
            job,
            previous: Some(JobStatus::InProgress),
        };
        let detail = serde_json::to_value(of(&transition)).unwrap();
        assert_eq!(
            detail,
            json!({
                "event_key": "0190-job-1:failed",
                "job_id": "0190-job-1",
                "organization_id": "org-a",
                "job_type": "crawl",
                "triggered_by": "user-1",
                "status": "failed",
                "previous_status": "in_progress",
                "total_items": 10,
                "processed_items": 3,
                "failed_items": 1,
                "warned_items": 0,
                "progress_percentage": 40.0,
                "success_rate": 75.0,
                "created_at": "2026-11-28T12:00:00.000Z",
                "updated_at": "2026-11-28T12:00:03.500Z",
                "started_at": "2026-11-28T12:00:01.000Z",
                "completed_at": "2026-11-28T12:00:03.500Z",
                "duration_seconds": 2.5,
                "error_message": "source gone",
            })
        );
    }

    #[test]
    fn a_creation_has_no_previous_status_and_no_duration() {
        let transition = Transition {
            job: job(),
            previous: None,
        };
        let detail = serde_json::to_value(of(&transition)).unwrap();
        assert_eq!(detail["previous_status"], json!(null));
        assert_eq!(detail["status"], json!("pending"));
        assert_eq!(detail["duration_seconds"], json!(null));
        assert_eq!(detail["event_key"], json!("0190-job-1:pending"));
    }

    #[test]
    fn event_keys_name_one_transition() {
        assert_eq!(
            event_key("j", JobStatus::Pending),
            event_key("j", JobStatus::Pending)
        );
        let keys: std::collections::HashSet<_> =
            JobStatus::ALL.iter().map(|s| event_key("j", *s)).collect();
        assert_eq!(keys.len(), JobStatus::ALL.len());
        assert_ne!(
            event_key("j1", JobStatus::Failed),
            event_key("j2", JobStatus::Failed)
        );
    }
}
