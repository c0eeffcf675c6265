//! The item `src/store/item.rs` writes for the job of `events/create-job.http-api.json`,
//! built by hand with the bare SDK types: the floors must make DynamoDB do the same work
//! as the function (same attributes, same size), without borrowing the function's code.
//! Included by the floor examples with `#[path]`. Keep in step with `from_job`: the report
//! compares this item's size with the one the function sends (bench/results/raw/capture).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub const ORGANIZATION: &str = "org-events-http";

pub fn job_item(job_id: &str) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let now = rfc3339_now();
    HashMap::from([
        ("pk".to_owned(), s(&format!("ORG#{ORGANIZATION}"))),
        ("sk".to_owned(), s(&format!("JOB#{job_id}"))),
        ("organization_id".to_owned(), s(ORGANIZATION)),
        ("job_id".to_owned(), s(job_id)),
        ("job_type".to_owned(), s("enrichment")),
        ("status".to_owned(), s("pending")),
        ("total_items".to_owned(), n(100)),
        ("processed_items".to_owned(), n(0)),
        ("failed_items".to_owned(), n(0)),
        ("warned_items".to_owned(), n(0)),
        (
            "metadata".to_owned(),
            AttributeValue::M(HashMap::from([(
                "source".to_owned(),
                s("s3://bucket/leads.csv"),
            )])),
        ),
        ("created_at".to_owned(), s(&now)),
        ("updated_at".to_owned(), s(&now)),
        ("error_count".to_owned(), n(0)),
        ("warning_count".to_owned(), n(0)),
        ("triggered_by".to_owned(), s("user-events")),
        // The keys of the table's three GSIs (template.yaml): each costs an index write.
        (
            "status_key".to_owned(),
            s(&format!("ORG#{ORGANIZATION}#STATUS#pending")),
        ),
        (
            "job_type_key".to_owned(),
            s(&format!("ORG#{ORGANIZATION}#JOB_TYPE#enrichment")),
        ),
        (
            "triggered_by_key".to_owned(),
            s(&format!("ORG#{ORGANIZATION}#TRIGGERED_BY#user-events")),
        ),
    ])
}

/// `2026-11-28T12:00:00.123Z`, the form the function writes (same length, same size).
pub fn rfc3339_now() -> String {
    jobs_model::Timestamp::now().to_string()
}
