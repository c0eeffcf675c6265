//! `GET /api/jobs/{job_id}/status`: the light poll, one DynamoDB read.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::http::response;
use crate::job::JobStatusResponse;
use crate::routes::app::App;

pub async fn handle(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let job = super::read_job(app, caller, raw_id).await?;
    Ok(response::json(
        StatusCode::OK,
        &JobStatusResponse::from(&job),
    ))
}
