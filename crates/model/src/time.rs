//! [`Timestamp`]: a UTC instant with millisecond precision, written as RFC 3339
//! (`2026-11-28T12:00:00.123Z`) in every answer and event, and in the server's table.
//! The server keeps instants as this (not as text): an answer writes each one straight
//! into its JSON, and a client reads it back as the same instant.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

    #[inline]
    pub fn from_millis(millis: u64) -> Self {
        Timestamp { millis }
    }

    #[inline]
    pub fn millis(self) -> u64 {
        self.millis
    }

    /// Parses the RFC 3339 UTC form the API writes (`Z` suffix); finer than a
    /// millisecond is cut to the millisecond.
    pub fn parse(text: &str) -> Option<Self> {
        let time = humantime::parse_rfc3339(text).ok()?;
        let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
        Some(Self::from_millis(since_epoch.as_millis() as u64))
    }

    /// Seconds from `earlier` to `self`, never negative (clocks of two Lambda
    /// containers may disagree by a few milliseconds).
    #[inline]
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        self.millis.saturating_sub(earlier.millis) as f64 / 1000.0
    }

    /// `seconds` later (saturating: far-future instants stay far in the future).
    #[inline]
    pub fn plus_seconds(self, seconds: u64) -> Timestamp {
        Timestamp::from_millis(self.millis.saturating_add(seconds.saturating_mul(1000)))
    }

    /// Appends the RFC 3339 form (`2026-11-28T12:00:00.123Z`, the text humantime's
    /// `format_rfc3339_millis` writes) to `out` without the formatting machinery: every
    /// item, answer and log line writes timestamps. (Past year 9999, where humantime
    /// fails, the year simply has more digits.)
    pub fn write_rfc3339(self, out: &mut String) {
        let seconds = self.millis / 1000;
        let (year, month, day) = civil_from_days(seconds / 86_400);
        let second_of_day = seconds % 86_400;
        let two = |out: &mut String, value: u64| {
            out.push(char::from(b'0' + (value / 10 % 10) as u8));
            out.push(char::from(b'0' + (value % 10) as u8));
        };
        if year >= 10_000 {
            out.push_str(&year.to_string());
        } else {
            two(out, year / 100);
            two(out, year % 100);
        }
        out.push('-');
        two(out, month);
        out.push('-');
        two(out, day);
        out.push('T');
        two(out, second_of_day / 3600);
        out.push(':');
        two(out, second_of_day / 60 % 60);
        out.push(':');
        two(out, second_of_day % 60);
        out.push('.');
        let millis = self.millis % 1000;
        out.push(char::from(b'0' + (millis / 100) as u8));
        two(out, millis % 100);
        out.push('Z');
    }

    /// The RFC 3339 form as a new `String` (what `to_string` gives, in one allocation).
    pub fn rfc3339(self) -> String {
        let mut text = String::with_capacity(24);
        self.write_rfc3339(&mut text);
        text
    }

    /// Seconds since the epoch as an exact decimal (`1795867200.123`): the form the
    /// server's table gives its deadline numbers, so that DynamoDB can add a timeout to
    /// it and compare it with another instant.
    pub fn epoch_seconds(self) -> String {
        format!("{}.{:03}", self.millis / 1000, self.millis % 1000)
    }
}

/// Year, month and day of the `days`-th day after 1970-01-01 (the proleptic Gregorian
/// calendar; Howard Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Counted from 0000-03-01, so that a leap day ends its year.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not an RFC 3339 UTC timestamp (2026-11-28T12:00:00.123Z)"
            ))
        })
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
    fn the_writer_agrees_with_humantime() {
        let mut samples = vec![
            0,
            999,
            951_782_400_000,     // 2000-02-29, a leap day of a century year
            4_107_456_000_000,   // 2100-03-01, after a century year without one
            1_795_867_200_123,   // 2026-11-28T12:00:00.123Z
            253_402_300_799_999, // the last millisecond of year 9999
        ];
        // Every day for 160 years, at a different time of day each.
        samples.extend((0..58_440u64).map(|day| day * 86_400_000 + day * 7_919 % 86_400_000));
        for millis in samples {
            let t = Timestamp::from_millis(millis);
            let humantime =
                humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis));
            assert_eq!(t.to_string(), humantime.to_string(), "{millis}");
            assert_eq!(t.rfc3339(), humantime.to_string(), "{millis}");
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_timestamp() {
        assert_eq!(Timestamp::parse("yesterday"), None);
        let read = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(read.to_string().contains("RFC 3339"), "{read}");
    }

    #[test]
    fn reads_back_what_it_writes() {
        let t = Timestamp::from_millis(1_795_867_200_123);
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, "\"2026-11-28T12:00:00.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&text).unwrap(), t);
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
