//! A DynamoDB stream record → the status transition of a job it shows, or nothing.
//! Pure: the stream's images are read with the job mapping of [`crate::store`].

use aws_lambda_events::event::dynamodb::EventRecord;
use serde_dynamo::AttributeValue;

use crate::job::{Job, JobStatus};
use crate::store::{self, keys};

/// A job entering a status: its creation (`previous: None`), its start, its ending.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The job as the write left it (the stream's new image).
    pub job: Job,
    pub previous: Option<JobStatus>,
}

/// A record that is not a readable change of a job item; the text is for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// What a stream record means for subscribers: `Ok(None)` for everything that is not a
/// status change of a job (history items, idempotency records, a progress report that
/// changed only counts, stage or metadata, a removal).
pub fn transition(record: EventRecord) -> Result<Option<Transition>, Malformed> {
    let change = record.change;
    match change.keys.get("sk") {
        Some(AttributeValue::S(sk)) if sk == keys::JOB_SORT_KEY => {}
        Some(_) => return Ok(None),
        None => return Err(Malformed("no sort key in Keys".into())),
    }
    let previous = match record.event_name.as_str() {
        "INSERT" => None,
        "MODIFY" => Some(status_of(&change.old_image)?),
        "REMOVE" => return Ok(None),
        other => return Err(Malformed(format!("eventName {other:?}"))),
    };
    if change.new_image.is_empty() {
        return Err(Malformed(
            "no NewImage (the stream must be NEW_AND_OLD_IMAGES)".into(),
        ));
    }
    let item: store::Item = change.new_image.into();
    let job = store::to_job(&item).map_err(|bad| Malformed(format!("new image: {}", bad.0)))?;
    if previous == Some(job.status) {
        return Ok(None);
    }
    Ok(Some(Transition { job, previous }))
}

