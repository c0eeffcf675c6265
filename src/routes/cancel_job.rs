//! `POST /api/jobs/{job_id}/cancel`: end a job that has not ended.

use lambda_http::{Body, Response};

use crate::app::App;
use crate::auth::{Caller, Permission};
use crate::error::ApiError;
use crate::job::JobUpdate;
use crate::time::Timestamp;

pub async fn handle(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Create)?;
    let job_id = super::job_id(raw_id)?;
    let org = &caller.organization_id;
    let update = JobUpdate::cancel(Timestamp::now());
    match app.store().update_job(org, job_id, &update).await {
        Ok(job) => super::job_reply(app, &job).await,
        Err(error) => Err(super::refusal(app, org, job_id, error).await),
    }
}
