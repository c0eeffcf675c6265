//! `POST /api/jobs/{job_id}/progress`: a worker reports progress. Every field present
//! acts, all in one conditional update (see `job::update` for the rules).

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};

use super::answer;
use super::idempotent::{self, Fingerprint, Written};
use crate::auth::{Caller, Permission};
use crate::config::Config;
use crate::config::ObjectLimits;
use crate::http::body;
use crate::http::error::ApiError;
use crate::http::prefer;
use crate::http::validation::{self, FieldError, Problems};
use crate::job::time::Timestamp;
use crate::job::{Job, JobIssue, JobUpdate, MAX_COUNT, MAX_PATCH_KEYS, ValidatedReport};
use crate::store::{Claim, Completion, Store, StoreError};

const MAX_SHORT_TEXT: usize = 255;
const MAX_MESSAGE: usize = 4096;
const MAX_ENTITY_KEY: usize = 1024;
/// An error's `details` stay small: a job response carries up to 2 × RECENT_ISSUES_CAP.
const MAX_DETAILS_BYTES: usize = 4096;
/// `mark_completed` reads the job, derives the final status, then writes it on condition
/// that the counts did not move meanwhile; this many rounds before giving up with `409`.
const COMPLETION_ATTEMPTS: usize = 5;

pub async fn handle(
    store: &Store,
    config: &Config,
    request: &Request,
    caller: &Caller,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Create)?;
    let job_id = answer::job_id(raw_id)?;
    let body = body::json(request, config.max_body_bytes)?;
    let now = Timestamp::now();
    let report = parse(&body, config, now)?;
    let org = &caller.organization_id;
    let form = prefer::requested_return(request.headers());
    let fingerprint = Fingerprint {
        route: "progress",
        job_id: Some(job_id),
        body: &body,
    };
    idempotent::write(store, request, caller, fingerprint, form, async |claim| {
        let job = apply(store, org, job_id, &report, now, claim).await?;
        Ok(Written::ToKeep(answer::written(store, &job, form).await?))
    })
    .await
}

