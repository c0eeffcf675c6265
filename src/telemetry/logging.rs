//! Structured JSON logs on stdout, which Lambda ships to CloudWatch. With the
//! template's `LoggingConfig` (`LogFormat: JSON`), Lambda's own platform lines and ours
//! form one JSON stream; ours carry `level` and an RFC 3339 `timestamp`, which Lambda
//! reads for its log-level filtering.
//!
//! The level is the template's application log level (`AWS_LAMBDA_LOG_LEVEL`, which
//! Lambda sets from `LoggingConfig`), else `RUST_LOG` (local runs), else `info`. Every
//! line inside an invocation carries the runtime's span: `span.requestId` and
//! `span.xrayTraceId`. The request line, with the metrics, is written by
//! [`crate::telemetry::metrics`].

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level(crate::config::log_levels()))
        .init();
}

/// The first readable of `settings`. Lambda names its levels as the runtimes do
/// (`TRACE` … `FATAL`); `FATAL` has no `tracing` level, `ERROR` is the nearest.
fn level(mut settings: impl Iterator<Item = String>) -> LevelFilter {
    settings
        .find_map(|value| match value.trim().to_ascii_uppercase().as_str() {
            "FATAL" => Some(LevelFilter::ERROR),
            other => other.parse().ok(),
        })
        .unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `config::log_levels` reads them: Lambda's first, then `RUST_LOG`.
    fn level_of(vars: &[(&str, &str)]) -> LevelFilter {
        let get = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, v)| v.to_string())
        };
        level(
            crate::config::LOG_LEVEL_SETTINGS
                .into_iter()
                .filter_map(get),
        )
    }

    #[test]
    fn lambdas_level_comes_first_then_rust_log_then_info() {
        assert_eq!(level_of(&[]), LevelFilter::INFO);
        assert_eq!(level_of(&[("RUST_LOG", "debug")]), LevelFilter::DEBUG);
        let both = [("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")];
        assert_eq!(level_of(&both), LevelFilter::WARN);
        assert_eq!(
            level_of(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]),
            LevelFilter::ERROR
        );
        let unreadable = [("AWS_LAMBDA_LOG_LEVEL", "loud"), ("RUST_LOG", "trace")];
        assert_eq!(level_of(&unreadable), LevelFilter::TRACE);
    }
}
