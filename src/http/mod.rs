//! The HTTP edge: what a request's parts mean and how an answer is written. The JSON
//! body, the query string, `Prefer`, browser origins (CORS, forged writes), FastAPI-shaped
//! field errors, [`error::ApiError`] (the one place an error becomes a status and a body)
//! and the `Idempotency-Key` wrapper every write route goes through.

pub mod body;
pub mod error;
pub mod idempotency;
pub mod origin;
pub mod prefer;
pub mod query;
pub mod response;
pub mod validation;
