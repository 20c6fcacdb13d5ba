//! The one place that calls a model's endpoint: every model has the same
//! create, status and list, so they are called by the model's path (the raw
//! client's `create_at`, `task_at`, `tasks_at`), never by a `match` over
//! models: a model the spec gains needs nothing here.

use freepik_wan_api::{Client as Api, types};

use crate::api_error::call;
use crate::error::Result;
use crate::model::Model;

/// `POST /v1/ai/{kind}/{segment}`.
pub(crate) async fn create(
    api: &Api,
    model: Model,
    body: &serde_json::Value,
) -> Result<types::CreateTaskResponse> {
    call(api.create_at(&model.to_string(), body)).await
}

/// `GET /v1/ai/{kind}/{segment}/{task-id}`.
pub(crate) async fn get(api: &Api, model: Model, task_id: &str) -> Result<types::GetTaskResponse> {
    call(api.task_at(&model.to_string(), task_id)).await
}

/// `GET /v1/ai/{kind}/{segment}`.
pub(crate) async fn list(api: &Api, model: Model) -> Result<types::ListTasksResponse> {
    call(api.tasks_at(&model.to_string())).await
}
