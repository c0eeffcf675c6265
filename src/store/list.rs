//! Pages of jobs and of error/warning history: DynamoDB queries whose cost follows the
//! page, not the organization.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::history_answer;
use super::item::{self, Item, s};
use super::keys::{self, IssueKind};
use super::{Store, StoreError};
use crate::job::time::Timestamp;
use crate::job::{Job, JobStatus, RecordedIssue};
use crate::store::cursor::Cursor;

/// How many queries one filtered page may take before it returns what it has with a
/// cursor to go on: bounds a request's latency when a combined filter matches little.
const MAX_QUERIES_PER_PAGE: usize = 5;

/// `#a0, #a1, …`: one placeholder per attribute of `item::ISSUE_ATTRIBUTES`, in order.
const HISTORY_PROJECTION: &str = "#a0, #a1, #a2, #a3, #a4, #a5, #a6, #a7";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub triggered_by: Option<String>,
    /// Exclusive bounds on `created_at`.
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
}

#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// What a job list's cursor holds before the job id, so that a cursor of another list
/// (`ERROR#…`) is refused.
pub const JOB_CURSOR_PREFIX: &str = "JOB#";

/// The `job_id` range of jobs created strictly between two instants: a UUIDv7 begins
/// with its creation time in milliseconds, as 12 hex digits split 8-4. Both ends
/// inclusive, as `BETWEEN` is; the prefixes themselves are no job id.
fn created_range(filter: &JobFilter) -> (String, String) {
    let prefix = |millis: u64| {
        let hex = format!("{:012x}", millis.min(0xffff_ffff_ffff));
        format!("{}-{}-", &hex[..8], &hex[8..])
    };
    let low = filter
        .created_after
        .map_or_else(|| "0".to_owned(), |t| prefix(t.millis() + 1));
    let high = filter
        .created_before
        .map_or_else(|| "~".to_owned(), |t| prefix(t.millis()));
    (low, high)
}

/// Which index serves a filter, and what is filtered on top of it. Status is the most
/// selective and the most asked for (what is running?), then the user; `job_type` has
/// few values, each a large share of the jobs, so it is filtered rather than indexed
/// (an index would cost every create a write unit).
struct IndexPlan {
    index: &'static str,
    key_attribute: &'static str,
    /// The index key of each shard.
    shard_keys: Vec<String>,
    filters: Vec<&'static str>,
    values: HashMap<String, AttributeValue>,
}

impl IndexPlan {
    fn for_filter(organization_id: &str, filter: &JobFilter) -> IndexPlan {
        let org = organization_id;
        let mut filters = Vec::new();
        let mut values = HashMap::new();
        let shards = 0..keys::SHARDS;
        let (index, key_attribute, shard_keys) = if let Some(status) = filter.status {
            if let Some(user) = &filter.triggered_by {
                filters.push("triggered_by = :triggered_by");
                values.insert(":triggered_by".to_owned(), s(user));
            }
            let shard_keys = shards.map(|n| keys::status(org, status, n)).collect();
            (keys::STATUS_INDEX, keys::STATUS_KEY, shard_keys)
        } else if let Some(user) = &filter.triggered_by {
            let shard_keys = shards.map(|n| keys::triggered_by(org, user, n)).collect();
            (keys::TRIGGERED_BY_INDEX, keys::TRIGGERED_BY_KEY, shard_keys)
        } else {
            let shard_keys = shards.map(|n| keys::organization(org, n)).collect();
            (keys::ORGANIZATION_INDEX, keys::ORGANIZATION_KEY, shard_keys)
        };
        if let Some(job_type) = &filter.job_type {
            filters.push("job_type = :job_type");
            values.insert(":job_type".to_owned(), s(job_type));
        }
        IndexPlan {
            index,
            key_attribute,
            shard_keys,
            filters,
            values,
        }
    }
}

/// One shard's entries read so far, newest first, and where its query stopped.
struct ShardRead {
    key: String,
    entries: Vec<Item>,
    /// Where the next query of this shard starts; `None` once it is exhausted.
    next_start: Option<Item>,
    /// The job id of the last entry DynamoDB evaluated: every matching entry of this
    /// shard above it has been read.
    evaluated_down_to: Option<String>,
    exhausted: bool,
}

