//! Waiting and downloading with something to look at: a live status and
//! timer (or a byte count and rate) on a terminal, one plain line per change
//! when stderr is a file, nothing with `--quiet`.

use std::path::Path;
use std::time::{Duration, Instant};

use freepik_wan::{Client, Downloaded, Error, Task, TaskId, TaskStatus};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{Code, Failure};
use crate::output::Output;

const TICK: Duration = Duration::from_millis(120);

/// Waits for the task, showing each status change; `COMPLETED` gives the
/// task, `FAILED` an [`Error::TaskFailed`], the client's deadline an
/// [`Error::Timeout`].
///
/// Built on [`Client::watch`] rather than [`Client::wait`] so the display
/// sees every change; the deadline is the client's wait options', or
/// `deadline` when that comes first (`generate --timeout` counts the create).
pub async fn wait(
    client: &Client,
    id: &TaskId,
    deadline: Option<tokio::time::Instant>,
    out: Output,
) -> Result<Task, Failure> {
    let started = Instant::now();
    let bar = if out.live() {
        let bar = ProgressBar::new_spinner().with_style(style("{spinner} {msg} [{elapsed}]"));
        bar.set_message(format!("task {id}: waiting"));
        bar.enable_steady_tick(TICK);
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut changes = std::pin::pin!(client.watch(id));
    let mut last: Option<Task> = None;
    loop {
        let next = match deadline {
            None => changes.next().await,
            Some(deadline) => match tokio::time::timeout_at(deadline, changes.next()).await {
                Ok(next) => next,
                Err(_) => {
                    bar.finish_and_clear();
                    return Err(Error::Timeout {
                        task_id: id.clone(),
                        last_status: last.map(|task| task.status),
                        waited: started.elapsed(),
                    }
                    .into());
                }
            },
        };
        let Some(change) = next else { break };
        let task = match change {
            Ok(task) => task,
            Err(error) => {
                bar.finish_and_clear();
                return Err(error.into());
            }
        };
        bar.set_message(format!("task {id}: {}", task.status));
        if out.lines() {
            out.stderr(format!(
                "task {id}: {} after {:.1}s",
                task.status,
                started.elapsed().as_secs_f64()
            ));
        }
        last = Some(task);
    }
    bar.finish_and_clear();
    // The stream ends cleanly only after a terminal status.
    let task = last.ok_or_else(|| {
        Failure::new(
            Code::Service,
            format!("stopped hearing about task {id} before it finished"),
        )
    })?;
    if out.live() {
        // The live line is gone; leave the outcome in the scrollback.
        out.note(format!(
            "task {id}: {} after {:.1}s",
            task.status,
            started.elapsed().as_secs_f64()
        ));
    }
    match task.status {
        TaskStatus::Completed => Ok(task),
        _ => Err(Error::TaskFailed {
            task: Box::new(task),
        }
        .into()),
    }
}

/// Downloads the task's video to `path`, showing bytes and rate.
pub async fn download(
    client: &Client,
    task: &Task,
    path: &Path,
    out: Output,
) -> Result<Downloaded, Error> {
    let started = Instant::now();
    let bar = if out.live() {
        let bar = ProgressBar::new_spinner().with_style(style(
            "{spinner} downloading {bytes} ({binary_bytes_per_sec}) [{elapsed}]",
        ));
        bar.enable_steady_tick(TICK);
        bar
    } else {
        ProgressBar::hidden()
    };
    let shown = bar.clone();
    let mut sized = false;
    let saved = client
        .download_with_progress(task, path, move |progress| {
            // The size is known only once the response starts; a retried
            // download starts again from zero, which the bar follows.
            if !sized && let Some(total) = progress.total {
                shown.set_style(style(
                    "{spinner} downloading {bar:30} {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta})",
                ));
                shown.set_length(total);
                sized = true;
            }
            shown.set_position(progress.bytes);
        })
        .await;
    bar.finish_and_clear();
    let saved = saved?;
    out.note(format!(
        "saved {} ({} bytes in {:.1}s)",
        saved.path.display(),
        saved.bytes,
        started.elapsed().as_secs_f64()
    ));
    Ok(saved)
}

/// A bar for uploads on a terminal (hidden otherwise), and the callback
/// that moves it: bytes sent of the total, and the rate.
pub fn upload_bar(out: Output) -> (ProgressBar, impl Fn(freepik_wan::Progress) + Send + Sync) {
    let bar = if out.live() {
        let bar = ProgressBar::new(0).with_style(style(
            "{spinner} uploading {bar:30} {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta})",
        ));
        bar.enable_steady_tick(TICK);
        bar
    } else {
        ProgressBar::hidden()
    };
    let shown = bar.clone();
    let report = move |progress: freepik_wan::Progress| {
        if let Some(total) = progress.total {
            shown.set_length(total);
        }
        shown.set_position(progress.bytes);
    };
    (bar, report)
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants; a typo shows up as a plain spinner, not a crash.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}
