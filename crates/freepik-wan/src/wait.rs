//! Waiting for a task: polling with jittered backoff up to a cap, a
//! deadline, `Retry-After` honoured, and a stream of status changes.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::task::{Task, TaskId, TaskStatus};
use crate::wait_options::WaitOptions;

impl Client {
    /// Waits until the task is `COMPLETED` and returns it (with its video
    /// URLs). `FAILED` gives [`Error::TaskFailed`]; the deadline gives
    /// [`Error::Timeout`] with the last status seen. Unknown statuses count as
    /// not finished. Dropping the future stops the polling.
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
        let started = Instant::now();
        let state = Poller {
            client: self.clone(),
            deadline: started + options.timeout,
            started,
            interval: options.initial_interval.min(options.max_interval),
            delay: Duration::ZERO,
            last: None,
            done: false,
            id,
            options,
        };
        stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            let item = state.next_change().await;
            Some((item, state))
        })
    }
}

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

struct Poller {
    client: Client,
    id: TaskId,
    options: WaitOptions,
    started: Instant,
    deadline: Instant,
    interval: Duration,
    delay: Duration,
    last: Option<TaskStatus>,
    done: bool,
}

impl Poller {
    /// Polls until the status changes, the task ends, time runs out, or an
    /// error that polling again cannot fix.
    async fn next_change(&mut self) -> Result<Task> {
        loop {
            let now = Instant::now();
            if self.delay > Duration::ZERO {
                // Never sleep past the deadline: poll once more at it instead.
                tokio::time::sleep_until((now + self.delay).min(self.deadline)).await;
            }
            let polled = self.client.task(&self.id).await;
            self.delay = self.options.jittered(self.interval);
            self.interval = self.options.next_interval(self.interval);
            match polled {
                Ok(task) => {
                    let changed = self.last.as_ref() != Some(&task.status);
                    self.last = Some(task.status.clone());
                    if task.status.is_terminal() {
                        self.done = true;
                        return Ok(task);
                    }
                    if changed {
                        tracing::debug!(task_id = %task.id, status = %task.status, "status changed");
                        return Ok(task);
                    }
                }
                Err(err) if err.is_retryable() => {
                    // The client already retried; keep waiting, later if asked.
                    tracing::warn!(task_id = %self.id, error = %err, "poll failed; will poll again");
                    if let Some(after) = err.retry_after() {
                        self.delay = self.delay.max(after);
                    }
                }
                Err(err) => {
                    self.done = true;
                    return Err(err);
                }
            }
            if Instant::now() >= self.deadline {
                self.done = true;
                return Err(Error::Timeout {
                    task_id: self.id.clone(),
                    last_status: self.last.clone(),
                    waited: self.started.elapsed(),
                });
            }
        }
    }
}
