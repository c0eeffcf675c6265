//! The DynamoDB table: the client, the conditional writes and the reads. The key design
//! is in [`keys`]: every read and write names the caller's organization in the key, so
//! a job of another organization cannot be reached at all, not merely filtered out.

mod attr;
mod attr_json;
pub mod cursor;
mod deadline;
mod history_answer;
pub mod idempotency;
pub mod item;
pub mod keys;
mod list;
mod update;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, HttpClient, Region, RuntimeComponents, SharedHttpClient,
};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use crate::config::AwsConfig;
use crate::job::MAX_COUNT;
use crate::job::time::Timestamp;
use crate::job::{Job, JobUpdate};
use crate::telemetry::metrics::{self, Counter};

pub use deadline::DueEntries;
pub use idempotency::{Claim, Completion};
pub use item::{BadItem, Item, to_job};
pub use keys::IssueKind;
pub use list::{JOB_CURSOR_PREFIX, JobFilter, Page};

/// Well inside the function's 10 s timeout, retries included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
const MAX_ATTEMPTS: u32 = 3;

/// Amazon Trust Services' roots (Amazon Root CA 1-4, and Starfield Services Root G2 which
/// cross-signs them): AWS endpoints chain to these, so the ~140 system roots need not be
/// read and parsed at every cold start (that was most of the start-up time, see
/// docs/benchmarks.md).
const AMAZON_ROOTS: &[u8] = include_bytes!("amazon-roots.pem");

/// The HTTPS client, trusting only [`AMAZON_ROOTS`] (shared with the EventBridge client).
pub(crate) fn http_client() -> Result<SharedHttpClient, String> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|error| format!("the bundled Amazon root certificates: {error}"))?;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    Ok(SharedHttpClient::new(ConnectorOnFirstCall(client)))
}

/// The SDK's HTTPS client, without its start-up check. `Client::from_conf` has the client
/// validate itself, and the hyper client does that by building a TLS connector (rustls
/// config, the roots' PEM parsed) that it throws away; the first call then builds the
/// connector it keeps. Skipping the check builds it once: −0.24 M instructions a cold
/// start (docs/benchmarks.md, "Issue 21"). Nothing is lost: the throw-away build's result
/// was ignored, and the roots are checked above, by `TlsContext::build`.
#[derive(Debug)]
struct ConnectorOnFirstCall(SharedHttpClient);

impl HttpClient for ConnectorOnFirstCall {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The DynamoDB client this service uses, configured once per container.
///
/// On Lambda ([`AwsConfig::on_lambda`]) from the variables Lambda always sets, `AWS_REGION` and
/// the role's credentials, without loading `aws-config`'s whole chain: that keeps the
/// cold start as measured in docs/benchmarks.md. Anywhere else, from the standard chain
/// (`aws-config`: environment, `AWS_PROFILE` and the shared config files, SSO, web
/// identity, credential processes, container and instance roles), as every AWS tool —
/// when built with the `standard-chain` feature (the default). The deployed build leaves
/// it out (`--no-default-features`: a smaller zip); such a build takes the environment's
/// credentials and region off Lambda too. In all cases `AWS_ENDPOINT_URL_DYNAMODB` (or
/// `AWS_ENDPOINT_URL`) points it at a local DynamoDB, and the same timeouts and retries
/// apply.
pub async fn connect(aws: &AwsConfig) -> Result<Client, String> {
    #[cfg(feature = "standard-chain")]
    let config = match aws.on_lambda {
        true => from_lambda_environment(aws)?,
        false => from_standard_chain().await?,
    };
    #[cfg(not(feature = "standard-chain"))]
    let config = from_lambda_environment(aws)?;
    let mut config = config
        .http_client(http_client()?)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(url) = &aws.dynamodb_endpoint {
        config = config.endpoint_url(url);
    }
    Ok(Client::from_conf(config.build()))
}

fn from_lambda_environment(aws: &AwsConfig) -> Result<aws_sdk_dynamodb::config::Builder, String> {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(aws.required_region()?.to_owned()));
    if let Some(credentials) = static_credentials(aws) {
        config = config.credentials_provider(credentials);
    }
    Ok(config)
}

