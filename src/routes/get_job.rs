//! `GET /api/jobs/{job_id}`: one job in full, computed fields as of now.

use lambda_http::{Body, Response};

use crate::app::App;
use crate::auth::{Caller, Permission};
use crate::error::ApiError;

pub async fn handle(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Read)?;
    let job_id = super::job_id(raw_id)?;
    let job = app
        .store()
        .get_job(&caller.organization_id, job_id)
        .await?
        .ok_or(ApiError::JobNotFound)?;
    super::job_reply(app, &job).await
}
