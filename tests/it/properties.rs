//! Property tests of request parsing and validation: whatever a caller sends, parsing
//! never panics, accepts only what the rules allow, and refuses with FastAPI-shaped
//! errors that point into the request. Pure: no DynamoDB needed. The number of cases
//! is bounded (`PROPTEST_CASES`, default 256 per property).

use jobs_api::Config;
use jobs_api::auth::Caller;
use jobs_api::http::error::ApiError;
use jobs_api::http::query::Query;
use jobs_api::http::{body, prefer};
use jobs_api::job::MAX_COUNT;
use jobs_api::job::time::Timestamp;
use jobs_api::routes::router;
use jobs_api::routes::{create_job, report_progress};
use lambda_http::http::Method;
use lambda_http::http::header::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value, json};

fn config() -> Config {
    Config::from_lookup(|name| (name == "JOBS_TABLE_NAME").then(|| "jobs".to_owned())).unwrap()
}

fn caller() -> Caller {
    Caller {
        organization_id: "org".into(),
        user_id: Some("u".into()),
        permissions: None,
    }
}

/// Any JSON value, nested a few levels, with the field names the API knows mixed in.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::from),
        prop_oneof![Just("crawl"), Just("enrichment"), Just("job"), Just("")].prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "job_type",
            "total_items",
            "metadata",
            "triggered_by",
            "mark_started",
            "processed_items",
            "failed_items",
            "processed_items_increment",
            "failed_items_increment",
            "stage",
            "message",
            "metadata_patch",
            "error",
            "warning",
            "mark_completed",
            "mark_failed",
            "entity_key",
            "error_type",
            "entity_type",
            "details",
            "step",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,8}",
    ]
}

fn assert_fastapi_errors(error: ApiError) -> Result<(), TestCaseError> {
    let ApiError::Validation(entries) = error else {
        return Err(TestCaseError::fail(format!(
            "not a validation error: {error:?}"
        )));
    };
    prop_assert!(!entries.is_empty());
    for entry in entries {
        prop_assert_eq!(entry.loc.first().and_then(Value::as_str), Some("body"));
        prop_assert!(!entry.msg.is_empty());
        let shape = serde_json::to_value(&entry).unwrap();
        prop_assert!(shape.get("type").is_some() && shape.get("input").is_some());
    }
    Ok(())
}

proptest! {
    // Recorded failures stay next to this file (properties.proptest-regressions): in a
    // module of a `main.rs` test crate, proptest's default would be a folder beside
    // tests/it/ instead.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn create_parsing_accepts_only_valid_jobs(body in json_value()) {
        let config = config();
        match create_job::parse(&body, &config, &caller()) {
            Ok(job) => {
                prop_assert!(config.job_types.contains(&job.job_type));
                prop_assert!(job.total_items <= MAX_COUNT);
                prop_assert_eq!(body["job_type"].as_str(), Some(job.job_type.as_str()));
                prop_assert_eq!(body["total_items"].as_u64(), Some(job.total_items));
            }
            Err(error) => assert_fastapi_errors(error)?,
        }
    }

    #[test]
    fn a_valid_create_stays_valid_with_any_extra_fields(
        total in 0..=MAX_COUNT,
        extra in prop::collection::btree_map("[a-z]{1,8}", json_value(), 0..5),
    ) {
        let mut body = json!({"job_type": "crawl", "total_items": total});
        for (name, value) in extra {
            if !["job_type", "total_items", "metadata", "triggered_by"].contains(&name.as_str()) {
                body[name] = value;
            }
        }
        let job = create_job::parse(&body, &config(), &caller()).unwrap();
        prop_assert_eq!(job.total_items, total);
    }

    #[test]
    fn progress_parsing_never_panics_and_counts_stay_in_range(body in json_value()) {
        match report_progress::parse(&body, &config(), Timestamp::from_millis(0)) {
            Ok(report) => {
                for count in [report.processed_items, report.failed_items, report.processed_items_increment,
                              report.failed_items_increment, report.total_items].into_iter().flatten() {
                    prop_assert!(count <= MAX_COUNT);
                }
                prop_assert!(!(report.mark_completed && report.mark_failed.is_some()));
            }
            Err(error) => assert_fastapi_errors(error)?,
        }
    }

    #[test]
    fn any_bytes_as_a_body_are_json_or_a_clean_refusal(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/jobs/")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Binary(bytes.clone()))
            .unwrap();
        match body::json(&request, 128) {
            Ok(value) => prop_assert!(bytes.len() <= 128 && (value.is_null() || serde_json::from_slice::<Value>(&bytes).is_ok())),
            Err(ApiError::MalformedJson(_)) => prop_assert!(serde_json::from_slice::<Value>(&bytes).is_err()),
            Err(ApiError::PayloadTooLarge { .. }) => prop_assert!(bytes.len() > 128),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn any_path_routes_or_is_404_or_405(path in "(/[a-zA-Z0-9%._~-]{0,40}){0,6}/?", post in any::<bool>()) {
        let method = if post { Method::POST } else { Method::GET };
        match router::match_route(&method, &path) {
            Ok(router::Route::Page(asset)) => prop_assert!(
                path.is_empty() || path == "/" || path.starts_with("/app/"),
                "{asset:?}"
            ),
            Ok(route) => prop_assert!(path.starts_with("/api/jobs"), "{route:?}"),
            Err(ApiError::NotFound) | Err(ApiError::MethodNotAllowed { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn any_text_as_a_date_filter_is_a_timestamp_or_a_422(text in "\\PC{0,40}") {
        let encoded: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let query = Query::parse(&format!("created_after={encoded}&created_before={encoded}"));
        for name in ["created_after", "created_before"] {
            match query.timestamp(name) {
                Ok(parsed) => prop_assert!(parsed.is_some()),
                Err(error) => prop_assert_eq!(error.loc, vec!["query".to_owned(), name.to_owned()]),
            }
        }
    }

    #[test]
    fn any_query_string_reads_without_panicking(query in "([a-z_=&%0-9A-Z:.+-]|\\PC){0,80}") {
        let query = Query::parse(&query);
        let _ = query.limit(20, 100);
        let _ = query.cursor("JOB#");
        let _ = query.timestamp("created_after");
        let _ = query.timestamp("created_before");
        if let Ok(limit) = query.limit(20, 100) {
            prop_assert!((1..=100).contains(&limit));
        }
    }

    #[test]
    fn any_prefer_fields_read_without_panicking(
        fields in prop::collection::vec("([ -~]|return=minimal|return=representation|[,;=\"]){0,40}", 0..4),
    ) {
        let mut headers = HeaderMap::new();
        for field in &fields {
            headers.append(prefer::HEADER, HeaderValue::from_str(field).unwrap());
        }
        if let Some(form) = prefer::requested_return(&headers) {
            let text = fields.join(",").to_ascii_lowercase();
            let asked = match form {
                prefer::Return::Minimal => "minimal",
                prefer::Return::Representation => "representation",
            };
            prop_assert!(text.contains("return") && text.contains(asked), "{fields:?}");
        }
    }
}
