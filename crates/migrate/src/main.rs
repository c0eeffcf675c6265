//! `jobs-migrate`: copies a table of the first key layout into the table this version
//! uses (docs/storage.md). Run once after the stack update that created the new
//! table; safe to run again, and to resume after a failure.
//!
//!     jobs-migrate --from OLD_TABLE --to NEW_TABLE [--dry-run] [--checkpoint FILE]
//!
//! AWS credentials and region come from the standard environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`);
//! `AWS_ENDPOINT_URL_DYNAMODB` points it at a local DynamoDB.

use std::path::PathBuf;
use std::process::ExitCode;

use jobs_api::config::AwsConfig;
use jobs_api::store::{self, Store};
use jobs_migrate::{Options, migrate};

const USAGE: &str =
    "usage: jobs-migrate --from OLD_TABLE --to NEW_TABLE [--dry-run] [--checkpoint FILE]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    jobs_api::telemetry::logging::init();
    let mut args = std::env::args().skip(1);
    let (mut from, mut to, mut dry_run, mut checkpoint) = (None, None, false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--from" => from = args.next(),
            "--to" => to = args.next(),
            "--dry-run" => dry_run = true,
            "--checkpoint" => checkpoint = args.next().map(PathBuf::from),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let client = match store::connect(&AwsConfig::from_env()).await {
        Ok(client) => client,
        Err(error) => {
            eprintln!("jobs-migrate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        source_table: from,
        dry_run,
        checkpoint: Some(checkpoint.unwrap_or_else(|| PathBuf::from("jobs-migrate.checkpoint"))),
        page_size: 100,
        max_pages: None,
    };
    let now = jobs_api::job::time::Timestamp::now().millis() / 1000;
    match migrate(&Store::new(client, to), &options, now).await {
        Ok(report) => {
            let verb = if dry_run { "would copy" } else { "copied" };
            println!(
                "jobs-migrate: scanned {}; {verb} {} jobs, {} history items, {} idempotency records; \
                 {} already there, {} skipped (expired or not of the first layout); {}",
                report.scanned,
                report.jobs,
                report.history,
                report.idempotency_records,
                report.already_there,
                report.skipped,
                if report.finished {
                    "finished"
                } else {
                    "not finished: run it again"
                }
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "jobs-migrate: stopped: {error:?}; run it again to resume from the checkpoint"
            );
            ExitCode::FAILURE
        }
    }
}
