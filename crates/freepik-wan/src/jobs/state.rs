use std::fmt;
use std::str::FromStr;

/// Where a job is. A job moves forward only:
///
/// ```text
/// queued ─► sending ─► created ─► finishing ─► done
///   ▲  │       │          ▲  ▲        │
///   └──┘       ▼          │  └────────┘ (handler failed, or the task is still running)
/// (retry)  uncertain ─────┘ (reconciled: its task found by the proof rule)
///   any ──► failed
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for a worker to upload its inputs and create it.
    Queued,
    /// Its create is (or was) on the wire: the outcome is not recorded yet.
    /// When the worker's lease lapses in this state, the job is
    /// [`Uncertain`](Self::Uncertain).
    Sending,
    /// A create that may have made a task: never sent again, settled by
    /// reconciliation from the task list.
    Uncertain,
    /// Its task exists; waiting for the webhook or the sweep.
    Created,
    /// Claimed by one worker, which runs the app's handler.
    Finishing,
    /// The handler ran and returned `Ok` for the task's end.
    Done,
    /// Given up: refused by the service, the task `FAILED` (after the
    /// handler saw it), or the handler failed too many times.
    Failed,
}

impl JobState {
    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Sending => "sending",
            JobState::Uncertain => "uncertain",
            JobState::Created => "created",
            JobState::Finishing => "finishing",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    /// Whether the job has ended (`done` or `failed`).
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => JobState::Queued,
            "sending" => JobState::Sending,
            "uncertain" => JobState::Uncertain,
            "created" => JobState::Created,
            "finishing" => JobState::Finishing,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => return Err(format!("unknown job state {other:?}")),
        })
    }
}
