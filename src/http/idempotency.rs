//! `Idempotency-Key`: a retried create, progress report or cancel returns the original
//! response instead of writing again.
//!
//! The rules, as plain functions: which key a request carries, the fingerprint that says
//! whether two requests are "the same request", and what a request finds when its key is
//! already taken. The records live in the table (`store::idempotency`); the wrapper every
//! write route goes through is `routes::idempotent`.

use std::convert::Infallible;

use aws_lc_rs::digest;
use lambda_http::Request;
use serde_json::Value;

use crate::http::validation::FieldError;
use crate::job::decimal;
use crate::job::time::Timestamp;
use crate::store::idempotency::{Record, STALE_CLAIM_SECONDS};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_CHARS: usize = 255;
/// The caller's `Idempotency-Key`, if it sent one: 1 to 255 printable ASCII characters.
pub fn key(request: &Request) -> Result<Option<String>, FieldError> {
    let Some(value) = request.headers().get(HEADER) else {
        return Ok(None);
    };
    let loc = ["header", HEADER];
    let text = value.to_str().unwrap_or_default();
    let input = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
    if text.is_empty() || !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let reason = "must be 1 to 255 printable ASCII characters";
        return Err(FieldError::value_error(&loc, reason, &input));
    }
    if text.len() > MAX_KEY_CHARS {
        let reason = "must be at most 255 characters";
        return Err(FieldError::value_error(&loc, reason, &input));
    }
    Ok(Some(text.to_owned()))
}

/// What makes two requests the same: the route, the job, and the body as JSON (so
/// whitespace, key order and how a number is written — `1E+2`, `100` — do not matter).
/// SHA-256, hex.
pub fn fingerprint(route: &str, job_id: Option<&str>, body: &Value) -> String {
    let rewritten = decimal::rewrite_numbers(body, &|n| Ok::<_, Infallible>(decimal::canonical(n)));
    let body = rewritten.unwrap_or_else(|refused| match refused.reason {});
    let canonical = format!("{route}\n{}\n{body}", job_id.unwrap_or_default());
    let digest = digest::digest(&digest::SHA256, canonical.as_bytes());
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a request finds when its key is taken.
#[derive(Debug, PartialEq)]
pub enum Found {
    /// Expired, or a claim whose request died: claim it again.
    Free,
    /// The same request completed: answer as it did.
    Replay,
    /// Another request holds or used the key.
    Refused(Refusal),
}

/// Why a request may not use a key that is taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The key was used for a different request (`422` on the header).
    DifferentRequest,
    /// The request that holds the key has not finished (`409`).
    InFlight,
}

pub fn decide(record: &Record, fingerprint: &str, now: Timestamp) -> Found {
    let now = now.millis() / 1000;
    if record.expires_at <= now {
        return Found::Free;
    }
    if record.fingerprint != fingerprint {
        return Found::Refused(Refusal::DifferentRequest);
    }
    if record.completed {
        return Found::Replay;
    }
    if record.claimed_at + STALE_CLAIM_SECONDS <= now {
        return Found::Free;
    }
    Found::Refused(Refusal::InFlight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::idempotency::KEY_LIFETIME_SECONDS;
    use serde_json::json;

    fn request(value: &[u8]) -> Request {
        lambda_http::http::Request::builder()
            .header(
                HEADER,
                lambda_http::http::HeaderValue::from_bytes(value).unwrap(),
            )
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn keys_are_printable_ascii_up_to_255_characters() {
        assert_eq!(key(&request(b"order-42")).unwrap(), Some("order-42".into()));
        assert_eq!(
            key(&request("k".repeat(255).as_bytes()))
                .unwrap()
                .unwrap()
                .len(),
            255
        );
        for bad in [
            "k".repeat(256).into_bytes(),
            b"tab\there".to_vec(),
            "caf\u{e9}".as_bytes().to_vec(),
        ] {
            assert!(
                key(&request(&bad)).is_err_and(|e| e.kind == "value_error"),
                "{bad:?}"
            );
        }
        let none = lambda_http::http::Request::builder()
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(key(&none).unwrap(), None);
    }

    #[test]
    fn the_fingerprint_ignores_formatting_but_not_content() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": [1, 2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "a":[1,2],"b":1 }"#).unwrap();
        assert_eq!(
            fingerprint("create", None, &a),
            fingerprint("create", None, &b)
        );
        assert_ne!(
            fingerprint("create", None, &a),
            fingerprint("create", None, &json!({"a": [2, 1], "b": 1}))
        );
        assert_ne!(
            fingerprint("cancel", Some("j1"), &a),
            fingerprint("cancel", Some("j2"), &a)
        );
        assert_ne!(
            fingerprint("cancel", Some("j1"), &a),
            fingerprint("progress", Some("j1"), &a)
        );
        assert_eq!(fingerprint("x", None, &a).len(), 64);
    }

    #[test]
    fn the_fingerprint_compares_numbers_as_decimals() {
        let body = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        let print = |text: &str| fingerprint("create", None, &body(text));
        assert_eq!(
            print(r#"{"n": 100, "m": [1.5, -0]}"#),
            print(r#"{"n": 1E+2, "m": [1.50, 0]}"#)
        );
        assert_ne!(
            print(r#"{"n": 12.345678901234567890123}"#),
            print(r#"{"n": 12.345678901234567}"#),
            "digits past f64's are part of the request"
        );
    }

    fn record(completed: bool, claimed_at: u64) -> Record {
        Record {
            fingerprint: "f".into(),
            completed,
            claimed_at,
            expires_at: claimed_at + KEY_LIFETIME_SECONDS,
            response: None,
            job_id: None,
            claim: None,
        }
    }

    #[test]
    fn a_taken_key_replays_refuses_or_frees() {
        let at = |seconds: u64| Timestamp::from_millis(seconds * 1000);
        assert_eq!(decide(&record(true, 100), "f", at(200)), Found::Replay);
        assert_eq!(
            decide(&record(true, 100), "g", at(200)),
            Found::Refused(Refusal::DifferentRequest)
        );
        assert_eq!(
            decide(&record(false, 100), "f", at(110)),
            Found::Refused(Refusal::InFlight)
        );
        assert_eq!(
            decide(&record(false, 100), "f", at(130)),
            Found::Free,
            "a stale claim"
        );
        assert_eq!(
            decide(&record(true, 100), "g", at(100 + KEY_LIFETIME_SECONDS)),
            Found::Free,
            "expired"
        );
    }
}
