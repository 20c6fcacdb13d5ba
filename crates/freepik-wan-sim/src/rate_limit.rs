//! Freepik's published rate limits, enforced per API key.
//!
//! Freepik publishes two windows per IP: 50 requests/s over 5 s, and 10
//! requests/s on average over 2 minutes. The simulator counts them exactly,
//! as sliding windows over the times of the requests it let through, rather
//! than with a token bucket: a client's pacing is judged against "N requests
//! in any window of W", which is what the published figures say, so a
//! simulator that approximated them could pass a client the service would
//! throttle. Refused requests do not count, so a client that backs off
//! recovers.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rate limits for the simulator: each window allows at most `requests` API
/// calls per key in any interval of its `length`.
///
/// ```
/// use freepik_wan_sim::RateLimit;
///
/// let published = RateLimit::freepik(); // 250 per 5 s and 1,200 per 2 min
/// let tight = RateLimit::per_second(5);
/// let none = RateLimit::off();
/// # let _ = (published, tight, none);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct RateLimit {
    windows: Vec<(u32, Duration)>,
}

impl RateLimit {
    /// No limit (the library builder's default).
    pub fn off() -> Self {
        RateLimit::default()
    }

    /// Freepik's published limits: 50 requests/s over 5 s (250 in any 5 s)
    /// and 10 requests/s on average over 2 minutes (1,200 in any 120 s).
    pub fn freepik() -> Self {
        RateLimit::off()
            .window(250, Duration::from_secs(5))
            .window(1200, Duration::from_secs(120))
    }

    /// At most `requests` in any one second, for tests that want the limit
    /// to bite quickly.
    pub fn per_second(requests: u32) -> Self {
        RateLimit::off().window(requests, Duration::from_secs(1))
    }

    /// Adds a window: at most `requests` in any interval of `length`.
    pub fn window(mut self, requests: u32, length: Duration) -> Self {
        self.windows.push((requests, length));
        self
    }

    /// Whether any window is set.
    pub fn is_off(&self) -> bool {
        self.windows.is_empty()
    }
}

/// The sliding windows' state: when each key's recent requests were let through.
pub(crate) struct Limiter {
    limit: RateLimit,
    /// Longest window: older entries can be forgotten.
    horizon: Duration,
    seen: Mutex<HashMap<usize, VecDeque<Instant>>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let horizon = limit
            .windows
            .iter()
            .map(|(_, length)| *length)
            .max()
            .unwrap_or_default();
        Limiter {
            limit,
            horizon,
            seen: Mutex::default(),
        }
    }

    /// Lets a request of `key` through (and counts it), or says how long
    /// until it would be let through.
    pub(crate) fn admit(&self, key: usize) -> Result<(), Duration> {
        if self.limit.is_off() {
            return Ok(());
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let times = seen.entry(key).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.horizon)
        {
            times.pop_front();
        }
        let mut wait = Duration::ZERO;
        for (requests, length) in &self.limit.windows {
            let in_window = times
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < *length);
            let count = in_window.count();
            if count >= *requests as usize {
                // The request that must leave the window for this one to fit.
                let oldest = times[times.len() - *requests as usize];
                wait = wait.max(*length - now.duration_since(oldest));
            }
        }
        if wait.is_zero() {
            times.push_back(now);
            Ok(())
        } else {
            Err(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_lets_n_through_then_says_when_the_next_fits() {
        let limiter = Limiter::new(RateLimit::off().window(3, Duration::from_secs(60)));
        for _ in 0..3 {
            limiter.admit(0).unwrap();
        }
        let wait = limiter.admit(0).unwrap_err();
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        // Per key: another key has its own windows.
        limiter.admit(1).unwrap();
        // Refused requests do not count.
        assert!(limiter.admit(0).is_err());
        assert_eq!(limiter.seen.lock().unwrap()[&0].len(), 3);
    }

    #[test]
    fn the_freepik_limit_has_both_published_windows() {
        assert_eq!(
            RateLimit::freepik().windows,
            [
                (250, Duration::from_secs(5)),
                (1200, Duration::from_secs(120))
            ]
        );
        assert!(RateLimit::off().is_off());
        let limiter = Limiter::new(RateLimit::freepik());
        for _ in 0..250 {
            limiter.admit(0).unwrap();
        }
        assert!(limiter.admit(0).is_err(), "the 251st within 5 s");
    }
}
