//! `GET /api/jobs/{job_id}/status`: the light poll, one DynamoDB read.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::response;

pub async fn handle(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let job = super::read_job(app, caller, raw_id).await?;
    Ok(response::json(StatusCode::OK, &job.to_status_response()))
}
