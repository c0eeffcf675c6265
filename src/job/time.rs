//! [`Timestamp`]: the wire model's instant (`crates/model`), which the API's answers, the
//! events and the table all write as RFC 3339 (`2026-11-28T12:00:00.123Z`).

pub use jobs_model::Timestamp;
