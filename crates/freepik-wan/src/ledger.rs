//! What this client knows of its key's tasks, so that a create that may have
//! happened can be told apart from tasks that were already there.
//!
//! The ledger remembers when the client first saw each task id (created,
//! listed or fetched), counted in create attempts, and which tasks are its
//! own (created by it, or adopted). The first create at a resolution lists
//! that resolution first (one request per client), so tasks made before the
//! client existed are seen too.
//!
//! The candidates of an uncertain create are the tasks in a list taken after
//! it that are nobody's here and were not seen before its attempt began. A
//! create attempt on the wire holds a ticket; before picking candidates the
//! uncertain create waits for the attempts that could have made a task before
//! its list was served, so a sibling create's task is claimed, not a
//! candidate.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::resolution::Resolution;
use crate::task::Task;

#[derive(Default)]
pub(crate) struct Ledger {
    state: Mutex<State>,
    /// Signalled whenever a create attempt ends.
    settled: Notify,
    /// Held while a create lists for the baseline: concurrent first creates
    /// share one list instead of each sending its own.
    pub(crate) baselining: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Task id → the ticket count when this client first saw it.
    seen: HashMap<String, u64>,
    /// The tasks that are this client's: it created them, or adopted them.
    claimed: HashSet<String>,
    baselined: HashSet<Resolution>,
    in_flight: BTreeSet<u64>,
    next_ticket: u64,
}

/// A create attempt on the wire; dropping it ends the attempt.
pub(crate) struct CreateTicket<'a> {
    ledger: &'a Ledger,
    pub(crate) number: u64,
}

impl Drop for CreateTicket<'_> {
    fn drop(&mut self) {
        self.ledger.lock().in_flight.remove(&self.number);
        self.ledger.settled.notify_waiters();
    }
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a task this client fetched.
    pub(crate) fn saw(&self, id: &str) {
        let mut state = self.lock();
        let now = state.next_ticket;
        state.seen.entry(id.to_owned()).or_insert(now);
    }

    /// Notes a task this client created: it is its own.
    pub(crate) fn created(&self, id: &str) {
        self.saw(id);
        self.lock().claimed.insert(id.to_owned());
    }

    /// Notes a list of `resolution`'s tasks, which is then the baseline.
    pub(crate) fn listed(&self, resolution: Resolution, tasks: &[Task]) {
        let mut state = self.lock();
        state.baselined.insert(resolution);
        let now = state.next_ticket;
        for task in tasks {
            state.seen.entry(task.id.as_str().to_owned()).or_insert(now);
        }
    }

    /// Whether this client has listed `resolution` before.
    pub(crate) fn has_baseline(&self, resolution: Resolution) -> bool {
        self.lock().baselined.contains(&resolution)
    }

    pub(crate) fn start_create(&self) -> CreateTicket<'_> {
        let mut state = self.lock();
        let number = state.next_ticket;
        state.next_ticket += 1;
        state.in_flight.insert(number);
        CreateTicket {
            ledger: self,
            number,
        }
    }

    /// Waits (at most `limit`) until every create attempt started before now
    /// has ended, so that the tasks they made are known.
    pub(crate) async fn settle(&self, limit: Duration) {
        let horizon = self.lock().next_ticket;
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.settled.notified();
            let pending = self
                .lock()
                .in_flight
                .first()
                .is_some_and(|oldest| *oldest < horizon);
            if !pending {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// The tasks of `listed` that are nobody's here and were first seen
    /// after create attempt `ticket` began (or never).
    pub(crate) fn unclaimed_since(&self, ticket: u64, listed: Vec<Task>) -> Vec<Task> {
        let state = self.lock();
        listed
            .into_iter()
            .filter(|task| {
                let id = task.id.as_str();
                !state.claimed.contains(id) && state.seen.get(id).is_none_or(|at| *at > ticket)
            })
            .collect()
    }

    /// Claims `task` as this client's if nobody has yet: true once per task.
    pub(crate) fn claim(&self, task: &Task) -> bool {
        self.lock().claimed.insert(task.id.as_str().to_owned())
    }

    /// Whether `task` is this client's already.
    pub(crate) fn is_claimed(&self, task: &Task) -> bool {
        self.lock().claimed.contains(task.id.as_str())
    }
}
