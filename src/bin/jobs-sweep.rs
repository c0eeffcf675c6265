//! `jobs-sweep`: ends the jobs whose heartbeat, overall or stall deadline has passed (the
//! rules and the loop are in `jobs_api::sweep`). Deployed as a Lambda function that an
//! EventBridge schedule invokes every minute (template.yaml); outside Lambda (no
//! `AWS_LAMBDA_RUNTIME_API`) it sweeps once, or every `--every SECONDS` until stopped
//! (`scripts/run.sh` runs it so).
//!
//!     jobs-sweep [--every SECONDS]
//!
//! Needs `JOBS_TABLE_NAME`, and the standard AWS settings (`AWS_REGION`, credentials;
//! `AWS_ENDPOINT_URL_DYNAMODB` for a local DynamoDB).

use std::process::ExitCode;
use std::time::Duration;

use jobs_api::config::{AwsConfig, SweepConfig};
use jobs_api::job::time::Timestamp;
use jobs_api::store::{self, Store};
use jobs_api::sweep::{self, SweepReport};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::service_fn;

/// No new page after this long: the function's timeout is 60 s.
const BUDGET: Duration = Duration::from_secs(45);
const USAGE: &str = "usage: jobs-sweep [--every SECONDS]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    jobs_api::telemetry::logging::init();
    let every = match parse_args(std::env::args().skip(1)) {
        Ok(every) => every,
        Err(()) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match SweepConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let client = match store::connect(&AwsConfig::from_env()).await {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let store = Store::new(client, &config.table_name);
    if config.on_lambda {
        let handler = service_fn(|_: LambdaEvent<serde_json::Value>| {
            let store = store.clone();
            async move {
                let report = sweep_once(&store).await;
                if report.failed > 0 {
                    // The function fails so that the failure shows in its metrics; the
                    // jobs are still due, and the next sweep takes them.
                    return Err(lambda_runtime::Error::from(format!(
                        "{} jobs left for the next sweep",
                        report.failed
                    )));
                }
                Ok(report)
            }
        });
        return match lambda_runtime::run(handler).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "runtime stopped");
                ExitCode::FAILURE
            }
        };
    }
    loop {
        let report = sweep_once(&store).await;
        let Some(every) = every else {
            return if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        };
        tokio::time::sleep(every).await;
    }
}

async fn sweep_once(store: &Store) -> SweepReport {
    let report = sweep::run(store, Timestamp::now(), BUDGET).await;
    tracing::info!(
        entries = report.entries,
        ended = report.ended,
        moved = report.moved,
        forgotten = report.forgotten,
        lost_races = report.lost_races,
        failed = report.failed,
        unreadable = report.unreadable,
        finished = report.finished,
        "sweep done"
    );
    report
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Duration>, ()> {
    match (args.next().as_deref(), args.next(), args.next()) {
        (None, _, _) => Ok(None),
        (Some("--every"), Some(seconds), None) => match seconds.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(Some(Duration::from_secs(seconds))),
            _ => Err(()),
        },
        _ => Err(()),
    }
}
