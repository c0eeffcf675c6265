//! A [`JobUpdate`] as one DynamoDB write: an `UpdateItem` whose condition is that the
//! job exists and has not ended (and, for `mark_completed`, still has the counts its
//! final status was derived from). An error or warning adds its history item in the
//! same transaction, so the count and the history can never disagree.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, Update};

use super::item::{self, n, s};
use super::keys::{self, IssueKind};
use crate::job::MAX_COUNT;
use crate::job::{CountChange, Ending, JobStatus, JobUpdate};

/// The parts of an `UpdateItem` (or of a transaction's `Update`).
pub struct UpdateRequest {
    pub key: HashMap<String, AttributeValue>,
    pub update_expression: String,
    pub condition_expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl UpdateRequest {
    pub fn into_transact_update(
        self,
        table: &str,
    ) -> Result<Update, aws_sdk_dynamodb::error::BuildError> {
        Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(self.update_expression)
            .condition_expression(self.condition_expression)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
    }
}

/// The write of `update`, marked with the `request` token that lets a retry tell
/// whether this very write already landed (see `Store::update_job`).
pub fn request(
    organization_id: &str,
    job_id: &str,
    update: &JobUpdate,
    request: &str,
) -> UpdateRequest {
    let (pk, sk) = keys::job(organization_id, job_id);
    let mut set = vec!["updated_at = :now, last_request = :request".to_owned()];
    let mut add = Vec::new();
    let mut names = HashMap::from([("#status".to_owned(), "status".to_owned())]);
    let mut values = HashMap::from([
        (":now".to_owned(), s(&update.now.to_string())),
        (":request".to_owned(), s(request)),
        (":pending".to_owned(), s(JobStatus::Pending.as_str())),
        (":in_progress".to_owned(), s(JobStatus::InProgress.as_str())),
    ]);

    let counts = [
        ("processed_items", update.processed_items),
        ("failed_items", update.failed_items),
        ("warned_items", update.warned_items),
        ("total_items", update.total_items.map(CountChange::Set)),
    ];
    let mut caps = Vec::new();
    for (name, change) in counts {
        match change {
            Some(CountChange::Set(value)) => {
                set.push(format!("{name} = :{name}"));
                values.insert(format!(":{name}"), n(value));
            }
            Some(CountChange::Add(value)) => {
                add.push(format!("{name} :{name}"));
                values.insert(format!(":{name}"), n(value));
                // The total stays within the cap, decided by this very write: two
                // increments racing each other cannot both pass it.
                caps.push(format!(
                    " AND (attribute_not_exists({name}) OR {name} <= :{name}_room)"
                ));
                values.insert(format!(":{name}_room"), n(MAX_COUNT.saturating_sub(value)));
            }
            None => {}
        }
    }
    for (index, (key, value)) in update.metadata.iter().enumerate() {
        set.push(format!("metadata.#m{index} = :m{index}"));
        names.insert(format!("#m{index}"), key.clone());
        values.insert(format!(":m{index}"), super::attr::from_json(value));
    }
    if update.error.is_some() || update.warning.is_some() {
        values.insert(":one".into(), n(1));
    }
    if update.error.is_some() {
        add.push("error_count :one".into());
    }
    if update.warning.is_some() {
        add.push("warning_count :one".into());
    }
    if update.start {
        set.push("started_at = if_not_exists(started_at, :now)".into());
    }
    // The condition admits only pending and in-progress jobs, so the new status does not
    // depend on the old one beyond what `status_after` says of those two.
    let new_status = match &update.end {
        Some(ending) => {
            set.push("completed_at = :now".into());
            if let Ending::Failed(message) = ending {
                set.push("error_message = :error_message".into());
                values.insert(":error_message".into(), s(message));
            }
            Some(ending.status())
        }
        None if update.start => Some(JobStatus::InProgress),
        None => None,
    };
    if let Some(status) = new_status {
        set.push(format!(
            "#status = :status, {} = :status_key",
            keys::STATUS_KEY
        ));
        values.insert(":status".into(), s(status.as_str()));
        values.insert(
            ":status_key".into(),
            s(&keys::status(organization_id, status, keys::shard(job_id))),
        );
    }

    let mut remove = Vec::new();
    if update.heartbeat {
        // The heartbeat deadline moves with every report, in the item only: `sweep_at`
        // (the sweep's index entry) stays where it is, so a report writes no index.
        // A job without a heartbeat timeout gets a deadline equal to the report, which
        // the condition below ignores for it.
        set.push(
            "last_heartbeat_at = :now, #heartbeat_deadline = :now_seconds + \
             if_not_exists(heartbeat_timeout_seconds, :zero)"
                .to_owned(),
        );
        names.insert(
            "#heartbeat_deadline".into(),
            item::HEARTBEAT_DEADLINE.to_owned(),
        );
        values.insert(":zero".into(), n(0));
    }
    if update.progress {
        // The stall deadline likewise, moved only by a report that counts (or starts).
        set.push(
            "last_progress_at = :now, #stall_deadline = :now_seconds + \
             if_not_exists(stall_timeout_seconds, :zero)"
                .to_owned(),
        );
        values.insert(":zero".into(), n(0));
    }
    if update.end.is_some() {
        // An ended job leaves the sweep's index (for one index write, once).
        remove.push(format!("{}, {}", keys::DEADLINE_KEY, keys::SWEEP_AT));
    }

    // Lands only before the job's deadlines: a report or cancel racing the timeout
    // either lands first (and moves the heartbeat deadline, or the stall deadline if it
    // counts, so that the sweep's ending, conditioned on the deadline it read, fails) or
    // is refused.
    let mut condition = "attribute_exists(pk) AND #status IN (:pending, :in_progress) \
         AND (attribute_not_exists(#timeout_deadline) OR #timeout_deadline > :now_seconds) \
         AND (attribute_not_exists(heartbeat_timeout_seconds) \
         OR attribute_not_exists(#heartbeat_deadline) OR #heartbeat_deadline > :now_seconds) \
         AND (attribute_not_exists(stall_timeout_seconds) \
         OR attribute_not_exists(#stall_deadline) OR #stall_deadline > :now_seconds)"
        .to_owned();
    names.insert(
        "#timeout_deadline".into(),
        item::TIMEOUT_DEADLINE.to_owned(),
    );
    names.insert(
        "#heartbeat_deadline".into(),
        item::HEARTBEAT_DEADLINE.to_owned(),
    );
    names.insert("#stall_deadline".into(), item::STALL_DEADLINE.to_owned());
    values.insert(":now_seconds".into(), item::seconds(update.now));
    condition.extend(caps);
    if let Some(expected) = update.expected {
        condition.push_str(
            " AND failed_items = :expected_failed AND warned_items = :expected_warned \
             AND warning_count = :expected_warnings",
        );
        values.insert(":expected_failed".into(), n(expected.failed_items));
        values.insert(":expected_warned".into(), n(expected.warned_items));
        values.insert(":expected_warnings".into(), n(expected.warning_count));
    }

    let mut expression = format!("SET {}", set.join(", "));
    if !add.is_empty() {
        expression.push_str(&format!(" ADD {}", add.join(", ")));
    }
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    UpdateRequest {
        key: HashMap::from([("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(&sk))]),
        update_expression: expression,
        condition_expression: condition,
        names,
        values,
    }
}

/// Whether applying `update` twice would count twice: a plain `UpdateItem` with it
/// must not be retried unless the failure proves it did not land.
pub fn adds(update: &JobUpdate) -> bool {
    [
        update.processed_items,
        update.failed_items,
        update.warned_items,
    ]
    .iter()
    .any(|change| matches!(change, Some(CountChange::Add(_))))
        || update.error.is_some()
        || update.warning.is_some()
}

/// The history items an update adds, each written only if new.
pub fn history_puts(
    table: &str,
    organization_id: &str,
    job_id: &str,
    update: &JobUpdate,
) -> Result<Vec<Put>, aws_sdk_dynamodb::error::BuildError> {
    let issues = [
        (IssueKind::Error, &update.error),
        (IssueKind::Warning, &update.warning),
    ];
    issues
        .into_iter()
        .filter_map(|(kind, issue)| issue.as_ref().map(|issue| (kind, issue)))
        .map(|(kind, issue)| {
            let issue_id = super::time_ordered_id(issue.timestamp);
            Put::builder()
                .table_name(table)
                .set_item(Some(item::from_issue(
                    organization_id,
                    job_id,
                    kind,
                    &issue_id,
                    issue,
                )))
                .condition_expression("attribute_not_exists(pk)")
                .build()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::time::Timestamp;
    use crate::job::{ExpectedCounts, JobIssue, ValidatedReport};
    use serde_json::json;

    fn update(report: ValidatedReport) -> JobUpdate {
        JobUpdate::from_report(report, Timestamp::from_millis(0), None)
    }

    /// An error or warning with every optional part left out.
    fn issue() -> JobIssue {
        JobIssue {
            entity_key: "k".into(),
            entity_type: "row".into(),
            error_type: "t".into(),
            message: "m".into(),
            timestamp: Timestamp::from_millis(0),
            details: None,
            step: None,
        }
    }

    /// Every placeholder the expressions use is defined, and every one defined is used
    /// (DynamoDB refuses both mistakes).
    fn assert_placeholders_match(request: &UpdateRequest) {
        let text = format!(
            "{} {}",
            request.update_expression, request.condition_expression
        );
        for name in request.values.keys().chain(request.names.keys()) {
            assert!(text.contains(name.as_str()), "{name} unused in {text}");
        }
        for token in
            text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '#'))
        {
            if token.starts_with(':') {
                assert!(request.values.contains_key(token), "{token} undefined");
            } else if token.starts_with('#') {
                assert!(request.names.contains_key(token), "{token} undefined");
            }
        }
    }

    #[test]
    fn a_bare_report_only_touches_updated_at_under_the_not_ended_condition() {
        let request = request("org", "job", &update(ValidatedReport::default()), "r1");
        assert_eq!(
            request.update_expression,
            "SET updated_at = :now, last_request = :request, last_heartbeat_at = :now, \
             #heartbeat_deadline = :now_seconds + if_not_exists(heartbeat_timeout_seconds, :zero)"
        );
        assert!(
            request.condition_expression.starts_with(
                "attribute_exists(pk) AND #status IN (:pending, :in_progress) \
                 AND (attribute_not_exists(#timeout_deadline) OR #timeout_deadline > :now_seconds)"
            ),
            "{}",
            request.condition_expression
        );
        assert!(
            !request.update_expression.contains(keys::SWEEP_AT),
            "a report never moves the sweep's index entry"
        );
        assert_placeholders_match(&request);
    }

    #[test]
    fn only_a_report_that_counts_or_starts_moves_the_stall_deadline() {
        let moves = "last_progress_at = :now, #stall_deadline = :now_seconds + \
                     if_not_exists(stall_timeout_seconds, :zero)";
        let bare = request("org", "job", &update(ValidatedReport::default()), "r1");
        assert!(
            !bare.update_expression.contains("stall"),
            "a heartbeat only"
        );
        assert!(
            bare.condition_expression.ends_with(
                "AND (attribute_not_exists(stall_timeout_seconds) \
                 OR attribute_not_exists(#stall_deadline) OR #stall_deadline > :now_seconds)"
            ),
            "a heartbeat still lands only before the stall deadline: {}",
            bare.condition_expression
        );
        let staged = ValidatedReport {
            stage: Some("fetch".into()),
            processed_items_increment: Some(0),
            ..Default::default()
        };
        let staged = request("org", "job", &update(staged), "r1");
        assert!(!staged.update_expression.contains("stall"));
        for report in [
            ValidatedReport {
                processed_items_increment: Some(1),
                ..Default::default()
            },
            ValidatedReport {
                failed_items: Some(4),
                ..Default::default()
            },
            ValidatedReport {
                mark_started: true,
                ..Default::default()
            },
        ] {
            let request = request("org", "job", &update(report), "r1");
            assert!(
                request.update_expression.contains(moves),
                "{}",
                request.update_expression
            );
            assert!(!request.update_expression.contains(keys::SWEEP_AT));
            assert_placeholders_match(&request);
        }
        let cancel = request(
            "org",
            "job",
            &JobUpdate::cancel(Timestamp::from_millis(0)),
            "r1",
        );
        assert!(!cancel.update_expression.contains("stall"));
    }

    #[test]
    fn increments_are_atomic_adds_and_sets_are_sets() {
        let report = ValidatedReport {
            processed_items_increment: Some(3),
            failed_items: Some(2),
            total_items: Some(9),
            ..Default::default()
        };
        assert!(adds(&update(report.clone())));
        assert!(!adds(&update(ValidatedReport {
            processed_items: Some(3),
            ..Default::default()
        })));
        let request = request("org", "job", &update(report), "r1");
        let expression = &request.update_expression;
        assert!(
            expression.contains("ADD processed_items :processed_items"),
            "{expression}"
        );
        assert!(
            expression.contains("failed_items = :failed_items"),
            "{expression}"
        );
        assert!(
            expression.contains("total_items = :total_items"),
            "{expression}"
        );
        assert!(
            expression.contains("#status = :status"),
            "counts start the job: {expression}"
        );
        // The job's shard follows its id ("job" ends in b: 0xb % 4 = 3).
        assert_eq!(
            request.values[":status_key"],
            s("ORG#org#STATUS#in_progress#3")
        );
        assert_placeholders_match(&request);
    }

    #[test]
    fn every_field_together_still_forms_a_valid_expression() {
        let issue = issue();
        let mut update = update(ValidatedReport {
            mark_started: true,
            processed_items: Some(1),
            failed_items_increment: Some(1),
            total_items: Some(5),
            stage: Some("s".into()),
            message: Some("m".into()),
            metadata_patch: json!({"a": 1, "b": {"c": [true]}})
                .as_object()
                .unwrap()
                .clone(),
            error: Some(issue.clone()),
            warning: Some(issue),
            mark_failed: Some("boom".into()),
            ..Default::default()
        });
        update.expected = Some(ExpectedCounts {
            failed_items: 0,
            warned_items: 0,
            warning_count: 0,
        });
        let request = request("org", "job", &update, "r1");
        assert!(
            request
                .update_expression
                .contains("error_message = :error_message")
        );
        assert!(
            request
                .condition_expression
                .contains("failed_items = :expected_failed")
        );
        assert_eq!(request.values[":status"], s("failed"));
        assert_placeholders_match(&request);
        assert_eq!(history_puts("t", "org", "job", &update).unwrap().len(), 2);
    }

    /// DynamoDB refuses an expression past 4 KB: the longest report (every field, the
    /// most `metadata_patch` keys, long key names, `stage` and `message` on top) stays
    /// below it, update and condition each.
    #[test]
    fn the_longest_report_fits_dynamodbs_expression_limit() {
        let max = crate::job::MAX_PATCH_KEYS;
        let patch: serde_json::Map<String, serde_json::Value> = (0..max)
            .map(|i| (format!("a-long-metadata-key-name-{i:05}"), json!(i)))
            .collect();
        let issue = issue();
        let mut update = update(ValidatedReport {
            mark_started: true,
            processed_items_increment: Some(1),
            failed_items_increment: Some(1),
            total_items: Some(5),
            stage: Some("s".into()),
            message: Some("m".into()),
            metadata_patch: patch,
            error: Some(issue.clone()),
            warning: Some(issue),
            mark_failed: Some("boom".into()),
            ..Default::default()
        });
        update.expected = Some(ExpectedCounts {
            failed_items: 0,
            warned_items: 0,
            warning_count: 0,
        });
        let request = request("org", "job", &update, "r1");
        assert_eq!(request.names.len(), max + 2 + 4);
        for expression in [&request.update_expression, &request.condition_expression] {
            assert!(expression.len() < 4_000, "{} bytes", expression.len());
        }
        assert_placeholders_match(&request);
    }

    #[test]
    fn an_increment_lands_only_while_the_total_stays_within_the_cap() {
        let report = ValidatedReport {
            processed_items_increment: Some(10),
            processed_items: None,
            ..Default::default()
        };
        let request = request("org", "job", &update(report), "r1");
        assert!(
            request.condition_expression.ends_with(
                " AND (attribute_not_exists(processed_items) \
                 OR processed_items <= :processed_items_room)"
            ),
            "{}",
            request.condition_expression
        );
        assert_eq!(request.values[":processed_items_room"], n(MAX_COUNT - 10));
        assert_placeholders_match(&request);
    }

    #[test]
    fn cancel_sets_the_status_and_completion_time() {
        let request = request(
            "org",
            "job",
            &JobUpdate::cancel(Timestamp::from_millis(0)),
            "r1",
        );
        assert!(request.update_expression.contains("completed_at = :now"));
        assert!(
            !request.update_expression.contains("last_heartbeat_at"),
            "a cancel is no heartbeat"
        );
        assert!(
            request
                .update_expression
                .ends_with("REMOVE deadline_key, sweep_at"),
            "an ended job leaves the sweep's index: {}",
            request.update_expression
        );
        assert_eq!(request.values[":status"], s("cancelled"));
        assert_placeholders_match(&request);
    }
}
