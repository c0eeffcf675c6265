//! `jobsctl exec -- CMD ARGS...`: run a command as a job's worker.
//!
//! The command runs as a plain child process (std, no async process support needed): a
//! thread copies its standard output through and turns `::progress` lines into reports;
//! the async side sends them (at most one a second, folded together), a heartbeat `{}`
//! when nothing was sent for `--heartbeat` seconds, and the ending by exit status. A
//! report the client gave up on keeps its `Idempotency-Key` and body and goes again
//! before anything newer ([`Unsent`]): it may have been applied with its answer lost.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jobs_client::{Client, CreateJobRequest, Error, JobResponse, ProgressReport};

use crate::args::ExecArgs;
use crate::commands::parse_object;
use crate::{error_code, fail, progress_line};

/// Least time between two progress reports: a command printing thousands of lines
/// costs a report a second, not one a line.
const REPORT_EVERY: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

enum FromOutput {
    Report(Box<ProgressReport>),
    Done,
}

pub async fn run(client: &Client, args: ExecArgs) -> ExitCode {
    let job = match job(client, &args).await {
        Ok(job) => job,
        Err(err) => return fail(&err),
    };
    let job_id = job.job_id.into_owned();
    eprintln!("jobsctl: running as job {job_id}");
    let started = ProgressReport {
        mark_started: Some(true),
        ..Default::default()
    };
    if let Err(err) = client.report(&job_id, &started).await {
        return fail(&err);
    }

    let (program, rest) = args.command.split_first().expect("clap requires CMD");
    let spawned = Command::new(program)
        .args(rest)
        .env("JOBS_JOB_ID", &job_id)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            let text = format!("cannot run {}: {err}", program.display());
            eprintln!("jobsctl: {text}");
            let _ = end(client, &job_id, None, ProgressReport::default(), Err(text)).await;
            let code = if err.kind() == std::io::ErrorKind::PermissionDenied {
                126
            } else {
                127
            };
            return ExitCode::from(code);
        }
    };
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || pass_through(stdout, tx));
    } else {
        let _ = tx.send(FromOutput::Done);
    }

    let heartbeat = heartbeat_every(args.heartbeat, job.heartbeat_timeout_seconds);
    let mut pending = ProgressReport::default();
    let mut unsent: Option<Unsent> = None;
    let mut last_sent = Instant::now();
    let mut output_done = false;
    let mut ended_by_server = false;
    let mut exited: Option<(ExitStatus, Instant)> = None;
    loop {
        tokio::time::sleep(TICK).await;
        while let Ok(message) = rx.try_recv() {
            match message {
                FromOutput::Report(report) => progress_line::merge(&mut pending, *report),
                FromOutput::Done => output_done = true,
            }
        }
        if exited.is_none() {
            match child.try_wait() {
                Ok(Some(status)) => exited = Some((status, Instant::now())),
                Ok(None) => {}
                Err(err) => eprintln!("jobsctl: cannot check the command: {err}"),
            }
        }
        // After the command exits, its output is read to the end (a grandchild holding
        // it open gets 2 s), then the rest is reported with the ending.
        if let Some((status, at)) = exited
            && (output_done || at.elapsed() > Duration::from_secs(2))
        {
            if ended_by_server {
                return exit_code(status);
            }
            let outcome = if status.success() {
                Ok(())
            } else {
                Err(describe(status))
            };
            return match end(client, &job_id, unsent, pending, outcome).await {
                Ok(()) => exit_code(status),
                Err(err) => {
                    eprintln!("jobsctl: could not end job {job_id}: {err}");
                    if status.success() {
                        ExitCode::from(error_code(&err))
                    } else {
                        exit_code(status)
                    }
                }
            };
        }
        if ended_by_server {
            continue;
        }
        let due = if unsent.is_some() || !pending.is_empty() {
            last_sent.elapsed() >= REPORT_EVERY
        } else {
            last_sent.elapsed() >= heartbeat
        };
        if !due || exited.is_some() {
            continue;
        }
        // A report given up on goes again, as it was, before anything newer.
        let Unsent { key, report } = unsent.take().unwrap_or_else(|| Unsent {
            key: jobs_client::new_key(),
            report: std::mem::take(&mut pending),
        });
        last_sent = Instant::now();
        match client.report_with_key(&job_id, &report, &key).await {
            Ok(_) => {}
            Err(Error::Conflict(detail)) => {
                // Cancelled (or ended) meanwhile: stop the work nobody wants any more.
                eprintln!("jobsctl: job {job_id} has ended ({detail}); stopping the command");
                ended_by_server = true;
                terminate(&child);
            }
            Err(err @ Error::Unavailable(_)) if !report.is_empty() => {
                eprintln!("jobsctl: report failed, to be sent again as it was: {err}");
                unsent = Some(Unsent { key, report });
            }
            Err(err @ Error::Unavailable(_)) => eprintln!("jobsctl: heartbeat failed: {err}"),
            Err(err) => eprintln!("jobsctl: report dropped: {err}"),
        }
    }
}

