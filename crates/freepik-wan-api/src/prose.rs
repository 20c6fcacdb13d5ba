//! The rules the documentation states only in prose, not in a schema: the
//! SDK checks them before sending and the simulator refuses what breaks
//! them, both with this one copy. They key on the fields a model has (not on
//! family names), so a new tier of a family gets its family's rules.

use serde_json::{Map, Value};

use crate::models::ModelInfo;

/// The most references reference-to-video takes, images and videos
/// together (said in the body's description only).
pub const MAX_REFERENCES: usize = 5;

/// A broken prose rule: the field to name, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProseViolation {
    /// The body field the rule is about.
    pub field: &'static str,
    /// What is wrong, naming the model.
    pub reason: String,
}

impl ModelInfo {
    /// The first prose rule `body` breaks for this model, if any.
    ///
    /// ```
    /// use freepik_wan_api::models::MODELS;
    ///
    /// let r2v = MODELS.iter().find(|m| m.kind == "reference-to-video").unwrap();
    /// let empty = serde_json::Map::new();
    /// assert_eq!(r2v.check_prose(&empty).unwrap_err().field, "image_urls");
    /// ```
    pub fn check_prose(&self, body: &Map<String, Value>) -> Result<(), ProseViolation> {
        let path = self.path();
        let broken = |field, reason| Err(ProseViolation { field, reason });
        // Wan 2.6: "`multi` ... (requires enable_prompt_expansion=true)".
        if body.get("shot_type").and_then(Value::as_str) == Some("multi") {
            let expansion = body
                .get("enable_prompt_expansion")
                .and_then(Value::as_bool)
                .or_else(|| {
                    self.field("enable_prompt_expansion")
                        .and_then(|f| f.default)
                        .map(|d| d == "true")
                });
            if expansion != Some(true) {
                return broken(
                    "shot_type",
                    format!(
                        "multi-shot on {path} needs prompt expansion on (enable_prompt_expansion: true)"
                    ),
                );
            }
        }
        // Wan 2.7 image-to-video: a start image; a start and an end image; or
        // a video to continue (optionally with an end image).
        if self.kind == "image-to-video"
            && self.field("start_image_url").is_some()
            && self.field("video_url").is_some()
        {
            let has = |name: &str| body.contains_key(name);
            match (has("start_image_url"), has("video_url")) {
                (true, true) => {
                    return broken(
                        "video_url",
                        format!("{path} continues a video or starts from an image, not both"),
                    );
                }
                (false, false) => {
                    return broken(
                        "start_image_url",
                        format!(
                            "{path} needs a start image (optionally with an end image) or a video to continue"
                        ),
                    );
                }
                _ => {}
            }
        }
        // Reference-to-video: at least one image or video reference, at most
        // 5 of them together.
        if self.kind == "reference-to-video" {
            let count = |name: &str| body.get(name).and_then(Value::as_array).map_or(0, Vec::len);
            let references = count("image_urls") + count("video_urls");
            if !(1..=MAX_REFERENCES).contains(&references) {
                return broken(
                    "image_urls",
                    format!(
                        "{path} takes 1 to {MAX_REFERENCES} references (images and videos together), not {references}"
                    ),
                );
            }
        }
        Ok(())
    }
}
