//! What the job routes share: the job id in a path, the caller's job, and the answer
//! with a job (its recent errors and warnings within a budget, in the form asked for).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::auth::{Caller, Permission};
use crate::http::error::ApiError;
use crate::http::prefer::{self, Return};
use crate::http::response;
use crate::job::time::Timestamp;
use crate::job::{Job, RECENT_ISSUES_CAP, RecentIssues, RecordedIssue};
use crate::store::{IssueKind, Store};
use crate::telemetry::metrics;

/// The errors and warnings a job response carries stay within this many bytes (the
/// oldest are left out first): every response, and every stored replay of one, stays
/// small whatever the errors hold.
const RECENT_ISSUES_BUDGET: usize = 128 * 1024;

/// The job id in a path. Ids are UUIDs as this API writes them (lowercase); anything
/// else names no job, so it is a `404` like any unknown job.
pub fn job_id(raw: &str) -> Result<&str, ApiError> {
    let canonical =
        raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok() && raw == raw.to_ascii_lowercase();
    canonical.then_some(raw).ok_or(ApiError::JobNotFound)
}

/// The caller's job `raw_id`, for a route that reads: `404` when it is not theirs.
pub async fn read_job(store: &Store, caller: &Caller, raw_id: &str) -> Result<Job, ApiError> {
    caller.require(Permission::Read)?;
    let job_id = job_id(raw_id)?;
    let job = store.get_job(&caller.organization_id, job_id).await?;
    job.ok_or(ApiError::JobNotFound)
}

/// Answers a job write with the job it wrote, in the `form` the caller prefers; counts
/// the job's ending when this write ended it.
pub async fn written(
    store: &Store,
    job: &Job,
    form: Option<Return>,
) -> Result<Response<Body>, ApiError> {
    // Every write is conditional on the job not having ended: ended now, ended by this
    // request.
    if job.status.has_ended() {
        metrics::job_ended(metrics::JobEnded {
            job_type: job.job_type.clone(),
            status: job.status,
            duration_seconds: job.duration_seconds(Timestamp::now()),
        });
    }
    written_reply(store, job, form).await
}

/// A job's most recent errors and warnings, read only when it has any.
pub async fn recent_issues(store: &Store, job: &Job) -> Result<RecentIssues, ApiError> {
    let (org, id) = (job.organization_id.as_str(), job.job_id.as_str());
    let read = |count: u64, kind: IssueKind| async move {
        match count {
            0 => Ok(Vec::new()),
            _ => store.recent_issues(org, id, kind, RECENT_ISSUES_CAP).await,
        }
    };
    let errors = read(job.error_count, IssueKind::Error);
    let warnings = read(job.warning_count, IssueKind::Warning);
    let (errors, warnings) = tokio::join!(errors, warnings);
    let mut recent = RecentIssues {
        errors: errors?,
        warnings: warnings?,
    };
    // A job shown ended by its deadline, before the sweep wrote it, shows its error too.
    if let Some(issue) = unrecorded_timeout(job) {
        recent.errors.push(issue);
        if recent.errors.len() > RECENT_ISSUES_CAP {
            recent.errors.remove(0);
        }
    }
    Ok(within_budget(recent, RECENT_ISSUES_BUDGET))
}

/// The job-level error of a deadline that passed and that no write has recorded yet
/// (see `Job::as_of`): what the sweep's ending will add to the history.
pub fn unrecorded_timeout(job: &Job) -> Option<RecordedIssue> {
    let issue = job.timed_out.as_ref()?.issue(&job.job_id);
    let json = serde_json::value::to_raw_value(&issue).ok()?;
    Some(RecordedIssue {
        timestamp: issue.timestamp,
        json,
    })
}

/// Drops the oldest errors and warnings until both lists fit in `budget` bytes of JSON.
fn within_budget(mut recent: RecentIssues, budget: usize) -> RecentIssues {
    let mut total: usize = recent
        .errors
        .iter()
        .chain(&recent.warnings)
        .map(RecordedIssue::size)
        .sum();
    while total > budget {
        let oldest_error = recent.errors.first().map(|issue| issue.timestamp);
        let oldest_warning = recent.warnings.first().map(|issue| issue.timestamp);
        let list = match (oldest_error, oldest_warning) {
            (Some(e), Some(w)) if w < e => &mut recent.warnings,
            (Some(_), _) => &mut recent.errors,
            (None, Some(_)) => &mut recent.warnings,
            (None, None) => break,
        };
        total -= list.remove(0).size();
    }
    recent
}

/// `200` with a job just written, in the `form` asked for: the `/status` body for
/// `return=minimal`, which reads no history; the full `JobResponse` otherwise. A form
/// asked for is named in `Preference-Applied`.
pub async fn written_reply(
    store: &Store,
    job: &Job,
    form: Option<Return>,
) -> Result<Response<Body>, ApiError> {
    let mut reply = match form {
        Some(Return::Minimal) => response::json(StatusCode::OK, &job.to_status_response()),
        Some(Return::Representation) | None => job_reply(store, job).await?,
    };
    if let Some(form) = form {
        reply
            .headers_mut()
            .insert(prefer::APPLIED_HEADER, form.applied());
    }
    Ok(reply)
}

/// `200` with the full `JobResponse` of `job`.
pub async fn job_reply(store: &Store, job: &Job) -> Result<Response<Body>, ApiError> {
    let recent = recent_issues(store, job).await?;
    Ok(response::json(
        StatusCode::OK,
        &job.to_response(Timestamp::now(), &recent),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobIssue;

    fn issue(second: u64, size: usize) -> RecordedIssue {
        let issue = JobIssue {
            entity_key: "k".into(),
            entity_type: "row".into(),
            error_type: "t".into(),
            message: "m".repeat(size),
            timestamp: Timestamp::from_millis(second * 1000),
            details: None,
            step: None,
        };
        RecordedIssue {
            timestamp: issue.timestamp,
            json: serde_json::value::to_raw_value(&issue).unwrap(),
        }
    }

    #[test]
    fn the_oldest_issues_go_first_when_over_budget() {
        let recent = RecentIssues {
            errors: vec![issue(1, 1000), issue(3, 1000), issue(5, 1000)],
            warnings: vec![issue(2, 1000), issue(4, 1000)],
        };
        let kept = within_budget(recent.clone(), 3500);
        let seconds = |list: &[RecordedIssue]| {
            list.iter()
                .map(|i| i.timestamp.millis() / 1000)
                .collect::<Vec<_>>()
        };
        assert_eq!(seconds(&kept.errors), [3, 5]);
        assert_eq!(seconds(&kept.warnings), [4]);
        assert_eq!(
            within_budget(recent.clone(), 1_000_000),
            recent,
            "under budget: untouched"
        );
    }
}
