//! One create request for any model, checked before anything is sent against
//! what the spec says of the model's body (from the table of models) and the
//! rules its documentation states only in prose.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use freepik_wan_api::models::Field;

use super::{Model, rules};
use crate::error::{Error, Result};
use crate::image_input::ImageInput;
use crate::media::{Media, check_local};

/// A create request for one [`Model`], built with typed setters and checked
/// by [`build`](Self::build): every limit the spec states for the model's
/// body (required fields, enums, ranges, lengths, list sizes, URLs) and the
/// rules said only in prose (Wan 2.6 multi-shot needs prompt expansion; Wan
/// 2.7 image-to-video takes a start image, a start and an end image, or a
/// video to continue; reference-to-video takes 1 to 5 references). A setter
/// for a field the model does not take is refused too.
///
/// Media: every media setter takes a [`Media`]: a file, bytes, an http(s)
/// URL or a finished task. [`Client::create`](crate::Client::create) (or
/// [`Client::prepare`](crate::Client::prepare)) uploads local files where
/// the model takes only URLs, sends a small Wan 2.2 image inline as base64
/// (see [`inline_limit`](Self::inline_limit)), and sends a task as its
/// freshest video URL. A file is checked first against what the model's
/// spec says of the field (format by its bytes, size, pixels). [`build`](Self::build),
/// which has no client, refuses a local file for a URL-only field with
/// [`Error::UrlRequired`] and a task input with [`Error::Validation`].
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
/// // A name that is neither a file nor a URL: refused, naming the field.
/// let i2v: Model = "image-to-video/wan-2-7".parse()?;
/// let err = VideoRequest::new(i2v).image("no-such-cat.jpg").check();
/// assert!(matches!(err, Err(Error::Validation { field: "start_image_url", .. })));
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct VideoRequest {
    model: Model,
    body: Map<String, Value>,
    /// The media inputs and where each goes in the body.
    media: Vec<(Slot, Media)>,
    /// The first setter that could not apply; reported by `build`.
    refused: Option<(&'static str, String)>,
    /// The largest Wan 2.2 image sent inline as base64.
    inline_limit: u64,
}

/// Where a media input goes in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A string field, e.g. `video_url`.
    Field(&'static str),
    /// Item `index` of a reference list: its URL (the item itself, for a
    /// list of strings), or with `voice` its `reference_voice`.
    Item {
        list: &'static str,
        index: usize,
        voice: bool,
    },
}

impl Slot {
    /// The field named in errors.
    fn field(self) -> &'static str {
        match self {
            Slot::Field(name) | Slot::Item { list: name, .. } => name,
        }
    }
}

