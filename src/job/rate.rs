//! A job's rate and its estimated completion from a small bounded series of progress
//! samples: plain functions of the samples, the latest count and an injected `now`, so
//! that every reader (a job body, `/status`, the page, `jobsctl watch`) shows the same
//! numbers instead of each computing a rate of its own from two polls.
//!
//! The rate is over a recent window ([`RATE_WINDOW_SECONDS`]), not since the start: a
//! job that speeds up or slows down shows its present pace within one window, and one
//! that pauses decays towards 0, because the window ends at `now`, not at the last
//! sample. A count that goes down (a worker that restarts counting with an absolute
//! count) starts the series again.

use crate::job::time::Timestamp;

/// One point of a job's progress: `done` items attempted (processed + failed) at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub at: Timestamp,
    pub done: u64,
}

/// How far back the rate looks.
pub const RATE_WINDOW_SECONDS: u64 = 300;

/// Beyond this an estimate says nothing a person can use (and would overflow an instant).
const MAX_ESTIMATE_SECONDS: f64 = 10.0 * 365.0 * 86_400.0;

/// Items per second over the window that ends at `now`, from `samples` (any order, any
/// age) and the job's `latest` count. `None` when there is nothing to measure yet (one
/// point, or none before `now`); `Some(0.0)` for a job that made no progress in the
/// whole window.
pub fn items_per_second(samples: &[Sample], latest: Sample, now: Timestamp) -> Option<f64> {
    let now = now.max(latest.at);
    let mut points: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|sample| sample.at <= latest.at)
        .chain(std::iter::once(latest))
        .collect();
    points.sort_by_key(|sample| sample.at);
    // After a count that went down, only what came after it describes this run.
    if let Some(restart) = (1..points.len())
        .rev()
        .find(|&i| points[i].done < points[i - 1].done)
    {
        points.drain(..restart);
    }
    let window_start =
        Timestamp::from_millis(now.millis().saturating_sub(RATE_WINDOW_SECONDS * 1000));
    if latest.at <= window_start {
        return Some(0.0);
    }
    // Counts move in steps: at the window's start the job stood at the last point
    // before it; without one, the series starts inside the window.
    let base = match points.iter().rev().find(|p| p.at <= window_start) {
        Some(before) => Sample {
            at: window_start,
            done: before.done,
        },
        None => points[0],
    };
    let span = now.seconds_since(base.at);
    if span <= 0.0 {
        return None;
    }
    Some(latest.done.saturating_sub(base.done) as f64 / span)
}

/// When `total` items will have been attempted at `rate`, from `done` at `now`; `None`
/// when the rate is unknown or 0, or the estimate lies past any use.
pub fn estimated_completion(
    rate: Option<f64>,
    done: u64,
    total: u64,
    now: Timestamp,
) -> Option<Timestamp> {
    let remaining = total.saturating_sub(done);
    if remaining == 0 {
        return Some(now);
    }
    let rate = rate.filter(|rate| *rate > 0.0)?;
    let seconds = remaining as f64 / rate;
    (seconds <= MAX_ESTIMATE_SECONDS)
        .then(|| Timestamp::from_millis(now.millis() + (seconds * 1000.0).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_867_200_000;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_millis(T0 + seconds * 1000)
    }

    fn sample(seconds: u64, done: u64) -> Sample {
        Sample {
            at: at(seconds),
            done,
        }
    }

    /// The rate at `now` of a job whose count followed `series` (the last is the latest).
    fn rate(series: &[(u64, u64)], now: u64) -> Option<f64> {
        let points: Vec<Sample> = series.iter().map(|&(s, d)| sample(s, d)).collect();
        let (latest, earlier) = points.split_last().unwrap();
        items_per_second(earlier, *latest, at(now))
    }

    #[test]
    fn a_steady_job_has_its_rate_and_an_estimate() {
        // 2 items a second, a report every 10 s.
        let series: Vec<(u64, u64)> = (0..=30).map(|i| (i * 10, i * 20)).collect();
        assert_eq!(rate(&series, 300), Some(2.0));
        let done = 600;
        let eta = estimated_completion(Some(2.0), done, 1_000, at(300));
        assert_eq!(eta, Some(at(500)));
    }

    #[test]
    fn the_rate_is_recent_not_since_the_start() {
        // 1/s for an hour, then 5/s for the last five minutes.
        let mut series: Vec<(u64, u64)> = (0..=360).map(|i| (i * 10, i * 10)).collect();
        series.extend((1..=30).map(|i| (3_600 + i * 10, 3_600 + i * 50)));
        assert_eq!(rate(&series, 3_900), Some(5.0));
        // And a job that slows down: 5/s, then 1/s for the last five minutes.
        let mut series: Vec<(u64, u64)> = (0..=360).map(|i| (i * 10, i * 50)).collect();
        series.extend((1..=30).map(|i| (3_600 + i * 10, 18_000 + i * 10)));
        assert_eq!(rate(&series, 3_900), Some(1.0));
    }

    #[test]
    fn a_pause_decays_the_rate_to_zero_and_the_estimate_to_unknown() {
        let series: Vec<(u64, u64)> = (0..=30).map(|i| (i * 10, i * 10)).collect();
        assert_eq!(rate(&series, 300), Some(1.0));
        // Two minutes without progress: the window still holds 180 items over 300 s.
        assert_eq!(rate(&series, 420), Some(0.6));
        // Past the window: nothing moved in it.
        assert_eq!(rate(&series, 601), Some(0.0));
        assert_eq!(estimated_completion(Some(0.0), 300, 1_000, at(601)), None);
    }

    #[test]
    fn a_count_that_restarts_starts_the_series_again() {
        // 300 counted, then the worker recounts from 0 at 2/s.
        let mut series: Vec<(u64, u64)> = (0..=30).map(|i| (i * 10, i * 10)).collect();
        series.extend((1..=10).map(|i| (300 + i * 10, (i - 1) * 20)));
        // From the restart at 310 (0 done) to 400 (180 done): 2/s.
        assert_eq!(rate(&series, 400), Some(2.0));
    }

    #[test]
    fn too_little_to_measure_is_unknown() {
        assert_eq!(rate(&[(0, 0)], 0), None, "one point, no time");
        assert_eq!(rate(&[(0, 0)], 10), Some(0.0), "started, nothing yet");
        assert_eq!(estimated_completion(None, 0, 10, at(0)), None);
        // Samples later than the latest (a clock ahead) are not used.
        let latest = sample(100, 50);
        assert_eq!(
            items_per_second(&[sample(0, 0), sample(200, 70)], latest, at(100)),
            Some(0.5)
        );
    }

    #[test]
    fn a_job_with_everything_attempted_is_due_now_and_far_estimates_are_none() {
        assert_eq!(estimated_completion(None, 10, 10, at(5)), Some(at(5)));
        assert_eq!(estimated_completion(Some(1.0), 12, 10, at(5)), Some(at(5)));
        assert_eq!(
            estimated_completion(Some(1e-9), 0, 1_000_000, at(0)),
            None,
            "past any use"
        );
    }
}
