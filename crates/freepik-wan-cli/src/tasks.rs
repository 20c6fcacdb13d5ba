//! `status` and `list`: one request each, answered on stdout.

use std::time::Instant;

use freepik_wan::{Model, TaskId};
use serde_json::json;

use crate::connect::Connection;
use crate::exit::Failure;
use crate::generate::millis;
use crate::output::Output;

/// `status`: the task's id, status and video URLs, tab-separated on one line.
pub async fn status(connection: &Connection, task_id: TaskId, out: Output) -> Result<(), Failure> {
    let started = Instant::now();
    let client = connection.client(None)?;
    let task = client
        .task(task_id.clone())
        .await
        .map_err(|e| crate::generate::not_found_hint(Failure::from(e), &task_id))?;
    let mut plain = format!("{}\t{}", task.id, task.status);
    for url in &task.generated {
        plain.push('\t');
        plain.push_str(url);
    }
    out.result(
        plain,
        json!({
            "task_id": task.id,
            "status": task.status,
            "urls": task.generated,
            "timings": { "request_ms": millis(started.elapsed()) },
        }),
    );
    Ok(())
}

/// `list`: one `id<TAB>status` line per task (the list carries no URLs).
pub async fn list(connection: &Connection, model: Model, out: Output) -> Result<(), Failure> {
    let started = Instant::now();
    let client = connection.client(None)?;
    let tasks = client.tasks_at(model).await?;
    if tasks.is_empty() {
        out.note("no tasks");
    }
    let plain = tasks
        .iter()
        .map(|t| format!("{}\t{}", t.id, t.status))
        .collect::<Vec<_>>()
        .join("\n");
    let items: Vec<_> = tasks
        .iter()
        .map(|t| json!({ "task_id": t.id, "status": t.status }))
        .collect();
    out.result(
        plain,
        json!({
            "count": items.len(),
            "tasks": items,
            "timings": { "request_ms": millis(started.elapsed()) },
        }),
    );
    Ok(())
}
