//! `GET /api/jobs/{job_id}`: one job in full, computed fields as of now.

use lambda_http::{Body, Response};

use super::answer;
use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::store::Store;

pub async fn handle(
    store: &Store,
    caller: &Caller,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    let job = answer::read_job(store, caller, raw_id).await?;
    answer::job_reply(store, &job).await
}
