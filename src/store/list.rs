//! Pages of jobs and of error/warning history: DynamoDB queries whose cost follows the
//! page, not the organization.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::item::{self, Item, s};
use super::keys::{self, IssueKind};
use super::{Store, StoreError};
use crate::cursor::Cursor;
use crate::job::{Job, JobStatus, RecordedIssue};
use crate::time::Timestamp;

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

/// The `sk` range of jobs created strictly between two instants: a UUIDv7 begins with
/// its creation time in milliseconds, as 12 hex digits split 8-4.
fn created_range(filter: &JobFilter) -> (String, String) {
    let prefix = |millis: u64| {
        let hex = format!("{:012x}", millis.min(0xffff_ffff_ffff));
        format!("{}{}-{}-", keys::JOB_PREFIX, &hex[..8], &hex[8..])
    };
    let low = filter
        .created_after
        .map_or_else(|| keys::JOB_PREFIX.to_owned(), |t| prefix(t.millis() + 1));
    let high = filter
        .created_before
        .map_or_else(|| format!("{}~", keys::JOB_PREFIX), |t| prefix(t.millis()));
    (low, high)
}

impl Store {
    /// The organization's jobs, newest first. A status, job type or user filter reads
    /// its index (status first, then user, then type); other filters apply on top.
    pub async fn list_jobs(
        &self,
        organization_id: &str,
        filter: &JobFilter,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Page<Job>, StoreError> {
        let (low, high) = created_range(filter);
        let partition = keys::organization_partition(organization_id);
        let index = if let Some(status) = filter.status {
            Some((
                keys::STATUS_INDEX,
                keys::STATUS_KEY,
                keys::status(organization_id, status),
            ))
        } else if let Some(user) = &filter.triggered_by {
            Some((
                keys::TRIGGERED_BY_INDEX,
                keys::TRIGGERED_BY_KEY,
                keys::triggered_by(organization_id, user),
            ))
        } else {
            filter.job_type.as_ref().map(|job_type| {
                (
                    keys::JOB_TYPE_INDEX,
                    keys::JOB_TYPE_KEY,
                    keys::job_type(organization_id, job_type),
                )
            })
        };
        let (key_name, key_value) = index
            .as_ref()
            .map_or(("pk", partition.clone()), |(_, name, value)| {
                (*name, value.clone())
            });

        let mut filters = Vec::new();
        let mut values = HashMap::from([
            (":key".to_owned(), s(&key_value)),
            (":low".to_owned(), s(&low)),
            (":high".to_owned(), s(&high)),
        ]);
        let names = HashMap::from([("#key".to_owned(), key_name.to_owned())]);
        // Whatever the index does not select is filtered; `status` is always the index.
        if filter.status.is_some() && filter.triggered_by.is_some() {
            filters.push("triggered_by = :triggered_by");
            values.insert(
                ":triggered_by".into(),
                s(filter.triggered_by.as_deref().unwrap_or_default()),
            );
        }
        if let Some(job_type) = &filter.job_type
            && (filter.status.is_some() || filter.triggered_by.is_some())
        {
            filters.push("job_type = :job_type");
            values.insert(":job_type".into(), s(job_type));
        }

        let mut found: Vec<Item> = Vec::new();
        let mut start = after.map(|cursor| cursor.sort_key().to_owned());
        let mut more = false;
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#key = :key AND sk BETWEEN :low AND :high")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit((limit + 1 - found.len()) as i32);
            if let Some((index_name, _, _)) = &index {
                query = query.index_name(*index_name);
            }
            if !filters.is_empty() {
                query = query.filter_expression(filters.join(" AND "));
            }
            if let Some(sort_key) = &start {
                let mut start_key = HashMap::from([
                    ("pk".to_owned(), s(&partition)),
                    ("sk".to_owned(), s(sort_key)),
                ]);
                start_key.insert(key_name.to_owned(), s(&key_value));
                query = query.set_exclusive_start_key(Some(start_key));
            }
            let output = query.send().await?;
            found.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.as_ref().and_then(sort_key_of);
            more = start.is_some();
            if found.len() > limit || !more {
                break;
            }
        }

        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().and_then(sort_key_of)
        } else if more {
            start
        } else {
            None
        };
        let items = if index.is_some() {
            self.full_items(&found).await?
        } else {
            found
        };
        let jobs = items
            .iter()
            .map(item::to_job)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items: jobs,
            next: next.map(|sk| Cursor::after(&sk)),
        })
    }

    /// The full job items behind index entries, in the entries' order.
    async fn full_items(&self, entries: &[Item]) -> Result<Vec<Item>, StoreError> {
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
                .consistent_read(true)
                .build()
                .map_err(build_error)?,
        );
        let mut by_sort_key: HashMap<String, Item> = HashMap::new();
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
                if let Some(sort_key) = sort_key_of(&found) {
                    by_sort_key.insert(sort_key, found);
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
            .filter_map(|entry| by_sort_key.remove(&sort_key_of(entry)?))
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
            .expression_attribute_values(":pk", s(&keys::history(organization_id, job_id)))
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
        let partition = keys::history(organization_id, job_id);
        let mut query = self
            .history_query(organization_id, job_id, kind)
            .limit((limit + 1) as i32);
        if let Some(cursor) = after {
            query = query.set_exclusive_start_key(Some(HashMap::from([
                ("pk".to_owned(), s(&partition)),
                ("sk".to_owned(), s(cursor.sort_key())),
            ])));
        }
        let output = query.send().await?;
        let mut items = output.items.unwrap_or_default();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().and_then(sort_key_of)
        } else {
            output.last_evaluated_key.as_ref().and_then(sort_key_of)
        };
        let issues = items
            .iter()
            .map(item::to_recorded_issue)
            .collect::<Result<Vec<_>, _>>()?;
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
        let output = self
            .history_query(organization_id, job_id, kind)
            .scan_index_forward(false)
            .limit(cap as i32)
            .send()
            .await?;
        let mut issues = output
            .items
            .unwrap_or_default()
            .iter()
            .map(item::to_recorded_issue)
            .collect::<Result<Vec<_>, _>>()?;
        issues.reverse();
        Ok(issues)
    }
}

fn sort_key_of(item: &Item) -> Option<String> {
    match item.get("sk") {
        Some(AttributeValue::S(sort_key)) => Some(sort_key.clone()),
        _ => None,
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
        assert_eq!((low.as_str(), high.as_str()), ("JOB#", "JOB#~"));
        let at = Timestamp::from_millis(0x0193_8a5c_1234);
        let filter = JobFilter {
            created_after: Some(at),
            created_before: Some(at),
            ..Default::default()
        };
        let (low, high) = created_range(&filter);
        assert_eq!(low, "JOB#01938a5c-1235-");
        assert_eq!(high, "JOB#01938a5c-1234-");
        let sort_key = format!("JOB#{}", crate::store::time_ordered_id(at));
        assert!(
            sort_key.as_str() > high.as_str(),
            "a job created at the bound is excluded"
        );
        assert!(sort_key.as_str() < low.as_str());
    }
}
