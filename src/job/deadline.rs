//! Heartbeats and timeouts: when a job that has not ended is overdue, and what its
//! ending then is. Plain functions of the job and an instant, so that every reader (the
//! API's reads, the conditional writes' refusals, the sweep) decides the same way.
//!
//! - The **heartbeat deadline**: the last progress report plus `heartbeat_timeout_seconds`.
//!   Every report is a heartbeat (starting a job takes a report), so a job that nobody
//!   has reported on yet has none.
//! - The **overall deadline**: `created_at` plus `timeout_seconds`, so a job nobody ever
//!   picked up ends too.
//! - The **stall deadline**: the last report that advanced a count (or started the job)
//!   plus `stall_timeout_seconds`, so a worker that is alive and heartbeating but stuck
//!   ends too. A heartbeat does not move it; it counts from the start, like the
//!   heartbeat from the first report.
//!
//! A job is overdue at `now` once a deadline is at or before `now`; it then ends as
//! `failed` at the earliest deadline passed.

use super::{Job, JobIssue, JobStatus};
use crate::job::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineKind {
    Heartbeat,
    Timeout,
    Stall,
}

impl DeadlineKind {
    /// The `error_type` of the job-level error an ending records.
    pub fn error_type(self) -> &'static str {
        match self {
            DeadlineKind::Heartbeat => "heartbeat_timeout",
            DeadlineKind::Timeout => "timeout",
            DeadlineKind::Stall => "stalled",
        }
    }

    /// The job's timeout this deadline counts.
    pub fn timeout_name(self) -> &'static str {
        match self {
            DeadlineKind::Heartbeat => "heartbeat_timeout_seconds",
            DeadlineKind::Timeout => "timeout_seconds",
            DeadlineKind::Stall => "stall_timeout_seconds",
        }
    }
}

/// A deadline that passed: which, when, and the timeout it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub kind: DeadlineKind,
    /// The deadline itself: the job's `completed_at`.
    pub at: Timestamp,
    /// The timeout counted (`heartbeat_timeout_seconds`, `timeout_seconds` or
    /// `stall_timeout_seconds`).
    pub seconds: u64,
    /// What it was counted from: the last heartbeat, the creation, or the last progress.
    pub since: Timestamp,
}

impl Expiry {
    /// The job's `error_message`: which deadline passed, and after how long.
    pub fn message(&self) -> String {
        match self.kind {
            DeadlineKind::Heartbeat => format!(
                "Heartbeat timeout: no progress report for {} s after the last one at {}; \
                 the job's heartbeat deadline {} passed",
                self.seconds, self.since, self.at
            ),
            DeadlineKind::Timeout => format!(
                "Timeout: the job did not end within {} s of its creation at {}; \
                 its deadline {} passed",
                self.seconds, self.since, self.at
            ),
            DeadlineKind::Stall => format!(
                "Stalled: no count advanced for {} s after the last progress at {}; \
                 the job's stall deadline {} passed",
                self.seconds, self.since, self.at
            ),
        }
    }

    /// The job-level error the ending records in the job's history.
    pub fn issue(&self, job_id: &str) -> JobIssue {
        let name = self.kind.timeout_name();
        let details = serde_json::json!({
            "deadline": self.at.to_string(),
            name: self.seconds,
        });
        JobIssue {
            entity_key: job_id.to_owned(),
            entity_type: JobIssue::ABOUT_THE_JOB.to_owned(),
            error_type: self.kind.error_type().to_owned(),
            message: self.message(),
            timestamp: self.at,
            details: details.as_object().cloned(),
            step: None,
        }
    }
}

/// What the sweep does with a job its index listed as possibly overdue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepAction {
    /// Overdue: write this ending.
    End(Expiry),
    /// Not overdue (a heartbeat moved its deadline, or nobody has picked it up yet):
    /// look again at this instant, which no deadline of the job can come before.
    Recheck(Timestamp),
    /// Ended, or without deadlines: take it out of the index.
    Forget,
}

