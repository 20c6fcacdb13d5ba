//! The one place that maps a [`Resolution`] to its generated operations: the
//! rest of the SDK names a resolution, never an endpoint. Progenitor makes one
//! method (and builder type) per path, so the choice is a `match` here.

use freepik_wan_api::{Client as Api, types};

use crate::api_error::call;
use crate::error::Result;
use crate::resolution::Resolution;

/// `POST /v1/ai/image-to-video/wan-v2-2-{resolution}`.
pub(crate) async fn create(
    api: &Api,
    resolution: Resolution,
    body: types::CreateTaskRequest,
) -> Result<types::CreateTaskResponse> {
    match resolution {
        Resolution::P480 => call(api.create_video_wan_v22_480p().body(body).send()).await,
        Resolution::P580 => call(api.create_video_wan_v22_580p().body(body).send()).await,
        Resolution::P720 => call(api.create_video_wan_v22_720p().body(body).send()).await,
    }
}

/// `GET /v1/ai/image-to-video/wan-v2-2-{resolution}/{task-id}`.
pub(crate) async fn get(
    api: &Api,
    resolution: Resolution,
    task_id: &str,
) -> Result<types::GetTaskResponse> {
    match resolution {
        Resolution::P480 => call(api.get_wan_v22_480p_task().task_id(task_id).send()).await,
        Resolution::P580 => call(api.get_wan_v22_580p_task().task_id(task_id).send()).await,
        Resolution::P720 => call(api.get_wan_v22_720p_task().task_id(task_id).send()).await,
    }
}

/// `GET /v1/ai/image-to-video/wan-v2-2-{resolution}`.
pub(crate) async fn list(api: &Api, resolution: Resolution) -> Result<types::ListTasksResponse> {
    match resolution {
        Resolution::P480 => call(api.list_wan_v22_480p_tasks().send()).await,
        Resolution::P580 => call(api.list_wan_v22_580p_tasks().send()).await,
        Resolution::P720 => call(api.list_wan_v22_720p_tasks().send()).await,
    }
}
