//! `POST /api/jobs/`: create a job.

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};

use super::idempotent::{self, Fingerprint, Written};
use crate::auth::{Caller, Permission};
use crate::config::Config;
use crate::http::error::ApiError;
use crate::http::validation::{self, FieldError, Problems};
use crate::http::{body, response};
use crate::job::time::Timestamp;
use crate::job::{Job, NewJob, RecentIssues};
use crate::store::{self, Completion, Store, StoreError};
use crate::telemetry::metrics;

const MAX_TRIGGERED_BY_CHARS: usize = 255;

pub async fn handle(
    store: &Store,
    config: &Config,
    request: &Request,
    caller: &Caller,
    logged_job_id: &mut Option<String>,
) -> Result<Response<Body>, ApiError> {
    caller.require(Permission::Create)?;
    let body = body::json(request, config.max_body_bytes)?;
    let new = parse(&body, config, caller)?;
    let now = Timestamp::now();
    let job_id = store::time_ordered_id(now);
    let job = Job::create(caller.organization_id.clone(), job_id, new, now);
    let fingerprint = Fingerprint {
        route: "create",
        job_id: None,
        body: &body,
    };
    // A create always answers in full (its job has no history to read).
    idempotent::write(store, request, caller, fingerprint, None, async |claim| {
        *logged_job_id = Some(job.job_id.clone());
        let location = format!("/api/jobs/{}", job.job_id);
        let reply = response::created(&location, &job.to_response(now, &RecentIssues::default()));
        // The answer is known before the write, so the key's record keeps it in the
        // same transaction as the job.
        let stored = claim.map(|_| idempotent::stored(&reply));
        let completion = claim.map(|claim| Completion {
            claim,
            job_id: &job.job_id,
            response: stored.as_ref(),
        });
        match store.create_job(&job, completion).await {
            Ok(()) => {}
            // The id is fresh, so the item that exists is this very job: the SDK retried a
            // write whose answer was lost after it landed. Written once; say so.
            Err(StoreError::ConditionFailed | StoreError::ClaimLost)
                if written(store, &job).await => {}
            Err(StoreError::ConditionFailed) => {
                tracing::error!("job id collision");
                return Err(ApiError::Internal);
            }
            Err(other) => return Err(other.into()),
        }
        metrics::job_created(&job.job_type);
        Ok(Written::Kept(reply))
    })
    .await
}

async fn written(store: &Store, job: &Job) -> bool {
    matches!(store.get_job(&job.organization_id, &job.job_id).await, Ok(Some(stored)) if stored == *job)
}