impl Store {
    /// The organization's jobs, newest first. Every shard of the chosen index is read
    /// and the entries merged; a shard is read again only while entries above it may
    /// still be missing (a filter can leave a query's page short).
    pub async fn list_jobs(
        &self,
        organization_id: &str,
        filter: &JobFilter,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Page<Job>, StoreError> {
        let (low, mut high) = created_range(filter);
        let below = after.and_then(|cursor| cursor.sort_key().strip_prefix(JOB_CURSOR_PREFIX));
        if let Some(below) = below
            && below < high.as_str()
        {
            high = below.to_owned();
        }
        if low > high {
            // `created_after` at or past `created_before`, or a cursor already below
            // `created_after`: no job lies between, and DynamoDB refuses a `BETWEEN`
            // whose low end is above its high end.
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let plan = IndexPlan::for_filter(organization_id, filter);
        let mut shards: Vec<ShardRead> = plan
            .shard_keys
            .iter()
            .map(|key| ShardRead {
                key: key.clone(),
                entries: Vec::new(),
                next_start: None,
                evaluated_down_to: None,
                exhausted: false,
            })
            .collect();

        let mut rounds = 0;
        let (final_entries, frontier) = loop {
            let reads = shards
                .iter()
                .filter(|shard| !shard.exhausted)
                .map(|shard| self.query_shard(&plan, shard, &low, &high, limit + 2));
            // At once: a page waits for its slowest shard, not for their sum.
            let outputs = futures_util::future::try_join_all(reads).await?;
            let unfinished = shards.iter_mut().filter(|shard| !shard.exhausted);
            for (shard, output) in unfinished.zip(outputs) {
                shard.entries.extend(output.items.unwrap_or_default());
                shard.evaluated_down_to = output
                    .last_evaluated_key
                    .as_ref()
                    .and_then(|key| item::optional_text(key, keys::INDEX_SORT_KEY));
                shard.exhausted = output.last_evaluated_key.is_none();
                shard.next_start = output.last_evaluated_key;
            }
            rounds += 1;
            // Above the highest point where an unfinished shard stopped, nothing is missing.
            let frontier = shards
                .iter()
                .filter(|shard| !shard.exhausted)
                .filter_map(|shard| shard.evaluated_down_to.clone())
                .max();
            let mut known: Vec<Item> = shards
                .iter()
                .flat_map(|shard| shard.entries.iter())
                .filter(|entry| {
                    let id = item::optional_text(entry, keys::INDEX_SORT_KEY).unwrap_or_default();
                    Some(id.as_str()) != below
                        && frontier
                            .as_deref()
                            .is_none_or(|frontier| id.as_str() >= frontier)
                })
                .cloned()
                .collect();
            known.sort_by_cached_key(|entry| {
                std::cmp::Reverse(
                    item::optional_text(entry, keys::INDEX_SORT_KEY).unwrap_or_default(),
                )
            });
            if known.len() > limit || frontier.is_none() || rounds >= MAX_QUERIES_PER_PAGE {
                break (known, frontier);
            }
        };

        let mut entries = final_entries;
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries
                .last()
                .and_then(|entry| item::optional_text(entry, keys::INDEX_SORT_KEY))
        } else {
            // A short page: go on from where the unfinished shards stopped, if any did.
            frontier
        };
        let items = self.full_items(&entries).await?;
        let now = crate::job::time::Timestamp::now();
        let jobs = items
            .iter()
            .filter_map(|item| super::readable_job(item, "list"))
            .map(|job| job.as_of(now))
            .collect();
        Ok(Page {
            items: jobs,
            next: next.map(|id| Cursor::after(&format!("{JOB_CURSOR_PREFIX}{id}"))),
        })
    }

    async fn query_shard(
        &self,
        plan: &IndexPlan,
        shard: &ShardRead,
        low: &str,
        high: &str,
        limit: usize,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput, StoreError> {
        let mut values = plan.values.clone();
        values.insert(":key".to_owned(), s(&shard.key));
        values.insert(":low".to_owned(), s(low));
        values.insert(":high".to_owned(), s(high));
        let names = HashMap::from([
            ("#key".to_owned(), plan.key_attribute.to_owned()),
            ("#sort".to_owned(), keys::INDEX_SORT_KEY.to_owned()),
        ]);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(plan.index)
            .key_condition_expression("#key = :key AND #sort BETWEEN :low AND :high")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(shard.next_start.clone());
        if !plan.filters.is_empty() {
            query = query.filter_expression(plan.filters.join(" AND "));
        }
        Ok(query.send().await?)
    }

    /// The full job items behind index entries, in the entries' order. Eventually
    /// consistent, like the index that listed them (and half the read units).
    pub(super) async fn full_items(&self, entries: &[Item]) -> Result<Vec<Item>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Item> = entries
            .iter()
            .filter_map(|entry| {
                Some(HashMap::from([
                    ("pk".to_owned(), entry.get("pk")?.clone()),
                    ("sk".to_owned(), entry.get("sk")?.clone()),
                ]))
            })
            .collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(build_error)?,
        );
        let mut by_partition: HashMap<String, Item> = HashMap::new();
        while let Some(request) = pending.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await?;
            for found in output
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                if let Some(partition) = item::optional_text(&found, "pk") {
                    by_partition.insert(partition, found);
                }
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .filter(|rest| !rest.keys.is_empty());
        }
        // A job listed by the index but gone from the table cannot happen (jobs are never
        // deleted); skip rather than fail if it ever does.
        Ok(entries
            .iter()
            .filter_map(|entry| by_partition.remove(&item::optional_text(entry, "pk")?))
            .collect())
    }

    /// A strongly consistent query of one kind of a job's history, oldest first, for
    /// the attributes answers show and the sort key (a page's cursor) only: DynamoDB
    /// bills the whole item either way, but sends, and the SDK parses, only these.
    fn history_query(
        &self,
        organization_id: &str,
        job_id: &str,
        kind: IssueKind,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&keys::job_partition(organization_id, job_id)))
            .expression_attribute_values(":prefix", s(kind.prefix()))
            .projection_expression(HISTORY_PROJECTION)
            .consistent_read(true);
        // Placeholders for all: `timestamp` is one of DynamoDB's reserved words.
        for (index, name) in item::ISSUE_ATTRIBUTES.iter().enumerate() {
            query = query.expression_attribute_names(format!("#a{index}"), *name);
        }
        query
    }

    /// One page of a job's errors or warnings, oldest first.
    pub async fn list_issues(
        &self,
        organization_id: &str,
        job_id: &str,
        kind: IssueKind,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Page<RecordedIssue>, StoreError> {
        let partition = keys::job_partition(organization_id, job_id);
        let mut query = self
            .history_query(organization_id, job_id, kind)
            .limit((limit + 1) as i32);
        if let Some(cursor) = after {
            query = query.set_exclusive_start_key(Some(HashMap::from([
                ("pk".to_owned(), s(&partition)),
                ("sk".to_owned(), s(cursor.sort_key())),
            ])));
        }
        let page = history_answer::send(query).await?;
        let mut entries = page.entries;
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().and_then(|entry| entry.sort_key.clone())
        } else {
            page.last_evaluated_sort_key
        };
        let issues = entries.into_iter().filter_map(readable_issue).collect();
        Ok(Page {
            items: issues,
            next: next.map(|sk| Cursor::after(&sk)),
        })
    }

    /// The most recent `cap` errors or warnings of a job, oldest first.
    pub async fn recent_issues(
        &self,
        organization_id: &str,
        job_id: &str,
        kind: IssueKind,
        cap: usize,
    ) -> Result<Vec<RecordedIssue>, StoreError> {
        let query = self
            .history_query(organization_id, job_id, kind)
            .scan_index_forward(false)
            .limit(cap as i32);
        let mut issues: Vec<RecordedIssue> = history_answer::send(query)
            .await?
            .entries
            .into_iter()
            .filter_map(readable_issue)
            .collect();
        issues.reverse();
        Ok(issues)
    }
}

