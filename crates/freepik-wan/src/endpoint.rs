//! The one place that calls a model's endpoint: every model has the same
//! create, status and list, so they are called by the model's path (the raw
//! client's `create_at`, `task_at`, `tasks_at`), never by a `match` over
//! models: a model the spec gains needs nothing here.

use freepik_wan_api::{Client as Api, types};

use crate::api_error::call;
use crate::error::Result;
use crate::model::Model;
use crate::observe::metric;

/// Runs one attempt of `operation` at `model`: recorded on the attempt's
/// span and counted.
async fn observed<T>(
    operation: &'static str,
    model: Model,
    task_id: Option<&str>,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::Span::current();
    span.record("freepik_wan.model", tracing::field::display(model));
    if let Some(id) = task_id {
        span.record("freepik_wan.task_id", id);
    }
    let result = call.await;
    metric::api_request(operation, Some(model), &result);
    result
}

/// `POST /v1/ai/{kind}/{segment}`.
pub(crate) async fn create(
    api: &Api,
    model: Model,
    body: &serde_json::Value,
) -> Result<types::CreateTaskResponse> {
    let path = model.to_string();
    observed("create_task", model, None, call(api.create_at(&path, body))).await
}

/// `GET /v1/ai/{kind}/{segment}/{task-id}`.
pub(crate) async fn get(api: &Api, model: Model, task_id: &str) -> Result<types::GetTaskResponse> {
    let path = model.to_string();
    observed(
        "get_task",
        model,
        Some(task_id),
        call(api.task_at(&path, task_id)),
    )
    .await
}

/// `GET /v1/ai/{kind}/{segment}`.
pub(crate) async fn list(api: &Api, model: Model) -> Result<types::ListTasksResponse> {
    let path = model.to_string();
    observed("list_tasks", model, None, call(api.tasks_at(&path))).await
}
