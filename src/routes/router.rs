//! Method and path to a [`Route`]. Paths are matched without the API Gateway stage and
//! with or without a trailing slash, so REST (v1), HTTP API (v2), function URL and
//! `cargo lambda watch` events all route alike.

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::http::error::ApiError;
use crate::routes::page::Asset;
use crate::store::IssueKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    CreateJob,
    ListJobs,
    GetJob(String),
    GetJobStatus(String),
    ReportProgress(String),
    CancelJob(String),
    ListIssues(String, IssueKind),
    /// The jobs page and its files (`routes::page`): no token needed, no caller data.
    Page(Asset),
}

impl Route {
    /// The route as logged: method and path template.
    pub fn name(&self) -> &'static str {
        match self {
            Route::CreateJob => "POST /api/jobs/",
            Route::ListJobs => "GET /api/jobs/",
            Route::GetJob(_) => "GET /api/jobs/{job_id}",
            Route::GetJobStatus(_) => "GET /api/jobs/{job_id}/status",
            Route::ReportProgress(_) => "POST /api/jobs/{job_id}/progress",
            Route::CancelJob(_) => "POST /api/jobs/{job_id}/cancel",
            Route::ListIssues(_, IssueKind::Error) => "GET /api/jobs/{job_id}/errors",
            Route::ListIssues(_, IssueKind::Warning) => "GET /api/jobs/{job_id}/warnings",
            Route::Page(Asset::Index) => "GET /",
            Route::Page(_) => "GET /app/{file}",
        }
    }

    /// Whether the route changes state (and so must not be forgeable from another site).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Route::CreateJob | Route::ReportProgress(_) | Route::CancelJob(_)
        )
    }

    /// The job the route is about, if any.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Route::CreateJob | Route::ListJobs | Route::Page(_) => None,
            Route::GetJob(id)
            | Route::GetJobStatus(id)
            | Route::ReportProgress(id)
            | Route::CancelJob(id)
            | Route::ListIssues(id, _) => Some(id),
        }
    }
}

pub fn route(request: &Request) -> Result<Route, ApiError> {
    match_route(request.method(), path_without_stage(request))
}

