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

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::model::Model;
use crate::task::{Task, TaskId};

#[derive(Default)]
pub(crate) struct Ledger {
    state: Mutex<State>,
    /// Signalled whenever a create attempt ends.
    settled: Notify,
    /// Held while a create lists for the baseline: concurrent first creates
    /// share one list instead of each sending its own.
    pub(crate) baselining: tokio::sync::Mutex<()>,
}

/// The most task ids the ledger remembers: past it the oldest seen are
/// forgotten (with their claims), so a long-running server's client stays
/// bounded. A forgotten task is one a list of the service no longer shows in
/// practice (it shows a key's recent tasks).
pub(crate) const LEDGER_KEPT: usize = 100_000;

/// The most unsettled uncertain creates remembered.
const OPEN_UNCERTAIN_KEPT: usize = 10_000;

#[derive(Default)]
struct State {
    /// Task id → the ticket count when this client first saw it.
    seen: HashMap<String, u64>,
    /// The ids of `seen`, oldest first, for forgetting.
    order: VecDeque<String>,
    /// The tasks that are this client's: it created them, or adopted them.
    claimed: HashSet<String>,
    /// Model → the ticket count when this client first listed it: the
    /// tasks there before that are known, so later ones can be told new.
    baselined: HashMap<Model, u64>,
    in_flight: BTreeSet<u64>,
    /// Tickets of uncertain creates that adopted no task (yet): a task that
    /// appears later may be any of theirs, so none of them may take it alone.
    open_uncertain: BTreeSet<u64>,
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

impl State {
    fn note_seen(&mut self, id: &str, ticket: u64) {
        if self.seen.contains_key(id) {
            return;
        }
        self.seen.insert(id.to_owned(), ticket);
        self.order.push_back(id.to_owned());
        while self.order.len() > LEDGER_KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
                self.claimed.remove(&oldest);
            }
        }
    }
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a task this client fetched.
    pub(crate) fn saw(&self, id: &TaskId) {
        let mut state = self.lock();
        let now = state.next_ticket;
        state.note_seen(id.as_str(), now);
    }

    /// Notes a task this client created: it is its own.
    pub(crate) fn created(&self, id: &TaskId) {
        self.saw(id);
        self.lock().claimed.insert(id.as_str().to_owned());
    }

    /// Notes a list of `model`'s tasks, which is then the baseline.
    pub(crate) fn listed(&self, model: Model, tasks: &[Task]) {
        let mut state = self.lock();
        let now = state.next_ticket;
        state.baselined.entry(model).or_insert(now);
        for task in tasks {
            state.note_seen(task.id.as_str(), now);
        }
    }

    /// Whether this client has listed `model` before.
    pub(crate) fn has_baseline(&self, model: Model) -> bool {
        self.lock().baselined.contains_key(&model)
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

    /// The ticket of the latest create attempt (0 before any).
    pub(crate) fn latest_ticket(&self) -> u64 {
        self.lock().next_ticket.saturating_sub(1)
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

    /// The tasks of `listed` (a list of `model`) that are nobody's here and
    /// were first seen after create attempt `ticket` began (or never).
    ///
    /// `None` when `model` was not listed before that attempt began: then
    /// any task, however old, would look new, so none can be told to be the
    /// attempt's.
    pub(crate) fn unclaimed_since(
        &self,
        model: Model,
        ticket: u64,
        listed: Vec<Task>,
    ) -> Option<Vec<Task>> {
        let state = self.lock();
        if state.baselined.get(&model).is_none_or(|at| *at > ticket) {
            return None;
        }
        let fresh = listed
            .into_iter()
            .filter(|task| {
                let id = task.id.as_str();
                !state.claimed.contains(id) && state.seen.get(id).is_none_or(|at| *at > ticket)
            })
            .collect();
        Some(fresh)
    }

    /// Whether `model` was listed before create attempt `ticket` began, so
    /// that its tasks can be told from the ones made after.
    pub(crate) fn baselined_before(&self, model: Model, ticket: u64) -> bool {
        self.lock()
            .baselined
            .get(&model)
            .is_some_and(|at| *at <= ticket)
    }

    /// Notes an uncertain create whose task is not known.
    pub(crate) fn uncertain(&self, ticket: u64) {
        let mut state = self.lock();
        state.open_uncertain.insert(ticket);
        while state.open_uncertain.len() > OPEN_UNCERTAIN_KEPT {
            state.open_uncertain.pop_first();
        }
    }

    /// Whether another open uncertain create than `ticket`'s could have made
    /// `task`: one that began before the task was first seen.
    pub(crate) fn contested(&self, ticket: u64, task: &Task) -> bool {
        let state = self.lock();
        let first_seen = state.seen.get(task.id.as_str()).copied();
        state
            .open_uncertain
            .iter()
            .any(|other| *other != ticket && first_seen.is_none_or(|at| at > *other))
    }

    /// Adopts `task` for the uncertain create `ticket`: it is this client's,
    /// and that create is settled. False if it was claimed already.
    pub(crate) fn adopt(&self, ticket: u64, task: &Task) -> bool {
        let claimed = self.claim(task);
        if claimed {
            self.lock().open_uncertain.remove(&ticket);
        }
        claimed
    }

    /// Claims `task` as this client's if nobody has yet: true once per task.
    pub(crate) fn claim(&self, task: &Task) -> bool {
        let mut state = self.lock();
        let now = state.next_ticket;
        state.note_seen(task.id.as_str(), now);
        state.claimed.insert(task.id.as_str().to_owned())
    }

    /// Whether `task` is this client's already.
    pub(crate) fn is_claimed(&self, task: &Task) -> bool {
        self.lock().claimed.contains(task.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_forgets_the_oldest_tasks_past_its_bound() {
        let ledger = Ledger::default();
        let extra = 3;
        for i in 0..LEDGER_KEPT + extra {
            ledger.created(&TaskId::from(format!("task-{i}")));
        }
        let state = ledger.lock();
        assert_eq!(state.seen.len(), LEDGER_KEPT);
        assert_eq!(state.order.len(), LEDGER_KEPT);
        assert!(state.claimed.len() <= LEDGER_KEPT);
        assert!(!state.seen.contains_key("task-0"));
        assert!(
            state
                .seen
                .contains_key(&format!("task-{}", LEDGER_KEPT + extra - 1))
        );
    }
}
