//! Webhook delivery in the Standard Webhooks layout Freepik uses.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::sync::watch;

use crate::stats::StatsCollector;

/// Attempts per event, the first included.
const MAX_ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled for each further one.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// A receiver that hangs must not stall the task's later events forever.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the secret's UTF-8
/// bytes (how Freepik's docs key it in most of their examples).
pub(crate) fn signature(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// What a delivery worker needs from the simulator.
#[derive(Clone)]
pub(crate) struct Sender {
    pub(crate) client: reqwest::Client,
    pub(crate) secret: Arc<str>,
    pub(crate) stats: Arc<StatsCollector>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Fault: every event is delivered twice, with the same `webhook-id`.
    pub(crate) duplicates: bool,
    /// Fault: a task's events are held until the queue closes, then sent newest first.
    pub(crate) reorder: bool,
}

impl Sender {
    /// Starts the delivery worker of one task and returns the queue its events go into.
    ///
    /// One worker per task delivers its events strictly in order, each retried before the
    /// next is tried, so a receiver never sees COMPLETED before CREATED. The worker stops
    /// when the queue is closed and drained, or when the simulator shuts down.
    pub(crate) fn spawn_worker(&self, url: String) -> mpsc::UnboundedSender<Bytes> {
        let (queue, mut events) = mpsc::unbounded_channel::<Bytes>();
        let sender = self.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let work = async {
                let mut held = Vec::new();
                while let Some(body) = events.recv().await {
                    if sender.reorder {
                        held.push(body);
                    } else {
                        sender.deliver(&url, body).await;
                    }
                }
                // The queue closes once the terminal event is in: newest first.
                for body in held.into_iter().rev() {
                    sender.deliver(&url, body).await;
                }
            };
            tokio::select! {
                () = work => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        });
        queue
    }

    /// Delivers one event, retrying with exponential backoff on a connection error or a
    /// non-2xx answer. Every attempt carries the same `webhook-id`, so receivers can
    /// deduplicate; the timestamp and signature are fresh per attempt, as a receiver
    /// checks the timestamp against its clock.
    async fn deliver(&self, url: &str, body: Bytes) {
        let id = format!("msg_{}", crate::tasks::uuid_v4());
        let times = if self.duplicates { 2 } else { 1 };
        for _ in 0..times {
            self.deliver_once(url, &id, &body).await;
        }
    }

    /// One delivery of event `id`, with its retries.
    async fn deliver_once(&self, url: &str, id: &str, body: &Bytes) {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(BACKOFF_BASE * 2u32.pow(attempt - 1)).await;
            }
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let signature = signature(&self.secret, id, timestamp, body);
            self.stats.webhook_attempt();
            let result = self
                .client
                .post(url)
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(response) if response.status().is_success() => {
                    self.stats.webhook_delivered();
                    return;
                }
                // The URL may carry a receiver's token, so only the event id is logged.
                Ok(response) => tracing::debug!(
                    webhook_id = %id,
                    attempt,
                    status = response.status().as_u16(),
                    "webhook refused"
                ),
                Err(error) => {
                    tracing::debug!(webhook_id = %id, attempt, error = %error.without_url(), "webhook failed");
                }
            }
        }
        tracing::warn!(webhook_id = %id, "webhook given up after {MAX_ATTEMPTS} attempts");
    }
}
