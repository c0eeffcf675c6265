//! The events the API publishes (to an EventBridge bus, `events/` holds samples).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{JobStatus, Timestamp};

/// The `detail` of a `Job Status Changed` event: the job as one status transition left
/// it, without its metadata (a consumer reads that with `GET /api/jobs/{job_id}`), so an
/// event stays a few hundred bytes however large the job's metadata grows. `'a` as for
/// [`crate::JobResponse`]: the events function borrows from the stream record, a
/// consumer reads it owned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStatusChanged<'a> {
    /// The same for every delivery of one transition, different for any other: dedupe
    /// on it.
    pub event_key: Cow<'a, str>,
    pub job_id: Cow<'a, str>,
    pub organization_id: Cow<'a, str>,
    pub job_type: Cow<'a, str>,
    pub triggered_by: Option<Cow<'a, str>>,
    pub status: JobStatus,
    /// `None` for the job's creation.
    pub previous_status: Option<JobStatus>,
    pub total_items: u64,
    pub processed_items: u64,
    pub failed_items: u64,
    pub warned_items: u64,
    pub progress_percentage: f64,
    pub success_rate: f64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    /// As of the transition (not of the delivery): every delivery says the same.
    pub duration_seconds: Option<f64>,
    pub error_message: Option<Cow<'a, str>>,
}

impl JobStatusChanged<'_> {
    /// The event's `detail-type`.
    pub const DETAIL_TYPE: &'static str = "Job Status Changed";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_detail_reads_and_one_with_an_unknown_field_does_not() {
        let mut detail = json!({
            "event_key": "j:failed", "job_id": "j", "organization_id": "org-a",
            "job_type": "crawl", "triggered_by": null, "status": "failed",
            "previous_status": "in_progress", "total_items": 10, "processed_items": 3,
            "failed_items": 1, "warned_items": 0, "progress_percentage": 40.0,
            "success_rate": 75.0, "created_at": "2026-11-28T12:00:00.000Z",
            "updated_at": "2026-11-28T12:00:03.500Z", "started_at": null,
            "completed_at": "2026-11-28T12:00:03.500Z", "duration_seconds": null,
            "error_message": "source gone"
        });
        let read: JobStatusChanged = serde_json::from_value(detail.clone()).unwrap();
        assert_eq!(read.previous_status, Some(JobStatus::InProgress));
        assert_eq!(serde_json::to_value(&read).unwrap(), detail);
        detail["metadata"] = json!({});
        let err = serde_json::from_value::<JobStatusChanged>(detail).unwrap_err();
        assert!(err.to_string().contains("metadata"), "{err}");
    }
}
