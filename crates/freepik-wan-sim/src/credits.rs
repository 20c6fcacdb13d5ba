//! The account's credits, when a test limits them: each create that makes a
//! task spends one, and a create with none left is refused with a 402.

use std::sync::Mutex;

/// What the account can still pay for; `None` is unlimited.
pub(crate) struct Credits(Mutex<Option<u64>>);

impl Credits {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Credits(Mutex::new(limit))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spends one credit; `false` when none is left (nothing is spent).
    pub(crate) fn spend(&self) -> bool {
        match &mut *self.lock() {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }

    /// Adds `n` credits (nothing changes for an unlimited account).
    pub(crate) fn add(&self, n: u64) {
        if let Some(left) = &mut *self.lock() {
            *left = left.saturating_add(n);
        }
    }
}
