//! What progenitor leaves to the crate that includes the generated code:
//! attaching the API key, tracing each call, and keeping the status of error
//! responses whose body is not JSON.

use std::time::Instant;

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::Client;
use crate::error_body::{DOCUMENTED_ERROR_STATUSES, RESCUED_BODY_HEADER, read_limited, snippet};

/// The header Freepik read the API key from before it became Magnific (still
/// sent, with the same key, beside [`MAGNIFIC_API_KEY_HEADER`]).
pub const API_KEY_HEADER: &str = "x-freepik-api-key";

/// The header Magnific's current published document names for the API key.
pub const MAGNIFIC_API_KEY_HEADER: &str = "x-magnific-api-key";

/// The headers every request of the generated [`Client`] carries, added by
/// its hooks: the API key (under both header names), held as a header value
/// marked sensitive so `Debug` prints `Sensitive`, never the key, and the
/// `User-Agent`. Progenitor calls this the client's "inner" state.
#[derive(Clone, Debug, Default)]
pub struct DefaultHeaders {
    api_key: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    upload: Option<UploadTimeout>,
}

/// The timeout of a request with a body (a create), scaled with the body:
/// `base` plus the time the body takes at `min_bytes_per_sec`, so a large
/// image on a slow link is not cut off (and left uncertain) by a timeout made
/// for small requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadTimeout {
    /// The time allowed besides the upload itself.
    pub base: std::time::Duration,
    /// The slowest upload rate allowed for, in bytes per second (at least 1).
    pub min_bytes_per_sec: u64,
}

impl UploadTimeout {
    /// The timeout for a body of `len` bytes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freepik_wan_api::UploadTimeout;
    ///
    /// let timeout = UploadTimeout { base: Duration::from_secs(30), min_bytes_per_sec: 1_000_000 };
    /// assert_eq!(timeout.for_body(5_000_000), Duration::from_secs(35));
    /// ```
    pub fn for_body(&self, len: u64) -> std::time::Duration {
        let upload =
            std::time::Duration::from_secs_f64(len as f64 / self.min_bytes_per_sec.max(1) as f64);
        self.base.saturating_add(upload)
    }
}

/// The API key is not usable in an HTTP header (control characters, non-ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidApiKey;

impl std::fmt::Display for InvalidApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the API key has characters an HTTP header cannot carry")
    }
}

impl std::error::Error for InvalidApiKey {}

impl DefaultHeaders {
    /// Hook state that sends `api_key` on every request.
    ///
    /// ```
    /// let headers = freepik_wan_api::DefaultHeaders::with_api_key("fpk-secret").unwrap();
    /// assert!(!format!("{headers:?}").contains("fpk-secret"));
    /// ```
    pub fn with_api_key(api_key: &str) -> Result<Self, InvalidApiKey> {
        let mut value = HeaderValue::from_str(api_key).map_err(|_| InvalidApiKey)?;
        value.set_sensitive(true);
        Ok(DefaultHeaders {
            api_key: Some(value),
            user_agent: None,
            upload: None,
        })
    }

    /// Also sends `User-Agent: user_agent`, whatever `reqwest::Client` is used.
    /// A value an HTTP header cannot carry is ignored.
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = HeaderValue::from_str(user_agent).ok();
        self
    }

    /// Requests with a body get a timeout scaled with it (see [`UploadTimeout`]),
    /// in place of the HTTP client's own.
    pub fn with_upload_timeout(mut self, upload: UploadTimeout) -> Self {
        self.upload = Some(upload);
        self
    }
}

impl ClientHooks<DefaultHeaders> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        if let Some(key) = &self.inner.api_key {
            // Both names, one key: the service answers to Magnific's header
            // today, and whether the legacy one keeps working is not
            // documented; clients that send both work against either host.
            let headers = request.headers_mut();
            headers.insert(MAGNIFIC_API_KEY_HEADER, key.clone());
            headers.insert(API_KEY_HEADER, key.clone());
        }
        if let Some(agent) = &self.inner.user_agent {
            request
                .headers_mut()
                .insert(reqwest::header::USER_AGENT, agent.clone());
        }
        if let Some(upload) = &self.inner.upload
            && let Some(len) = request
                .body()
                .and_then(|body| body.as_bytes())
                .map(|bytes| bytes.len() as u64)
        {
            *request.timeout_mut() = Some(upload.for_body(len));
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let started = Instant::now();
        let method = request.method().clone();
        // The path only: the query string is the caller's business.
        let path = request.url().path().to_owned();
        // OpenTelemetry's HTTP client fields, on the caller's span for this
        // attempt when it declares them (the SDK's `freepik_wan.call`): the
        // host and path, never the query.
        let span = tracing::Span::current();
        span.record("http.request.method", method.as_str());
        if let Some(host) = request.url().host_str() {
            span.record("server.address", host);
        }
        span.record("url.path", path.as_str());
        let result = self.client.execute(request).await;
        if let Ok(response) = &result {
            span.record("http.response.status_code", response.status().as_u16());
        }
        match &result {
            Ok(response) => tracing::debug!(
                operation = info.operation_id,
                %method,
                path,
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "freepik api response"
            ),
            Err(error) => tracing::debug!(
                operation = info.operation_id,
                %method,
                path,
                elapsed_ms = started.elapsed().as_millis() as u64,
                error = %error,
                "freepik api request failed"
            ),
        }
        match result {
            Ok(response) if DOCUMENTED_ERROR_STATUSES.contains(&response.status().as_u16()) => {
                rescue_error_body(response).await
            }
            other => other,
        }
    }
}

/// An HTML page from a proxy or an empty body on a documented error status
/// would fail JSON decoding, and progenitor's decode error carries no status.
/// Such bodies are replaced by `{"message": "<start of the body>"}` so that
/// the caller still gets an error response with its status and headers.
async fn rescue_error_body(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let looks_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let (body, complete) = read_limited(response).await?;
    let body = bytes::Bytes::from(body);
    let is_object = complete
        && looks_json
        && serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object());
    let body = if is_object {
        body
    } else {
        let snippet = snippet(&body);
        let rescued = if snippet.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::json!({ "message": snippet })
        };
        bytes::Bytes::from(rescued.to_string())
    };
    let mut rebuilt = http::Response::new(reqwest::Body::from(body));
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    rebuilt
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if !is_object {
        rebuilt
            .headers_mut()
            .insert(RESCUED_BODY_HEADER, HeaderValue::from_static("1"));
    }
    Ok(reqwest::Response::from(rebuilt))
}
