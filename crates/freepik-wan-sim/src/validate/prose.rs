//! The rules the documentation states only in prose, the same ones the SDK
//! checks (`freepik-wan`'s `model/rules.rs`), keyed on the fields a model has
//! rather than on family names, so a new tier of a family gets its family's
//! rules.

use freepik_wan_api::models::ModelInfo;
use serde_json::{Map, Value};

/// The most references reference-to-video takes, images and videos together
/// (said in the body's description only).
const MAX_REFERENCES: usize = 5;

/// The first broken rule, as the field to name and why.
pub(super) fn check(
    model: &ModelInfo,
    body: &Map<String, Value>,
) -> Result<(), (&'static str, String)> {
    let path = model.path();
    // Wan 2.6: "`multi` ... (requires enable_prompt_expansion=true)".
    if body.get("shot_type").and_then(Value::as_str) == Some("multi") {
        let expansion = body
            .get("enable_prompt_expansion")
            .and_then(Value::as_bool)
            .or_else(|| {
                model
                    .field("enable_prompt_expansion")
                    .and_then(|f| f.default)
                    .map(|d| d == "true")
            });
        if expansion != Some(true) {
            return Err((
                "shot_type",
                format!(
                    "multi-shot on {path} needs prompt expansion on (enable_prompt_expansion: true)"
                ),
            ));
        }
    }
    // Wan 2.7 image-to-video: a start image; a start and an end image; or a
    // video to continue (optionally with an end image).
    if model.kind == "image-to-video"
        && model.field("start_image_url").is_some()
        && model.field("video_url").is_some()
    {
        let has = |name: &str| body.contains_key(name);
        match (has("start_image_url"), has("video_url")) {
            (true, true) => {
                return Err((
                    "video_url",
                    format!("{path} continues a video or starts from an image, not both"),
                ));
            }
            (false, false) => {
                return Err((
                    "start_image_url",
                    format!(
                        "{path} needs a start image (optionally with an end image) or a video to continue"
                    ),
                ));
            }
            _ => {}
        }
    }
    // Reference-to-video: at least one image or video reference, at most 5
    // of them together.
    if model.kind == "reference-to-video" {
        let count = |name: &str| body.get(name).and_then(Value::as_array).map_or(0, Vec::len);
        let references = count("image_urls") + count("video_urls");
        if !(1..=MAX_REFERENCES).contains(&references) {
            return Err((
                "image_urls",
                format!(
                    "{path} takes 1 to {MAX_REFERENCES} references (images and videos together), not {references}"
                ),
            ));
        }
    }
    Ok(())
}
