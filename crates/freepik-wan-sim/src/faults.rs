//! Fault injection: what can go wrong, and the seeded dice that decide when.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Share of status (get a task by id) and list answers replaced by
    /// `200 text/html` with an HTML page, as a captive portal or a
    /// misconfigured proxy sends. Acts on nothing.
    pub rate_html_ok: f64,
    /// Share of API requests other than creates answered `502` with a
    /// gateway's HTML page. Acts on nothing.
    pub rate_html_502: f64,
    /// Share of API requests (creates included) answered
    /// `429 {"message":"Too many requests"}` with no `Retry-After` header.
    /// Makes nothing.
    pub rate_429_no_retry_after: f64,
    /// Share of status fetches answered `429 {"message":"Too many requests"}`
    /// with `Retry-After: 3600`: a client waiting on a task is asked to come
    /// back in an hour.
    pub rate_status_long_429: f64,
    /// Share of status fetches answered the quota `429`
    /// (`{"message":"Limit for free users reached."}`, no `Retry-After`).
    pub rate_status_quota_429: f64,
    /// Share of status fetches answered `401 {"message":"Invalid API key"}`,
    /// as the service does for a key revoked mid-wait.
    pub rate_status_401: f64,
    /// Share of video downloads answered `200 text/html` with an HTML page
    /// instead of the MP4 (a CDN's error page served with 200).
    pub rate_video_html: f64,
    /// Share of video downloads sent chunked, with no `Content-Length`, and
    /// ended cleanly half-way: only a client that checks the container (or
    /// asks for the length another way) can tell the file is short.
    pub rate_video_cut_no_length: f64,
    /// Share of video downloads answered `302` to the same video on a second
    /// origin (another port of the simulator, path `/mirror/{task}.mp4`).
    /// The mirror counts in [`Stats::referer_token_leaks`](crate::Stats::referer_token_leaks)
    /// every request whose `Referer` carries a `token=` query.
    pub rate_video_redirect: f64,
    /// Share of tasks whose first one or two COMPLETED status answers carry
    /// an empty `generated` list; later answers have the URL.
    pub rate_completed_no_url: f64,
    /// Share of tasks whose status answers before COMPLETED carry
    /// `"generated": null`, or no `generated` field at all (half each, by
    /// the same draw).
    pub rate_generated_null_before_completed: f64,
    /// Video URLs carry a `?token=exp=<n>~hmac=sim` query, as the real
    /// service's signed links do, even when they do not expire (they always
    /// do with [`Faults::expire_first_url`]).
    pub signed_urls: bool,
    /// Each task's video embeds the task's id in a top-level MP4 `free`
    /// box after the fixture (players skip it), readable with
    /// [`video_task_tag`](crate::video_task_tag): a test can then tell whose
    /// video a file is. Off by default, which serves the fixture byte for
    /// byte.
    pub tag_videos: bool,
    /// Share of upload PUTs the storage host answers `503` (an XML
    /// `ServiceUnavailable`), as a bucket does under load; nothing is stored.
    pub rate_upload_503: f64,
    /// The first upload PUT is answered `400 ExpiredToken`, as when
    /// `expires_in` passed before the bytes arrived: a new upload URL is
    /// needed.
    pub expire_first_upload_url: bool,
    /// How long an upload URL stays valid (`expires_in`): 120 s, as the docs say.
    pub upload_url_ttl: Duration,
    /// How long an uploaded file's `asset_url` stays readable
    /// (`asset_url_expires_in`): a day, as the docs say. A create naming an
    /// expired asset is refused.
    pub asset_ttl: Duration,
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
            rate_html_ok: 0.0,
            rate_html_502: 0.0,
            rate_429_no_retry_after: 0.0,
            rate_status_long_429: 0.0,
            rate_status_quota_429: 0.0,
            rate_status_401: 0.0,
            rate_video_html: 0.0,
            rate_video_cut_no_length: 0.0,
            rate_video_redirect: 0.0,
            rate_completed_no_url: 0.0,
            rate_generated_null_before_completed: 0.0,
            signed_urls: false,
            tag_videos: false,
            rate_upload_503: 0.0,
            expire_first_upload_url: false,
            upload_url_ttl: Duration::from_secs(120),
            asset_ttl: Duration::from_secs(86_400),
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
    /// Answer 429 with `Retry-After: retry_after_secs`.
    RateLimited,
    /// Answer 429 without `Retry-After`.
    RateLimitedNoRetryAfter,
    /// Answer 502 with an HTML page (not on creates).
    Html502,
    /// Answer 200 with an HTML page (status and list only).
    HtmlOk,
    /// Answer 429 with `Retry-After: 3600` (status only).
    LongRateLimit,
    /// Answer the quota 429 (status only).
    Quota,
    /// Answer 401 (status only).
    Unauthorized,
}

/// Which API operation a request is, for the faults that hit only some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Status,
    List,
}

/// How one video download is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VideoFault {
    /// As it is.
    None,
    /// Cut half-way after a correct `Content-Length` ([`Faults::rate_reset`]).
    Reset,
    /// An HTML page with 200.
    Html,
    /// Chunked, no length, ended cleanly half-way.
    CutNoLength,
    /// A 302 to the mirror origin.
    Redirect,
}

/// How a task's status answers misbehave, decided when it is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskQuirks {
    /// How many COMPLETED answers come with an empty `generated` first.
    pub(crate) completed_without_url: u32,
    /// How `generated` looks before COMPLETED.
    pub(crate) generated_before: GeneratedShape,
}

