//! The sweep: writes the ending of every job whose heartbeat, overall or stall deadline
//! has passed (run every minute by the `jobs-sweep` function). Reads see an overdue job as
//! ended at once (`Job::as_of`); the sweep makes the table say so too, so that lists by
//! status, the history and the job's `Job Status Changed` event (an ordinary status
//! change of the job item) follow.
//!
//! It reads only the due entries of the `by_deadline` index (`store::keys`), shard by
//! shard, and for each job does what `Job::sweep_action` says: end it (one transaction
//! conditioned on the deadline it read), move its entry to when it could next be due
//! (a report moved its deadline), or take it out of the index. Every write is
//! conditional and idempotent, so sweeps may overlap, and one that stops half way leaves
//! the rest due for the next.

use std::time::{Duration, Instant};

use crate::job::time::Timestamp;
use crate::job::{JobStatus, SweepAction};
use crate::store::keys::DEADLINE_SHARDS;
use crate::store::{Store, StoreError};
use crate::telemetry::metrics;

/// Index entries per query (and jobs per `BatchGetItem`, its limit).
pub const PAGE: usize = 100;

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Due index entries read (its read units follow these, not the number of jobs).
    pub entries: usize,
    /// Jobs ended as `failed` by a heartbeat, overall or stall timeout.
    pub ended: usize,
    /// Jobs found alive (a report moved the deadline) and moved to a later instant.
    pub moved: usize,
    /// Entries of jobs that had ended, taken out of the index.
    pub forgotten: usize,
    /// Endings that lost to a write that landed first (a report, a cancel, another sweep).
    pub lost_races: usize,
    /// Jobs left for the next sweep after an error (a shard whose due entries could not
    /// be read counts one), and whether every shard was read.
    pub failed: usize,
    /// Due jobs this version could not read: skipped, logged and counted
    /// (`UnreadableItems`); the rest of their shard goes on.
    pub unreadable: usize,
    pub finished: bool,
}

/// Sweeps every shard at `now`, starting no new page after `budget`: a sweep never runs
/// past its function's timeout, and what it leaves is due for the next one.
pub async fn run(store: &Store, now: Timestamp, budget: Duration) -> SweepReport {
    let started = Instant::now();
    let shards = (0..DEADLINE_SHARDS).map(|shard| sweep_shard(store, shard, now, started, budget));
    let reports = futures_util::future::join_all(shards).await;
    reports.into_iter().fold(
        SweepReport {
            finished: true,
            ..SweepReport::default()
        },
        |total, shard| SweepReport {
            entries: total.entries + shard.entries,
            ended: total.ended + shard.ended,
            moved: total.moved + shard.moved,
            forgotten: total.forgotten + shard.forgotten,
            lost_races: total.lost_races + shard.lost_races,
            failed: total.failed + shard.failed,
            unreadable: total.unreadable + shard.unreadable,
            finished: total.finished && shard.finished,
        },
    )
}

async fn sweep_shard(
    store: &Store,
    shard: u8,
    now: Timestamp,
    started: Instant,
    budget: Duration,
) -> SweepReport {
    let mut report = SweepReport::default();
    let mut start = None;
    loop {
        if started.elapsed() > budget {
            return report;
        }
        let page = match store.due_jobs(shard, now, start, PAGE).await {
            Ok(page) => page,
            Err(error) => {
                // A failure like a job's: the function fails and its alarm counts it.
                tracing::error!(shard, ?error, "sweep: reading due jobs failed");
                report.failed += 1;
                return report;
            }
        };
        report.entries += page.entries;
        if page.unreadable > 0 {
            report.unreadable += page.unreadable;
            let shard = shard.to_string();
            let properties = [("shard", shard.as_str())];
            let line = metrics::unreadable_line(
                now,
                "sweep: unreadable jobs skipped",
                page.unreadable,
                &properties,
            );
            println!("{line}");
        }
        for job in &page.jobs {
            let done = match job.sweep_action(now) {
                SweepAction::End(expiry) => match store.end_overdue(job, &expiry, now).await {
                    Ok(true) => {
                        // One line, with the ending's metrics (EMF), as a request's.
                        let ending = metrics::JobEnded {
                            job_type: job.job_type.clone(),
                            status: JobStatus::Failed,
                            duration_seconds: job
                                .started_at
                                .map(|started| expiry.at.seconds_since(started)),
                        };
                        let deadline = expiry.at.to_string();
                        let properties = [
                            ("job_id", job.job_id.as_str()),
                            ("organization_id", job.organization_id.as_str()),
                            ("error_type", expiry.kind.error_type()),
                            ("deadline", deadline.as_str()),
                        ];
                        let line =
                            metrics::ending_line(now, "sweep: job ended", &ending, &properties);
                        println!("{line}");
                        report.ended += 1;
                        Ok(())
                    }
                    Ok(false) => {
                        report.lost_races += 1;
                        Ok(())
                    }
                    Err(error) => Err(error),
                },
                SweepAction::Recheck(at) => {
                    store.recheck_at(job, at).await.map(|()| report.moved += 1)
                }
                SweepAction::Forget => store
                    .forget_deadline(job)
                    .await
                    .map(|()| report.forgotten += 1),
            };
            if let Err(error) = done {
                log_failure(&job.job_id, &error);
                report.failed += 1;
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => {
                report.finished = true;
                return report;
            }
        }
    }
}

fn log_failure(job_id: &str, error: &StoreError) {
    tracing::error!(%job_id, ?error, "sweep: job left for the next sweep");
}
