//! When to try a call again, and how long to wait: pure functions, no I/O.

use std::time::Duration;

/// Retries of one logical call: at most `max_attempts` sends, none started after
/// `max_elapsed`. Waits are "full jitter" exponential back-off (a random time up to
/// `base × 2^n`, capped), or the server's `Retry-After` when it asks for longer.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_elapsed: Duration,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1` (`attempt` ≥ 1 sends done), or `None` when
    /// the policy allows no more. `unit` is a random number in `[0, 1)`.
    pub fn delay(
        &self,
        attempt: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.max_delay);
        let jittered = ceiling.mul_f64(unit.clamp(0.0, 1.0));
        // The server's Retry-After is a floor (jitter on top keeps many clients apart);
        // it is never cut to the policy's cap, but it may end the retries.
        let wait = match retry_after {
            Some(asked) => asked + jittered.min(asked / 4),
            None => jittered,
        };
        (elapsed + wait <= self.max_elapsed).then_some(wait)
    }
}

/// Statuses worth another attempt: the service is throttled or briefly unavailable.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// `Retry-After` in its delay-seconds form (the API sends no dates).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_grows_with_jitter_under_its_cap() {
        let policy = RetryPolicy::default();
        let at = |attempt, unit| policy.delay(attempt, Duration::ZERO, None, unit).unwrap();
        assert_eq!(at(1, 0.0), Duration::ZERO);
        assert_eq!(at(1, 0.5), Duration::from_millis(100));
        assert_eq!(at(2, 0.5), Duration::from_millis(200));
        assert_eq!(
            at(3, 0.999_999),
            Duration::from_millis(800).mul_f64(0.999_999)
        );
        assert!(at(5, 0.999_999) <= policy.max_delay);
    }

    #[test]
    fn retry_after_is_a_floor_with_a_little_jitter() {
        let policy = RetryPolicy::default();
        let wait = policy
            .delay(1, Duration::ZERO, Some(Duration::from_secs(1)), 0.999)
            .unwrap();
        assert!(wait >= Duration::from_secs(1) && wait < Duration::from_millis(1200));
        let wait = policy
            .delay(1, Duration::ZERO, Some(Duration::from_secs(1)), 0.0)
            .unwrap();
        assert_eq!(wait, Duration::from_secs(1));
    }

    #[test]
    fn retries_stop_at_the_count_or_the_time() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(6, Duration::ZERO, None, 0.1).is_none());
        assert!(policy.delay(5, Duration::ZERO, None, 0.1).is_some());
        assert!(
            policy
                .delay(
                    1,
                    Duration::from_secs(59),
                    Some(Duration::from_secs(5)),
                    0.0
                )
                .is_none()
        );
        assert!(
            RetryPolicy::none()
                .delay(1, Duration::ZERO, None, 0.0)
                .is_none()
        );
    }

    #[test]
    fn which_statuses_and_headers_count() {
        for status in [429, 503, 502, 504] {
            assert!(retryable_status(status));
        }
        for status in [400, 401, 404, 409, 422, 500] {
            assert!(!retryable_status(status));
        }
        assert_eq!(parse_retry_after(" 5 "), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
