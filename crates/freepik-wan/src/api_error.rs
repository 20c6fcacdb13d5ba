//! Turning the generated client's errors into [`Error`]s that say what happened.

use freepik_wan_api::types;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::error::{Error, InvalidParam, is_quota_message};
pub(crate) use freepik_wan_api::error_body::snippet;

type ApiError = freepik_wan_api::Error<types::Error>;

/// Awaits a generated call, unwrapping its value or mapping its error.
pub(crate) async fn call<T>(
    request: impl Future<Output = Result<freepik_wan_api::ResponseValue<T>, ApiError>>,
) -> Result<T, Error> {
    match request.await {
        Ok(value) => Ok(value.into_inner()),
        Err(err) => Err(from_api(err).await),
    }
}

/// Maps a generated-client error. Async because a response the spec does not
/// list (502, 504, 408...) still has its body to read.
pub(crate) async fn from_api(err: ApiError) -> Error {
    match err {
        ApiError::ErrorResponse(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            from_body(status, headers, response.into_inner())
        }
        ApiError::UnexpectedResponse(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            if status.is_redirection() {
                return redirected(status, headers);
            }
            match error_body(response).await {
                Ok(body) => from_bytes(status, headers, &body),
                Err(source) => Error::Transport { source },
            }
        }
        ApiError::CommunicationError(source)
        | ApiError::ResponseBodyError(source)
        | ApiError::InvalidUpgrade(source) => Error::Transport { source },
        // Error statuses never get here (the client crate rewrites
        // non-JSON error bodies), so this is a success body off the spec.
        ApiError::InvalidResponsePayload(body, source) => Error::Decode {
            status: StatusCode::OK,
            snippet: snippet(&body),
            source,
        },
        ApiError::InvalidRequest(reason) => Error::Validation {
            field: "request",
            reason,
        },
        ApiError::Custom(reason) => Error::Config(reason),
    }
}

/// The start of an error response's body (at most
/// [`MAX_ERROR_BODY`](freepik_wan_api::error_body::MAX_ERROR_BODY) bytes).
pub(crate) async fn error_body(response: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    Ok(freepik_wan_api::error_body::read_limited(response).await?.0)
}

/// An error body of any shape: `{"message"}`, flat or wrapped problem+json,
/// or something else entirely (kept as a snippet).
pub(crate) fn from_bytes(status: StatusCode, mut headers: HeaderMap, body: &[u8]) -> Error {
    match serde_json::from_slice::<types::Error>(body) {
        Ok(parsed) => from_body(status, headers, parsed),
        Err(_) => {
            headers.insert(
                freepik_wan_api::error_body::RESCUED_BODY_HEADER,
                reqwest::header::HeaderValue::from_static("1"),
            );
            api(status, snippet(body), Vec::new(), headers)
        }
    }
}

/// A redirect, which API calls never follow: the key headers would go with
/// it to wherever it points. The error names where (without its query, which
/// may carry a token), so a misconfigured base URL is easy to fix.
fn redirected(status: StatusCode, headers: HeaderMap) -> Error {
    let location = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|raw| raw.split(['?', '#']).next().unwrap_or_default().to_owned());
    let message = match location {
        Some(to) => format!(
            "redirected to {to}; API calls do not follow redirects, so the API key was not sent there"
        ),
        None => "a redirect without a Location; API calls do not follow redirects".to_owned(),
    };
    Error::Api {
        status,
        message,
        invalid_params: Vec::new(),
        headers: Box::new(headers),
    }
}

/// An [`Error::Api`], or an [`Error::QuotaExceeded`] for a `429` whose
/// message says a quota is reached: waiting does not help with those.
fn api(
    status: StatusCode,
    message: String,
    invalid_params: Vec<InvalidParam>,
    headers: HeaderMap,
) -> Error {
    if status == StatusCode::TOO_MANY_REQUESTS && is_quota_message(&message) {
        return Error::QuotaExceeded {
            status,
            message,
            headers: Box::new(headers),
        };
    }
    Error::Api {
        status,
        message,
        invalid_params,
        headers: Box::new(headers),
    }
}

fn from_body(status: StatusCode, headers: HeaderMap, body: types::Error) -> Error {
    let types::Error {
        message,
        invalid_params,
        problem,
    } = body;
    let (problem_message, problem_params) = match problem {
        Some(p) => (p.message, p.invalid_params),
        None => (None, Vec::new()),
    };
    let params = if invalid_params.is_empty() {
        problem_params
    } else {
        invalid_params
    };
    let invalid_params = params
        .into_iter()
        .map(|p| InvalidParam {
            name: p.name.unwrap_or_default(),
            reason: p.reason.unwrap_or_default(),
        })
        .collect();
    api(
        status,
        message.or(problem_message).unwrap_or_default(),
        invalid_params,
        headers,
    )
}
