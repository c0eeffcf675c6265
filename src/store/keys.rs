//! The table's key design, in one place.
//!
//! The rule: an item that is written often gets a partition of its own; whatever one
//! organization's traffic shares is written only at creation and on status changes, and
//! spread over [`SHARDS`] keys. DynamoDB serves at most 1,000 write units per second to
//! one partition key, so a key shared by all of a busy organization's writes would
//! throttle it while the table idles (docs/benchmarks.md, "Partition heat").
//!
//! - A job: `pk = ORG#{organization_id}#JOB#{job_id}`, `sk = JOB`. Progress reports
//!   write only here: one partition per job, however many jobs an organization runs.
//! - Its errors and warnings share the job's partition: `sk = ERROR#{id}` /
//!   `WARNING#{id}` with time-ordered ids, one item each, so the history is unbounded
//!   and pages oldest first.
//! - An idempotency record: `pk = ORG#{organization_id}#IDEMPOTENCY#{key}`,
//!   `sk = IDEMPOTENCY`: a bulk import under keys spreads like its jobs.
//! - Three sparse global secondary indexes list an organization's jobs newest first,
//!   sorted by `job_id` (a UUIDv7, so by creation time; a creation-time range is a
//!   `job_id` range): `by_organization` (every job), `by_status` and `by_triggered_by`,
//!   keyed `ORG#{organization_id}[#{FILTER}#{value}]#{shard}`. A page reads every shard
//!   and merges: reads in proportion to the page (times the shards), never to the
//!   organization. Their entries carry only attributes that never change after creation
//!   (and the status key, which changes with the status), so a report writes no index.
//! - One more sparse index, `by_deadline`, is the sweep's (src/sweep/mod.rs): every job with
//!   a heartbeat, overall or stall timeout that has not ended, keyed `DEADLINE#{shard}` over
//!   [`DEADLINE_SHARDS`] shards of the whole table and sorted by `sweep_at`, the earliest
//!   instant the job could be overdue (epoch seconds). `KEYS_ONLY`, and only creation,
//!   the sweep and an ending write `sweep_at`/`deadline_key`: a report moves a deadline
//!   later but never the entry, so it writes no index (the sweep moves an entry it finds
//!   early, once per heartbeat or stall period at most). This index is not the organization's: no
//!   request reads it, and its entries name the job's own key.
//!
//! Every key a request names starts with the caller's organization; organization ids hold no `#` (see
//! `auth`), so no key of one organization can be spelled from another's.

use std::borrow::Cow;

use crate::job::JobStatus;

/// How many keys each organization's index entries are spread over. 2,000 creates per
/// second in one organization put 500 writes per second on each: half of a
/// partition's 1,000. A page then reads four index keys.
pub const SHARDS: u8 = 4;

/// The sort key of a job item.
pub const JOB_SORT_KEY: &str = "JOB";
const IDEMPOTENCY_SORT_KEY: &str = "IDEMPOTENCY";

pub const ORGANIZATION_KEY: &str = "organization_key";
pub const STATUS_KEY: &str = "status_key";
pub const TRIGGERED_BY_KEY: &str = "triggered_by_key";
/// The sort key of every index: the job id, time-ordered.
pub const INDEX_SORT_KEY: &str = "job_id";

/// The sweep's index: its partition key, its sort key, its name.
pub const DEADLINE_KEY: &str = "deadline_key";
pub const SWEEP_AT: &str = "sweep_at";
pub const DEADLINE_INDEX: &str = "by_deadline";
/// Every open job with a timeout shares these keys, whatever its organization: 16 keys
/// take 16,000 index writes per second (creates, endings, the sweep's moves).
pub const DEADLINE_SHARDS: u8 = 16;

pub const ORGANIZATION_INDEX: &str = "by_organization";
pub const STATUS_INDEX: &str = "by_status";
pub const TRIGGERED_BY_INDEX: &str = "by_triggered_by";

/// What every key of the organization starts with.
pub fn organization_prefix(organization_id: &str) -> String {
    format!("ORG#{organization_id}#")
}

/// The partition of a job and its history.
pub fn job_partition(organization_id: &str, job_id: &str) -> String {
    joined(&["ORG#", organization_id, "#JOB#", job_id])
}

pub fn job(organization_id: &str, job_id: &str) -> (String, String) {
    (
        job_partition(organization_id, job_id),
        JOB_SORT_KEY.to_owned(),
    )
}

/// The job's index shard: from the random end of its UUIDv7, so a burst of creates
/// spreads evenly whatever their timing.
pub fn shard(job_id: &str) -> u8 {
    let last = job_id.bytes().last().unwrap_or(b'0');
    let value = (last as char).to_digit(16).unwrap_or(0) as u8;
    value % SHARDS
}