/// The create request, every problem reported at once. Unknown fields are ignored.
pub fn parse(body: &Value, config: &Config, caller: &Caller) -> Result<NewJob, ApiError> {
    let fields = validation::body_object(body)?;
    let mut problems = Problems::default();

    let job_type = match fields.get("job_type") {
        None => problems.check(Err(FieldError::missing(&["body", "job_type"], body))),
        Some(value) => problems.check(validation::one_of(
            value,
            &["body", "job_type"],
            &config.job_types,
        )),
    };
    let total_items = match fields.get("total_items") {
        None => problems.check(Err(FieldError::missing(&["body", "total_items"], body))),
        Some(value) => problems.check(validation::count(value, &["body", "total_items"])),
    };
    let metadata = match fields.get("metadata") {
        None | Some(Value::Null) => Some(Map::new()),
        Some(value) => problems.check(validation::object(
            value,
            &["body", "metadata"],
            config.metadata_limits,
        )),
    };
    let triggered_by = match fields.get("triggered_by") {
        None | Some(Value::Null) => Some(caller.user_id.clone()),
        Some(value) => problems.check(
            validation::string(value, &["body", "triggered_by"], MAX_TRIGGERED_BY_CHARS).map(Some),
        ),
    };

    let timeouts = config.timeouts;
    // Absent: the deployment's default; `null`: none.
    let mut timeout = |name: &'static str, default: Option<u64>| match fields.get(name) {
        None => Some(default),
        Some(Value::Null) => Some(None),
        Some(value) => problems
            .check(validation::integer_in(
                value,
                &["body", name],
                timeouts.min_seconds,
                timeouts.max_seconds,
            ))
            .map(Some),
    };
    let heartbeat_timeout_seconds = timeout(
        "heartbeat_timeout_seconds",
        timeouts.default_heartbeat_seconds,
    );
    let timeout_seconds = timeout("timeout_seconds", timeouts.default_timeout_seconds);
    let stall_timeout_seconds = timeout("stall_timeout_seconds", timeouts.default_stall_seconds);

    let new = (|| {
        Some(NewJob {
            job_type: job_type?,
            total_items: total_items?,
            metadata: metadata?,
            triggered_by: triggered_by?,
            heartbeat_timeout_seconds: heartbeat_timeout_seconds?,
            timeout_seconds: timeout_seconds?,
            stall_timeout_seconds: stall_timeout_seconds?,
        })
    })();
    Ok(problems.finish(new)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::from_lookup(|name| (name == "JOBS_TABLE_NAME").then(|| "jobs".to_owned())).unwrap()
    }

    fn caller() -> Caller {
        Caller {
            organization_id: "org-a".into(),
            user_id: Some("user-1".into()),
            permissions: None,
        }
    }

    fn problems(body: Value) -> Vec<(String, String)> {
        crate::http::error::problem_list(parse(&body, &config(), &caller()))
    }

    #[test]
    fn a_minimal_request_gets_defaults() {
        let new = parse(
            &json!({"job_type": "crawl", "total_items": 3}),
            &config(),
            &caller(),
        )
        .unwrap();
        assert_eq!(new.job_type, "crawl");
        assert_eq!(new.total_items, 3);
        assert!(new.metadata.is_empty());
        assert_eq!(new.triggered_by.as_deref(), Some("user-1"));
    }

    #[test]
    fn given_fields_are_kept_and_unknown_ones_ignored() {
        let body = json!({
            "job_type": "export", "total_items": 0, "metadata": {"k": [1, {"v": null}]},
            "triggered_by": "scheduler", "colour": "blue"
        });
        let new = parse(&body, &config(), &caller()).unwrap();
        assert_eq!(
            new.metadata,
            *json!({"k": [1, {"v": null}]}).as_object().unwrap()
        );
        assert_eq!(new.triggered_by.as_deref(), Some("scheduler"));
    }

    #[test]
    fn an_explicit_null_triggered_by_defaults_to_the_caller() {
        let body = json!({"job_type": "crawl", "total_items": 1, "triggered_by": null});
        let new = parse(&body, &config(), &caller()).unwrap();
        assert_eq!(new.triggered_by.as_deref(), Some("user-1"));
    }

    #[test]
    fn timeouts_are_optional_bounded_integers_with_deployment_defaults() {
        let body = json!({"job_type": "crawl", "total_items": 1,
            "heartbeat_timeout_seconds": 60, "timeout_seconds": 2_592_000});
        let new = parse(&body, &config(), &caller()).unwrap();
        assert_eq!(new.heartbeat_timeout_seconds, Some(60));
        assert_eq!(new.timeout_seconds, Some(2_592_000));
        assert_eq!(new.stall_timeout_seconds, None);
        let stall = json!({"job_type": "crawl", "total_items": 1, "stall_timeout_seconds": 900});
        let new = parse(&stall, &config(), &caller()).unwrap();
        assert_eq!(new.stall_timeout_seconds, Some(900));
        let bare = json!({"job_type": "crawl", "total_items": 1});
        let new = parse(&bare, &config(), &caller()).unwrap();
        assert_eq!(
            (new.heartbeat_timeout_seconds, new.timeout_seconds),
            (None, None)
        );

        let mut with_defaults = config();
        with_defaults.timeouts.default_heartbeat_seconds = Some(120);
        with_defaults.timeouts.default_timeout_seconds = Some(3600);
        with_defaults.timeouts.default_stall_seconds = Some(600);
        let new = parse(&bare, &with_defaults, &caller()).unwrap();
        assert_eq!(new.heartbeat_timeout_seconds, Some(120));
        assert_eq!(new.timeout_seconds, Some(3600));
        assert_eq!(new.stall_timeout_seconds, Some(600));
        let nulls = json!({"job_type": "crawl", "total_items": 1,
            "heartbeat_timeout_seconds": null, "timeout_seconds": null,
            "stall_timeout_seconds": null});
        let new = parse(&nulls, &with_defaults, &caller()).unwrap();
        assert_eq!(
            (
                new.heartbeat_timeout_seconds,
                new.timeout_seconds,
                new.stall_timeout_seconds
            ),
            (None, None, None)
        );

        let cases = [
            (json!(59), "greater_than_equal"),
            (json!(-1), "greater_than_equal"),
            (json!(2_592_001), "less_than_equal"),
            (json!(60.5), "int_from_float"),
            (json!("60"), "int_type"),
            (json!(true), "int_type"),
        ];
        for (value, kind) in cases {
            for field in [
                "heartbeat_timeout_seconds",
                "timeout_seconds",
                "stall_timeout_seconds",
            ] {
                let body = json!({"job_type": "crawl", "total_items": 1, field: value});
                assert_eq!(
                    problems(body),
                    [(kind.to_owned(), format!("body.{field}"))],
                    "{field}: {value}"
                );
            }
        }
        let Err(ApiError::Validation(errors)) = parse(
            &json!({"job_type": "crawl", "total_items": 1, "timeout_seconds": 5}),
            &config(),
            &caller(),
        ) else {
            panic!("expected a validation error");
        };
        assert_eq!(
            serde_json::to_value(&errors[0]).unwrap(),
            json!({"type": "greater_than_equal", "loc": ["body", "timeout_seconds"],
                "msg": "Input should be greater than or equal to 60", "input": 5, "ctx": {"ge": 60}})
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = problems(json!({"total_items": -1, "metadata": [], "triggered_by": 7}));
        assert_eq!(
            found,
            [
                ("missing".to_owned(), "body.job_type".to_owned()),
                (
                    "greater_than_equal".to_owned(),
                    "body.total_items".to_owned()
                ),
                ("dict_type".to_owned(), "body.metadata".to_owned()),
                ("string_type".to_owned(), "body.triggered_by".to_owned()),
            ]
        );
    }

    #[test]
    fn each_create_rule_is_enforced() {
        let cases = [
            (json!({"total_items": 1}), "missing", "body.job_type"),
            (json!({"job_type": "crawl"}), "missing", "body.total_items"),
            (
                json!({"job_type": "mining", "total_items": 1}),
                "enum",
                "body.job_type",
            ),
            (
                json!({"job_type": 5, "total_items": 1}),
                "enum",
                "body.job_type",
            ),
            (
                json!({"job_type": "crawl", "total_items": 1.5}),
                "int_from_float",
                "body.total_items",
            ),
            (
                json!({"job_type": "crawl", "total_items": "3"}),
                "int_type",
                "body.total_items",
            ),
            (
                json!({"job_type": "crawl", "total_items": true}),
                "int_type",
                "body.total_items",
            ),
            (
                json!({"job_type": "crawl", "total_items": null}),
                "int_type",
                "body.total_items",
            ),
            (
                json!({"job_type": "crawl", "total_items": 1, "metadata": "x"}),
                "dict_type",
                "body.metadata",
            ),
            (
                json!({"job_type": "crawl", "total_items": 1, "triggered_by": "u".repeat(256)}),
                "string_too_long",
                "body.triggered_by",
            ),
        ];
        for (body, kind, loc) in cases {
            assert_eq!(
                problems(body.clone()),
                [(kind.to_owned(), loc.to_owned())],
                "{body}"
            );
        }
    }

    #[test]
    fn a_missing_field_echoes_the_body_like_fastapi() {
        let body = json!({"total_items": 1});
        let Err(ApiError::Validation(errors)) = parse(&body, &config(), &caller()) else {
            panic!("expected a validation error");
        };
        assert_eq!(
            serde_json::to_value(&errors[0]).unwrap(),
            json!({"type": "missing", "loc": ["body", "job_type"], "msg": "Field required", "input": {"total_items": 1}})
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        assert_eq!(
            problems(Value::Null),
            [("missing".to_owned(), "body".to_owned())]
        );
        assert_eq!(
            problems(json!([1])),
            [("model_attributes_type".to_owned(), "body".to_owned())]
        );
    }
}
