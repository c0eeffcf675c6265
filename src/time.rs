//! [`Timestamp`]: a UTC instant with millisecond precision, written as RFC 3339
//! (`2026-11-28T12:00:00.123Z`) in the API and in the table alike.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    millis: u64,
}

impl Timestamp {
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self::from_millis(since_epoch.as_millis() as u64)
    }

    pub fn from_millis(millis: u64) -> Self {
        Timestamp { millis }
    }

    pub fn millis(self) -> u64 {
        self.millis
    }

    /// Parses the RFC 3339 UTC form this service writes (`Z` suffix).
    pub fn parse(text: &str) -> Option<Self> {
        let time = humantime::parse_rfc3339(text).ok()?;
        let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
        Some(Self::from_millis(since_epoch.as_millis() as u64))
    }

    /// Seconds from `earlier` to `self`, never negative (clocks of two Lambda
    /// containers may disagree by a few milliseconds).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        self.millis.saturating_sub(earlier.millis) as f64 / 1000.0
    }

    /// `seconds` later (saturating: far-future instants stay far in the future).
    pub fn plus_seconds(self, seconds: u64) -> Timestamp {
        Timestamp::from_millis(self.millis.saturating_add(seconds.saturating_mul(1000)))
    }

    /// Seconds since the epoch as an exact decimal (`1795867200.123`): the form the
    /// table's deadline numbers take, so that DynamoDB can add a timeout to it and
    /// compare it with another instant.
    pub fn epoch_seconds(self) -> String {
        format!("{}.{:03}", self.millis / 1000, self.millis % 1000)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = UNIX_EPOCH + Duration::from_millis(self.millis);
        write!(f, "{}", humantime::format_rfc3339_millis(time))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc_with_millis_and_parses_back() {
        let t = Timestamp::from_millis(1_795_867_200_123);
        assert_eq!(t.to_string(), "2026-11-28T12:00:00.123Z");
        assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
    }

    #[test]
    fn rejects_text_that_is_not_a_timestamp() {
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn epoch_seconds_are_exact_decimals_and_sort_like_instants() {
        let t = Timestamp::from_millis(1_795_867_200_023);
        assert_eq!(t.epoch_seconds(), "1795867200.023");
        assert_eq!(
            t.plus_seconds(30),
            Timestamp::from_millis(1_795_867_230_023)
        );
        assert_eq!(Timestamp::from_millis(5).epoch_seconds(), "0.005");
        assert_eq!(
            Timestamp::from_millis(u64::MAX).plus_seconds(1),
            Timestamp::from_millis(u64::MAX)
        );
    }

    #[test]
    fn seconds_since_is_never_negative() {
        let a = Timestamp::from_millis(10_000);
        let b = Timestamp::from_millis(12_500);
        assert_eq!(b.seconds_since(a), 2.5);
        assert_eq!(a.seconds_since(b), 0.0);
    }
}
