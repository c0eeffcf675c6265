//! `jobsctl watch ID...`: a live bar per job on a terminal (indicatif), one plain line per
//! change otherwise; exits with the worst ending's code.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use jobs_client::{Client, Error, JobStatusResponse, WatchOptions};

use crate::args::WatchArgs;
use crate::{ending_code, error_code, severity, show};

/// The bar's resolution: positions are hundredths of a percent.
const BAR_LENGTH: u64 = 10_000;

/// What one job looks like now, with the rate seen since the watch began.
struct Tracked {
    job_id: String,
    first: Option<(Instant, u64)>,
    stage: Option<String>,
    message: Option<String>,
}

impl Tracked {
    /// Items per second since the first snapshot (none until a second has passed and
    /// an item moved).
    fn rate(&mut self, snapshot: &JobStatusResponse, now: Instant) -> Option<f64> {
        let done = snapshot.processed_items + snapshot.failed_items;
        let (since, base) = *self.first.get_or_insert((now, done));
        let elapsed = now.duration_since(since).as_secs_f64();
        (elapsed >= 1.0 && done > base).then(|| (done - base) as f64 / elapsed)
    }
}

/// The parts of a line both forms show.
pub struct Line {
    pub rate: Option<f64>,
    pub eta: Option<Duration>,
}

pub fn eta(snapshot: &JobStatusResponse, rate: Option<f64>) -> Option<Duration> {
    let done = snapshot.processed_items + snapshot.failed_items;
    let left = snapshot.total_items.saturating_sub(done);
    match rate {
        _ if snapshot.status.has_ended() => None,
        Some(rate) if rate > 0.0 => Some(Duration::from_secs_f64(left as f64 / rate)),
        _ => None,
    }
}

/// The text after the bar (and the whole plain line after the id).
pub fn describe(
    snapshot: &JobStatusResponse,
    line: &Line,
    stage: Option<&str>,
    message: Option<&str>,
) -> String {
    let mut text = format!(
        "{} {:.2}%  processed {} · failed {} · warned {} / {}  {}  ETA {}",
        snapshot.status,
        snapshot.progress_percentage,
        snapshot.processed_items,
        snapshot.failed_items,
        snapshot.warned_items,
        snapshot.total_items,
        line.rate
            .map(|r| format!("{r:.1}/s"))
            .unwrap_or_else(|| "-/s".into()),
        show::eta(line.eta),
    );
    if let Some(stage) = stage {
        text.push_str(&format!("  [{stage}]"));
    }
    if let Some(message) = message {
        text.push_str(&format!("  {message}"));
    }
    text
}

