//! What a call can end in, typed by what the caller can do about it.

use std::fmt;

use jobs_model::ValidationError;

#[derive(Debug)]
pub enum Error {
    /// `422`: every problem with the request, field by field.
    Validation(Vec<ValidationError>),
    /// `404`: no such job in the caller's organization (or an unknown route).
    NotFound(String),
    /// `409`: the job has ended, or a transition lost a race.
    Conflict(String),
    /// `401`: no credentials, or a token that does not verify.
    Unauthorized(String),
    /// `403`: organization not allowed, missing permission, cross-site write.
    Forbidden(String),
    /// `429` / `503` (or a connection that kept failing) after every retry the policy
    /// allows: the service could not take the call now; nothing was lost.
    Unavailable(String),
    /// Any other refusal (`400`, `405`, `413`, `415`, `500`…).
    Rejected { status: u16, detail: String },
    /// The base URL, token or an argument is unusable; nothing was sent.
    Config(String),
    /// An answer that is not what the API documents (a bug on one side).
    Protocol(String),
}

impl Error {
    /// The HTTP status behind the error, where there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Validation(_) => Some(422),
            Error::NotFound(_) => Some(404),
            Error::Conflict(_) => Some(409),
            Error::Unauthorized(_) => Some(401),
            Error::Forbidden(_) => Some(403),
            Error::Rejected { status, .. } => Some(*status),
            Error::Unavailable(_) | Error::Config(_) | Error::Protocol(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Validation(entries) => {
                write!(f, "invalid request")?;
                for entry in entries {
                    write!(f, "\n  {}: {}", entry.field(), entry.msg)?;
                }
                Ok(())
            }
            Error::NotFound(detail) => write!(f, "not found: {detail}"),
            Error::Conflict(detail) => write!(f, "conflict: {detail}"),
            Error::Unauthorized(detail) => {
                write!(f, "unauthorized: {detail} (check JOBS_TOKEN)")
            }
            Error::Forbidden(detail) => write!(f, "forbidden: {detail}"),
            Error::Unavailable(detail) => write!(f, "service unavailable: {detail}"),
            Error::Rejected { status, detail } => write!(f, "refused ({status}): {detail}"),
            Error::Config(detail) => write!(f, "{detail}"),
            Error::Protocol(detail) => write!(f, "unexpected answer: {detail}"),
        }
    }
}

impl std::error::Error for Error {}
