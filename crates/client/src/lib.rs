//! A typed async client of the Jobs API that always does the right thing:
//!
//! - every write (create, report, cancel) carries an `Idempotency-Key` made once per
//!   logical call and reused by each of its retries, so a retried report is counted once;
//! - `429`, `502`–`504` and connection failures are retried with jittered exponential
//!   back-off, honouring `Retry-After`, bounded in attempts and time ([`RetryPolicy`]);
//! - errors are typed ([`Error`]): a `422` comes back field by field;
//! - reports and cancels send `Prefer: return=minimal` (the light `/status` body);
//! - lists and histories are streams over every page; [`Client::watch`] yields a job's
//!   snapshots until it ends.
//!
//! ```no_run
//! # async fn worker() -> Result<(), jobs_client::Error> {
//! use jobs_client::{Client, CreateJobRequest, ProgressReport};
//! let client = Client::from_env()?; // JOBS_API_URL, JOBS_TOKEN, JOBS_ORGANIZATION
//! let job = client.create(&CreateJobRequest::new("import", 100)).await?;
//! client.report(&job.job_id, &ProgressReport { mark_started: Some(true), ..Default::default() }).await?;
//! client.report(&job.job_id, &ProgressReport { processed_items_increment: Some(100), ..Default::default() }).await?;
//! client.report(&job.job_id, &ProgressReport { mark_completed: Some(true), ..Default::default() }).await?;
//! # Ok(()) }
//! ```

mod error;
mod retry;
mod watch;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::Stream;
use futures_util::stream;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

pub use error::Error;
pub use jobs_model::*;
pub use retry::RetryPolicy;
pub use watch::WatchOptions;

/// A job in full, as the client reads it: the model's, owned (these names shadow the
/// model's borrowing ones, which only the server fills).
pub type JobResponse = jobs_model::JobResponse<'static>;
/// A job's light status, owned.
pub type JobStatusResponse = jobs_model::JobStatusResponse<'static>;
/// A `Job Status Changed` event's `detail`, owned (for a consumer of the events).
pub type JobStatusChanged = jobs_model::JobStatusChanged<'static>;

/// The environment [`Client::from_env`] reads.
pub const ENV_URL: &str = "JOBS_API_URL";
pub const ENV_TOKEN: &str = "JOBS_TOKEN";
pub const ENV_ORGANIZATION: &str = "JOBS_ORGANIZATION";

/// Filters of `GET /api/jobs/` (all optional; timestamps RFC 3339).
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub triggered_by: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    /// Page size, 1–100 (the server's default 20).
    pub limit: Option<u32>,
}

/// Which history of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueKind {
    Errors,
    Warnings,
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    organization: Option<String>,
    retry: RetryPolicy,
}

/// Builds a [`Client`]; [`Client::builder`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    base: String,
    token: Option<String>,
    organization: Option<String>,
    retry: RetryPolicy,
    attempt_timeout: Duration,
}

impl ClientBuilder {
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sent as `X-Organization-ID` (needed when the token names several).
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long one attempt may take, connection included (default 15 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let mut base = Url::parse(self.base.trim())
            .map_err(|e| Error::Config(format!("invalid API URL {:?}: {e}", self.base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "invalid API URL {:?}: expected http(s)://host[:port][/prefix]",
                self.base
            )));
        }
        // A deployed API may sit under a stage prefix: keep it, and end it with a slash
        // so that joining `api/jobs/...` appends instead of replacing its last segment.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(self.attempt_timeout))
            .timeout(self.attempt_timeout)
            .user_agent(concat!("jobs-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            token: self.token.filter(|t| !t.is_empty()),
            organization: self.organization.filter(|o| !o.is_empty()),
            retry: self.retry,
        })
    }
}

