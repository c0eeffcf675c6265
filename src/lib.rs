//! # Jobs API
//!
//! AWS Lambda functions behind API Gateway that create and track batch jobs
//! (enrichment, crawl, import, export…) in DynamoDB. The contract is `openapi.yaml` and
//! `docs/api.md`; the README says how to run and test it.
//!
//! ## Layers
//!
//! Imports run downhill, top to bottom (`scripts/layers.py` refuses a circle):
//!
//! ```text
//! bin: main.rs (jobs-api), bin/jobs-events.rs, bin/jobs-sweep.rs   wire config, clients, handler
//! routes     the API: App::handle, the router, one file per endpoint, the idempotency wrapper
//! events     the stream consumer: stream record -> transition -> event -> EventBridge
//! sweep      ends the jobs whose deadline passed
//! http       the edge: body, query, Prefer, origin/CORS, responses, 422s, ApiError -> status
//! auth       who is calling: tokens, JWKS, introspection, claims -> Caller
//! store      every DynamoDB expression: keys, the item mapping, limits, transactions, pages
//! telemetry  the request's log line with its EMF metrics; the other log lines
//! job        the rules, pure: statuses, computed fields, updates, deadlines, decimal, time
//! config     every setting of every binary, read from the environment once
//! ```
//!
//! Beside this crate in the workspace: `crates/model`, every shape on the wire (the job,
//! its status, an issue, a list page, the event's detail), which this crate answers with;
//! `crates/client` and `crates/cli` (the `jobsctl` command line), the client side; and
//! `crates/migrate`, the one-off copy from the first key layout.
//!
//! ## The path of a request
//!
//! `main` → [`App::handle`] → [`http::origin::preflight`] → [`routes::router::route`] (the
//! page's files need no token) → [`auth::Authenticator::authenticate`] →
//! [`http::origin::refuse_cross_site_write`] → `routes::<endpoint>::handle(store, config,
//! request, caller)` (→ [`http::body`] → [`http::validation`] → [`job`] rules →
//! [`routes::idempotent::write`] for writes → [`store`]) → the answer (or
//! [`ApiError::into_response`]; `Cache-Control: no-store` on every API answer) → one JSON
//! log line with the request's metrics ([`telemetry::metrics`]).

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
