//! What the functions tell their operators: each request's one JSON log line with its
//! CloudWatch metrics (EMF), and the other log lines at Lambda's level.

pub mod logging;
pub mod metrics;
