//! `jobsctl`: the Jobs API's command line. Grammar in `args.rs`; one module per kind of
//! work: `commands.rs` (one call each), `watch.rs` (bars and lines), `exec.rs` (a command
//! run as a worker, with `progress_line.rs` reading its `::progress` lines); `show.rs`
//! formats for people.

mod args;
mod commands;
mod exec;
mod progress_line;
mod show;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use jobs_client::{Client, Error, JobStatus};

use args::{Cli, Command, Connection};

/// The documented exit codes (`jobsctl --help`, docs/cli.md).
pub mod exit {
    pub const ERROR: u8 = 1;
    pub const INVALID: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const UNAUTHORIZED: u8 = 5;
    pub const CONFLICT: u8 = 6;
    pub const UNAVAILABLE: u8 = 7;
}

/// `watch`'s exit code for a job that ended so.
pub fn ending_code(status: JobStatus) -> u8 {
    match status {
        JobStatus::Completed => 0,
        JobStatus::CompletedWithWarnings => 10,
        JobStatus::PartialSuccess => 11,
        JobStatus::Failed => 12,
        JobStatus::Cancelled => 13,
        // Not an ending: a watch that stopped early.
        JobStatus::Pending | JobStatus::InProgress => exit::ERROR,
    }
}

/// How bad an ending is, for the exit code of a watch over several jobs.
pub fn severity(code: u8) -> u8 {
    match code {
        0 => 0,
        10 => 1,
        11 => 2,
        13 => 3,
        12 => 4,
        _ => 5,
    }
}

pub fn error_code(err: &Error) -> u8 {
    match err {
        Error::Validation(_) => exit::INVALID,
        Error::Rejected {
            status: 400 | 413 | 415,
            ..
        } => exit::INVALID,
        Error::NotFound(_) => exit::NOT_FOUND,
        Error::Unauthorized(_) | Error::Forbidden(_) => exit::UNAUTHORIZED,
        Error::Conflict(_) => exit::CONFLICT,
        Error::Unavailable(_) => exit::UNAVAILABLE,
        Error::Rejected { .. } | Error::Config(_) | Error::Protocol(_) => exit::ERROR,
    }
}

/// Prints `jobsctl: <error>` (a 422 as `field: message` lines) and gives its exit code.
pub fn fail(err: &Error) -> ExitCode {
    eprintln!("jobsctl: {err}");
    ExitCode::from(error_code(err))
}

fn client(connection: &Connection) -> Result<Client, Error> {
    let url = connection.url.clone().ok_or_else(|| {
        Error::Config(
            "no API URL: pass --url or set JOBS_API_URL (scripts/run.sh prints one)".into(),
        )
    })?;
    let mut builder = Client::builder(url);
    if let Some(token) = &connection.token {
        builder = builder.token(token);
    }
    if let Some(org) = &connection.org {
        builder = builder.organization(org);
    }
    builder.build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "jobsctl",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let client = match client(&cli.connection) {
        Ok(client) => client,
        Err(err) => return fail(&err),
    };
    let result = match cli.command {
        Command::Create(args) => commands::create(&client, args).await,
        Command::Get(args) => commands::get(&client, args).await,
        Command::Status(args) => commands::status(&client, args).await,
        Command::Ls(args) => commands::ls(&client, args).await,
        Command::Report(args) => commands::report(&client, args).await,
        Command::Cancel(args) => commands::cancel(&client, args).await,
        Command::Errors(args) => {
            commands::issues(&client, args, jobs_client::IssueKind::Errors).await
        }
        Command::Warnings(args) => {
            commands::issues(&client, args, jobs_client::IssueKind::Warnings).await
        }
        Command::Watch(args) => return watch::run(&client, args).await,
        Command::Exec(args) => return exec::run(&client, args).await,
        Command::Completions { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_has_its_own_code_and_the_worst_wins() {
        let codes: Vec<u8> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.has_ended())
            .map(ending_code)
            .collect();
        assert_eq!(codes, [0, 10, 11, 12, 13]);
        let worst = [0, 10, 13, 11]
            .into_iter()
            .max_by_key(|c| severity(*c))
            .unwrap();
        assert_eq!(worst, 13);
        assert!(severity(12) > severity(13));
        assert!(severity(exit::UNAVAILABLE) > severity(12));
    }

    #[test]
    fn errors_map_to_their_documented_codes() {
        let cases = [
            (Error::Validation(vec![]), 3),
            (
                Error::Rejected {
                    status: 413,
                    detail: String::new(),
                },
                3,
            ),
            (Error::NotFound(String::new()), 4),
            (Error::Unauthorized(String::new()), 5),
            (Error::Forbidden(String::new()), 5),
            (Error::Conflict(String::new()), 6),
            (Error::Unavailable(String::new()), 7),
            (Error::Config(String::new()), 1),
        ];
        for (err, code) in cases {
            assert_eq!(error_code(&err), code, "{err:?}");
        }
    }
}
