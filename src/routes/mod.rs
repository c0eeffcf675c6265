//! The API: [`app::App`] takes a request through the [`router`] to one file per
//! endpoint, each applying itself to what it is given (the store, the settings, the
//! caller), as mini-redis's commands apply themselves to its `Db`. What the job routes
//! share is in [`answer`]; every write goes through [`idempotent::write`].

pub mod answer;
pub mod app;
pub mod cancel_job;
pub mod create_job;
pub mod get_job;
pub mod get_job_status;
pub mod idempotent;
pub mod list_issues;
pub mod list_jobs;
pub mod page;
pub mod report_progress;
pub mod router;
