//! The table's key design, in one place.
//!
//! - A job: `pk = ORG#{organization_id}`, `sk = JOB#{job_id}`. Job ids are UUIDv7, so
//!   the jobs of an organization sort by creation time, and a creation-time range is a
//!   range of `sk`.
//! - Its errors and warnings: `pk = ORG#{organization_id}#JOB#{job_id}`,
//!   `sk = ERROR#{id}` / `WARNING#{id}` with time-ordered ids: one item each, so the
//!   history is unbounded and pages oldest first.
//! - Three sparse global secondary indexes serve the list filters, each keyed by
//!   `ORG#{organization_id}#{FILTER}#{value}` and the job's `sk`, so a filtered page
//!   costs reads in proportion to the page, not to the organization.
//!
//! Every key starts with the caller's organization; organization ids hold no `#` (see
//! `auth`), so no key of one organization can be spelled from another's.

use crate::job::JobStatus;

pub const JOB_PREFIX: &str = "JOB#";

pub const STATUS_KEY: &str = "status_key";
pub const JOB_TYPE_KEY: &str = "job_type_key";
pub const TRIGGERED_BY_KEY: &str = "triggered_by_key";

pub const STATUS_INDEX: &str = "by_status";
pub const JOB_TYPE_INDEX: &str = "by_job_type";
pub const TRIGGERED_BY_INDEX: &str = "by_triggered_by";

fn organization(organization_id: &str) -> String {
    format!("ORG#{organization_id}")
}

pub fn job(organization_id: &str, job_id: &str) -> (String, String) {
    (
        organization(organization_id),
        format!("{JOB_PREFIX}{job_id}"),
    )
}

pub fn organization_partition(organization_id: &str) -> String {
    organization(organization_id)
}

pub fn status(organization_id: &str, status: JobStatus) -> String {
    format!("ORG#{organization_id}#STATUS#{}", status.as_str())
}

pub fn job_type(organization_id: &str, job_type: &str) -> String {
    format!("ORG#{organization_id}#JOB_TYPE#{job_type}")
}

pub fn triggered_by(organization_id: &str, user: &str) -> String {
    format!("ORG#{organization_id}#TRIGGERED_BY#{user}")
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

pub fn history(organization_id: &str, job_id: &str) -> String {
    format!("ORG#{organization_id}#JOB#{job_id}")
}

pub fn issue(
    organization_id: &str,
    job_id: &str,
    kind: IssueKind,
    issue_id: &str,
) -> (String, String) {
    (
        history(organization_id, job_id),
        format!("{}{issue_id}", kind.prefix()),
    )
}

/// An idempotency record: in the organization's partition, so keys are per organization.
pub fn idempotency(organization_id: &str, key: &str) -> (String, String) {
    (organization(organization_id), format!("IDEMPOTENCY#{key}"))
}
