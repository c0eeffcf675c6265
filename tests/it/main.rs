//! The integration tests: one test binary, one module per subject, the fixtures they share
//! in `common`. One binary rather than one per file: each test binary links the whole
//! service and the AWS SDK, so a new subject is a module here, not a file in tests/.
//!
//! A test is named by its module: `cargo test --test it lifecycle::` runs one subject,
//! `cargo test --test it -- --exact lifecycle::cancel_ends_pending_and_running_jobs_only`
//! one test. Most need the local DynamoDB and the function that `scripts/test.sh` starts
//! (`bash scripts/test.sh -- --test it lifecycle::`); `template::` and `properties::` need
//! nothing running.
//!
//! Tests of one binary share a process: a test that changes the environment runs itself
//! in a child process (`aws_profile`), and faults are armed on a proxy and an SDK retry
//! partition of the test's own (`common::app_behind`), never on the shared client.

mod common;

// The standard chain is the `standard-chain` feature's (the default).
#[cfg(feature = "standard-chain")]
mod aws_profile;
mod browser_callers;
mod client_retry;
mod create_job;
mod end_to_end;
mod events;
mod faults;
mod history;
mod hostile;
mod idempotency;
mod identity_provider;
mod job_events;
mod lifecycle;
mod list_jobs;
mod load;
mod migration;
mod model_drift;
mod numbers;
mod prefer;
mod properties;
mod sweep_scale;
mod template;
mod timeout_units;
mod timeouts;
