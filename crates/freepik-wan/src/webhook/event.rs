//! What a verified webhook says.

use crate::{Task, TaskId, TaskStatus};

/// A verified webhook: which task changed, to what status, and the video URLs
/// once it is `COMPLETED`.
///
/// The service sends one per status change, so a receiver sees intermediate
/// statuses too; a sender may also deliver the same request more than once,
/// so deduplicate on [`webhook_id`](Self::webhook_id) if that matters.
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
}
