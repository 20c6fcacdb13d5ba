//! One error type for everything the SDK can meet, each variant saying what happened.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::task::{Task, TaskId};
use crate::uncertain::UncertainCreate;
use crate::webhook::WebhookError;
use freepik_wan_api::TaskStatus;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One field the service (or the SDK's own checks) rejected, from a
/// `problem+json` body's `invalid_params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidParam {
    /// The request field, e.g. `"image"`.
    pub name: String,
    /// Why it was rejected, in the service's words.
    pub reason: String,
}

/// What went wrong.
///
/// Match on the variant for control flow, or print it: every message says what
/// happened in words a user can act on, and none ever contains the API key.
///
/// ```
/// use freepik_wan::Error;
///
/// fn explain(err: &Error) -> &'static str {
///     match err {
///         Error::Validation { .. } => "fix the input; nothing was sent",
///         Error::Api { status, .. } if status.as_u16() == 401 => "check the API key",
///         Error::TaskFailed { .. } => "the service could not make this video",
///         Error::Timeout { .. } => "still running; wait again later",
///         e if e.is_retryable() => "try again later",
///         _ => "see the message",
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with an error status.
    ///
    /// `message` is the service's own (`"Invalid API key"`); for a body that is
    /// not JSON (an HTML page from a proxy, an empty body) it is a short snippet
    /// of what came back.
    #[error("{}", api_message(*status, message, invalid_params, headers))]
    Api {
        /// The HTTP status, e.g. 400, 401, 404, 429, 503.
        status: StatusCode,
        /// The service's message, or a snippet of a body that was not JSON.
        message: String,
        /// Per-field reasons from a `problem+json` 400 (empty otherwise).
        invalid_params: Vec<InvalidParam>,
        /// The response headers (rate-limit and request-id headers live here).
        headers: Box<HeaderMap>,
    },
    /// The input was refused before anything was sent.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field, named as on the wire (`image`, `prompt`, `webhook_url`, ...).
        field: &'static str,
        /// The rule it broke, in words.
        reason: String,
    },
    /// A local file or bytes for a model that takes only public URLs (every
    /// model but Wan 2.2): nothing was uploaded and nothing was sent.
    #[error(
        "{model} takes {field} only as a public http(s) URL; a local file or bytes cannot be sent (nothing was uploaded)"
    )]
    UrlRequired {
        /// The field, named as on the wire (`image`, `start_image_url`, `video_url`, ...).
        field: &'static str,
        /// The model that needs the URL.
        model: crate::Model,
    },
    /// The task ended `FAILED`.
    #[error("task {} failed on the service", task.id)]
    TaskFailed {
        /// The task as last seen.
        task: Box<Task>,
    },
    /// The deadline passed before the task finished.
    ///
    /// **The deadline stops the wait, never the task.** Magnific has no way
    /// to cancel a task: it goes on running on the service, and is charged,
    /// whether or not anyone waits for it. Wait for `task_id` again later
    /// ([`Client::wait`](crate::Client::wait)) to get its video rather than
    /// creating a new one.
    #[error("gave up waiting on task {task_id} after {:.1}s (last status: {}); the task is not cancelled and is still charged", waited.as_secs_f64(), last_status.as_ref().map_or("unknown", |s| s.as_str()))]
    Timeout {
        /// The task waited on.
        task_id: TaskId,
        /// The last status seen, if any poll succeeded.
        last_status: Option<TaskStatus>,
        /// How long the wait lasted.
        waited: Duration,
    },
    /// The request did not complete: DNS, connect, TLS, a cut connection, a timeout.
    #[error("transport error: {}", with_causes(source))]
    Transport {
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },
    /// A response arrived but its body is not the shape the API documents.
    #[error(
        "could not decode the response (HTTP {status}): {source}; body starts with {snippet:?}"
    )]
    Decode {
        /// The HTTP status of the response.
        status: StatusCode,
        /// The start of the body, for diagnosis.
        snippet: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Reading the image or writing the video failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What the SDK was doing, e.g. `"writing"`.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The client is not configured right (no API key, a bad base URL).
    #[error("configuration: {0}")]
    Config(String),
    /// A webhook request did not verify.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The create reached the service but its answer was lost (a gateway's
    /// 502/504, a cut connection, a timeout): **a task may exist, and may be
    /// charged for**. It was not retried. The [`UncertainCreate`] lists the
    /// tasks that could be it; [`Client::reconcile`](crate::Client::reconcile)
    /// adopts one by a stated rule.
    #[error("{0}")]
    CreateUncertain(Box<UncertainCreate>),
    /// A `429` that is a quota, not a rate limit: the service says a limit
    /// of the account or plan is reached (`"Limit for free users
    /// reached."`, `"... the download limits has been reached"`). Waiting
    /// a few seconds does not help, so it is never retried and does not
    /// pause the client; nothing was made.
    ///
    /// The rule: a `429` whose message (case-insensitive) names a limit or
    /// a quota (`limit`, `quota`) as reached or exceeded (`reached`,
    /// `exceeded`), unless it speaks of a *rate* limit (`rate limit`, `too
    /// many requests`). Every other `429` (`"Too many requests"`, `"Rate
    /// limit exceeded"`, an empty or unreadable body) stays an
    /// [`Error::Api`] rate limit, retried with backoff.
    #[error(
        "the service's quota is reached (HTTP {status}): {message}; waiting will not help: check the plan or usage of this API key"
    )]
    QuotaExceeded {
        /// The HTTP status (429).
        status: StatusCode,
        /// The service's message, e.g. `"Limit for free users reached."`.
        message: String,
        /// The response headers.
        headers: Box<HeaderMap>,
    },
    /// The task is `COMPLETED`, but the service's answers carried no video
    /// URL, even when asked again for a while (or until the wait's
    /// deadline). The task is done and paid for: wait on it again later
    /// ([`Client::wait`](crate::Client::wait)) to fetch its URL, rather than
    /// creating a new one.
    #[error(
        "task {task_id} is COMPLETED but the service gave no video URL for it (asked again for {:.1}s); it is done and paid for: wait on it again later to fetch the URL", waited.as_secs_f64()
    )]
    NoVideoUrl {
        /// The task.
        task_id: TaskId,
        /// How long it was asked again.
        waited: Duration,
    },
    /// The video host refused the task's video URL (401, 403 or 410: a
    /// signed link that expired), and refused the fresh URL fetched from
    /// the task again too. The task and its video are still there: fetch
    /// it again later ([`Client::wait`](crate::Client::wait) or
    /// [`Client::task`](crate::Client::task)) for new URLs.
    #[error(
        "the video URL of task {task_id} was refused ({status}) even after fetching the task again for a fresh one: {message}; `wait` on the task later to fetch new URLs"
    )]
    VideoUrlExpired {
        /// The task whose video it is.
        task_id: TaskId,
        /// The video host's last answer (401, 403 or 410).
        status: StatusCode,
        /// A snippet of its body (often an XML `AccessDenied` page).
        message: String,
    },
    /// What the video host sent is not a whole video: a page or a document
    /// in its place (a `Content-Type` of `text/html`, JSON, XML, an
    /// image), bytes that are not an MP4/MOV (`ftyp` first) or WebM
    /// container, fewer bytes than the server stated, or an MP4 whose last
    /// top-level box runs past the bytes that came (a body cut short with
    /// no `Content-Length`). Nothing was saved: no file is left where the
    /// video was to go. Retried like a cut connection (a cut body resumes
    /// from the bytes already on disk); this is the last refusal.
    #[error("the video host's answer is not a whole video: {reason}")]
    NotAVideo {
        /// What was wrong with it, in words (never the URL, which may be
        /// signed).
        reason: String,
    },
}

