//! The life of a task: CREATED, then IN_PROGRESS, then COMPLETED or FAILED.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::tasks::{Status, TaskStore};

/// Share of the processing time a task stays CREATED, like a queue wait before a GPU
/// picks it up.
const QUEUED_SHARE: u32 = 10;

/// Drives one task through its statuses on a tokio task of its own.
///
/// `fails` is decided by the caller at create time (see [`crate::faults::Dice::task_fails`]).
/// The task stops early, leaving the status as it is, when the simulator shuts down.
pub(crate) fn spawn(
    tasks: Arc<TaskStore>,
    id: String,
    processing_time: Duration,
    fails: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let queued = processing_time / QUEUED_SHARE;
    let working = processing_time - queued;
    tokio::spawn(async move {
        let run = async {
            tokio::time::sleep(queued).await;
            tasks.set_status(&id, Status::InProgress);
            tokio::time::sleep(working).await;
            let end = if fails {
                Status::Failed
            } else {
                Status::Completed
            };
            tasks.set_status(&id, end);
        };
        tokio::select! {
            () = run => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    });
}
