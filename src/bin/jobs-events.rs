//! The `jobs-events` Lambda entry point: settings, the EventBridge client and the
//! [`Handler`], built once per container; then every stream batch goes to
//! [`Handler::handle`].

use std::sync::Arc;

use jobs_api::events::publish::{self, Publisher, Retry};
use jobs_api::events::{Handler, Settings, StreamBatch};
use jobs_api::telemetry::logging;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let settings = Settings::from_env().inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let client = publish::connect().await.inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let publisher = Publisher::new(client, settings.bus, Retry::default());
    let handler = Arc::new(Handler::new(publisher, settings.source));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamBatch>| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
