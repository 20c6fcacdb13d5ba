//! Pacing: one client (and its clones) stays inside the service's published
//! rate limits however many tasks run at once, spends them in order of what
//! matters most when they run short, and a `429` pauses all of it, not only
//! the call that met it.

mod log;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::error::{Error, Result};
use log::{Full, Log};

/// How fast a [`Client`](crate::Client) may call the API: a set of windows,
/// each allowing at most so many requests in any interval of its length.
///
/// Freepik publishes two limits per IP: 250 requests in any 5 s (50/s) and
/// 1,200 in any 2 minutes (10/s on average). The default,
/// [`RateLimit::freepik`], is exactly those two windows. The client keeps the
/// instants of its recent requests and lets one through when every window
/// has room for it, so it can send 250 requests in 5 s whenever the 2-minute
/// window has room, and never more than either window allows. Each window
/// keeps a [`margin`](Self::margin) of its budget unused (5 % unless set),
/// for other programs on the same IP and for the network bunching requests
/// up on the way: 237 per 5 s and 1,140 per 2 minutes by default.
///
/// When the budget runs short, fetches of tasks that have ended go first
/// (each frees a slot of whatever is waiting on it), then lists and other
/// status calls, then creates; creates also leave room in each window of
/// 10 s or more (up to half of it) for the tasks already running, so that
/// they are noticed ending while new ones queue.
///
/// The limits are per IP: clients in one process should share one `Client`
/// (clones share its pacing).
///
/// ```
/// use std::time::Duration;
/// use freepik_wan::{Client, RateLimit};
///
/// let paced = RateLimit::freepik();                   // the default
/// let custom = RateLimit::windows([(250, Duration::from_secs(5)), (1200, Duration::from_secs(120))])
///     .margin(20);                                    // leave 20 % for another program
/// let gentle = RateLimit::per_second(2).burst(4);     // for a shared IP
/// let unpaced = RateLimit::none();                    // e.g. against a local simulator
/// let client = Client::builder().api_key("...").rate_limit(gentle).build()?;
/// # let _ = (paced, custom, unpaced, client);
/// # Ok::<(), freepik_wan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a rate limit does nothing until given to ClientBuilder::rate_limit"]
pub struct RateLimit {
    /// Each window's budget and length; empty is unpaced.
    windows: Vec<(u32, Duration)>,
    /// The share of each budget left unused, in percent.
    margin: u8,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::freepik()
    }
}

/// The margin each window keeps unless told otherwise, in percent.
const DEFAULT_MARGIN: u8 = 5;
/// The largest margin accepted: a window always lends out some of its budget.
const MAX_MARGIN: u8 = 90;

impl RateLimit {
    /// Freepik's published limits: 250 requests in any 5 s and 1,200 in any
    /// 2 minutes, each with the default 5 % margin.
    pub fn freepik() -> Self {
        RateLimit::windows([
            (250, Duration::from_secs(5)),
            (1200, Duration::from_secs(120)),
        ])
    }

    /// Windows of `(requests, length)`: at most `requests` in any interval
    /// of `length`, for every window at once, each less the
    /// [`margin`](Self::margin) (5 % unless set). A window of zero length
    /// limits nothing and is dropped; a budget of 0 counts as 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freepik_wan::RateLimit;
    ///
    /// let hourly = RateLimit::windows([(20, Duration::from_secs(1)), (3000, Duration::from_secs(3600))]);
    /// # let _ = hourly;
    /// ```
    pub fn windows(windows: impl IntoIterator<Item = (u32, Duration)>) -> Self {
        RateLimit {
            windows: windows
                .into_iter()
                .filter(|(_, length)| !length.is_zero())
                .map(|(requests, length)| (requests.max(1), length))
                .collect(),
            margin: DEFAULT_MARGIN,
        }
    }