/// The job to run as: `--job` (attach: read first, so a wrong id fails before CMD
/// runs), or one created now (`--key`: create-or-attach).
async fn job(client: &Client, args: &ExecArgs) -> Result<JobResponse, Error> {
    if let Some(id) = &args.job {
        return client.get(id).await;
    }
    let job_type = args
        .job_type
        .clone()
        .ok_or_else(|| Error::Config("--type or --job is required".into()))?;
    let request = CreateJobRequest {
        metadata: parse_object("--metadata", args.metadata.as_deref())?,
        ..CreateJobRequest::new(job_type, args.total)
    };
    match &args.key {
        Some(key) => client.create_with_key(&request, key).await,
        None => client.create(&request).await,
    }
}

/// `--heartbeat`, or a third of the job's heartbeat timeout when that is shorter: a
/// heartbeat lost to a fault still leaves two more before the job is timed out.
fn heartbeat_every(flag: f64, timeout_seconds: Option<u64>) -> Duration {
    let mut seconds = flag.clamp(0.1, 86_400.0);
    if let Some(timeout) = timeout_seconds.filter(|t| *t > 0) {
        seconds = seconds.min(timeout as f64 / 3.0);
    }
    Duration::from_secs_f64(seconds.max(0.1))
}

/// A report the client gave up on. Its first attempt may have been applied with the
/// answer lost, so it is only ever sent again as it was, under its own key (the server
/// then replays it instead of applying it twice); newer counts wait for a later report.
struct Unsent {
    key: String,
    report: ProgressReport,
}

/// The last report: a report given up on first (the job is not ended while that one may
/// still be missing), then what is pending, completed or failed with the reason.
async fn end(
    client: &Client,
    job_id: &str,
    unsent: Option<Unsent>,
    mut report: ProgressReport,
    outcome: Result<(), String>,
) -> Result<(), Error> {
    if let Some(Unsent { key, report }) = unsent {
        client.report_with_key(job_id, &report, &key).await?;
    }
    match outcome {
        Ok(()) => report.mark_completed = Some(true),
        Err(reason) => report.mark_failed = Some(reason),
    }
    client.report(job_id, &report).await.map(|_| ())
}

fn pass_through(stdout: std::process::ChildStdout, tx: mpsc::Sender<FromOutput>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let out = std::io::stdout();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let parsed = std::str::from_utf8(&line)
            .ok()
            .and_then(progress_line::parse);
        match parsed {
            Some(Ok(report)) => {
                let _ = tx.send(FromOutput::Report(Box::new(report)));
            }
            Some(Err(reason)) => {
                eprintln!("jobsctl: not a progress line ({reason}): passed through");
                let _ = out.lock().write_all(&line);
            }
            None => {
                let mut out = out.lock();
                let _ = out.write_all(&line);
                let _ = out.flush();
            }
        }
    }
    let _ = tx.send(FromOutput::Done);
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("command exited with status {code}"),
        (None, Some(signal)) => format!("command killed by signal {signal}"),
        _ => format!("command ended: {status}"),
    }
}

/// The shell's convention: the status, or 128 + the signal.
fn exit_code(status: ExitStatus) -> ExitCode {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 1,
    };
    ExitCode::from((code & 0xff) as u8)
}

fn terminate(child: &std::process::Child) {
    // SIGTERM, not Child::kill's SIGKILL: the command may clean up.
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_come_thrice_per_timeout_at_least() {
        assert_eq!(heartbeat_every(30.0, None), Duration::from_secs(30));
        assert_eq!(heartbeat_every(30.0, Some(60)), Duration::from_secs(20));
        assert_eq!(heartbeat_every(5.0, Some(60)), Duration::from_secs(5));
        assert_eq!(heartbeat_every(0.0, None), Duration::from_millis(100));
    }

    #[test]
    fn statuses_are_described_and_passed_on() {
        let exited = ExitStatus::from_raw(3 << 8);
        assert_eq!(describe(exited), "command exited with status 3");
        assert_eq!(exit_code(exited), ExitCode::from(3));
        let killed = ExitStatus::from_raw(9);
        assert_eq!(describe(killed), "command killed by signal 9");
        assert_eq!(exit_code(killed), ExitCode::from(137));
    }
}
