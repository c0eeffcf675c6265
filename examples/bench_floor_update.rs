//! Bench floor for a progress report: lambda_http, `aws_config::load_from_env()` and one
//! UpdateItem per invocation, shaped as the function's write for
//! `{"processed_items_increment": 100}` (the same expression, condition and
//! `ReturnValues=ALL_NEW`), answering a few fields of the job it gets back: the least a
//! function that records a report can cost with the SDK's default set-up.
//!
//! Every invocation updates one job, put once at the first invocation (the item
//! `src/store/item.rs` writes, from `bench/job_item.rs`), whatever job the event names.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use lambda_http::{Body, Error, Request, Response, service_fn};
use tokio::sync::OnceCell;

#[path = "../bench/job_item.rs"]
mod job_item;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let client = Client::new(&config);
    let table = std::env::var("JOBS_TABLE_NAME")?;
    let job: &'static OnceCell<String> = Box::leak(Box::new(OnceCell::new()));
    lambda_http::run(service_fn(move |_request: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let job_id = job
                .get_or_try_init(|| async {
                    let job_id = uuid::Uuid::now_v7().to_string();
                    client
                        .put_item()
                        .table_name(&table)
                        .set_item(Some(job_item::job_item(&job_id)))
                        .send()
                        .await?;
                    Ok::<_, Error>(job_id)
                })
                .await?;
            let s = |v: &str| AttributeValue::S(v.to_owned());
            let status_key =
                |status: &str| s(&format!("ORG#{}#STATUS#{status}", job_item::ORGANIZATION));
            let output = client
                .update_item()
                .table_name(&table)
                .key("pk", s(&format!("ORG#{}", job_item::ORGANIZATION)))
                .key("sk", s(&format!("JOB#{job_id}")))
                .update_expression(
                    "SET updated_at = :now, last_request = :request, \
                     started_at = if_not_exists(started_at, :now), \
                     #status = :status, status_key = :status_key \
                     ADD processed_items :processed_items",
                )
                .condition_expression(
                    "attribute_exists(pk) AND #status IN (:pending, :in_progress)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":now", s(&job_item::rfc3339_now()))
                .expression_attribute_values(":request", s(&uuid::Uuid::now_v7().to_string()))
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":in_progress", s("in_progress"))
                .expression_attribute_values(":status", s("in_progress"))
                .expression_attribute_values(":status_key", status_key("in_progress"))
                .expression_attribute_values(":processed_items", AttributeValue::N("100".into()))
                .return_values(ReturnValue::AllNew)
                .send()
                .await?;
            let attributes = output.attributes.unwrap_or_default();
            let text = |name: &str| match attributes.get(name) {
                Some(AttributeValue::S(v) | AttributeValue::N(v)) => v.as_str(),
                _ => "",
            };
            let body = format!(
                r#"{{"job_id":"{job_id}","status":"{}","processed_items":{},"updated_at":"{}"}}"#,
                text("status"),
                text("processed_items"),
                text("updated_at"),
            );
            Ok::<_, Error>(
                Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Body::from(body))?,
            )
        }
    }))
    .await
}
