//! Tasks as the SDK hands them out: an id, a status, and the video URLs.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use freepik_wan_api::TaskStatus;

/// A task's id, as the service issued it (a UUID string).
///
/// ```
/// use freepik_wan::TaskId;
///
/// let id = TaskId::from("046b6c7f-0b8a-43b9-b35d-6489e6daee91");
/// assert_eq!(id.as_str(), "046b6c7f-0b8a-43b9-b35d-6489e6daee91");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TaskId {
    fn from(value: &str) -> Self {
        TaskId(value.to_owned())
    }
}

impl From<String> for TaskId {
    fn from(value: String) -> Self {
        TaskId(value)
    }
}

impl From<&TaskId> for TaskId {
    fn from(value: &TaskId) -> Self {
        value.clone()
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A task: its id, its status and, once `COMPLETED`, the URLs of the video.
///
/// Tasks from [`Client::tasks`](crate::Client::tasks) carry no URLs (the list
/// does not include them); fetch one with [`Client::task`](crate::Client::task).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Task {
    /// The task id.
    pub id: TaskId,
    /// Where the task is in its life.
    pub status: TaskStatus,
    /// URLs of the generated video (empty until `COMPLETED`).
    pub generated: Vec<String>,
}

impl Task {
    /// Builds a task by hand, e.g. for tests of code that consumes tasks.
    pub fn new(id: impl Into<TaskId>, status: TaskStatus, generated: Vec<String>) -> Self {
        Task {
            id: id.into(),
            status,
            generated,
        }
    }

    /// The first generated video URL, if the task is complete.
    pub fn video_url(&self) -> Option<&str> {
        self.generated.first().map(String::as_str)
    }
}
