//! Pacing: one client (and its clones) stays inside the service's published
//! rate limits however many tasks run at once, and a `429` pauses all of it,
//! not only the call that met it.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// How fast a [`Client`](crate::Client) may call the API.
///
/// Freepik publishes two limits per IP: 50 requests/s over 5 s (250 in any
/// 5 s) and 10 requests/s on average over 2 minutes (1,200 in any 120 s).
/// The default, [`RateLimit::freepik`], is a token bucket of 9 requests/s
/// with a burst of 20. A bucket of rate `r` and burst `b` lets through at most
/// `b + r·T` requests in any window of `T`: 20 + 9·5 = 65 ≤ 250 and
/// 20 + 9·120 = 1,100 ≤ 1,200, so both windows hold in the worst case (a
/// client that never stops), with 100 requests of slack in the 2-minute one
/// for the network bunching requests up on the way.
///
/// The limits are per IP: clients in one process should share one `Client`
/// (clones share its pacing).
///
/// ```
/// use freepik_wan::{Client, RateLimit};
///
/// let paced = RateLimit::freepik();                   // the default
/// let gentle = RateLimit::per_second(2).burst(4);     // for a shared IP
/// let unpaced = RateLimit::none();                    // e.g. against a local simulator
/// let client = Client::builder().api_key("...").rate_limit(gentle).build()?;
/// # let _ = (paced, unpaced, client);
/// # Ok::<(), freepik_wan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a rate limit does nothing until given to ClientBuilder::rate_limit"]
pub struct RateLimit {
    /// Time between requests at the sustained rate, and the burst; `None` is unpaced.
    quota: Option<(Duration, u32)>,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::freepik()
    }
}

impl RateLimit {
    /// Inside Freepik's published limits: 9 requests/s, bursts of 20.
    pub fn freepik() -> Self {
        RateLimit::per_second(9).burst(20)
    }

    /// No pacing at all.
    pub fn none() -> Self {
        RateLimit { quota: None }
    }

    /// `requests` per second sustained (at least 1), with bursts of as many.
    pub fn per_second(requests: u32) -> Self {
        let requests = requests.max(1);
        RateLimit {
            quota: Some((Duration::from_secs(1) / requests, requests)),
        }
    }

    /// How many requests may go out at once after a quiet spell (at least 1).
    /// Has no effect on [`RateLimit::none`].
    pub fn burst(mut self, requests: u32) -> Self {
        if let Some((_, burst)) = &mut self.quota {
            *burst = requests.max(1);
        }
        self
    }
}

/// How long a create steps aside for a waiting poll before looking again.
const YIELD: Duration = Duration::from_millis(10);

type Limiter = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    DefaultClock,
    governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>,
>;

/// The pacing state one client and its clones share.
pub(crate) struct Pacer {
    limiter: Option<Limiter>,
    clock: DefaultClock,
    /// Set by a 429's `Retry-After`: no call of this client goes out before.
    paused_until: Mutex<Option<Instant>>,
    /// Polls waiting for a token. Creates let them go first: when the pace
    /// is the bottleneck, noticing that a task ended (and freeing its slot)
    /// matters more than starting the next one a little sooner.
    polls_waiting: AtomicUsize,
}

/// Which calls go first when both wait for the pace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    /// Status and list calls: a wait is blocked on them.
    Poll,
    /// Creates: they yield to polls.
    Create,
}

/// Counts a waiting poll for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pacer {
    pub(crate) fn new(limit: &RateLimit) -> Pacer {
        let limiter = limit.quota.and_then(|(period, burst)| {
            let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst)?);
            Some(RateLimiter::direct(quota))
        });
        Pacer {
            limiter,
            clock: DefaultClock::default(),
            paused_until: Mutex::new(None),
            polls_waiting: AtomicUsize::new(0),
        }
    }

    /// Waits until a call may go out: past any pause, then for a token
    /// (a create only while no poll is waiting for one).
    pub(crate) async fn ready(&self, priority: Priority) {
        let _waiting = (priority == Priority::Poll).then(|| {
            self.polls_waiting.fetch_add(1, Ordering::SeqCst);
            Waiting(&self.polls_waiting)
        });
        loop {
            let pause = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(until) = pause
                && until > Instant::now()
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            let Some(limiter) = &self.limiter else {
                return;
            };
            if priority == Priority::Create && self.polls_waiting.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(YIELD).await;
                continue;
            }
            match limiter.check() {
                Ok(()) => return,
                // Tokio's timer, not governor's own, so that a caller's
                // timeout or a dropped future stops the wait at once.
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
                }
            }
        }
    }

    /// Holds every call of this client back for `delay` (a 429's
    /// `Retry-After`); a pause already longer stays.
    pub(crate) fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
            tracing::warn!(
                pause_ms = delay.as_millis() as u64,
                "rate limited: pausing every call of this client"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_goes_at_once_then_the_rate_holds() {
        let pacer = Pacer::new(&RateLimit::per_second(20).burst(5));
        let started = std::time::Instant::now();
        for _ in 0..5 {
            pacer.ready(Priority::Poll).await;
        }
        let limiter = pacer.limiter.as_ref().unwrap();
        assert!(limiter.check().is_err(), "the burst of 5 is spent");
        for _ in 0..4 {
            pacer.ready(Priority::Poll).await;
        }
        // Four more at 20/s: about 200 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_waiting_poll_goes_before_a_waiting_create() {
        let pacer = std::sync::Arc::new(Pacer::new(&RateLimit::per_second(10).burst(1)));
        pacer.ready(Priority::Poll).await; // the burst is spent
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let create = {
            let (pacer, order) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                pacer.ready(Priority::Create).await;
                order.lock().unwrap().push("create");
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let poll = {
            let (pacer, order) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                pacer.ready(Priority::Poll).await;
                order.lock().unwrap().push("poll");
            })
        };
        create.await.unwrap();
        poll.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["poll", "create"]);
    }

    #[tokio::test]
    async fn a_pause_holds_every_call_back() {
        let pacer = Pacer::new(&RateLimit::none());
        pacer.pause(Duration::from_millis(120));
        pacer.pause(Duration::from_millis(10)); // a shorter pause does not shorten it
        let started = std::time::Instant::now();
        pacer.ready(Priority::Poll).await;
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }
}
