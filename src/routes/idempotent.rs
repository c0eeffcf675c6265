//! The one wrapper every write route goes through: `Idempotency-Key` (the rules are
//! `http::idempotency`, the records `store::idempotency`). A retried create, progress
//! report or cancel answers as the original did instead of writing again.
//!
//! The request claims its key first; the route's write commits the record's completion
//! in the job write's own transaction (`store::Completion`), so no crash leaves a job
//! written without its key; the answer is then kept for replays, or the claim freed when
//! nothing was written.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::answer;
use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::http::idempotency::{self, Found, Refusal};
use crate::http::prefer::{self, Return};
use crate::http::response;
use crate::job::time::Timestamp;
use crate::store::idempotency::{Record, StoredResponse};
use crate::store::{Claim, Store};
use crate::telemetry::metrics;

/// What makes two requests the same request: the route, the job and the parsed body
/// (the `form` of the answer is no part of it: asking for another form is the same
/// request, answered as it was).
pub struct Fingerprint<'a> {
    pub route: &'static str,
    pub job_id: Option<&'a str>,
    pub body: &'a Value,
}

/// A write's answer, and whether the write's own transaction already kept it.
pub enum Written {
    /// Kept with the record's completion (a create knows its answer before it writes).
    Kept(Response<Body>),
    /// Known only after the write: kept now, for replays.
    ToKeep(Response<Body>),
}

/// Runs `write` once per `Idempotency-Key`: a request without a key just writes; with a
/// key, a completed request's answer is replayed, a request in flight or a different
/// request under the same key is refused, and otherwise `write` runs with the claim
/// (which it completes in its transaction). A failed `write` frees the claim.
pub async fn write(
    store: &Store,
    request: &Request,
    caller: &Caller,
    fingerprint: Fingerprint<'_>,
    form: Option<Return>,
    write: impl AsyncFnOnce(Option<&Claim>) -> Result<Written, ApiError>,
) -> Result<Response<Body>, ApiError> {
    let claim = match idempotency::key(request)? {
        None => None,
        Some(key) => match claim(store, caller, &key, &fingerprint, form).await? {
            Claimed::Proceed(claim) => Some(claim),
            Claimed::Replayed(reply) => return Ok(reply),
        },
    };
    match write(claim.as_ref()).await {
        Ok(Written::Kept(reply)) => Ok(reply),
        Ok(Written::ToKeep(reply)) => {
            keep(store, claim.as_ref(), &reply).await;
            Ok(reply)
        }
        Err(error) => {
            release(store, claim.as_ref()).await;
            Err(error)
        }
    }
}

enum Claimed {
    Proceed(Claim),
    Replayed(Response<Body>),
}

async fn claim(
    store: &Store,
    caller: &Caller,
    key: &str,
    fingerprint: &Fingerprint<'_>,
    form: Option<Return>,
) -> Result<Claimed, ApiError> {
    let fingerprint =
        idempotency::fingerprint(fingerprint.route, fingerprint.job_id, fingerprint.body);
    let org = &caller.organization_id;
    // A record found expired or stale may be claimed again; a few rounds settle races.
    for _ in 0..3 {
        let now = Timestamp::now();
        let record = match store.claim_key(org, key, &fingerprint, now).await? {
            Ok(claim) => return Ok(Claimed::Proceed(claim)),
            Err(None) => continue,
            Err(Some(record)) => record,
        };
        match idempotency::decide(&record, &fingerprint, now) {
            Found::Free => continue,
            Found::Replay => {
                metrics::count(metrics::Counter::IdempotentReplay);
                return Ok(Claimed::Replayed(
                    replay(store, caller, &record, form).await?,
                ));
            }
            Found::Refused(why) => return Err(why.into()),
        }
    }
    Err(Refusal::InFlight.into())
}

/// The original response of a completed request, marked as replayed. Should the
/// request have died between its write and storing its response, the job as it is now,
/// in the `form` this request asks for (the original's is not known then).
async fn replay(
    store: &Store,
    caller: &Caller,
    record: &Record,
    form: Option<Return>,
) -> Result<Response<Body>, ApiError> {
    let mut reply = match (&record.response, &record.job_id) {
        (Some(stored), _) => {
            let status = StatusCode::from_u16(stored.status).map_err(|_| ApiError::Internal)?;
            let mut reply = response::json_text(status, stored.body.clone());
            let headers = [
                (header::LOCATION.as_str(), &stored.location),
                (prefer::APPLIED_HEADER, &stored.preference_applied),
            ];
            for (name, value) in headers {
                if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                    reply.headers_mut().insert(name, value);
                }
            }
            reply
        }
        (None, Some(job_id)) => {
            let job = store.get_job(&caller.organization_id, job_id).await?;
            answer::written_reply(store, &job.ok_or(ApiError::JobNotFound)?, form).await?
        }
        (None, None) => return Err(ApiError::Internal),
    };
    reply.headers_mut().insert(
        idempotency::REPLAYED_HEADER,
        HeaderValue::from_static("true"),
    );
    Ok(reply)
}

/// After the write: keeps the answer for replays (best effort: a replay without it
/// answers with the job as it then is).
async fn keep(store: &Store, claim: Option<&Claim>, reply: &Response<Body>) {
    if let Some(claim) = claim
        && let Err(error) = store.save_response(claim, &stored(reply)).await
    {
        tracing::warn!(?error, "idempotent response not stored");
    }
}

/// After a failure that wrote nothing: frees the key so that a retry can run. (A write
/// that completed the record is not freed: the store releases only a claim in flight.)
async fn release(store: &Store, claim: Option<&Claim>) {
    if let Some(claim) = claim
        && let Err(error) = store.release_key(claim).await
    {
        tracing::warn!(
            ?error,
            "idempotency claim not released; it goes stale in 30 s"
        );
    }
}

/// A response as an idempotency record keeps it.
pub fn stored(reply: &Response<Body>) -> StoredResponse {
    let body = match reply.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    let header = |name: &str| {
        let value = reply.headers().get(name)?.to_str().ok()?;
        Some(value.to_owned())
    };
    StoredResponse {
        status: reply.status().as_u16(),
        body,
        location: header(header::LOCATION.as_str()),
        preference_applied: header(prefer::APPLIED_HEADER),
    }
}
