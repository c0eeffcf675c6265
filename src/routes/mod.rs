//! One file per endpoint: its input parsing, its rules and its store calls. What several
//! endpoints share about answering with a job lives here.

pub mod cancel_job;
pub mod create_job;
pub mod get_job;
pub mod get_job_status;
pub mod list_issues;
pub mod list_jobs;
pub mod report_progress;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::App;
use crate::error::ApiError;
use crate::job::{Job, RECENT_ISSUES_CAP, RecentIssues};
use crate::response;
use crate::store::{IssueKind, StoreError};
use crate::time::Timestamp;

/// The job id in a path. Ids are UUIDs as this API writes them (lowercase); anything
/// else names no job, so it is a `404` like any unknown job.
pub fn job_id(raw: &str) -> Result<&str, ApiError> {
    let canonical =
        raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok() && raw == raw.to_ascii_lowercase();
    canonical.then_some(raw).ok_or(ApiError::JobNotFound)
}

/// A job's most recent errors and warnings, read only when it has any.
pub async fn recent_issues(app: &App, job: &Job) -> Result<RecentIssues, ApiError> {
    let store = app.store();
    let (org, id) = (job.organization_id.as_str(), job.job_id.as_str());
    let errors = async {
        match job.error_count {
            0 => Ok(Vec::new()),
            _ => {
                store
                    .recent_issues(org, id, IssueKind::Error, RECENT_ISSUES_CAP)
                    .await
            }
        }
    };
    let warnings = async {
        match job.warning_count {
            0 => Ok(Vec::new()),
            _ => {
                store
                    .recent_issues(org, id, IssueKind::Warning, RECENT_ISSUES_CAP)
                    .await
            }
        }
    };
    let (errors, warnings) = tokio::join!(errors, warnings);
    Ok(RecentIssues {
        errors: errors?,
        warnings: warnings?,
    })
}

/// `200` with the full `JobResponse` of `job`.
pub async fn job_reply(app: &App, job: &Job) -> Result<Response<Body>, ApiError> {
    let recent = recent_issues(app, job).await?;
    Ok(response::json(
        StatusCode::OK,
        &job.to_response(Timestamp::now(), &recent),
    ))
}

/// Why a conditional write to a job did not land: the job is not the caller's (`404`),
/// or it has ended (`409`).
pub async fn refusal(
    app: &App,
    organization_id: &str,
    job_id: &str,
    error: StoreError,
) -> ApiError {
    if !matches!(error, StoreError::ConditionFailed) {
        return error.into();
    }
    match app.store().get_job(organization_id, job_id).await {
        Ok(None) => ApiError::JobNotFound,
        Ok(Some(job)) if job.status.has_ended() => ApiError::Conflict(format!(
            "Job has already ended with status {}",
            job.status.as_str()
        )),
        Ok(Some(_)) => ApiError::Conflict("The job changed while this request ran, retry".into()),
        Err(error) => error.into(),
    }
}
