//! `GET /api/jobs/`: the caller's jobs, newest first, filtered, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::auth::{Caller, Permission};
use crate::http::error::ApiError;
use crate::http::query::Query;
use crate::http::response;
use crate::http::validation::{self, FieldError, Problems};
use crate::job::time::Timestamp;
use crate::job::{JobStatus, RecentIssues};
use crate::store::JOB_CURSOR_PREFIX;
use crate::store::cursor::Cursor;
use crate::store::{JobFilter, Store};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
const MAX_FILTER_CHARS: usize = 255;

pub async fn handle(
    store: &Store,
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

    let page = store
        .list_jobs(&caller.organization_id, &filter, limit, cursor.as_ref())
        .await?;
    // List items leave `errors` and `warnings` empty: a page costs one query, not one
    // more per job. Metadata can still grow a job to DynamoDB's 400 KB, so the page also
    // stops before its size would pass the budget, with a cursor to go on.
    let none = RecentIssues::default();
    let now = Timestamp::now();
    let mut items = String::from("{\"items\":[");
    let mut used = 0;
    let mut next = page.next;
    let mut last_considered: Option<&str> = None;
    for job in &page.items {
        // A job the status index still files under its stored status but that its
        // deadline ended is not listed under that status any more (it is listed as
        // `failed` once the sweep wrote the ending, within a minute).
        if filter.status.is_some_and(|status| status != job.status) {
            last_considered = Some(&job.job_id);
            continue;
        }
        let text = serde_json::to_string(&job.to_response(now, &none)).map_err(|error| {
            tracing::error!(%error, "response serialization failed");
            ApiError::Internal
        })?;
        let size = response_size(&text) + 1;
        if let Some(before) = last_considered
            && used + size > PAGE_BUDGET_BYTES
        {
            next = Some(Cursor::after(&format!("{JOB_CURSOR_PREFIX}{before}")));
            break;
        }
        if used > 0 {
            items.push(',');
        }
        items.push_str(&text);
        used += size;
        last_considered = Some(&job.job_id);
    }
    items.push_str("],\"next_cursor\":");
    match next {
        Some(cursor) => {
            items.push('"');
            items.push_str(&cursor.encode());
            items.push('"');
        }
        None => items.push_str("null"),
    }
    items.push('}');
    Ok(response::json_text(StatusCode::OK, items))
}

/// Lambda refuses a function's answer past 6 MB (6,291,556 bytes: the invocation's whole
/// JSON, in which API Gateway's integration response carries the body as an escaped
/// string), and API Gateway then answers `502`. A page stops before its items, measured
/// as they travel there, would pass 5 MiB: the rest is room for the page's own frame,
/// the headers and the integration response around them.
pub const PAGE_BUDGET_BYTES: usize = 5 * 1024 * 1024;

/// `text`'s size inside a JSON string, as Lambda carries a body: each `"` and `\`
/// escaped again, so a page full of quotes counts double (never past the limit).
pub fn response_size(text: &str) -> usize {
    text.len() + text.bytes().filter(|&b| b == b'"' || b == b'\\').count()
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