impl Job {
    /// The last report plus `heartbeat_timeout_seconds`; `None` without a heartbeat
    /// timeout or before the first report.
    pub fn heartbeat_deadline(&self) -> Option<Timestamp> {
        let seconds = self.heartbeat_timeout_seconds?;
        Some(self.last_heartbeat_at?.plus_seconds(seconds))
    }

    /// `created_at` plus `timeout_seconds`.
    pub fn timeout_deadline(&self) -> Option<Timestamp> {
        Some(self.created_at.plus_seconds(self.timeout_seconds?))
    }

    /// The last progress plus `stall_timeout_seconds`; `None` without a stall timeout or
    /// before the job started.
    pub fn stall_deadline(&self) -> Option<Timestamp> {
        let seconds = self.stall_timeout_seconds?;
        Some(self.last_progress_at?.plus_seconds(seconds))
    }

    /// The deadline this job has passed at `now`, if it has not ended: the earlier one
    /// when both have passed (the overall one on a tie).
    pub fn expiry(&self, now: Timestamp) -> Option<Expiry> {
        if self.status.has_ended() {
            return None;
        }
        let timeout = self.timeout_deadline().map(|at| Expiry {
            kind: DeadlineKind::Timeout,
            at,
            seconds: self.timeout_seconds.unwrap_or_default(),
            since: self.created_at,
        });
        let heartbeat = self.heartbeat_deadline().map(|at| Expiry {
            kind: DeadlineKind::Heartbeat,
            at,
            seconds: self.heartbeat_timeout_seconds.unwrap_or_default(),
            since: self.last_heartbeat_at.unwrap_or(self.created_at),
        });
        let stall = self.stall_deadline().map(|at| Expiry {
            kind: DeadlineKind::Stall,
            at,
            seconds: self.stall_timeout_seconds.unwrap_or_default(),
            since: self.last_progress_at.unwrap_or(self.created_at),
        });
        // `min_by_key` keeps the first of equals: the overall deadline, then the heartbeat.
        [timeout, heartbeat, stall]
            .into_iter()
            .flatten()
            .filter(|expiry| expiry.at <= now)
            .min_by_key(|expiry| expiry.at)
    }

    /// The job as it is at `now`: an overdue job shows its ending (status `failed`,
    /// `completed_at` = the deadline, the message) even before the sweep has written it;
    /// [`Job::timed_out`] then says so.
    pub fn as_of(mut self, now: Timestamp) -> Job {
        if let Some(expiry) = self.expiry(now) {
            self.status = JobStatus::Failed;
            self.completed_at = Some(expiry.at);
            self.error_message = Some(expiry.message());
            self.timed_out = Some(expiry);
        }
        self
    }

    /// The earliest instant at which this job, not overdue at `now`, could be: its
    /// nearest deadline, or for a heartbeat (stall) timeout not yet counting (no report,
    /// no start yet), `now` plus that timeout, since any report from now on sets a later
    /// deadline.
    /// `None` when it has ended or has no timeout. The sweep's index holds the job at
    /// this instant; reports never move it (they only push deadlines later).
    pub fn sweep_at(&self, now: Timestamp) -> Option<Timestamp> {
        if self.status.has_ended() {
            return None;
        }
        let counting = |deadline: Option<Timestamp>, timeout: Option<u64>| match (deadline, timeout)
        {
            (Some(deadline), _) => Some(deadline),
            (None, Some(seconds)) => Some(now.max(self.created_at).plus_seconds(seconds)),
            (None, None) => None,
        };
        let heartbeat = counting(self.heartbeat_deadline(), self.heartbeat_timeout_seconds);
        let stall = counting(self.stall_deadline(), self.stall_timeout_seconds);
        [self.timeout_deadline(), heartbeat, stall]
            .into_iter()
            .flatten()
            .min()
    }

    /// What the sweep does with this job at `now`.
    pub fn sweep_action(&self, now: Timestamp) -> SweepAction {
        if let Some(expiry) = self.expiry(now) {
            return SweepAction::End(expiry);
        }
        match self.sweep_at(now) {
            Some(at) => SweepAction::Recheck(at),
            None => SweepAction::Forget,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobUpdate, NewJob, ValidatedReport};
    use serde_json::Map;

    const T0: u64 = 1_795_867_200_000;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_millis(T0 + seconds * 1000)
    }

