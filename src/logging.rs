//! Structured JSON logs on stdout, which Lambda ships to CloudWatch. The level comes
//! from `RUST_LOG` (default `info`).

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(filter)
        .init();
}
