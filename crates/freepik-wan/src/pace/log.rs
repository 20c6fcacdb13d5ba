//! The sliding-window log behind the pacer: the instants of the requests
//! let through recently, and the rule that a request goes only when every
//! window has room for it.
//!
//! A window of `budget` requests over `length` holds when, at every instant,
//! fewer than `budget` requests went out in the `length` before it. The log
//! checks exactly that (no approximation by a bucket), so it is exact for a
//! service that counts sliding windows and therefore safe for one that counts
//! fixed ones. Only the last `budget` instants of the largest window can ever
//! decide anything, so that is all it keeps.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The instants of recent requests, checked against each window.
#[derive(Debug)]
pub(crate) struct Log {
    /// Each window's budget (at least 1) and length.
    windows: Vec<(usize, Duration)>,
    /// When the most recent requests went out, oldest first.
    sent: VecDeque<Instant>,
    /// The largest budget: older instants never matter.
    keep: usize,
}

impl Log {
    pub(crate) fn new(windows: Vec<(usize, Duration)>) -> Log {
        let windows: Vec<(usize, Duration)> = windows
            .into_iter()
            .map(|(budget, length)| (budget.max(1), length))
            .collect();
        let keep = windows.iter().map(|(budget, _)| *budget).max().unwrap_or(1);
        Log {
            windows,
            sent: VecDeque::with_capacity(keep.min(4096)),
            keep,
        }
    }

    /// Counts a request going out at `now` if every window has room for it
    /// while keeping `reserve` of its budget free (never more than half of
    /// it, so that whatever is held back by a reserve still moves); otherwise
    /// says when the first window that lacks room will have it. `now` must
    /// not go backwards between calls.
    pub(crate) fn take(&mut self, now: Instant, reserve: usize) -> Result<(), Instant> {
        let mut room_at = now;
        for &(budget, length) in &self.windows {
            let allowed = budget - reserve.min(budget / 2);
            // With `allowed` or more requests already sent, the `allowed`-th
            // most recent must have left the window (sent `length` or more
            // ago) for one more to fit.
            if let Some(index) = self.sent.len().checked_sub(allowed) {
                room_at = room_at.max(self.sent[index] + length);
            }
        }
        if room_at > now {
            return Err(room_at);
        }
        self.sent.push_back(now);
        if self.sent.len() > self.keep {
            self.sent.pop_front();
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.sent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_window_lets_its_budget_through_then_names_the_instant_room_returns() {
        let start = Instant::now();
        let mut log = Log::new(vec![(3, ms(1000))]);
        for i in 0..3 {
            log.take(start + ms(i * 10), 0).unwrap();
        }
        // The fourth waits until the first has left: 1000 ms after it.
        assert_eq!(log.take(start + ms(30), 0), Err(start + ms(1000)));
        assert_eq!(log.take(start + ms(999), 0), Err(start + ms(1000)));
        log.take(start + ms(1000), 0).unwrap();
        // Then the next waits for the second.
        assert_eq!(log.take(start + ms(1000), 0), Err(start + ms(1010)));
    }

    #[test]
    fn the_longest_wait_of_several_windows_wins() {
        let start = Instant::now();
        // 2 per 100 ms and 3 per 1 s.
        let mut log = Log::new(vec![(2, ms(100)), (3, ms(1000))]);
        log.take(start, 0).unwrap();
        log.take(start, 0).unwrap();
        assert_eq!(log.take(start + ms(50), 0), Err(start + ms(100)));
        log.take(start + ms(100), 0).unwrap();
        // The short window has room again at 200 ms, the long one only at 1 s.
        assert_eq!(log.take(start + ms(200), 0), Err(start + ms(1000)));
    }

    #[test]
    fn a_reserve_holds_back_part_of_each_budget_but_never_more_than_half() {
        let start = Instant::now();
        let mut log = Log::new(vec![(10, ms(1000))]);
        for _ in 0..7 {
            log.take(start, 3).unwrap();
        }
        // 7 of 10 used: a call keeping 3 free waits, one keeping none goes.
        assert!(log.take(start, 3).is_err());
        log.take(start, 0).unwrap();
        // A reserve larger than the budget keeps only half of it free.
        let mut log = Log::new(vec![(10, ms(1000))]);
        for _ in 0..5 {
            log.take(start, 1000).unwrap();
        }
        assert!(log.take(start, 1000).is_err());
    }

    /// Requests tried at pseudo-random instants: no window ever holds more
    /// than its budget, and a request is refused only when some window is
    /// full at that instant.
    #[test]
    fn no_window_is_ever_exceeded_and_no_room_is_left_unused() {
        let start = Instant::now();
        let windows = vec![(5, ms(100)), (12, ms(1000))];
        let mut log = Log::new(windows.clone());
        let mut sent: Vec<Instant> = Vec::new();
        let mut t = 0u64;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            t += seed % 40;
            let now = start + ms(t);
            let full = windows.iter().any(|&(budget, length)| {
                sent.iter().filter(|&&s| now - s < length).count() >= budget
            });
            match log.take(now, 0) {
                Ok(()) => {
                    assert!(!full, "let through at {t} ms with a window full");
                    sent.push(now);
                }
                Err(at) => {
                    assert!(full, "refused at {t} ms with room in every window");
                    assert!(at > now);
                }
            }
            assert!(log.kept() <= 12, "memory bounded by the largest budget");
        }
        for &(budget, length) in &windows {
            for (i, &s) in sent.iter().enumerate() {
                let within = sent[i..]
                    .iter()
                    .filter(|&&later| later - s < length)
                    .count();
                assert!(within <= budget, "{within} requests within {length:?}");
            }
        }
        assert!(sent.len() > 100, "the test exercised the windows");
    }
}
