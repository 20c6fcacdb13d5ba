//! Fault injection: what can go wrong, and the seeded dice that decide when.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// through the body (after a correct `Content-Length`). Creates are cut only by
    /// [`Faults::rate_create_cut`].
    pub rate_reset: f64,
    /// Throttle for video downloads, in bytes per second; `None` serves at full speed.
    pub download_bytes_per_sec: Option<u64>,
    /// Share of tasks that end `FAILED` instead of `COMPLETED`.
    pub rate_task_failure: f64,
    /// Share of creates that make the task and then answer `502 Bad Gateway` or
    /// `504 Gateway Timeout` (half each) with an HTML page, as a gateway does when the
    /// backend acted but its answer was lost. A client cannot tell these from a create
    /// that never happened.
    pub rate_create_gateway_error: f64,
    /// Share of creates that make the task and then drop the connection without any
    /// answer.
    pub rate_create_cut: f64,
    /// Share of creates that make the task and answer only after [`Faults::create_late_by`],
    /// past a client's request timeout.
    pub rate_create_late: f64,
    /// How late a late create answers.
    pub create_late_by: Duration,
    /// Video URLs that expire: each completed task's first URL (the one
    /// status answers and its webhook carry) answers `403` with cloud
    /// storage's XML `AccessDenied` page ("Request has expired"), and from
    /// then on status answers hand out a fresh URL that works. URLs carry a
    /// `?token=exp=…` query, as the real service's signed links do.
    pub expire_first_url: bool,
    /// A quota: after this many creates (counted from the first that gets
    /// past authentication), every create is answered
    /// `429 {"message":"Limit for free users reached."}` without a
    /// `Retry-After`, as the service answers a plan whose limit is reached.
    /// `Some(0)` refuses every create; `None` (the default) has no quota.
    pub quota_after_creates: Option<u64>,
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
            rate_create_gateway_error: 0.0,
            rate_create_cut: 0.0,
            rate_create_late: 0.0,
            create_late_by: Duration::from_secs(35),
            expire_first_url: false,
            quota_after_creates: None,
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

/// How a create that made its task answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterCreate {
    /// With the task, at once.
    Answer,
    /// With a gateway's HTML error page: 502 or 504.
    GatewayError(u16),
    /// Not at all: the connection is dropped.
    Cut,
    /// With the task, after this delay.
    Late(Duration),
}

/// The seeded random generator behind every fault decision.
pub(crate) struct Dice {
    faults: Faults,
    rng: Mutex<fastrand::Rng>,
    /// Creates counted against [`Faults::quota_after_creates`].
    creates: AtomicU64,
}

impl Dice {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        Self {
            faults,
            rng,
            creates: AtomicU64::new(0),
        }
    }

    /// Counts one create against the quota; whether it is over it.
    pub(crate) fn over_quota(&self) -> bool {
        let Some(limit) = self.faults.quota_after_creates else {
            return false;
        };
        self.creates.fetch_add(1, Ordering::SeqCst) >= limit
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

    /// How a create that made its task answers: one draw per such create, always.
    pub(crate) fn after_create(&self) -> AfterCreate {
        let roll = self.roll();
        let f = &self.faults;
        let gateway = f.rate_create_gateway_error;
        if roll < gateway {
            AfterCreate::GatewayError(if roll < gateway / 2.0 { 502 } else { 504 })
        } else if roll < gateway + f.rate_create_cut {
            AfterCreate::Cut
        } else if roll < gateway + f.rate_create_cut + f.rate_create_late {
            AfterCreate::Late(f.create_late_by)
        } else {
            AfterCreate::Answer
        }
    }

    fn roll(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).f64()
    }
}
