//! Why a webhook did not verify.

use std::time::Duration;

use super::signature::no_match_message;

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
