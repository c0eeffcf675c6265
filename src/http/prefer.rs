//! `Prefer` (RFC 7240): the one preference this API applies, `return`, on the answers of
//! a progress report and a cancel. `return=minimal` answers the light `/status` body
//! (no history read); `return=representation`, or no preference, the full `JobResponse`.
//! Every other preference, value or malformed part is ignored, as the RFC asks: a
//! preference is advisory, and the full answer is always a correct one.

use lambda_http::http::header::{HeaderMap, HeaderValue};

pub const HEADER: &str = "prefer";
pub const APPLIED_HEADER: &str = "preference-applied";

/// The `return` preference (RFC 7240 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Return {
    Representation,
    Minimal,
}

impl Return {
    /// The `Preference-Applied` value that says this form was answered.
    pub fn applied(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Return::Representation => "return=representation",
            Return::Minimal => "return=minimal",
        })
    }
}

/// The `return` preference of a request's `Prefer` fields, if it states one this API
/// knows. Several fields read as one comma-separated list, in order; only the first
/// `return` counts (RFC 7240 §2: later ones are ignored), whatever its value.
pub fn requested_return(headers: &HeaderMap) -> Option<Return> {
    let mut preferences = headers
        .get_all(HEADER)
        .iter()
        .filter_map(|field| field.to_str().ok())
        .flat_map(split_outside_quotes);
    let first = preferences.find(|preference| {
        let name = preference.split(['=', ';']).next().unwrap_or_default();
        name.trim().eq_ignore_ascii_case("return")
    })?;
    return_value(first)
}

/// `return=minimal; param` → `Minimal`. The name is compared case-insensitively and the
/// value exactly, quoted or not (RFC 7240 §2); parameters are ignored.
fn return_value(preference: &str) -> Option<Return> {
    let head = split_outside(preference, ';').next()?;
    let (name, value) = head.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("return") {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    match value {
        "minimal" => Some(Return::Minimal),
        "representation" => Some(Return::Representation),
        _ => None,
    }
}

/// A field's comma-separated preferences (commas inside quoted strings kept), empty
/// elements dropped (RFC 9110 §5.6.1).
fn split_outside_quotes(field: &str) -> impl Iterator<Item = &str> {
    split_outside(field, ',').filter(|part| !part.trim().is_empty())
}

/// `text` split at each `separator` that is not inside a quoted string.
fn split_outside(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (at, c) in current.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    rest = Some(&current[at + c.len_utf8()..]);
                    return Some(&current[..at]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(fields: &[&str]) -> Option<Return> {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(HEADER, HeaderValue::from_str(field).unwrap());
        }
        requested_return(&headers)
    }

    #[test]
    fn return_minimal_and_representation_are_read() {
        assert_eq!(prefer(&["return=minimal"]), Some(Return::Minimal));
        assert_eq!(
            prefer(&["return=representation"]),
            Some(Return::Representation)
        );
        assert_eq!(prefer(&[]), None);
    }

    #[test]
    fn preferences_may_be_listed_with_parameters_spaces_and_quotes() {
        for field in [
            "respond-async, return=minimal",
            "return=minimal; foo=bar",
            "wait=10,return=minimal;foo=\"a,b;c\"",
            "  return = \"minimal\" ",
            "handling=lenient, , return=minimal",
            "foo=\"x, return=representation\", return=minimal",
        ] {
            assert_eq!(prefer(&[field]), Some(Return::Minimal), "{field}");
        }
    }

    #[test]
    fn names_are_case_insensitive_and_values_exact() {
        assert_eq!(prefer(&["RETURN=minimal"]), Some(Return::Minimal));
        assert_eq!(prefer(&["Return=minimal"]), Some(Return::Minimal));
        assert_eq!(prefer(&["return=MINIMAL"]), None, "an unknown value");
    }

    #[test]
    fn several_fields_read_as_one_list_and_the_first_return_counts() {
        assert_eq!(
            prefer(&["respond-async", "return=minimal"]),
            Some(Return::Minimal)
        );
        assert_eq!(
            prefer(&["return=representation", "return=minimal"]),
            Some(Return::Representation)
        );
        assert_eq!(
            prefer(&["return=minimal, return=representation"]),
            Some(Return::Minimal)
        );
        assert_eq!(
            prefer(&["return=nothing, return=minimal"]),
            None,
            "the first return is the one, even when its value is unknown"
        );
    }

    #[test]
    fn unknown_or_malformed_preferences_are_ignored() {
        for field in [
            "respond-async",
            "wait=5",
            "return",
            "return=",
            "return=minimal-ish",
            "returns=minimal",
            "foo; return=minimal",
            "\"return=minimal\"",
            "return=\"minimal",
            ",,,",
        ] {
            assert_eq!(prefer(&[field]), None, "{field}");
        }
    }

    #[test]
    fn the_applied_value_is_the_preference_as_sent() {
        for form in [Return::Minimal, Return::Representation] {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, form.applied());
            assert_eq!(requested_return(&headers), Some(form));
        }
    }
}
