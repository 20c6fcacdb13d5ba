//! Verifying the webhooks Freepik sends on each status change of a task.
//!
//! Give a create call a `webhook_url` and the service POSTs
//! `{"task_id", "status", "generated"}` to it every time the task's status
//! changes. Each request is signed the [Standard Webhooks] way: the headers
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` carry an
//! HMAC-SHA256 over `"{id}.{timestamp}.{raw body}"`, keyed with the secret
//! from the Freepik developer dashboard.
//!
//! [`Verifier`] checks all of it — the clock skew first, then the signature in
//! constant time, and only then parses the body — and hands back a
//! [`WebhookEvent`]. Pass it the body exactly as it arrived: the signature
//! covers the raw bytes, so a body parsed and re-serialized by a framework
//! will not verify.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//!
//! use freepik_wan::TaskStatus;
//! use freepik_wan::webhook::{Verifier, WebhookSecret};
//! use reqwest::header::HeaderMap;
//!
//! // What a receiver does with each request:
//! fn handle(verifier: &Verifier, headers: &HeaderMap, body: &[u8]) -> Result<(), freepik_wan::Error> {
//!     let event = verifier.verify(headers, body)?;
//!     if event.status == TaskStatus::Completed {
//!         println!("task {} is done: {:?}", event.task_id, event.generated);
//!     }
//!     Ok(())
//! }
//!
//! // Simulate the service's request, signed with the same secret.
//! let secret = WebhookSecret::new("my-dashboard-secret");
//! let body = br#"{"task_id":"046b6c7f-0b8a-43b9-b35d-6489e6daee91","status":"COMPLETED","generated":["https://cdn.example/v.mp4"]}"#;
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut headers = HeaderMap::new();
//! headers.insert("webhook-id", "msg_1".parse()?);
//! headers.insert("webhook-timestamp", "1700000000".parse()?);
//! headers.insert("webhook-signature", secret.sign("msg_1", 1_700_000_000, body)?.parse()?);
//!
//! // `now` pins the clock for this example; a real receiver leaves it out.
//! let verifier = Verifier::new(secret).now(now);
//! handle(&verifier, &headers, body)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{Task, TaskId, TaskStatus};

/// How far a webhook's timestamp may be from this machine's clock, either
/// way, before it is refused: 5 minutes, as Standard Webhooks recommends.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const ID_HEADER: &str = "webhook-id";
const TIMESTAMP_HEADER: &str = "webhook-timestamp";
const SIGNATURE_HEADER: &str = "webhook-signature";

/// The only signature version this SDK knows; entries of other versions are
/// skipped so that a sender can add a new scheme alongside `v1`.
const SIGNATURE_VERSION: &str = "v1";

/// HMAC-SHA256 output length.
const TAG_LEN: usize = 32;

/// Standard alphabet, padding optional when decoding: senders and secret
/// stores differ on whether they keep the trailing `=`, and padding carries
/// no information.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// The signing secret from the Freepik developer dashboard.
///
/// Freepik's own examples disagree on how the secret becomes the HMAC key:
/// three languages use its UTF-8 bytes, one base64-decodes it. [`new`](Self::new)
/// follows the [Standard Webhooks] convention (a `whsec_` prefix means
/// base64, anything else is used as text); [`utf8`](Self::utf8) and
/// [`base64`](Self::base64) say it explicitly.
///
/// The key is zeroized on drop and never printed: `Debug` shows
/// `WebhookSecret([REDACTED])`.
///
/// ```
/// use freepik_wan::webhook::WebhookSecret;
///
/// let plain = WebhookSecret::new("s3cr3t");                // key = b"s3cr3t"
/// let standard = WebhookSecret::new("whsec_czNjcjN0");     // key = base64-decoded "czNjcjN0" = b"s3cr3t"
/// let explicit = WebhookSecret::base64("czNjcjN0")?;       // same key, said explicitly
/// assert_eq!(format!("{plain:?}"), "WebhookSecret([REDACTED])");
/// # let _ = (standard, explicit);
/// # Ok::<(), freepik_wan::webhook::WebhookError>(())
/// ```
///
/// [Standard Webhooks]: https://www.standardwebhooks.com/
#[derive(Clone)]
pub struct WebhookSecret {
    key: Key,
}

