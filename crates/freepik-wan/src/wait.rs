//! Waiting for a task: a deadline that bounds everything, and a stream of
//! status changes, fed by the client's shared poller
//! ([`poller`](crate::poller)) and by delivered webhooks.

use std::future::{Future, IntoFuture};
use std::pin::{Pin, pin};
use std::time::Duration;

use futures_util::future::{self, Either};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::poller::{Registration, Seen};
use crate::task::{Task, TaskId, TaskStatus};
use crate::wait_options::{WaitOptions, later};

impl Client {
    /// Waits until the task is `COMPLETED` and returns it (with its video
    /// URLs). `FAILED` gives [`Error::TaskFailed`]; the deadline gives
    /// [`Error::Timeout`] with the last status seen. A `429` whose
    /// `Retry-After` pauses the client past the deadline ends the wait at
    /// once with that 429 (see [`Error::rate_limited`]). Unknown statuses
    /// count as not finished. Dropping the future stops the polling.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client, id: freepik_wan::TaskId) -> freepik_wan::Result<()> {
    /// use std::time::Duration;
    /// let task = client.wait(&id).timeout(Duration::from_secs(300)).await?;
    /// println!("video at {:?}", task.video_url());
    /// # Ok(()) }
    /// ```
    pub fn wait(&self, id: impl Into<TaskId>) -> Wait {
        Wait {
            client: self.clone(),
            id: id.into(),
            options: self.shared.wait.clone(),
        }
    }

    /// The task's status changes as a stream, for progress displays: one item
    /// per change (the first poll's status included), ending after `COMPLETED`
    /// or `FAILED`, at the deadline (an [`Error::Timeout`] item), or at the
    /// first error that is not worth retrying.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(client: freepik_wan::Client, id: freepik_wan::TaskId) {
    /// let mut changes = std::pin::pin!(client.watch(&id));
    /// while let Some(change) = changes.next().await {
    ///     match change {
    ///         Ok(task) => println!("{} is {}", task.id, task.status),
    ///         Err(err) => eprintln!("{err}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn watch(
        &self,
        id: impl Into<TaskId>,
    ) -> impl Stream<Item = Result<Task>> + Send + 'static {
        self.watch_with(id.into(), self.shared.wait.clone())
    }

    /// [`watch`](Self::watch) with its own [`WaitOptions`] (cadence, deadline).
    pub fn watch_with(
        &self,
        id: impl Into<TaskId>,
        options: WaitOptions,
    ) -> impl Stream<Item = Result<Task>> + Send + 'static {
        let id = id.into();
        // One span for the whole wait, entered by each step of the stream.
        let span = tracing::info_span!(
            "freepik_wan.wait",
            freepik_wan.model = %id.model(),
            freepik_wan.task_id = id.as_str(),
            freepik_wan.task.status = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let state = Watching {
            client: self.clone(),
            id,
            span,
            options,
            registration: None,
            started: None,
            last: None,
            completed_without_url: None,
            done: false,
        };
        stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            let span = state.span.clone();
            let item = state.next_change().instrument(span).await;
            Some((item, state))
        })
    }
}

/// How long a wait asks again for the video URL of a task that is
/// COMPLETED without one, before it gives up with [`Error::NoVideoUrl`].
const COMPLETED_URL_GRACE: Duration = Duration::from_secs(60);

/// How often a wait that hears nothing checks that a poller serves it.
const POLLER_CHECK: Duration = Duration::from_secs(5);

impl Task {
    /// Waits for this task; the same as [`Client::wait`] with its id.
    pub fn wait(&self, client: &Client) -> Wait {
        client.wait(&self.id)
    }
}

/// A wait in preparation: set options, then `.await` it.
#[derive(Debug)]
#[must_use = "a wait does nothing until awaited"]
pub struct Wait {
    client: Client,
    id: TaskId,
    options: WaitOptions,
}

