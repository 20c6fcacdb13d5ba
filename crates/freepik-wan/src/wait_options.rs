//! How waiting polls: the cadence, its jitter, and the deadline.

use std::time::Duration;

/// How [`Client::wait`](crate::Client::wait) and [`Client::watch`](crate::Client::watch) poll.
///
/// The first poll goes out at once; later ones follow a backoff from
/// `initial_interval` growing by `multiplier` up to `max_interval`, each
/// jittered by ±`jitter` so that many waiters do not poll in step. The
/// defaults (0.5 s growing to 1 s) notice completion within about a second.
/// Waits share one poller, and with two or more tasks pending one list
/// request covers them all, so this costs about one request per second per
/// resolution, whatever the number of tasks: a tenth of Freepik's 2-minute
/// budget at most.
///
/// ```
/// use std::time::Duration;
/// use freepik_wan::WaitOptions;
///
/// let patient = WaitOptions::default()
///     .timeout(Duration::from_secs(30 * 60))
///     .max_interval(Duration::from_secs(5));
/// # let _ = patient;
/// ```
#[derive(Clone, Debug)]
#[must_use = "options do nothing until given to a client or a wait"]
pub struct WaitOptions {
    pub(crate) initial_interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) multiplier: f64,
    pub(crate) jitter: f64,
    pub(crate) timeout: Duration,
    pub(crate) webhook_fallback: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            initial_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(1),
            multiplier: 1.5,
            jitter: 0.1,
            timeout: Duration::from_secs(15 * 60),
            webhook_fallback: Duration::from_secs(30),
        }
    }
}

impl WaitOptions {
    /// The wait between the first and second poll (default 0.5 s).
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// The longest wait between polls (default 1 s): the most a completion
    /// can go unnoticed, jitter aside.
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// How much each interval grows over the last (default 1.5; at least 1).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier.max(1.0);
        self
    }

    /// The share each interval varies by, from 0 to 0.5 (default 0.1).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 0.5);
        self
    }

    /// How long to wait in all before giving up with [`Error::Timeout`](crate::Error::Timeout)
    /// (default 15 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often a task created with a webhook URL is polled while its
    /// webhooks are expected (default 30 s): the webhooks, handed to
    /// [`Client::deliver`](crate::Client::deliver), wake the wait at once,
    /// and this cadence only covers one that never arrives. It applies from
    /// the first webhook the client is handed; a client that is never handed
    /// one polls as usual.
    pub fn webhook_fallback(mut self, interval: Duration) -> Self {
        self.webhook_fallback = interval;
        self
    }

    pub(crate) fn jittered(&self, interval: Duration) -> Duration {
        let spread = (fastrand::f64() * 2.0 - 1.0) * self.jitter;
        scaled(interval, 1.0 + spread)
    }

    pub(crate) fn next_interval(&self, current: Duration) -> Duration {
        scaled(current, self.multiplier).min(self.max_interval)
    }
}

/// `duration * factor`, saturating where `Duration::mul_f64` would panic
/// (a `Duration::MAX` interval, say).
fn scaled(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor.max(0.0)).unwrap_or(Duration::MAX)
}

/// The instant `after` from `now`, or a far future (30 years) where the sum
/// does not fit: `Duration::MAX` means "never", not a panic.
pub(crate) fn later(now: tokio::time::Instant, after: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    now.checked_add(after.min(FAR))
        .unwrap_or_else(|| now + Duration::from_secs(24 * 60 * 60))
}
