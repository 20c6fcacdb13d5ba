//! Tasks as the SDK hands them out: an id, a status, and the video URLs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::resolution::Resolution;

pub use freepik_wan_api::TaskStatus;

/// A task's id, as the service issued it (a UUID string), and the
/// [`Model`] endpoint it lives at (a task is found only at the model that
/// made it).
///
/// Ids the client hands out (from a create or a list) know their model; one
/// made from a string is taken to be Wan 2.2 at 580p, the default, unless
/// [`with_model`](Self::with_model) (or [`with_resolution`](Self::with_resolution),
/// for Wan 2.2) says otherwise. The model is not part of the id's text: it
/// displays and serializes as the bare id.
///
/// ```
/// use freepik_wan::{Model, Resolution, TaskId};
///
/// let id = TaskId::from("046b6c7f-0b8a-43b9-b35d-6489e6daee91");
/// assert_eq!(id.as_str(), "046b6c7f-0b8a-43b9-b35d-6489e6daee91");
/// assert_eq!(id.resolution(), Resolution::P580);
/// let t2v: Model = "text-to-video/wan-2-7".parse().unwrap();
/// assert_eq!(id.clone().with_model(t2v).model(), t2v);
/// // UUIDs are case-insensitive: one task, one id.
/// assert_eq!(TaskId::from("046B6C7F-0B8A-43B9-B35D-6489E6DAEE91"), id);
/// let hd = id.with_resolution(Resolution::P720);
/// assert_eq!(hd.resolution(), Resolution::P720);
/// assert_eq!(hd.to_string(), "046b6c7f-0b8a-43b9-b35d-6489e6daee91");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct TaskId {
    id: String,
    #[serde(skip)]
    model: Model,
}

impl TaskId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The Wan 2.2 tier the task lives at; 580p, the default, for a task of
    /// another model (see [`model`](Self::model)).
    pub fn resolution(&self) -> Resolution {
        self.model.resolution().unwrap_or_default()
    }

    /// The model endpoint the task lives at.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The same id at another Wan 2.2 resolution's endpoint.
    #[must_use]
    pub fn with_resolution(self, resolution: Resolution) -> Self {
        self.with_model(Model::from(resolution))
    }

    /// The same id at another model's endpoint.
    #[must_use]
    pub fn with_model(mut self, model: Model) -> Self {
        self.model = model;
        self
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl From<&str> for TaskId {
    fn from(value: &str) -> Self {
        TaskId::from(value.to_owned())
    }
}

impl From<String> for TaskId {
    /// Takes the id as given, except that a UUID is written in lowercase:
    /// UUIDs are case-insensitive, and the service issues them in lowercase,
    /// so `3D27…` and `3d27…` are one task (and one wait).
    fn from(id: String) -> Self {
        TaskId {
            id: canonical(id),
            model: Model::default(),
        }
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TaskId::from)
    }
}

/// A UUID-shaped id (hex digits and hyphens only) in lowercase; anything
/// else as it is.
pub(crate) fn canonical(id: String) -> String {
    let uuid_like = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if uuid_like && id.bytes().any(|b| b.is_ascii_uppercase()) {
        id.to_ascii_lowercase()
    } else {
        id
    }
}

impl From<&TaskId> for TaskId {
    fn from(value: &TaskId) -> Self {
        value.clone()
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.id
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
