//! Fault injection: what can go wrong, and the seeded dice that decide when.

use std::sync::Mutex;
use std::time::Duration;

/// The failures the simulator injects, so that retry, timeout and resume logic gets exercised.
///
/// Every random decision comes from one [`fastrand::Rng`] seeded with [`Faults::seed`], drawn
/// in request order: the same sequence of requests against the same configuration meets the
/// same faults. Rates are probabilities in `0.0..=1.0`.
///
/// `Faults::default()` is the same as [`Faults::none()`].
#[derive(Clone, Debug)]
pub struct Faults {
    /// Seed of the random generator behind every fault decision.
    pub seed: u64,
    /// Delay added before every API response (not to downloads, which are a CDN's business).
    pub latency: Duration,
    /// Share of API requests answered `503 {"message":"Service Unavailable. Please try again later."}`.
    ///
    /// On create the decision is taken before any task exists, so a 503 never leaves a task
    /// behind and retrying the create is safe.
    pub rate_503: f64,
    /// Share of API requests answered `429 {"message":"Too many requests"}` with a
    /// `Retry-After: <retry_after_secs>` header. Like 503s, never leaves a task behind.
    pub rate_429: f64,
    /// The `Retry-After` value, in seconds, sent with injected 429s.
    pub retry_after_secs: u64,
    /// Share of status/list responses and downloads whose connection is cut half-way
    /// through the body (after a correct `Content-Length`). Creates are never cut, since a
    /// client cannot know whether a cut create made a task.
    pub rate_reset: f64,
    /// Throttle for video downloads, in bytes per second; `None` serves at full speed.
    pub download_bytes_per_sec: Option<u64>,
    /// Share of tasks that end `FAILED` instead of `COMPLETED`.
    pub rate_task_failure: f64,
}

impl Faults {
    /// No faults: every request succeeds at once and every task completes.
    pub fn none() -> Self {
        Self {
            seed: 0,
            latency: Duration::ZERO,
            rate_503: 0.0,
            rate_429: 0.0,
            retry_after_secs: 1,
            rate_reset: 0.0,
            download_bytes_per_sec: None,
            rate_task_failure: 0.0,
        }
    }
}

impl Default for Faults {
    /// Same as [`Faults::none()`]; written out by hand so that `retry_after_secs` is 1, not 0.
    fn default() -> Self {
        Self::none()
    }
}

/// What the dice decided for an API request before it is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Handle the request normally.
    Pass,
    /// Answer 503.
    Unavailable,
    /// Answer 429.
    RateLimited,
}

/// The seeded random generator behind every fault decision.
pub(crate) struct Dice {
    faults: Faults,
    rng: Mutex<fastrand::Rng>,
}

impl Dice {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        Self { faults, rng }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// One draw per API request, always, even when the rates are zero: that keeps the
    /// sequence of later draws independent of which rates happen to be configured.
    pub(crate) fn gate(&self) -> Gate {
        let roll = self.roll();
        if roll < self.faults.rate_503 {
            Gate::Unavailable
        } else if roll < self.faults.rate_503 + self.faults.rate_429 {
            Gate::RateLimited
        } else {
            Gate::Pass
        }
    }

    /// Whether to cut this response's connection half-way.
    pub(crate) fn reset(&self) -> bool {
        self.roll() < self.faults.rate_reset
    }

    /// Whether a task being created will end FAILED. Decided at create time, in request
    /// order, because the life cycle tasks run concurrently and would draw in random order.
    pub(crate) fn task_fails(&self) -> bool {
        self.roll() < self.faults.rate_task_failure
    }

    fn roll(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).f64()
    }
}