/// One HTTP answer, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Client {
    /// `base_url`: where `/api/jobs` lives, e.g. `http://127.0.0.1:9000` or a deployed
    /// API's `ApiUrl`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base_url.into(),
            token: None,
            organization: None,
            retry: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(15),
        }
    }

    /// From `JOBS_API_URL` (required), `JOBS_TOKEN` and `JOBS_ORGANIZATION`.
    pub fn from_env() -> Result<Client, Error> {
        let url = std::env::var(ENV_URL)
            .map_err(|_| Error::Config(format!("{ENV_URL} is not set (the API's base URL)")))?;
        let mut builder = Client::builder(url);
        if let Ok(token) = std::env::var(ENV_TOKEN) {
            builder = builder.token(token);
        }
        if let Ok(org) = std::env::var(ENV_ORGANIZATION) {
            builder = builder.organization(org);
        }
        builder.build()
    }

    /// `POST /api/jobs/` under a fresh `Idempotency-Key`.
    pub async fn create(&self, request: &CreateJobRequest) -> Result<JobResponse, Error> {
        self.create_with_key(request, &new_key()).await
    }

    /// `POST /api/jobs/` under the caller's own `Idempotency-Key`: the same key and body
    /// within 24 hours answer the job created the first time (create-or-attach).
    pub async fn create_with_key(
        &self,
        request: &CreateJobRequest,
        key: &str,
    ) -> Result<JobResponse, Error> {
        let body = to_body(request)?;
        self.call(
            Method::POST,
            &["api", "jobs", ""],
            &[],
            Some(body),
            Some(key),
            false,
        )
        .await
    }

    /// `GET /api/jobs/{id}`: the job in full (with its 20 latest errors and warnings).
    pub async fn get(&self, job_id: &str) -> Result<JobResponse, Error> {
        self.call(
            Method::GET,
            &["api", "jobs", job_id],
            &[],
            None,
            None,
            false,
        )
        .await
    }

    /// `GET /api/jobs/{id}/status`: the light poll.
    pub async fn status(&self, job_id: &str) -> Result<JobStatusResponse, Error> {
        self.call(
            Method::GET,
            &["api", "jobs", job_id, "status"],
            &[],
            None,
            None,
            false,
        )
        .await
    }

    /// `POST /api/jobs/{id}/progress` with `Prefer: return=minimal`, under a fresh
    /// `Idempotency-Key` kept for its retries. [`ProgressReport::default()`] is a heartbeat.
    ///
    /// After [`Error::Unavailable`] the report may still have been applied (its answer
    /// lost): to try again later, send the same report with [`Client::report_with_key`]
    /// under the same key, never its counts in a new report.
    pub async fn report(
        &self,
        job_id: &str,
        report: &ProgressReport,
    ) -> Result<JobStatusResponse, Error> {
        self.report_with_key(job_id, report, &new_key()).await
    }

    /// [`Client::report`] under the caller's own `Idempotency-Key`: the same key and report
    /// within 24 hours are applied once, however often they are sent.
    pub async fn report_with_key(
        &self,
        job_id: &str,
        report: &ProgressReport,
        key: &str,
    ) -> Result<JobStatusResponse, Error> {
        let body = to_body(report)?;
        self.call(
            Method::POST,
            &["api", "jobs", job_id, "progress"],
            &[],
            Some(body),
            Some(key),
            true,
        )
        .await
    }

    /// `POST /api/jobs/{id}/cancel` with `Prefer: return=minimal`.
    pub async fn cancel(&self, job_id: &str) -> Result<JobStatusResponse, Error> {
        self.call(
            Method::POST,
            &["api", "jobs", job_id, "cancel"],
            &[],
            None,
            Some(&new_key()),
            true,
        )
        .await
    }

    /// One page of `GET /api/jobs/`, from `cursor` (`None`: the first).
    pub async fn list_page(
        &self,
        filter: &ListFilter,
        cursor: Option<&str>,
    ) -> Result<Page<JobResponse>, Error> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(status) = filter.status {
            query.push(("status", status.as_str().to_owned()));
        }
        let texts = [
            ("job_type", &filter.job_type),
            ("triggered_by", &filter.triggered_by),
            ("created_after", &filter.created_after),
            ("created_before", &filter.created_before),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                query.push((name, value.clone()));
            }
        }
        if let Some(limit) = filter.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        self.call(Method::GET, &["api", "jobs", ""], &query, None, None, false)
            .await
    }

    /// Every job the filter matches, newest first, page after page.
    pub fn list(&self, filter: ListFilter) -> impl Stream<Item = Result<JobResponse, Error>> + '_ {
        self.paged(move |client, cursor| {
            let filter = filter.clone();
            async move { client.list_page(&filter, cursor.as_deref()).await }
        })
    }

    /// One page of a job's errors or warnings, oldest first.
    pub async fn issues_page(
        &self,
        job_id: &str,
        kind: IssueKind,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<JobIssue>, Error> {
        let leaf = match kind {
            IssueKind::Errors => "errors",
            IssueKind::Warnings => "warnings",
        };
        let mut query = vec![("limit", limit.to_string())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        self.call(
            Method::GET,
            &["api", "jobs", job_id, leaf],
            &query,
            None,
            None,
            false,
        )
        .await
    }

    /// A job's whole error or warning history, oldest first, page after page
    /// (`page_size` 1–100 entries a request).
    pub fn issues<'a>(
        &'a self,
        job_id: &'a str,
        kind: IssueKind,
        page_size: u32,
    ) -> impl Stream<Item = Result<JobIssue, Error>> + 'a {
        self.paged(move |client, cursor| async move {
            client
                .issues_page(job_id, kind, page_size, cursor.as_deref())
                .await
        })
    }

    /// The job's `/status` each time it changes, the first one at once, until it has
    /// ended (the last item). Polls with back-off: see [`WatchOptions`].
    pub fn watch<'a>(
        &'a self,
        job_id: &'a str,
        options: WatchOptions,
    ) -> impl Stream<Item = Result<JobStatusResponse, Error>> + 'a {
        watch::watch(self, job_id, options)
    }

    fn paged<'a, T, F, Fut>(&'a self, fetch: F) -> impl Stream<Item = Result<T, Error>> + 'a
    where
        T: 'a,
        F: Fn(&'a Client, Option<String>) -> Fut + 'a,
        Fut: Future<Output = Result<Page<T>, Error>> + 'a,
    {
        // State: items of the current page not yet yielded, and the next cursor
        // (`Some(None)` before the first page, `None` after the last).
        let start: (VecDeque<T>, Option<Option<String>>) = (VecDeque::new(), Some(None));
        stream::unfold(
            (start, fetch),
            move |((mut buffer, mut next), fetch)| async move {
                loop {
                    if let Some(item) = buffer.pop_front() {
                        return Some((Ok(item), ((buffer, next), fetch)));
                    }
                    let cursor = next.take()?;
                    match fetch(self, cursor).await {
                        Ok(page) => {
                            buffer.extend(page.items);
                            next = page.next_cursor.map(Some);
                        }
                        // An error ends the stream (next is None now).
                        Err(err) => return Some((Err(err), ((buffer, None), fetch))),
                    }
                }
            },
        )
    }

    /// One logical call: sent, and sent again under the same idempotency key while the
    /// policy allows, then read into `T` or a typed error.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
        minimal: bool,
    ) -> Result<T, Error> {
        let url = self.url(segments, query)?;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), url.clone());
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            if let Some(org) = &self.organization {
                request = request.header("X-Organization-ID", org);
            }
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if minimal {
                request = request.header("Prefer", "return=minimal");
            }
            if let Some(body) = &body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            let (outcome, retry_after) = match send(request).await {
                Ok(answer) => {
                    let retry_after = answer
                        .headers
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(retry::parse_retry_after);
                    // A key sent before — by an earlier attempt, or by an earlier call
                    // with the caller's own key (`report_with_key`) — may still be
                    // running on the server: waiting is the answer, not a conflict.
                    let in_flight =
                        idempotency_key.is_some() && answer.status == 409 && in_flight(&answer);
                    if retry::retryable_status(answer.status) || in_flight {
                        (Err(answer), retry_after)
                    } else {
                        return read(answer);
                    }
                }
                Err(transport) => (Ok(transport), None),
            };
            let unit = fastrand::f64();
            match self
                .retry
                .delay(attempt, started.elapsed(), retry_after, unit)
            {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    return Err(match outcome {
                        // Still in flight: nothing is known to have failed; try later.
                        Err(answer) if answer.status == 409 => Error::Unavailable(
                            "the request with this Idempotency-Key is still in progress".into(),
                        ),
                        Err(answer) => read::<T>(answer)
                            .err()
                            .unwrap_or_else(|| Error::Protocol("retry of a success".into())),
                        Ok(transport) => Error::Unavailable(format!(
                            "{transport} (after {attempt} attempt{})",
                            if attempt == 1 { "" } else { "s" }
                        )),
                    });
                }
            }
        }
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, Error> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Config("the API URL cannot take a path".into()))?;
            path.pop_if_empty();
            for segment in segments {
                // An id is one segment whatever it holds (`/` and `?` are escaped).
                path.push(segment);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }
}

