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

mod error;
mod event;
mod recent;
mod secret;
mod signature;
mod verifier;

use std::time::Duration;

use reqwest::header::HeaderMap;

pub use error::WebhookError;
pub use event::WebhookEvent;
pub use recent::{DEFAULT_RECENT_IDS, RecentIds};
pub use secret::WebhookSecret;
pub use verifier::Verifier;

/// How far a webhook's timestamp may be from this machine's clock, either
/// way, before it is refused: 5 minutes, as Standard Webhooks recommends.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

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

#[cfg(test)]
mod tests;
