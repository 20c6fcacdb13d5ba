//! One create request for any model, checked before anything is sent against
//! what the spec says of the model's body (from the table of models) and the
//! rules its documentation states only in prose.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use freepik_wan_api::models::Field;

use super::{Model, rules};
use crate::error::{Error, Result};
use crate::image_input::ImageInput;

/// A create request for one [`Model`], built with typed setters and checked
/// by [`build`](Self::build): every limit the spec states for the model's
/// body (required fields, enums, ranges, lengths, list sizes, URLs) and the
/// rules said only in prose (Wan 2.6 multi-shot needs prompt expansion; Wan
/// 2.7 image-to-video takes a start image, a start and an end image, or a
/// video to continue; reference-to-video takes 1 to 5 references). A setter
/// for a field the model does not take is refused too.
///
/// Media: only Wan 2.2 takes an image as base64, so only there may
/// [`image`](Self::image) be a file or bytes; every other model needs public
/// URLs and refuses a local file with [`Error::UrlRequired`] (nothing is
/// uploaded, nothing sent).
///
/// [`set`](Self::set) reaches any field as JSON, e.g. one the spec gained
/// after this crate was written; a field the model's spec describes is
/// checked like any other.
///
/// ```
/// # async fn run() -> freepik_wan::Result<()> {
/// use freepik_wan::{Error, Model, VideoRequest};
///
/// let model: Model = "text-to-video/wan-v2-6-1080p".parse()?;
/// let body = VideoRequest::new(model)
///     .prompt("a paper boat drifts down a rainy street")
///     .duration(15)
///     .size("1080*1920")
///     .build()
///     .await?;
/// assert_eq!(body.json()["duration"], "15"); // this family sends strings
///
/// // Multi-shot without prompt expansion: refused, nothing sent.
/// let err = VideoRequest::new(model).prompt("two scenes").shot_type("multi").build().await;
/// assert!(matches!(err, Err(Error::Validation { field: "shot_type", .. })));
///
/// // A local file for a URL-only model: refused.
/// let i2v: Model = "image-to-video/wan-2-7".parse()?;
/// let err = VideoRequest::new(i2v).image("cat.jpg").build().await;
/// assert!(matches!(err, Err(Error::UrlRequired { field: "start_image_url", .. })));
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct VideoRequest {
    model: Model,
    body: Map<String, Value>,
    images: Vec<(&'static str, ImageInput)>,
    /// The first setter that could not apply; reported by `build`.
    refused: Option<(&'static str, String)>,
    url_required: Option<&'static str>,
}

/// A checked create body for one model: the JSON to send to the model's
/// [`collection_path`](Model::collection_path).
#[derive(Clone, Debug, PartialEq)]
pub struct CreateBody {
    model: Model,
    body: Map<String, Value>,
}

impl CreateBody {
    /// The model it is for.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        Value::Object(self.body.clone())
    }

    /// The body as the raw client's generated type for the model (named by
    /// [`ModelInfo::body`](freepik_wan_api::models::ModelInfo::body), e.g.
    /// `Wan25T2vRequest`; a family's types are there with its
    /// `freepik-wan-api` feature, e.g. `wan-2-5`).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] (field `body`) if it does not decode as `T`,
    /// e.g. `T` is another model's type.
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.json()).map_err(|e| Error::Validation {
            field: "body",
            reason: format!("not a {} body: {e}", std::any::type_name::<T>()),
        })
    }
}

impl VideoRequest {
    /// An empty request for `model`.
    pub fn new(model: Model) -> VideoRequest {
        VideoRequest {
            model,
            body: Map::new(),
            images: Vec::new(),
            refused: None,
            url_required: None,
        }
    }

    /// The model it is for.
    pub fn model(&self) -> Model {
        self.model
    }

    fn refuse(&mut self, field: &'static str, reason: String) {
        self.refused.get_or_insert((field, reason));
    }

