//! What progenitor leaves to the crate that includes the generated code:
//! attaching the API key, tracing each call, and keeping the status of error
//! responses whose body is not JSON.

use std::time::Instant;

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::Client;
use crate::error_body::{DOCUMENTED_ERROR_STATUSES, read_limited, snippet};

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
        })
    }

    /// Also sends `User-Agent: user_agent`, whatever `reqwest::Client` is used.
    /// A value an HTTP header cannot carry is ignored.
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = HeaderValue::from_str(user_agent).ok();
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
        let result = self.client.execute(request).await;
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
    Ok(reqwest::Response::from(rebuilt))
}
