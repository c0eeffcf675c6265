//! `POST /api/jobs/{job_id}/cancel`: end a job that has not ended.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::auth::{Caller, Permission};
use crate::http::error::ApiError;
use crate::http::prefer;
use crate::job::JobUpdate;
use crate::job::time::Timestamp;
use crate::routes::app::App;
use crate::store::Completion;

pub async fn handle(
    app: &App,
    request: &Request,
    caller: &Caller,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Create)?;
    let job_id = super::job_id(raw_id)?;
    let org = &caller.organization_id;
    let form = prefer::requested_return(request.headers());
    // A cancel has no body: its fingerprint is the route and the job.
    let begun = super::begin(
        app,
        request,
        caller,
        "cancel",
        Some(job_id),
        &Value::Null,
        form,
    );
    let claim = match begun.await? {
        super::Begin::Replayed(reply) => return Ok(reply),
        super::Begin::Proceed(claim) => claim,
    };
    let update = JobUpdate::cancel(Timestamp::now());
    let completion = claim.as_ref().map(|claim| Completion {
        claim,
        job_id,
        response: None,
    });
    let written = app
        .store()
        .update_job(org, job_id, &update, completion)
        .await;
    super::answer(app, claim.as_ref(), written.map_err(ApiError::from), form).await
}
