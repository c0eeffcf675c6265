//! The query string: parsed once, then read field by field with the same FastAPI-shaped
//! errors as the body (`loc: ["query", name]`).

use std::collections::HashMap;

use lambda_http::Request;
use serde_json::Value;

use crate::http::validation::FieldError;
use crate::job::time::Timestamp;
use crate::store::cursor::Cursor;

pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    /// The request's query parameters; a repeated name keeps its last value.
    pub fn of(request: &Request) -> Self {
        Self::parse(request.uri().query().unwrap_or_default())
    }

    pub fn parse(text: &str) -> Self {
        Query {
            params: form_urlencoded::parse(text.as_bytes())
                .into_owned()
                .collect(),
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    fn error(kind: &'static str, name: &str, msg: &str, input: &str) -> FieldError {
        FieldError::new(
            kind,
            &["query", name],
            msg,
            &Value::String(input.to_owned()),
        )
    }

    /// `limit`: a whole number in `1..=max`, `default` when absent.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, FieldError> {
        let Some(text) = self.text("limit") else {
            return Ok(default);
        };
        match text.parse::<i64>() {
            Err(_) => Err(Self::error(
                "int_parsing",
                "limit",
                "Input should be a valid integer, unable to parse string as an integer",
                text,
            )),
            Ok(n) if n < 1 => Err(Self::error(
                "greater_than_equal",
                "limit",
                "Input should be greater than or equal to 1",
                text,
            )),
            Ok(n) if n as u64 > max as u64 => Err(Self::error(
                "less_than_equal",
                "limit",
                &format!("Input should be less than or equal to {max}"),
                text,
            )),
            Ok(n) => Ok(n as usize),
        }
    }

    /// `cursor`: a `next_cursor` this API returned for the same kind of list.
    pub fn cursor(&self, sort_key_prefix: &str) -> Result<Option<Cursor>, FieldError> {
        self.text("cursor")
            .map(|text| {
                Cursor::decode(text, sort_key_prefix).ok_or_else(|| {
                    Self::error(
                        "value_error",
                        "cursor",
                        "Value error, not a cursor returned by this list",
                        text,
                    )
                })
            })
            .transpose()
    }

    /// An RFC 3339 timestamp with a time zone (`Z` or an offset).
    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, FieldError> {
        self.text(name)
            .map(|text| {
                parse_rfc3339(text).ok_or_else(|| {
                    Self::error(
                        "datetime_parsing",
                        name,
                        "Input should be a valid datetime in RFC 3339 form with a time zone",
                        text,
                    )
                })
            })
            .transpose()
    }
}

/// RFC 3339 with `Z` or a `±HH:MM` offset, normalised to UTC.
fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Some(utc) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Timestamp::parse(&format!("{utc}Z"));
    }
    let split = text
        .len()
        .checked_sub(6)
        .filter(|at| text.is_char_boundary(*at))?;
    let (local, offset) = text.split_at(split);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1i64,
        b'-' => -1i64,
        _ => return None,
    };
    let (hours, minutes) = offset[1..].split_once(':')?;
    let offset_minutes = hours.parse::<i64>().ok()? * 60 + minutes.parse::<i64>().ok()?;
    let utc = Timestamp::parse(&format!("{local}Z"))?;
    let millis = utc.millis() as i64 - sign * offset_minutes * 60_000;
    (millis >= 0).then(|| Timestamp::from_millis(millis as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(Query::parse("").limit(20, 100), Ok(20));
        assert_eq!(Query::parse("limit=100").limit(20, 100), Ok(100));
        assert_eq!(
            Query::parse("limit=0").limit(20, 100).unwrap_err().kind,
            "greater_than_equal"
        );
        assert_eq!(
            Query::parse("limit=101").limit(20, 100).unwrap_err().kind,
            "less_than_equal"
        );
        assert_eq!(
            Query::parse("limit=ten").limit(20, 100).unwrap_err().kind,
            "int_parsing"
        );
        assert_eq!(
            Query::parse("limit=99999999999999999999")
                .limit(20, 100)
                .unwrap_err()
                .kind,
            "int_parsing"
        );
        assert_eq!(Query::parse("limit=1").limit(20, 100), Ok(1));
    }

    #[test]
    fn timestamps_accept_utc_and_offsets() {
        let utc = Query::parse("t=2026-11-28T12:00:00Z")
            .timestamp("t")
            .unwrap()
            .unwrap();
        assert_eq!(utc.to_string(), "2026-11-28T12:00:00.000Z");
        let offset = Query::parse("t=2026-11-28T14:00:00.5%2B02:00")
            .timestamp("t")
            .unwrap()
            .unwrap();
        assert_eq!(offset.to_string(), "2026-11-28T12:00:00.500Z");
        let west = Query::parse("t=2026-11-28T07:00:00-05:00")
            .timestamp("t")
            .unwrap()
            .unwrap();
        assert_eq!(west.to_string(), "2026-11-28T12:00:00.000Z");
        for bad in [
            "yesterday",
            "2026-11-28",
            "2026-11-28T12:00:00",
            "2026-13-01T00:00:00Z",
        ] {
            let query = Query::parse(&format!("t={bad}"));
            assert_eq!(
                query.timestamp("t").unwrap_err().kind,
                "datetime_parsing",
                "{bad}"
            );
        }
        assert_eq!(Query::parse("").timestamp("t"), Ok(None));
    }

    #[test]
    fn a_malformed_cursor_is_a_query_error() {
        let error = Query::parse("cursor=abc").cursor("JOB#").unwrap_err();
        assert_eq!(error.loc, ["query", "cursor"]);
        assert_eq!(error.kind, "value_error");
    }
}