/// A fresh `Idempotency-Key` (a UUIDv7: unique, and sortable in the server's records).
pub fn new_key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn to_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Config(format!("cannot encode the request: {e}")))
}

/// Sends one attempt and reads its answer whole; `Err` is a transport failure (no
/// answer, or an answer cut short), always worth a retry under the same key.
async fn send(request: reqwest::RequestBuilder) -> Result<Answer, String> {
    let response = request.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(describe)?.to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn describe(err: reqwest::Error) -> String {
    // reqwest's Display names only the outermost layer; the cause says what happened.
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn in_flight(answer: &Answer) -> bool {
    serde_json::from_slice::<ErrorDetail>(&answer.body)
        .map(|e| e.detail.contains("still in progress"))
        .unwrap_or(false)
}

fn read<T: DeserializeOwned>(answer: Answer) -> Result<T, Error> {
    if (200..300).contains(&answer.status) {
        return serde_json::from_slice(&answer.body)
            .map_err(|e| Error::Protocol(format!("{e} in a {} answer", answer.status)));
    }
    if answer.status == 422
        && let Ok(errors) = serde_json::from_slice::<ValidationErrors>(&answer.body)
    {
        return Err(Error::Validation(errors.detail));
    }
    let detail = serde_json::from_slice::<ErrorDetail>(&answer.body)
        .map(|e| e.detail)
        .unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&answer.body);
            let text: String = text.chars().take(200).collect();
            if text.trim().is_empty() {
                content_hint(&answer.headers)
            } else {
                text
            }
        });
    Err(match answer.status {
        401 => Error::Unauthorized(detail),
        403 => Error::Forbidden(detail),
        404 => Error::NotFound(detail),
        409 => Error::Conflict(detail),
        429 | 502 | 503 | 504 => Error::Unavailable(format!("{} {detail}", answer.status)),
        status => Error::Rejected { status, detail },
    })
}

