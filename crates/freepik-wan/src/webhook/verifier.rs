//! Checking a request: headers, timestamp, signatures, then the body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;

use super::signature::{check_signatures, tag};
use super::{DEFAULT_TOLERANCE, WebhookError, WebhookEvent, WebhookSecret};
use crate::{TaskId, TaskStatus};

pub(super) const ID_HEADER: &str = "webhook-id";
pub(super) const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub(super) const SIGNATURE_HEADER: &str = "webhook-signature";

/// Checks webhook requests against the signing secret and the clock.
///
/// Build one at start-up and share it between requests (it is `Clone` and
/// holds no per-request state).
///
/// ```no_run
/// use std::time::Duration;
///
/// use freepik_wan::webhook::{Verifier, WebhookSecret};
///
/// let secret = std::env::var("FREEPIK_WEBHOOK_SECRET")?;
/// let verifier = Verifier::new(WebhookSecret::new(secret))
///     // Allow more skew for a receiver whose clock is not NTP-synced.
///     .tolerance(Duration::from_secs(10 * 60));
/// # let _ = verifier;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a verifier does nothing until it verifies a request"]
pub struct Verifier {
    secret: WebhookSecret,
    tolerance: Duration,
    now: Option<SystemTime>,
}

impl Verifier {
    /// A verifier with the default tolerance ([`DEFAULT_TOLERANCE`], 5
    /// minutes) and the system clock.
    pub fn new(secret: impl Into<WebhookSecret>) -> Self {
        Verifier {
            secret: secret.into(),
            tolerance: DEFAULT_TOLERANCE,
            now: None,
        }
    }

    /// How far the `webhook-timestamp` may be from now, in either direction.
    ///
    /// Larger values accept replays of older requests for longer; smaller
    /// ones refuse more requests from senders with a skewed clock.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Uses a fixed "now" instead of the system clock, for tests and for
    /// re-checking a stored request as of when it arrived.
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Verifies a request from its headers and its raw body.
    ///
    /// # Errors
    ///
    /// A [`WebhookError`] saying which check failed: a missing or unreadable
    /// header, a timestamp outside the tolerance, no matching signature, or
    /// (after the signature matched) a body that is not a task event.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        let id = header(headers, ID_HEADER)?;
        let timestamp = header(headers, TIMESTAMP_HEADER)?;
        // A proxy may split one list into several header lines; any line's
        // entries may carry the matching signature.
        let mut signatures = headers.get_all(SIGNATURE_HEADER).iter();
        let first = signatures
            .next()
            .ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
        let mut signature = header_text(first, SIGNATURE_HEADER)?.to_owned();
        for more in signatures {
            signature.push(' ');
            signature.push_str(header_text(more, SIGNATURE_HEADER)?);
        }
        self.verify_parts(id, timestamp, &signature, body)
    }

    /// Verifies a request from the three header values and the raw body, for
    /// frameworks whose header type is not [`HeaderMap`].
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify), except that no header can be missing.
    pub fn verify_parts(
        &self,
        webhook_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        // The id and the outcome only: never the secret, the signature or
        // the body.
        let span = tracing::info_span!(
            "freepik_wan.webhook.verify",
            freepik_wan.webhook.id = webhook_id,
            freepik_wan.task_id = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let _in = span.enter();
        let verified = self.verify_inner(webhook_id, timestamp, signature, body);
        match &verified {
            Ok(event) => {
                span.record("freepik_wan.task_id", event.task_id.as_str());
            }
            Err(error) => {
                span.record("error.type", crate::observe::webhook_error_type(error));
            }
        }
        verified
    }

    fn verify_inner(
        &self,
        webhook_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let key = self.secret.key()?;
        let sent_at = parse_timestamp(timestamp)?;
        // The clock check comes first: a replayed request is refused without
        // spending an HMAC on it.
        self.check_clock(sent_at)?;
        // Sign the header text as received, not a re-formatted number: the
        // sender signed what it sent.
        let expected = tag(key, webhook_id, timestamp, body);
        check_signatures(signature, &expected)?;

        let payload: Payload = serde_json::from_slice(body).map_err(WebhookError::Payload)?;
        Ok(WebhookEvent {
            webhook_id: webhook_id.to_owned(),
            timestamp: sent_at,
            task_id: payload.task_id,
            status: payload.status,
            generated: payload.generated.unwrap_or_default(),
        })
    }

    fn check_clock(&self, sent_at: i64) -> Result<(), WebhookError> {
        let now = self.now.unwrap_or_else(SystemTime::now);
        let now_secs = match now.duration_since(UNIX_EPOCH) {
            Ok(since) => i128::from(since.as_secs()),
            Err(before) => -i128::from(before.duration().as_secs()),
        };
        let skew = now_secs - i128::from(sent_at);
        let distance = Duration::from_secs(u64::try_from(skew.unsigned_abs()).unwrap_or(u64::MAX));
        if distance <= self.tolerance {
            Ok(())
        } else if skew > 0 {
            Err(WebhookError::Stale {
                age: distance,
                tolerance: self.tolerance,
            })
        } else {
            Err(WebhookError::Future {
                ahead: distance,
                tolerance: self.tolerance,
            })
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    task_id: TaskId,
    status: TaskStatus,
    // `Option` so that `"generated": null` reads as empty too.
    #[serde(default)]
    generated: Option<Vec<String>>,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookError> {
    header_text(
        headers.get(name).ok_or(WebhookError::MissingHeader(name))?,
        name,
    )
}

fn header_text<'a>(value: &'a HeaderValue, name: &'static str) -> Result<&'a str, WebhookError> {
    value
        .to_str()
        .map_err(|_| WebhookError::InvalidHeader(name))
}

fn parse_timestamp(raw: &str) -> Result<i64, WebhookError> {
    // Digits only: `i64::from_str` would also take `+17...`, and the signed
    // content must be the header text itself.
    let parsed = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse::<i64>().ok()
    } else {
        None
    };
    parsed.ok_or_else(|| WebhookError::MalformedTimestamp {
        value: raw.chars().take(40).collect(),
    })
}
