//! What the SDK tells a `tracing` subscriber and (with the `metrics`
//! feature) a `metrics` recorder.
//!
//! Spans: one per operation (`freepik_wan.create`, `freepik_wan.wait`,
//! `freepik_wan.download`, `freepik_wan.upload`, `freepik_wan.reconcile`,
//! `freepik_wan.poll`, `freepik_wan.webhook.verify`,
//! `freepik_wan.webhook.deliver`), and one `freepik_wan.call` per HTTP
//! attempt below it, with OpenTelemetry's HTTP client fields. Nothing
//! secret is recorded: no key, no webhook secret, no URL query (where signed
//! URLs keep their tokens), no body.

use tracing::Span;

use crate::error::Error;
#[cfg(feature = "metrics")]
use crate::model::Model;

/// The span of one HTTP attempt of `operation`, numbered from 1. Its empty
/// fields are filled by whoever learns them: the raw client's hook (method,
/// address, path, status), the endpoint (model, task id), the retry loop
/// (error type).
pub(crate) fn call_span(operation: &'static str, attempt: u32) -> Span {
    let span = tracing::info_span!(
        "freepik_wan.call",
        freepik_wan.operation = operation,
        freepik_wan.attempt = attempt,
        http.request.method = tracing::field::Empty,
        server.address = tracing::field::Empty,
        url.path = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        http.request.resend_count = tracing::field::Empty,
        error.type = tracing::field::Empty,
        freepik_wan.model = tracing::field::Empty,
        freepik_wan.task_id = tracing::field::Empty,
        freepik_wan.paced_ms = tracing::field::Empty,
    );
    if attempt > 1 {
        span.record("http.request.resend_count", attempt - 1);
    }
    span
}

/// The span of one create, its uploads and its search after an uncertain
/// answer included; the model and task id are recorded by `send_create`.
pub(crate) fn create_span() -> Span {
    tracing::info_span!(
        "freepik_wan.create",
        freepik_wan.model = tracing::field::Empty,
        freepik_wan.task_id = tracing::field::Empty,
        freepik_wan.create.uncertain = tracing::field::Empty,
        freepik_wan.create.outcome = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Records the end of an operation on its span: `error.type` when it
/// failed.
pub(crate) fn record_outcome<T>(span: &Span, result: &Result<T, Error>) {
    if let Err(error) = result {
        span.record("error.type", error_type(error));
    }
}

/// Records the request line of an HTTP call made outside the raw client (a
/// video GET, an upload PUT) on the current call span: the host and the
/// path, never the query (a signed URL's token).
pub(crate) fn record_request(method: &str, url: &url::Url) {
    let span = Span::current();
    span.record("http.request.method", method);
    if let Some(host) = url.host_str() {
        span.record("server.address", host);
    }
    span.record("url.path", url.path());
}

/// Records an answer's status on the current call span.
pub(crate) fn record_status(status: u16) {
    Span::current().record("http.response.status_code", status);
}

/// Records a failed attempt on the current call span: `error.type` and the
/// status, when there was an answer.
pub(crate) fn record_error(error: &Error) {
    let span = Span::current();
    if let Some(status) = error.status() {
        span.record("http.response.status_code", status.as_u16());
    }
    span.record("error.type", error_type(error));
}

/// `error.type`: the status code for an error answer (as OpenTelemetry
/// asks), otherwise a short, bounded name of what failed.
pub(crate) fn error_type(error: &Error) -> &'static str {
    match error {
        Error::Api { status, .. } => status_name(status.as_u16()),
        Error::Transport { source } if source.is_timeout() => "timeout",
        Error::Transport { source } if source.is_connect() => "connect",
        Error::Transport { .. } => "transport",
        Error::Decode { .. } => "decode",
        Error::Validation { .. } | Error::UrlRequired { .. } => "validation",
        Error::TaskFailed { .. } => "task_failed",
        Error::Timeout { .. } => "wait_timeout",
        Error::Io { .. } => "io",
        Error::Config(_) => "config",
        Error::Webhook(_) => "webhook",
        Error::CreateUncertain(_) => "create_uncertain",
        Error::QuotaExceeded { .. } => "quota",
        Error::NoVideoUrl { .. } => "no_video_url",
        Error::VideoUrlExpired { .. } => "video_url_expired",
        Error::NotAVideo { .. } => "not_a_video",
        #[allow(unreachable_patterns)]
        _ => "_OTHER",
    }
}

/// `error.type` of a webhook that did not verify.
pub(crate) fn webhook_error_type(error: &crate::webhook::WebhookError) -> &'static str {
    use crate::webhook::WebhookError as E;
    match error {
        E::MissingHeader(_) => "missing_header",
        E::InvalidHeader(_) => "invalid_header",
        E::MalformedTimestamp { .. } => "malformed_timestamp",
        E::Stale { .. } => "stale",
        E::Future { .. } => "future",
        E::MalformedSignature { .. } => "malformed_signature",
        E::NoMatchingSignature { .. } => "no_matching_signature",
        E::InvalidSecret { .. } => "invalid_secret",
        E::Payload(_) => "payload",
    }
}