#[derive(Clone)]
enum Key {
    Ready(SecretSlice<u8>),
    /// `new` cannot fail, so a secret it cannot turn into a key is kept as
    /// this and reported by the first `verify`.
    Unusable(&'static str),
}

const EMPTY_SECRET: &str = "the webhook secret is empty";
const BAD_BASE64_SECRET: &str = "the webhook secret is not valid base64 (if it is meant as plain text, \
     use WebhookSecret::utf8)";

impl WebhookSecret {
    /// The secret as the dashboard shows it, with surrounding whitespace (a
    /// trailing newline from a file or `.env`) trimmed.
    ///
    /// A `whsec_`-prefixed secret is a Standard Webhooks secret: the rest is
    /// base64-decoded into the key. Any other secret is keyed by its UTF-8
    /// bytes. If the `whsec_` part is not valid base64, verification fails
    /// with [`WebhookError::InvalidSecret`].
    pub fn new(secret: impl Into<String>) -> Self {
        let secret = Zeroizing::new(secret.into());
        let secret = secret.trim();
        match secret.strip_prefix("whsec_") {
            Some(encoded) => Self::base64(encoded).unwrap_or_else(|err| WebhookSecret {
                key: Key::Unusable(match err {
                    WebhookError::InvalidSecret { reason } => reason,
                    _ => BAD_BASE64_SECRET,
                }),
            }),
            None => Self::utf8(secret),
        }
    }

    /// Keys the HMAC with the secret's UTF-8 bytes, exactly as given (no
    /// prefix handling, no trimming).
    pub fn utf8(secret: impl Into<String>) -> Self {
        let secret = Zeroizing::new(secret.into());
        Self::from_key(secret.as_bytes())
    }

    /// Keys the HMAC with the base64-decoded secret (standard alphabet,
    /// padding optional; a leading `whsec_` is dropped first).
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] if it is not base64 or decodes to
    /// nothing. The message never includes the secret.
    pub fn base64(secret: impl Into<String>) -> Result<Self, WebhookError> {
        let secret = Zeroizing::new(secret.into());
        let encoded = secret.strip_prefix("whsec_").unwrap_or(&secret);
        // The decode error names the offending character and its offset:
        // part of the secret, so it is not passed on.
        let key = LENIENT_BASE64
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret {
                reason: BAD_BASE64_SECRET,
            })?;
        let secret = Self::from_key(&Zeroizing::new(key));
        match secret.key {
            Key::Unusable(reason) => Err(WebhookError::InvalidSecret { reason }),
            Key::Ready(_) => Ok(secret),
        }
    }

    fn from_key(key: &[u8]) -> Self {
        // An empty key would make every signature forgeable by anyone.
        let key = if key.is_empty() {
            Key::Unusable(EMPTY_SECRET)
        } else {
            // `to_vec` allocates exactly `len`, so turning it into a boxed
            // slice does not reallocate and leave an unzeroized copy behind.
            Key::Ready(SecretSlice::from(key.to_vec()))
        };
        WebhookSecret { key }
    }

    fn key(&self) -> Result<&[u8], WebhookError> {
        match &self.key {
            Key::Ready(key) => Ok(key.expose_secret()),
            Key::Unusable(reason) => Err(WebhookError::InvalidSecret { reason }),
        }
    }

    /// Signs a request the way the service does, returning the
    /// `webhook-signature` header value (`"v1,<base64>"`).
    ///
    /// For tests of your own webhook handler and for mock servers; a
    /// receiver never needs it.
    ///
    /// ```
    /// use freepik_wan::webhook::WebhookSecret;
    ///
    /// let signature = WebhookSecret::new("s3cr3t").sign("msg_1", 1_700_000_000, b"{}")?;
    /// assert!(signature.starts_with("v1,"));
    /// # Ok::<(), freepik_wan::webhook::WebhookError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] for a secret that cannot be a key.
    pub fn sign(
        &self,
        webhook_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, WebhookError> {
        let tag = tag(self.key()?, webhook_id, &timestamp.to_string(), body);
        Ok(format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag)))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl From<&str> for WebhookSecret {
    fn from(secret: &str) -> Self {
        WebhookSecret::new(secret)
    }
}