fn content_hint(headers: &HeaderMap) -> String {
    let kind = headers
        .get("content-type")
        .unwrap_or(&HeaderValue::from_static("none"))
        .to_str()
        .unwrap_or("?")
        .to_owned();
    format!("an empty answer (content type {kind})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::builder(base).build().unwrap()
    }

    #[test]
    fn urls_keep_a_stage_prefix_and_escape_ids() {
        let c = client("https://api.example.com/prod");
        let url = c.url(&["api", "jobs", "a/b?c", "status"], &[]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/prod/api/jobs/a%2Fb%3Fc/status"
        );
        let c = client("http://127.0.0.1:9000");
        let url = c
            .url(
                &["api", "jobs", ""],
                &[("status", "failed".into()), ("cursor", "a+b=".into())],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/api/jobs/?status=failed&cursor=a%2Bb%3D"
        );
    }

    #[test]
    fn an_unusable_base_url_is_a_config_error() {
        for base in ["", "ftp://x", "127.0.0.1:9000", "mailto:a@b"] {
            assert!(
                matches!(Client::builder(base).build(), Err(Error::Config(_))),
                "{base}"
            );
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_become_typed_errors() {
        let err = read::<JobResponse>(answer(
            422,
            r#"{"detail":[{"type":"missing","loc":["body","job_type"],"msg":"Field required","input":{}}]}"#,
        ))
        .unwrap_err();
        match &err {
            Error::Validation(entries) => assert_eq!(entries[0].field(), "job_type"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "invalid request\n  job_type: Field required"
        );
        let cases = [
            (401, "Not authenticated"),
            (403, "nope"),
            (404, "Job not found"),
            (409, "ended"),
            (503, "down"),
            (413, "big"),
        ];
        for (status, detail) in cases {
            let err = read::<JobResponse>(answer(status, &format!(r#"{{"detail":"{detail}"}}"#)))
                .unwrap_err();
            assert!(err.to_string().contains(detail), "{err}");
            let expected = match status {
                401 => matches!(err, Error::Unauthorized(_)),
                403 => matches!(err, Error::Forbidden(_)),
                404 => matches!(err, Error::NotFound(_)),
                409 => matches!(err, Error::Conflict(_)),
                503 => matches!(err, Error::Unavailable(_)),
                _ => matches!(err, Error::Rejected { status: 413, .. }),
            };
            assert!(expected, "{status}: {err:?}");
        }
        let err = read::<JobResponse>(answer(502, "<html>bad gateway</html>")).unwrap_err();
        assert!(err.to_string().contains("bad gateway"), "{err}");
        let err = read::<JobResponse>(answer(200, "{}")).unwrap_err();
        assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    }

    #[test]
    fn only_a_retry_waits_for_a_key_in_flight() {
        let busy = answer(
            409,
            r#"{"detail":"A request with this Idempotency-Key is still in progress"}"#,
        );
        assert!(in_flight(&busy));
        assert!(!in_flight(&answer(
            409,
            r#"{"detail":"Job has already ended"}"#
        )));
    }
}
