//! Copies the items of a table of the first layout (one partition per organization:
//! jobs at `ORG#{org}` / `JOB#{id}`, idempotency records at `ORG#{org}` /
//! `IDEMPOTENCY#{key}`, three indexes) into a table of this one (`jobs_api::store::keys`).
//! A one-off, kept out of the service: run once after the stack update that created the
//! new table (docs/storage.md).
//!
//! Idempotent: every item is written only if the target does not hold it yet, so a
//! second run copies nothing and a job already changed in the new table is never
//! overwritten by its old copy. Resumable: after each page the scan position goes to a
//! checkpoint file, and a run that finds one starts there. `dry_run` counts and writes
//! nothing. The source table is only read.

use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::AttributeValue;

use jobs_api::store::item::{self, Item};
use jobs_api::store::{Store, StoreError, keys};

/// What the first layout put in the table, told apart by its keys.
#[derive(Debug, PartialEq)]
pub enum OldItem {
    Job,
    /// An error or warning: its keys did not change.
    History,
    Idempotency {
        organization_id: String,
        key: String,
    },
    /// Not written by the first layout (or already in the new one): left alone.
    Unknown,
}

pub fn classify(item: &Item) -> OldItem {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => value.as_str(),
        _ => "",
    };
    let (pk, sk) = (text("pk"), text("sk"));
    let Some(rest) = pk.strip_prefix("ORG#") else {
        return OldItem::Unknown;
    };
    match rest.split_once('#') {
        None if sk.starts_with("JOB#") => OldItem::Job,
        None => match sk.strip_prefix("IDEMPOTENCY#") {
            Some(key) => OldItem::Idempotency {
                organization_id: rest.to_owned(),
                key: key.to_owned(),
            },
            None => OldItem::Unknown,
        },
        Some((_, job)) if job.starts_with("JOB#") && !sk.is_empty() && sk != keys::JOB_SORT_KEY => {
            OldItem::History
        }
        Some(_) => OldItem::Unknown,
    }
}

/// The item in the new layout, or `None` when it is not copied (an expired idempotency
/// record, something unknown). `now` in seconds since the epoch.
pub fn new_item(old: &Item, now: u64) -> Result<Option<Item>, StoreError> {
    match classify(old) {
        // Read as a job and written as one: new keys, new index attributes, the rest as
        // it was.
        OldItem::Job => Ok(Some(item::from_job(&item::to_job(old)?))),
        OldItem::History => Ok(Some(old.clone())),
        OldItem::Idempotency {
            organization_id,
            key,
        } => {
            let expires = match old.get("expires_at") {
                Some(AttributeValue::N(value)) => value.parse::<u64>().unwrap_or(0),
                _ => 0,
            };
            if expires <= now {
                return Ok(None);
            }
            let (pk, sk) = keys::idempotency(&organization_id, &key);
            let mut record = old.clone();
            record.insert("pk".into(), AttributeValue::S(pk));
            record.insert("sk".into(), AttributeValue::S(sk));
            Ok(Some(record))
        }
        OldItem::Unknown => Ok(None),
    }
}

pub struct Options {
    pub source_table: String,
    pub dry_run: bool,
    /// Where the scan position is kept between runs.
    pub checkpoint: Option<PathBuf>,
    /// Items per scan page (and so between checkpoints).
    pub page_size: i32,
    /// Stop after this many pages (a run cut short, as a failure would).
    pub max_pages: Option<usize>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub scanned: u64,
    pub jobs: u64,
    pub history: u64,
    pub idempotency_records: u64,
    /// Already in the target (an earlier run, or the new function wrote it since).
    pub already_there: u64,
    /// Expired idempotency records and items the first layout did not write.
    pub skipped: u64,
    /// The scan reached the end of the source table.
    pub finished: bool,
}

/// Copies the first-layout table `options.source_table` into `store`'s table.
pub async fn migrate(store: &Store, options: &Options, now: u64) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut start = match &options.checkpoint {
        Some(path) if path.exists() => Some(read_checkpoint(path)?),
        _ => None,
    };
    let mut pages = 0;
    loop {
        let output = store
            .client()
            .scan()
            .table_name(&options.source_table)
            .consistent_read(true)
            .limit(options.page_size)
            .set_exclusive_start_key(start.take())
            .send()
            .await?;
        for old in output.items.unwrap_or_default() {
            report.scanned += 1;
            let kind = classify(&old);
            let Some(new) = new_item(&old, now)? else {
                report.skipped += 1;
                continue;
            };
            let copied = options.dry_run || put_if_absent(store, new).await?;
            match (copied, kind) {
                (false, _) => report.already_there += 1,
                (true, OldItem::Job) => report.jobs += 1,
                (true, OldItem::History) => report.history += 1,
                (true, _) => report.idempotency_records += 1,
            }
        }
        pages += 1;
        start = output.last_evaluated_key;
        if !options.dry_run
            && let Some(path) = &options.checkpoint
        {
            match &start {
                Some(position) => write_checkpoint(path, position)?,
                None => remove_checkpoint(path)?,
            }
        }
        if start.is_none() {
            report.finished = true;
            return Ok(report);
        }
        if options.max_pages.is_some_and(|max| pages >= max) {
            return Ok(report);
        }
    }
}

/// Writes `item` unless the target holds its key already; whether it wrote.
async fn put_if_absent(store: &Store, item: Item) -> Result<bool, StoreError> {
    let result = store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match result.map_err(StoreError::from) {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(error) => Err(error),
    }
}

/// A scan position: the `pk` and `sk` of the last item read.
fn write_checkpoint(path: &Path, position: &Item) -> Result<(), StoreError> {
    let text = |name: &str| {
        item::optional_text(position, name)
            .ok_or_else(|| StoreError::Unexpected(format!("scan position without {name}")))
    };
    let json = serde_json::json!({"pk": text("pk")?, "sk": text("sk")?}).to_string();
    std::fs::write(path, json).map_err(|error| file_error(path, error))
}

fn read_checkpoint(path: &Path) -> Result<Item, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|error| file_error(path, error))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| StoreError::Unexpected(format!("{}: {error}", path.display())))?;
    let field = |name: &str| {
        value[name]
            .as_str()
            .map(|v| AttributeValue::S(v.to_owned()))
            .ok_or_else(|| StoreError::Unexpected(format!("{}: no {name}", path.display())))
    };
    Ok(Item::from([
        ("pk".to_owned(), field("pk")?),
        ("sk".to_owned(), field("sk")?),
    ]))
}

fn remove_checkpoint(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(file_error(path, error)),
        _ => Ok(()),
    }
}

fn file_error(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Unexpected(format!("checkpoint {}: {error}", path.display()))
}
