//! The Lambda entry point: configuration, the DynamoDB client and the [`App`], built
//! once per container; then every event goes to [`App::handle_isolated`].

use std::convert::Infallible;
use std::sync::Arc;

use jobs_api::config::AwsConfig;
use jobs_api::telemetry::logging;
use jobs_api::{App, Config, store};
use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env().inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let client = store::connect(&AwsConfig::from_env())
        .await
        .inspect_err(|error| {
            tracing::error!(%error, "invalid configuration");
        })?;
    let app = Arc::new(App::new(config, client));
    lambda_http::run(service_fn(move |request: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(app.handle_isolated(request).await) }
    }))
    .await
}
