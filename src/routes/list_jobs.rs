//! `GET /api/jobs/`: the caller's jobs, newest first, filtered, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::auth::{Caller, Permission};
use crate::error::ApiError;
use crate::job::{JobResponse, JobStatus, RecentIssues};
use crate::query::Query;
use crate::response;
use crate::store::JOB_CURSOR_PREFIX;
use crate::store::JobFilter;
use crate::time::Timestamp;
use crate::validation::{self, FieldError, Problems};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
const MAX_FILTER_CHARS: usize = 255;

#[derive(Serialize)]
struct JobList<'a> {
    items: Vec<JobResponse<'a>>,
    next_cursor: Option<String>,
}

pub async fn handle(
    app: &App,
    request: &Request,
    caller: &Caller,
) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Read)?;
    let query = Query::of(request);
    let mut problems = Problems::default();
    let filter = parse_filter(&query, &mut problems);
    let limit = problems.check(query.limit(DEFAULT_LIMIT, MAX_LIMIT));
    let cursor = problems.check(query.cursor(JOB_CURSOR_PREFIX));
    let ((filter, limit), cursor) = problems.finish(filter.zip(limit).zip(cursor))?;

    let page = app
        .store()
        .list_jobs(&caller.organization_id, &filter, limit, cursor.as_ref())
        .await?;
    // List items leave `errors` and `warnings` empty: a page costs one query, not one
    // more per job, and stays far below Lambda's 6 MB response limit.
    let none = RecentIssues::default();
    let now = Timestamp::now();
    let body = JobList {
        items: page
            .items
            .iter()
            // A job the status index still files under its stored status but that its
            // deadline ended is not listed under that status any more (it is listed as
            // `failed` once the sweep wrote the ending, within a minute).
            .filter(|job| filter.status.is_none_or(|status| status == job.status))
            .map(|job| job.to_response(now, &none))
            .collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    };
    Ok(response::json(StatusCode::OK, &body))
}

fn parse_filter(query: &Query, problems: &mut Problems) -> Option<JobFilter> {
    let text = |name: &str| -> Result<Option<String>, FieldError> {
        query
            .text(name)
            .map(|text| {
                validation::string(
                    &Value::String(text.to_owned()),
                    &["query", name],
                    MAX_FILTER_CHARS,
                )
            })
            .transpose()
    };
    let statuses: Vec<String> = JobStatus::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let status = problems.check(
        query
            .text("status")
            .map(|text| {
                validation::one_of(
                    &Value::String(text.to_owned()),
                    &["query", "status"],
                    &statuses,
                )
            })
            .transpose(),
    );
    let job_type = problems.check(text("job_type"));
    let triggered_by = problems.check(text("triggered_by"));
    let created_after = problems.check(query.timestamp("created_after"));
    let created_before = problems.check(query.timestamp("created_before"));
    Some(JobFilter {
        status: status?.as_deref().and_then(JobStatus::parse),
        job_type: job_type?,
        triggered_by: triggered_by?,
        created_after: created_after?,
        created_before: created_before?,
    })
}
