//! Browser callers from other web origins: the allowed origins, the refusal of a
//! cross-site write (a browser attaches cookies to any site's request, so a cookie alone
//! never proves that the caller's own page sent it: only an allowed origin, or the jobs
//! page on the function's own host, may send one), and CORS (preflights answered, and
//! the headers that let an allowed page read an answer).
//!
//! Deployed, API Gateway answers CORS itself from the same list (`template.yaml`) and
//! ignores these headers; locally, where no gateway stands in front, the function does.

use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::auth::Credential;
use crate::config::AllowedOrigins;
use crate::http::error::ApiError;

/// The request headers the API reads, which a browser must be allowed to send.
pub const ALLOWED_HEADERS: &str =
    "authorization, content-type, idempotency-key, prefer, x-organization-id";
/// The response headers a client needs to read.
pub const EXPOSED_HEADERS: &str = "location, idempotent-replayed, preference-applied, retry-after";
const ALLOWED_METHODS: &str = "GET, POST";
/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";

/// The origin of the page that sent the request: its `Origin` header, else the origin
/// part of its `Referer`. An `Origin` that is present is final (`null` included).
fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().ok().map(str::to_owned);
    }
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let (scheme, rest) = referer.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{authority}"))
}

/// `403` for a write authenticated by a cookie unless an allowed origin, or the page
/// served on the request's own host (`is_same_origin`), sent it. A
/// request with a bearer token is left alone: no browser attaches one by itself.
pub fn refuse_cross_site_write(
    request: &Request,
    credential: Credential,
    allowed: &AllowedOrigins,
) -> Result<(), ApiError> {
    if credential != Credential::Cookie {
        return Ok(());
    }
    let headers = request.headers();
    match request_origin(headers) {
        Some(origin) if allowed.allows(&origin) || is_same_origin(headers, &origin) => Ok(()),
        _ => Err(ApiError::Forbidden(
            "Cross-site request refused: a write authenticated by a cookie must come from an allowed origin (Origin or Referer header)".into(),
        )),
    }
}

/// Whether the page that sent the request was served from the host the request went to:
/// the jobs page this function serves (`routes::page`) calling the API beside it. A
/// browser writes `Origin`, `Referer` and `Host` itself, so another site's page cannot
/// make them agree; `Sec-Fetch-Site`, where the browser sends it, must say so too, and
/// the scheme must be the one the gateway received (`X-Forwarded-Proto`) when it says.
fn is_same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if text("sec-fetch-site").is_some_and(|site| site != "same-origin") {
        return false;
    }
    let (Some(host), Some((scheme, authority))) =
        (text(header::HOST.as_str()), origin.split_once("://"))
    else {
        return false;
    };
    let scheme_matches =
        text("x-forwarded-proto").is_none_or(|proto| proto.eq_ignore_ascii_case(scheme));
    scheme_matches && !host.is_empty() && authority.eq_ignore_ascii_case(host.trim())
}

/// The answer to a CORS preflight, when origins are configured and this is one.
pub fn preflight(request: &Request, allowed: &AllowedOrigins) -> Option<Response<Body>> {
    let headers = request.headers();
    if allowed.is_empty()
        || request.method() != Method::OPTIONS
        || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok());
    let Some(origin) = origin.filter(|origin| allowed.allows(origin)) else {
        return Some(ApiError::Forbidden("Origin not allowed".into()).into_response());
    };
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    set_allow_origin(headers, origin);
    let fixed = [
        (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS),
        (header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECONDS),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Some(response)
}

