//! `GET /api/jobs/{job_id}/status`: the light poll, one DynamoDB read.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::answer;
use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::http::response;
use crate::store::Store;

pub async fn handle(
    store: &Store,
    caller: &Caller,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    let job = answer::read_job(store, caller, raw_id).await?;
    Ok(response::json(StatusCode::OK, &job.to_status_response()))
}
