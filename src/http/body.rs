//! The request body as JSON: declared content type, size limit, then parsing. A body the
//! gateway sent base64-encoded has already been decoded by `lambda_http`.

use lambda_http::http::header;
use lambda_http::{Body, Request};
use serde_json::Value;

use crate::http::error::ApiError;

/// The body parsed as JSON; an empty body is `Value::Null` (FastAPI reports it as a
/// missing body, `422`).
pub fn json(request: &Request, max_bytes: usize) -> Result<Value, ApiError> {
    if !declares_json(request) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge { limit: max_bytes });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|error| ApiError::MalformedJson(error.to_string()))
}

/// `application/json` or any `application/*+json`, parameters and case ignored. A request
/// with no `Content-Type` at all is read as JSON, as FastAPI does.
fn declares_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let mime = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(content_type: Option<&str>, body: Body) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/jobs/");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(body).unwrap()
    }

    #[test]
    fn parses_json_with_any_declared_json_type() {
        for content_type in [
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("application/vnd.jobs+json"),
            None,
        ] {
            let parsed = json(&request(content_type, Body::from(r#"{"a":1}"#)), 1024);
            assert_eq!(parsed.unwrap(), json!({"a": 1}), "{content_type:?}");
        }
    }

    #[test]
    fn refuses_other_content_types_with_415() {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let result = json(&request(Some(content_type), Body::from("{}")), 1024);
            assert!(
                matches!(result, Err(ApiError::UnsupportedMediaType)),
                "{content_type}"
            );
        }
    }

    #[test]
    fn refuses_bodies_over_the_limit_with_413() {
        let result = json(&request(None, Body::from("[1, 2, 3]")), 8);
        assert!(matches!(
            result,
            Err(ApiError::PayloadTooLarge { limit: 8 })
        ));
    }

    #[test]
    fn malformed_json_and_invalid_utf8_are_400() {
        let result = json(&request(None, Body::from("{\"a\":")), 1024);
        assert!(matches!(result, Err(ApiError::MalformedJson(_))));
        let result = json(
            &request(None, Body::Binary(b"{\"a\":\"\xff\"}".to_vec())),
            1024,
        );
        assert!(matches!(result, Err(ApiError::MalformedJson(_))));
    }

    #[test]
    fn empty_body_is_null() {
        assert_eq!(
            json(&request(None, Body::Empty), 1024).unwrap(),
            Value::Null
        );
        assert_eq!(
            json(&request(None, Body::from("  \n")), 1024).unwrap(),
            Value::Null
        );
    }
}