    /// The share of each window's budget left unused, in percent (default
    /// 5; at most 90): room for other programs on the same IP, and for
    /// requests the network delivers closer together than they were sent.
    /// A window always lets at least one request through.
    pub fn margin(mut self, percent: u8) -> Self {
        self.margin = percent.min(MAX_MARGIN);
        self
    }

    /// No pacing at all.
    pub fn none() -> Self {
        RateLimit {
            windows: Vec::new(),
            margin: 0,
        }
    }

    /// `requests` in any second (at least 1), all of them usable at once:
    /// one window, with no margin.
    pub fn per_second(requests: u32) -> Self {
        RateLimit::windows([(requests, Duration::from_secs(1))]).margin(0)
    }

    /// For a limit of one window (as [`per_second`](Self::per_second)
    /// makes): the same average rate, in bursts of at most `requests` (at
    /// least 1). `per_second(2).burst(4)` allows 4 requests in any 2 s.
    /// Has no effect on [`none`](Self::none) or on several windows.
    pub fn burst(mut self, requests: u32) -> Self {
        if let [(budget, length)] = &mut self.windows[..] {
            let requests = requests.max(1);
            *length = length.mul_f64(f64::from(requests) / f64::from(*budget));
            *budget = requests;
            self.windows.retain(|(_, length)| !length.is_zero());
        }
        self
    }

    /// This limit's `1/n` share, for one of `n` clients that share an IP
    /// (workers of one fleet): each window's budget divided by `n`, rounded
    /// down (at least 1), the same length and margin. `n` clients each
    /// inside its share stay inside the whole together. `n` of 0 counts as 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freepik_wan::RateLimit;
    ///
    /// let third = RateLimit::freepik().share(3);
    /// assert_eq!(
    ///     third,
    ///     RateLimit::windows([(83, Duration::from_secs(5)), (400, Duration::from_secs(120))])
    /// );
    /// ```
    pub fn share(mut self, n: u32) -> Self {
        let n = n.max(1);
        for (budget, _) in &mut self.windows {
            *budget = (*budget / n).max(1);
        }
        self
    }

    /// Each window's budget less its margin (at least 1), and its length.
    fn budgets(&self) -> Vec<(usize, Duration)> {
        self.windows
            .iter()
            .map(|&(requests, length)| {
                let kept = u64::from(requests) * u64::from(100 - self.margin) / 100;
                (kept.max(1) as usize, length)
            })
            .collect()
    }
}

/// Which calls go first when they wait for room in the windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Priority {
    /// Fetches of tasks a list showed ended: each one ends a wait.
    Ended = 0,
    /// Lists and other status calls: waits are blocked on them.
    Poll = 1,
    /// Creates: they yield to everything else.
    Create = 2,
}

const LEVELS: usize = 3;

tokio::task_local! {
    /// The priority of the API calls made inside [`ended`].
    static SCOPED: Priority;
}

/// Runs `calls` with the priority of fetches of tasks that have ended.
pub(crate) async fn ended<F: std::future::Future>(calls: F) -> F::Output {
    SCOPED.scope(Priority::Ended, calls).await
}

impl Priority {
    /// A status or list call's priority: [`Priority::Ended`] inside
    /// [`ended`], [`Priority::Poll`] elsewhere.
    pub(crate) fn of_read() -> Priority {
        SCOPED.try_with(|p| *p).unwrap_or(Priority::Poll)
    }
}

/// How long a call steps aside for one that matters more before looking
/// again, should no wake-up come.
const YIELD: Duration = Duration::from_millis(50);

/// A pause a `429` asked for: until when, and how long the service asked.
#[derive(Clone, Copy, Debug)]
struct Pause {
    until: Instant,
    asked: Duration,
}

/// The pacing state one client and its clones share.
pub(crate) struct Pacer {
    log: Option<Mutex<Log>>,
    /// Set by a 429's `Retry-After`: no call of this client goes out before.
    pause: watch::Sender<Option<Pause>>,
    /// Calls waiting for room, by priority.
    waiting: [AtomicUsize; LEVELS],
    /// Requests each long window keeps free from creates: one per task
    /// waited on.
    reserve: AtomicUsize,
    /// Wakes calls that stepped aside: one that mattered more has gone, or
    /// the reserve shrank.
    turn: Notify,
    /// Wakes calls waiting for a request in flight to be answered.
    answered: Notify,
}