fn status_of(image: &serde_dynamo::Item) -> Result<JobStatus, Malformed> {
    match image.get("status") {
        Some(AttributeValue::S(text)) => {
            JobStatus::parse(text).ok_or_else(|| Malformed(format!("old image: status {text:?}")))
        }
        _ if image.is_empty() => Err(Malformed(
            "no OldImage (the stream must be NEW_AND_OLD_IMAGES)".into(),
        )),
        _ => Err(Malformed("old image: status missing".into())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::job::NewJob;
    use crate::job::time::Timestamp;
    use crate::store::keys::IssueKind;
    use serde_json::{Value, json};

    pub(crate) fn job() -> Job {
        let new = NewJob {
            job_type: "crawl".into(),
            total_items: 10,
            metadata: json!({"source": "s3"}).as_object().unwrap().clone(),
            triggered_by: Some("user-1".into()),
            heartbeat_timeout_seconds: None,
            timeout_seconds: None,
            stall_timeout_seconds: None,
        };
        Job::create(
            "org-a".into(),
            "0190-job-1".into(),
            new,
            Timestamp::from_millis(1_795_867_200_000),
        )
    }

    /// An item as the stream writes it (DynamoDB JSON).
    pub(crate) fn image(item: &store::Item) -> Value {
        let item: serde_dynamo::Item = item.clone().into();
        serde_json::to_value(item).unwrap()
    }

    /// A stream record as Lambda delivers it.
    pub(crate) fn raw(name: &str, old: Option<&store::Item>, new: Option<&store::Item>) -> Value {
        let any = new.or(old).unwrap();
        let mut change = json!({
            "ApproximateCreationDateTime": 1795867200.0,
            "Keys": {"pk": image(any)["pk"], "sk": image(any)["sk"]},
            "SequenceNumber": "4200000000001",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        if let Some(old) = old {
            change["OldImage"] = image(old);
        }
        if let Some(new) = new {
            change["NewImage"] = image(new);
        }
        json!({
            "eventID": "e1", "eventName": name, "eventSource": "aws:dynamodb",
            "eventVersion": "1.1", "awsRegion": "us-east-1", "dynamodb": change,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/jobs/stream/x",
        })
    }

    fn read(raw: Value) -> Result<Option<Transition>, Malformed> {
        transition(serde_json::from_value(raw).unwrap())
    }

    #[test]
    fn a_creation_is_a_transition_from_nothing() {
        let job = job();
        let item = store::item::from_job(&job);
        let t = read(raw("INSERT", None, Some(&item))).unwrap().unwrap();
        assert_eq!(t.previous, None);
        assert_eq!(t.job, job);
    }

    #[test]
    fn a_status_change_is_a_transition_from_the_old_status() {
        let before = job();
        let mut after = before.clone();
        after.status = JobStatus::InProgress;
        after.started_at = Some(Timestamp::from_millis(1_795_867_201_000));
        let (old, new) = (
            store::item::from_job(&before),
            store::item::from_job(&after),
        );
        let t = read(raw("MODIFY", Some(&old), Some(&new)))
            .unwrap()
            .unwrap();
        assert_eq!(t.previous, Some(JobStatus::Pending));
        assert_eq!(t.job.status, JobStatus::InProgress);
    }

    #[test]
    fn counts_metadata_and_removals_are_no_transition() {
        let before = job();
        let mut after = before.clone();
        after.processed_items = 5;
        after.metadata.insert("stage".into(), json!("load"));
        let (old, new) = (
            store::item::from_job(&before),
            store::item::from_job(&after),
        );
        assert_eq!(read(raw("MODIFY", Some(&old), Some(&new))), Ok(None));
        assert_eq!(read(raw("REMOVE", Some(&old), None)), Ok(None));
    }

    #[test]
    fn history_items_and_idempotency_records_are_not_jobs() {
        let issue = crate::job::JobIssue {
            entity_key: "row-1".into(),
            entity_type: "row".into(),
            error_type: "parse".into(),
            message: "bad".into(),
            timestamp: Timestamp::from_millis(0),
            details: None,
            step: None,
        };
        let history = store::item::from_issue("org-a", "0190-job-1", IssueKind::Error, "x", &issue);
        assert_eq!(read(raw("INSERT", None, Some(&history))), Ok(None));
        let mut record: store::Item = store::Item::new();
        record.insert("pk".into(), store::item::s("ORG#org-a#IDEMPOTENCY#k1"));
        record.insert("sk".into(), store::item::s("IDEMPOTENCY"));
        assert_eq!(read(raw("INSERT", None, Some(&record))), Ok(None));
    }

    /// The issue's case: counts an older version let pass `u64` made every change of
    /// the job "malformed", so its transitions were never published. They are read as
    /// the cap now, and its ending goes out like any other.
    #[test]
    fn a_job_whose_counts_passed_u64_still_publishes_its_transitions() {
        let before = job();
        let mut after = before.clone();
        after.status = JobStatus::Failed;
        let (old, mut new) = (
            store::item::from_job(&before),
            store::item::from_job(&after),
        );
        let past = aws_sdk_dynamodb::types::AttributeValue::N("18446744073709551616000".into());
        new.insert("processed_items".into(), past);
        let t = read(raw("MODIFY", Some(&old), Some(&new)))
            .unwrap()
            .unwrap();
        assert_eq!(t.job.status, JobStatus::Failed);
        assert_eq!(t.job.processed_items, crate::job::MAX_COUNT);
    }

    #[test]
    fn a_job_item_that_cannot_be_read_is_malformed() {
        let mut item = store::item::from_job(&job());
        item.remove("job_type");
        assert!(read(raw("INSERT", None, Some(&item))).is_err());
        let good = store::item::from_job(&job());
        let mut bad_old = good.clone();
        bad_old.insert("status".into(), store::item::s("exploded"));
        assert!(read(raw("MODIFY", Some(&bad_old), Some(&good))).is_err());
        // A stream without old images (NEW_IMAGE only).
        let mut record = raw("MODIFY", None, Some(&good));
        record["dynamodb"]["StreamViewType"] = json!("NEW_IMAGE");
        assert!(read(record).unwrap_err().0.contains("NEW_AND_OLD_IMAGES"));
        let mut record = raw("INSERT", None, Some(&good));
        record["eventName"] = json!("TRUNCATE");
        assert!(read(record).is_err());
    }
}
