//! What a verified webhook says, and turning it into a task to download.

use crate::{Client, Error, Resolution, Result, Task, TaskId, TaskStatus};

/// A verified webhook: which task changed, to what status, and the video URLs
/// once it is `COMPLETED`.
///
/// The service sends one per status change, so a receiver sees intermediate
/// statuses too; a sender may also deliver the same request more than once,
/// so deduplicate on [`webhook_id`](Self::webhook_id) if that matters
/// ([`RecentIds`](super::RecentIds) does it in memory).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The `webhook-id` header: the same for redeliveries of one message.
    pub webhook_id: String,
    /// The `webhook-timestamp` header, in Unix seconds.
    pub timestamp: i64,
    /// The task the event is about.
    pub task_id: TaskId,
    /// The task's new status.
    pub status: TaskStatus,
    /// URLs of the generated video (empty until `COMPLETED`).
    pub generated: Vec<String>,
}

impl WebhookEvent {
    /// The event as a [`Task`], to feed code that already handles tasks from
    /// polling.
    pub fn into_task(self) -> Task {
        Task::new(self.task_id, self.status, self.generated)
    }

    /// The same event, its task at `resolution`'s endpoint. A webhook does
    /// not say which resolution its task was created at; the task id is
    /// taken to be at the default (580p) unless told, and a fetch of it
    /// (for fresh URLs) goes there.
    #[must_use]
    pub fn with_resolution(mut self, resolution: Resolution) -> Self {
        self.task_id = self.task_id.with_resolution(resolution);
        self
    }

    /// The same event, its task at `model`'s endpoint (a webhook does not
    /// say which model made the task; the code that created it knows).
    #[must_use]
    pub fn with_model(mut self, model: crate::Model) -> Self {
        self.task_id = self.task_id.with_model(model);
        self
    }
}

impl Client {
    /// The finished task a verified webhook announces, ready to
    /// [`download`](Client::download): `Some` with its video URLs once it
    /// is `COMPLETED` (the event's own, or fetched when the event carries
    /// none), `None` for a status on the way (nothing to do yet), and
    /// [`Error::TaskFailed`] for `FAILED`.
    ///
    /// Needs nothing from the process that created the task, so it works on
    /// whichever replica a webhook reaches. The task it returns carries its
    /// id: a download whose URL has expired meanwhile fetches fresh ones.
    ///
    /// ```no_run
    /// # async fn handler(client: freepik_wan::Client, verifier: freepik_wan::webhook::Verifier,
    /// #                  headers: freepik_wan::reqwest::header::HeaderMap, body: Vec<u8>) -> freepik_wan::Result<()> {
    /// let event = verifier.verify(&headers, &body)?;
    /// if let Some(task) = client.completed_task(&event).await? {
    ///     client.download(&task, format!("{}.mp4", task.id)).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn completed_task(&self, event: &WebhookEvent) -> Result<Option<Task>> {
        match event.status {
            TaskStatus::Completed if !event.generated.is_empty() => {
                Ok(Some(event.clone().into_task()))
            }
            TaskStatus::Completed => {
                let task = self.task(&event.task_id).await?;
                Ok(
                    (task.status == TaskStatus::Completed && task.video_url().is_some())
                        .then_some(task),
                )
            }
            TaskStatus::Failed => Err(Error::TaskFailed {
                task: Box::new(event.clone().into_task()),
            }),
            _ => Ok(None),
        }
    }
}
