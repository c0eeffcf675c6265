//! Bench floor: the naive DynamoDB Lambda. lambda_http, `aws_config::load_from_env()` and
//! one PutItem per invocation of the item the function writes, nothing else: the least
//! a function that stores a job can cost with the SDK's default set-up.

use aws_sdk_dynamodb::Client;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[path = "../bench/job_item.rs"]
mod job_item;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let client = Client::new(&config);
    let table = std::env::var("JOBS_TABLE_NAME")?;
    lambda_http::run(service_fn(move |_request: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let job_id = uuid::Uuid::now_v7().to_string();
            client
                .put_item()
                .table_name(table)
                .set_item(Some(job_item::job_item(&job_id)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await?;
            Ok::<_, Error>(
                Response::builder()
                    .status(201)
                    .header("content-type", "application/json")
                    .body(Body::from(format!(r#"{{"job_id":"{job_id}"}}"#)))?,
            )
        }
    }))
    .await
}
