//! The DynamoDB table: its key design, the client and the conditional writes.
//!
//! One table. A job is the item `pk = ORG#{organization_id}`, `sk = JOB#{job_id}`: every
//! read and write names the caller's organization in the key, so a job of another
//! organization cannot be reached at all, not merely filtered out. Job ids are UUIDv7, so
//! a partition's jobs sort by creation time.

mod attr;
mod item;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::ApiError;
use crate::job::Job;

pub use item::{BadItem, Item};

/// Well inside the function's 10 s timeout, retries included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
const MAX_ATTEMPTS: u32 = 3;

/// The DynamoDB client this service uses, configured once per container. The endpoint
/// comes from the standard settings (`AWS_ENDPOINT_URL_DYNAMODB` locally).
pub async fn connect() -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await;
    Client::new(&sdk_config)
}

/// The key of a job item.
pub fn job_key(organization_id: &str, job_id: &str) -> (String, String) {
    (format!("ORG#{organization_id}"), format!("JOB#{job_id}"))
}

#[derive(Debug)]
pub enum StoreError {
    /// The write's condition did not hold (the item exists, or is in another state).
    ConditionFailed,
    /// DynamoDB throttled us after the SDK's retries.
    Throttled,
    /// DynamoDB could not be reached, or timed out.
    Unavailable,
    /// Anything else; the text is for the log only.
    Unexpected(String),
}

impl<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>>
    for StoreError
{
    fn from(error: SdkError<E, R>) -> Self {
        match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => StoreError::Unavailable,
            SdkError::ServiceError(_) => match error.code() {
                Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
                Some(
                    "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded",
                ) => StoreError::Throttled,
                Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable,
                _ => StoreError::Unexpected(error_chain(&error)),
            },
            _ => StoreError::Unexpected(error_chain(&error)),
        }
    }
}

impl From<BadItem> for StoreError {
    fn from(error: BadItem) -> Self {
        StoreError::Unexpected(format!("unreadable item: {}", error.0))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<StoreError> for ApiError {
    /// A failed condition means different things to different routes, which map it
    /// themselves; reaching here it is unexpected.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled => ApiError::Throttled,
            StoreError::Unavailable => ApiError::Unavailable,
            StoreError::ConditionFailed => {
                tracing::error!("unexpected conditional check failure");
                ApiError::Internal
            }
            StoreError::Unexpected(reason) => {
                tracing::error!(%reason, "dynamodb call failed");
                ApiError::Internal
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    /// Writes a new job; never overwrites an existing item.
    pub async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::from_job(job)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    /// The job `job_id` of `organization_id`, if it exists (strongly consistent).
    pub async fn get_job(
        &self,
        organization_id: &str,
        job_id: &str,
    ) -> Result<Option<Job>, StoreError> {
        let (pk, sk) = job_key(organization_id, job_id);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item.as_ref().map(item::to_job).transpose()?)
    }
}
