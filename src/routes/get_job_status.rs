//! `GET /api/jobs/{job_id}/status`: the light poll, one DynamoDB read.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::job::{Job, JobStatus};
use crate::response;
use crate::time::Timestamp;

#[derive(Debug, Serialize)]
pub struct JobStatusResponse<'a> {
    pub job_id: &'a str,
    pub status: JobStatus,
    pub progress_percentage: f64,
    pub processed_items: u64,
    pub failed_items: u64,
    pub warned_items: u64,
    pub total_items: u64,
    pub updated_at: Timestamp,
}

impl<'a> From<&'a Job> for JobStatusResponse<'a> {
    fn from(job: &'a Job) -> Self {
        JobStatusResponse {
            job_id: &job.job_id,
            status: job.status,
            progress_percentage: job.progress_percentage(),
            processed_items: job.processed_items,
            failed_items: job.failed_items,
            warned_items: job.warned_items,
            total_items: job.total_items,
            updated_at: job.updated_at,
        }
    }
}

pub async fn handle(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let job = super::read_job(app, caller, raw_id).await?;
    Ok(response::json(
        StatusCode::OK,
        &JobStatusResponse::from(&job),
    ))
}