/// A history item as answers show it, or `None` (logged by key, counted) when this
/// version cannot read it: the job and the rest of its history stay readable.
fn readable_issue(entry: history_answer::HistoryEntry) -> Option<RecordedIssue> {
    match entry.issue {
        Ok(issue) => Some(issue),
        Err(super::BadItem(reason)) => {
            let key = entry.sort_key.unwrap_or_default();
            tracing::warn!(%key, %reason, "unreadable history item skipped");
            crate::telemetry::metrics::count(crate::telemetry::metrics::Counter::UnreadableItem);
            None
        }
    }
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unexpected(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_projection_has_a_placeholder_for_every_attribute_read() {
        let placeholders: Vec<String> = (0..item::ISSUE_ATTRIBUTES.len())
            .map(|index| format!("#a{index}"))
            .collect();
        assert_eq!(HISTORY_PROJECTION, placeholders.join(", "));
    }

    #[test]
    fn created_bounds_become_a_sort_key_range_of_uuidv7_prefixes() {
        let (low, high) = created_range(&JobFilter::default());
        assert_eq!((low.as_str(), high.as_str()), ("0", "~"));
        let at = Timestamp::from_millis(0x0193_8a5c_1234);
        let filter = JobFilter {
            created_after: Some(at),
            created_before: Some(at),
            ..Default::default()
        };
        let (low, high) = created_range(&filter);
        assert_eq!(low, "01938a5c-1235-");
        assert_eq!(high, "01938a5c-1234-");
        let sort_key = crate::store::time_ordered_id(at);
        assert!(
            sort_key.as_str() > high.as_str(),
            "a job created at the bound is excluded"
        );
        assert!(sort_key.as_str() < low.as_str());
    }
}
