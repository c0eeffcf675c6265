//! [`App`]: the whole function behind one call, [`App::handle`], which turns any
//! request into a response (never an error, never a panic that escapes) and logs one
//! line for it.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::auth::Authenticator;
use crate::config::Config;
use crate::error::ApiError;
use crate::origin;
use crate::router::{self, Route};
use crate::routes;
use crate::store::Store;

pub struct App {
    config: Config,
    store: Store,
    authenticator: Authenticator,
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        let store = Store::new(client, config.table_name.clone());
        let authenticator = Authenticator::new(config.auth.clone());
        App {
            config,
            store,
            authenticator,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles `request` on its own task, so that a panic anywhere below becomes a JSON
    /// `500` instead of an empty gateway error.
    pub async fn handle_isolated(self: Arc<Self>, request: Request) -> Response<Body> {
        // Boxed: the task then holds a pointer, not the request's whole future (kilobytes
        // that tokio would otherwise copy in and out of the task).
        match tokio::spawn(Box::pin(async move { self.handle(request).await })).await {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(%error, "request handler panicked");
                ApiError::Internal.into_response()
            }
        }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let mut log = RequestLog::default();
        let origins = &self.config.allowed_origins;
        let mut response = match origin::preflight(&request, origins) {
            Some(preflight) => preflight,
            None => match self.dispatch(&request, &mut log).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            },
        };
        origin::allow_reading(&mut response, &request, origins);
        log.write(&request, response.status(), started);
        response
    }

    async fn dispatch(
        &self,
        request: &Request,
        log: &mut RequestLog,
    ) -> Result<Response<Body>, ApiError> {
        let route = router::route(request)?;
        log.route = Some(route.clone());
        log.job_id = route.job_id().map(str::to_owned);
        let (caller, credential) = self.authenticator.authenticate(request).await?;
        log.organization_id = Some(caller.organization_id.clone());
        if route.is_write() {
            origin::refuse_cross_site_write(request, credential, &self.config.allowed_origins)?;
        }
        let caller = &caller;
        match route {
            Route::CreateJob => routes::create_job::handle(self, request, caller, log).await,
            Route::ListJobs => routes::list_jobs::handle(self, request, caller).await,
            Route::GetJob(id) => routes::get_job::handle(self, caller, &id).await,
            Route::GetJobStatus(id) => routes::get_job_status::handle(self, caller, &id).await,
            Route::ReportProgress(id) => {
                routes::report_progress::handle(self, request, caller, &id).await
            }
            Route::CancelJob(id) => routes::cancel_job::handle(self, request, caller, &id).await,
            Route::ListIssues(id, kind) => {
                routes::list_issues::handle(self, request, caller, &id, kind).await
            }
        }
    }
}

/// What the one log line of a request says, filled in as the request goes. It holds no
/// token, header or body.
#[derive(Default)]
pub struct RequestLog {
    pub route: Option<Route>,
    pub organization_id: Option<String>,
    pub job_id: Option<String>,
}

impl RequestLog {
    fn write(&self, request: &Request, status: StatusCode, started: Instant) {
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.as_str());
        tracing::info!(
            request_id,
            method = %request.method(),
            route = self.route.as_ref().map_or("unmatched", Route::name),
            status = status.as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            organization_id = self.organization_id.as_deref(),
            job_id = self.job_id.as_deref(),
            "request"
        );
    }
}