/// Lets the page of an allowed origin read `response` (with credentials).
pub fn allow_reading(response: &mut Response<Body>, request: &Request, allowed: &AllowedOrigins) {
    if allowed.is_empty() {
        return;
    }
    let headers = response.headers_mut();
    // The answer depends on the Origin: a shared cache must not serve it to another one.
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return;
    };
    if let Ok(origin) = origin.to_str()
        && allowed.allows(origin)
    {
        set_allow_origin(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

fn set_allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedOrigins {
        AllowedOrigins::parse("https://app.example.com, http://localhost:5173/").unwrap()
    }

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/jobs/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn origins_are_parsed_strictly_and_compared_exactly() {
        let allowed = allowed();
        assert!(allowed.allows("https://app.example.com"));
        assert!(allowed.allows("HTTPS://APP.example.com"));
        assert!(allowed.allows("http://localhost:5173"));
        assert!(!allowed.allows("https://app.example.com.evil.example"));
        assert!(!allowed.allows("http://app.example.com"));
        assert!(!allowed.allows("https://app.example.com:8443"));
        assert!(!allowed.allows("null"));
        assert!(!allowed.allows(""));
        for bad in [
            "*",
            "null",
            "https://app.example.com/path",
            "app.example.com",
            "https://*.example.com",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowedOrigins::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn cookie_writes_need_an_allowed_origin_or_referer() {
        let allowed = allowed();
        let check = |headers: &[(&str, &str)]| {
            refuse_cross_site_write(&request(headers), Credential::Cookie, &allowed).is_ok()
        };
        assert!(check(&[("origin", "https://app.example.com")]));
        assert!(check(&[("referer", "https://app.example.com/jobs?x=1")]));
        assert!(!check(&[]));
        assert!(!check(&[("origin", "null")]));
        assert!(!check(&[("origin", "https://evil.example")]));
        assert!(!check(&[(
            "referer",
            "https://evil.example/https://app.example.com"
        )]));
        // A present Origin decides, whatever the Referer says.
        assert!(!check(&[
            ("origin", "null"),
            ("referer", "https://app.example.com/")
        ]));
    }

    #[test]
    fn cookie_writes_from_the_page_on_the_same_host_go_through() {
        let none = AllowedOrigins::default();
        let check = |headers: &[(&str, &str)]| {
            refuse_cross_site_write(&request(headers), Credential::Cookie, &none).is_ok()
        };
        let host = ("host", "jobs.example.com");
        assert!(check(&[host, ("origin", "https://jobs.example.com")]));
        assert!(check(&[
            host,
            ("origin", "https://jobs.example.com"),
            ("sec-fetch-site", "same-origin"),
            ("x-forwarded-proto", "https"),
        ]));
        assert!(check(&[
            host,
            ("referer", "https://jobs.example.com/#job=1")
        ]));
        // Another port of the same host is another origin (and the same site, so a
        // SameSite cookie goes along: only this check stops it).
        assert!(!check(&[host, ("origin", "https://jobs.example.com:8443")]));
        assert!(!check(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "http://127.0.0.1:9001")
        ]));
        assert!(!check(&[host, ("origin", "https://evil.example")]));
        assert!(!check(&[
            host,
            ("origin", "https://jobs.example.com.evil.example")
        ]));
        assert!(!check(&[host, ("origin", "null")]));
        assert!(!check(&[host]));
        assert!(!check(&[("origin", "https://jobs.example.com")]));
        assert!(!check(&[
            host,
            ("origin", "https://jobs.example.com"),
            ("sec-fetch-site", "same-site"),
        ]));
        assert!(!check(&[
            host,
            ("origin", "http://jobs.example.com"),
            ("x-forwarded-proto", "https"),
        ]));
    }

    #[test]
    fn bearer_and_gateway_credentials_are_not_checked() {
        let evil = request(&[("origin", "https://evil.example")]);
        for credential in [Credential::AuthorizationHeader, Credential::Gateway] {
            assert!(refuse_cross_site_write(&evil, credential, &allowed()).is_ok());
        }
    }

    #[test]
    fn preflights_are_answered_only_for_allowed_origins() {
        let preflight_request = |origin: &str| {
            let mut request = request(&[
                ("origin", origin),
                ("access-control-request-method", "POST"),
            ]);
            *request.method_mut() = Method::OPTIONS;
            request
        };
        let ok = preflight(&preflight_request("https://app.example.com"), &allowed()).unwrap();
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            ok.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
        let refused = preflight(&preflight_request("https://evil.example"), &allowed()).unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            !refused
                .headers()
                .contains_key("access-control-allow-origin")
        );
        let unconfigured = preflight(
            &preflight_request("https://app.example.com"),
            &AllowedOrigins::default(),
        );
        assert!(unconfigured.is_none());
    }
}
