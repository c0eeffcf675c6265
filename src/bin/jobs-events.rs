//! The `jobs-events` Lambda entry point: config, the EventBridge client and the
//! [`Handler`], built once per container; then every stream batch goes to
//! [`Handler::handle`].

use std::sync::Arc;

use jobs_api::config::{AwsConfig, EventsConfig};
use jobs_api::events::publish::{self, Publisher, Retry};
use jobs_api::events::{Handler, StreamBatch};
use jobs_api::telemetry::logging;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = EventsConfig::from_env().inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let client = publish::connect(&AwsConfig::from_env())
        .await
        .inspect_err(|error| {
            tracing::error!(%error, "invalid configuration");
        })?;
    let publisher = Publisher::new(client, config.bus, Retry::default());
    let handler = Arc::new(Handler::new(publisher, config.source));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamBatch>| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
