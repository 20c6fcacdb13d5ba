//! Shared waiting: every wait on one client (and its clones) is served by one
//! poller task, so a thousand waits cost a few list requests, not a thousand
//! polls.
//!
//! Each model's pending tasks are polled together on one schedule. With
//! two or more pending, one list request gives all their statuses; a task
//! fetches on its own only when the list shows it ended (the list carries no
//! video URLs) or does not show it at all. With one pending, it is fetched on
//! its own, as a single wait always was.
//!
//! What this assumes about the list operation: that the statuses it shows
//! are current. Nothing depends on it being complete: a task missing from it
//! (a list that pages, lags behind a create, or drops old tasks) is fetched
//! by id, so an incomplete list costs requests, never a stranded wait.
//!
//! Once the client has been handed a webhook for a task it created
//! ([`Client::deliver`], which proves webhooks reach it), tasks it created
//! with a webhook URL are polled at a slow fallback cadence
//! ([`WaitOptions::webhook_fallback`]) while every pending task of their
//! model has one: their webhooks wake the waits, and the fallback only
//! covers one that never comes. A client whose webhooks go elsewhere keeps
//! polling at the normal cadence.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::client::Client;
use crate::error::Error;
use crate::model::Model;
use crate::task::{Task, TaskId, TaskStatus};
use crate::wait_options::{WaitOptions, later};
use crate::webhook::WebhookEvent;

/// The most task ids remembered as "created with a webhook URL": beyond it
/// the oldest are forgotten (their waits then poll at the normal cadence).
const WEBHOOK_IDS_KEPT: usize = 100_000;

/// What a wait has learned of its task so far.
#[derive(Clone, Debug)]
pub(crate) enum Seen {
    /// Nothing yet.
    Nothing,
    /// The task as last polled or delivered.
    Task(Task),
    /// Polling met an error that polling again cannot fix (a 404, a 401).
    /// The first wait to look takes the error; any other (or, after a failed
    /// list, every one) asks once more itself, to return a typed error.
    Broken(Arc<Mutex<Option<Error>>>),
}

/// The waits in progress on one client, and the poller's schedule.
#[derive(Default)]
pub(crate) struct Waiters {
    state: Mutex<State>,
    /// Wakes the poller when a wait registers or a webhook asks for a poll.
    wake: Notify,
    /// The webhook ids delivered lately: a redelivery changes nothing.
    delivered: crate::webhook::RecentIds,
}

#[derive(Default)]
struct State {
    entries: HashMap<TaskId, Entry>,
    groups: HashMap<Model, Schedule>,
    /// Tasks created with a webhook URL, with the last event delivered for
    /// one nobody was waiting on yet (a wait that starts later begins there).
    webhook_ids: HashMap<String, Option<Task>>,
    webhook_order: VecDeque<String>,
    /// Whether a webhook for one of those tasks has been delivered: until
    /// then, nothing shows that webhooks reach this client.
    webhooks_arrive: bool,
    running: bool,
    /// Which poller is the running one: a poller that ends (or is dropped,
    /// or panics) clears `running` only if it is still the current one.
    generation: u64,
}

struct Entry {
    tx: watch::Sender<Seen>,
    waits: usize,
    options: WaitOptions,
    webhook: bool,
    done: bool,
}

struct Schedule {
    due: Instant,
    interval: Duration,
}

/// One wait's hold on a task's updates; dropping it ends the wait's interest
/// (the poller stops polling a task nobody waits for).
pub(crate) struct Registration {
    client: Client,
    id: TaskId,
    pub(crate) updates: watch::Receiver<Seen>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = self.client.shared.waiters.lock();
        if let Some(entry) = state.entries.get_mut(&self.id) {
            entry.waits -= 1;
            if entry.waits == 0 {
                let done = entry.done;
                state.entries.remove(&self.id);
                if done && let Some(slot) = state.webhook_ids.get_mut(self.id.as_str()) {
                    // Ended and seen: nothing more to remember but the id.
                    *slot = None;
                }
            }
        }
    }
}

impl State {
    /// Spawns a poller unless one runs.
    fn start_poller(&mut self, client: &Client) {
        if self.running {
            return;
        }
        self.running = true;
        self.generation += 1;
        let guard = PollerGuard {
            client: client.clone(),
            generation: self.generation,
        };
        tokio::spawn(async move { poll_forever(guard).await });
    }
}

/// Held by a running poller: however it ends (returns, is dropped with its
/// runtime, panics), the client no longer counts it as running, so the next
/// wait starts another instead of waiting on a poller that is gone.
struct PollerGuard {
    client: Client,
    generation: u64,
}