/// A status code as a `'static` label (the common ones named, the rest by
/// class), so that labels stay bounded and allocation-free. The class arms
/// come after the named codes on purpose.
#[allow(clippy::match_overlapping_arm)]
fn status_name(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        206 => "206",
        301 => "301",
        302 => "302",
        400 => "400",
        401 => "401",
        402 => "402",
        403 => "403",
        404 => "404",
        408 => "408",
        409 => "409",
        410 => "410",
        413 => "413",
        416 => "416",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The metrics, through the `metrics` facade; every function is a no-op
/// without the `metrics` feature. Names and labels are in the README's
/// "Observability" table.
#[cfg(feature = "metrics")]
pub(crate) mod metric {
    use super::*;
    use std::time::Duration;

    /// `freepik_wan_api_requests_total{operation, model, status}`: one per
    /// API call attempt that was answered or failed.
    pub(crate) fn api_request<T>(
        operation: &'static str,
        model: Option<Model>,
        result: &Result<T, Error>,
    ) {
        let status = match result {
            Ok(_) => "200",
            Err(error) => match error.status() {
                Some(status) => status_name(status.as_u16()),
                None => error_type(error),
            },
        };
        metrics::counter!(
            "freepik_wan_api_requests_total",
            "operation" => operation,
            "model" => model_label(model),
            "status" => status,
        )
        .increment(1);
    }

    /// `freepik_wan_creates_total{model, outcome}`.
    pub(crate) fn create(model: Model, outcome: &'static str) {
        metrics::counter!(
            "freepik_wan_creates_total",
            "model" => model.to_string(),
            "outcome" => outcome,
        )
        .increment(1);
    }

    /// `freepik_wan_retries_total{operation}`.
    pub(crate) fn retry(operation: &'static str) {
        metrics::counter!("freepik_wan_retries_total", "operation" => operation).increment(1);
    }

    /// `freepik_wan_paced_seconds{operation}`: time a call waited for the pacer.
    pub(crate) fn paced(operation: &'static str, waited: Duration) {
        metrics::histogram!("freepik_wan_paced_seconds", "operation" => operation)
            .record(waited.as_secs_f64());
    }

    /// `freepik_wan_wait_seconds{model, status}`: a wait, until its end.
    pub(crate) fn waited(model: Model, status: &'static str, waited: Duration) {
        metrics::histogram!(
            "freepik_wan_wait_seconds",
            "model" => model.to_string(),
            "status" => status,
        )
        .record(waited.as_secs_f64());
    }

    /// `freepik_wan_download_bytes_total{model}`.
    pub(crate) fn downloaded(model: Option<Model>, bytes: u64) {
        metrics::counter!("freepik_wan_download_bytes_total", "model" => model_label(model))
            .increment(bytes);
    }

    /// `freepik_wan_upload_bytes_total`.
    pub(crate) fn uploaded(bytes: u64) {
        metrics::counter!("freepik_wan_upload_bytes_total").increment(bytes);
    }

    fn model_label(model: Option<Model>) -> String {
        model.map_or_else(|| "none".to_owned(), |m| m.to_string())
    }
}

/// The same functions, doing nothing, without the `metrics` feature.
#[cfg(not(feature = "metrics"))]
pub(crate) mod metric {
    use crate::error::Error;
    use crate::model::Model;
    use std::time::Duration;

    pub(crate) fn api_request<T>(_: &'static str, _: Option<Model>, _: &Result<T, Error>) {}
    pub(crate) fn create(_: Model, _: &'static str) {}
    pub(crate) fn retry(_: &'static str) {}
    pub(crate) fn paced(_: &'static str, _: Duration) {}
    pub(crate) fn waited(_: Model, _: &'static str, _: Duration) {}
    pub(crate) fn downloaded(_: Option<Model>, _: u64) {}
    pub(crate) fn uploaded(_: u64) {}
}