/// The credentials the environment holds, as every client of this service takes them.
pub fn static_credentials(aws: &AwsConfig) -> Option<Credentials> {
    let key = aws.credentials.as_ref()?;
    Some(Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        key.session_token.clone(),
        None,
        "environment",
    ))
}

#[cfg(feature = "standard-chain")]
async fn from_standard_chain() -> Result<aws_sdk_dynamodb::config::Builder, String> {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client()?)
        .load()
        .await;
    if shared.region().is_none() {
        return Err("no AWS region: set AWS_REGION, or a region in the AWS profile".into());
    }
    Ok(aws_sdk_dynamodb::config::Builder::from(&shared))
}

/// A UUIDv7 for `at`: ids made by this service sort by the time they name.
pub fn time_ordered_id(at: Timestamp) -> String {
    let millis = at.millis();
    let timestamp = uuid::Timestamp::from_unix(
        uuid::NoContext,
        millis / 1000,
        (millis % 1000) as u32 * 1_000_000,
    );
    uuid::Uuid::new_v7(timestamp).to_string()
}

/// How often a transaction that lost a race with another write is tried again.
const TRANSACTION_ATTEMPTS: usize = 4;

#[derive(Debug)]
pub enum StoreError {
    /// The write's condition did not hold (the item exists, or is in another state).
    ConditionFailed,
    /// DynamoDB throttled us after the SDK's retries.
    Throttled,
    /// DynamoDB could not be reached, or timed out.
    Unavailable,
    /// The item would pass DynamoDB's 400 KB limit (metadata grown too large).
    ItemTooLarge,
    /// Another write to the same job kept winning; the caller may retry.
    Contended,
    /// The request's idempotency claim was taken over (it ran past the stale limit).
    ClaimLost,
    /// A job update whose increment would take this count past [`MAX_COUNT`]: refused
    /// by the write's own condition, nothing written.
    CountLimit(&'static str),
    /// A job update whose conditions did not hold, with the job as it now is (`None`:
    /// the caller's organization has no such job), read once by the store.
    Refused(Option<Box<Job>>),
    /// Anything else; the text is for the log only.
    Unexpected(String),
}

impl<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>>
    for StoreError
{
    fn from(error: SdkError<E, R>) -> Self {
        let mapped = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => StoreError::Unavailable,
            SdkError::ServiceError(_) => match error.code() {
                Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
                Some(
                    "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded",
                ) => StoreError::Throttled,
                Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable,
                Some("ValidationException")
                    if error.message().is_some_and(is_item_size_message) =>
                {
                    StoreError::ItemTooLarge
                }
                _ => StoreError::Unexpected(error_chain(&error)),
            },
            _ => StoreError::Unexpected(error_chain(&error)),
        };
        let noted = match (&error, &mapped) {
            (_, StoreError::Throttled) => Some(Counter::DynamoDbThrottle),
            (_, StoreError::ConditionFailed) => Some(Counter::ConditionalCheckConflict),
            (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_), _) => {
                Some(Counter::DynamoDbTimeout)
            }
            _ => None,
        };
        if let Some(counter) = noted {
            metrics::count(counter);
        }
        mapped
    }
}

/// A stored job as read for a page or the sweep, or `None` when this version cannot read
/// it: logged (its key, never its content) and counted (`UnreadableItems`), so one bad
/// item never fails a page or a sweep shard for everyone else.
pub(crate) fn readable_job(item: &Item, reader: &'static str) -> Option<Job> {
    match item::to_job(item) {
        Ok(job) => Some(job),
        Err(BadItem(reason)) => {
            let key = item::optional_text(item, "pk").unwrap_or_default();
            tracing::warn!(%key, %reason, reader, "unreadable job item skipped");
            metrics::count(Counter::UnreadableItem);
            None
        }
    }
}

impl From<BadItem> for StoreError {
    fn from(error: BadItem) -> Self {
        StoreError::Unexpected(format!("unreadable item: {}", error.0))
    }
}

