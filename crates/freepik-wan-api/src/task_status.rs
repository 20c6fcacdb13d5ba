//! The task status, written by hand so that a status the spec does not list yet
//! decodes as [`TaskStatus::Other`] instead of failing the whole response.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a task is in its life: `CREATED` → `IN_PROGRESS` → `COMPLETED` or `FAILED`.
///
/// Freepik adds statuses from time to time (`CREATED` arrived after the first
/// published spec), so any other value is kept verbatim in [`TaskStatus::Other`]
/// rather than rejected.
///
/// ```
/// use freepik_wan_api::TaskStatus;
///
/// let status: TaskStatus = serde_json::from_str("\"IN_PROGRESS\"").unwrap();
/// assert_eq!(status, TaskStatus::InProgress);
/// assert!(!status.is_terminal());
///
/// let unknown: TaskStatus = serde_json::from_str("\"QUEUED\"").unwrap();
/// assert_eq!(unknown, TaskStatus::Other("QUEUED".into()));
/// assert_eq!(unknown.to_string(), "QUEUED");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Accepted, not started yet (`CREATED`).
    Created,
    /// The model is running (`IN_PROGRESS`).
    InProgress,
    /// Done; the task's `generated` list holds the video URLs (`COMPLETED`).
    Completed,
    /// The service gave up on the task (`FAILED`).
    Failed,
    /// A status this version does not know, kept as the service sent it.
    Other(String),
}

impl TaskStatus {
    /// The wire form, e.g. `"IN_PROGRESS"`.
    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Created => "CREATED",
            TaskStatus::InProgress => "IN_PROGRESS",
            TaskStatus::Completed => "COMPLETED",
            TaskStatus::Failed => "FAILED",
            TaskStatus::Other(other) => other,
        }
    }

    /// `true` for `COMPLETED` and `FAILED`: the status will not change again.
    ///
    /// Unknown statuses count as not finished, so a waiter keeps polling
    /// instead of stopping on a value it cannot interpret.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed)
    }
}

impl From<&str> for TaskStatus {
    fn from(value: &str) -> Self {
        match value {
            "CREATED" => TaskStatus::Created,
            "IN_PROGRESS" => TaskStatus::InProgress,
            "COMPLETED" => TaskStatus::Completed,
            "FAILED" => TaskStatus::Failed,
            other => TaskStatus::Other(other.to_owned()),
        }
    }
}

impl FromStr for TaskStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(TaskStatus::from(s))
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TaskStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(TaskStatus::from(raw.as_str()))
    }
}

/// An open set of strings: the known values are listed as examples, not as an
/// `enum`, because a status added later must still be valid.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for TaskStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TaskStatus".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Task status: CREATED, IN_PROGRESS, COMPLETED or FAILED; other values may be added.",
            "examples": ["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"]
        })
    }
}
