//! The sliding-window log behind the pacer: the instants of the requests
//! let through recently, and the rule that a request goes only when every
//! window has room for it.
//!
//! A window of `budget` requests over `length` holds when, at every instant,
//! fewer than `budget` requests went out in the `length` before it. The log
//! checks exactly that (no approximation by a bucket), so it is exact for a
//! service that counts sliding windows and therefore safe for one that counts
//! fixed ones.
//!
//! The service counts a request when it receives it, some time between its
//! sending and its answer. So a request counts from the moment it is let
//! through (while it is in flight) until `length` after its answer came
//! back: never shorter than the service counts it, whatever the network does
//! to it on the way. Only the last `budget` answered instants of the largest
//! window can ever decide anything, so that is all it keeps.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The shortest window a reserve applies to. A shorter one, once full, has
/// room again within seconds, and the calls a reserve is for go first then
/// anyway; a longer one could hold them back for minutes.
pub(crate) const RESERVED_FROM: Duration = Duration::from_secs(10);

/// The instants of recent requests, checked against each window.
#[derive(Debug)]
pub(crate) struct Log {
    /// Each window's budget (at least 1) and length.
    windows: Vec<(usize, Duration)>,
    /// When the most recent requests were answered, oldest first.
    answered: VecDeque<Instant>,
    /// Requests let through and not answered yet: they count in every window.
    in_flight: usize,
    /// The largest budget: older instants never matter.
    keep: usize,
}

