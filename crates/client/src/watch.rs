//! `watch(job)`: poll `/status` with back-off, yield each change, stop when it ends.
//!
//! Polling, not events: the events issue's `Job Status Changed` on EventBridge tells when
//! a job *ends*, not its progress, and needs AWS credentials a worker or a person at a
//! terminal may not have. A watch that uses events where configured can come later.

use std::time::Duration;

use crate::{Client, Error, JobStatusResponse};
use futures_util::Stream;
use futures_util::stream;

/// How often to poll: from `min_interval` after a change, growing by half each unchanged
/// poll up to `max_interval`.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub min_interval: Duration,
    pub max_interval: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            min_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(10),
        }
    }
}

impl WatchOptions {
    /// The wait after a poll that saw a change (`changed`) or not.
    pub fn next_interval(&self, current: Duration, changed: bool) -> Duration {
        if changed {
            self.min_interval
        } else {
            current
                .mul_f64(1.5)
                .clamp(self.min_interval, self.max_interval)
        }
    }
}

struct State {
    last: Option<JobStatusResponse>,
    interval: Duration,
    done: bool,
}

pub(crate) fn watch<'a>(
    client: &'a Client,
    job_id: &'a str,
    options: WatchOptions,
) -> impl Stream<Item = Result<JobStatusResponse, Error>> + 'a {
    let state = State {
        last: None,
        interval: options.min_interval,
        done: false,
    };
    stream::unfold(state, move |mut state| {
        let options = options.clone();
        async move {
            if state.done {
                return None;
            }
            loop {
                if state.last.is_some() {
                    tokio::time::sleep(state.interval).await;
                }
                // A poll that fails after the client's own retries ends the watch with
                // its error: the caller decides whether to watch again.
                let snapshot = match client.status(job_id).await {
                    Ok(snapshot) => snapshot,
                    Err(err) => {
                        state.done = true;
                        return Some((Err(err), state));
                    }
                };
                let changed = state.last.as_ref() != Some(&snapshot);
                state.interval = options.next_interval(state.interval, changed);
                if changed {
                    state.done = snapshot.status.has_ended();
                    state.last = Some(snapshot.clone());
                    return Some((Ok(snapshot), state));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_grows_while_nothing_changes_and_resets_on_a_change() {
        let options = WatchOptions::default();
        let mut wait = options.min_interval;
        let mut seen = Vec::new();
        for _ in 0..12 {
            wait = options.next_interval(wait, false);
            seen.push(wait);
        }
        assert_eq!(seen[0], Duration::from_millis(750));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*seen.last().unwrap(), options.max_interval);
        assert_eq!(options.next_interval(wait, true), options.min_interval);
    }
}