/// reqwest's message names the URL but not why ("connection refused", "body
/// cut short"): the causes are in its source chain, so they are spelled out.
fn with_causes(error: &reqwest::Error) -> String {
    let mut out = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = inner.source();
    }
    out
}

fn api_message(
    status: StatusCode,
    message: &str,
    invalid_params: &[InvalidParam],
    headers: &HeaderMap,
) -> String {
    let mut out = format!("the API answered {status}");
    if !message.is_empty() {
        out.push_str(": ");
        out.push_str(message);
    }
    for p in invalid_params {
        out.push_str(&format!("; {}: {}", p.name, p.reason));
    }
    // How long the service asked to wait is what a caller decides on (a
    // 429 for an hour is no reason to retry in a loop); the client's own
    // "not sent" 429 says it already.
    if let Some(wait) = crate::retry_after::retry_after(headers)
        && !out.contains("(Retry-After)")
    {
        out.push_str(&format!(
            "; the service asks to wait {} s (Retry-After)",
            wait.as_secs()
        ));
    }
    out
}

impl Error {
    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::Transport { source } => source.status(),
            Error::CreateUncertain(uncertain) => uncertain.cause.status(),
            Error::QuotaExceeded { status, .. } | Error::VideoUrlExpired { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed: connection
    /// problems, 408, 429 and 5xx gateway/availability statuses.
    ///
    /// This says nothing about whether a retry is *safe*: the SDK itself never
    /// repeats a create that may have reached the service.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => is_retryable_status(*status),
            // A proxy's page, or a body cut short: the next answer may be
            // the video (and a cut one resumes).
            Error::NotAVideo { .. } => true,
            Error::Transport { source } => {
                // A body cut short arrives as a body or decode error from
                // reqwest (JSON is decoded by serde elsewhere, so a decode
                // error here is always an incomplete read).
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
                    || source.is_decode()
            }
            _ => false,
        }
    }

    /// Whether this is a quota answer ([`Error::QuotaExceeded`]): a limit
    /// of the account is reached, and only a later run (or another plan)
    /// can go on.
    pub fn is_quota(&self) -> bool {
        matches!(self, Error::QuotaExceeded { .. })
    }

    /// The response headers of an [`Error::Api`] or [`Error::QuotaExceeded`].
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            Error::Api { headers, .. } | Error::QuotaExceeded { headers, .. } => Some(&**headers),
            _ => None,
        }
    }

    /// How long the service asked us to wait (`Retry-After`, in seconds or as an HTTP date).
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers().and_then(crate::retry_after::retry_after)
    }

    /// How long the service asked to wait, when the call was refused for
    /// the rate limit: a `429` from the service, or one this client gave the
    /// call without sending it, because an earlier `429`'s `Retry-After`
    /// pauses the client for longer than the call may wait (its message
    /// says how long the service asked). Zero when the `429` named no time;
    /// `None` for any other error.
    ///
    /// ```
    /// # fn handle(err: freepik_wan::Error) {
    /// if let Some(wait) = err.rate_limited() {
    ///     eprintln!("rate limited: try again in {} s", wait.as_secs());
    /// }
    /// # }
    /// ```
    pub fn rate_limited(&self) -> Option<Duration> {
        match self {
            Error::Api { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
                Some(self.retry_after().unwrap_or_default())
            }
            _ => None,
        }
    }

    /// The request id the service or its proxy attached, if any
    /// (`x-request-id`, `x-amzn-requestid` or `cf-ray`), for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        let headers = self.headers()?;
        ["x-request-id", "x-amzn-requestid", "x-amz-cf-id", "cf-ray"]
            .iter()
            .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
    }

    /// A rate-limit header of an [`Error::Api`], e.g. `rate_limit("remaining")`
    /// reads `x-ratelimit-remaining`.
    pub fn rate_limit(&self, which: &str) -> Option<&str> {
        let headers = self.headers()?;
        headers
            .get(format!("x-ratelimit-{which}"))
            .and_then(|v| v.to_str().ok())
    }
}