/// The largest Wan 2.2 image sent inline by default: a bigger one is
/// uploaded. Inline costs no extra request on any plan, but a base64 body
/// is 1.33× the image and is held in memory three times over (file,
/// base64, JSON) and sent within the API call's timeout; past 2 MiB an
/// upload (one more paced request and a streamed PUT) is the lighter way.
pub const INLINE_IMAGE_LIMIT: u64 = 2 << 20;

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

    /// The body as JSON, without a copy.
    pub fn into_json(self) -> Value {
        Value::Object(self.body)
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
            media: Vec::new(),
            refused: None,
            inline_limit: INLINE_IMAGE_LIMIT,
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

    /// A media input for the model's field `name`.
    fn media_field(mut self, name: &'static str, media: Media) -> Self {
        if self.takes(name).is_some() {
            self.media.retain(|(slot, _)| *slot != Slot::Field(name));
            self.media.push((Slot::Field(name), media));
        }
        self
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
    /// `start_image_url` (Wan 2.7 image- and reference-to-video).
    pub fn image(mut self, image: impl Into<Media>) -> Self {
        match self.first_of(&["image", "start_image_url"]) {
            Some(field) => self.media_field(field, image.into()),
            None => {
                let model = self.model;
                self.refuse("image", format!("{model} takes no start image"));
                self
            }
        }
    }

    /// The last frame (Wan 2.7 image-to-video, with a start image or a video).
    pub fn end_image(self, image: impl Into<Media>) -> Self {
        self.media_field("end_image_url", image.into())
    }

    /// A video: the one to edit (video edit) or to continue (Wan 2.7
    /// image-to-video); a finished task's video too.
    pub fn video(self, video: impl Into<Media>) -> Self {
        self.media_field("video_url", video.into())
    }

    /// A soundtrack (Wan 2.7 text- and image-to-video; WAV or MP3, 2–30 s).
    pub fn audio(self, audio: impl Into<Media>) -> Self {
        self.media_field("audio_url", audio.into())
    }

    /// A reference image (reference-to-video, with an optional voice; video
    /// edit, without). The prompt calls them "Image 1", "Image 2", …
    pub fn reference_image(self, image: impl Into<Media>, voice: Option<Media>) -> Self {
        self.reference("image_urls", image.into(), voice)
    }

    /// A reference video with an optional voice (reference-to-video). The
    /// prompt calls them "Video 1", "Video 2", …
    pub fn reference_video(self, video: impl Into<Media>, voice: Option<Media>) -> Self {
        self.reference("video_urls", video.into(), voice)
    }

    fn reference(mut self, name: &'static str, media: Media, voice: Option<Media>) -> Self {
        let Some(field) = self.takes(name) else {
            return self;
        };
        let objects = field.item_fields.contains(&"url");
        if voice.is_some() && !objects {
            let model = self.model;
            self.refuse(name, format!("{model} takes no voice with a reference"));
            return self;
        }
        // A placeholder, replaced by the media's wire form when the body is made.
        let item = if objects { json!({}) } else { Value::Null };
        let index = match self.body.entry(name).or_insert_with(|| json!([])) {
            Value::Array(items) => {
                items.push(item);
                items.len() - 1
            }
            other => {
                *other = json!([item]);
                0
            }
        };
        let slot = |voice| Slot::Item {
            list: name,
            index,
            voice,
        };
        self.media.push((slot(false), media));
        if let Some(voice) = voice {
            self.media.push((slot(true), voice));
        }
        self
    }

    /// The largest Wan 2.2 image (a file or bytes) sent inline as base64;
    /// a bigger one is uploaded ([`INLINE_IMAGE_LIMIT`], 2 MiB, by
    /// default). `0` uploads every image; `u64::MAX` sends each inline (the
    /// field's own limit, 10 MB, still applies). Other models take URLs
    /// only, so their files are always uploaded.
    pub fn inline_limit(mut self, bytes: u64) -> Self {
        self.inline_limit = bytes;
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

    /// Where the service posts status changes. Sent as a valid URI: a
    /// space or a non-ASCII character is percent-encoded, a host in IDNA.
    pub fn webhook_url(mut self, url: &str) -> Self {
        match url_wire(url, "webhook_url") {
            Ok(wire) => self.put("webhook_url", Value::String(wire)),
            Err(Error::Validation { reason, .. }) => {
                self.refuse("webhook_url", reason);
                self
            }
            Err(_) => self,
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

    /// Checks everything and makes the body, without a client: URLs are
    /// sent as valid URIs, a Wan 2.2 file or bytes inline as base64.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the field and the rule;
    /// [`Error::UrlRequired`] for a file or bytes where the model takes
    /// only URLs, and [`Error::Validation`] for a task input: both need
    /// [`Client::create`](crate::Client::create), which uploads and
    /// fetches. Nothing has been sent.
    pub async fn build(self) -> Result<CreateBody> {
        self.check_inputs()?;
        let model = self.model;
        let mut wires = Vec::with_capacity(self.media.len());
        for (slot, media) in &self.media {
            let wire = match media {
                Media::Url(url) => url_wire(url, slot.field())?,
                Media::Path(_) | Media::Bytes(_) if self.base64(*slot) => {
                    inline(media.clone(), slot.field()).await?
                }
                Media::Path(_) | Media::Bytes(_) => {
                    return Err(Error::UrlRequired {
                        field: slot.field(),
                        model,
                    });
                }
                Media::Task(id) => {
                    return Err(Error::Validation {
                        field: slot.field(),
                        reason: format!(
                            "task {id} as an input needs a client to fetch its video: use \
                             Client::create"
                        ),
                    });
                }
            };
            wires.push(wire);
        }
        self.finish(wires)
    }

    /// Every check [`build`](Self::build) and
    /// [`Client::create`](crate::Client::create) make before sending, for
    /// a request whose files would be uploaded or whose tasks fetched:
    /// nothing is read but the head of each file, nothing is sent. To
    /// check many requests (a batch's rows) before the first is sent.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), but for files and tasks, which pass.
    pub fn check(&self) -> Result<()> {
        self.check_inputs()?;
        let wires = self
            .media
            .iter()
            .map(|(slot, media)| match media {
                Media::Url(url) => url_wire(url, slot.field()),
                // Stand-ins, for the checks of the rest of the body.
                _ => Ok("https://upload.invalid/file".to_owned()),
            })
            .collect::<Result<Vec<_>>>()?;
        self.clone().finish(wires).map(|_| ())
    }

    /// The setters' refusals, then every file against its field's rules.
    fn check_inputs(&self) -> Result<()> {
        if let Some((field, reason)) = &self.refused {
            return Err(Error::Validation {
                field,
                reason: reason.clone(),
            });
        }
        for (slot, media) in &self.media {
            if media.is_local()
                && let Some(rules) = self.rules(*slot)
            {
                check_local(media, slot.field(), &rules)?;
            }
        }
        Ok(())
    }

    /// What the spec says of the file at `slot`: the field's (or a
    /// reference item's `url` or `reference_voice`).
    fn rules(&self, slot: Slot) -> Option<freepik_wan_api::models::MediaRules> {
        let field = self.model.field(slot.field())?;
        match slot {
            Slot::Field(_) => field.media,
            Slot::Item { voice, .. } => {
                let name = if voice { "reference_voice" } else { "url" };
                field
                    .fields
                    .iter()
                    .find(|f| f.name == name)
                    .and_then(|f| f.media)
                    .or(field.media)
            }
        }
    }

    /// Whether the field at `slot` takes base64 (Wan 2.2's `image`).
    fn base64(&self, slot: Slot) -> bool {
        matches!(slot, Slot::Field(name) if self.model.field(name).is_some_and(|f| f.base64))
    }

    /// The media inputs, for [`Client::prepare`](crate::Client::prepare):
    /// `(field, media, inline)`, in order, where `inline` says a file may
    /// go as base64.
    pub(crate) fn media_inputs(&self) -> Vec<(&'static str, Media, bool)> {
        self.media
            .iter()
            .map(|(slot, media)| {
                let inline = self.base64(*slot)
                    && match media {
                        Media::Bytes(bytes) => bytes.len() as u64 <= self.inline_limit,
                        Media::Path(path) => {
                            std::fs::metadata(path).is_ok_and(|m| m.len() <= self.inline_limit)
                        }
                        _ => false,
                    };
                (slot.field(), media.clone(), inline)
            })
            .collect()
    }

    /// The body with each media input's wire form (`wires`, in the order
    /// of the inputs) in place, checked against the model's spec.
    pub(crate) fn finish(self, wires: Vec<String>) -> Result<CreateBody> {
        let model = self.model;
        let mut body = self.body;
        for ((slot, _), wire) in self.media.iter().zip(wires) {
            match *slot {
                Slot::Field(name) => {
                    body.insert(name.to_owned(), Value::String(wire));
                }
                Slot::Item { list, index, voice } => {
                    if let Some(item) = body
                        .get_mut(list)
                        .and_then(Value::as_array_mut)
                        .and_then(|items| items.get_mut(index))
                    {
                        match item {
                            Value::Object(map) => {
                                let key = if voice { "reference_voice" } else { "url" };
                                map.insert(key.to_owned(), Value::String(wire));
                            }
                            other => *other = Value::String(wire),
                        }
                    }
                }
            }
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

/// A URL as a valid URI (spaces and non-ASCII percent-encoded, the host in
/// IDNA), as a browser sends it; refused as `field` unless http(s).
pub(crate) fn url_wire(url: &str, field: &'static str) -> Result<String> {
    Ok(crate::http_url::parse(url, field)?.to_string())
}

/// A Wan 2.2 image as base64, checked against that field's limits.
pub(crate) async fn inline(media: Media, field: &'static str) -> Result<String> {
    let image = match media {
        Media::Path(path) => ImageInput::path(path),
        Media::Bytes(bytes) => ImageInput::bytes(bytes),
        _ => unreachable!("only files and bytes go inline"),
    };
    image.into_wire(true).await.map_err(|e| match e {
        Error::Validation { reason, .. } => Error::Validation { field, reason },
        other => other,
    })
}

impl Model {
    /// A create request for this model: see [`VideoRequest`].
    pub fn request(self) -> VideoRequest {
        VideoRequest::new(self)
    }
}

/// A request as the job store keeps it: its JSON without the media, and the
/// media inputs in order, for the store to keep as it sees fit.
#[cfg(feature = "postgres")]
impl VideoRequest {
    /// The request without its media (model, body, where each input goes)
    /// as JSON, and the inputs in the same order.
    pub(crate) fn to_stored(&self) -> (Value, Vec<Media>) {
        let slots: Vec<Value> = self
            .media
            .iter()
            .map(|(slot, _)| match *slot {
                Slot::Field(name) => json!({ "field": name }),
                Slot::Item { list, index, voice } => {
                    json!({ "list": list, "index": index, "voice": voice })
                }
            })
            .collect();
        let stored = json!({
            "model": self.model.to_string(),
            "body": Value::Object(self.body.clone()),
            "inline_limit": self.inline_limit,
            "slots": slots,
        });
        let media = self.media.iter().map(|(_, m)| m.clone()).collect();
        (stored, media)
    }

    /// The request [`to_stored`](Self::to_stored) made, with its inputs.
    pub(crate) fn from_stored(stored: &Value, media: Vec<Media>) -> Result<VideoRequest> {
        let bad = |why: &str| Error::Validation {
            field: "request",
            reason: format!("the stored request cannot be read: {why}"),
        };
        let model: Model = stored["model"]
            .as_str()
            .ok_or_else(|| bad("no model"))?
            .parse()?;
        let body = stored["body"]
            .as_object()
            .cloned()
            .ok_or_else(|| bad("no body"))?;
        let inline_limit = stored["inline_limit"]
            .as_u64()
            .unwrap_or(INLINE_IMAGE_LIMIT);
        let slots = stored["slots"].as_array().ok_or_else(|| bad("no slots"))?;
        if slots.len() != media.len() {
            return Err(bad("its media inputs do not match"));
        }
        // Names back to the model's own (static) field names.
        let name = |value: &Value| -> Result<&'static str> {
            let text = value.as_str().ok_or_else(|| bad("a slot names no field"))?;
            model
                .field(text)
                .map(|f| f.name)
                .ok_or_else(|| bad(&format!("{model} has no field {text}")))
        };
        let mut pairs = Vec::with_capacity(media.len());
        for (slot, media) in slots.iter().zip(media) {
            let slot = if slot.get("field").is_some() {
                Slot::Field(name(&slot["field"])?)
            } else {
                Slot::Item {
                    list: name(&slot["list"])?,
                    index: usize::try_from(slot["index"].as_u64().ok_or_else(|| bad("index"))?)
                        .map_err(|_| bad("index"))?,
                    voice: slot["voice"].as_bool().unwrap_or(false),
                }
            };
            pairs.push((slot, media));
        }
        Ok(VideoRequest {
            model,
            body,
            media: pairs,
            refused: None,
            inline_limit,
        })
    }
}