    fn job(heartbeat: Option<u64>, timeout: Option<u64>) -> Job {
        let new = NewJob {
            job_type: "crawl".into(),
            total_items: 10,
            metadata: Map::new(),
            triggered_by: None,
            heartbeat_timeout_seconds: heartbeat,
            timeout_seconds: timeout,
            stall_timeout_seconds: None,
        };
        Job::create("org".into(), "id".into(), new, at(0))
    }

    fn stalling(heartbeat: Option<u64>, stall: u64) -> Job {
        let mut job = job(heartbeat, None);
        job.stall_timeout_seconds = Some(stall);
        job
    }

    fn counted(processed: u64) -> ValidatedReport {
        ValidatedReport {
            processed_items_increment: Some(processed),
            ..Default::default()
        }
    }

    fn report(job: &mut Job, body: ValidatedReport, seconds: u64) {
        assert!(
            job.expiry(at(seconds)).is_none(),
            "reported after the deadline"
        );
        JobUpdate::from_report(body, at(seconds), None).apply(job);
    }

    fn started() -> ValidatedReport {
        ValidatedReport {
            mark_started: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_job_without_timeouts_never_expires_and_is_never_swept() {
        let mut job = job(None, None);
        report(&mut job, started(), 5);
        assert_eq!(job.expiry(at(1_000_000)), None);
        assert_eq!(job.sweep_at(at(0)), None);
        assert_eq!(job.sweep_action(at(1_000_000)), SweepAction::Forget);
        assert_eq!(job.clone().as_of(at(1_000_000)), job);
    }

    #[test]
    fn a_started_job_with_no_reports_times_out_at_its_heartbeat_deadline() {
        let mut job = job(Some(30), None);
        report(&mut job, started(), 10);
        assert_eq!(job.heartbeat_deadline(), Some(at(40)));
        assert_eq!(job.expiry(at(39)), None);
        let expiry = job.expiry(at(40)).expect("due at the deadline itself");
        assert_eq!(expiry.kind, DeadlineKind::Heartbeat);
        assert_eq!(expiry.at, at(40));
        assert_eq!(expiry.since, at(10));
        assert!(expiry.message().contains("no progress report for 30 s"));
        let ended = job.as_of(at(95));
        assert_eq!(ended.status, JobStatus::Failed);
        assert_eq!(
            ended.completed_at,
            Some(at(40)),
            "the deadline, not when seen"
        );
        assert_eq!(ended.duration_seconds(at(95)), Some(30.0));
        assert_eq!(
            ended.timed_out.map(|e| e.kind),
            Some(DeadlineKind::Heartbeat)
        );
    }

    #[test]
    fn a_job_reporting_more_often_than_its_heartbeat_timeout_never_times_out() {
        let mut job = job(Some(30), None);
        report(&mut job, started(), 0);
        // A day of reports every 29 s, an empty report (`{}`) among them.
        for seconds in (29..86_400).step_by(29) {
            let body = if seconds % 2 == 0 {
                ValidatedReport::default()
            } else {
                ValidatedReport {
                    processed_items_increment: Some(1),
                    ..Default::default()
                }
            };
            report(&mut job, body, seconds);
        }
        assert_eq!(job.status, JobStatus::InProgress);
        assert_eq!(job.last_heartbeat_at, Some(at(86_391)));
    }

    #[test]
    fn the_overall_timeout_ends_a_job_that_keeps_reporting() {
        let mut job = job(Some(30), Some(100));
        report(&mut job, started(), 0);
        for seconds in (10..100).step_by(10) {
            report(&mut job, ValidatedReport::default(), seconds);
        }
        let expiry = job.expiry(at(100)).expect("overall deadline");
        assert_eq!(expiry.kind, DeadlineKind::Timeout);
        assert_eq!(
            (expiry.at, expiry.seconds, expiry.since),
            (at(100), 100, at(0))
        );
        assert_eq!(expiry.issue("id").error_type, "timeout");
    }

    #[test]
    fn a_pending_job_nobody_picked_up_ends_at_its_overall_deadline() {
        let job = job(Some(30), Some(300));
        assert_eq!(
            job.heartbeat_deadline(),
            None,
            "no heartbeat before a report"
        );
        assert_eq!(job.expiry(at(299)), None);
        let ended = job.as_of(at(301));
        assert_eq!(ended.status, JobStatus::Failed);
        assert_eq!(ended.completed_at, Some(at(300)));
        assert_eq!(ended.started_at, None);
        assert_eq!(ended.duration_seconds(at(301)), None);
    }

    #[test]
    fn the_earlier_passed_deadline_is_the_ending() {
        let mut job = job(Some(30), Some(100));
        report(&mut job, started(), 60);
        // Heartbeat deadline 90, overall 100: at 120 both passed; 90 came first.
        let expiry = job.expiry(at(120)).unwrap();
        assert_eq!((expiry.kind, expiry.at), (DeadlineKind::Heartbeat, at(90)));
        report(&mut job, ValidatedReport::default(), 85);
        let expiry = job.expiry(at(120)).unwrap();
        assert_eq!((expiry.kind, expiry.at), (DeadlineKind::Timeout, at(100)));
    }

    #[test]
    fn an_ended_job_never_expires() {
        let mut job = job(Some(30), Some(100));
        report(
            &mut job,
            ValidatedReport {
                mark_failed: Some("boom".into()),
                ..Default::default()
            },
            5,
        );
        assert_eq!(job.expiry(at(1_000)), None);
        assert_eq!(job.sweep_action(at(1_000)), SweepAction::Forget);
        assert_eq!(job.clone().as_of(at(1_000)), job);
    }

    #[test]
    fn the_sweep_instant_is_never_after_a_deadline_and_reports_only_push_deadlines_later() {
        let mut job = job(Some(30), Some(1_000));
        // Created: the heartbeat cannot count before the first report, which comes at the
        // earliest now, so 30 s from creation is the earliest it could be due.
        let first = job.sweep_at(at(0)).unwrap();
        assert_eq!(first, at(30));
        report(&mut job, started(), 20);
        for seconds in [25, 40, 49] {
            report(&mut job, ValidatedReport::default(), seconds);
            let deadline = job.heartbeat_deadline().unwrap();
            assert!(
                first <= deadline,
                "a report moved the deadline before the entry"
            );
        }
        // The sweep looks at 30, finds the job alive, and moves it to its real deadline.
        assert_eq!(job.sweep_action(at(30)), SweepAction::Recheck(at(79)));
        // Still pending with no report: look again a heartbeat timeout later.
        let idle = self::job(Some(30), None);
        assert_eq!(idle.sweep_action(at(30)), SweepAction::Recheck(at(60)));
        // Near the overall deadline, that comes first.
        assert_eq!(
            job.sweep_action(at(990)),
            SweepAction::End(job.expiry(at(990)).unwrap())
        );
        let late = self::job(Some(30), Some(50));
        assert_eq!(late.sweep_action(at(40)), SweepAction::Recheck(at(50)));
    }

    #[test]
    fn the_history_error_names_the_deadline_and_the_timeout() {
        let expiry = Expiry {
            kind: DeadlineKind::Heartbeat,
            at: at(40),
            seconds: 30,
            since: at(10),
        };
        let issue = expiry.issue("job-1");
        assert_eq!(issue.error_type, "heartbeat_timeout");
        assert_eq!(
            (issue.entity_key.as_str(), issue.entity_type.as_str()),
            ("job-1", "job")
        );
        assert_eq!(issue.timestamp, at(40));
        let details = serde_json::Value::Object(issue.details.unwrap());
        assert_eq!(details["heartbeat_timeout_seconds"], 30);
        assert_eq!(details["deadline"], at(40).to_string());
    }

    #[test]
    fn a_job_that_heartbeats_without_progress_stalls_at_its_stall_deadline() {
        let mut job = stalling(Some(30), 100);
        assert_eq!(job.stall_deadline(), None, "not before the start");
        report(&mut job, started(), 10);
        report(&mut job, counted(2), 20);
        assert_eq!(job.stall_deadline(), Some(at(120)));
        // Heartbeats every 20 s (empty, a stage, a zero increment): alive, and stuck.
        for seconds in (40..120).step_by(20) {
            let body = match seconds % 60 {
                0 => ValidatedReport::default(),
                20 => ValidatedReport {
                    stage: Some("fetch".into()),
                    ..Default::default()
                },
                _ => counted(0),
            };
            report(&mut job, body, seconds);
        }
        assert_eq!(job.heartbeat_deadline(), Some(at(130)));
        assert_eq!(job.stall_deadline(), Some(at(120)), "no heartbeat moves it");
        assert_eq!(job.expiry(at(119)), None);
        let expiry = job.expiry(at(120)).expect("due at the stall deadline");
        assert_eq!(
            (expiry.kind, expiry.at, expiry.seconds, expiry.since),
            (DeadlineKind::Stall, at(120), 100, at(20))
        );
        assert!(
            expiry
                .message()
                .starts_with("Stalled: no count advanced for 100 s")
        );
        let issue = expiry.issue("id");
        assert_eq!(issue.error_type, "stalled");
        let details = serde_json::Value::Object(issue.details.unwrap());
        assert_eq!(details["stall_timeout_seconds"], 100);
        let ended = job.clone().as_of(at(500));
        assert_eq!(
            (ended.status, ended.completed_at),
            (JobStatus::Failed, Some(at(120)))
        );
        assert_eq!(job.sweep_action(at(120)), SweepAction::End(expiry));
    }

    #[test]
    fn every_advancing_count_moves_the_stall_deadline() {
        let mut job = stalling(None, 100);
        report(&mut job, started(), 0);
        assert_eq!(
            job.stall_deadline(),
            Some(at(100)),
            "counted from the start"
        );
        // A day of progress every 99 s, each by a different count.
        for (n, seconds) in (99..86_400).step_by(99).enumerate() {
            let body = match n % 4 {
                0 => counted(1),
                1 => ValidatedReport {
                    failed_items_increment: Some(1),
                    ..Default::default()
                },
                2 => ValidatedReport {
                    processed_items: Some(n as u64),
                    ..Default::default()
                },
                _ => ValidatedReport {
                    warning: Some(JobIssue {
                        entity_key: "row".into(),
                        entity_type: "row".into(),
                        error_type: "slow".into(),
                        message: "m".into(),
                        timestamp: at(seconds),
                        details: None,
                        step: None,
                    }),
                    ..Default::default()
                },
            };
            report(&mut job, body, seconds);
            assert_eq!(job.stall_deadline(), Some(at(seconds + 100)), "{n}");
        }
        assert_eq!(job.status, JobStatus::InProgress);
    }

    #[test]
    fn a_stall_timeout_counts_from_the_start_not_the_creation() {
        let mut job = stalling(None, 100);
        // Pending: not running, so not stalled (the overall timeout is for that); the
        // sweep looks again a stall period later.
        assert_eq!(job.expiry(at(1_000)), None);
        assert_eq!(job.sweep_at(at(0)), Some(at(100)));
        assert_eq!(job.sweep_action(at(150)), SweepAction::Recheck(at(250)));
        // A heartbeat to a pending job starts nothing.
        report(&mut job, ValidatedReport::default(), 160);
        assert_eq!(job.stall_deadline(), None);
        report(&mut job, started(), 200);
        assert_eq!(job.stall_deadline(), Some(at(300)));
        assert!(at(250) <= at(300), "the entry is never after the deadline");
        // The earliest deadline passed is the ending: heartbeat 30 s, stall 100 s.
        let mut both = stalling(Some(30), 100);
        report(&mut both, started(), 0);
        assert_eq!(
            both.expiry(at(500)).map(|e| e.kind),
            Some(DeadlineKind::Heartbeat)
        );
        report(&mut both, ValidatedReport::default(), 29);
        report(&mut both, ValidatedReport::default(), 58);
        report(&mut both, ValidatedReport::default(), 87);
        assert_eq!(
            both.expiry(at(500)).map(|e| (e.kind, e.at)),
            Some((DeadlineKind::Stall, at(100)))
        );
    }
}