/// The report as one conditional write (a few, for `mark_completed`, which must read
/// the counts its final status derives from and write only if they did not move).
async fn apply(
    store: &Store,
    org: &str,
    job_id: &str,
    report: &ValidatedReport,
    now: Timestamp,
    claim: Option<&Claim>,
) -> Result<Job, ApiError> {
    if !JobUpdate::needs_current_job(report) {
        let update = JobUpdate::from_report(report.clone(), now, None);
        let completion = claim.map(|claim| Completion {
            claim,
            job_id,
            response: None,
        });
        return Ok(store.update_job(org, job_id, &update, completion).await?);
    }
    // The job as a refused attempt found it serves the next attempt: one read each.
    let mut current = store
        .get_job(org, job_id)
        .await?
        .ok_or(ApiError::JobNotFound)?;
    for _ in 0..COMPLETION_ATTEMPTS {
        if current.status.has_ended() {
            break;
        }
        let update = JobUpdate::from_report(report.clone(), now, Some(&current));
        let completion = claim.map(|claim| Completion {
            claim,
            job_id,
            response: None,
        });
        match store.update_job(org, job_id, &update, completion).await {
            Ok(job) => return Ok(job),
            Err(StoreError::Refused(Some(job))) => current = *job,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Refused(Some(Box::new(current))).into())
}

/// The progress report, every problem reported at once. Unknown fields are ignored.
pub fn parse(body: &Value, config: &Config, now: Timestamp) -> Result<ValidatedReport, ApiError> {
    let fields = validation::body_object(body)?;
    let mut problems = Problems::default();
    // A field given as `null` is a field not given.
    let present = |name: &str| fields.get(name).filter(|value| !value.is_null());
    let count = |name: &str| {
        present(name)
            .map(|v| validation::count(v, &["body", name]))
            .transpose()
    };
    let text = |name: &str, max: usize| {
        present(name)
            .map(|v| validation::string(v, &["body", name], max))
            .transpose()
    };
    let flag = |name: &str| {
        present(name)
            .map(|v| validation::boolean(v, &["body", name]))
            .transpose()
            .map(|b| b.unwrap_or(false))
    };

    let mark_started = problems.check(flag("mark_started"));
    let processed_items = problems.check(count("processed_items"));
    let failed_items = problems.check(count("failed_items"));
    let processed_items_increment = problems.check(count("processed_items_increment"));
    let failed_items_increment = problems.check(count("failed_items_increment"));
    let total_items = problems.check(count("total_items"));
    let stage = problems.check(text("stage", MAX_SHORT_TEXT));
    let message = problems.check(text("message", MAX_MESSAGE));
    let metadata_patch = problems.check(
        present("metadata_patch")
            .map(|v| validation::object(v, &["body", "metadata_patch"], config.metadata_limits))
            .transpose()
            .map(Option::unwrap_or_default),
    );
    let error = parse_issue(present("error"), "error", config, now, &mut problems);
    let warning = parse_issue(present("warning"), "warning", config, now, &mut problems);
    let mark_completed = problems.check(flag("mark_completed"));
    let mark_failed = problems.check(text("mark_failed", MAX_MESSAGE));
    if mark_completed == Some(true) && matches!(mark_failed, Some(Some(_))) {
        problems.check::<()>(Err(FieldError::value_error(
            &["body"],
            "mark_completed and mark_failed cannot both be set",
            body,
        )));
    }

    if let Some(Some(patch)) = present("metadata_patch").map(Value::as_object)
        && patch.len() > MAX_PATCH_KEYS
    {
        problems.check::<()>(Err(FieldError::value_error(
            &["body", "metadata_patch"],
            &format!("has more than {MAX_PATCH_KEYS} keys (send the rest in another report)"),
            &Value::Null,
        )));
    }
    let item_error = matches!(&error, Some(Some(issue)) if issue.is_about_an_item());
    let totals = [
        (
            "processed_items_increment",
            processed_items.flatten(),
            processed_items_increment.flatten(),
            0,
        ),
        (
            "failed_items_increment",
            failed_items.flatten(),
            failed_items_increment.flatten(),
            u64::from(item_error),
        ),
    ];
    for (name, set, increment, item) in totals {
        // One report's set and increments are one change: it cannot pass the cap alone.
        let combined = set.unwrap_or(0) as u128 + increment.unwrap_or(0) as u128 + item as u128;
        if increment.is_some() && combined > u128::from(MAX_COUNT) {
            problems.check::<()>(Err(validation::count_past_limit(
                &["body", name],
                present(name).unwrap_or(&Value::Null),
                "with the count set and the item error of the same report",
            )));
        }
    }

    let report = (|| {
        Some(ValidatedReport {
            mark_started: mark_started?,
            processed_items: processed_items?,
            failed_items: failed_items?,
            processed_items_increment: processed_items_increment?,
            failed_items_increment: failed_items_increment?,
            total_items: total_items?,
            stage: stage?,
            message: message?,
            metadata_patch: metadata_patch?,
            error: error?,
            warning: warning?,
            mark_completed: mark_completed?,
            mark_failed: mark_failed?,
        })
    })();
    Ok(problems.finish(report)?)
}

/// An `error` or `warning` object: `None` when it has problems (recorded), `Some(None)`
/// when absent.
fn parse_issue(
    value: Option<&Value>,
    field: &'static str,
    config: &Config,
    now: Timestamp,
    problems: &mut Problems,
) -> Option<Option<JobIssue>> {
    let Some(value) = value else {
        return Some(None);
    };
    let Value::Object(fields) = value else {
        problems.check::<()>(Err(validation::object(
            value,
            &["body", field],
            config.metadata_limits,
        )
        .err()?));
        return None;
    };
    let mut required = |name: &'static str, max: usize| match fields.get(name) {
        None => problems.check::<String>(Err(FieldError::missing(&["body", field, name], value))),
        Some(v) => problems.check(validation::string(v, &["body", field, name], max)),
    };
    let entity_key = required("entity_key", MAX_ENTITY_KEY);
    let error_type = required("error_type", MAX_SHORT_TEXT);
    let message = required("message", MAX_MESSAGE);
    let optional = |name: &'static str| {
        fields
            .get(name)
            .filter(|v| !v.is_null())
            .map(|v| validation::string(v, &["body", field, name], MAX_SHORT_TEXT))
            .transpose()
    };
    let entity_type = problems.check(optional("entity_type"));
    let step = problems.check(optional("step"));
    let details = problems.check(
        fields
            .get("details")
            .filter(|v| !v.is_null())
            .map(|v| validation::object(v, &["body", field, "details"], details_limits(config)))
            .transpose(),
    );
    Some(Some(JobIssue {
        entity_key: entity_key?,
        entity_type: entity_type?.unwrap_or_else(|| "job".to_owned()),
        error_type: error_type?,
        message: message?,
        timestamp: now,
        details: details?.map(|d: Map<String, Value>| d),
        step: step?,
    }))
}

