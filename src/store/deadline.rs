//! The sweep's reads and writes: the jobs its index lists as due, and the three things it
//! does with one (see `job::deadline` for the rules, src/sweep/mod.rs for the loop).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::item::{self, Item, n, s};
use super::keys::{self, IssueKind};
use super::{Store, StoreError};
use crate::job::time::Timestamp;
use crate::job::{Expiry, Job, JobStatus};

/// One page of a shard's due entries, with their jobs as stored (not [`Job::as_of`]).
pub struct DueEntries {
    /// How many index entries the page held.
    pub entries: usize,
    pub jobs: Vec<Job>,
    /// Jobs this version could not read: skipped (logged, counted), the rest go on.
    pub unreadable: usize,
    /// Where the next page starts; `None` when the shard has no more due entries.
    pub next: Option<Item>,
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unexpected(error.to_string())
}

impl Store {
    /// The entries of `shard` due at `now` (`sweep_at <= now`), oldest first, and their
    /// jobs: a query of the index's key range, never a scan, so its reads follow the
    /// number of due entries, not of jobs. The jobs are read eventually consistently:
    /// every write decided from them is conditioned on what was read.
    pub async fn due_jobs(
        &self,
        shard: u8,
        now: Timestamp,
        start: Option<Item>,
        limit: usize,
    ) -> Result<DueEntries, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::DEADLINE_INDEX)
            .key_condition_expression("#key = :key AND #at <= :now")
            .expression_attribute_names("#key", keys::DEADLINE_KEY)
            .expression_attribute_names("#at", keys::SWEEP_AT)
            .expression_attribute_values(":key", s(&keys::deadline(shard)))
            .expression_attribute_values(":now", item::seconds(now))
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        let entries = output.items.unwrap_or_default();
        let items = self.full_items(&entries).await?;
        let jobs: Vec<Job> = items
            .iter()
            .filter_map(|item| super::readable_job(item, "sweep"))
            .collect();
        Ok(DueEntries {
            entries: entries.len(),
            unreadable: items.len() - jobs.len(),
            jobs,
            next: output.last_evaluated_key,
        })
    }

    /// Ends an overdue job as `failed` at its deadline, with the job-level error in its
    /// history, in one transaction conditioned on the job not having ended and still
    /// having the deadline that passed: a report that landed first moved it (and wins);
    /// an ending written before (by another sweep) ended it. `Ok(false)` then.
    pub async fn end_overdue(
        &self,
        job: &Job,
        expiry: &Expiry,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (org, id) = (job.organization_id.as_str(), job.job_id.as_str());
        let (pk, sk) = keys::job(org, id);
        let deadline = match expiry.kind {
            crate::job::DeadlineKind::Heartbeat => item::HEARTBEAT_DEADLINE,
            crate::job::DeadlineKind::Timeout => item::TIMEOUT_DEADLINE,
            crate::job::DeadlineKind::Stall => item::STALL_DEADLINE,
        };
        let failed = JobStatus::Failed;
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .update_expression(format!(
                "SET #status = :failed, {} = :status_key, completed_at = :at, \
                 error_message = :message, updated_at = :now ADD error_count :one \
                 REMOVE {}, {}",
                keys::STATUS_KEY,
                keys::DEADLINE_KEY,
                keys::SWEEP_AT
            ))
            .condition_expression("#status IN (:pending, :in_progress) AND #deadline = :deadline")
            .set_expression_attribute_names(Some(HashMap::from([
                ("#status".to_owned(), "status".to_owned()),
                ("#deadline".to_owned(), deadline.to_owned()),
            ])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":failed".to_owned(), s(failed.as_str())),
                (
                    ":status_key".to_owned(),
                    s(&keys::status(org, failed, keys::shard(id))),
                ),
                (":at".to_owned(), s(&expiry.at.to_string())),
                (":message".to_owned(), s(&expiry.message())),
                (":now".to_owned(), s(&now.to_string())),
                (":one".to_owned(), n(1)),
                (":pending".to_owned(), s(JobStatus::Pending.as_str())),
                (":in_progress".to_owned(), s(JobStatus::InProgress.as_str())),
                (":deadline".to_owned(), item::seconds(expiry.at)),
            ])))
            .build()
            .map_err(build_error)?;
        let issue_id = super::time_ordered_id(expiry.at);
        let history = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::from_issue(
                org,
                id,
                IssueKind::Error,
                &issue_id,
                &expiry.issue(id),
            )))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        let writes = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(history).build(),
        ];
        match self.transact(writes, false).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Moves a job that was not overdue to the instant it could next be (a later one
    /// only: reports push deadlines later, never earlier). Nothing if it ended meanwhile.
    pub async fn recheck_at(&self, job: &Job, at: Timestamp) -> Result<(), StoreError> {
        let result = self
            .entry_update(job)
            .update_expression("SET #at = :at")
            .condition_expression("attribute_exists(#key) AND #status IN (:pending, :in_progress)")
            .expression_attribute_names("#at", keys::SWEEP_AT)
            .expression_attribute_names("#key", keys::DEADLINE_KEY)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", item::seconds(at))
            .expression_attribute_values(":pending", s(JobStatus::Pending.as_str()))
            .expression_attribute_values(":in_progress", s(JobStatus::InProgress.as_str()))
            .send()
            .await;
        ignore_failed_condition(result.map(|_| ()).map_err(StoreError::from))
    }

    /// Takes a job that has ended (or has no deadline) out of the sweep's index.
    pub async fn forget_deadline(&self, job: &Job) -> Result<(), StoreError> {
        let result = self
            .entry_update(job)
            .update_expression("REMOVE #key, #at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#at", keys::SWEEP_AT)
            .expression_attribute_names("#key", keys::DEADLINE_KEY)
            .send()
            .await;
        ignore_failed_condition(result.map(|_| ()).map_err(StoreError::from))
    }

    fn entry_update(
        &self,
        job: &Job,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let (pk, sk) = keys::job(&job.organization_id, &job.job_id);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
    }
}

/// A condition that failed means another write got there first: nothing to do.
fn ignore_failed_condition(result: Result<(), StoreError>) -> Result<(), StoreError> {
    match result {
        Err(StoreError::ConditionFailed) => Ok(()),
        other => other,
    }
}