impl Drop for PollerGuard {
    fn drop(&mut self) {
        let mut state = self.client.shared.waiters.lock();
        if state.generation == self.generation {
            state.running = false;
        }
    }
}

impl Waiters {
    /// Starts a poller if waits are pending and none runs.
    pub(crate) fn ensure_poller(&self, client: &Client) {
        let mut state = self.lock();
        if state.entries.values().any(|entry| !entry.done) {
            state.start_poller(client);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that `id` was created with a webhook URL.
    pub(crate) fn expect_webhooks(&self, id: &TaskId) {
        let mut state = self.lock();
        if state
            .webhook_ids
            .insert(id.as_str().to_owned(), None)
            .is_none()
        {
            state.webhook_order.push_back(id.as_str().to_owned());
            if state.webhook_order.len() > WEBHOOK_IDS_KEPT
                && let Some(oldest) = state.webhook_order.pop_front()
            {
                state.webhook_ids.remove(&oldest);
            }
        }
    }

    /// Starts following `id` for one wait, starting the poller if needed.
    pub(crate) fn register(
        &self,
        client: &Client,
        id: &TaskId,
        options: &WaitOptions,
    ) -> Registration {
        let mut state = self.lock();
        let delivered = state.webhook_ids.get(id.as_str()).cloned();
        let webhook = delivered.is_some() && state.webhooks_arrive;
        let entry = state.entries.entry(id.clone()).or_insert_with(|| {
            // A webhook that came before the wait is where it starts.
            let delivered = delivered.flatten();
            let done = delivered.as_ref().is_some_and(|t| t.status.is_terminal());
            let seen = delivered.map_or(Seen::Nothing, |task| {
                Seen::Task(Task::new(id.clone(), task.status, task.generated))
            });
            Entry {
                tx: watch::channel(seen).0,
                waits: 0,
                options: options.clone(),
                webhook,
                done,
            }
        });
        entry.waits += 1;
        // The tightest cadence any of its waits asked for.
        if options.max_interval < entry.options.max_interval {
            entry.options = options.clone();
        }
        let updates = entry.tx.subscribe();
        // A task whose webhooks will tell needs polling only as a fallback;
        // any other is polled at least every `max_interval`.
        let (first_poll, next_poll) = if webhook {
            (options.webhook_fallback, options.webhook_fallback)
        } else {
            (Duration::ZERO, options.max_interval)
        };
        let now = Instant::now();
        match state.groups.get_mut(&id.model()) {
            // A model nobody waited on is polled at once (unless
            // webhooks are expected).
            None => {
                state.groups.insert(
                    id.model(),
                    Schedule {
                        due: later(now, first_poll),
                        interval: options.initial_interval,
                    },
                );
            }
            // Otherwise the task joins the group's next poll, pulled in only
            // if it is further away than this task may go unpolled: a
            // stream of new waits does not make the lists any more often.
            Some(group) => group.due = group.due.min(later(now, next_poll)),
        }
        state.start_poller(client);
        drop(state);
        self.wake.notify_one();
        Registration {
            client: client.clone(),
            id: id.clone(),
            updates,
        }
    }

    /// Publishes what was learned of a task to its waits. A task that has
    /// ended stays ended: a poll answered before a webhook (or a list that
    /// lags) cannot take it back to a running status.
    fn publish(&self, task: Task) {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(&task.id) else {
            return;
        };
        if entry.done && !task.status.is_terminal() {
            return;
        }
        if task.status.is_terminal() {
            entry.done = true;
        }
        entry.tx.send_if_modified(|seen| {
            let changed = match seen {
                Seen::Task(old) => old.status != task.status,
                _ => true,
            };
            if changed {
                *seen = Seen::Task(task);
            }
            changed
        });
    }

    fn publish_broken(&self, id: &TaskId, error: Option<Error>) {
        if let Some(entry) = self.lock().entries.get(id) {
            entry
                .tx
                .send_replace(Seen::Broken(Arc::new(Mutex::new(error))));
        }
    }

    /// The task ids pending at `model`.
    fn pending(&self, model: Model) -> Vec<TaskId> {
        self.lock()
            .entries
            .iter()
            .filter(|(id, entry)| !entry.done && id.model() == model)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Sets the group's next poll, counted from `from` (when the last one
    /// began, so that a slow poll does not stretch the cadence): the backoff
    /// grows towards the tightest `max_interval` of its waits, or the webhook
    /// fallback when every pending task there expects webhooks.
    fn reschedule(&self, model: Model, from: Instant) {
        let mut state = self.lock();
        let pending: Vec<(&WaitOptions, bool)> = state
            .entries
            .iter()
            .filter(|(id, entry)| !entry.done && id.model() == model)
            .map(|(_, entry)| (&entry.options, entry.webhook))
            .collect();
        let Some(tightest) = pending
            .iter()
            .map(|(options, _)| *options)
            .min_by_key(|options| options.max_interval)
            .cloned()
        else {
            state.groups.remove(&model);
            return;
        };
        let all_webhooks = pending.iter().all(|(_, webhook)| *webhook);
        let fallback = pending
            .iter()
            .map(|(options, _)| options.webhook_fallback)
            .min()
            .unwrap_or_default();
        if let Some(group) = state.groups.get_mut(&model) {
            group.interval = if all_webhooks {
                fallback
            } else {
                tightest.next_interval(group.interval.min(tightest.max_interval))
            };
            group.due = later(from, tightest.jittered(group.interval));
        }
    }
}

impl Client {
    /// Hands the client a verified webhook: the waits on that task learn its
    /// new status at once (with the video URLs, when it is `COMPLETED`),
    /// without polling. Returns whether any wait was following the task.
    ///
    /// Call it from the webhook handler, after [`Verifier::verify`](crate::webhook::Verifier::verify).
    /// From the first webhook delivered for a task this client created, its
    /// tasks created with a webhook URL are polled only every
    /// [`WaitOptions::webhook_fallback`] (30 s), in case a webhook is lost. A
    /// webhook that arrives before anyone waits on its task is kept for the
    /// wait that comes later.
    ///
    /// A redelivery (a `webhook-id` delivered before, among the last
    /// [`DEFAULT_RECENT_IDS`](crate::webhook::DEFAULT_RECENT_IDS)) is ignored
    /// and returns `false`: a sender's retry never wakes a wait twice, nor
    /// takes it back to a status it has left.
    ///
    /// ```no_run
    /// # fn handler(client: &freepik_wan::Client, verifier: &freepik_wan::webhook::Verifier,
    /// #            headers: &freepik_wan::reqwest::header::HeaderMap, body: &[u8]) {
    /// if let Ok(event) = verifier.verify(headers, body) {
    ///     client.deliver(&event);
    /// }
    /// # }
    /// ```
    pub fn deliver(&self, event: &WebhookEvent) -> bool {
        let span = tracing::info_span!(
            "freepik_wan.webhook.deliver",
            freepik_wan.task_id = event.task_id.as_str(),
            freepik_wan.task.status = event.status.as_str(),
            freepik_wan.webhook.delivered = tracing::field::Empty,
        );
        let _in = span.enter();
        let delivered = self.deliver_inner(event);
        span.record("freepik_wan.webhook.delivered", delivered);
        delivered
    }

    fn deliver_inner(&self, event: &WebhookEvent) -> bool {
        let waiters = &self.shared.waiters;
        if !waiters.delivered.first_time(&event.webhook_id) {
            // Senders redeliver a message they think was lost; by now an
            // older status may be stale, so the repeat is not replayed.
            tracing::debug!(webhook_id = %event.webhook_id, task_id = %event.task_id, "webhook delivered again: ignored");
            return false;
        }
        let mut slowed = Vec::new();
        let targets: Vec<TaskId> = {
            let mut state = waiters.lock();
            let targets: Vec<TaskId> = state
                .entries
                .iter()
                .filter(|(id, entry)| !entry.done && id.as_str() == event.task_id.as_str())
                .map(|(id, _)| id.clone())
                .collect();
            if state.webhook_ids.contains_key(event.task_id.as_str()) && !state.webhooks_arrive {
                // Webhooks reach this client: its waits on tasks created with
                // one can poll at the fallback cadence from now on.
                let state = &mut *state;
                state.webhooks_arrive = true;
                for (id, entry) in state.entries.iter_mut() {
                    entry.webhook |= state.webhook_ids.contains_key(id.as_str());
                }
                slowed.extend(state.groups.keys().copied());
            }
            if targets.is_empty()
                && let Some(slot) = state.webhook_ids.get_mut(event.task_id.as_str())
                && !(event.status == TaskStatus::Completed && event.generated.is_empty())
            {
                // Nobody waits yet: keep it for a wait that starts later.
                *slot = Some(event.clone().into_task());
            }
            targets
        };
        for model in slowed {
            waiters.reschedule(model, Instant::now());
        }
        for id in &targets {
            if event.status == TaskStatus::Completed && event.generated.is_empty() {
                // Done, but the event lacks the URLs: fetch them now.
                if let Some(group) = waiters.lock().groups.get_mut(&id.model()) {
                    group.due = Instant::now();
                }
                waiters.wake.notify_one();
                continue;
            }
            waiters.publish(Task::new(
                id.clone(),
                event.status.clone(),
                event.generated.clone(),
            ));
        }
        !targets.is_empty()
    }
}

/// The poller: polls each model's pending tasks when due, until no
/// wait is left.
async fn poll_forever(guard: PollerGuard) {
    let client = &guard.client;
    let waiters = &client.shared.waiters;
    loop {
        let (due, next) = {
            let mut state = waiters.lock();
            let live: HashSet<Model> = state
                .entries
                .iter()
                .filter(|(_, entry)| !entry.done)
                .map(|(id, _)| id.model())
                .collect();
            state.groups.retain(|model, _| live.contains(model));
            // Each task waited on will cost at least one more request:
            // creates leave that much of the windows to them.
            let pending = state.entries.values().filter(|e| !e.done).count();
            client.shared.pacer.reserve(pending + state.groups.len());
            if state.groups.is_empty() {
                // Under the lock that saw no work left: a wait registering
                // next starts a new poller.
                state.running = false;
                return;
            }
            let now = Instant::now();
            let due: Vec<Model> = state
                .groups
                .iter()
                .filter(|(_, group)| group.due <= now)
                .map(|(model, _)| *model)
                .collect();
            let next = state.groups.values().map(|group| group.due).min();
            (due, next)
        };
        if due.is_empty() {
            if let Some(next) = next {
                // Until the next group is due, or a new wait or a webhook
                // asks for a poll sooner.
                let _ = tokio::time::timeout_at(next, waiters.wake.notified()).await;
            }
            continue;
        }
        for model in due {
            let began = Instant::now();
            // The ids polled are on the span: a task's polls are found by
            // its id, though one poll may serve many waits.
            let pending = waiters.pending(model);
            let ids: Vec<&str> = pending.iter().map(TaskId::as_str).collect();
            let span = tracing::info_span!(
                "freepik_wan.poll",
                freepik_wan.model = %model,
                freepik_wan.task_ids = ids.join(",").as_str(),
            );
            poll_group(client, model).instrument(span).await;
            waiters.reschedule(model, began);
        }
    }
}

async fn poll_group(client: &Client, model: Model) {
    let waiters = &client.shared.waiters;
    let pending = waiters.pending(model);
    if pending.len() < 2 {
        join_all(pending.into_iter().map(|id| fetch(client, id))).await;
        return;
    }
    match client.tasks_at(model).await {
        Ok(listed) => {
            let statuses: HashMap<&str, &TaskStatus> = listed
                .iter()
                .map(|task| (task.id.as_str(), &task.status))
                .collect();
            let mut to_fetch = Vec::new();
            for id in pending {
                match statuses.get(id.as_str()) {
                    Some(status) if !status.is_terminal() => {
                        waiters.publish(Task::new(id, (*status).clone(), Vec::new()));
                    }
                    // Ended (the list has no video URLs), or not listed.
                    _ => to_fetch.push(id),
                }
            }
            // At once, not one after another: each waits only for the pace,
            // and goes before other calls waiting for it (each ends a wait).
            crate::pace::ended(join_all(to_fetch.into_iter().map(|id| fetch(client, id)))).await;
        }
        Err(error) if error.is_retryable() => {
            tracing::warn!(%error, "listing tasks failed; will poll again");
        }
        Err(error) => {
            tracing::warn!(%error, "listing tasks failed for good");
            for id in pending {
                waiters.publish_broken(&id, None);
            }
        }
    }
}

async fn fetch(client: &Client, id: TaskId) {
    match client.task(&id).await {
        Ok(task) => client.shared.waiters.publish(task),
        Err(error) if error.is_retryable() => {
            tracing::warn!(task_id = %id, %error, "poll failed; will poll again");
        }
        Err(error) => client.shared.waiters.publish_broken(&id, Some(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_ended_task_is_not_taken_back_by_a_stale_poll() {
        // Nothing listens there: the poller's own polls fail and change nothing.
        let client = Client::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let id = TaskId::from("046b6c7f-0b8a-43b9-b35d-6489e6daee91");
        let waiters = &client.shared.waiters;
        let registration = waiters.register(&client, &id, &WaitOptions::default());
        let url = vec!["https://cdn.example/v.mp4".to_owned()];
        // A webhook said COMPLETED; a poll sent before it answers late.
        waiters.publish(Task::new(id.clone(), TaskStatus::Completed, url));
        waiters.publish(Task::new(id.clone(), TaskStatus::InProgress, Vec::new()));
        match &*registration.updates.borrow() {
            Seen::Task(task) => assert_eq!(task.status, TaskStatus::Completed),
            other => panic!("{other:?}"),
        }
    }
}
