//! [`App`]: the whole function behind one call, [`App::handle`], which turns any
//! request into a response (never an error, never a panic that escapes) and logs one
//! line for it.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use super::router::{self, Route};
use super::{
    cancel_job, create_job, get_job, get_job_status, list_issues, list_jobs, page, report_progress,
};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::http::error::ApiError;
use crate::http::origin;
use crate::job::time::Timestamp;
use crate::store::Store;
use crate::telemetry::metrics::{self, Tally};

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
    /// `500` instead of an empty gateway error. The task keeps the runtime's invocation
    /// span, so every log line below carries its request id and X-Ray trace id.
    pub async fn handle_isolated(self: Arc<Self>, request: Request) -> Response<Body> {
        // Boxed: the task then holds a pointer, not the request's whole future (kilobytes
        // that tokio would otherwise copy in and out of the task).
        let work = Box::pin(async move { self.handle(request).await }).in_current_span();
        match tokio::spawn(work).await {
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
        let (mut response, tally) = Tally::scope(async {
            match origin::preflight(&request, origins) {
                Some(preflight) => preflight,
                None => match self.dispatch(&request, &mut log).await {
                    Ok(response) => response,
                    Err(error) => error.into_response(),
                },
            }
        })
        .await;
        origin::allow_reading(&mut response, &request, origins);
        harden_api_answer(&mut response);
        log.write(&request, response.status(), started, &tally);
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
        // The page holds no caller data: it is served to anyone, before authentication.
        if let Route::Page(asset) = route {
            return Ok(page::serve(asset));
        }
        let (caller, credential) = self.authenticator.authenticate(request).await?;
        log.organization_id = Some(caller.organization_id.clone());
        if route.is_write() {
            origin::refuse_cross_site_write(request, credential, &self.config.allowed_origins)?;
        }
        let (store, config, caller) = (&self.store, &self.config, &caller);
        match route {
            Route::CreateJob => {
                create_job::handle(store, config, request, caller, &mut log.job_id).await
            }
            Route::ListJobs => list_jobs::handle(store, request, caller).await,
            Route::GetJob(id) => get_job::handle(store, caller, &id).await,
            Route::GetJobStatus(id) => get_job_status::handle(store, caller, &id).await,
            Route::ReportProgress(id) => {
                report_progress::handle(store, config, request, caller, &id).await
            }
            Route::CancelJob(id) => cancel_job::handle(store, request, caller, &id).await,
            Route::ListIssues(id, kind) => {
                list_issues::handle(store, request, caller, &id, kind).await
            }
            Route::Page(asset) => Ok(page::serve(asset)),
        }
    }
}

/// Every API answer is one caller's data (or about their request): no cache may keep
/// it, shared or not. And it is JSON, never a document: a browser must not sniff it into
/// one, nor run or frame anything in it, were it opened on the page's origin (whose
/// pages may write with the session cookie). The page's files say otherwise for
/// themselves.
fn harden_api_answer(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    let fixed = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ];
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// What the one log line of a request says, filled in as the request goes. It holds no
/// token, header or body. The line also carries the request's metrics
/// ([`metrics::request_line`]).
#[derive(Default)]
pub struct RequestLog {
    pub route: Option<Route>,
    pub organization_id: Option<String>,
    pub job_id: Option<String>,
}

impl RequestLog {
    fn write(&self, request: &Request, status: StatusCode, started: Instant, tally: &Tally) {
        let context = request.lambda_context_ref();
        let facts = metrics::RequestFacts {
            at: Timestamp::now(),
            route: self.route.as_ref().map_or("unmatched", Route::name),
            method: request.method().as_str(),
            status: status.as_u16(),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            request_id: context.map(|context| context.request_id.as_str()),
            xray_trace_id: context.and_then(|context| context.xray_trace_id.as_deref()),
            organization_id: self.organization_id.as_deref(),
            job_id: self.job_id.as_deref(),
        };
        // Straight to stdout, not through `tracing`: EMF needs `_aws` as an object at
        // the top of the line, which a tracing field cannot be. One `write_all` of a whole
        // line is one write under stdout's lock, so lines never interleave. The buffer is
        // the thread's, reused: no allocation per request.
        LINE.with_borrow_mut(|line| {
            line.clear();
            metrics::write_request_line(line, &facts, tally);
            line.push('\n');
            // A log line that cannot be written must not fail the request it describes.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        });
    }
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(metrics::LINE_CAPACITY));
}