/// The cancellation reasons of a throttled transaction (DynamoDB's API reference,
/// `TransactWriteItems`: `ThrottlingError`, `ProvisionedThroughputExceeded`).
const THROTTLED_REASONS: [&str; 3] = [
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// DynamoDB's refusal of an item past 400 KB: "Item size has exceeded the maximum
/// allowed size" (a put), "Item size to update has exceeded…" (an update), in a
/// `ValidationException` or a transaction's `ValidationError` reason.
fn is_item_size_message(message: &str) -> bool {
    message.contains("Item size") || message.contains("item size")
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

#[cfg(test)]
#[test]
fn the_bundled_roots_load() {
    assert!(http_client().is_ok());
    assert_eq!(
        AMAZON_ROOTS
            .windows(27)
            .filter(|w| w == b"-----BEGIN CERTIFICATE-----")
            .count(),
        5
    );
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

    /// The client and the table, for the one-off key-layout migration (`crates/migrate`),
    /// which copies items as they are rather than through the job rules.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes a new job; never overwrites an existing item. With an idempotency
    /// completion, both commit in one transaction.
    pub async fn create_job(
        &self,
        job: &Job,
        completion: Option<Completion<'_>>,
    ) -> Result<(), StoreError> {
        let Some(completion) = completion else {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item::from_job(job)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await?;
            return Ok(());
        };
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::from_job(job)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let writes = vec![
            TransactWriteItem::builder().put(put).build(),
            completion.into_write(&self.table)?,
        ];
        self.transact(writes, true).await
    }

    /// The job `job_id` of `organization_id`, if it exists (strongly consistent), as it
    /// is now: ended if a deadline passed, even before the sweep wrote the ending.
    pub async fn get_job(
        &self,
        organization_id: &str,
        job_id: &str,
    ) -> Result<Option<Job>, StoreError> {
        let item = self.get_item_of(organization_id, job_id).await?;
        let job = item
            .as_ref()
            .map(item::to_job)
            .transpose()
            .inspect_err(|_| {
                metrics::count(Counter::UnreadableItem);
            })?;
        Ok(job.map(|job| job.as_of(Timestamp::now())))
    }

    async fn get_item_of(
        &self,
        organization_id: &str,
        job_id: &str,
    ) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = keys::job(organization_id, job_id);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item)
    }

    /// Applies `update` to the job if it exists and has not ended, and returns the job as
    /// it then is. `Refused` (with the job as it is) when it does not exist, has ended,
    /// or (with `update.expected`) no longer has the expected counts.
    ///
    /// Never applied twice: every write carries a fresh request token, so when a retry
    /// finds the condition failed because the first attempt landed (its answer was lost)
    /// the job says so and the write counts as done. A plain `UpdateItem` that adds is
    /// not left to the SDK's retries at all (a retry after a lost answer would add
    /// again); it is retried here only after throttling, which proves it did not land.
    /// Transactions are safe to retry: their client request token makes DynamoDB apply
    /// them once.
    pub async fn update_job(
        &self,
        organization_id: &str,
        job_id: &str,
        update: &JobUpdate,
        completion: Option<Completion<'_>>,
    ) -> Result<Job, StoreError> {
        let token = uuid::Uuid::now_v7().to_string();
        let request = update::request(organization_id, job_id, update, &token);
        let result = if update.error.is_none() && update.warning.is_none() && completion.is_none() {
            self.update_item(request, update::adds(update)).await
        } else {
            self.update_transaction(organization_id, job_id, update, request, completion)
                .await
        };
        match result {
            Ok(job) => Ok(job),
            // A retry of a write that landed fails its conditions (the job's, or the key
            // completion's): the job then carries this request's token.
            Err(failed @ (StoreError::ConditionFailed | StoreError::ClaimLost)) => {
                let item = self.get_item_of(organization_id, job_id).await?;
                let token = AttributeValue::S(token);
                let landed =
                    item.as_ref().and_then(|item| item.get("last_request")) == Some(&token);
                let job = item.as_ref().map(item::to_job).transpose()?;
                // Refused after a deadline: the job is shown ended (`409`).
                match job.map(|job| job.as_of(Timestamp::now())) {
                    Some(job) if landed => Ok(job),
                    _ if matches!(failed, StoreError::ClaimLost) => Err(failed),
                    Some(job) if !job.status.has_ended() => {
                        match update.count_past(&job, MAX_COUNT) {
                            Some(field) => Err(StoreError::CountLimit(field)),
                            None => Err(StoreError::Refused(Some(Box::new(job)))),
                        }
                    }
                    current => Err(StoreError::Refused(current.map(Box::new))),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn update_item(
        &self,
        request: update::UpdateRequest,
        adds: bool,
    ) -> Result<Job, StoreError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let mut call = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(request.key.clone()))
                .update_expression(&request.update_expression)
                .condition_expression(&request.condition_expression)
                .set_expression_attribute_names(Some(request.names.clone()))
                .set_expression_attribute_values(Some(request.values.clone()))
                .return_values(ReturnValue::AllNew)
                .customize();
            if adds {
                call = call.config_override(
                    aws_sdk_dynamodb::config::Builder::default()
                        .retry_config(RetryConfig::disabled()),
                );
            }
            match call.send().await.map_err(StoreError::from) {
                Ok(output) => return Ok(item::to_job(&output.attributes.unwrap_or_default())?),
                Err(StoreError::Throttled) if adds && attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Throttled)
    }

    async fn update_transaction(
        &self,
        organization_id: &str,
        job_id: &str,
        update: &JobUpdate,
        request: update::UpdateRequest,
        completion: Option<Completion<'_>>,
    ) -> Result<Job, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unexpected(e.to_string());
        let mut writes = vec![
            TransactWriteItem::builder()
                .update(request.into_transact_update(&self.table).map_err(build)?)
                .build(),
        ];
        for put in
            update::history_puts(&self.table, organization_id, job_id, update).map_err(build)?
        {
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        let ends_with_completion = completion.is_some();
        if let Some(completion) = completion {
            writes.push(completion.into_write(&self.table)?);
        }
        self.transact(writes, ends_with_completion).await?;
        self.get_job(organization_id, job_id)
            .await?
            .ok_or_else(|| StoreError::Unexpected("job gone after its update".into()))
    }

    /// Runs a transaction, again when it only lost a race (`TransactionConflict`): it
    /// wrote nothing then, so trying again cannot write twice. The client request token
    /// makes the SDK's own retries safe too: should an attempt time out after DynamoDB
    /// committed it, the retry with the same token succeeds without writing again.
    /// The first write is the job's: its failed condition is `ConditionFailed`; an
    /// idempotency completion's (always last) is `ClaimLost`.
    async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
        ends_with_completion: bool,
    ) -> Result<(), StoreError> {
        let completion_at = ends_with_completion.then(|| writes.len() - 1);
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let token = uuid::Uuid::now_v7().to_string();
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let (reasons, too_large): (Vec<String>, bool) = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => (
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().unwrap_or("None").to_owned())
                        .collect(),
                    cancelled.cancellation_reasons().iter().any(|reason| {
                        reason.code() == Some("ValidationError")
                            && reason.message().is_some_and(is_item_size_message)
                    }),
                ),
                _ => return Err(error.into()),
            };
            // Refusals that are no conflict: nothing was written, each has its answer.
            if too_large {
                return Err(StoreError::ItemTooLarge);
            }
            if reasons
                .iter()
                .any(|code| THROTTLED_REASONS.contains(&code.as_str()))
            {
                metrics::count(Counter::DynamoDbThrottle);
                return Err(StoreError::Throttled);
            }
            // A lost condition or race is a conflict worth graphing, retried or not.
            metrics::count(Counter::ConditionalCheckConflict);
            let failed = |index: usize| {
                reasons
                    .get(index)
                    .is_some_and(|code| code == "ConditionalCheckFailed")
            };
            if completion_at.is_some_and(failed) && !failed(0) {
                return Err(StoreError::ClaimLost);
            }
            if reasons.iter().any(|code| code == "ConditionalCheckFailed") {
                return Err(StoreError::ConditionFailed);
            }
            if !reasons.iter().any(|code| code == "TransactionConflict") {
                return Err(StoreError::Unexpected(format!(
                    "transaction cancelled: {reasons:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10 * attempt as u64)).await;
        }
        Err(StoreError::Contended)
    }
}