impl Wait {
    /// Replaces the client's default [`WaitOptions`] for this wait.
    pub fn options(mut self, options: WaitOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets only the deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Waits: the same as `.await`ing the `Wait`, for callers who prefer a
    /// named call (as with [`ImageToVideo::send`](crate::ImageToVideo::send)).
    pub async fn send(self) -> Result<Task> {
        self.run().await
    }

    async fn run(self) -> Result<Task> {
        let changes = self.client.watch_with(self.id.clone(), self.options);
        let mut changes = std::pin::pin!(changes);
        let mut last = None;
        while let Some(change) = changes.next().await {
            last = Some(change?);
        }
        // The stream only ends cleanly after a terminal status.
        let task = last.expect("a watch stream yields at least one item");
        match task.status {
            TaskStatus::Completed => Ok(task),
            _ => Err(Error::TaskFailed {
                task: Box::new(task),
            }),
        }
    }
}

impl IntoFuture for Wait {
    type Output = Result<Task>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Task>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// One watch's view of its task: what the shared poller (or a delivered
/// webhook) publishes, held to the watch's own deadline.
struct Watching {
    client: Client,
    id: TaskId,
    span: tracing::Span,
    options: WaitOptions,
    /// Taken on the first poll of the stream, not when it is made, so that a
    /// stream made outside a runtime does not start the poller there.
    registration: Option<Registration>,
    started: Option<(Instant, Instant)>,
    last: Option<TaskStatus>,
    /// Since when the task has been COMPLETED without a video URL, if it is.
    completed_without_url: Option<Instant>,
    done: bool,
}

impl Watching {
    /// The next change of status, the end, or the deadline, whichever comes
    /// first. The deadline bounds everything: the watch only listens to the
    /// poller, so a poll in flight (and its retries) never holds it past it.
    /// A `429` pausing the client past the deadline ends it at once with
    /// that 429 ([`Error::rate_limited`]).
    async fn next_change(&mut self) -> Result<Task> {
        let (started, deadline) = *self.started.get_or_insert_with(|| {
            let now = Instant::now();
            (now, later(now, self.options.timeout))
        });
        // A 429's pause that outlasts the deadline ends the wait at once:
        // no poll could go out before the deadline anyway.
        let client = self.client.clone();
        let paused = async { Err(client.shared.pacer.paused_past(deadline).await) };
        let next = async {
            match future::select(pin!(self.changed()), pin!(paused)).await {
                Either::Left((outcome, _)) | Either::Right((outcome, _)) => outcome,
            }
        };
        let outcome = tokio::time::timeout_at(deadline, next).await;
        let outcome = outcome.unwrap_or_else(|_| match self.completed_without_url {
            // It is done and paid for; only its URL is missing.
            Some(since) => Err(Error::NoVideoUrl {
                task_id: self.id.clone(),
                waited: since.elapsed(),
            }),
            None => Err(Error::Timeout {
                task_id: self.id.clone(),
                last_status: self.last.clone(),
                waited: started.elapsed(),
            }),
        });
        match &outcome {
            Ok(task) if !task.status.is_terminal() => {
                tracing::debug!(task_id = %task.id, status = %task.status, "status changed");
            }
            _ => {
                self.done = true;
                self.ended(&outcome, started);
            }
        }
        outcome
    }

    /// Fetches the task until its answer carries a video URL (or it is no
    /// longer COMPLETED), with backoff, for at most [`COMPLETED_URL_GRACE`].
    /// Records the end of the wait on its span (the last status, or the
    /// error) and in the wait-duration metric.
    fn ended(&self, outcome: &Result<Task>, started: Instant) {
        // A bounded label: a status the spec does not name is "OTHER".
        let status = match outcome {
            Ok(task) => match task.status {
                TaskStatus::Completed => "COMPLETED",
                TaskStatus::Failed => "FAILED",
                _ => "OTHER",
            },
            Err(error) => crate::observe::error_type(error),
        };
        self.span.record("freepik_wan.task.status", status);
        crate::observe::record_outcome(&self.span, outcome);
        if let Ok(task) = outcome {
            tracing::info!(task_id = %task.id, status = %task.status, "task ended");
        }
        crate::observe::metric::waited(self.id.model(), status, started.elapsed());
    }

    async fn fetch_video_url(&mut self) -> Result<Task> {
        let since = *self.completed_without_url.get_or_insert_with(Instant::now);
        let mut delay = Duration::from_millis(250);
        loop {
            if since.elapsed() >= COMPLETED_URL_GRACE {
                return Err(Error::NoVideoUrl {
                    task_id: self.id.clone(),
                    waited: since.elapsed(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            let task = self.client.task(&self.id).await?;
            if !(task.status == TaskStatus::Completed && task.generated.is_empty()) {
                self.completed_without_url = None;
                self.last = Some(task.status.clone());
                return Ok(task);
            }
        }
    }

    async fn changed(&mut self) -> Result<Task> {
        let registration = self.registration.get_or_insert_with(|| {
            self.client
                .shared
                .waiters
                .register(&self.client, &self.id, &self.options)
        });
        loop {
            let seen = registration.updates.borrow_and_update().clone();
            let task = match seen {
                Seen::Nothing => None,
                Seen::Task(task) => Some(task),
                // The poller met an error that polling again cannot fix:
                // ask once more, to return the typed error (or go on, if it
                // has passed).
                Seen::Broken(error) => {
                    let taken = error.lock().unwrap_or_else(|e| e.into_inner()).take();
                    match taken {
                        Some(error) => return Err(error),
                        None => Some(self.client.task(&self.id).await?),
                    }
                }
            };
            if let Some(task) = &task
                && task.status == TaskStatus::Completed
                && task.generated.is_empty()
            {
                // Done, but the answer carries no URL to download (a service
                // that fills it in a moment later): ask again.
                return self.fetch_video_url().await;
            }
            if let Some(task) = task
                && self.last.as_ref() != Some(&task.status)
            {
                self.last = Some(task.status.clone());
                return Ok(task);
            }
            let changed = tokio::time::timeout(POLLER_CHECK, registration.updates.changed()).await;
            match changed {
                Ok(Ok(())) => {}
                // Nothing new for a while: make sure a poller still runs (one
                // that panicked, or whose runtime was shut down, is replaced).
                Err(_) => self.client.shared.waiters.ensure_poller(&self.client),
                // The entry outlives its registrations; unreachable.
                Ok(Err(_)) => {
                    return Err(Error::Timeout {
                        task_id: self.id.clone(),
                        last_status: self.last.clone(),
                        waited: self.started.map(|(s, _)| s.elapsed()).unwrap_or_default(),
                    });
                }
            }
        }
    }
}
