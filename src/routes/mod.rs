//! One file per endpoint: its input parsing, its rules and its store calls. What several
//! endpoints share about answering with a job lives here.

pub mod cancel_job;
pub mod create_job;
pub mod get_job;
pub mod get_job_status;
pub mod list_issues;
pub mod list_jobs;
pub mod page;
pub mod report_progress;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::idempotency::{self, Found, Record, StoredResponse};
use crate::job::{Job, RECENT_ISSUES_CAP, RecentIssues, RecordedIssue};
use crate::metrics;
use crate::prefer::{self, Return};
use crate::response;
use crate::store::{Claim, IssueKind};
use crate::time::Timestamp;

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
pub async fn read_job(app: &App, caller: &Caller, raw_id: &str) -> Result<Job, ApiError> {
    caller.require(crate::auth::Permission::Read)?;
    let job_id = job_id(raw_id)?;
    let job = app.store().get_job(&caller.organization_id, job_id).await?;
    job.ok_or(ApiError::JobNotFound)
}

/// Answers a job write: `200` with the job in the `form` the caller prefers (kept for
/// replays under the claim), or the error (freeing the claim, since nothing was written).
pub async fn answer(
    app: &App,
    claim: Option<&Claim>,
    written: Result<Job, ApiError>,
    form: Option<Return>,
) -> Result<Response<Body>, ApiError> {
    match written {
        Ok(job) => {
            // Every write is conditional on the job not having ended: ended now, ended
            // by this request.
            if job.status.has_ended() {
                metrics::job_ended(metrics::JobEnded {
                    job_type: job.job_type.clone(),
                    status: job.status,
                    duration_seconds: job.duration_seconds(Timestamp::now()),
                });
            }
            let reply = written_reply(app, &job, form).await?;
            finish(app, claim, &reply).await;
            Ok(reply)
        }
        Err(error) => {
            abandon(app, claim).await;
            Err(error)
        }
    }
}

/// A job's most recent errors and warnings, read only when it has any.
pub async fn recent_issues(app: &App, job: &Job) -> Result<RecentIssues, ApiError> {
    let (org, id) = (job.organization_id.as_str(), job.job_id.as_str());
    let read = |count: u64, kind: IssueKind| async move {
        match count {
            0 => Ok(Vec::new()),
            _ => {
                app.store()
                    .recent_issues(org, id, kind, RECENT_ISSUES_CAP)
                    .await
            }
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

/// How a request that may carry an `Idempotency-Key` begins.
pub enum Begin {
    /// Go ahead; with the key claimed if there was one.
    Proceed(Option<Claim>),
    /// The same request already completed: its response, replayed.
    Replayed(Response<Body>),
}

/// Claims the request's idempotency key, if it has one. `route`, `job_id` and the
/// parsed `body` make the request's fingerprint (the `form` of the answer is no part of
/// it: asking for another form is the same request, answered as it was).
pub async fn begin(
    app: &App,
    request: &Request,
    caller: &Caller,
    route: &str,
    job_id: Option<&str>,
    body: &Value,
    form: Option<Return>,
) -> Result<Begin, ApiError> {
    let Some(key) = idempotency::key(request)? else {
        return Ok(Begin::Proceed(None));
    };
    let fingerprint = idempotency::fingerprint(route, job_id, body);
    let org = &caller.organization_id;
    // A record found expired or stale may be claimed again; a few rounds settle races.
    for _ in 0..3 {
        let now = Timestamp::now();
        let record = match app.store().claim_key(org, &key, &fingerprint, now).await? {
            Ok(claim) => return Ok(Begin::Proceed(Some(claim))),
            Err(None) => continue,
            Err(Some(record)) => record,
        };
        match idempotency::decide(&record, &fingerprint, now) {
            Found::Free => continue,
            Found::Replay => {
                metrics::count(metrics::Counter::IdempotentReplay);
                return Ok(Begin::Replayed(replay(app, caller, &record, form).await?));
            }
            Found::Refused(why) => return Err(why.into_error()),
        }
    }
    Err(idempotency::ApiErrorKind::InFlight.into_error())
}

/// The original response of a completed request, marked as replayed. Should the
/// request have died between its write and storing its response, the job as it is now,
/// in the `form` this request asks for (the original's is not known then).
async fn replay(
    app: &App,
    caller: &Caller,
    record: &Record,
    form: Option<Return>,
) -> Result<Response<Body>, ApiError> {
    let mut reply = match (&record.response, &record.job_id) {
        (Some(stored), _) => {
            let status = StatusCode::from_u16(stored.status).map_err(|_| ApiError::Internal)?;
            let mut reply = response::json_text(status, stored.body.clone());
            let headers = [
                (header::LOCATION.as_str(), &stored.location),
                (prefer::APPLIED_HEADER, &stored.preference_applied),
            ];
            for (name, value) in headers {
                if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                    reply.headers_mut().insert(name, value);
                }
            }
            reply
        }
        (None, Some(job_id)) => {
            let job = app.store().get_job(&caller.organization_id, job_id).await?;
            written_reply(app, &job.ok_or(ApiError::JobNotFound)?, form).await?
        }
        (None, None) => return Err(ApiError::Internal),
    };
    reply.headers_mut().insert(
        idempotency::REPLAYED_HEADER,
        HeaderValue::from_static("true"),
    );
    Ok(reply)
}

/// After the write: keeps the response for replays (best effort: a replay without it
/// answers with the job as it then is).
pub async fn finish(app: &App, claim: Option<&Claim>, reply: &Response<Body>) {
    if let Some(claim) = claim
        && let Err(error) = app.store().save_response(claim, &stored(reply)).await
    {
        tracing::warn!(?error, "idempotent response not stored");
    }
}

/// After a failure that wrote nothing: frees the key so that a retry can run.
pub async fn abandon(app: &App, claim: Option<&Claim>) {
    if let Some(claim) = claim
        && let Err(error) = app.store().release_key(claim).await
    {
        tracing::warn!(
            ?error,
            "idempotency claim not released; it goes stale in 30 s"
        );
    }
}

/// A response as an idempotency record keeps it.
pub fn stored(reply: &Response<Body>) -> StoredResponse {
    let body = match reply.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    let header = |name: &str| {
        let value = reply.headers().get(name)?.to_str().ok()?;
        Some(value.to_owned())
    };
    StoredResponse {
        status: reply.status().as_u16(),
        body,
        location: header(header::LOCATION.as_str()),
        preference_applied: header(prefer::APPLIED_HEADER),
    }
}

/// `200` with a job just written, in the `form` asked for: the `/status` body for
/// `return=minimal`, which reads no history; the full `JobResponse` otherwise. A form
/// asked for is named in `Preference-Applied`.
async fn written_reply(
    app: &App,
    job: &Job,
    form: Option<Return>,
) -> Result<Response<Body>, ApiError> {
    let mut reply = match form {
        Some(Return::Minimal) => response::json(StatusCode::OK, &job.to_status_response()),
        Some(Return::Representation) | None => job_reply(app, job).await?,
    };
    if let Some(form) = form {
        reply
            .headers_mut()
            .insert(prefer::APPLIED_HEADER, form.applied());
    }
    Ok(reply)
}

/// `200` with the full `JobResponse` of `job`.
pub async fn job_reply(app: &App, job: &Job) -> Result<Response<Body>, ApiError> {
    let recent = recent_issues(app, job).await?;
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
