//! # Jobs API
//!
//! An AWS Lambda function behind API Gateway that creates and tracks batch jobs
//! (enrichment, crawl, import, export…) in DynamoDB. The contract is the README and
//! `openapi.yaml`; the README also says how to run, test and deploy it.
//!
//! ## Layout
//!
//! - `main.rs`: the Lambda entry point. It only wires [`Config`], the DynamoDB client and
//!   [`App`], once per container.
//! - [`app`]: one request in, one response out: route, authenticate, call the route,
//!   turn any [`ApiError`] into its response, log one line.
//! - [`router`]: method and path to a [`router::Route`]; `404` and `405` are decided here.
//! - [`auth`]: the [`auth::Caller`] (organization, user, permissions), from the API Gateway
//!   authorizer's claims or from a token the function checks itself (a JWT against a key
//!   or the provider's JWKS, an opaque session by introspection).
//! - [`origin`]: browser callers: CORS, and the refusal of writes another site forged
//!   with the caller's cookie (only allowed origins and the page's own host may send one).
//! - [`routes`]: one file per endpoint, holding that endpoint's parsing and rules;
//!   [`routes::page`] serves the jobs page (`GET /`, `GET /app/{file}`: the files in
//!   `src/page/`, embedded with `include_str!`, under a strict Content-Security-Policy),
//!   before authentication: it holds no caller data.
//! - [`body`], [`query`] and [`validation`]: the JSON body (content type, size, parsing),
//!   the query string, and FastAPI-shaped field errors; [`cursor`]: opaque page positions;
//!   [`decimal`]: JSON numbers read exactly, DynamoDB's limits and their canonical text.
//! - [`job`]: the job's rules (statuses, computed fields, the `JobResponse`, how a
//!   progress report or a cancel changes a job, heartbeat and overall deadlines) as
//!   plain functions that need no AWS.
//! - [`store`]: the DynamoDB table: key design (a partition per job, sharded index
//!   keys), the item mapping, conditional writes, transactions, paged queries that merge
//!   the shards, a history query's answer read from its bytes in the SDK's place
//!   (`store::history_answer`, the hot path of a full report), and the copy from the
//!   first key layout (`store::migrate`, run by the `jobs-migrate` binary).
//! - [`sweep`]: the sweep that writes the ending of every job whose heartbeat or overall
//!   deadline passed, run every minute by the `jobs-sweep` binary (thin: config, client,
//!   schedule); the deadline rules are `job::deadline`, its index `store::keys`.
//! - [`idempotency`]: `Idempotency-Key` rules (fingerprint, replay, in flight); the
//!   records are claimed and completed by the store, in the job write's transaction.
//! - [`prefer`]: `Prefer` (RFC 7240): which form of the job a report or cancel answers.
//! - [`error`]: [`ApiError`], the one place where an error becomes an HTTP status and body.
//! - [`metrics`] and [`logging`]: each request's one JSON log line, which carries its
//!   CloudWatch metrics (EMF; the store and routes note throttles, conflicts, replays,
//!   jobs created and ended), and the other log lines at Lambda's level, each with the
//!   invocation's request and X-Ray trace ids.
//! - [`job_events`]: the `jobs-events` function (`bin/jobs-events.rs`): the table's
//!   DynamoDB stream → one `Job Status Changed` event per status transition → an
//!   EventBridge bus. Stream record → transition ([`job_events::record`]) → event
//!   ([`job_events::detail`]) are plain functions; `PutEvents` is in
//!   [`job_events::publish`].
//!
//! The client side is not part of this crate: `crates/model` (the wire types), `crates/client`
//! (the typed client) and `crates/cli` (the `jobs` command line), members of this crate's
//! workspace (README, "Command line and client").
//!
//! ## The path of a request
//!
//! `main` → [`App::handle`] (→ [`origin::preflight`]) → [`router::route`] (→ the page's
//! files, no token needed) →
//! [`auth::Authenticator::authenticate`] → [`origin::refuse_cross_site_write`] →
//! `routes::<endpoint>::handle` (→ [`body`] → [`validation`] → [`job`] → [`store`]) →
//! response (or [`ApiError::into_response`]; `Cache-Control: no-store` on every API
//! answer) → one JSON log line with the request's metrics.

pub mod auth;
pub mod config;
pub mod events;
pub mod http;
pub mod job;
pub mod routes;
pub mod store;
pub mod sweep;
pub mod telemetry;

pub use config::Config;
pub use http::error::ApiError;
pub use routes::app::App;
