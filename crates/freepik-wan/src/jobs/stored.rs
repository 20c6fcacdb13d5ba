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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    #[tokio::test]
    async fn a_request_comes_back_from_the_store_with_its_inputs_in_their_places() {
        let r2v: Model = "reference-to-video/wan-2-7".parse().unwrap();
        let voice = Media::Url("https://cdn.example/voice.mp3".into());
        let image = Bytes::from_static(b"not checked here");
        let request = r2v
            .request()
            .prompt("Image 1 waves at Video 1")
            .reference_image(Media::Bytes(image.clone()), Some(voice))
            .reference_video("https://cdn.example/clip.mp4", None)
            .seed(7);
        let (stored, blobs) = store(&request).await.unwrap();
        assert_eq!(blobs, vec![(0, image)]);
        // A JSON round trip, as the database keeps it.
        let stored: Value = serde_json::from_str(&stored.to_string()).unwrap();
        let back = load(&stored, &blobs).unwrap();
        let (again, media) = back.to_stored();
        let (first, _) = request.to_stored();
        assert_eq!(again, first);
        let described: Vec<String> = media.iter().map(Media::describe).collect();
        assert_eq!(
            described,
            [
                "16 bytes",
                "URL https://cdn.example/voice.mp3",
                "URL https://cdn.example/clip.mp4"
            ]
        );
        let task = Media::Task(TaskId::from("0f3c").with_model(r2v));
        let edit: Model = "video-edit/wan-2-7".parse().unwrap();
        let request = edit.request().video(task).prompt("make it night");
        let (stored, blobs) = store(&request).await.unwrap();
        let back = load(&stored, &blobs).unwrap();
        let (_, media) = back.to_stored();
        assert!(
            matches!(&media[..], [Media::Task(id)] if id.as_str() == "0f3c" && id.model() == r2v)
        );
    }

    #[test]
    fn a_stored_request_that_lost_a_file_is_refused() {
        let i2v: Model = "image-to-video/wan-2-7".parse().unwrap();
        let request = i2v.request().image(vec![1u8, 2, 3]).prompt("x");
        let (mut stored, _) = request.to_stored();
        stored["inputs"] = serde_json::json!([{ "bytes": 0 }]);
        let error = load(&stored, &[]).unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
    }
}
