//! Publishing events to the bus with `PutEvents`: calls of at most 10 entries (and
//! 256 KB), only the entries a call reports as failed tried again, and never a job's
//! later event before its earlier one was accepted.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::config::{BehaviorVersion, Region};
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures_util::future::join_all;

use crate::config::AwsConfig;

/// EventBridge's limits for one `PutEvents` call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
pub const MAX_BYTES_PER_CALL: usize = 256 * 1024;

/// Inside the function's timeout with every round of retries (template.yaml: 60 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
const SDK_ATTEMPTS: u32 = 3;

/// The EventBridge client, configured as [`crate::store::connect`] configures
/// DynamoDB's: from the standard variables only; `AWS_ENDPOINT_URL_EVENTBRIDGE` (or
/// `AWS_ENDPOINT_URL`) points it at a local EventBridge.
pub async fn connect(aws: &AwsConfig) -> Result<Client, String> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let mut config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(aws.required_region()?.to_owned()))
        .http_client(crate::store::http_client()?)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS));
    if let Some(credentials) = crate::store::static_credentials(aws) {
        config = config.credentials_provider(credentials);
    }
    if let Some(url) = &aws.eventbridge_endpoint {
        config = config.endpoint_url(url);
    }
    Ok(Client::from_conf(config.build()))
}

/// One event to publish, in the order of the stream records.
#[derive(Clone, Debug)]
pub struct Event {
    /// Events of one job are published one after the other, in order.
    pub job_id: String,
    pub entry: PutEventsRequestEntry,
}

impl Event {
    /// The size EventBridge counts against a call's 256 KB.
    pub fn size(&self) -> usize {
        let entry = &self.entry;
        let text = |value: Option<&str>| value.map_or(0, str::len);
        14 + text(entry.source())
            + text(entry.detail_type())
            + text(entry.detail())
            + entry.resources().iter().map(String::len).sum::<usize>()
    }
}

/// How often an entry is tried (each try after the first waits `backoff`, doubled each
/// round), on top of the SDK's own retries of a call that failed as a whole.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            backoff: Duration::from_millis(100),
        }
    }
}

/// What a [`Publisher::publish`] achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The first event (by position) that is not published: it and everything after it
    /// must be delivered again. `None`: all were published.
    pub first_unpublished: Option<usize>,
    pub published: usize,
    pub calls: usize,
}

pub struct Publisher {
    client: Client,
    bus: String,
    retry: Retry,
}

impl Publisher {
    pub fn new(client: Client, bus: String, retry: Retry) -> Publisher {
        Publisher { client, bus, retry }
    }

    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Publishes `events` in rounds. A round sends, for every job, its earliest event not
    /// yet published, in calls of at most 10 entries sent together; an entry that failed
    /// is sent again in the next round, after a pause, until it has been tried
    /// `retry.attempts` times. A job whose event could not be published gets none of its
    /// later events sent, so nothing of a job is ever published out of order.
    pub async fn publish(&self, events: &[Event]) -> Outcome {
        let mut published = vec![false; events.len()];
        let mut tries = vec![0u32; events.len()];
        let mut outcome = Outcome::default();
        let mut failed_rounds = 0;
        loop {
            let mut jobs = HashSet::new();
            let round: Vec<usize> = (0..events.len())
                .filter(|&i| !published[i])
                .filter(|&i| jobs.insert(events[i].job_id.as_str()))
                .filter(|&i| tries[i] < self.retry.attempts)
                .collect();
            if round.is_empty() {
                break;
            }
            if failed_rounds > 0 {
                let factor = 1u32 << (failed_rounds - 1).min(6);
                tokio::time::sleep(self.retry.backoff * factor).await;
            }
            let calls = calls(events, &round);
            outcome.calls += calls.len();
            let results = join_all(calls.iter().map(|call| self.put(events, call))).await;
            let mut failed = false;
            for (call, accepted) in calls.iter().zip(results) {
                for (&i, ok) in call.iter().zip(accepted) {
                    tries[i] += 1;
                    published[i] |= ok;
                    failed |= !ok;
                }
            }
            failed_rounds += usize::from(failed);
        }
        outcome.published = published.iter().filter(|&&p| p).count();
        outcome.first_unpublished = published.iter().position(|&p| !p);
        outcome
    }

