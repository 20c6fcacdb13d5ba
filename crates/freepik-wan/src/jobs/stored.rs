//! A job's request as the store keeps it, so that any replica can send it.
//!
//! URLs and task inputs are kept as they are (any replica can reach them).
//! A local file is read at enqueue and kept, like bytes, in the database
//! with the job (`freepik_wan_job_media`): a path means nothing on another
//! replica, and uploading at enqueue would put a call to Magnific (paced,
//! retried, failing on its own) into the app's request path, and start the
//! staged file's clock (its URL lives about a day) before the job is even
//! claimed. The bytes are deleted once the create is settled.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::media::Media;
use crate::model::VideoRequest;
use crate::task::TaskId;

/// The request's JSON with each input's stored form, and the bytes of the
/// local ones (by position).
pub(crate) async fn store(request: &VideoRequest) -> crate::Result<(Value, Vec<(i32, Bytes)>)> {
    let (mut stored, media) = request.to_stored();
    let mut inputs = Vec::with_capacity(media.len());
    let mut blobs = Vec::new();
    for media in media {
        let position = i32::try_from(blobs.len()).unwrap_or(i32::MAX);
        inputs.push(match media {
            Media::Url(url) => json!({ "url": url }),
            Media::Task(id) => json!({ "task": id.as_str(), "model": id.model().to_string() }),
            Media::Bytes(bytes) => {
                blobs.push((position, bytes));
                json!({ "bytes": position })
            }
            Media::Path(path) => {
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|source| crate::Error::Io {
                        action: "reading",
                        path: path.clone(),
                        source,
                    })?;
                blobs.push((position, Bytes::from(bytes)));
                json!({ "bytes": position })
            }
        });
    }
    stored["inputs"] = Value::Array(inputs);
    Ok((stored, blobs))
}

/// The request back, with the stored bytes.
pub(crate) fn load(stored: &Value, blobs: &[(i32, Bytes)]) -> crate::Result<VideoRequest> {
    let bad = |why: &str| crate::Error::Validation {
        field: "request",
        reason: format!("the stored request cannot be read: {why}"),
    };
    let inputs = stored["inputs"]
        .as_array()
        .ok_or_else(|| bad("no inputs"))?;
    let mut media = Vec::with_capacity(inputs.len());
    for input in inputs {
        media.push(if let Some(url) = input["url"].as_str() {
            Media::Url(url.to_owned())
        } else if let Some(task) = input["task"].as_str() {
            let model = input["model"]
                .as_str()
                .ok_or_else(|| bad("a task input names no model"))?
                .parse()?;
            Media::Task(TaskId::from(task).with_model(model))
        } else if let Some(position) = input["bytes"].as_i64() {
            let bytes = blobs
                .iter()
                .find(|(p, _)| i64::from(*p) == position)
                .map(|(_, b)| b.clone())
                .ok_or_else(|| bad("a stored file is missing"))?;
            Media::Bytes(bytes)
        } else {
            return Err(bad("an input of unknown form"));
        });
    }
    VideoRequest::from_stored(stored, media)
}
