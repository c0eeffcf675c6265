//! `GET /api/jobs/{job_id}`: one job in full, computed fields as of now.

use lambda_http::{Body, Response};

use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::routes::app::App;

pub async fn handle(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let job = super::read_job(app, caller, raw_id).await?;
    super::job_reply(app, &job).await
}