    /// The model's field `name`, or a refusal naming it.
    fn takes(&mut self, name: &'static str) -> Option<&'static Field> {
        let field = self.model.field(name);
        if field.is_none() {
            let model = self.model;
            self.refuse(name, format!("{model} does not take it"));
        }
        field
    }

    fn put(mut self, name: &'static str, value: Value) -> Self {
        if self.takes(name).is_some() {
            self.body.insert(name.to_owned(), value);
        }
        self
    }

    /// The first of `names` the model takes.
    fn first_of(&self, names: &[&'static str]) -> Option<&'static str> {
        names
            .iter()
            .copied()
            .find(|n| self.model.field(n).is_some())
    }

    /// A URL for `field`: refused as [`Error::UrlRequired`] when it is not a
    /// URL at all (a local path), checked as an http(s) URL at `build`.
    fn url(&mut self, field: &'static str, url: &str) -> Option<String> {
        if !looks_like_url(url) {
            self.url_required.get_or_insert(field);
            return None;
        }
        Some(url.trim().to_owned())
    }

    /// The prompt (the text of the video; its limit is the model's).
    pub fn prompt(self, text: impl Into<String>) -> Self {
        self.put("prompt", Value::String(text.into()))
    }

    /// What the video should avoid (Wan 2.5, 2.6, 2.7).
    pub fn negative_prompt(self, text: impl Into<String>) -> Self {
        self.put("negative_prompt", Value::String(text.into()))
    }

    /// The start image: `image` (Wan 2.2, 2.5, 2.6 image-to-video) or
    /// `start_image_url` (Wan 2.7 image- and reference-to-video). A file or
    /// bytes only where the model takes base64 (Wan 2.2).
    pub fn image(mut self, image: impl Into<ImageInput>) -> Self {
        match self.first_of(&["image", "start_image_url"]) {
            Some(field) => self.images.push((field, image.into())),
            None => {
                let model = self.model;
                self.refuse("image", format!("{model} takes no start image"));
            }
        }
        self
    }

    /// The last frame (Wan 2.7 image-to-video, with a start image or a video).
    pub fn end_image(mut self, url: &str) -> Self {
        match self.url("end_image_url", url) {
            Some(url) => self.put("end_image_url", Value::String(url)),
            None => self,
        }
    }

    /// A video: the one to edit (video edit) or to continue (Wan 2.7
    /// image-to-video).
    pub fn video(mut self, url: &str) -> Self {
        match self.url("video_url", url) {
            Some(url) => self.put("video_url", Value::String(url)),
            None => self,
        }
    }

    /// A soundtrack (Wan 2.7 text- and image-to-video; WAV or MP3, 2–30 s).
    pub fn audio(mut self, url: &str) -> Self {
        match self.url("audio_url", url) {
            Some(url) => self.put("audio_url", Value::String(url)),
            None => self,
        }
    }

    /// A reference image (reference-to-video, with an optional voice; video
    /// edit, without). The prompt calls them "Image 1", "Image 2", …
    pub fn reference_image(self, url: &str, voice: Option<&str>) -> Self {
        self.reference("image_urls", url, voice)
    }

    /// A reference video with an optional voice (reference-to-video). The
    /// prompt calls them "Video 1", "Video 2", …
    pub fn reference_video(self, url: &str, voice: Option<&str>) -> Self {
        self.reference("video_urls", url, voice)
    }

    fn reference(mut self, name: &'static str, url: &str, voice: Option<&str>) -> Self {
        let Some(field) = self.takes(name) else {
            return self;
        };
        let Some(url) = self.url(name, url) else {
            return self;
        };
        let item = if field.item_fields.contains(&"url") {
            let mut item = json!({ "url": url });
            if let Some(voice) = voice {
                match self.url(name, voice) {
                    Some(voice) => item["reference_voice"] = Value::String(voice),
                    None => return self,
                }
            }
            item
        } else {
            if voice.is_some() {
                let model = self.model;
                self.refuse(name, format!("{model} takes no voice with a reference"));
                return self;
            }
            Value::String(url)
        };
        match self.body.entry(name).or_insert_with(|| json!([])) {
            Value::Array(items) => items.push(item),
            other => *other = json!([item]),
        }
        self
    }

    /// The length in seconds; which lengths a model takes is its spec's (see
    /// [`Model::durations`]). Sent as the model's body types it (a string
    /// such as `"10"` up to Wan 2.6, an integer in Wan 2.7).
    pub fn duration(mut self, seconds: u32) -> Self {
        let Some(field) = self.takes("duration") else {
            return self;
        };
        let value = if field.ty == "string" {
            Value::String(seconds.to_string())
        } else {
            json!(seconds)
        };
        if let Some(durations) = self.model.durations()
            && !durations.allows(seconds)
        {
            let model = self.model;
            self.refuse(
                "duration",
                format!("{model} makes {durations} s videos, not {seconds} s"),
            );
        }
        self.put("duration", value)
    }

    /// The output resolution: the body's `resolution` (Wan 2.7: `720P`,
    /// `1080P`, any case); elsewhere the path picks it, so it must be the
    /// model's own tier (pick another model for another resolution).
    pub fn resolution(mut self, resolution: &str) -> Self {
        let model = self.model;
        if let Some(field) = model.field("resolution") {
            let value = field
                .values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(resolution.trim()))
                .map_or_else(|| resolution.to_owned(), |v| (*v).to_owned());
            return self.put("resolution", Value::String(value));
        }
        if !model.tier().eq_ignore_ascii_case(resolution.trim()) {
            let others: Vec<String> = Model::all()
                .filter(|m| {
                    m.kind() == model.kind()
                        && m.family() == model.family()
                        && m.tier().eq_ignore_ascii_case(resolution.trim())
                })
                .map(|m| m.to_string())
                .collect();
            let hint = match others.as_slice() {
                [] => format!("{model} makes {} only", model.tier()),
                _ => format!(
                    "{model} makes {}; use {}",
                    model.tier(),
                    others.join(" or ")
                ),
            };
            self.refuse("resolution", hint);
        }
        self
    }

    /// The frame size `W*H` (Wan 2.6; each tier has its own list).
    pub fn size(self, size: &str) -> Self {
        self.put("size", Value::String(size.trim().to_owned()))
    }

    /// The aspect ratio, in the model's own words (Wan 2.2: `widescreen_16_9`,
    /// …; Wan 2.7: `16:9`, …).
    pub fn aspect_ratio(self, ratio: &str) -> Self {
        self.put("aspect_ratio", Value::String(ratio.trim().to_owned()))
    }

    /// `single` or `multi` (Wan 2.6; `multi` needs prompt expansion on).
    pub fn shot_type(self, shot_type: &str) -> Self {
        self.put("shot_type", Value::String(shot_type.trim().to_owned()))
    }

    /// Whether the service rewrites the prompt: `enable_prompt_expansion`
    /// (Wan 2.5, 2.6) or `additional_settings.prompt_extend` (Wan 2.7).
    pub fn prompt_expansion(mut self, on: bool) -> Self {
        if self.model.field("enable_prompt_expansion").is_some() {
            return self.put("enable_prompt_expansion", Value::Bool(on));
        }
        if self.takes("additional_settings").is_some() {
            let settings = self
                .body
                .entry("additional_settings")
                .or_insert_with(|| json!({}));
            if let Value::Object(map) = settings {
                map.insert("prompt_extend".into(), Value::Bool(on));
            }
        }
        self
    }

    /// The seed, for repeatable results (its range is the model's).
    pub fn seed(self, seed: i64) -> Self {
        self.put("seed", json!(seed))
    }

    /// Where the service posts status changes.
    pub fn webhook_url(mut self, url: &str) -> Self {
        match self.url("webhook_url", url) {
            Some(url) => self.put("webhook_url", Value::String(url)),
            None => self,
        }
    }

    /// Any field, as JSON: the escape hatch for what the setters do not
    /// cover (e.g. `additional_settings.audio_setting` of video edit, or a
    /// field the spec gains later). A field the model's spec describes is
    /// checked at [`build`](Self::build) like any other; another is sent
    /// as given.
    pub fn set(mut self, name: &str, value: Value) -> Self {
        self.body.insert(name.to_owned(), value);
        self
    }

    /// Checks everything and makes the body. Files and bytes (Wan 2.2 only)
    /// are read, checked and encoded here.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the field and the rule, or
    /// [`Error::UrlRequired`]; nothing has been sent.
    pub async fn build(self) -> Result<CreateBody> {
        let model = self.model;
        if let Some(field) = self.url_required {
            return Err(Error::UrlRequired { field, model });
        }
        if let Some((field, reason)) = self.refused {
            return Err(Error::Validation { field, reason });
        }
        let mut body = self.body;
        for (name, image) in self.images {
            let field = model.field(name).expect("chosen among the model's fields");
            if image.is_local() && !field.base64 {
                return Err(Error::UrlRequired { field: name, model });
            }
            let wire = image.into_wire(true).await.map_err(|e| match e {
                Error::Validation { reason, .. } => Error::Validation {
                    field: name,
                    reason,
                },
                other => other,
            })?;
            body.insert(name.to_owned(), Value::String(wire));
        }
        for (name, value) in &body {
            if let Some(field) = model.field(name) {
                rules::check_field(model, field, value)?;
            }
        }
        for field in model.info().fields.iter().filter(|f| f.required) {
            if !body.contains_key(field.name) {
                return Err(Error::Validation {
                    field: field.name,
                    reason: format!("{model} needs it"),
                });
            }
        }
        rules::check_prose(model, &body)?;
        Ok(CreateBody { model, body })
    }
}

impl Model {
    /// A create request for this model: see [`VideoRequest`].
    pub fn request(self) -> VideoRequest {
        VideoRequest::new(self)
    }
}

/// A URL of any scheme (a wrong scheme is refused as a bad URL at `build`);
/// anything else is taken for a local path.
fn looks_like_url(text: &str) -> bool {
    text.contains("://")
}
