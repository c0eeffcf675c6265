//! `GET /api/jobs/{job_id}/errors` and `/warnings`: every error or warning ever recorded,
//! oldest first, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::answer;
use crate::auth::{Caller, Permission};
use crate::http::error::ApiError;
use crate::http::query::Query;
use crate::http::response;
use crate::http::validation::Problems;
use crate::store::{IssueKind, Store};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 100;

pub async fn handle(
    store: &Store,
    request: &Request,
    caller: &Caller,
    raw_id: &str,
    kind: IssueKind,
) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Read)?;
    let job_id = answer::job_id(raw_id)?;
    let query = Query::of(request);
    let mut problems = Problems::default();
    let limit = problems.check(query.limit(DEFAULT_LIMIT, MAX_LIMIT));
    let cursor = problems.check(query.cursor(kind.prefix()));
    let (limit, cursor) = problems.finish(limit.zip(cursor))?;

    let org = &caller.organization_id;
    // The history of a job that is not the caller's is not there to read: same 404.
    let job = store
        .get_job(org, job_id)
        .await?
        .ok_or(ApiError::JobNotFound)?;
    let mut page = store
        .list_issues(org, job_id, kind, limit, cursor.as_ref())
        .await?;
    // The history ends with the error of a deadline that passed, before the sweep
    // records it (after, it is an item like any other).
    if kind == IssueKind::Error && page.next.is_none() && page.items.len() < limit {
        page.items.extend(answer::unrecorded_timeout(&job));
    }
    let body = jobs_model::Page {
        items: page.items,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    };
    Ok(response::json(StatusCode::OK, &body))
}
