//! Method and path to a [`Route`]. Paths are matched without the API Gateway stage and
//! with or without a trailing slash, so REST (v1), HTTP API (v2), function URL and
//! `cargo lambda watch` events all route alike.

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    CreateJob,
}

impl Route {
    /// The route as logged: method and path template.
    pub fn name(self) -> &'static str {
        match self {
            Route::CreateJob => "POST /api/jobs/",
        }
    }
}

pub fn route(request: &Request) -> Result<Route, ApiError> {
    match_route(request.method(), path_without_stage(request))
}

pub fn match_route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    match segments.as_slice() {
        ["api", "jobs"] => match *method {
            Method::POST => Ok(Route::CreateJob),
            _ => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        },
        _ => Err(ApiError::NotFound),
    }
}

/// The path as the client sent it, without the API Gateway stage. A REST API event's
/// `path` never holds the stage; an HTTP API event's `rawPath` does on a named stage.
fn path_without_stage(request: &Request) -> &str {
    let raw = request.raw_http_path();
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(_)) => return raw,
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.as_deref(),
        _ => return request.uri().path(),
    };
    match stage {
        Some(stage) if stage != "$default" => raw
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(raw),
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_job_routes_with_and_without_trailing_slash() {
        assert_eq!(
            match_route(&Method::POST, "/api/jobs/").unwrap(),
            Route::CreateJob
        );
        assert_eq!(
            match_route(&Method::POST, "/api/jobs").unwrap(),
            Route::CreateJob
        );
    }

    #[test]
    fn a_known_path_with_another_method_is_405_with_allow() {
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
            let error = match_route(&method, "/api/jobs/").unwrap_err();
            assert!(
                matches!(error, ApiError::MethodNotAllowed { allow: "POST" }),
                "{method}"
            );
            let response = error.into_response();
            assert_eq!(response.status(), 405);
            assert_eq!(response.headers()["allow"], "POST");
        }
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/",
            "",
            "/api",
            "/api/job",
            "/api/jobs//",
            "/api/jobsx",
            "/x/api/jobs",
            "/API/jobs",
        ] {
            assert!(
                matches!(match_route(&Method::POST, path), Err(ApiError::NotFound)),
                "{path:?}"
            );
        }
    }

    fn rest_event(stage: &str, path: &str) -> Request {
        let event = serde_json::json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": "POST",
            "headers": {},
            "requestContext": {"stage": stage, "httpMethod": "POST", "path": format!("/{stage}{path}")},
            "body": null,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn http_api_event(stage: &str, raw_path: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "stage": stage,
                "http": {"method": "POST", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"}
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn the_stage_is_not_part_of_the_route() {
        assert_eq!(
            route(&rest_event("prod", "/api/jobs/")).unwrap(),
            Route::CreateJob
        );
        assert_eq!(
            route(&rest_event("api", "/api/jobs")).unwrap(),
            Route::CreateJob
        );
        assert!(matches!(
            route(&rest_event("prod", "/prod/x")),
            Err(ApiError::NotFound)
        ));
        assert_eq!(
            route(&http_api_event("$default", "/api/jobs")).unwrap(),
            Route::CreateJob
        );
        assert_eq!(
            route(&http_api_event("prod", "/prod/api/jobs/")).unwrap(),
            Route::CreateJob
        );
        assert_eq!(
            route(&http_api_event("api", "/api/api/jobs/")).unwrap(),
            Route::CreateJob
        );
    }
}