/// A request let through, counted as in flight until dropped: drop it once
/// the answer has come back (or the request was given up on).
pub(crate) struct Sent<'a> {
    pacer: &'a Pacer,
}

impl Drop for Sent<'_> {
    fn drop(&mut self) {
        if let Some(log) = &self.pacer.log {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .answered(Instant::now());
            self.pacer.answered.notify_waiters();
        }
    }
}

/// Counts a waiting call for as long as it waits.
struct Waiting<'a> {
    pacer: &'a Pacer,
    priority: Priority,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.pacer.waiting[self.priority as usize].fetch_sub(1, Ordering::SeqCst);
        if self.priority != Priority::Create {
            self.pacer.turn.notify_waiters();
        }
    }
}

impl Pacer {
    pub(crate) fn new(limit: &RateLimit) -> Pacer {
        let budgets = limit.budgets();
        Pacer {
            log: (!budgets.is_empty()).then(|| Mutex::new(Log::new(budgets))),
            pause: watch::channel(None).0,
            waiting: Default::default(),
            reserve: AtomicUsize::new(0),
            turn: Notify::new(),
            answered: Notify::new(),
        }
    }

    /// Waits until a call may go out: past any pause, after every waiting
    /// call that matters more, and when every window has room. A pause that
    /// lasts past `deadline` (the most the call may wait) fails the call at
    /// once with a 429 of its own ([`Error::rate_limited`]), rather than
    /// sleeping on it. Hold what it returns until the answer is in.
    pub(crate) async fn ready(&self, priority: Priority, deadline: Instant) -> Result<Sent<'_>> {
        self.waiting[priority as usize].fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting {
            pacer: self,
            priority,
        };
        loop {
            let pause = *self.pause.borrow();
            if let Some(pause) = pause
                && pause.until > Instant::now()
            {
                if pause.until > deadline {
                    return Err(paused(pause));
                }
                tokio::time::sleep_until(pause.until).await;
                continue;
            }
            let Some(log) = &self.log else {
                return Ok(Sent { pacer: self });
            };
            // Made before looking, so that no wake-up is missed in between.
            let turn = self.turn.notified();
            let answered = self.answered.notified();
            let ahead = self.waiting[..priority as usize]
                .iter()
                .any(|n| n.load(Ordering::SeqCst) > 0);
            if ahead {
                let _ = tokio::time::timeout(YIELD, turn).await;
                continue;
            }
            let reserve = match priority {
                Priority::Create => self.reserve.load(Ordering::SeqCst),
                _ => 0,
            };
            let taken = log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(Instant::now(), reserve);
            match taken {
                Ok(()) => {
                    if priority == Priority::Create {
                        // Its task will need a poll before the poller has
                        // counted it: keep room for it from now.
                        self.reserve.fetch_add(1, Ordering::SeqCst);
                    }
                    return Ok(Sent { pacer: self });
                }
                // Tokio's timer, so that a caller's timeout or a dropped
                // future stops the wait at once. Creates also look again
                // when the reserve shrinks.
                Err(Full::Until(room_at)) if priority == Priority::Create => {
                    let _ = tokio::time::timeout_at(room_at, turn).await;
                }
                Err(Full::Until(room_at)) => tokio::time::sleep_until(room_at).await,
                Err(Full::InFlight) => {
                    let _ = tokio::time::timeout(YIELD, answered).await;
                }
            }
        }
    }

    /// Holds every call of this client back for `delay` (a 429's
    /// `Retry-After`); a pause already longer stays.
    pub(crate) fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let longer = self.pause.send_if_modified(|pause| {
            let longer = pause.is_none_or(|current| current.until < until);
            if longer {
                *pause = Some(Pause {
                    until,
                    asked: delay,
                });
            }
            longer
        });
        if longer {
            tracing::warn!(
                pause_ms = delay.as_millis() as u64,
                "rate limited: pausing every call of this client"
            );
        }
    }

    /// Resolves with the pause's 429 once this client is paused past
    /// `deadline` (at once if it already is); never resolves otherwise.
    pub(crate) async fn paused_past(&self, deadline: Instant) -> Error {
        let mut pauses = self.pause.subscribe();
        loop {
            let pause = *pauses.borrow_and_update();
            if let Some(pause) = pause
                && pause.until > deadline
                && pause.until > Instant::now()
            {
                return paused(pause);
            }
            if pauses.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Sets how many requests of each window creates leave free for the
    /// calls of tasks already running (at most half of each budget).
    pub(crate) fn reserve(&self, requests: usize) {
        if self.reserve.swap(requests, Ordering::SeqCst) > requests {
            // Creates waiting on a reserve that shrank may have room now.
            self.turn.notify_waiters();
        }
    }
}

/// The 429 a call gets without being sent, while this client is paused for
/// longer than the call may wait: it says how long the service asked for, and
/// carries what is left of it as `Retry-After`.
fn paused(pause: Pause) -> Error {
    let left = pause.until.saturating_duration_since(Instant::now());
    let left_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from(left_secs));
    Error::Api {
        status: StatusCode::TOO_MANY_REQUESTS,
        message: format!(
            "not sent: the service asked this client to wait {} s (Retry-After), and the \
             {left_secs} s left are more than this call may wait",
            pause.asked.as_secs_f64().ceil()
        ),
        invalid_params: Vec::new(),
        headers: Box::new(headers),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600 * 24)
    }

    #[test]
    fn shares_of_a_limit_add_up_to_no_more_than_the_limit() {
        let whole = RateLimit::freepik();
        for n in 1..=7u32 {
            let share = whole.clone().share(n);
            for ((part, length), (all, whole_length)) in
                share.budgets().into_iter().zip(whole.budgets())
            {
                assert_eq!(length, whole_length);
                assert!(part * n as usize <= all, "{n} shares of {all}: {part} each");
                assert!(part >= 1);
            }
        }
        assert_eq!(RateLimit::freepik().share(0), RateLimit::freepik());
        assert_eq!(RateLimit::none().share(3), RateLimit::none());
        assert_eq!(
            RateLimit::per_second(2).share(5).budgets(),
            vec![(1, Duration::from_secs(1))]
        );
    }

    #[test]
    fn the_default_is_both_published_windows_less_five_percent() {
        let freepik = RateLimit::freepik();
        assert_eq!(RateLimit::default(), freepik);
        assert_eq!(
            freepik.budgets(),
            [
                (237, Duration::from_secs(5)),
                (1140, Duration::from_secs(120))
            ]
        );
        assert_eq!(
            RateLimit::windows([(10, Duration::from_secs(1))])
                .margin(0)
                .budgets(),
            [(10, Duration::from_secs(1))]
        );
        // A margin never takes a window's last request.
        assert_eq!(
            RateLimit::windows([(1, Duration::from_secs(1))])
                .margin(200)
                .budgets(),
            [(1, Duration::from_secs(1))]
        );
        assert_eq!(
            RateLimit::per_second(2).burst(4).budgets(),
            [(4, Duration::from_secs(2))]
        );
        assert!(RateLimit::none().budgets().is_empty());
        assert!(
            RateLimit::windows([(5, Duration::ZERO)])
                .budgets()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_window_lets_its_budget_go_at_once_then_holds() {
        let pacer = Pacer::new(&RateLimit::per_second(20).burst(5));
        let started = std::time::Instant::now();
        for _ in 0..5 {
            pacer.ready(Priority::Poll, far()).await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_millis(100));
        // The sixth waits for the first to leave the 250 ms window.
        pacer.ready(Priority::Poll, far()).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }

    /// Three calls wait for a full window: they go out ended fetch first,
    /// then the list, then the create, whatever order they came in.
    #[tokio::test]
    async fn waiting_calls_go_ended_fetches_first_then_lists_then_creates() {
        let pacer = Arc::new(Pacer::new(&RateLimit::per_second(10).burst(1)));
        pacer.ready(Priority::Poll, far()).await.unwrap(); // the window is full
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut calls = Vec::new();
        for priority in [Priority::Create, Priority::Poll, Priority::Ended] {
            let (pacer, order) = (pacer.clone(), order.clone());
            calls.push(tokio::spawn(async move {
                pacer.ready(priority, far()).await.unwrap();
                order.lock().unwrap().push(priority);
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for call in calls {
            call.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [Priority::Ended, Priority::Poll, Priority::Create]
        );
    }

    #[tokio::test]
    async fn creates_leave_the_reserve_to_the_tasks_running() {
        let pacer = Pacer::new(&RateLimit::windows([(4, log::RESERVED_FROM)]).margin(0));
        pacer.reserve(2);
        pacer.ready(Priority::Create, far()).await.unwrap();
        pacer.ready(Priority::Create, far()).await.unwrap();
        // Two of four used: a third create would eat the reserve...
        let create = tokio::time::timeout(
            Duration::from_millis(50),
            pacer.ready(Priority::Create, far()),
        );
        assert!(create.await.is_err(), "a create went into the reserve");
        // ...which polls may use at once.
        let polls = async {
            pacer.ready(Priority::Ended, far()).await.unwrap();
            pacer.ready(Priority::Poll, far()).await.unwrap();
        };
        tokio::time::timeout(Duration::from_millis(50), polls)
            .await
            .expect("the reserve is the polls'");
    }

    /// A task just created needs a poll before the poller has counted it:
    /// each create keeps room for one at once.
    #[tokio::test]
    async fn each_create_keeps_room_for_its_tasks_poll() {
        let pacer = Pacer::new(&RateLimit::windows([(4, log::RESERVED_FROM)]).margin(0));
        pacer.ready(Priority::Create, far()).await.unwrap();
        pacer.ready(Priority::Create, far()).await.unwrap();
        let create = tokio::time::timeout(
            Duration::from_millis(50),
            pacer.ready(Priority::Create, far()),
        );
        assert!(create.await.is_err(), "a third create took its polls' room");
        // The poller's count, once it has one, replaces the estimate.
        pacer.reserve(0);
        let create = tokio::time::timeout(
            Duration::from_millis(50),
            pacer.ready(Priority::Create, far()),
        );
        assert!(create.await.is_ok());
    }

    #[tokio::test]
    async fn a_pause_holds_every_call_back() {
        let pacer = Pacer::new(&RateLimit::none());
        pacer.pause(Duration::from_millis(120));
        pacer.pause(Duration::from_millis(10)); // a shorter pause does not shorten it
        let started = std::time::Instant::now();
        pacer.ready(Priority::Poll, far()).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_pause_past_the_deadline_fails_the_call_at_once_with_a_429() {
        let pacer = Pacer::new(&RateLimit::freepik());
        pacer.pause(Duration::from_secs(3600));
        let deadline = Instant::now() + Duration::from_secs(60);
        let started = std::time::Instant::now();
        let Err(error) = pacer.ready(Priority::Create, deadline).await else {
            panic!("the call was let through a pause of an hour");
        };
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(error.status().map(|s| s.as_u16()), Some(429));
        let left = error.rate_limited().expect("a rate-limit error");
        assert!(
            left > Duration::from_secs(3590) && left <= Duration::from_secs(3600),
            "{left:?}"
        );
        assert!(error.to_string().contains("3600 s"), "{error}");
        // A wait whose deadline comes before the pause ends hears of it at once.
        let error = pacer.paused_past(deadline).await;
        let left = error.rate_limited().expect("a rate-limit error");
        assert!(left > Duration::from_secs(3590), "{left:?}");
    }
}
