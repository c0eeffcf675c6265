//! `GET /` and `GET /app/{file}`: the jobs page, its script, style sheet and icon,
//! embedded in the binary (`src/page/`; no build step). The page holds no caller data and
//! needs no token: it calls the API beside it (`/api/jobs...`) as the browser's caller,
//! with the session cookie or a token pasted into the tab.
//!
//! Every answer carries a Content-Security-Policy that allows only these files (no
//! inline script or style, no other origin, no framing), so a value from the API that
//! the page renders, even if it held markup, could never run.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

/// Only this origin's files; the API on the same origin; no frames, plugins or forms
/// posting elsewhere; `<base>` cannot be changed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asset {
    Index,
    Script,
    Style,
    Icon,
}

impl Asset {
    pub const ALL: [Asset; 4] = [Asset::Index, Asset::Script, Asset::Style, Asset::Icon];

    /// The file `name` under `/app/` (the page itself is only at `/`).
    pub fn named(name: &str) -> Option<Asset> {
        Asset::ALL
            .into_iter()
            .find(|asset| *asset != Asset::Index && asset.file_name() == name)
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Asset::Index => "index.html",
            Asset::Script => "app.js",
            Asset::Style => "app.css",
            Asset::Icon => "icon.svg",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Asset::Index => "text/html; charset=utf-8",
            Asset::Script => "text/javascript; charset=utf-8",
            Asset::Style => "text/css; charset=utf-8",
            Asset::Icon => "image/svg+xml",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Asset::Index => include_str!("../page/index.html"),
            Asset::Script => include_str!("../page/app.js"),
            Asset::Style => include_str!("../page/app.css"),
            Asset::Icon => include_str!("../page/icon.svg"),
        }
    }
}

/// The file, with the headers that keep it safe: its exact type (and `nosniff`), the
/// policy, no framing, no referrer beyond this origin. `no-cache`: a browser or cache may
/// keep these files (they hold no caller data) but asks again before each use, so a
/// deployment's new page is seen at once.
pub fn serve(asset: Asset) -> Response<Body> {
    let mut response = Response::new(Body::Text(asset.text().to_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_TYPE, asset.content_type()),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_with_its_type_and_the_policy() {
        for asset in Asset::ALL {
            let response = serve(asset);
            let headers = response.headers();
            assert_eq!(response.status(), 200);
            assert_eq!(headers["content-type"], asset.content_type());
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["cache-control"], "no-cache");
            let policy = headers["content-security-policy"].to_str().unwrap();
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
            assert!(policy.contains("script-src 'self';"), "{policy}");
            assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
            match response.body() {
                Body::Text(text) => assert!(!text.is_empty()),
                other => panic!("{asset:?}: {other:?}"),
            }
        }
    }

    /// The policy forbids inline script and style: the page must not need any (a
    /// `style=` or `on…=` attribute or an inline `<script>` would simply not work).
    #[test]
    fn the_page_has_no_inline_script_or_style_and_loads_only_its_own_files() {
        let html = Asset::Index.text();
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("style="), "inline style attribute");
        assert!(!lower.contains("<style"), "inline style element");
        let handler = lower.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
        assert_eq!(lower.matches("<script").count(), 1);
        assert!(lower.contains(r#"<script src="app/app.js" defer></script>"#));
        assert!(
            !lower.contains("http://") && !lower.contains("https://") && !lower.contains("//cdn")
        );
        for file in ["app/app.css", "app/icon.svg"] {
            assert!(html.contains(file), "{file}");
        }
    }

    /// Markup is only ever built from text: the script never hands a string to the HTML
    /// parser or to `eval`.
    #[test]
    fn the_script_never_parses_strings_as_html_or_code() {
        let script = Asset::Script.text();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setTimeout(\"",
            "srcdoc",
        ] {
            assert!(!script.contains(sink), "{sink}");
        }
    }

    #[test]
    fn only_the_known_files_are_named() {
        assert_eq!(Asset::named("app.js"), Some(Asset::Script));
        assert_eq!(Asset::named("index.html"), None);
        assert_eq!(Asset::named("../Cargo.toml"), None);
    }
}