/// The shape of `generated` in a status answer before COMPLETED.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum GeneratedShape {
    /// `[]`, as the service documents.
    #[default]
    Empty,
    /// `null`.
    Null,
    /// No such field.
    Missing,
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
    /// The draws of the task quirks: a generator of their own, so that
    /// adding them shifted none of the draws above for a given seed.
    quirks_rng: Mutex<fastrand::Rng>,
    /// Creates admitted so far, for [`Faults::create_hold_from`].
    held: AtomicU64,
    /// Creates counted against [`Faults::quota_after_creates`].
    creates: AtomicU64,
    /// Set by [`SimHandle::calm`](crate::SimHandle::calm): every draw still
    /// happens, and every decision is "no fault".
    calm: AtomicBool,
}

impl Dice {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        let quirks_rng = Mutex::new(fastrand::Rng::with_seed(
            faults.seed ^ 0x9e37_79b9_7f4a_7c15,
        ));
        Self {
            faults,
            rng,
            quirks_rng,
            held: AtomicU64::new(0),
            creates: AtomicU64::new(0),
            calm: AtomicBool::new(false),
        }
    }

    /// From now on, no fault: see [`SimHandle::calm`](crate::SimHandle::calm).
    pub(crate) fn calm(&self) {
        self.calm.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_calm(&self) -> bool {
        self.calm.load(Ordering::SeqCst)
    }

    /// Counts one create against the quota; whether it is over it.
    pub(crate) fn over_quota(&self) -> bool {
        let Some(limit) = self.faults.quota_after_creates else {
            return false;
        };
        self.creates.fetch_add(1, Ordering::SeqCst) >= limit && !self.is_calm()
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// One draw per API request, always, even when the rates are zero: that keeps the
    /// sequence of later draws independent of which rates happen to be configured.
    /// The one roll falls in consecutive bands, one per fault (503, 429, 429 without
    /// `Retry-After`, then those that hit only some operations); a band of a fault
    /// that does not apply to `op` passes.
    pub(crate) fn gate(&self, op: Operation) -> Gate {
        let roll = self.roll();
        if self.is_calm() {
            return Gate::Pass;
        }
        let f = &self.faults;
        let not_create = op != Operation::Create;
        let status = op == Operation::Status;
        let bands = [
            (f.rate_503, true, Gate::Unavailable),
            (f.rate_429, true, Gate::RateLimited),
            (
                f.rate_429_no_retry_after,
                true,
                Gate::RateLimitedNoRetryAfter,
            ),
            (f.rate_html_502, not_create, Gate::Html502),
            (f.rate_html_ok, not_create, Gate::HtmlOk),
            (f.rate_status_long_429, status, Gate::LongRateLimit),
            (f.rate_status_quota_429, status, Gate::Quota),
            (f.rate_status_401, status, Gate::Unauthorized),
        ];
        let mut edge = 0.0;
        for (rate, applies, gate) in bands {
            edge += rate;
            if roll < edge {
                return if applies { gate } else { Gate::Pass };
            }
        }
        Gate::Pass
    }

    /// How a video download is served: one draw per download, always (the
    /// draw [`Dice::reset`] makes for other bodies), in bands: a reset, an
    /// HTML page, a clean cut without length, a redirect.
    pub(crate) fn video(&self) -> VideoFault {
        let roll = self.roll();
        if self.is_calm() {
            return VideoFault::None;
        }
        let f = &self.faults;
        let bands = [
            (f.rate_reset, VideoFault::Reset),
            (f.rate_video_html, VideoFault::Html),
            (f.rate_video_cut_no_length, VideoFault::CutNoLength),
            (f.rate_video_redirect, VideoFault::Redirect),
        ];
        let mut edge = 0.0;
        for (rate, fault) in bands {
            edge += rate;
            if roll < edge {
                return fault;
            }
        }
        VideoFault::None
    }

    /// The quirks of a task being made: two draws per create from the
    /// quirks' own generator, always.
    pub(crate) fn task_quirks(&self) -> TaskQuirks {
        let mut rng = self.quirks_rng.lock().unwrap_or_else(|e| e.into_inner());
        let (no_url, shape) = (rng.f64(), rng.f64());
        if self.is_calm() {
            return TaskQuirks::default();
        }
        let f = &self.faults;
        let completed_without_url = if no_url < f.rate_completed_no_url {
            // The same roll picks one answer or two.
            1 + u32::from(no_url < f.rate_completed_no_url / 2.0)
        } else {
            0
        };
        let rate = f.rate_generated_null_before_completed;
        let generated_before = if shape < rate / 2.0 {
            GeneratedShape::Null
        } else if shape < rate {
            GeneratedShape::Missing
        } else {
            GeneratedShape::Empty
        };
        TaskQuirks {
            completed_without_url,
            generated_before,
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
        self.roll() < self.faults.rate_reset && !self.is_calm()
    }

    /// Whether a task being created will end FAILED. Decided at create time, in request
    /// order, because the life cycle tasks run concurrently and would draw in random order.
    pub(crate) fn task_fails(&self) -> bool {
        self.roll() < self.faults.rate_task_failure && !self.is_calm()
    }

    /// How a create that made its task answers: one draw per such create, always.
    pub(crate) fn after_create(&self) -> AfterCreate {
        let roll = self.roll();
        if self.is_calm() {
            return AfterCreate::Answer;
        }
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