impl From<String> for WebhookSecret {
    fn from(secret: String) -> Self {
        WebhookSecret::new(secret)
    }
}

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

/// Verifies a request with the default [`Verifier`] (5 minutes of
/// tolerance, the system clock).
///
/// ```no_run
/// # fn handler(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Result<(), freepik_wan::Error> {
/// let event = freepik_wan::webhook::verify("my-dashboard-secret", headers, body)?;
/// println!("task {} is now {}", event.task_id, event.status);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`Verifier::verify`].
pub fn verify(
    secret: impl Into<WebhookSecret>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WebhookEvent, WebhookError> {
    Verifier::new(secret).verify(headers, body)
}

/// A verified webhook: which task changed, to what status, and the video URLs
/// once it is `COMPLETED`.
///
/// The service sends one per status change, so a receiver sees intermediate
/// statuses too; a sender may also deliver the same request more than once,
/// so deduplicate on [`webhook_id`](Self::webhook_id) if that matters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The `webhook-id` header: the same for redeliveries of one message.
    pub webhook_id: String,
    /// The `webhook-timestamp` header, in Unix seconds.
    pub timestamp: i64,
    /// The task the event is about.
    pub task_id: TaskId,
    /// The task's new status.
    pub status: TaskStatus,
    /// URLs of the generated video (empty until `COMPLETED`).
    pub generated: Vec<String>,
}

impl WebhookEvent {
    /// The event as a [`Task`], to feed code that already handles tasks from
    /// polling.
    pub fn into_task(self) -> Task {
        Task::new(self.task_id, self.status, self.generated)
    }
}

/// Why a webhook request did not verify.
///
/// Messages say which check failed and by how much; none contains the secret
/// or the expected signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    #[error(
        "the {0} header is missing (is this a Freepik webhook, and does the server pass all headers through?)"
    )]
    MissingHeader(&'static str),
    /// A header holds bytes that are not visible ASCII.
    #[error("the {0} header is not visible ASCII text")]
    InvalidHeader(&'static str),
    /// `webhook-timestamp` is not a whole number of Unix seconds.
    #[error("the webhook-timestamp header {value:?} is not a number of Unix seconds")]
    MalformedTimestamp {
        /// The header value (cut to 40 characters).
        value: String,
    },
    /// The timestamp is further in the past than the tolerance allows.
    #[error(
        "the webhook was sent {}s ago; the tolerance is {}s (a replayed request, or this machine's clock is ahead)",
        age.as_secs(),
        tolerance.as_secs()
    )]
    Stale {
        /// How long ago it was sent, by this machine's clock.
        age: Duration,
        /// The tolerance in force.
        tolerance: Duration,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error(
        "the webhook is timestamped {}s in the future; the tolerance is {}s (is this machine's clock behind?)",
        ahead.as_secs(),
        tolerance.as_secs()
    )]
    Future {
        /// How far ahead of this machine's clock it is.
        ahead: Duration,
        /// The tolerance in force.
        tolerance: Duration,
    },
    /// `webhook-signature` is not a list of `version,base64` entries, and no
    /// well-formed entry matched.
    #[error("malformed webhook-signature header: {detail}")]
    MalformedSignature {
        /// What is wrong with it.
        detail: String,
    },
    /// No `v1` entry of `webhook-signature` matches.
    #[error("{}", no_match_message(*v1_entries))]
    NoMatchingSignature {
        /// How many `v1` entries were checked (0: the header held only other versions).
        v1_entries: usize,
    },
    /// The secret cannot be used as a key.
    #[error("{reason}")]
    InvalidSecret {
        /// Why (never the secret itself).
        reason: &'static str,
    },
    /// The signature matched but the body is not `{"task_id", "status", "generated"}`.
    #[error("the signature is valid but the body is not a task event: {0}")]
    Payload(#[source] serde_json::Error),
}