    /// One `PutEvents` call: which of its entries EventBridge accepted.
    async fn put(&self, events: &[Event], call: &[usize]) -> Vec<bool> {
        let entries = call
            .iter()
            .map(|&i| {
                let mut entry = events[i].entry.clone();
                entry.event_bus_name = Some(self.bus.clone());
                entry
            })
            .collect();
        match self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                let answers = output.entries();
                let accepted: Vec<bool> = (0..call.len())
                    .map(|k| {
                        answers
                            .get(k)
                            .is_some_and(|a| a.error_code().is_none() && a.event_id().is_some())
                    })
                    .collect();
                let failed = accepted.iter().filter(|ok| !**ok).count();
                if failed > 0 {
                    let codes: Vec<&str> = answers.iter().filter_map(|a| a.error_code()).collect();
                    tracing::warn!(
                        failed,
                        entries = call.len(),
                        codes = ?codes,
                        "PutEvents: some entries failed; they are tried again"
                    );
                }
                accepted
            }
            Err(error) => {
                tracing::warn!(
                    code = error.code().unwrap_or("none"),
                    error = %aws_sdk_eventbridge::error::DisplayErrorContext(&error),
                    entries = call.len(),
                    "PutEvents failed as a whole; its entries are tried again"
                );
                vec![false; call.len()]
            }
        }
    }
}

/// `round` (positions into `events`) cut into calls that EventBridge accepts: at most
/// [`MAX_ENTRIES_PER_CALL`] entries and [`MAX_BYTES_PER_CALL`] bytes each, in order.
pub fn calls(events: &[Event], round: &[usize]) -> Vec<Vec<usize>> {
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in round {
        let size = events[i].size();
        match calls.last_mut() {
            Some(call)
                if call.len() < MAX_ENTRIES_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL =>
            {
                call.push(i);
                bytes += size;
            }
            _ => {
                calls.push(vec![i]);
                bytes = size;
            }
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(job: &str, detail_bytes: usize) -> Event {
        Event {
            job_id: job.into(),
            entry: PutEventsRequestEntry::builder()
                .source("jobs-api")
                .detail_type("Job Status Changed")
                .detail("x".repeat(detail_bytes))
                .resources(format!("jobs-api/jobs/{job}"))
                .build(),
        }
    }

    #[test]
    fn calls_hold_at_most_ten_entries_in_order() {
        let events: Vec<Event> = (0..25).map(|i| event(&format!("j{i}"), 10)).collect();
        let round: Vec<usize> = (0..25).collect();
        let calls = calls(&events, &round);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
        assert_eq!(calls.concat(), round);
    }

    #[test]
    fn calls_stay_under_256_kb() {
        // Four entries of ~100 KB: two per call at most.
        let events: Vec<Event> = (0..4).map(|i| event(&format!("j{i}"), 100_000)).collect();
        let calls = calls(&events, &[0, 1, 2, 3]);
        assert_eq!(calls, [vec![0, 1], vec![2, 3]]);
        for call in &calls {
            let bytes: usize = call.iter().map(|&i| events[i].size()).sum();
            assert!(bytes <= MAX_BYTES_PER_CALL);
        }
    }

    #[test]
    fn an_entry_is_sized_as_eventbridge_counts_it() {
        let e = event("j1", 100);
        let expected =
            14 + "jobs-api".len() + "Job Status Changed".len() + 100 + "jobs-api/jobs/j1".len();
        assert_eq!(e.size(), expected);
    }
}