/// The job's shard of the sweep's index: its id's last hex digit.
pub fn deadline_shard(job_id: &str) -> u8 {
    let last = job_id.bytes().last().unwrap_or(b'0');
    (last as char).to_digit(16).unwrap_or(0) as u8 % DEADLINE_SHARDS
}

pub fn deadline(shard: u8) -> String {
    joined(&["DEADLINE#", &digits(shard)])
}

pub fn organization(organization_id: &str, shard: u8) -> String {
    joined(&["ORG#", organization_id, "#", &digits(shard)])
}

pub fn status(organization_id: &str, status: JobStatus, shard: u8) -> String {
    joined(&[
        "ORG#",
        organization_id,
        "#STATUS#",
        status.as_str(),
        "#",
        &digits(shard),
    ])
}

pub fn triggered_by(organization_id: &str, user: &str, shard: u8) -> String {
    joined(&[
        "ORG#",
        organization_id,
        "#TRIGGERED_BY#",
        user,
        "#",
        &digits(shard),
    ])
}

/// The parts of a key, in one allocation: every write makes several keys, and `format!`
/// costs a few hundred instructions each (issue 26).
fn joined(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

/// A shard's number as text, without the formatting machinery for the shards there are
/// ([`SHARDS`], [`DEADLINE_SHARDS`]).
fn digits(shard: u8) -> Cow<'static, str> {
    const TEXT: [&str; 16] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
    ];
    match TEXT.get(usize::from(shard)) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(shard.to_string()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueKind {
    Error,
    Warning,
}

impl IssueKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IssueKind::Error => "ERROR#",
            IssueKind::Warning => "WARNING#",
        }
    }
}

pub fn issue(
    organization_id: &str,
    job_id: &str,
    kind: IssueKind,
    issue_id: &str,
) -> (String, String) {
    (
        job_partition(organization_id, job_id),
        format!("{}{issue_id}", kind.prefix()),
    )
}

/// An idempotency record: keys are per organization.
pub fn idempotency(organization_id: &str, key: &str) -> (String, String) {
    (
        format!("ORG#{organization_id}#IDEMPOTENCY#{key}"),
        IDEMPOTENCY_SORT_KEY.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_their_parts_joined_for_every_shard() {
        for shard in 0..=u8::MAX {
            assert_eq!(deadline(shard), format!("DEADLINE#{shard}"));
            assert_eq!(organization("o#1", shard), format!("ORG#o#1#{shard}"));
            assert_eq!(
                status("o", JobStatus::InProgress, shard),
                format!("ORG#o#STATUS#in_progress#{shard}")
            );
            assert_eq!(
                triggered_by("o", "u é", shard),
                format!("ORG#o#TRIGGERED_BY#u é#{shard}")
            );
        }
        assert_eq!(job_partition("o", "j"), "ORG#o#JOB#j");
    }

    #[test]
    fn shards_spread_job_ids_evenly_and_stay_in_range() {
        let mut counts = [0usize; SHARDS as usize];
        for last in "0123456789abcdef".chars() {
            let id = format!("019ac9f0-0000-7000-8000-00000000000{last}");
            counts[shard(&id) as usize] += 1;
        }
        assert_eq!(counts, [4; SHARDS as usize]);
        assert!(shard("") < SHARDS && shard("not-hex-z") < SHARDS);
        let mut deadline_counts = [0usize; DEADLINE_SHARDS as usize];
        for last in "0123456789abcdef".chars() {
            let id = format!("019ac9f0-0000-7000-8000-00000000000{last}");
            deadline_counts[deadline_shard(&id) as usize] += 1;
        }
        assert_eq!(deadline_counts, [1; DEADLINE_SHARDS as usize]);
        assert_eq!(deadline(deadline_shard("x-f")), "DEADLINE#15");
    }

    #[test]
    fn a_job_and_its_history_share_a_partition_of_their_own() {
        let (pk, sk) = job("org-a", "j1");
        assert_eq!((pk.as_str(), sk.as_str()), ("ORG#org-a#JOB#j1", "JOB"));
        let (history, _) = issue("org-a", "j1", IssueKind::Error, "e1");
        assert_eq!(history, pk);
        assert_ne!(job("org-a", "j2").0, pk);
        // History sort keys never begin like the job's own.
        assert!(!IssueKind::Error.prefix().starts_with(JOB_SORT_KEY));
        assert!(!IssueKind::Warning.prefix().starts_with(JOB_SORT_KEY));
    }

    #[test]
    fn every_key_of_an_organization_starts_with_its_prefix() {
        let prefix = organization_prefix("org-a");
        for key in [
            job("org-a", "j").0,
            idempotency("org-a", "k").0,
            organization("org-a", 3),
            status("org-a", JobStatus::Pending, 0),
            triggered_by("org-a", "u", 1),
        ] {
            assert!(key.starts_with(&prefix), "{key}");
            assert!(!key.starts_with(&organization_prefix("org-a#")), "{key}");
        }
    }
}