fn no_match_message(v1_entries: usize) -> String {
    match v1_entries {
        0 => format!(
            "the {SIGNATURE_HEADER} header holds no {SIGNATURE_VERSION} signature, only versions this SDK does not know"
        ),
        n => format!(
            "none of the {n} {SIGNATURE_VERSION} signature(s) in {SIGNATURE_HEADER} matches: a different secret, \
             or the id, timestamp or body changed on the way (verify the raw body bytes, before any parsing)"
        ),
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

fn tag(key: &[u8], webhook_id: &str, timestamp: &str, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Accepts if any `v1` entry matches. A malformed entry does not stop the
/// search, so one bad entry next to a good one (a sender mid-rotation) still
/// verifies; it is only reported when nothing matched.
fn check_signatures(header: &str, expected: &[u8; TAG_LEN]) -> Result<(), WebhookError> {
    let mut v1_entries = 0;
    let mut malformed = None;
    let mut any_entry = false;
    for (index, entry) in header.split_ascii_whitespace().enumerate() {
        any_entry = true;
        let Some((version, encoded)) = entry.split_once(',') else {
            malformed.get_or_insert_with(|| {
                format!(
                    "entry {} has no comma between version and signature",
                    index + 1
                )
            });
            continue;
        };
        if version != SIGNATURE_VERSION {
            continue;
        }
        v1_entries += 1;
        let Ok(candidate) = LENIENT_BASE64.decode(encoded) else {
            malformed.get_or_insert_with(|| format!("entry {} is not valid base64", index + 1));
            continue;
        };
        if candidate.len() != TAG_LEN {
            malformed.get_or_insert_with(|| {
                format!(
                    "entry {} decodes to {} bytes, not the {TAG_LEN} of an HMAC-SHA256",
                    index + 1,
                    candidate.len()
                )
            });
            continue;
        }
        if bool::from(candidate.ct_eq(expected)) {
            return Ok(());
        }
    }
    if !any_entry {
        return Err(WebhookError::MalformedSignature {
            detail: "it is empty".to_owned(),
        });
    }
    match malformed {
        Some(detail) => Err(WebhookError::MalformedSignature { detail }),
        None => Err(WebhookError::NoMatchingSignature { v1_entries }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-secret-do-not-print";
    const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
    const NOW: i64 = 1_700_000_000;
    const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";
    const BODY: &[u8] =
        br#"{"task_id":"046b6c7f-0b8a-43b9-b35d-6489e6daee91","status":"COMPLETED","generated":["https://cdn.example/v.mp4"]}"#;

    /// Computed independently of the code under test.
    fn sig(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        STANDARD.encode(mac.finalize().into_bytes())
    }

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    fn verifier() -> Verifier {
        Verifier::new(SECRET).now(at(NOW))
    }

    fn headers(id: &str, ts: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ID_HEADER, id.parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        h.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        h
    }

    fn good_headers() -> HeaderMap {
        let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        headers(ID, &NOW.to_string(), &format!("v1,{s}"))
    }

    #[test]
    fn valid_signature_verifies_and_parses() {
        let event = verifier().verify(&good_headers(), BODY).unwrap();
        assert_eq!(event.webhook_id, ID);
        assert_eq!(event.timestamp, NOW);
        assert_eq!(event.task_id, TaskId::from(TASK));
        assert_eq!(event.status, TaskStatus::Completed);
        assert_eq!(
            event.generated,
            vec!["https://cdn.example/v.mp4".to_owned()]
        );
        let task = event.into_task();
        assert_eq!(task.video_url(), Some("https://cdn.example/v.mp4"));
    }

    #[test]
    fn free_function_uses_system_clock() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let s = sig(SECRET.as_bytes(), ID, &now, BODY);
        let event = verify(SECRET, &headers(ID, &now, &format!("v1,{s}")), BODY).unwrap();
        assert_eq!(event.status, TaskStatus::Completed);
        // And the same request a day later is refused.
        let old = (NOW - 86_400).to_string();
        let s = sig(SECRET.as_bytes(), ID, &old, BODY);
        let err = verify(SECRET, &headers(ID, &old, &format!("v1,{s}")), BODY).unwrap_err();
        assert!(matches!(err, WebhookError::Stale { .. }), "{err:?}");
    }

    #[test]
    fn sign_matches_independent_computation() {
        let expected = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let signed = WebhookSecret::new(SECRET).sign(ID, NOW, BODY).unwrap();
        assert_eq!(signed, format!("v1,{expected}"));
    }

    #[test]
    fn rotated_list_second_entry_matches() {
        let old = sig(b"old-secret", ID, &NOW.to_string(), BODY);
        let new = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let h = headers(ID, &NOW.to_string(), &format!("v1,{old} v1,{new}"));
        verifier().verify(&h, BODY).unwrap();
        // Only the old one: refused, and the count says both were tried.
        let h = headers(ID, &NOW.to_string(), &format!("v1,{old} v1,{old}"));
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { v1_entries: 2 }),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_version_entries_are_ignored() {
        let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let h = headers(
            ID,
            &NOW.to_string(),
            &format!("v1a,Zm9v v2,{good}x v1,{good}"),
        );
        verifier().verify(&h, BODY).unwrap();
        // A correct HMAC under another version label must not count as v1.
        let h = headers(ID, &NOW.to_string(), &format!("v2,{good}"));
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { v1_entries: 0 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("no v1 signature"), "{err}");
    }

    #[test]
    fn signature_list_split_over_several_header_lines() {
        let old = sig(b"old-secret", ID, &NOW.to_string(), BODY);
        let new = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let mut h = headers(ID, &NOW.to_string(), &format!("v1,{old}"));
        h.append(SIGNATURE_HEADER, format!("v1,{new}").parse().unwrap());
        verifier().verify(&h, BODY).unwrap();
    }

    #[test]
    fn malformed_entry_next_to_valid_one_still_verifies() {
        let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let h = headers(ID, &NOW.to_string(), &format!("garbage v1,{good}"));
        verifier().verify(&h, BODY).unwrap();
    }

    #[test]
    fn tampered_body_is_refused() {
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("COMPLETED", "FAILED");
        let err = verifier()
            .verify(&good_headers(), tampered.as_bytes())
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { v1_entries: 1 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("raw body"), "{err}");
    }

    #[test]
    fn tampered_id_is_refused() {
        let mut h = good_headers();
        h.insert(ID_HEADER, "msg_other".parse().unwrap());
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn tampered_timestamp_within_tolerance_is_refused() {
        let mut h = good_headers();
        h.insert(TIMESTAMP_HEADER, (NOW + 1).to_string().parse().unwrap());
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn wrong_secret_is_refused() {
        let err = Verifier::new("another-secret")
            .now(at(NOW))
            .verify(&good_headers(), BODY)
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { v1_entries: 1 }),
            "{err:?}"
        );
    }

    fn signed_at(ts: i64) -> HeaderMap {
        let s = sig(SECRET.as_bytes(), ID, &ts.to_string(), BODY);
        headers(ID, &ts.to_string(), &format!("v1,{s}"))
    }

    #[test]
    fn stale_timestamp_is_refused() {
        let err = verifier().verify(&signed_at(NOW - 360), BODY).unwrap_err();
        match &err {
            WebhookError::Stale { age, tolerance } => {
                assert_eq!(*age, Duration::from_secs(360));
                assert_eq!(*tolerance, DEFAULT_TOLERANCE);
            }
            other => panic!("expected Stale, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("360s ago") && msg.contains("300s"), "{msg}");
    }

    #[test]
    fn future_timestamp_is_refused() {
        let err = verifier().verify(&signed_at(NOW + 360), BODY).unwrap_err();
        match &err {
            WebhookError::Future { ahead, .. } => assert_eq!(*ahead, Duration::from_secs(360)),
            other => panic!("expected Future, got {other:?}"),
        }
        assert!(err.to_string().contains("360s in the future"), "{err}");
    }

    #[test]
    fn tolerance_edges_and_configuration() {
        // Exactly at the tolerance is accepted both ways; one second more is not.
        verifier().verify(&signed_at(NOW - 300), BODY).unwrap();
        verifier().verify(&signed_at(NOW + 300), BODY).unwrap();
        assert!(verifier().verify(&signed_at(NOW - 301), BODY).is_err());
        assert!(verifier().verify(&signed_at(NOW + 301), BODY).is_err());

        let wide = verifier().tolerance(Duration::from_secs(600));
        wide.verify(&signed_at(NOW - 360), BODY).unwrap();
        wide.verify(&signed_at(NOW + 360), BODY).unwrap();
        let narrow = verifier().tolerance(Duration::from_secs(10));
        let err = narrow.verify(&signed_at(NOW - 11), BODY).unwrap_err();
        assert!(matches!(err, WebhookError::Stale { .. }), "{err:?}");
    }

    #[test]
    fn clock_is_checked_before_the_signature() {
        let h = headers(ID, &(NOW - 3600).to_string(), "v1,not-even-base64!");
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(matches!(err, WebhookError::Stale { .. }), "{err:?}");
    }

    #[test]
    fn body_is_parsed_only_after_the_signature() {
        let h = headers(
            ID,
            &NOW.to_string(),
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let err = verifier().verify(&h, b"not json").unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { .. }),
            "{err:?}"
        );
        // Signed garbage gets past the signature and fails as a payload.
        let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), b"not json");
        let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));
        let err = verifier().verify(&h, b"not json").unwrap_err();
        assert!(matches!(err, WebhookError::Payload(_)), "{err:?}");
        assert!(err.to_string().contains("signature is valid"), "{err}");
    }

    #[test]
    fn each_missing_header_is_named() {
        for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let mut h = good_headers();
            h.remove(name);
            let err = verifier().verify(&h, BODY).unwrap_err();
            assert!(
                matches!(err, WebhookError::MissingHeader(n) if n == name),
                "{err:?}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn non_ascii_header_is_reported() {
        let mut h = good_headers();
        h.insert(
            ID_HEADER,
            reqwest::header::HeaderValue::from_bytes(b"msg_\xff").unwrap(),
        );
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(
            matches!(err, WebhookError::InvalidHeader(ID_HEADER)),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for ts in [
            "",
            "abc",
            "1700000000.5",
            "+1700000000",
            "-5",
            " 1700000000",
            "99999999999999999999",
        ] {
            let err = verifier()
                .verify_parts(ID, ts, "v1,AAAA", BODY)
                .unwrap_err();
            assert!(
                matches!(err, WebhookError::MalformedTimestamp { .. }),
                "{ts:?}: {err:?}"
            );
        }
        let err = verifier()
            .verify_parts(ID, "soon", "v1,AAAA", BODY)
            .unwrap_err();
        assert!(err.to_string().contains("\"soon\""), "{err}");
    }

    #[test]
    fn malformed_signature_entries_are_refused() {
        let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let cases = [
            (good.clone(), "no comma"),
            ("v1,@@@not base64@@@".to_owned(), "not valid base64"),
            ("v1,Zm9v".to_owned(), "3 bytes"),
            ("   ".to_owned(), "empty"),
        ];
        for (header, why) in cases {
            let err = verifier()
                .verify_parts(ID, &NOW.to_string(), &header, BODY)
                .unwrap_err();
            assert!(
                matches!(err, WebhookError::MalformedSignature { .. }),
                "{header:?}: {err:?}"
            );
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn unpadded_signature_is_accepted() {
        let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let unpadded = good.trim_end_matches('=');
        assert_ne!(unpadded, good);
        verifier()
            .verify_parts(ID, &NOW.to_string(), &format!("v1,{unpadded}"), BODY)
            .unwrap();
    }

    #[test]
    fn whsec_secret_is_base64_decoded() {
        let key = b"\x00\x01raw key bytes\xfe\xff";
        let secret = format!("whsec_{}", STANDARD.encode(key));
        let s = sig(key, ID, &NOW.to_string(), BODY);
        let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));

        Verifier::new(secret.as_str())
            .now(at(NOW))
            .verify(&h, BODY)
            .unwrap();
        Verifier::new(WebhookSecret::base64(secret.as_str()).unwrap())
            .now(at(NOW))
            .verify(&h, BODY)
            .unwrap();
        // Keyed with the literal text it does not match.
        let err = Verifier::new(WebhookSecret::utf8(secret.as_str()))
            .now(at(NOW))
            .verify(&h, BODY)
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::NoMatchingSignature { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn plain_secret_is_utf8_and_explicit_choice_wins() {
        // "czNjcjN0" is valid base64 (of "s3cr3t"), yet `new` keys with its text.
        let s_text = sig(b"czNjcjN0", ID, &NOW.to_string(), BODY);
        let s_decoded = sig(b"s3cr3t", ID, &NOW.to_string(), BODY);
        let by_text = headers(ID, &NOW.to_string(), &format!("v1,{s_text}"));
        let by_decoded = headers(ID, &NOW.to_string(), &format!("v1,{s_decoded}"));

        Verifier::new("czNjcjN0")
            .now(at(NOW))
            .verify(&by_text, BODY)
            .unwrap();
        assert!(
            Verifier::new("czNjcjN0")
                .now(at(NOW))
                .verify(&by_decoded, BODY)
                .is_err()
        );
        Verifier::new(WebhookSecret::base64("czNjcjN0").unwrap())
            .now(at(NOW))
            .verify(&by_decoded, BODY)
            .unwrap();
        // `new` trims a trailing newline from a secret file; `utf8` keeps it.
        Verifier::new("czNjcjN0\n")
            .now(at(NOW))
            .verify(&by_text, BODY)
            .unwrap();
        assert!(
            Verifier::new(WebhookSecret::utf8("czNjcjN0\n"))
                .now(at(NOW))
                .verify(&by_text, BODY)
                .is_err()
        );
    }

    #[test]
    fn unusable_secrets_are_reported_without_the_secret() {
        let err = WebhookSecret::base64("not*base64*secret").unwrap_err();
        assert!(matches!(err, WebhookError::InvalidSecret { .. }), "{err:?}");
        assert!(!err.to_string().contains("secret*"), "{err}");

        let err = verifier_with("whsec_not*base64*secret");
        assert!(matches!(err, WebhookError::InvalidSecret { .. }), "{err:?}");
        assert!(!err.to_string().contains("not*base64"), "{err}");
        // The decode error would name the bad character and its offset.
        assert!(!err.to_string().contains("offset"), "{err}");

        let err = verifier_with("");
        assert!(err.to_string().contains("empty"), "{err}");
        assert!(matches!(
            WebhookSecret::base64("whsec_"),
            Err(WebhookError::InvalidSecret { .. })
        ));
    }

    fn verifier_with(secret: &str) -> WebhookError {
        Verifier::new(secret)
            .now(at(NOW))
            .verify(&good_headers(), BODY)
            .unwrap_err()
    }

    #[test]
    fn unknown_status_and_missing_generated() {
        let body = format!(r#"{{"task_id":"{TASK}","status":"QUEUED","extra":{{"x":1}}}}"#);
        let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), body.as_bytes());
        let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));
        let event = verifier().verify(&h, body.as_bytes()).unwrap();
        assert_eq!(event.status, TaskStatus::Other("QUEUED".to_owned()));
        assert!(event.generated.is_empty());

        let body = format!(r#"{{"task_id":"{TASK}","status":"IN_PROGRESS","generated":null}}"#);
        let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), body.as_bytes());
        let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));
        let event = verifier().verify(&h, body.as_bytes()).unwrap();
        assert_eq!(event.status, TaskStatus::InProgress);
        assert!(event.generated.is_empty());
    }

    #[test]
    fn no_message_or_debug_contains_the_secret_or_expected_signature() {
        let expected = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
        let wrong = sig(b"x", ID, &NOW.to_string(), BODY);
        let mut errors = vec![
            verifier()
                .verify(&headers(ID, "1", "v1,AAAA"), BODY)
                .unwrap_err(),
            verifier()
                .verify(&headers(ID, &(NOW + 999).to_string(), "v1,AAAA"), BODY)
                .unwrap_err(),
            verifier()
                .verify(&headers(ID, &NOW.to_string(), &format!("v1,{wrong}")), BODY)
                .unwrap_err(),
            verifier()
                .verify(&headers(ID, &NOW.to_string(), "v1,!!"), BODY)
                .unwrap_err(),
            verifier()
                .verify_parts(ID, "x", "v1,AAAA", BODY)
                .unwrap_err(),
        ];
        let mut h = good_headers();
        h.remove(SIGNATURE_HEADER);
        errors.push(verifier().verify(&h, BODY).unwrap_err());
        for err in errors {
            for text in [
                err.to_string(),
                format!("{err:?}"),
                crate::Error::from(err).to_string(),
            ] {
                assert!(!text.contains(SECRET), "{text}");
                assert!(!text.contains(&expected), "{text}");
                assert!(!text.contains(&expected[..12]), "{text}");
            }
        }
        let debug = format!("{:?}", verifier());
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }
}
