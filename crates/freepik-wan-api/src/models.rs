//! Every Wan model the spec describes, as data: written at build time from the
//! normalized spec (each create operation the codegen marks `x-wan-model`), so
//! a model a regenerated spec gains is here with no hand-written change.
//!
//! ```
//! use freepik_wan_api::models::MODELS;
//!
//! let m = MODELS
//!     .iter()
//!     .find(|m| m.kind == "image-to-video" && m.segment == "wan-v2-6-1080p")
//!     .unwrap();
//! assert_eq!(m.family, "2.6");
//! assert_eq!(m.field("duration").unwrap().values, ["5", "10", "15"]);
//! assert!(m.field("image").unwrap().required);
//! ```

/// One model: one create operation at `/v1/ai/{kind}/{segment}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// The generation, e.g. `"2.6"`.
    pub family: &'static str,
    /// The kind's path segment: `"text-to-video"`, `"image-to-video"`,
    /// `"reference-to-video"` or `"video-edit"`.
    pub kind: &'static str,
    /// The model's path segment, e.g. `"wan-v2-6-1080p"`.
    pub segment: &'static str,
    /// The tier the path names, e.g. `"1080p"`; empty where the body picks
    /// the resolution (Wan 2.7).
    pub tier: &'static str,
    /// The generated body type, e.g. `"Wan26I2v1080pRequest"` (in [`crate::types`]).
    pub body: &'static str,
    /// The generated create method, e.g. `"create_video_wan_v26_i2v_1080p"`.
    pub create_operation: &'static str,
    /// Whether the create answers with the detail envelope, `{"data":
    /// {"task_id", "status", "generated": []}}` (Wan 2.7), rather than
    /// `{"data": {"task_id", "status"}}`.
    pub create_detail: bool,
    /// The body's fields, in the spec's order.
    pub fields: &'static [Field],
}

/// One field of a create body, with the limits the spec states for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The JSON name, e.g. `"prompt"`.
    pub name: &'static str,
    /// Whether the body must have it.
    pub required: bool,
    /// The JSON type: `"string"`, `"integer"`, `"boolean"`, `"array"` or `"object"`.
    pub ty: &'static str,
    /// The allowed values of an enum (as text), else empty.
    pub values: &'static [&'static str],
    /// An integer's least value.
    pub minimum: Option<i64>,
    /// An integer's greatest value.
    pub maximum: Option<i64>,
    /// A string's greatest length in characters.
    pub max_length: Option<u64>,
    /// An array's greatest length.
    pub max_items: Option<u64>,
    /// The default the service applies, as text (JSON for non-strings).
    pub default: Option<&'static str>,
    /// A URL (`format: uri`, for an array: its items).
    pub uri: bool,
    /// The spec's description says the field takes base64 (Wan 2.2's `image`;
    /// every other model's media inputs are URLs only).
    pub base64: bool,
    /// An array of objects: the objects' fields (e.g. `url`, `reference_voice`).
    pub item_fields: &'static [&'static str],
    /// An object's own fields (e.g. `additional_settings`' `prompt_extend`),
    /// or, for an array of objects, its items' (e.g. a reference's required
    /// `url`), each with its own limits; empty for other fields.
    pub fields: &'static [Field],
    /// For a media input (an image, video or audio by URL or base64): what
    /// its description says of the file, read from the spec's prose.
    pub media: Option<MediaRules>,
}

/// What a media field's description says of the file it takes (formats,
/// size, pixels, seconds), read at build time from the spec's prose, such
/// as "**Supported formats:** MP4, MOV | **Duration:** 2-10 seconds |
/// **Maximum file size:** 100MB".
///
/// ```
/// use freepik_wan_api::models::MODELS;
///
/// let edit = MODELS.iter().find(|m| m.path() == "video-edit/wan-2-7").unwrap();
/// let video = edit.field("video_url").unwrap().media.unwrap();
/// assert_eq!(video.kind, "video");
/// assert_eq!(video.formats, ["mp4", "mov"]);
/// assert_eq!(video.max_bytes, Some(100 << 20));
/// assert_eq!(video.seconds, Some((2, 10)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaRules {
    /// `"image"`, `"video"` or `"audio"`.
    pub kind: &'static str,
    /// The formats named, lower case (`"jpeg"`, `"png"`, `"webp"`, `"bmp"`,
    /// `"mp4"`, `"mov"`, `"wav"`, `"mp3"`); empty when none is named.
    pub formats: &'static [&'static str],
    /// The largest file, in bytes (the prose's MB read as MiB).
    pub max_bytes: Option<u64>,
    /// The least and greatest pixels per side.
    pub sides: Option<(u32, u32)>,
    /// The most one side may be times the other (8 for "between 1:8 and 8:1").
    pub max_aspect: Option<u32>,
    /// The least and greatest length in seconds.
    pub seconds: Option<(u32, u32)>,
}

/// Every model, in the spec's path order.
pub static MODELS: &[ModelInfo] = include!(concat!(env!("OUT_DIR"), "/models.rs"));

impl ModelInfo {
    /// `"{kind}/{segment}"`, the model's path under `/v1/ai/`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.kind, self.segment)
    }

    /// The body field named `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}