/// Whether a `429`'s message says a quota or limit is reached, rather than
/// that requests come too fast (the rule [`Error::QuotaExceeded`] documents).
pub(crate) fn is_quota_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    let rate = ["rate limit", "rate-limit", "ratelimit", "too many requests"];
    if rate.iter().any(|r| message.contains(r)) {
        return false;
    }
    let limit = message.contains("limit") || message.contains("quota");
    let reached = message.contains("reached") || message.contains("exceeded");
    limit && reached
}

/// The statuses worth a retry on an idempotent call.
impl Error {
    /// Whether this is an error answer whose body is the service's own JSON
    /// (not a gateway's page rewritten by the raw client), so the service
    /// itself answered.
    pub(crate) fn is_service_answer(&self) -> bool {
        self.headers().is_some_and(|headers| {
            !headers.contains_key(freepik_wan_api::error_body::RESCUED_BODY_HEADER)
                && headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("json"))
        })
    }
}

pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::is_quota_message;

    #[test]
    fn quota_messages_are_told_from_rate_limits() {
        for quota in [
            "Limit for free users reached.",
            "Your daily limit has been reached, the download limits has been reached",
            "You exceeded your current quota, please check your plan and billing details.",
            "Monthly QUOTA EXCEEDED",
        ] {
            assert!(is_quota_message(quota), "{quota}");
        }
        for rate in [
            "Too many requests",
            "Rate limit exceeded. Please slow down.",
            "Rate limit reached for requests",
            "Too many requests: limit reached",
            "",
            "<html>429</html>",
            "Slow down",
        ] {
            assert!(!is_quota_message(rate), "{rate}");
        }
    }
}