fn details_limits(config: &Config) -> ObjectLimits {
    ObjectLimits {
        max_bytes: MAX_DETAILS_BYTES.min(config.metadata_limits.max_bytes),
        max_depth: config.metadata_limits.max_depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::from_lookup(|name| (name == "JOBS_TABLE_NAME").then(|| "jobs".to_owned())).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_millis(1_795_867_200_000)
    }

    fn problems(body: Value) -> Vec<(String, String)> {
        crate::http::error::problem_list(parse(&body, &config(), now()))
    }

    #[test]
    fn every_field_is_read() {
        let body = json!({
            "mark_started": true, "processed_items": 5, "failed_items": 1,
            "processed_items_increment": 2, "failed_items_increment": 3, "total_items": 20,
            "stage": "load", "message": "halfway", "metadata_patch": {"k": "v"},
            "error": {"entity_key": "row-1", "error_type": "parse", "message": "bad", "entity_type": "row", "step": "s1", "details": {"col": 3}},
            "warning": {"entity_key": "row-2", "error_type": "gap", "message": "no email"},
            "mark_completed": true, "unknown": 1
        });
        let report = parse(&body, &config(), now()).unwrap();
        assert!(report.mark_started && report.mark_completed);
        assert_eq!(
            (
                report.processed_items,
                report.failed_items,
                report.processed_items_increment,
                report.failed_items_increment,
                report.total_items
            ),
            (Some(5), Some(1), Some(2), Some(3), Some(20))
        );
        assert_eq!(
            (report.stage.as_deref(), report.message.as_deref()),
            (Some("load"), Some("halfway"))
        );
        let error = report.error.unwrap();
        assert_eq!(
            (
                error.entity_type.as_str(),
                error.step.as_deref(),
                error.timestamp
            ),
            ("row", Some("s1"), now())
        );
        assert_eq!(error.details.unwrap()["col"], 3);
        let warning = report.warning.unwrap();
        assert_eq!(warning.entity_type, "job", "entity_type defaults to job");
        assert_eq!(report.mark_failed, None);
    }

    #[test]
    fn an_empty_report_is_valid_and_null_fields_are_absent() {
        assert_eq!(
            parse(&json!({}), &config(), now()).unwrap(),
            ValidatedReport::default()
        );
        let nulls =
            json!({"processed_items": null, "error": null, "mark_failed": null, "stage": null});
        assert_eq!(
            parse(&nulls, &config(), now()).unwrap(),
            ValidatedReport::default()
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = problems(json!({
            "mark_started": "yes", "processed_items_increment": -1, "total_items": 1.5,
            "metadata_patch": [], "error": {"entity_key": 5}, "warning": "oops"
        }));
        let expected = [
            ("bool_type", "body.mark_started"),
            ("greater_than_equal", "body.processed_items_increment"),
            ("int_from_float", "body.total_items"),
            ("dict_type", "body.metadata_patch"),
            ("string_type", "body.error.entity_key"),
            ("missing", "body.error.error_type"),
            ("missing", "body.error.message"),
            ("dict_type", "body.warning"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn completed_and_failed_together_are_refused() {
        let found = problems(json!({"mark_completed": true, "mark_failed": "boom"}));
        assert_eq!(found, [("value_error".to_owned(), "body".to_owned())]);
    }
}
