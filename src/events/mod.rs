//! `jobs-events`: the table's DynamoDB stream in, one `Job Status Changed` event per
//! status transition of a job out, to an EventBridge bus (docs/events.md).
//!
//! - [`record`]: a stream record → the [`record::Transition`] it shows, or nothing.
//! - [`detail`]: a transition → the event's `detail`, its `event_key` and `resources`.
//! - [`publish`]: `PutEvents` in calls of at most 10, only failed entries retried, a
//!   job's events in order.
//! - [`Handler`]: a batch of records → events → published → the `batchItemFailures`
//!   answer that makes Lambda deliver again from the first record not published.

pub mod detail;
pub mod publish;
pub mod record;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Deserialize;
use serde_json::Value;

use detail::DETAIL_TYPE;
use publish::{Event, Publisher};
use record::{Malformed, Transition};

/// The stream batch Lambda hands the function. Each record is read on its own, so that
/// one malformed record is skipped instead of failing its whole batch.
#[derive(Debug, Default, Deserialize)]
pub struct StreamBatch {
    #[serde(rename = "Records", default)]
    pub records: Vec<Value>,
}

/// What the handler did with a batch (logged once per batch; the tests read it too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub transitions: usize,
    pub skipped_malformed: usize,
    pub published: usize,
    pub calls: usize,
}

pub struct Handler {
    publisher: Publisher,
    source: String,
}

impl Handler {
    pub fn new(publisher: Publisher, source: String) -> Handler {
        Handler { publisher, source }
    }

    pub async fn handle(&self, batch: StreamBatch) -> DynamoDbEventResponse {
        self.handle_with_summary(batch).await.0
    }

    /// The answer to Lambda, and what was done.
    pub async fn handle_with_summary(
        &self,
        batch: StreamBatch,
    ) -> (DynamoDbEventResponse, Summary) {
        let mut summary = Summary {
            records: batch.records.len(),
            ..Summary::default()
        };
        let mut events = Vec::new();
        let mut sequence_numbers = Vec::new();
        for (position, raw) in batch.records.into_iter().enumerate() {
            match self.read(raw) {
                Ok(None) => {}
                Ok(Some((sequence_number, event))) => {
                    sequence_numbers.push(sequence_number);
                    events.push(event);
                }
                Err((event_id, Malformed(reason))) => {
                    summary.skipped_malformed += 1;
                    tracing::warn!(
                        position,
                        event_id,
                        reason,
                        "stream record skipped: not a readable job change"
                    );
                }
            }
        }
        if summary.skipped_malformed > 0 {
            // Counted as every unreadable item is (`UnreadableItems`, alarmed on).
            let line = crate::telemetry::metrics::unreadable_line(
                crate::job::time::Timestamp::now(),
                "stream records skipped: not readable job changes",
                summary.skipped_malformed,
                &[],
            );
            println!("{line}");
        }
        summary.transitions = events.len();
        let outcome = self.publisher.publish(&events).await;
        summary.published = outcome.published;
        summary.calls = outcome.calls;
        let mut response = DynamoDbEventResponse::default();
        if let Some(first) = outcome.first_unpublished {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_numbers[first].clone());
            response.batch_item_failures.push(failure);
            tracing::error!(
                unpublished = events.len() - outcome.published,
                sequence_number = sequence_numbers[first],
                "events not published: the batch is delivered again from this record"
            );
        }
        tracing::info!(
            records = summary.records,
            transitions = summary.transitions,
            published = summary.published,
            skipped_malformed = summary.skipped_malformed,
            calls = summary.calls,
            "stream batch"
        );
        (response, summary)
    }

    /// One record → its sequence number and event, if it is a status transition.
    fn read(&self, raw: Value) -> Result<Option<(String, Event)>, (String, Malformed)> {
        let event_id = raw["eventID"].as_str().unwrap_or("").to_owned();
        let record: EventRecord = serde_json::from_value(raw).map_err(|error| {
            (
                event_id.clone(),
                Malformed(format!("not a stream record: {error}")),
            )
        })?;
        let Some(sequence_number) = record.change.sequence_number.clone() else {
            return Err((event_id, Malformed("no SequenceNumber".into())));
        };
        let transition = record::transition(record).map_err(|malformed| (event_id, malformed))?;
        Ok(transition.map(|t| (sequence_number, self.event(&t))))
    }

    fn event(&self, transition: &Transition) -> Event {
        let detail = detail::of(transition);
        let job = &transition.job;
        Event {
            job_id: job.job_id.clone(),
            entry: PutEventsRequestEntry::builder()
                .source(&self.source)
                .detail_type(DETAIL_TYPE)
                // Only strings, numbers and our own enums: serializing cannot fail.
                .detail(serde_json::to_string(&detail).unwrap_or_default())
                .resources(detail::resource(&self.source, &job.job_id))
                .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                    job.updated_at.millis() as i64,
                ))
                .build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_of_nothing_publishes_nothing_and_fails_nothing() {
        // Never reaches EventBridge: no event, so no call (the endpoint does not exist).
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let publisher = Publisher::new(
            aws_sdk_eventbridge::Client::from_conf(config),
            "jobs".into(),
            publish::Retry::default(),
        );
        let handler = Handler::new(publisher, crate::config::DEFAULT_EVENT_SOURCE.into());
        let batch: StreamBatch = serde_json::from_value(serde_json::json!({"Records": [
            {"eventID": "1", "eventName": "INSERT", "dynamodb": {"Keys": "not a map"}},
            {"no": "record"},
        ]}))
        .unwrap();
        let (answer, summary) = handler.handle_with_summary(batch).await;
        assert!(answer.batch_item_failures.is_empty());
        assert_eq!(
            (summary.records, summary.skipped_malformed, summary.calls),
            (2, 2, 0)
        );
    }
}
