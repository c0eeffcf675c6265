//! [`ApiError`]: every way a request can fail, and the one place each becomes a status,
//! headers and a JSON body (`{"detail": ...}`, FastAPI's shape).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;

use crate::auth::{AuthError, ORGANIZATION_HEADER};
use crate::http::idempotency::{self, Refusal};
use crate::http::response;
use crate::http::validation::FieldError;
use crate::job::MAX_COUNT;
use crate::store::StoreError;

/// Seconds a client should wait before retrying when DynamoDB throttles or is unreachable.
const RETRY_AFTER_SECONDS: &str = "1";
/// The identity provider is tried again no sooner than this (`auth::jwks`).
const IDENTITY_RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug)]
pub enum ApiError {
    /// `422`: one entry per problem, all problems at once.
    Validation(Vec<FieldError>),
    /// `400`: the body is not parseable JSON (or not UTF-8).
    MalformedJson(String),
    /// `401`: no credentials, or credentials that do not verify.
    Unauthenticated(&'static str),
    /// `403`: authenticated, but not for this organization or action.
    Forbidden(String),
    /// `404`: no such route.
    NotFound,
    /// `404`: no such job in the caller's organization (whether or not another
    /// organization has one by that id: the answer is the same).
    JobNotFound,
    /// `405`: the path exists, the method does not; `Allow` lists the methods that do.
    MethodNotAllowed { allow: &'static str },
    /// `409`: the request conflicts with the state of the job.
    Conflict(String),
    /// `413`: the body is larger than the configured limit.
    PayloadTooLarge { limit: usize },
    /// `415`: the body is not declared as JSON.
    UnsupportedMediaType,
    /// `429`: DynamoDB still throttles after the SDK's retries.
    Throttled,
    /// `503`: DynamoDB cannot be reached or timed out.
    Unavailable,
    /// `503`: the identity provider cannot be reached to check a token (its keys or its
    /// introspection endpoint).
    IdentityUnavailable,
    /// `503`: a session token with no cached answer while this instance has asked the
    /// provider as often as it may for now (`JOBS_INTROSPECTION_MAX_PER_SECOND`).
    IdentityBusy,
    /// `500`: anything unexpected; the cause is logged, never returned.
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::JobNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::IdentityUnavailable | ApiError::IdentityBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let detail = match &self {
            ApiError::Validation(errors) => json!(errors),
            ApiError::MalformedJson(reason) => json!(format!("Malformed JSON body: {reason}")),
            ApiError::Unauthenticated(reason) => json!(reason),
            ApiError::Forbidden(reason) | ApiError::Conflict(reason) => json!(reason),
            ApiError::NotFound => json!("Not Found"),
            ApiError::JobNotFound => json!("Job not found"),
            ApiError::MethodNotAllowed { .. } => json!("Method Not Allowed"),
            ApiError::PayloadTooLarge { limit } => {
                json!(format!("Request body is larger than {limit} bytes"))
            }
            ApiError::UnsupportedMediaType => json!("Content-Type must be application/json"),
            ApiError::Throttled => json!("Too many requests, retry later"),
            ApiError::Unavailable => json!("Service temporarily unavailable, retry later"),
            ApiError::IdentityUnavailable => {
                json!("The identity provider cannot be reached to check this token, retry later")
            }
            ApiError::IdentityBusy => {
                json!("Too many new session tokens to check right now, retry later")
            }
            ApiError::Internal => json!("Internal Server Error"),
        };
        let mut response = response::json(status, &json!({ "detail": detail }));
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Throttled | ApiError::Unavailable | ApiError::IdentityBusy => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            ApiError::IdentityUnavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(IDENTITY_RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::Validation(vec![error])
    }
}

impl From<StoreError> for ApiError {
    /// The store's errors as the API answers them. A failed condition means different things to different routes, which map it
    /// themselves; reaching here it is unexpected.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled => ApiError::Throttled,
            StoreError::Unavailable => ApiError::Unavailable,
            StoreError::ConditionFailed => {
                tracing::error!("unexpected conditional check failure");
                ApiError::Internal
            }
            StoreError::ItemTooLarge => ApiError::Conflict(
                "The job would exceed DynamoDB's item size limit: its metadata is too large".into(),
            ),
            StoreError::Contended => {
                ApiError::Conflict("The job is being updated concurrently, retry".into())
            }
            StoreError::CountLimit(field) => ApiError::Conflict(format!(
                "{field} would exceed {MAX_COUNT}, the largest count a job holds: nothing was written"
            )),
            StoreError::ClaimLost => Refusal::InFlight.into(),
            StoreError::Refused(None) => ApiError::JobNotFound,
            StoreError::Refused(Some(job)) if job.status.has_ended() => ApiError::Conflict(
                format!("Job has already ended with status {}", job.status.as_str()),
            ),
            StoreError::Refused(Some(_)) => {
                ApiError::Conflict("The job changed while this request ran, retry".into())
            }
            StoreError::Unexpected(reason) => {
                tracing::error!(%reason, "dynamodb call failed");
                ApiError::Internal
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthenticated(reason) => ApiError::Unauthenticated(reason),
            AuthError::Forbidden(reason) => ApiError::Forbidden(reason),
            AuthError::OrganizationNotChosen => ApiError::Validation(vec![FieldError::missing(
                &["header", ORGANIZATION_HEADER],
                &serde_json::Value::Null,
            )]),
            AuthError::IdentityUnavailable => ApiError::IdentityUnavailable,
            AuthError::IdentityBusy => ApiError::IdentityBusy,
            AuthError::Internal => ApiError::Internal,
        }
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(problems: Vec<FieldError>) -> Self {
        ApiError::Validation(problems)
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::DifferentRequest => FieldError::value_error(
                &["header", idempotency::HEADER],
                "this Idempotency-Key was used for a different request",
                &serde_json::Value::Null,
            )
            .into(),
            Refusal::InFlight => ApiError::Conflict(
                "A request with this Idempotency-Key is still in progress".into(),
            ),
        }
    }
}

/// `(type, loc joined by '.')` of each problem of a refused request, for tests.
#[cfg(test)]
pub fn problem_list<T: std::fmt::Debug>(result: Result<T, ApiError>) -> Vec<(String, String)> {
    match result {
        Err(ApiError::Validation(errors)) => errors
            .into_iter()
            .map(|e| (e.kind.to_owned(), crate::http::validation::loc_text(&e.loc)))
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}
