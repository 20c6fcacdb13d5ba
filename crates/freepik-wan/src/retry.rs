//! Retrying calls that failed for reasons that may pass: with jittered
//! exponential backoff (from `backon`), `Retry-After` honoured, inside an
//! overall time budget, and never repeating a create that may have reached
//! the service.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use tracing::Instrument;

use crate::error::{Error, Result};

/// How the client retries calls that failed for reasons that may pass.
///
/// Status, list and download calls are retried on connection errors, on
/// 408, 429, 500, 502, 503 and 504, and on a `2xx` whose body is not the
/// API's JSON (a proxy's HTML page answering for the service). A create is retried only when the service
/// cannot have acted on it (its own 429 or 503, or a connection that failed
/// before the request was written): repeating it after a timeout, a gateway's
/// error or a redirect could start a second, paid task.
///
/// ```
/// use std::time::Duration;
/// use freepik_wan::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(5)
///     .initial_backoff(Duration::from_millis(200))
///     .budget(Duration::from_secs(30));
/// # let _ = policy;
/// let never = RetryPolicy::none();
/// # let _ = never;
/// ```
#[derive(Clone, Debug)]
#[must_use = "a policy does nothing until given to ClientBuilder::retry"]
pub struct RetryPolicy {
    max_retries: usize,
    initial_backoff: Duration,
    max_backoff: Duration,
    pub(crate) budget: Duration,
    retry_creates: bool,
}

impl Default for RetryPolicy {
    /// Three retries, backoff from 500 ms up to 10 s with jitter, at most 60 s
    /// spent waiting in all, safe create retries on.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            budget: Duration::from_secs(60),
            retry_creates: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all: every call is tried once.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// How many times a call may be repeated after its first try.
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff delay; each later one doubles, with jitter.
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The longest single backoff delay.
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// The most time one call may spend waiting between tries, `Retry-After`
    /// included; a wait that would pass it ends the call with the last error.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Whether creates are retried at all (only ever when the service cannot
    /// have acted on them). On by default.
    pub fn retry_creates(mut self, on: bool) -> Self {
        self.retry_creates = on;
        self
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.max_retries)
            .with_jitter()
    }
}

/// Whether a call may be repeated without side effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads: status, list, download.
    Idempotent,
    /// Create: repeating it may start a second task.
    Create,
}

/// What a failed create says about whether the service acted on it: the
/// one rule behind both retrying a create and calling it uncertain.
///
/// Only an answer that proves nothing was made counts as "not acted": the
/// service's own 429, its own 503 (its JSON error, or one carrying
/// `Retry-After`), or a connection that never opened. The service's 4xx
/// refusals (other than 408) are refusals. Everything else may have made a
/// task: any other 5xx (a gateway's 500/502/504, Cloudflare's 520/524, a 503
/// from a proxy that forwarded first), a proxy's 408, a redirect, a success
/// status the spec does not name, a cut or timed-out connection, or a success
/// whose body could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CreateFailure {
    /// It cannot have acted. Safe to send again.
    NotActed,
    /// It may have acted: the task may exist.
    MayHaveActed,
    /// Refused for what it asked, or failed before sending.
    Refused,
}

impl CreateFailure {
    pub(crate) fn of(error: &Error) -> CreateFailure {
        match error {
            Error::Api { status, .. } => match status.as_u16() {
                429 => CreateFailure::NotActed,
                503 if error.is_service_answer() || error.retry_after().is_some() => {
                    CreateFailure::NotActed
                }
                408 | 499 => CreateFailure::MayHaveActed,
                400..=499 => CreateFailure::Refused,
                _ => CreateFailure::MayHaveActed,
            },
            Error::Transport { source } if source.is_connect() => CreateFailure::NotActed,
            Error::Transport { .. } => CreateFailure::MayHaveActed,
            Error::Decode { status, .. } if !status.is_client_error() => {
                CreateFailure::MayHaveActed
            }
            _ => CreateFailure::Refused,
        }
    }
}

/// A `2xx` answer whose body could not be decoded: not the service's JSON.
fn is_stand_in_page(error: &Error) -> bool {
    matches!(error, Error::Decode { status, .. } if status.is_success())
}

impl RetryPolicy {
    fn should_retry(&self, error: &Error, kind: Idempotency) -> bool {
        match kind {
            // A success status whose body is not the API's JSON is a proxy's
            // or captive portal's page standing in for the answer: a read
            // asks again, as after a 502 page.
            Idempotency::Idempotent => error.is_retryable() || is_stand_in_page(error),
            Idempotency::Create => {
                self.retry_creates && CreateFailure::of(error) == CreateFailure::NotActed
            }
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the policy is spent.
    /// Each attempt runs in its own span, numbered from 1.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        operation: &'static str,
        kind: Idempotency,
        mut call: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut attempt = 0u32;
        let budget = self.budget;
        (|| {
            attempt += 1;
            let span = crate::observe::call_span(operation, attempt);
            let call = call();
            async move {
                let result = call.await;
                if let Err(error) = &result {
                    crate::observe::record_error(error);
                }
                result
            }
            .instrument(span)
        })
        .retry(self.backoff())
        .sleep(tokio::time::sleep)
        .when(|e| self.should_retry(e, kind))
        .adjust(|e, backoff| {
            // The server's Retry-After wins over our own schedule, but only
            // while the policy still allows another try at all.
            let delay = match (backoff, e.retry_after()) {
                (Some(ours), Some(theirs)) => Some(ours.max(theirs)),
                (ours, _) => ours,
            }?;
            (started.elapsed() + delay <= budget).then_some(delay)
        })
        .notify(|e, delay| {
            crate::observe::metric::retry(operation);
            tracing::warn!(operation, error = %e, retry_in_ms = delay.as_millis() as u64, "retrying")
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn api(status: u16, content_type: &str, extra: &[(&'static str, &str)]) -> Error {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
        for (name, value) in extra {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Error::Api {
            status: StatusCode::from_u16(status).unwrap(),
            message: String::new(),
            invalid_params: Vec::new(),
            headers: Box::new(headers),
        }
    }

    #[test]
    fn only_an_answer_that_proves_nothing_was_made_counts_as_not_acted() {
        let json = "application/json";
        let rescued = [(freepik_wan_api::error_body::RESCUED_BODY_HEADER, "1")];
        let cases = [
            (api(429, json, &[]), CreateFailure::NotActed),
            (api(503, json, &[]), CreateFailure::NotActed),
            (api(503, json, &rescued), CreateFailure::MayHaveActed),
            (
                api(503, "text/html", &[("retry-after", "5")]),
                CreateFailure::NotActed,
            ),
            (api(503, "text/html", &[]), CreateFailure::MayHaveActed),
            (api(520, "text/html", &[]), CreateFailure::MayHaveActed),
            (api(524, "text/html", &[]), CreateFailure::MayHaveActed),
            (api(408, "text/html", &[]), CreateFailure::MayHaveActed),
            (api(302, "text/html", &[]), CreateFailure::MayHaveActed),
            (api(201, json, &[]), CreateFailure::MayHaveActed),
            (api(500, json, &[]), CreateFailure::MayHaveActed),
            (api(400, json, &[]), CreateFailure::Refused),
            (api(401, json, &[]), CreateFailure::Refused),
            (api(402, json, &[]), CreateFailure::Refused),
            (api(403, json, &[]), CreateFailure::Refused),
        ];
        for (error, expected) in cases {
            assert_eq!(CreateFailure::of(&error), expected, "{error:?}");
        }
    }
}
