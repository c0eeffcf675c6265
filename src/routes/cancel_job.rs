//! `POST /api/jobs/{job_id}/cancel`: end a job that has not ended.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::answer;
use super::idempotent::{self, Fingerprint, Written};
use crate::auth::{Caller, Permission};
use crate::http::error::ApiError;
use crate::http::prefer;
use crate::job::JobUpdate;
use crate::job::time::Timestamp;
use crate::store::{Completion, Store};

pub async fn handle(
    store: &Store,
    request: &Request,
    caller: &Caller,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Create)?;
    let job_id = answer::job_id(raw_id)?;
    let org = &caller.organization_id;
    let form = prefer::requested_return(request.headers());
    // A cancel has no body: its fingerprint is the route and the job.
    let fingerprint = Fingerprint {
        route: "cancel",
        job_id: Some(job_id),
        body: &Value::Null,
    };
    idempotent::write(store, request, caller, fingerprint, form, async |claim| {
        let update = JobUpdate::cancel(Timestamp::now());
        let completion = claim.map(|claim| Completion {
            claim,
            job_id,
            response: None,
        });
        let job = store.update_job(org, job_id, &update, completion).await?;
        Ok(Written::ToKeep(answer::written(store, &job, form).await?))
    })
    .await
}