pub async fn run(client: &Client, args: WatchArgs) -> ExitCode {
    let options = WatchOptions {
        max_interval: Duration::from_secs_f64(args.max_interval.clamp(0.5, 3600.0)),
        ..WatchOptions::default()
    };
    let bars = !args.plain && std::io::stdout().is_terminal();
    let multi = MultiProgress::with_draw_target(if bars {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template("{prefix:.bold} {bar:30.cyan/blue} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
    let mut tracked: Vec<(Tracked, ProgressBar)> = args
        .job_ids
        .iter()
        .map(|id| {
            let bar = multi.add(ProgressBar::new(BAR_LENGTH));
            bar.set_style(style.clone());
            bar.set_prefix(short(id));
            bar.set_message("waiting for the first status…");
            let job = Tracked {
                job_id: id.clone(),
                first: None,
                stage: None,
                message: None,
            };
            (job, bar)
        })
        .collect();
    let streams: Vec<BoxStream<'_, (usize, Result<JobStatusResponse, Error>)>> = args
        .job_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            client
                .watch(id, options.clone())
                .map(move |s| (i, s))
                .boxed()
        })
        .collect();
    let mut all = stream::select_all(streams);
    let mut codes = vec![None::<u8>; tracked.len()];
    while let Some((i, snapshot)) = all.next().await {
        let (job, bar) = &mut tracked[i];
        let snapshot = match snapshot {
            Ok(snapshot) => snapshot,
            Err(err) => {
                let text = format!("{}: {err}", job.job_id);
                if bars {
                    bar.abandon_with_message(format!("error: {err}"));
                } else {
                    eprintln!("jobsctl: {text}");
                }
                codes[i] = Some(error_code(&err));
                continue;
            }
        };
        // Stage and last message live in the job's metadata, not in /status: read the
        // job when its status changed (a failure here only leaves them out).
        if let Ok(full) = client.get(&job.job_id).await {
            job.stage = full.stage().map(str::to_owned);
            job.message = full.last_message().map(str::to_owned);
        }
        let rate = job.rate(&snapshot, Instant::now());
        let line = Line {
            rate,
            eta: eta(&snapshot, rate),
        };
        let text = describe(
            &snapshot,
            &line,
            job.stage.as_deref(),
            job.message.as_deref(),
        );
        if bars {
            bar.set_position(
                (snapshot.progress_percentage * 100.0)
                    .round()
                    .clamp(0.0, 10_000.0) as u64,
            );
            if snapshot.status.has_ended() {
                // Not finish_with_message: it fills the bar, and a job that failed or
                // was cancelled shows how far it got.
                bar.abandon_with_message(text);
            } else {
                bar.set_message(text);
            }
        } else {
            println!("{} {text}", job.job_id);
        }
        if snapshot.status.has_ended() {
            codes[i] = Some(ending_code(snapshot.status));
        }
    }
    let worst = codes
        .into_iter()
        .map(|c| c.unwrap_or(crate::exit::ERROR))
        .max_by_key(|c| severity(*c))
        .unwrap_or(0);
    ExitCode::from(worst)
}

/// The random tail of a UUIDv7 (its head is a timestamp, alike for jobs made together).
fn short(job_id: &str) -> String {
    let tail: String = job_id
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if tail.len() < job_id.len() {
        format!("…{tail}")
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs_client::{JobStatus, Timestamp};

    fn snapshot(status: JobStatus, processed: u64, failed: u64, total: u64) -> JobStatusResponse {
        JobStatusResponse {
            job_id: "j".into(),
            status,
            progress_percentage: (processed + failed) as f64 * 100.0 / total as f64,
            processed_items: processed,
            failed_items: failed,
            warned_items: 0,
            total_items: total,
            updated_at: Timestamp::from_millis(1_795_867_200_000),
            heartbeat_timeout_seconds: None,
            timeout_seconds: None,
            stall_timeout_seconds: None,
            last_heartbeat_at: None,
            last_progress_at: None,
        }
    }

    #[test]
    fn rate_and_eta_follow_the_items_seen() {
        let mut job = Tracked {
            job_id: "j".into(),
            first: None,
            stage: None,
            message: None,
        };
        let start = Instant::now();
        assert_eq!(
            job.rate(&snapshot(JobStatus::InProgress, 10, 0, 100), start),
            None
        );
        let later = start + Duration::from_secs(2);
        let now = snapshot(JobStatus::InProgress, 25, 5, 100);
        let rate = job.rate(&now, later);
        assert_eq!(rate, Some(10.0));
        assert_eq!(eta(&now, rate), Some(Duration::from_secs(7)));
        assert_eq!(
            eta(&snapshot(JobStatus::Completed, 100, 0, 100), rate),
            None
        );
    }

    #[test]
    fn a_line_shows_every_part() {
        let now = snapshot(JobStatus::InProgress, 40, 2, 100);
        let text = describe(
            &now,
            &Line {
                rate: Some(12.34),
                eta: Some(Duration::from_secs(5)),
            },
            Some("fetch"),
            Some("10 rows"),
        );
        assert_eq!(
            text,
            "in_progress 42.00%  processed 40 · failed 2 · warned 0 / 100  12.3/s  ETA 5.0s  [fetch]  10 rows"
        );
        assert_eq!(short("0190d1c0-0000-7000-8000-00000000abcd"), "…0000abcd");
    }
}
