//! Remembering the webhook ids already handled, to make redeliveries harmless.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// The ids of the last webhooks handled, to tell a redelivery from a new
/// message.
///
/// Standard Webhooks senders retry a delivery that was not acknowledged in
/// time with the same `webhook-id`, so a receiver can see one message twice
/// (or more). `RecentIds` remembers the last `capacity` ids (10,000 by
/// default, under a megabyte): memory stays bounded however long it runs,
/// and a repeat is recognised as long as fewer than `capacity` other
/// messages came in between. [`Client::deliver`](crate::Client::deliver)
/// keeps one of its own; use another in a receiver that acts on events
/// itself (or deduplicate in your own store, across replicas).
///
/// ```
/// use freepik_wan::webhook::RecentIds;
///
/// let seen = RecentIds::new(2);
/// assert!(seen.first_time("msg_1"));
/// assert!(!seen.first_time("msg_1")); // a redelivery
/// assert!(seen.first_time("msg_2"));
/// assert!(seen.first_time("msg_3")); // msg_1 leaves the window
/// assert!(seen.first_time("msg_1"));
/// ```
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    ids: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    set: HashSet<String>,
    order: VecDeque<String>,
}

/// How many ids [`RecentIds::default`] remembers.
pub const DEFAULT_RECENT_IDS: usize = 10_000;

impl Default for RecentIds {
    fn default() -> Self {
        RecentIds::new(DEFAULT_RECENT_IDS)
    }
}

impl RecentIds {
    /// Remembers the last `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            capacity: capacity.max(1),
            ids: Mutex::default(),
        }
    }

    /// Records `id`; `true` the first time it is seen within the window,
    /// `false` for a repeat. An empty id is never taken for a repeat (there
    /// is nothing to tell messages apart by).
    pub fn first_time(&self, id: &str) -> bool {
        if id.is_empty() {
            return true;
        }
        let mut window = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if window.set.contains(id) {
            return false;
        }
        window.set.insert(id.to_owned());
        window.order.push_back(id.to_owned());
        if window.order.len() > self.capacity
            && let Some(oldest) = window.order.pop_front()
        {
            window.set.remove(&oldest);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded() {
        let seen = RecentIds::new(100);
        for i in 0..10_000 {
            assert!(seen.first_time(&format!("msg_{i}")));
        }
        let window = seen.ids.lock().unwrap();
        assert_eq!((window.set.len(), window.order.len()), (100, 100));
        drop(window);
        assert!(!seen.first_time("msg_9999"));
        assert!(seen.first_time("msg_0"));
        assert!(seen.first_time("") && seen.first_time(""));
    }
}