pub fn match_route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err(ApiError::NotFound);
    }
    let job = |id: &str| id.to_owned();
    let (allow, route) = match segments.as_slice() {
        ["api", "jobs"] => match *method {
            Method::POST => return Ok(Route::CreateJob),
            Method::GET => return Ok(Route::ListJobs),
            _ => ("GET, POST", None),
        },
        ["api", "jobs", id] => ("GET", Some(Route::GetJob(job(id)))),
        ["api", "jobs", id, "status"] => ("GET", Some(Route::GetJobStatus(job(id)))),
        ["api", "jobs", id, "errors"] => {
            ("GET", Some(Route::ListIssues(job(id), IssueKind::Error)))
        }
        ["api", "jobs", id, "warnings"] => {
            ("GET", Some(Route::ListIssues(job(id), IssueKind::Warning)))
        }
        ["api", "jobs", id, "progress"] => ("POST", Some(Route::ReportProgress(job(id)))),
        ["api", "jobs", id, "cancel"] => ("POST", Some(Route::CancelJob(job(id)))),
        [] => ("GET", Some(Route::Page(Asset::Index))),
        ["app", file] => match Asset::named(file) {
            Some(asset) => ("GET", Some(Route::Page(asset))),
            None => return Err(ApiError::NotFound),
        },
        _ => return Err(ApiError::NotFound),
    };
    match route {
        Some(route) if method.as_str() == allow => Ok(route),
        _ => Err(ApiError::MethodNotAllowed { allow }),
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

    const ID: &str = "019ac9f0-0000-7000-8000-000000000001";

    fn ok(method: Method, path: &str) -> Route {
        match_route(&method, path).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"))
    }

    #[test]
    fn every_route_matches_with_and_without_trailing_slash() {
        let cases = [
            (Method::POST, "/api/jobs", Route::CreateJob),
            (Method::GET, "/api/jobs", Route::ListJobs),
            (Method::GET, "/api/jobs/{id}", Route::GetJob(ID.into())),
            (
                Method::GET,
                "/api/jobs/{id}/status",
                Route::GetJobStatus(ID.into()),
            ),
            (
                Method::POST,
                "/api/jobs/{id}/progress",
                Route::ReportProgress(ID.into()),
            ),
            (
                Method::POST,
                "/api/jobs/{id}/cancel",
                Route::CancelJob(ID.into()),
            ),
            (
                Method::GET,
                "/api/jobs/{id}/errors",
                Route::ListIssues(ID.into(), IssueKind::Error),
            ),
            (
                Method::GET,
                "/api/jobs/{id}/warnings",
                Route::ListIssues(ID.into(), IssueKind::Warning),
            ),
        ];
        for (method, template, route) in cases {
            let path = template.replace("{id}", ID);
            assert_eq!(ok(method.clone(), &path), route);
            assert_eq!(ok(method.clone(), &format!("{path}/")), route);
            assert_eq!(
                route
                    .name()
                    .split(' ')
                    .nth(1)
                    .unwrap()
                    .trim_end_matches('/'),
                template.replace("{id}", "{job_id}")
            );
        }
    }

    #[test]
    fn a_known_path_with_another_method_is_405_with_allow() {
        let cases = [
            (Method::PUT, "/api/jobs/", "GET, POST"),
            (Method::DELETE, "/api/jobs", "GET, POST"),
            (Method::POST, "/api/jobs/x", "GET"),
            (Method::DELETE, "/api/jobs/x", "GET"),
            (Method::POST, "/api/jobs/x/status", "GET"),
            (Method::GET, "/api/jobs/x/progress", "POST"),
            (Method::GET, "/api/jobs/x/cancel", "POST"),
            (Method::POST, "/api/jobs/x/errors", "GET"),
            (Method::PATCH, "/api/jobs/x/warnings", "GET"),
        ];
        for (method, path, allow) in cases {
            let error = match_route(&method, path).unwrap_err();
            let response = error.into_response();
            assert_eq!(response.status(), 405, "{method} {path}");
            assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        }
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "//",
            "/index.html",
            "/app",
            "/app/",
            "/app/nope.js",
            "/app/app.js/x",
            "/APP/app.js",
            "/api",
            "/api/job",
            "/api/jobs//",
            "/api/jobsx",
            "/x/api/jobs",
            "/API/jobs",
            "/api/jobs/x/y",
            "/api/jobs/x/status/y",
            "/api/jobs/x/logs",
        ] {
            assert!(
                matches!(match_route(&Method::GET, path), Err(ApiError::NotFound)),
                "{path:?}"
            );
        }
    }

    #[test]
    fn the_page_is_at_the_root_and_its_files_under_app() {
        assert_eq!(ok(Method::GET, "/"), Route::Page(Asset::Index));
        assert_eq!(ok(Method::GET, ""), Route::Page(Asset::Index));
        for asset in Asset::ALL {
            let path = format!("/app/{}", asset.file_name());
            if asset != Asset::Index {
                assert_eq!(ok(Method::GET, &path), Route::Page(asset));
            }
            assert_eq!(Route::Page(asset).job_id(), None);
            assert!(!Route::Page(asset).is_write());
        }
        let refused = match_route(&Method::POST, "/").unwrap_err().into_response();
        assert_eq!(refused.status(), 405);
        assert_eq!(refused.headers()["allow"], "GET");
        assert_eq!(
            match_route(&Method::POST, "/app/app.js")
                .unwrap_err()
                .status(),
            405
        );
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
        let progress = format!("/prod/api/jobs/{ID}/progress");
        assert_eq!(
            route(&http_api_event("prod", &progress)).unwrap(),
            Route::ReportProgress(ID.into())
        );
    }
}
