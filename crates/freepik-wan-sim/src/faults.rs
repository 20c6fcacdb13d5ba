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
    /// Share of creates that make the task and then answer with one of
    /// [`Faults::create_gateway_statuses`] (`502 Bad Gateway` or `504 Gateway Timeout` by
    /// default, evenly) with an HTML page, as a gateway does when the backend acted but its
    /// answer was lost. A client cannot tell these from a create
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
    /// The statuses a gateway fault of [`Faults::rate_create_gateway_error`] answers with,
    /// one drawn per fault: `502` and `504` by default. Any status works: `520`/`524`
    /// (Cloudflare), `408` (a proxy), `503` (a gateway that forwarded, then gave up, with no
    /// `Retry-After`), or a `3xx` pointing at [`Faults::redirect_to`]. The task exists either way.
    pub create_gateway_statuses: Vec<u16>,
    /// Where a `3xx` gateway answer points (its `Location`).
    pub redirect_to: String,
    /// How long after its create a task starts to show in the list operation (a list that
    /// lags behind creates). Status fetches by id find it at once.
    pub list_lag: Duration,
    /// A list that shows only some tasks, as one that pages or caps would.
    pub list_cap: Option<ListCap>,
    /// Task ids are matched without regard to case (as UUIDs are), so a fetch of
    /// `3D27…` finds the task the service calls `3d27…` and answers with the latter.
    pub case_insensitive_ids: bool,
    /// Every webhook event is delivered twice, with the same `webhook-id`, as a sender that
    /// retries after a lost acknowledgement does.
    pub webhook_duplicates: bool,
    /// A task's webhook events are held until it ends, then delivered newest first: the
    /// terminal event before the ones it supersedes.
    pub webhook_reorder: bool,
    /// How many creates the account can pay for; past them, creates answer
    /// `402 {"message": "Not enough credits"}` and make nothing. `None` is unlimited;
    /// [`SimHandle::add_credits`](crate::SimHandle::add_credits) tops it up.
    pub credits: Option<u64>,
    /// From this create on (1 for the first), creates are held: the request is read and
    /// never answered, and no task is made, as by a proxy that never forwards it.
    pub create_hold_from: Option<u64>,
    /// With [`create_hold_from`](Self::create_hold_from), the last create held
    /// (inclusive): later ones are served again, as by a proxy that recovers.
    /// `None`: held for good.
    pub create_hold_until: Option<u64>,
    /// Every create is answered `429 {"message": "Too many requests"}` with this
    /// `Retry-After` (seconds) and makes nothing; other operations are served.
    pub create_retry_after: Option<u64>,
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

/// Which tasks a capped list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCap {
    /// How many tasks it shows at most.
    pub max: usize,
    /// `true`: the newest tasks (the first page of a newest-first list); `false`: the
    /// oldest (a list that never shows tasks past its first page of old ones).
    pub newest: bool,
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
            create_gateway_statuses: vec![502, 504],
            redirect_to: "http://127.0.0.1:9/moved".to_owned(),
            list_lag: Duration::ZERO,
            list_cap: None,
            case_insensitive_ids: false,
            webhook_duplicates: false,
            webhook_reorder: false,
            credits: None,
            create_hold_from: None,
            create_hold_until: None,
            create_retry_after: None,
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
    /// With a gateway's answer (an HTML page, or a redirect), with one of
    /// [`Faults::create_gateway_statuses`].
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
    /// Creates admitted so far, for [`Faults::create_hold_from`].
    held: AtomicU64,
    /// Creates counted against [`Faults::quota_after_creates`].
    creates: AtomicU64,
}

impl Dice {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        Self {
            faults,
            rng,
            held: AtomicU64::new(0),
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

    /// Counts one more create; whether it is to be held unanswered.
    pub(crate) fn hold_create(&self) -> bool {
        let nth = 1 + self.held.fetch_add(1, Ordering::Relaxed);
        self.faults.create_hold_from.is_some_and(|from| nth >= from)
            && self
                .faults
                .create_hold_until
                .is_none_or(|until| nth <= until)
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
            let statuses = &f.create_gateway_statuses;
            // The same roll picks the status: one draw per create, as before.
            let pick = ((roll / gateway) * statuses.len() as f64) as usize;
            AfterCreate::GatewayError(statuses.get(pick).copied().unwrap_or(502))
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
