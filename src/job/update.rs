//! How a job changes: a [`ValidatedReport`] (or a cancel) becomes one [`JobUpdate`], which
//! the store applies as a single conditional write. The rules live here, as plain
//! functions; [`JobUpdate::apply`] states the same rules on a job in memory.

use serde_json::{Map, Value};

use super::{Job, JobIssue, JobStatus};
use crate::job::time::Timestamp;

/// A `POST /api/jobs/{job_id}/progress` body once validated (the wire model's
/// `ProgressReport` is the body as a client sends it): only the fields present act.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidatedReport {
    pub mark_started: bool,
    pub processed_items: Option<u64>,
    pub failed_items: Option<u64>,
    pub processed_items_increment: Option<u64>,
    pub failed_items_increment: Option<u64>,
    pub total_items: Option<u64>,
    pub stage: Option<String>,
    pub message: Option<String>,
    pub metadata_patch: Map<String, Value>,
    pub error: Option<JobIssue>,
    pub warning: Option<JobIssue>,
    pub mark_completed: bool,
    pub mark_failed: Option<String>,
}

impl ValidatedReport {
    /// Whether the report carries counts, which start a pending job.
    fn reports_counts(&self) -> bool {
        self.processed_items.is_some()
            || self.failed_items.is_some()
            || self.processed_items_increment.is_some()
            || self.failed_items_increment.is_some()
            || self.error.as_ref().is_some_and(JobIssue::is_about_an_item)
            || self
                .warning
                .as_ref()
                .is_some_and(JobIssue::is_about_an_item)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountChange {
    Set(u64),
    Add(u64),
}

impl CountChange {
    /// `set` then `add`, as one change (DynamoDB cannot set and add one attribute at once).
    fn combine(set: Option<u64>, add: u64) -> Option<CountChange> {
        match (set, add) {
            (Some(value), add) => Some(CountChange::Set(value.saturating_add(add))),
            (None, 0) => None,
            (None, add) => Some(CountChange::Add(add)),
        }
    }

    fn applied_to(self, count: u64) -> u64 {
        match self {
            CountChange::Set(value) => value,
            CountChange::Add(add) => count.saturating_add(add),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// `mark_completed`, with the status derived from the counts.
    Completed(JobStatus),
    /// `mark_failed`, with its message.
    Failed(String),
    Cancelled,
}

impl Ending {
    pub fn status(&self) -> JobStatus {
        match self {
            Ending::Completed(status) => *status,
            Ending::Failed(_) => JobStatus::Failed,
            Ending::Cancelled => JobStatus::Cancelled,
        }
    }
}

/// The counts a job must still have when the update lands, because the update's final
/// status was derived from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedCounts {
    pub failed_items: u64,
    pub warned_items: u64,
    pub warning_count: u64,
}

/// Everything one request changes on a job. The store writes it only while the job has
/// not ended (and, when `expected` is set, still has those counts).
#[derive(Clone, Debug, PartialEq)]
pub struct JobUpdate {
    pub now: Timestamp,
    pub processed_items: Option<CountChange>,
    pub failed_items: Option<CountChange>,
    pub warned_items: Option<CountChange>,
    pub total_items: Option<u64>,
    /// Top-level metadata keys to replace.
    pub metadata: Map<String, Value>,
    pub error: Option<JobIssue>,
    pub warning: Option<JobIssue>,
    /// `pending` → `in_progress`, and `started_at` set if it was not.
    pub start: bool,
    pub end: Option<Ending>,
    pub expected: Option<ExpectedCounts>,
    /// A progress report (any, even `{}`): `last_heartbeat_at` = now, which moves the
    /// heartbeat deadline. A cancel is not one.
    pub heartbeat: bool,
    /// A report that advances a count or asks to start the job: `last_progress_at` =
    /// now, which moves the stall deadline. A heartbeat alone (`{}`, a `stage`, a
    /// message, a zero increment) is not one. An absolute count is taken as progress as
    /// it is written: telling it from the stored one would take a read.
    pub progress: bool,
}

impl JobUpdate {
    fn at(now: Timestamp) -> Self {
        JobUpdate {
            now,
            processed_items: None,
            failed_items: None,
            warned_items: None,
            total_items: None,
            metadata: Map::new(),
            error: None,
            warning: None,
            start: false,
            end: None,
            expected: None,
            heartbeat: false,
            progress: false,
        }
    }

    pub fn cancel(now: Timestamp) -> Self {
        JobUpdate {
            end: Some(Ending::Cancelled),
            ..Self::at(now)
        }
    }

    /// The update a progress report makes. `mark_completed` derives the final status
    /// from the job's counts after this report, so it needs the `current` job (and the
    /// update then expects those counts to be unchanged when it lands).
    pub fn from_report(report: ValidatedReport, now: Timestamp, current: Option<&Job>) -> Self {
        let item_error = report
            .error
            .as_ref()
            .is_some_and(JobIssue::is_about_an_item);
        let item_warning = report
            .warning
            .as_ref()
            .is_some_and(JobIssue::is_about_an_item);
        let mut update = JobUpdate {
            processed_items: CountChange::combine(
                report.processed_items,
                report.processed_items_increment.unwrap_or(0),
            ),
            failed_items: CountChange::combine(
                report.failed_items,
                report.failed_items_increment.unwrap_or(0) + u64::from(item_error),
            ),
            warned_items: CountChange::combine(None, u64::from(item_warning)),
            total_items: report.total_items,
            start: report.mark_started || report.reports_counts(),
            heartbeat: true,
            ..Self::at(now)
        };
        update.progress = report.mark_started
            || [
                update.processed_items,
                update.failed_items,
                update.warned_items,
            ]
            .iter()
            .any(Option::is_some);
        update.metadata = report.metadata_patch.clone();
        if let Some(stage) = &report.stage {
            update
                .metadata
                .insert("stage".into(), Value::String(stage.clone()));
        }
        if let Some(message) = &report.message {
            update
                .metadata
                .insert("last_message".into(), Value::String(message.clone()));
        }
        update.error = report.error;
        update.warning = report.warning;
        if let Some(message) = report.mark_failed {
            update.end = Some(Ending::Failed(message));
        } else if report.mark_completed {
            // A job completed straight from `pending` gets a start time (duration 0).
            update.start = true;
            if let Some(current) = current {
                let mut after = current.clone();
                update.apply(&mut after);
                update.end = Some(Ending::Completed(after.completion_status()));
                update.expected = Some(ExpectedCounts {
                    failed_items: current.failed_items,
                    warned_items: current.warned_items,
                    warning_count: current.warning_count,
                });
            }
        }
        update
    }

    /// Whether the final status depends on the job's counts, so the job must be read first.
    pub fn needs_current_job(report: &ValidatedReport) -> bool {
        report.mark_completed && report.mark_failed.is_none()
    }

    /// The status the job has after this update, given its status before.
    pub fn status_after(&self, before: JobStatus) -> JobStatus {
        match (&self.end, self.start, before) {
            (Some(ending), _, _) => ending.status(),
            (None, true, JobStatus::Pending) => JobStatus::InProgress,
            (None, _, status) => status,
        }
    }

    /// The first count this update would take past `max` on `job` (a job read after
    /// the write's condition refused it): which field, for the caller.
    pub fn count_past(&self, job: &Job, max: u64) -> Option<&'static str> {
        let counts = [
            ("processed_items", self.processed_items, job.processed_items),
            ("failed_items", self.failed_items, job.failed_items),
            ("warned_items", self.warned_items, job.warned_items),
        ];
        counts
            .into_iter()
            .find_map(|(name, change, count)| match change {
                Some(CountChange::Add(add)) if count > max.saturating_sub(add) => Some(name),
                _ => None,
            })
    }

    /// This update applied to a job in memory: what the store's conditional write does
    /// to the stored item. The caller has checked that the job has not ended.
    pub fn apply(&self, job: &mut Job) {
        let change = |count: &mut u64, change: Option<CountChange>| {
            if let Some(change) = change {
                *count = change.applied_to(*count);
            }
        };
        change(&mut job.processed_items, self.processed_items);
        change(&mut job.failed_items, self.failed_items);
        change(&mut job.warned_items, self.warned_items);
        if let Some(total) = self.total_items {
            job.total_items = total;
        }
        for (key, value) in &self.metadata {
            job.metadata.insert(key.clone(), value.clone());
        }
        job.error_count += u64::from(self.error.is_some());
        job.warning_count += u64::from(self.warning.is_some());
        job.status = self.status_after(job.status);
        if self.start {
            job.started_at.get_or_insert(self.now);
        }
        if self.heartbeat {
            job.last_heartbeat_at = Some(self.now);
        }
        if self.progress {
            job.last_progress_at = Some(self.now);
        }
        if let Some(ending) = &self.end {
            job.completed_at = Some(self.now);
            if let Ending::Failed(message) = ending {
                job.error_message = Some(message.clone());
            }
        }
        job.updated_at = self.now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::NewJob;
    use serde_json::json;

    fn at(second: u64) -> Timestamp {
        Timestamp::from_millis(1_795_867_200_000 + second * 1000)
    }

    fn pending_job() -> Job {
        let new = NewJob {
            job_type: "crawl".into(),
            total_items: 10,
            metadata: json!({"source": "s3", "stage": "queued"})
                .as_object()
                .unwrap()
                .clone(),
            triggered_by: None,
            heartbeat_timeout_seconds: None,
            timeout_seconds: None,
            stall_timeout_seconds: None,
        };
        Job::create("org".into(), "job".into(), new, at(0))
    }

    fn issue(entity_type: &str) -> JobIssue {
        JobIssue {
            entity_key: "row-1".into(),
            entity_type: entity_type.into(),
            error_type: "parse".into(),
            message: "bad row".into(),
            timestamp: at(5),
            details: None,
            step: None,
        }
    }

    fn report_on(job: &mut Job, report: ValidatedReport, second: u64) {
        let current = JobUpdate::needs_current_job(&report).then(|| job.clone());
        JobUpdate::from_report(report, at(second), current.as_ref()).apply(job);
    }

    #[test]
    fn mark_started_starts_a_pending_job_once() {
        let mut job = pending_job();
        report_on(
            &mut job,
            ValidatedReport {
                mark_started: true,
                ..Default::default()
            },
            1,
        );
        assert_eq!(
            (job.status, job.started_at),
            (JobStatus::InProgress, Some(at(1)))
        );
        report_on(
            &mut job,
            ValidatedReport {
                mark_started: true,
                ..Default::default()
            },
            2,
        );
        assert_eq!(job.started_at, Some(at(1)), "already started: no-op");
    }

    #[test]
    fn counts_start_a_pending_job_but_metadata_alone_does_not() {
        let mut job = pending_job();
        report_on(
            &mut job,
            ValidatedReport {
                stage: Some("fetch".into()),
                ..Default::default()
            },
            1,
        );
        assert_eq!(job.status, JobStatus::Pending);
        report_on(
            &mut job,
            ValidatedReport {
                processed_items_increment: Some(2),
                ..Default::default()
            },
            2,
        );
        assert_eq!(
            (job.status, job.started_at),
            (JobStatus::InProgress, Some(at(2)))
        );
    }

    #[test]
    fn counts_are_set_or_added_and_a_set_absorbs_the_increment() {
        let mut job = pending_job();
        let report = ValidatedReport {
            processed_items: Some(4),
            processed_items_increment: Some(1),
            failed_items_increment: Some(2),
            total_items: Some(12),
            ..Default::default()
        };
        let update = JobUpdate::from_report(report.clone(), at(1), None);
        assert_eq!(update.processed_items, Some(CountChange::Set(5)));
        assert_eq!(update.failed_items, Some(CountChange::Add(2)));
        report_on(&mut job, report, 1);
        report_on(
            &mut job,
            ValidatedReport {
                failed_items_increment: Some(1),
                ..Default::default()
            },
            2,
        );
        assert_eq!(
            (job.processed_items, job.failed_items, job.total_items),
            (5, 3, 12)
        );
    }

    #[test]
    fn stage_message_and_patch_merge_into_top_level_metadata() {
        let mut job = pending_job();
        let report = ValidatedReport {
            stage: Some("load".into()),
            message: Some("halfway".into()),
            metadata_patch: json!({"stage": "ignored", "rows": {"a": 1}})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        };
        report_on(&mut job, report, 1);
        assert_eq!(
            Value::Object(job.metadata),
            json!({"source": "s3", "stage": "load", "last_message": "halfway", "rows": {"a": 1}})
        );
    }

    #[test]
    fn an_item_error_counts_a_failed_item_and_a_job_error_does_not() {
        let mut job = pending_job();
        report_on(
            &mut job,
            ValidatedReport {
                error: Some(issue("job")),
                ..Default::default()
            },
            1,
        );
        assert_eq!(
            (job.failed_items, job.error_count, job.status),
            (0, 1, JobStatus::Pending)
        );
        report_on(
            &mut job,
            ValidatedReport {
                error: Some(issue("row")),
                ..Default::default()
            },
            2,
        );
        assert_eq!(
            (job.failed_items, job.error_count, job.status),
            (1, 2, JobStatus::InProgress)
        );
        report_on(
            &mut job,
            ValidatedReport {
                warning: Some(issue("row")),
                ..Default::default()
            },
            3,
        );
        assert_eq!((job.warned_items, job.warning_count), (1, 1));
    }

    #[test]
    fn mark_completed_derives_the_status_from_the_counts_after_the_report() {
        let completed = |setup: ValidatedReport, finish: ValidatedReport| {
            let mut job = pending_job();
            report_on(&mut job, setup, 1);
            report_on(
                &mut job,
                ValidatedReport {
                    mark_completed: true,
                    ..finish
                },
                2,
            );
            assert_eq!(job.completed_at, Some(at(2)));
            job.status
        };
        let none = ValidatedReport::default();
        assert_eq!(completed(none.clone(), none.clone()), JobStatus::Completed);
        let failed = ValidatedReport {
            failed_items_increment: Some(1),
            ..Default::default()
        };
        assert_eq!(
            completed(failed.clone(), none.clone()),
            JobStatus::PartialSuccess
        );
        assert_eq!(completed(none.clone(), failed), JobStatus::PartialSuccess);
        let job_warning = ValidatedReport {
            warning: Some(issue("job")),
            ..Default::default()
        };
        assert_eq!(
            completed(job_warning.clone(), none.clone()),
            JobStatus::CompletedWithWarnings
        );
        assert_eq!(
            completed(none, job_warning),
            JobStatus::CompletedWithWarnings
        );
    }

    #[test]
    fn mark_completed_expects_the_counts_it_was_derived_from() {
        let mut job = pending_job();
        job.failed_items = 3;
        job.warning_count = 2;
        let report = ValidatedReport {
            mark_completed: true,
            ..Default::default()
        };
        let update = JobUpdate::from_report(report, at(1), Some(&job));
        assert_eq!(
            update.expected,
            Some(ExpectedCounts {
                failed_items: 3,
                warned_items: 0,
                warning_count: 2
            })
        );
    }

    #[test]
    fn a_pending_job_completed_directly_has_a_zero_duration() {
        let mut job = pending_job();
        report_on(
            &mut job,
            ValidatedReport {
                mark_completed: true,
                ..Default::default()
            },
            4,
        );
        assert_eq!(job.duration_seconds(at(9)), Some(0.0));
        assert_eq!(job.progress_percentage(), 100.0);
    }

    #[test]
    fn mark_failed_ends_the_job_with_its_message() {
        let mut job = pending_job();
        let report = ValidatedReport {
            mark_failed: Some("source gone".into()),
            ..Default::default()
        };
        assert!(!JobUpdate::needs_current_job(&report));
        report_on(&mut job, report, 3);
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.error_message.as_deref(), Some("source gone"));
        assert_eq!((job.completed_at, job.started_at), (Some(at(3)), None));
    }

    #[test]
    fn cancel_ends_the_job() {
        let mut job = pending_job();
        JobUpdate::cancel(at(2)).apply(&mut job);
        assert_eq!(
            (job.status, job.completed_at),
            (JobStatus::Cancelled, Some(at(2)))
        );
    }
}
