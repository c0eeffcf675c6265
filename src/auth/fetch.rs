//! JSON from the identity provider over HTTPS, with bounded time and size. The client
//! is built at the first call, so a cold start that needs no key fetches and parses
//! nothing.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Well inside API Gateway's 30 s and the function's 10 s: a slow provider is a `503`.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(2);
/// A key set or an introspection answer is a few KB; anything far larger is not one.
const MAX_BYTES: usize = 256 * 1024;

/// Why the provider gave no usable answer. Never holds a token.
#[derive(Debug)]
pub struct FetchError(pub String);

#[derive(Default)]
pub struct Fetcher {
    client: OnceLock<reqwest::Client>,
}

impl Fetcher {
    fn client(&self) -> Result<&reqwest::Client, FetchError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            // A redirect could lead anywhere, plain http included: the URL is configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| FetchError(format!("HTTP client: {error}")))?;
        Ok(self.client.get_or_init(|| client))
    }

    pub async fn get_json(&self, url: &str) -> Result<Value, FetchError> {
        self.send(self.client()?.get(url)).await
    }

    /// `POST` of an `application/x-www-form-urlencoded` body, with HTTP Basic
    /// credentials when given.
    pub async fn post_form(
        &self,
        url: &str,
        basic: Option<&(String, String)>,
        form: &[(&str, &str)],
    ) -> Result<Value, FetchError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .client()?
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, FetchError> {
        let mut response = request
            .send()
            .await
            .map_err(|error| FetchError(without_url(error)))?;
        if !response.status().is_success() {
            return Err(FetchError(format!("answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| FetchError(without_url(error)))?
        {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(FetchError(format!("answer larger than {MAX_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|error| FetchError(format!("not JSON: {error}")))
    }
}

/// The error without its URL, which may carry credentials in a query string.
fn without_url(error: reqwest::Error) -> String {
    error.without_url().to_string()
}