/// Why a request cannot go yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// Every window will have room at this instant.
    Until(Instant),
    /// A window is full of requests in flight: one must be answered first.
    InFlight,
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
            answered: VecDeque::with_capacity(keep.min(4096)),
            in_flight: 0,
            keep,
        }
    }

    /// Lets a request go at `now` if every window has room for it while
    /// keeping `reserve` of its budget free (never more than half of it, so
    /// that whatever a reserve holds back still moves), in windows of
    /// [`RESERVED_FROM`] or longer; it then counts as in flight until
    /// [`answered`](Self::answered). Otherwise says what it waits for.
    pub(crate) fn take(&mut self, now: Instant, reserve: usize) -> Result<(), Full> {
        let mut room_at = now;
        for &(budget, length) in &self.windows {
            let reserve = if length >= RESERVED_FROM { reserve } else { 0 };
            let allowed = budget - reserve.min(budget / 2);
            // Room for answered ones besides those in flight, and for this one.
            let Some(room) = allowed.checked_sub(self.in_flight + 1) else {
                return Err(Full::InFlight);
            };
            // With more than `room` answered, the `room + 1`-th most recent
            // must have left the window (answered `length` or more ago).
            if let Some(index) = self.answered.len().checked_sub(room + 1) {
                room_at = room_at.max(self.answered[index] + length);
            }
        }
        if room_at > now {
            return Err(Full::Until(room_at));
        }
        self.in_flight += 1;
        Ok(())
    }

    /// A request let through by [`take`](Self::take) was answered (or
    /// given up on) at `now`, which must not go backwards between calls.
    pub(crate) fn answered(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.answered.push_back(now);
        if self.answered.len() > self.keep {
            self.answered.pop_front();
        }
    }

    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.answered.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A request answered at once.
    fn send(log: &mut Log, at: Instant, reserve: usize) -> Result<(), Full> {
        log.take(at, reserve)?;
        log.answered(at);
        Ok(())
    }

    #[test]
    fn a_window_lets_its_budget_through_then_names_the_instant_room_returns() {
        let start = Instant::now();
        let mut log = Log::new(vec![(3, ms(1000))]);
        for i in 0..3 {
            send(&mut log, start + ms(i * 10), 0).unwrap();
        }
        // The fourth waits until the first has left: 1000 ms after it.
        let first_leaves = Err(Full::Until(start + ms(1000)));
        assert_eq!(send(&mut log, start + ms(30), 0), first_leaves);
        assert_eq!(send(&mut log, start + ms(999), 0), first_leaves);
        send(&mut log, start + ms(1000), 0).unwrap();
        // Then the next waits for the second.
        let second_leaves = Err(Full::Until(start + ms(1010)));
        assert_eq!(send(&mut log, start + ms(1000), 0), second_leaves);
    }

    #[test]
    fn the_longest_wait_of_several_windows_wins() {
        let start = Instant::now();
        // 2 per 100 ms and 3 per 1 s.
        let mut log = Log::new(vec![(2, ms(100)), (3, ms(1000))]);
        send(&mut log, start, 0).unwrap();
        send(&mut log, start, 0).unwrap();
        assert_eq!(
            send(&mut log, start + ms(50), 0),
            Err(Full::Until(start + ms(100)))
        );
        send(&mut log, start + ms(100), 0).unwrap();
        // The short window has room again at 200 ms, the long one only at 1 s.
        assert_eq!(
            send(&mut log, start + ms(200), 0),
            Err(Full::Until(start + ms(1000)))
        );
    }

    /// A request counts from when it goes until a window's length after its
    /// answer: the service may have received it as late as that answer.
    #[test]
    fn a_request_counts_while_in_flight_and_for_a_window_after_its_answer() {
        let start = Instant::now();
        let mut log = Log::new(vec![(2, ms(100))]);
        log.take(start, 0).unwrap();
        log.take(start, 0).unwrap();
        // Both in flight: nothing goes until one is answered...
        assert_eq!(log.take(start + ms(500), 0), Err(Full::InFlight));
        log.answered(start + ms(500));
        // ...and then only a window after that answer.
        assert_eq!(
            log.take(start + ms(500), 0),
            Err(Full::Until(start + ms(600)))
        );
        log.take(start + ms(600), 0).unwrap();
    }

    #[test]
    fn a_reserve_holds_back_part_of_a_long_windows_budget_but_never_more_than_half() {
        let start = Instant::now();
        let long = RESERVED_FROM;
        let mut log = Log::new(vec![(10, long)]);
        for _ in 0..7 {
            send(&mut log, start, 3).unwrap();
        }
        // 7 of 10 used: a call keeping 3 free waits, one keeping none goes.
        assert!(send(&mut log, start, 3).is_err());
        send(&mut log, start, 0).unwrap();
        // A reserve larger than the budget keeps only half of it free.
        let mut log = Log::new(vec![(10, long)]);
        for _ in 0..5 {
            send(&mut log, start, 1000).unwrap();
        }
        assert!(send(&mut log, start, 1000).is_err());
        // A short window keeps no reserve: it has room again within seconds.
        let mut log = Log::new(vec![(10, ms(1000)), (100, long)]);
        for _ in 0..10 {
            send(&mut log, start, 5).unwrap();
        }
        assert!(send(&mut log, start, 5).is_err());
    }

    /// Requests tried at pseudo-random instants, each answered some
    /// pseudo-random time later and received by the service at any instant
    /// in between: no window ever holds more than its budget as the service
    /// counts, and a request is refused only when a window is full as the
    /// log counts.
    #[test]
    fn no_window_is_ever_exceeded_whatever_the_latency() {
        let start = Instant::now();
        let windows = vec![(5, ms(100)), (12, ms(1000))];
        let mut log = Log::new(windows.clone());
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // (answered at, received at) of the requests in flight and done.
        let mut flying: Vec<(u64, u64)> = Vec::new();
        let mut received: Vec<u64> = Vec::new();
        let mut t = 0u64;
        for _ in 0..5000 {
            t += next() % 40;
            // Answer what is due, in order.
            flying.sort();
            while flying.first().is_some_and(|(answer, _)| *answer <= t) {
                let (answer, at) = flying.remove(0);
                log.answered(start + ms(answer));
                received.push(at);
            }
            if log.take(start + ms(t), 0).is_ok() {
                let latency = next() % 60;
                flying.push((t + latency, t + next() % (latency + 1)));
            }
            assert!(log.kept() <= 12, "memory bounded by the largest budget");
        }
        received.extend(flying.iter().map(|(_, at)| *at));
        received.sort();
        for &(budget, length) in &windows {
            let length = length.as_millis() as u64;
            for (i, &s) in received.iter().enumerate() {
                let within = received[i..].iter().filter(|&&r| r - s < length).count();
                assert!(within <= budget, "{within} requests within {length} ms");
            }
        }
        assert!(received.len() > 100, "the test exercised the windows");
    }
}
